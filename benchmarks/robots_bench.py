"""Opt-out at crawl scale: URL decisions per second per core, and the memory a task needs.

Builds a snapshot of synthetic hosts (robots.txt files shaped like real ones: AI agents
blocked site-wide or on paths, wildcards, `$`, allow exceptions, long files), then plays one
shard task: URLs spread over a sample of hosts go through the opt-out stage twice, first with
the hosts unknown (snapshot lookup + parse), then with their rules parsed. One process, one core.

    python benchmarks/robots_bench.py [--hosts 100000] [--urls 50000] [--task-hosts 5000]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from heed.curation.document import Document
from heed.curation.optout.robots import url_path
from heed.curation.optout.snapshot import Capture, build_snapshot
from heed.curation.optout.stage import APERTUS_AGENTS, OptOut, blocking
from heed.curation.stage import RunContext

AI_AGENTS = [a for a in APERTUS_AGENTS if a != "*" and "/" not in a]
SECTIONS = ["news", "blog", "private", "admin", "search", "shop", "docs", "media", "tag", "user"]


def synthetic_robots(rng: random.Random) -> str:
    lines = [
        "# robots.txt",
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /search?",
        "Allow: /search/about",
        "Disallow: /*.pdf$",
        "Disallow: /*?sessionid=",
    ]
    kind = rng.random()
    if kind < 0.3:  # AI agents blocked site-wide
        lines += [
            "",
            *(f"User-agent: {a}" for a in rng.sample(AI_AGENTS, rng.randint(1, 8))),
            "Disallow: /",
        ]
    elif kind < 0.5:  # AI agents blocked on paths, with an exception
        lines += [
            "",
            f"User-agent: {rng.choice(AI_AGENTS)}",
            f"Disallow: /{rng.choice(SECTIONS)}/",
            f"Allow: /{rng.choice(SECTIONS)}/public",
            "Disallow: /*/print$",
        ]
    for other in rng.sample(["AhrefsBot", "SemrushBot", "MJ12bot", "DotBot"], 2):
        lines += ["", f"User-agent: {other}", "Crawl-delay: 10", "Disallow: /"]
    lines += [f"Disallow: /{rng.choice(SECTIONS)}/{i}/" for i in range(rng.randint(0, 30))]
    lines += ["", "Sitemap: https://example.org/sitemap.xml"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--urls", type=int, default=50_000)
    parser.add_argument("--task-hosts", type=int, default=5_000)
    args = parser.parse_args()
    rng = random.Random(1)
    hosts = [f"www.site{i:07d}.example" for i in range(args.hosts)]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        captures = (
            Capture.of(
                h, "https", 200, "2025-01-15T00:00:00Z", synthetic_robots(rng).encode(), "synthetic"
            )
            for h in hosts
        )
        meta = build_snapshot(Path(tmp) / "snap", captures, ["synthetic"])
        build_seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (Path(tmp) / "snap").glob("*.parquet"))

        task_hosts = rng.sample(hosts, args.task_hosts)
        docs = [
            Document(
                record_id=str(i),
                url=f"https://{h}/{rng.choice(SECTIONS)}/{i}/page-{i}.html"
                + rng.choice(["", "?page=2", "/print"]),
                host=h,
                crawl="C",
                shard="s",
                offset=i,
                warc_date="",
                http_headers={"content-type": "text/plain"},
            )
            for i, h in enumerate(rng.choices(task_hosts, k=args.urls))
        ]
        stage = OptOut(snapshots=[str(Path(tmp) / "snap")], crawl_captures=False)
        context = RunContext("", "", tmp)
        tracemalloc.start()
        stage.setup(context)
        started = time.perf_counter()
        for i in range(0, len(docs), 1000):
            stage.process(docs[i : i + 1000])
        cold = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        for doc in docs:  # judge again, rules now parsed
            doc.status, doc.stage, doc.reason, doc.detail, doc.scores = (
                doc.status.KEPT,
                None,
                None,
                None,
                {},
            )
        started = time.perf_counter()
        for i in range(0, len(docs), 1000):
            stage.process(docs[i : i + 1000])
        warm = time.perf_counter() - started
        dropped = sum(not d.alive for d in docs)
        # The decision alone (URL -> blocking agents), without the stage's bookkeeping.
        entries = [(stage._hosts[d.host], d.url) for d in docs]
        started = time.perf_counter()
        for entry, url in entries:
            blocking(entry, url_path(url))
        decide = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"snapshot: {meta['hosts']:,} hosts, {meta['buckets']} buckets, "
        f"{size / 1e6:.1f} MB, built in {build_seconds:.1f} s"
    )
    print(
        f"task: {args.urls:,} URLs over {args.task_hosts:,} hosts, {len(APERTUS_AGENTS)} agents "
        f"each; {dropped:,} opted out"
    )
    print(f"first pass (lookup + parse): {args.urls / cold:,.0f} URL decisions/s/core")
    print(f"rules parsed, whole stage:   {args.urls / warm:,.0f} URL decisions/s/core")
    print(f"rules parsed, decision only: {args.urls / decide:,.0f} URL decisions/s/core")
    print(
        f"task memory: {peak / 1e6:.1f} MB traced peak for lookups and parsed rules; "
        f"process max RSS {rss:.0f} MB"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Opt-out at crawl scale: URL decisions per second per core, and the memory a task needs;
then heed's matcher beside protego's and Google's on the same decisions.

Builds a snapshot of synthetic hosts (robots.txt files shaped like real ones: AI agents
blocked site-wide or on paths, wildcards, `$`, allow exceptions, long files), then plays one
shard task: URLs spread over a sample of hosts go through the opt-out stage twice, first with
the hosts unknown (snapshot lookup + parse), then with their rules parsed. One process, one core.

The matchers alone: real robots.txt files (tests/data/robots-corpus.tar.xz), each asked about
URLs made from its own rules for each AI agent, by heed, protego (Scrapy's parser) and Google's
C++ parser (jwm.robotstxt); CPU time of each on the same decisions, parsing included.

    python benchmarks/robots_bench.py [--hosts 100000] [--urls 50000] [--task-hosts 5000]
        [--files 600] [--file-urls 8]
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import tarfile
import tempfile
import time
import tracemalloc
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

from heed.curation.document import Document
from heed.curation.optout.robots import RobotsTxt, distinct_agents, url_path
from heed.curation.optout.snapshot import Capture, build_snapshot
from heed.curation.optout.stage import APERTUS_AGENTS, OptOut, blocking
from heed.curation.stage import RunContext

AI_AGENTS = [a for a in APERTUS_AGENTS if a != "*" and "/" not in a]
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "robots-corpus.tar.xz"
_RULE_VALUE = re.compile(rb"(?:^|(?<=[\r\n]))[ \t]*(?:dis)?allow[ \t]*:[ \t]*([^#\r\n]+)", re.I)
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


def corpus_questions(files: int, urls: int, agents: list[str]) -> list[tuple[bytes, list]]:
    """`files` real robots.txt files spread over the corpus, each with its (agent, URL)
    questions: up to `urls` URLs from its own rule paths (in wire form, as Google's parser
    expects them), for every agent."""
    with tarfile.open(CORPUS, "r:xz") as tar:
        bodies = [tar.extractfile(m).read() for m in tar]  # type: ignore[union-attr]
    rng = random.Random(9309)
    chosen = []
    for body in rng.sample(bodies, min(files, len(bodies))):
        paths = {"/"}
        for match in _RULE_VALUE.finditer(body):
            value = match.group(1).strip().decode("utf-8", "replace").rstrip("$")
            paths.add("/" + value.replace("*", "x").lstrip("/") + rng.choice(["", "a", "/x"]))
        picked = rng.sample(sorted(paths), min(urls, len(paths)))
        wire = [f"https://example.com{quote(p, safe='/?&=:;@!$()*+,~%-._')}" for p in picked]
        chosen.append((body, [(agent, url) for url in wire for agent in agents]))
    return chosen


def compare_matchers(files: int, urls: int) -> None:
    """heed, protego and Google's parser on the same decisions: CPU time, agreement."""
    import jwm.robotstxt.googlebot as google
    from protego import Protego

    # The AI agents Google's parser takes as names (letters, "-", "_": not AI2Bot).
    agents = [a for a in distinct_agents(AI_AGENTS) if re.fullmatch(r"[A-Za-z_-]+", a)]
    work = corpus_questions(files, urls, agents)
    decisions = sum(len(questions) for _, questions in work)

    def heed(body: bytes, questions: list[tuple[str, str]]) -> list[bool]:
        parsed = RobotsTxt.parse(body)
        return [parsed.check(agent, url).allowed for agent, url in questions]

    def heed_as_the_stage(body: bytes, questions: list[tuple[str, str]]) -> list[bool]:
        # What OptOut does: each agent's group found once per host, each URL normalized once.
        parsed = RobotsTxt.parse(body)
        groups = {agent: parsed.group_for(agent) for agent in agents}
        paths: dict[str, str] = {}
        answers = []
        for agent, url in questions:
            path = paths.get(url) or paths.setdefault(url, url_path(url))
            group = groups[agent]
            rule = parsed.deciding_rule(group, path) if group is not None else None
            answers.append(rule is None or rule.allow)
        return answers

    def protego(body: bytes, questions: list[tuple[str, str]]) -> list[bool]:
        parsed = Protego.parse(body.decode("utf-8", errors="replace"))
        return [parsed.can_fetch(url, agent) for agent, url in questions]

    def googles(body: bytes, questions: list[tuple[str, str]]) -> list[bool]:
        matcher = google.RobotsMatcher()
        return [matcher.OneAgentAllowedByRobots(body, agent, url) for agent, url in questions]

    sides = {
        "heed": ("heed RobotsTxt.check, one parse per file", heed),
        "stage": (
            "heed as the opt-out stage asks (group, path once), one parse per file",
            heed_as_the_stage,
        ),
        "protego": (f"protego {version('protego')}, one parse per file", protego),
        "google": (
            f"Google's parser (jwm.robotstxt {version('jwm.robotstxt')}), one parse per "
            "decision (its API)",
            googles,
        ),
    }
    answers: dict[str, list[bool]] = {}
    rate: dict[str, float] = {}
    for name, (_, run) in sides.items():
        started = time.process_time()
        answers[name] = [answer for body, questions in work for answer in run(body, questions)]
        rate[name] = decisions / (time.process_time() - started)
    print(
        f"matchers alone on the same {decisions:,} decisions ({len(work):,} real robots.txt "
        f"files x up to {urls} URLs from each file's rules x {len(agents)} AI agents), "
        "parsing included, CPU time:"
    )
    for name, (label, _) in sides.items():
        ratio = (
            f"  (heed: x{rate['heed'] / rate[name]:.1f} by check, "
            f"x{rate['stage'] / rate[name]:.1f} as the stage)"
            if name in ("protego", "google")
            else ""
        )
        print(f"  {label:<72} {rate[name]:>9,.0f} decisions/s/core{ratio}")
    assert answers["stage"] == answers["heed"]  # one matcher, two ways to ask it
    for name in ("heed", "protego"):
        same = sum(a == g for a, g in zip(answers[name], answers["google"], strict=True))
        print(f"  {name}: the same answer as Google's parser on {same / decisions:.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--urls", type=int, default=50_000)
    parser.add_argument("--task-hosts", type=int, default=5_000)
    parser.add_argument("--files", type=int, default=600, help="real robots.txt files")
    parser.add_argument("--file-urls", type=int, default=8, help="URLs asked of each file")
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
        entries = [(stage._hosts[""][d.host], d.url) for d in docs]
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
    compare_matchers(args.files, args.file_urls)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

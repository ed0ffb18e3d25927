"""A generated crawl in Common Crawl's layout, sized for the robots snapshot build at crawl scale.

    crawl-data/<CRAWL>/robotstxt.paths.gz    the robots.txt capture files (gzipped WARCs)
    crawl-data/<CRAWL>/warc.paths.gz         small WARC shards of tiny HTML pages on those hosts
    truth-<CRAWL>.tsv.gz                     per host: its latest capture's time, status, sha256

Each capture file holds a warcinfo record, then a request and a response record per capture
(each its own gzip member, as Common Crawl writes them): `https://<host>/robots.txt` with a
WARC-Date, HTTP status mostly 200 with some 3xx/4xx/5xx/429, and bodies drawn from a mix like
the web's (WordPress defaults, AI agents refused everywhere or on paths, long generated files,
a few over the 500 KiB that RFC 9309 lets a crawler cut at, empty files, HTML served as
robots.txt). Every file brings `hosts_per_file` hosts of its own and recaptures some hosts of
other files at other times, earlier or later: the snapshot must keep each host's latest capture
by time, not by listing order. A few URLs spell the host in capitals.

The truth is this module's own record of what it wrote (the latest capture of each host by
WARC-Date, its body cut at 500 KiB and hashed), computed without heed's code. Everything comes
from the seed; gzip members carry mtime 0, so two runs write the same bytes.

    python benchmarks/robots_crawl.py OUT [--files 1000] [--hosts-per-file 200] [--shards 100]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import multiprocessing
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

CRAWL = "CC-MAIN-SIM"
START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
SPAN = 14 * 24 * 3600  # a crawl's robots.txt fetching spans about two weeks
CUT = 500 * 1024  # RFC 9309 2.5: a crawler may stop reading robots.txt after 500 KiB
LEVEL = 6  # gzip level per member, as Common Crawl's writers use
AI_AGENTS = (
    "GPTBot", "CCBot", "ClaudeBot", "Google-Extended", "Applebot-Extended", "Bytespider",
    "anthropic-ai", "Meta-ExternalAgent", "cohere-ai", "PerplexityBot", "Diffbot", "AI2Bot",
    "Amazonbot", "FacebookBot", "omgili", "ChatGPT-User", "PanguBot",
)  # fmt: skip
SEO_AGENTS = ("AhrefsBot", "SemrushBot", "MJ12bot", "DotBot", "BLEXBot", "PetalBot", "YandexBot")
SECTIONS = (
    "news", "blog", "private", "admin", "search", "shop", "docs", "media", "tag", "user",
    "cart", "checkout", "account", "login", "api", "feed", "print", "archive", "wp-json", "cgi-bin",
)  # fmt: skip
WORDS = (
    "amber", "brook", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper",
    "kestrel", "lumen", "meadow", "nova", "orchid", "prairie", "quartz", "river", "summit",
    "tundra", "umber", "valley", "willow", "xenon", "yarrow", "zephyr",
)  # fmt: skip
TLDS = ("com", "org", "net", "de", "co.uk", "fr", "io", "nl", "com.br", "it", "es", "pl", "jp")
SUBDOMAINS = ("", "", "", "www.", "www.", "blog.", "shop.", "news.", "docs.", "m.")
# HTTP status of a capture and its weight (Common Crawl's robots.txt captures are mostly 200).
STATUSES = (
    (200, 0.86), (404, 0.07), (301, 0.02), (403, 0.01), (500, 0.008), (502, 0.004),
    (503, 0.015), (429, 0.013),
)  # fmt: skip
REASONS = {
    200: "OK", 301: "Moved Permanently", 403: "Forbidden", 404: "Not Found", 429: "Too Many "
    "Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip
# Kinds of 200 body and their weights.
BODIES = (
    ("wordpress", 0.30), ("ai_all", 0.20), ("ai_paths", 0.10), ("paths", 0.22),
    ("allow_all", 0.08), ("empty", 0.06), ("html", 0.03), ("large", 0.00995), ("huge", 0.00005),
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    """How big a crawl to write."""

    files: int = 1000  # robots.txt capture files
    hosts_per_file: int = 200  # hosts first captured in each file
    recapture: float = 0.1  # per file, captures of other files' hosts, as a share of its own
    shards: int = 100  # WARC shards of pages
    pages_per_shard: int = 20
    seed: int = 0

    @property
    def hosts(self) -> int:
        return self.files * self.hosts_per_file


@dataclass(frozen=True)
class Latest:
    """A host's latest capture, as written."""

    time: str
    status: int
    sha256: str  # of the body's first 500 KiB
    scheme: str


@dataclass
class SimCrawl:
    """What `generate` wrote."""

    root: Path
    crawl: str
    size: Size
    robots_paths: list[str] = field(default_factory=list)
    warc_paths: list[str] = field(default_factory=list)
    captures: int = 0  # robots.txt response records
    pages: int = 0
    bytes: int = 0  # of every file written
    latest: dict[str, Latest] = field(default_factory=dict)  # host -> its latest capture

    @property
    def hosts(self) -> int:
        return len(self.latest)


def host_name(h: int) -> str:
    """Host number `h` as a name; the hex number keeps names distinct."""
    word = WORDS[h % len(WORDS)] + WORDS[(h // len(WORDS)) % len(WORDS)]
    return f"{SUBDOMAINS[h % len(SUBDOMAINS)]}{word}-{h:x}.{TLDS[(h // 7) % len(TLDS)]}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=LEVEL, mtime=0)


class Writer:
    """WARC records, one gzip member each, from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def record_id(self) -> str:
        return f"<urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}>"

    def record(self, kind: str, date: str, block: bytes, extra: list[tuple[str, str]]) -> bytes:
        headers = [
            ("WARC-Type", kind),
            ("WARC-Date", date),
            ("WARC-Record-ID", self.record_id()),
            ("Content-Length", str(len(block))),
            *extra,
            ("WARC-Block-Digest", sha1_b32(block)),
        ]
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return gz(head.encode() + block + b"\r\n\r\n")

    def warcinfo(self, date: str, filename: str) -> bytes:
        block = b"software: heed benchmarks/robots_crawl.py\r\nformat: WARC File Format 1.1\r\n"
        extra = [("WARC-Filename", filename), ("Content-Type", "application/warc-fields")]
        return self.record("warcinfo", date, block, extra)

    def exchange(
        self, url: str, date: str, status: int, body: bytes, content_type: str | None
    ) -> bytes:
        """A request record and its response record."""
        netloc, _, path = url.split("://", 1)[1].partition("/")
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {netloc}\r\n"
            "User-Agent: CCBot/2.0 (https://commoncrawl.org/faq/)\r\nAccept: */*\r\n\r\n"
        ).encode()
        head = f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\nServer: nginx\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        if status == 301:
            head += f"Location: https://www.{netloc.removeprefix('www.')}/robots.txt\r\n"
        block = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        ip = f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(256)}"
        return self.record(
            "request",
            date,
            request,
            [("Content-Type", "application/http; msgtype=request"), ("WARC-Target-URI", url)],
        ) + self.record(
            "response",
            date,
            block,
            [
                ("Content-Type", "application/http; msgtype=response"),
                ("WARC-Target-URI", url),
                ("WARC-IP-Address", ip),
                ("WARC-Payload-Digest", sha1_b32(body)),
            ],
        )


def _pick(rng: random.Random, weighted: tuple[tuple[object, float], ...]) -> object:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def robots_body(rng: random.Random, host: str) -> tuple[bytes, str | None]:
    """A 200 robots.txt body of a kind drawn from BODIES, and its Content-Type."""
    kind = _pick(rng, BODIES)
    sitemap = f"\nSitemap: https://{host}/sitemap.xml\n"
    lines: list[str]
    if kind == "empty":
        return b"", "text/plain"
    if kind == "html":  # a soft 404: the site's home page served as robots.txt
        html = f"<!doctype html><html><head><title>{host}</title></head><body>Welcome</body>"
        return (html + "</html>\n").encode(), "text/html; charset=utf-8"
    if kind == "wordpress":
        lines = ["User-agent: *", "Disallow: /wp-admin/", "Allow: /wp-admin/admin-ajax.php"]
        return ("\n".join(lines) + "\n" + sitemap).encode(), "text/plain; charset=utf-8"
    if kind == "allow_all":
        return b"User-agent: *\nDisallow:\n", "text/plain"
    lines = ["# robots.txt for " + host, "User-agent: *"]
    lines += [f"Disallow: /{s}/" for s in rng.sample(SECTIONS, rng.randint(1, 6))]
    lines += ["Disallow: /*?sessionid=", "Disallow: /*.pdf$", "Allow: /search/about"]
    if kind == "ai_all":  # AI agents refused the whole site
        lines += ["", *(f"User-agent: {a}" for a in rng.sample(AI_AGENTS, rng.randint(1, 10)))]
        lines += ["Disallow: /"]
    elif kind == "ai_paths":  # an AI agent refused some sections, with an exception
        section = rng.choice(SECTIONS)
        lines += ["", f"User-agent: {rng.choice(AI_AGENTS)}", f"Disallow: /{section}/"]
        lines += [f"Allow: /{section}/public", "Disallow: /*/print$"]
    for agent in rng.sample(SEO_AGENTS, rng.randint(0, 3)):
        lines += ["", f"User-agent: {agent}", "Crawl-delay: 10", "Disallow: /"]
    if kind in ("large", "huge"):  # long generated files: one rule per product or page
        n = rng.randint(200, 2_000) if kind == "large" else rng.randint(20_000, 26_000)
        section, first = rng.choice(SECTIONS), rng.randrange(10**6)
        lines += ["", "User-agent: *"]
        lines += [f"Disallow: /{section}/{WORDS[i % 26]}-{first + i}/" for i in range(n)]
    text = "\r\n".join(lines) if rng.random() < 0.1 else "\n".join(lines)  # some CRLF files
    return (text + "\n" + sitemap).encode(), "text/plain"


def error_body(status: int, host: str) -> tuple[bytes, str | None]:
    if status == 301:
        return b"", None
    return (
        f"<html><head><title>{status} {REASONS[status]}</title></head><body><h1>"
        f"{REASONS[status]}</h1><p>{host}</p></body></html>\n"
    ).encode(), "text/html"


def _segments(size: Size) -> list[str]:
    count = max(1, min(100, size.files // 10))
    return [f"17356927{i * 7919 % 100000:05d}.{i:02d}" for i in range(count)]


def _plan(size: Size) -> list[list[tuple[int, float]]]:
    """Per capture file, its captures in time order: (host number, time). Each file's own hosts
    fall inside its window of the crawl; its recaptures of any host (its own too) at any time,
    earlier or later. A host's capture times are distinct, so its latest capture is exact."""
    rng = random.Random(f"robots-crawl-plan:{size.seed}")
    times: dict[int, set[float]] = {}
    window = SPAN / size.files
    recaptures = round(size.hosts_per_file * size.recapture) if size.files > 1 else 0
    plan = []
    for f in range(size.files):
        own = range(f * size.hosts_per_file, (f + 1) * size.hosts_per_file)
        picks = [(h, START + f * window + rng.random() * window) for h in own]
        picks += [
            (rng.randrange(size.hosts), START + rng.random() * SPAN) for _ in range(recaptures)
        ]
        exact = []
        for h, t in picks:
            t = float(int(t))
            while t in times.setdefault(h, set()):
                t += 1
            times[h].add(t)
            exact.append((h, t))
        plan.append(sorted(exact, key=lambda p: (p[1], p[0])))
    return plan


Written = list[tuple[int, float, int, str, str]]  # per capture: host, time, status, sha256, scheme


def _write_robots_file(
    root: Path, crawl: str, size: Size, f: int, picks: list[tuple[int, float]]
) -> tuple[str, int, Written]:
    """Capture file `f`: its path, bytes, and what each capture holds. Seeded per file, so
    files can be written in any order, by any number of processes."""
    rng = random.Random(f"robots-crawl-file:{size.seed}:{f}")
    writer = Writer(rng)
    segments = _segments(size)
    stamp = datetime.fromtimestamp(START + f * SPAN / size.files, UTC).strftime("%Y%m%d%H%M%S")
    name = f"CC-MAIN-{stamp}-{stamp}-{f:05d}.warc.gz"
    rel = f"crawl-data/{crawl}/segments/{segments[f % len(segments)]}/robotstxt/{name}"
    chunks = [writer.warcinfo(iso(picks[0][1]), name)]
    written: Written = []
    for h, t in picks:
        host = host_name(h)
        status = int(_pick(rng, STATUSES))  # type: ignore[call-overload]
        body, content_type = robots_body(rng, host) if status == 200 else error_body(status, host)
        scheme = "http" if rng.random() < 0.05 else "https"
        spelled = host.upper() if rng.random() < 0.005 else host
        url = f"{scheme}://{spelled}/robots.txt"
        chunks.append(writer.exchange(url, iso(t), status, body, content_type))
        written.append((h, t, status, hashlib.sha256(body[:CUT]).hexdigest(), scheme))
    data = b"".join(chunks)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)
    return rel, len(data), written


def _write_robots_job(
    job: tuple[Path, str, Size, int, list[tuple[int, float]]],
) -> tuple[str, int, Written]:
    return _write_robots_file(*job)


def generate(root: Path, size: Size = Size(), crawl: str = CRAWL, workers: int = 1) -> SimCrawl:
    """Write a crawl of `size` under `root` (created) with `workers` processes; return what was
    written. The bytes do not depend on `workers`."""
    root = Path(root)
    base = root / "crawl-data" / crawl
    base.mkdir(parents=True, exist_ok=True)
    sim = SimCrawl(root, crawl, size)
    jobs = [(root, crawl, size, f, picks) for f, picks in enumerate(_plan(size))]
    latest: dict[int, tuple[float, int, str, str]] = {}
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers))
            files = pool.imap(_write_robots_job, jobs, chunksize=4)
        else:
            files = map(_write_robots_job, jobs)
        for rel, n, written in files:
            sim.robots_paths.append(rel)
            sim.bytes += n
            sim.captures += len(written)
            for h, t, status, digest, scheme in written:
                if h not in latest or t > latest[h][0]:
                    latest[h] = (t, status, digest, scheme)
    sim.latest = {
        host_name(h): Latest(iso(t), status, digest, scheme)
        for h, (t, status, digest, scheme) in sorted(latest.items())
    }
    _write_shards(root, crawl, size, sim)
    listings = {"robotstxt.paths.gz": sim.robots_paths, "warc.paths.gz": sim.warc_paths}
    for listing, paths in listings.items():
        (base / listing).write_bytes(gz("".join(p + "\n" for p in paths).encode()))
    truth = "".join(
        f"{host}\t{x.time}\t{x.status}\t{x.sha256}\t{x.scheme}\n" for host, x in sim.latest.items()
    )
    (root / f"truth-{crawl}.tsv.gz").write_bytes(gz(truth.encode()))
    return sim


def _write_shards(root: Path, crawl: str, size: Size, sim: SimCrawl) -> None:
    """Tiny HTML pages on the hosts (one in twenty on a host with no robots.txt capture), some
    under the paths the robots.txt files refuse."""
    rng = random.Random(f"robots-crawl-pages:{size.seed}")
    segments = _segments(size)
    for s in range(size.shards):
        writer = Writer(rng)
        seg = segments[s % len(segments)]
        name = f"CC-MAIN-20250101000000-20250101000000-{s:05d}.warc.gz"
        rel = f"crawl-data/{crawl}/segments/{seg}/warc/{name}"
        chunks = [writer.warcinfo(iso(START), name)]
        for p in range(size.pages_per_shard):
            h = rng.randrange(size.hosts)
            host = host_name(h) if rng.random() >= 0.05 else f"uncaptured-{s}-{p}.example"
            path = f"/{rng.choice(SECTIONS)}/{rng.choice(WORDS)}-{rng.randrange(10**6)}.html"
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 80)))
            body = (
                f"<!doctype html><html><head><title>{host}</title></head><body><article>"
                f"<h1>{rng.choice(WORDS).title()}</h1><p>{words}.</p></article></body></html>\n"
            ).encode()
            t = iso(START + rng.random() * SPAN)
            chunks.append(
                writer.exchange(f"https://{host}{path}", t, 200, body, "text/html; charset=utf-8")
            )
            sim.pages += 1
        data = b"".join(chunks)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        sim.warc_paths.append(rel)
        sim.bytes += len(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write the crawl into")
    parser.add_argument("--crawl", default=CRAWL)
    parser.add_argument("--files", type=int, default=Size.files)
    parser.add_argument("--hosts-per-file", type=int, default=Size.hosts_per_file)
    parser.add_argument("--recapture", type=float, default=Size.recapture)
    parser.add_argument("--shards", type=int, default=Size.shards)
    parser.add_argument("--pages-per-shard", type=int, default=Size.pages_per_shard)
    parser.add_argument("--seed", type=int, default=Size.seed)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    size = Size(
        args.files, args.hosts_per_file, args.recapture, args.shards, args.pages_per_shard,
        args.seed,
    )  # fmt: skip
    began = time.process_time()
    sim = generate(args.out, size, args.crawl, args.workers)
    print(
        f"{args.out}: {sim.crawl}: {len(sim.robots_paths):,} robots.txt files, "
        f"{sim.captures:,} captures of {sim.hosts:,} hosts, {len(sim.warc_paths):,} shards of "
        f"{sim.pages:,} pages, {sim.bytes / 2**20:,.1f} MiB "
        f"({time.process_time() - began:.1f} CPU s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Two small crawls in Common Crawl's layout with planted duplicates, for the dedup tests.

Every page is an article of seeded random words inside a site template: navigation and footer
in <nav>/<footer>, and a short "about this site" paragraph inside the article, the same on every
page (boilerplate that extraction keeps). Planted, and written down in `truth.json` with the
copy the documented rule keeps:

* exact: the same article on other hosts (in the same shard, another shard, the other crawl);
* near: a few words changed, or a paragraph added;
* url: the same URL captured again in the other crawl (later), with a changed article.

Unrelated articles share only the site's boilerplate and must all be kept.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

CRAWLS = ("CC-MAIN-DEDUP-A", "CC-MAIN-DEDUP-B")
WORDS = [
    f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vu", "zo", "bi", "de")
    for b in ("ran", "lem", "tis", "dor", "val", "qui", "mon", "sep", "tar", "gol", "fen", "wix")
]  # fmt: skip


def article(rng: random.Random, words: int = 240) -> list[str]:
    """Paragraphs of sentences of random words."""
    paragraphs, left = [], words
    while left > 0:
        n = min(left, rng.randint(40, 70))
        sentences, sentence = [], []
        for _ in range(n):
            sentence.append(rng.choice(WORDS))
            if len(sentence) >= rng.randint(8, 14):
                sentences.append(" ".join(sentence).capitalize() + ".")
                sentence = []
        if sentence:
            sentences.append(" ".join(sentence).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
        left -= n
    return paragraphs


def page_html(host: str, paragraphs: list[str]) -> str:
    """The article in its site's template; the title is the article's first words, so copies
    of an article are copies of the whole text extraction keeps."""
    title = " ".join(paragraphs[0].split()[:6])
    about = (
        "About this site: we publish independent reporting every day, read by people in many "
        "countries; write to the editors with corrections, and subscribe to the weekly letter "
        "for the stories of the week, free of charge and without advertising."
    )
    body = "".join(f"<p>{p}</p>" for p in [*paragraphs, about])
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a> "
        f"<a href='/about'>About {host}</a></nav><main><article><h1>{title}</h1>{body}"
        f"</article></main><footer>Copyright {host}. All rights reserved.</footer>"
        "</body></html>"
    )


@dataclass
class Record:
    crawl: str
    shard: int
    url: str
    date: datetime
    paragraphs: list[str]
    record_id: str = ""


@dataclass
class Plan:
    records: list[Record] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)


def plan(seed: int = 7, unrelated: int = 48, shards: int = 2) -> Plan:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    p = Plan()
    clock = iter(start + timedelta(minutes=7 * i) for i in range(10_000))

    def add(crawl: int, shard: int, host: str, path: str, paragraphs: list[str]) -> Record:
        later = timedelta(days=60) if crawl == 1 else timedelta(0)
        record = Record(CRAWLS[crawl], shard, f"https://{host}/{path}", next(clock) + later,
                        paragraphs)  # fmt: skip
        p.records.append(record)
        return record

    hosts = [f"site{i}.example" for i in range(12)]
    # Unrelated pages: every host writes several, sharing only its boilerplate.
    for i in range(unrelated):
        add(i % 2, (i // 2) % shards, hosts[i % len(hosts)], f"news/{i}.html", article(rng))
    # Exact copies: within a shard, across shards, across crawls.
    for n, places in enumerate([[(0, 0), (0, 0)], [(0, 0), (0, 1)], [(0, 1), (1, 0), (1, 1)]]):
        text = article(rng)
        members = [add(c, s, f"mirror{n}-{k}.example", f"copy/{n}.html", text)
                   for k, (c, s) in enumerate(places)]  # fmt: skip
        p.groups.append({"kind": "exact", "members": members, "keep": members[0]})
    # Near copies: a few words changed, or a paragraph added.
    for n, places in enumerate([[(0, 0), (0, 1)], [(0, 1), (1, 1)]]):
        text = article(rng)
        edited = [para.split(" ") for para in text]
        for _ in range(3):
            words = edited[rng.randrange(len(edited))]
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        first = add(*places[0], f"near{n}.example", "story.html", text)
        second = add(*places[1], f"syndicate{n}.example", "story.html",
                     [" ".join(words) for words in edited])  # fmt: skip
        p.groups.append({"kind": "near", "members": [first, second], "keep": first})
    for n, places in enumerate([[(0, 0), (1, 0)]]):
        text = article(rng)
        first = add(*places[0], f"long{n}.example", "story.html", text)
        second = add(*places[1], f"longer{n}.example", "story.html",
                     [*text, " ".join(article(rng, 45))])  # fmt: skip
        p.groups.append({"kind": "near", "members": [first, second], "keep": first})
    # The same URL captured again in the later crawl, its article since rewritten.
    for n in range(2):
        first = add(0, n, f"recapture{n}.example", "live.html", article(rng))
        second = add(1, n, f"recapture{n}.example", "live.html", article(rng))
        p.groups.append({"kind": "url", "members": [first, second], "keep": second})
    return p


def write(root: Path, seed: int = 7, unrelated: int = 48, shards: int = 2) -> dict:
    """The two crawls under `root` (`shards` each; the planted copies in the first two), and
    the truth: {"groups": [...], "records": N}."""
    p = plan(seed, unrelated, shards)
    ids = iter(f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>" for i in range(100_000))
    for crawl in CRAWLS:
        paths = []
        for shard in range(shards):
            rel = f"crawl-data/{crawl}/segments/1/warc/{crawl}-{shard:05d}.warc.gz"
            buffer = io.BytesIO()
            writer = WARCWriter(buffer, gzip=True)
            records = [r for r in p.records if r.crawl == crawl and r.shard == shard]
            for record in sorted(records, key=lambda r: r.date):
                record.record_id = next(ids)
                html = page_html(record.url.split("/")[2], record.paragraphs)
                payload = html.encode("utf-8")
                http = StatusAndHeaders(
                    "200 OK",
                    [("Content-Type", "text/html; charset=utf-8"),
                     ("Content-Length", str(len(payload)))],
                    protocol="HTTP/1.1",
                )  # fmt: skip
                warc = writer.create_warc_record(
                    record.url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=http,
                    warc_headers_dict={
                        "WARC-Record-ID": record.record_id,
                        "WARC-Date": record.date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "WARC-Identified-Payload-Type": "text/html",
                    },
                )
                writer.write_record(warc)
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(buffer.getvalue())
            paths.append(rel)
        listing = root / "crawl-data" / crawl / "warc.paths.gz"
        listing.write_bytes(gzip.compress(("\n".join(paths) + "\n").encode(), mtime=0))
    truth = {
        "records": len(p.records),
        "groups": [
            {
                "kind": g["kind"],
                "members": [m.record_id for m in g["members"]],
                "urls": [m.url for m in g["members"]],
                "keep": g["keep"].record_id,
            }
            for g in p.groups
        ],
    }
    (root / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth

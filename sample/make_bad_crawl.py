#!/usr/bin/env python3
"""Generate a hostile crawl in Common Crawl's layout, and the same good records alone.

Good records are copied byte for byte from the embedded sample crawl (its first `--pages`
fetches of shards 00000 and 00001, each a request, response and metadata record, every record
its own gzip member, with the robots.txt captures of their hosts). Between them it plants what
a real crawl throws at a reader:

* damage to the file: garbage bytes between records (one span holding a gzip magic number that
  is no gzip member), a gzip member cut short in the middle of a shard and at its end, records
  whose WARC Content-Length is too large or too small, a garbled HTTP head, a gzip bomb (a
  record of 80 MiB of zeros, ~80 KB on disk);
* pages a pipeline must not choke on: PDF, PNG, random binary (declared as such and declared as
  HTML), Shift-JIS and windows-1251 pages declared as UTF-8 and one declaring no charset
  (copies of sample pages, re-encoded), a 20 MB page, deeply nested HTML, a page that takes
  seconds to extract, an empty (0-byte) page;
* robots.txt captures that are binary, huge (5 MB, with a rule past the 500 KiB that are read)
  or nonsense, each with a page under `/private/` and one under `/public/`;
* records whose ids and URLs look like paths (`../`, `/`), which must never name a file;
* a third shard that holds no WARC record at all (an error page stored in its place).

It writes `OUT/bad/` and `OUT/clean/` (two crawl roots, crawl `CC-MAIN-RELIABILITY`, the same
shard paths: the clean one has the good records alone, shards 00000 and 00001 only) and
`OUT/planted.json`: per planted item its shard, kind, byte offset, record id and URL, and the
good records' ids. Everything is derived from `--seed` (gzip headers carry mtime 0): two runs
give identical bytes. Only the standard library is used.

Usage: python sample/make_bad_crawl.py --out DIR [--source sample] [--pages 40] [--seed 7]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import random
import re
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CRAWL = "CC-MAIN-RELIABILITY"
SOURCE_CRAWL = "CC-MAIN-SAMPLE"
SEGMENT = "1735692770181.99"
SHARD_NAMES = [
    f"crawl-data/{CRAWL}/segments/{SEGMENT}/warc/CC-MAIN-20250101000000-20250101030000-{i:05d}"
    ".warc.gz"
    for i in range(3)
]
ROBOTS_NAME = (
    f"crawl-data/{CRAWL}/segments/{SEGMENT}/robotstxt/CC-MAIN-20250101000000-00000.warc.gz"
)
DATE = "2025-01-01T12:00:00Z"
HTTP_DATE = "Wed, 01 Jan 2025 12:00:00 GMT"
BOMB_BYTES = 80 * 1024 * 1024  # over curation.warc.MAX_RECORD_BYTES (64 MiB)
HUGE_PAGE_BYTES = 20 * 1000 * 1000  # over the extract stage's max_bytes (10 MB)
HUGE_ROBOTS_BYTES = 5 * 1000 * 1000  # robots.txt is read up to 500 KiB

ARTICLE = [
    "The city council met on Tuesday evening to discuss the plans for the new library.",
    "Residents asked how the building would be paid for and when the work would begin.",
    "The mayor said that the first stage would be finished before the end of next year.",
    "Several speakers welcomed the idea of longer opening hours on weekends and holidays.",
    "A local teacher pointed out that the old building had no room for school classes.",
    "The architects showed drawings of a reading garden on the roof of the new library.",
    "Some shop owners worried about the traffic during the months of construction work.",
    "The council will vote on the final budget at its next meeting in the spring.",
]


def sha1_b32(data: bytes) -> str:
    """WARC digests as Common Crawl writes them: `sha1:` + base32 of the SHA-1."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def gz(data: bytes) -> bytes:
    """One gzip member with a fixed header (mtime 0), so output is reproducible."""
    return gzip.compress(data, compresslevel=6, mtime=0)


@dataclass
class Member:
    """One gzip member of a WARC file: its bytes and the record it holds."""

    raw: bytes
    warc_type: str
    url: str
    record_id: str


def members(data: bytes) -> list[Member]:
    """Split a per-record gzipped WARC file into its members."""
    out, rest = [], data
    while rest:
        inflater = zlib.decompressobj(31)
        text = inflater.decompress(rest)
        raw = rest[: len(rest) - len(inflater.unused_data)]
        rest = inflater.unused_data
        head = text.split(b"\r\n\r\n", 1)[0].decode("utf-8")
        fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        out.append(
            Member(
                raw,
                fields.get("WARC-Type", ""),
                fields.get("WARC-Target-URI", ""),
                fields.get("WARC-Record-ID", ""),
            )
        )
    return out


def host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].lower()


class Builder:
    """Builds the records planted beside the good ones, all from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def new_id(self) -> str:
        return f"<urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}>"

    def noise(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    @staticmethod
    def http(body: bytes, content_type: str | None, status: str = "200 OK") -> bytes:
        head = f"HTTP/1.1 {status}\r\nDate: {HTTP_DATE}\r\nServer: nginx\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def response(
        self,
        url: str,
        block: bytes,
        *,
        record_id: str | None = None,
        length_delta: int = 0,
        payload: bytes | None = None,
    ) -> tuple[str, bytes]:
        """A response record (uncompressed) with correct digests; `length_delta` makes its
        WARC Content-Length wrong by that many bytes."""
        rid = record_id or self.new_id()
        payload = block.split(b"\r\n\r\n", 1)[1] if payload is None else payload
        headers = [
            ("WARC-Type", "response"),
            ("WARC-Date", DATE),
            ("WARC-Record-ID", rid),
            ("Content-Length", str(len(block) + length_delta)),
            ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Target-URI", url),
            ("WARC-Payload-Digest", sha1_b32(payload)),
            ("WARC-Block-Digest", sha1_b32(block)),
        ]
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return rid, head.encode("utf-8") + block + b"\r\n\r\n"

    def request(self, url: str) -> bytes:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "") or "/"
        block = (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: CCBot/2.0\r\n\r\n"
        ).encode()
        headers = [
            ("WARC-Type", "request"),
            ("WARC-Date", DATE),
            ("WARC-Record-ID", self.new_id()),
            ("Content-Length", str(len(block))),
            ("Content-Type", "application/http; msgtype=request"),
            ("WARC-Target-URI", url),
            ("WARC-Block-Digest", sha1_b32(block)),
        ]
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return gz(head.encode() + block + b"\r\n\r\n")

    def article(self, title: str, paragraphs: int = 8) -> str:
        sentences = [self.rng.sample(ARTICLE, len(ARTICLE)) for _ in range(paragraphs)]
        body = "".join(f"<p>{' '.join(s[:4])} {title}.</p>\n" for s in sentences)
        return (
            f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>\n{body}</article></body></html>"
        )


def bomb_member(builder: Builder, url: str) -> tuple[str, bytes]:
    """A response of BOMB_BYTES zeros, gzipped as it is written (never held whole)."""
    body_head = builder.http(b"", "text/html").replace(
        b"Content-Length: 0", f"Content-Length: {BOMB_BYTES}".encode()
    )
    chunk = bytes(1 << 20)
    digest = hashlib.sha1(body_head)
    for _ in range(BOMB_BYTES // len(chunk)):
        digest.update(chunk)
    block_digest = "sha1:" + base64.b32encode(digest.digest()).decode("ascii")
    rid = builder.new_id()
    headers = [
        ("WARC-Type", "response"),
        ("WARC-Date", DATE),
        ("WARC-Record-ID", rid),
        ("Content-Length", str(len(body_head) + BOMB_BYTES)),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Target-URI", url),
        ("WARC-Block-Digest", block_digest),
    ]
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as member:
        member.write(head.encode() + body_head)
        for _ in range(BOMB_BYTES // len(chunk)):
            member.write(chunk)
        member.write(b"\r\n\r\n")
    return rid, out.getvalue()


def recode(
    member: Member, builder: Builder, encoding: str, declared: str | None
) -> tuple[str, str, bytes]:
    """A copy of a sample page (new id, URL with a query) whose bytes are in `encoding` while
    its HTTP head declares `declared` (None: no charset at all); <meta charset> removed."""
    text = zlib.decompressobj(31).decompress(member.raw)
    block = text.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n\r\n", 1)[0]
    payload = block.split(b"\r\n\r\n", 1)[1]
    html = payload.decode("utf-8")
    html = re.sub(r"(?i)<meta[^>]*charset[^>]*>", "", html)
    body = html.encode(encoding, errors="replace")
    content_type = "text/html" + (f"; charset={declared}" if declared else "")
    url = f"{member.url}{'&' if '?' in member.url else '?'}enc={encoding}"
    rid, record = builder.response(url, builder.http(body, content_type))
    return rid, url, record


def pick_page(source: Path, language: str) -> tuple[str, str]:
    """A sample page in `language` that reaches extraction under the crawl's own robots.txt:
    (its shard path, its record id)."""
    truth = source / "truth" / f"{SOURCE_CRAWL}.jsonl.gz"
    with gzip.open(truth, "rt", encoding="utf-8") as lines:
        for line in lines:
            t = json.loads(line)
            if (
                t["kind"] == "html"
                and t["language"] == language
                and t["robots_category"] in ("allow_all", "missing")
                and not (t["toxic"] or t["noai"] or t["tdm_reservation"] or t["robots_dir"])
                and not t.get("tdmrep_reserved")
                and t["charset"] == "utf-8"
            ):
                return t["shard"], t["record_id"]
    raise SystemExit(f"no {language} page to copy in {truth}")


def build(source: Path, pages: int, seed: int) -> tuple[dict[str, bytes], dict]:
    """Every file of both crawl roots (path under OUT -> bytes), and what was planted."""
    builder = Builder(seed)
    listing = (
        gzip.decompress((source / "crawl-data" / SOURCE_CRAWL / "warc.paths.gz").read_bytes())
        .decode()
        .split()
    )
    source_members = {path: members((source / path).read_bytes()) for path in listing}

    # The good records: shard i's warcinfo and its first `pages` fetches.
    good: list[list[Member]] = []
    for path in listing[:2]:
        taken, responses = [], 0
        for m in source_members[path]:
            if m.warc_type == "request" and responses == pages:
                break
            taken.append(m)
            responses += m.warc_type == "response"
        good.append(taken)

    def find(path: str, record_id: str) -> Member:
        return next(m for m in source_members[path] if m.record_id == record_id)

    ja, ru = find(*pick_page(source, "ja")), find(*pick_page(source, "ru"))
    hosts = {host_of(m.url) for shard in good for m in shard} | {host_of(ja.url), host_of(ru.url)}

    planted: list[dict] = []

    def plant(
        shard: int, kind: str, data: bytes, record_id: str | None, url: str = "", lead: int = 0
    ) -> None:
        """Plant `data` in a shard; its response record (or damage) starts `lead` bytes in."""
        planted.append(
            {
                "shard": shard,
                "kind": kind,
                "record_id": record_id,
                "url": url,
                "data": data,
                "lead": lead,
            }
        )

    def page(shard: int, kind: str, url: str, block: bytes, **options: object) -> None:
        rid, record = builder.response(url, block, **options)  # type: ignore[arg-type]
        request = builder.request(url)
        plant(shard, kind, request + gz(record), rid, url, lead=len(request))

    # ---- shard 0
    plant(0, "garbage", builder.noise(3000) + b"HTTP/1.1 502 Bad Gateway\r\n\r\n", None)
    url = "https://cut.example.com/news/cut-in-the-middle.html"
    rid, record = builder.response(url, builder.http(builder.article("Cut").encode(), "text/html"))
    member = gz(record)
    plant(0, "truncated_member", member[: len(member) * 3 // 5], rid, url)
    page(
        0,
        "content_length_too_large",
        "https://length.example.com/a.html",
        builder.http(builder.article("Long").encode(), "text/html; charset=utf-8"),
        length_delta=317,
    )
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + builder.noise(2000) + b"\n%%EOF\n"
    page(0, "pdf", "https://files.example.com/report.pdf", builder.http(pdf, "application/pdf"))
    png = b"\x89PNG\r\n\x1a\n" + builder.noise(3000)
    page(0, "png", "https://files.example.com/logo.png", builder.http(png, "image/png"))
    page(
        0,
        "binary",
        "https://files.example.com/blob.bin",
        builder.http(builder.noise(5000), "application/octet-stream"),
    )
    page(
        0,
        "binary_as_html",
        "https://files.example.com/blob.html",
        builder.http(builder.noise(5000), "text/html; charset=utf-8"),
    )
    filler = "<p>" + " ".join(ARTICLE) + "</p>\n"
    huge = "<html><body>" + filler * (HUGE_PAGE_BYTES // len(filler) + 1) + "</body></html>"
    page(
        0,
        "huge_page",
        "https://big.example.com/everything.html",
        builder.http(huge.encode(), "text/html; charset=utf-8"),
    )
    rid, member = bomb_member(builder, "https://bomb.example.com/zeros.html")
    plant(0, "gzip_bomb", member, rid, "https://bomb.example.com/zeros.html")
    block = builder.http(builder.article("Garbled").encode(), "text/html")
    garbled = block.replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 2\x00\x00 OK", 1).replace(b": ", b"  ")
    page(0, "garbled_http_head", "https://garbled.example.com/a.html", garbled)
    page(
        0,
        "hostile_names",
        "https://evil.example.com/../../documents/part-99999.parquet",
        builder.http(builder.article("Names").encode(), "text/html"),
        record_id="<../../documents/part-99999.parquet>",
    )
    for host in ("binary-robots", "huge-robots", "nonsense-robots"):
        for folder in ("private", "public"):
            url = f"https://{host}.example.com/{folder}/page.html"
            block = builder.http(builder.article(f"{host} {folder}").encode(), "text/html")
            page(0, f"robots_{host.split('-')[0]}_{folder}", url, block)

    # ---- shard 1
    page(
        1,
        "content_length_too_small",
        "https://length.example.com/b.html",
        builder.http(builder.article("Short").encode(), "text/html; charset=utf-8"),
        length_delta=-50,
    )
    # Garbage holding a gzip magic number that starts no gzip member.
    decoy = builder.noise(700) + b"\x1f\x8b\x08\x00" + builder.noise(60_000)
    plant(1, "garbage_with_false_magic", decoy, None)
    nested = "<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>"
    page(
        1,
        "nested_html",
        "https://deep.example.com/nested.html",
        builder.http(nested.encode(), "text/html; charset=utf-8"),
    )
    slow = "".join(
        f"<div><p>Absatz {i}: ein gewöhnlicher Satz über das Wetter {i * 7} und die Stadt "
        f"{i * 13}.</p><a href='/x{i}'>link {i}</a></div>"
        for i in range(30_000)
    )
    page(
        1,
        "slow_page",
        "https://slow.example.com/many.html",
        builder.http(
            f"<html><body><article>{slow}</article></body></html>".encode(),
            "text/html; charset=utf-8",
        ),
    )
    page(1, "empty_page", "https://empty.example.com/", builder.http(b"", "text/html"))
    for kind, source_page, encoding, declared in (
        ("shift_jis_as_utf8", ja, "shift_jis", "utf-8"),
        ("windows1251_as_utf8", ru, "windows-1251", "UTF-8"),
        ("no_charset", ru, "windows-1251", None),
    ):
        rid, url, record = recode(source_page, builder, encoding, declared)
        request = builder.request(url)
        plant(1, kind, request + gz(record), rid, url, lead=len(request))
    page(
        1,
        "hostile_names",
        "https://evil.example.com/a/../../b",
        builder.http(builder.article("Slashes").encode(), "text/html"),
        record_id="<urn:x/../../../etc/passwd\\part-00000>",
    )
    url = "https://cut.example.com/news/cut-at-the-end.html"
    rid, record = builder.response(url, builder.http(builder.article("End").encode(), "text/html"))
    member = gz(record)
    planted_end = member[: len(member) - 40]  # the file ends inside it: appended last

    # Interleave: bad records between the good fetches, at seeded places (after the warcinfo).
    files: dict[str, bytes] = {}
    for i in range(2):
        groups: list[list[bytes]] = [[good[i][0].raw]]
        for m in good[i][1:]:
            if m.warc_type == "request":
                groups.append([])
            groups[-1].append(m.raw)
        clean = b"".join(b"".join(g) for g in groups)
        planted_here = [p for p in planted if p["shard"] == i]
        slots = sorted(builder.rng.sample(range(1, len(groups) + 1), len(planted_here)))
        out = bytearray()
        for k, group in enumerate(groups):
            for p, slot in zip(planted_here, slots, strict=True):
                if slot == k:
                    p["offset"] = len(out) + p["lead"]
                    out += p["data"]
            out += b"".join(group)
        for p, slot in zip(planted_here, slots, strict=True):
            if slot == len(groups):
                p["offset"] = len(out) + p["lead"]
                out += p["data"]
        if i == 1:
            planted.append(
                {
                    "shard": 1,
                    "kind": "truncated_at_end",
                    "record_id": rid,
                    "url": url,
                    "offset": len(out),
                }
            )
            out += planted_end
        files[f"bad/{SHARD_NAMES[i]}"] = bytes(out)
        files[f"clean/{SHARD_NAMES[i]}"] = clean
    files[f"bad/{SHARD_NAMES[2]}"] = (
        b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service "
        b"Unavailable</h1></body></html>\n" + builder.noise(2000)
    )
    for p in planted:
        p.pop("data", None)
        p.pop("lead", None)
        p["shard"] = SHARD_NAMES[p["shard"]]

    # robots.txt: the sample's captures of the good records' hosts, in both crawls; the
    # hostile ones in the bad crawl only.
    captures = b""
    for path in (
        gzip.decompress((source / "crawl-data" / SOURCE_CRAWL / "robotstxt.paths.gz").read_bytes())
        .decode()
        .split()
    ):
        fetches = members((source / path).read_bytes())
        for k, m in enumerate(fetches):
            if m.warc_type == "response" and host_of(m.url) in hosts:
                captures += fetches[k - 1].raw + m.raw  # its request, then the response
    hostile = b""
    padding = b"# a very long robots.txt: comment lines, megabytes of them .....\n"
    huge_robots = b"User-agent: *\nDisallow: /private/\n" + padding * (
        HUGE_ROBOTS_BYTES // len(padding)
    )
    huge_robots += b"User-agent: *\nDisallow: /public/\n"  # past 500 KiB: never read
    for host, body, content_type in (
        ("binary-robots.example.com", builder.noise(4096), "application/octet-stream"),
        ("huge-robots.example.com", huge_robots, "text/plain"),
        (
            "nonsense-robots.example.com",
            b'Disalow everything!!!\nUser agent = all robots\n<html><body>{"rules": [1, 2]}'
            b"</body></html>\nAllow:\nDisallow\n:::\n\xff\xfe\x00garbage",
            "text/plain",
        ),
    ):
        url = f"https://{host}/robots.txt"
        _, record = builder.response(url, builder.http(body, content_type))
        hostile += builder.request(url) + gz(record)
    for root, robots in (("bad", captures + hostile), ("clean", captures)):
        files[f"{root}/{ROBOTS_NAME}"] = robots
        files[f"{root}/crawl-data/{CRAWL}/robotstxt.paths.gz"] = gz(ROBOTS_NAME.encode() + b"\n")
    for root, names in (("bad", SHARD_NAMES), ("clean", SHARD_NAMES[:2])):
        files[f"{root}/crawl-data/{CRAWL}/warc.paths.gz"] = gz("\n".join(names).encode() + b"\n")
    good_ids = {
        SHARD_NAMES[i]: [m.record_id for m in good[i] if m.warc_type == "response"]
        for i in range(2)
    }
    manifest = {
        "crawl": CRAWL,
        "seed": seed,
        "pages": pages,
        "planted": planted,
        "good": good_ids,
        "unreadable_shard": SHARD_NAMES[2],
    }
    return files, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for bad/, clean/")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="the sample crawl root to copy good records from (default: this folder)",
    )
    parser.add_argument("--pages", type=int, default=40, help="good fetches per shard")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    files, manifest = build(args.source, args.pages, args.seed)
    for rel, data in sorted(files.items()):
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (args.out / "planted.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total / 1e6:.2f} MB, under {args.out}")


if __name__ == "__main__":
    main()

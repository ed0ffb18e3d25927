"""Robots snapshots: robots.txt per host, as Parquet partitioned by host hash.

```
SNAPSHOT/snapshot.json        id, sources, host count, bucket count
SNAPSHOT/part-NNNN.parquet    the hosts whose crc32 % buckets == NNNN, sorted by host
```
A shard task asks only for the hosts it meets, so it reads a few row groups of a few buckets:
a snapshot of millions of hosts serves tasks with bounded memory. Sources: a crawl's own
robots.txt captures (`robotstxt.paths.gz`), a folder of files, or live fetching.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from heed.common.files import atomic_path, sha256_file, write_json_atomic
from heed.curation.crawl.fetch import FetchOptions
from heed.curation.crawl.listing import ROBOTS_LISTING, Shard, open_input, read_listing
from heed.curation.crawl.warc import host_of, response_records
from heed.curation.optout.robots import MAX_ROBOTS_BYTES

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
META = "snapshot.json"
DEFAULT_BUCKETS = 64
ROW_GROUP = 128  # rows per row group: a lookup decompresses a few of these, not a bucket
SPILL_BYTES = 256 * 1024 * 1024  # hold at most this much body text before spilling to disk

SCHEMA = pa.schema(
    [
        pa.field("host", pa.string(), nullable=False),
        pa.field("scheme", pa.string()),
        pa.field("status", pa.int32()),  # null: unreachable
        pa.field("capture_time", pa.string()),  # ISO 8601 UTC
        pa.field("body", pa.binary()),
        pa.field("sha256", pa.string()),
        pa.field("source", pa.string()),
        pa.field("tdmrep", pa.binary()),  # /.well-known/tdmrep.json, where the source has it
    ]
)


@dataclass(frozen=True)
class Capture:
    """One host's robots.txt as some source saw it."""

    host: str
    scheme: str
    status: int | None
    capture_time: str
    body: bytes
    sha256: str
    source: str
    tdmrep: bytes | None = None

    @classmethod
    def of(
        cls,
        host: str,
        scheme: str,
        status: int | None,
        capture_time: str,
        body: bytes,
        source: str,
        tdmrep: bytes | None = None,
    ) -> Capture:
        body = body[:MAX_ROBOTS_BYTES]
        digest = hashlib.sha256(body).hexdigest()
        return cls(host.lower(), scheme, status, capture_time, body, digest, source, tdmrep)


def bucket_of(host: str, buckets: int) -> int:
    # crc32, not hash(): the same in every process and on every machine.
    return zlib.crc32(host.encode("utf-8")) % buckets


def iso_utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SnapshotWriter:
    """Collects captures in any order and writes one snapshot, the latest capture per host.

    Captures are held per bucket and spilled to disk past `SPILL_BYTES`, so building from a
    whole crawl's captures needs memory for one bucket, not for all of them.
    """

    def __init__(self, out: Path, buckets: int = DEFAULT_BUCKETS) -> None:
        if buckets < 1:
            raise ValueError(f"buckets = {buckets} must be >= 1")
        self.out, self.buckets = Path(out), buckets
        self.spill = self.out / ".spill"
        self.held: dict[int, list[tuple[int, Capture]]] = {}
        self.held_bytes = 0
        self.spills: dict[int, int] = {}
        self.sequence = 0  # arrival order: the later of two equal-time captures wins
        self.sources: list[str] = []
        self.out.mkdir(parents=True, exist_ok=True)

    def add(self, capture: Capture) -> None:
        bucket = bucket_of(capture.host, self.buckets)
        self.held.setdefault(bucket, []).append((self.sequence, capture))
        self.sequence += 1
        self.held_bytes += len(capture.body) + len(capture.tdmrep or b"") + 200
        if self.held_bytes > SPILL_BYTES:
            self._spill()

    def _table(self, rows: list[tuple[int, Capture]]) -> pa.Table:
        columns = {f.name: [getattr(c, f.name) for _, c in rows] for f in fields(Capture)}
        table = pa.table(columns, schema=SCHEMA)
        return table.append_column("sequence", pa.array([s for s, _ in rows], pa.int64()))

    def _spill(self) -> None:
        self.spill.mkdir(exist_ok=True)
        for bucket, rows in self.held.items():
            n = self.spills.get(bucket, 0)
            pq.write_table(self._table(rows), self.spill / f"{bucket:04d}-{n:06d}.parquet")
            self.spills[bucket] = n + 1
        self.held, self.held_bytes = {}, 0

    def _bucket_rows(self, bucket: int) -> pa.Table:
        parts = [pq.read_table(p) for p in sorted(self.spill.glob(f"{bucket:04d}-*.parquet"))]
        parts.append(self._table(self.held.get(bucket, [])))
        return pa.concat_tables(parts)

    def finish(self, sources: list[str]) -> dict[str, Any]:
        """Write every bucket (latest capture per host, sorted by host) and snapshot.json."""
        hosts = 0
        digests = []
        for bucket in range(self.buckets):
            table = self._bucket_rows(bucket)
            # Latest capture per host; among equal times the one that arrived last.
            table = table.sort_by(
                [("host", "ascending"), ("capture_time", "descending"), ("sequence", "descending")]
            )
            hosts_column = table.column("host").to_pylist()
            keep = [i for i, h in enumerate(hosts_column) if i == 0 or hosts_column[i - 1] != h]
            table = table.take(pa.array(keep, pa.int64())).drop_columns(["sequence"])
            path = self.out / f"part-{bucket:04d}.parquet"
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd")
            hosts += table.num_rows
            digests.append(sha256_file(path))
        for spilled in self.spill.glob("*.parquet"):
            spilled.unlink()
        if self.spill.exists():
            self.spill.rmdir()
        meta = snapshot_meta(digests, self.buckets, hosts, sources)
        write_json_atomic(self.out / META, meta)
        return meta


def snapshot_meta(
    digests: list[str], buckets: int, hosts: int, sources: list[str]
) -> dict[str, Any]:
    """snapshot.json: the id names the content (its buckets' SHA-256 digests), so the same
    captures give the same id however they were built."""
    return {
        "format": SNAPSHOT_FORMAT,
        "id": hashlib.sha256("".join(digests).encode()).hexdigest()[:16],
        "buckets": buckets,
        "hosts": hosts,
        "sources": sources,
    }


def captures_from_crawl(
    crawl_root: str, crawl: str, options: FetchOptions | None = None
) -> Iterator[Capture]:
    """Every robots.txt response the crawl captured (robotstxt.paths.gz), streaming, in one
    pass (heed.curation.optout.build builds the snapshot of them as tasks)."""
    paths = read_listing(crawl_root, crawl, ROBOTS_LISTING, options).paths
    if not paths:
        log.warning("%s lists no robots.txt captures under %s", crawl, crawl_root)
    for path in paths:
        yield from captures_in_file(crawl_root, crawl, path, options)


def captures_in_file(
    crawl_root: str, crawl: str, path: str, options: FetchOptions | None = None
) -> Iterator[Capture]:
    """The robots.txt responses of one capture file of the crawl, in file order."""
    with open_input(crawl_root, path, options) as stream:
        for record in response_records(stream):
            url = record.headers.get("WARC-Target-URI", "") or ""
            date = record.headers.get("WARC-Date", "") or ""
            try:
                record.parse_http()
                status = int(record.http_headers.status_code or 0)
                body = record.reader.read(MAX_ROBOTS_BYTES)
            except (OSError, ValueError) as exc:
                log.warning("%s: unreadable robots.txt capture of %s: %s", path, url, exc)
                continue
            scheme = url.split("://", 1)[0].lower() if "://" in url else "https"
            yield Capture.of(host_of(url), scheme, status, date, body, f"{crawl}:{path}")


CAPTURED_AT = "captured-at"


def captures_from_dir(folder: Path, captured_at: str | None = None) -> Iterator[Capture]:
    """`FOLDER/<host>/robots.txt` (and `FOLDER/<host>/.well-known/tdmrep.json` where present),
    captured at `captured_at`, else at the time in `FOLDER/captured-at`, else at each file's
    modification time."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"robots folder not found: {folder}")
    stamp = folder / CAPTURED_AT
    if captured_at is None and stamp.is_file():
        captured_at = stamp.read_text(encoding="utf-8").strip()
    for robots in sorted(folder.glob("*/robots.txt")):
        host = robots.parent.name
        tdmrep_file = robots.parent / ".well-known" / "tdmrep.json"
        tdmrep = tdmrep_file.read_bytes() if tdmrep_file.is_file() else None
        when = captured_at or iso_utc(robots.stat().st_mtime)
        body = robots.read_bytes()
        yield Capture.of(
            host, "https", 200, when, body, f"dir:{robots.relative_to(folder)}", tdmrep
        )


def folder_digest(folder: Path) -> str:
    """A digest of a robots folder's files (names and contents): a changed folder is rebuilt."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def crawl_hosts(
    crawl_root: str, crawl: str, shards: Iterable[Shard], options: FetchOptions | None = None
) -> set[str]:
    """The hosts of a crawl's pages (response records), read from its WARC headers."""
    hosts: set[str] = set()
    for shard in shards:
        with open_input(crawl_root, shard.path, options) as stream:
            for record in response_records(stream):
                host = host_of(record.headers.get("WARC-Target-URI", "") or "")
                if host:
                    hosts.add(host)
    return hosts


def build_snapshot(
    out: Path,
    captures: Iterable[Capture],
    sources: list[str],
    *,
    hosts: set[str] | None = None,
    buckets: int = DEFAULT_BUCKETS,
) -> dict[str, Any]:
    """Write a snapshot of `captures` (only `hosts`, if given) to `out`."""
    writer = SnapshotWriter(out, buckets)
    for capture in captures:
        if hosts is None or capture.host in hosts:
            writer.add(capture)
    return writer.finish(sources)


class Snapshot:
    """A snapshot opened for lookups: only the buckets and row groups of the hosts asked. A
    folder, or a URL any fsspec filesystem reads (https://, s3://): Parquet is read by ranges,
    so a lookup fetches the row groups it needs, not the bucket."""

    def __init__(self, path: str | Path) -> None:
        self.location = str(path)
        self.path = Path(path) if "://" not in self.location else None
        self._fs: Any = None
        if self.path is None:
            import fsspec

            self._fs, self._root = fsspec.core.url_to_fs(self.location)
        try:
            meta = json.loads(self._read(META))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no robots snapshot at {self.location} ({META} missing); "
                "build one with `heed robots build`"
            ) from None
        self.meta = meta
        if self.meta.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{self.location}: snapshot format {meta.get('format')} unsupported")
        self.id: str = self.meta["id"]
        self.buckets: int = self.meta["buckets"]
        self._files: dict[int, tuple[pq.ParquetFile, list[tuple[int, str, str]]]] = {}

    def _read(self, name: str) -> bytes:
        if self.path is not None:
            return (self.path / name).read_bytes()
        with self._fs.open(f"{self._root}/{name}", "rb") as handle:
            return handle.read()

    def _parquet(self, name: str) -> pq.ParquetFile:
        if self.path is not None:
            return pq.ParquetFile(self.path / name)
        return pq.ParquetFile(self._fs.open(f"{self._root}/{name}", "rb"))

    def captures(self) -> Iterator[Capture]:
        """Every capture, bucket by bucket: memory for one bucket at a time."""
        for bucket in range(self.buckets):
            for row in self._parquet(f"part-{bucket:04d}.parquet").read().to_pylist():
                yield Capture(**row)

    def _bucket(self, bucket: int) -> tuple[pq.ParquetFile, list[tuple[int, str, str]]]:
        """A bucket's open file and the host range of each row group, kept per process."""
        if bucket not in self._files:
            part = self._parquet(f"part-{bucket:04d}.parquet")
            ranges: list[tuple[int, str, str]] = []
            for i in range(part.metadata.num_row_groups):
                group = part.metadata.row_group(i)
                stats = group.column(0).statistics
                if group.num_rows == 0:
                    continue
                if stats is None or not stats.has_min_max:
                    ranges.append((i, "", "\U0010ffff"))  # no statistics: always read it
                else:
                    ranges.append((i, stats.min, stats.max))
            self._files[bucket] = (part, ranges)
        return self._files[bucket]

    def lookup(self, hosts: Iterable[str]) -> dict[str, Capture]:
        """The captures of those hosts that the snapshot has: only the row groups whose host
        range covers a wanted host are read."""
        by_bucket: dict[int, set[str]] = {}
        for host in set(hosts):
            by_bucket.setdefault(bucket_of(host, self.buckets), set()).add(host)
        found: dict[str, Capture] = {}
        for bucket, wanted in sorted(by_bucket.items()):
            part, ranges = self._bucket(bucket)
            ordered = sorted(wanted)
            groups = [
                i
                for i, low, high in ranges
                if bisect_left(ordered, low) < bisect_right(ordered, high)
            ]
            if not groups:
                continue
            table = part.read_row_groups(groups, use_threads=False)
            table = table.filter(pc.is_in(table.column("host"), pa.array(ordered)))
            for row in table.to_pylist():
                found[row["host"]] = Capture(**row)
        return found

"""A crawl's robots.txt captures built into a snapshot as tasks: one per capture file, then one
per bucket. The driver reads only the listing (robotstxt.paths.gz); no task holds more than one
capture file or one bucket.

```
SNAPSHOT/.build/files/NNNNNN.json           a capture file split (written last)
SNAPSHOT/.build/partials/BBBB/NNNNNN.parquet its captures of bucket BBBB (removed once merged)
SNAPSHOT/.build/buckets/BBBB.json           a bucket merged (written last)
SNAPSHOT/part-BBBB.parquet, snapshot.json   the snapshot (heed.curation.optout.snapshot)
```

Which capture of a host counts: the latest by capture time; of captures at the same time, the
one in the later file of the listing, then the later one in its file. That is the order a
single pass over the listing meets them in, so the snapshot (and its id) is the same whatever
the number of workers or tasks. A killed build, run again, redoes only the tasks without their
`.json`; what a killed task left under a temporary name is never read.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from heed.common.files import atomic_path, sha256_file, write_json_atomic
from heed.curation.crawl.fetch import FetchOptions
from heed.curation.crawl.listing import ROBOTS_LISTING, read_listing
from heed.curation.optout.snapshot import (
    DEFAULT_BUCKETS,
    META,
    ROW_GROUP,
    SCHEMA,
    Capture,
    bucket_of,
    captures_in_file,
    snapshot_meta,
)
from heed.curation.stage import InProcess, TaskMap

log = logging.getLogger(__name__)
BUILD = ".build"
PARTIAL_SCHEMA = SCHEMA.append(pa.field("file", pa.int32())).append(pa.field("seq", pa.int64()))


def crawl_source(crawl: str, listing_sha256: str) -> str:
    """What a crawl snapshot was built from, as snapshot.json's sources record it."""
    return f"crawl:{crawl} listing-sha256:{listing_sha256}"


def build_from_crawl(
    out: Path,
    crawl_root: str,
    crawl: str,
    *,
    tasks: TaskMap | None = None,
    buckets: int = DEFAULT_BUCKETS,
    hosts: set[str] | None = None,
    options: FetchOptions | None = None,
) -> dict[str, Any]:
    """The snapshot of every robots.txt capture the crawl's `robotstxt.paths.gz` lists (only
    `hosts`, if given), written to `out`; its snapshot.json. Resumes a build killed before."""
    if buckets < 1:
        raise ValueError(f"buckets = {buckets} must be >= 1")
    tasks = tasks or InProcess()
    out = Path(out)
    listing = read_listing(crawl_root, crawl, ROBOTS_LISTING, options)
    if not listing.paths:
        log.warning("%s lists no robots.txt captures under %s", crawl, crawl_root)
    sources = [crawl_source(crawl, listing.sha256)]
    work = out / BUILD
    plan = {"sources": sources, "buckets": buckets, "hosts": sorted(hosts) if hosts else None}
    plan_file = work / "plan.json"
    if plan_file.is_file() and json.loads(plan_file.read_text()) != plan:
        shutil.rmtree(work)  # a build begun for other captures or settings: start again
    write_json_atomic(plan_file, plan)
    split = functools.partial(
        _split_file, crawl_root=crawl_root, crawl=crawl, work=str(work), buckets=buckets,
        hosts=hosts, options=options,
    )  # fmt: skip
    files = [
        (index, path)
        for index, path in enumerate(listing.paths)
        if not (work / "files" / f"{index:06d}.json").is_file()
    ]
    tasks.map(split, files, "robots-files")
    merge = functools.partial(_merge_bucket, work=str(work), out=str(out))
    todo = [b for b in range(buckets) if not (work / "buckets" / f"{b:04d}.json").is_file()]
    tasks.map(merge, todo, "robots-buckets")
    digests, count = [], 0
    for bucket in range(buckets):
        done = json.loads((work / "buckets" / f"{bucket:04d}.json").read_text())
        digests.append(done["sha256"])
        count += done["hosts"]
    meta = snapshot_meta(digests, buckets, count, sources)
    write_json_atomic(out / META, meta)
    shutil.rmtree(work)
    return meta


def _split_file(
    item: tuple[int, str],
    *,
    crawl_root: str,
    crawl: str,
    work: str,
    buckets: int,
    hosts: set[str] | None,
    options: FetchOptions | None,
) -> int:
    """One capture file's captures, by bucket, into partial files; their count."""
    index, path = item
    held: dict[int, list[tuple[int, Capture]]] = {}
    count = 0
    for seq, capture in enumerate(captures_in_file(crawl_root, crawl, path, options)):
        if hosts is None or capture.host in hosts:
            held.setdefault(bucket_of(capture.host, buckets), []).append((seq, capture))
            count += 1
    root = Path(work)
    for bucket, rows in sorted(held.items()):
        columns = {f.name: [getattr(c, f.name) for _, c in rows] for f in fields(Capture)}
        columns["file"] = [index] * len(rows)
        columns["seq"] = [seq for seq, _ in rows]
        table = pa.table(columns, schema=PARTIAL_SCHEMA)
        with atomic_path(root / "partials" / f"{bucket:04d}" / f"{index:06d}.parquet") as tmp:
            pq.write_table(table, tmp, compression="zstd")
    write_json_atomic(root / "files" / f"{index:06d}.json", {"path": path, "captures": count})
    return count


def _merge_bucket(bucket: int, *, work: str, out: str) -> int:
    """A bucket's partials merged: the capture that counts per host (see the module doc),
    sorted by host, written as the snapshot's part file; its host count."""
    root = Path(work)
    done = root / "buckets" / f"{bucket:04d}.json"
    if done.is_file():  # merged already (the task ran twice), its partials gone: leave it
        return int(json.loads(done.read_text())["hosts"])
    folder = root / "partials" / f"{bucket:04d}"
    partials = sorted(folder.glob("[0-9]*.parquet"))
    tables = [pq.read_table(p, schema=PARTIAL_SCHEMA) for p in partials]
    table = pa.concat_tables(tables) if tables else PARTIAL_SCHEMA.empty_table()
    table = table.sort_by(
        [("host", "ascending"), ("capture_time", "descending"), ("file", "descending"),
         ("seq", "descending")]
    )  # fmt: skip
    hosts = table.column("host").to_pylist()
    keep = [i for i, host in enumerate(hosts) if i == 0 or hosts[i - 1] != host]
    table = table.take(pa.array(keep, pa.int64())).drop_columns(["file", "seq"])
    path = Path(out) / f"part-{bucket:04d}.parquet"
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd")
    write_json_atomic(done, {"hosts": table.num_rows, "sha256": sha256_file(path)})
    # Recorded, so no longer needed: kept to the end, a crawl's partials would double the disk
    # the build takes.
    shutil.rmtree(folder, ignore_errors=True)
    return table.num_rows

"""`heed robots build --from-crawl` end to end on a generated crawl (benchmarks/robots_crawl.py,
scaled down: 20 capture files, 2,000 hosts, 4 shards) served over loopback HTTP by CrawlServer.

The snapshot must hold exactly the generated hosts, each with its latest capture by WARC-Date;
the truth is the generator's own record, and it is first checked against the WARC files read
with warcio (not heed's reader). The same snapshot comes out with 1 and 2 workers, and from a
build killed with SIGKILL halfway and run again. The benchmark at full size is
benchmarks/robots_build_bench.py, whose process handling these tests reuse.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from crawl_server import CrawlServer
from warcio.archiveiterator import ArchiveIterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from robots_build_bench import (  # noqa: E402
    Run,
    build,
    halfway,
    parallel_build,
    read_snapshot,
    snapshot_files,
    snapshot_id,
    truth_rows,
)
from robots_crawl import CUT, SimCrawl, Size, generate  # noqa: E402

CRAWL = "CC-MAIN-SIM"
SIZE = Size(files=20, hosts_per_file=100, recapture=0.2, shards=4, pages_per_shard=5, seed=7)
PARALLEL = parallel_build()
needs_parallel = pytest.mark.skipif(
    not PARALLEL, reason="heed robots build has no --executor/--num-cpus (the sequential build)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCrawl, CrawlServer]]:
    root = tmp_path_factory.mktemp("robots-crawl")
    sim = generate(root, SIZE, CRAWL)
    with CrawlServer(root) as server:
        yield sim, server


@pytest.fixture(scope="module")
def builds(
    served: tuple[SimCrawl, CrawlServer], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, tuple[Path, Run]]:
    """The snapshot built with 1 worker and with 2 (the same command without --executor)."""
    _, server = served
    scratch = tmp_path_factory.mktemp("snapshots")
    built = {}
    for workers in (1, 2):
        snap = scratch / f"workers-{workers}"
        built[workers] = snap, build(snap, CRAWL, server.url, scratch, workers, PARALLEL)
    return built


def warc_latest(sim: SimCrawl) -> dict[str, tuple[str, int, str, str]]:
    """Each host's latest robots.txt capture, read back from the files with warcio."""
    listing = sim.root / "crawl-data" / CRAWL / "robotstxt.paths.gz"
    latest: dict[str, tuple[str, int, str, str]] = {}
    for path in gzip.decompress(listing.read_bytes()).decode().split():
        with open(sim.root / path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                scheme, rest = url.split("://", 1)
                host = rest.split("/", 1)[0].lower()
                when = record.rec_headers.get_header("WARC-Date")
                status = int(record.http_headers.get_statuscode())
                body = record.content_stream().read()
                row = (when, status, hashlib.sha256(body[:CUT]).hexdigest(), scheme)
                if host not in latest or when > latest[host][0]:
                    latest[host] = row
    return latest


def test_the_generators_record_is_what_the_files_hold(served: tuple[SimCrawl, CrawlServer]):
    sim, _ = served
    assert len(sim.robots_paths) == SIZE.files and len(sim.warc_paths) == SIZE.shards
    assert sim.hosts == SIZE.hosts and sim.captures > sim.hosts  # some hosts captured again
    assert warc_latest(sim) == truth_rows(sim)


def test_the_latest_capture_is_not_the_last_in_listing_order(served):
    # Otherwise a build that kept the last capture it read would pass the tests below.
    sim, _ = served
    last_read: dict[str, str] = {}
    listing = sim.root / "crawl-data" / CRAWL / "robotstxt.paths.gz"
    for path in gzip.decompress(listing.read_bytes()).decode().split():
        with open(sim.root / path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    host = record.rec_headers.get_header("WARC-Target-URI").split("/")[2].lower()
                    last_read[host] = record.rec_headers.get_header("WARC-Date")
    earlier = [h for h, latest in sim.latest.items() if last_read[h] != latest.time]
    assert len(earlier) > 10
    statuses = {x.status for x in sim.latest.values()}
    assert {200, 404, 429} <= statuses and statuses & {500, 502, 503}


def test_snapshot_holds_each_hosts_latest_capture(served, builds):
    sim, server = served
    snap, _ = builds[1]
    assert read_snapshot(snap) == truth_rows(sim)
    # Over HTTP: every capture file was fetched from the loopback server.
    fetched = {r.path for r in server.requests if r.method == "GET" and r.status in (200, 206)}
    assert set(sim.robots_paths) <= fetched


@needs_parallel
def test_one_and_two_workers_give_the_same_snapshot(builds):
    (one, _), (two, _) = builds[1], builds[2]
    assert snapshot_id(one) == snapshot_id(two)
    assert snapshot_files(one) == snapshot_files(two)


def test_a_build_killed_halfway_and_rerun_gives_the_same_snapshot(served, builds, tmp_path):
    sim, server = served
    reference, uninterrupted = builds[2]
    snap = tmp_path / "killed"
    # Half the uninterrupted build's time, then as soon as partial outputs exist (the parallel
    # build: some capture files done, snapshot.json not yet written).
    due = halfway(snap, uninterrupted.wall / 2, expect_partials=PARALLEL)
    killed = build(snap, CRAWL, server.url, tmp_path, 2, PARALLEL, kill_when=due)
    assert killed.killed is not None, "the build finished before it could be killed"
    assert killed.returncode == -9
    assert not (snap / "snapshot.json").exists()
    if PARALLEL:
        assert killed.killed["partials"] > 0
    rerun = build(snap, CRAWL, server.url, tmp_path, 2, PARALLEL)
    assert rerun.returncode == 0
    assert snapshot_id(snap) == snapshot_id(reference)
    assert snapshot_files(snap) == snapshot_files(reference)
    assert read_snapshot(snap) == truth_rows(sim)


def test_each_buckets_partials_go_once_it_is_merged(served, builds, tmp_path):
    """The build's working files do not wait for the end: a bucket's partial files are removed
    as soon as the bucket is merged, and a merge run twice (Ray reruns a task whose worker died
    after it finished) finds its bucket recorded and changes nothing."""
    from heed.curation.optout.build import BUILD, build_from_crawl
    from heed.curation.stage import InProcess

    _, server = served
    snap = tmp_path / "snapshot"
    partials = snap / BUILD / "partials"
    left: dict[int, list[str]] = {}
    twice: list[tuple[int, int, bytes, bytes]] = []

    class Watching(InProcess):
        def map(self, task, items, name):
            results = []
            for item in items:
                results.append(task(item))
                if name != "robots-buckets":
                    continue
                left[item] = sorted(p.name for p in partials.iterdir()) if partials.is_dir() else []
                if item == 3:
                    part = snap / "part-0003.parquet"
                    first = part.read_bytes()
                    count = task(item)
                    twice.append((results[-1], count, first, part.read_bytes()))
            return results

    meta = build_from_crawl(snap, server.url, CRAWL, tasks=Watching(), buckets=8)
    assert sorted(left) == list(range(8))
    for bucket, folders in left.items():
        assert f"{bucket:04d}" not in folders  # gone once merged ...
        assert all(int(name) > bucket for name in folders)  # ... the later ones still there
    assert left[0] and not left[7]
    ((count, again, first, second),) = twice
    assert count == again > 0 and first == second
    assert not (snap / BUILD).exists() and meta["hosts"] == len(read_snapshot(snap))
    assert read_snapshot(snap) == read_snapshot(builds[1][0])

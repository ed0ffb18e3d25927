"""Reading a crawl over HTTP from a server on 127.0.0.1 that serves the sample crawl in Common
Crawl's path layout and injects faults (tests/crawl_server.py): every recoverable fault is
survived with the same bytes, a shard that cannot be fetched fails alone and is finished by
`--retry-failed`, and the per-host connection cap holds across a Ray run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import CRAWL, REPO, SAMPLE_ROOT, run_heed
from crawl_server import CrawlServer
from test_fetch import same_outputs

from heed.curation.crawl.fetch import USER_AGENT, FetchError, FetchOptions, open_stream
from heed.curation.crawl.listing import read_listing

FAST = FetchOptions(timeout=0.5, backoff=0.01, max_backoff=2.0)
SHARDS = read_listing(str(SAMPLE_ROOT), CRAWL).paths
RECOVERABLE = [
    "503", "429", "500", "reset", "truncate", "stall", "long-length", "short-length",
]  # fmt: skip


@pytest.fixture
def server() -> CrawlServer:
    with CrawlServer(SAMPLE_ROOT, retry_after=0, stall_seconds=5) as srv:
        yield srv


@pytest.mark.parametrize("fault", RECOVERABLE)
def test_each_fault_is_survived_with_the_same_bytes(server: CrawlServer, fault: str) -> None:
    path = SHARDS[0]
    server.fail(path, fault, fault)  # twice in a row, then clean
    with open_stream(server.url + path, FAST) as stream:
        data = stream.read()
    assert data == (SAMPLE_ROOT / path).read_bytes()
    gets = [r for r in server.requests if r.path == path]
    if fault == "long-length":  # every byte came: an overstated length costs nothing
        assert [r.fault for r in gets] == [fault]
    else:
        assert [r.fault for r in gets] == [fault, fault, None]
    # Each retry asks only for what is missing: a range from the last byte received.
    assert gets[0].range == "bytes=0-"
    if fault in ("reset", "truncate", "stall", "short-length"):
        assert gets[-1].range != "bytes=0-"
    assert all(r.user_agent == USER_AGENT for r in gets)


def test_a_server_that_ignores_the_range_on_resume_is_skipped_forward(
    server: CrawlServer,
) -> None:
    path = SHARDS[1]
    server.fail(path, "truncate", "ignore-range")
    with open_stream(server.url + path, FAST) as stream:
        assert stream.read() == (SAMPLE_ROOT / path).read_bytes()
    statuses = [r.status for r in server.requests if r.path == path]
    assert statuses == [206, 200]


def test_retry_after_is_honoured() -> None:
    path = SHARDS[0]
    with CrawlServer(SAMPLE_ROOT, retry_after=1) as server:
        server.fail(path, "503")
        started = time.monotonic()
        with open_stream(server.url + path, FAST) as stream:
            assert stream.read() == (SAMPLE_ROOT / path).read_bytes()
        assert time.monotonic() - started >= 1.0  # FAST's own backoff is 0.01 s
        assert [r.status for r in server.requests if r.path == path] == [503, 206]


def test_permanent_errors_and_spent_retries_raise_fetch_error(server: CrawlServer) -> None:
    path = SHARDS[2]
    server.missing.add(path)
    with pytest.raises(FetchError, match="HTTP 404") as caught:
        open_stream(server.url + path, FAST).read()
    assert caught.value.status == 404
    assert len([r for r in server.requests if r.path == path]) == 1  # a 404 is not retried
    server.missing.clear()
    server.fail(path, *["500"] * 5)
    options = FetchOptions(timeout=0.5, backoff=0.01, max_attempts=3)
    with pytest.raises(FetchError, match=r"HTTP 500.*gave up after 3 attempts"):
        open_stream(server.url + path, options).read()
    server.reset()
    server.fail(path, "stall")
    options = FetchOptions(timeout=0.3, backoff=5.0, max_seconds=2.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="no time left"):
        open_stream(server.url + path, options).read()
    assert time.monotonic() - started < 2.0


def _config(tmp_path: Path, fetch: str) -> Path:
    """configs/sample.toml with its paths made absolute and a [fetch] table."""
    text = (REPO / "configs" / "sample.toml").read_text().replace("../sample", str(SAMPLE_ROOT))
    path = tmp_path / "sample-http.toml"
    path.write_text(f"{text}\n[fetch]\n{fetch}\n")
    return path


def test_corpus_over_a_hostile_server_equals_the_local_run(
    server: CrawlServer, local_run: Path, tmp_path: Path
) -> None:
    """Every listed shard, the listings and the robots captures meet faults; one shard is
    missing. The run goes on, reports that shard failed and exits non-zero; once the server
    serves it, --retry-failed fetches only that shard, and the outputs are byte-identical to
    the local run's."""
    config = _config(tmp_path, "timeout = 0.5\nbackoff = 0.01\nmax_backoff = 1.0")
    faults = ["503", "reset", "429", "stall", "truncate", "long-length", "short-length", "500"]
    for k, path in enumerate(SHARDS):
        server.fail(path, faults[k % len(faults)], faults[(k + 3) % len(faults)])
    server.fail(f"crawl-data/{CRAWL}/warc.paths.gz", "503")
    server.fail(f"crawl-data/{CRAWL}/robotstxt.paths.gz", "reset")
    missing = SHARDS[2]
    server.missing.add(missing)
    out = tmp_path / "out"
    args = ["corpus", str(config), "--executor", "local", "--out", str(out)]
    args += ["--crawl-root", server.url]
    first = run_heed(*args, check=False)
    assert first.returncode == 1, first.stderr
    assert f"{missing}: FetchError" in first.stderr and "HTTP 404" in first.stderr
    assert "--retry-failed" in first.stderr
    failed = json.loads((out / "failed" / "part-00002.json").read_text())
    assert failed["shard"] == missing and "HTTP 404" in failed["error"]
    assert not (out / "manifest.json").exists()
    assert sorted(p.name for p in (out / "markers").iterdir()) == [
        "part-00000.json", "part-00001.json", "part-00003.json",
    ]  # fmt: skip

    server.missing.clear()
    server.reset()
    second = run_heed(*args, "--retry-failed")
    assert "3 already done" in second.stderr
    assert {r.path for r in server.requests if "/warc/" in r.path} == {missing}
    assert not (out / "failed").exists() or not list((out / "failed").iterdir())
    assert same_outputs(out, local_run)


def test_connections_per_host_hold_across_a_ray_run(tmp_path: Path) -> None:
    """With two Ray workers and a cap of one connection per host, shards are read one at a
    time: the server never has two WARC downloads in flight at once. Each shard's download
    stalls (0.3 s, then the server closes and the reader resumes) so that two workers reading
    at once would overlap at the server."""
    config = _config(tmp_path, "connections_per_host = 1\ntimeout = 5\nbackoff = 0.01")
    out = tmp_path / "ray"
    with CrawlServer(SAMPLE_ROOT, stall_seconds=0.3) as server:
        for path in SHARDS:
            server.fail(path, "stall", "stall", "stall")
        run_heed("corpus", str(config), "--executor", "ray", "--out", str(out),
                 "--crawl-root", server.url)  # fmt: skip
        assert server.max_concurrent == 1
        assert sum(r.fault == "stall" for r in server.requests) == 3 * len(SHARDS)
    assert len(list((out / "markers").iterdir())) == len(SHARDS)

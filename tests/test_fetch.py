"""Reading crawls from anywhere: shard selection, the [fetch] options, and the fsspec reader
(S3's code path) with a local filesystem standing in for S3, faults injected."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from conftest import CRAWL, REPO, SAMPLE_ROOT, output_files, run_heed
from fsspec.implementations.local import LocalFileSystem

from heed.curation.config import ConfigError, PipelineConfig
from heed.curation.crawl.fetch import FetchError, FetchOptions, _FsspecReader, open_stream
from heed.curation.crawl.listing import check_selection, read_listing, select

FAST = FetchOptions(backoff=0.001, max_backoff=0.01, timeout=2)


# --------------------------------------------------------------------------------------------
# Shard selection


def test_selection_forms_pick_listing_lines() -> None:
    paths = [f"s{i}.warc.gz" for i in range(10)]
    assert [s.index for s in select(paths, 0)] == list(range(10))
    assert [s.index for s in select(paths, 3)] == [0, 1, 2]
    assert [s.index for s in select(paths, "3")] == [0, 1, 2]
    assert [s.index for s in select(paths, "4:7")] == [4, 5, 6]
    assert [s.path for s in select(paths, "8:20")] == ["s8.warc.gz", "s9.warc.gz"]
    drawn = select(paths, "random:4:7")
    assert len(drawn) == 4 and [s.index for s in drawn] == sorted(s.index for s in drawn)
    assert drawn == select(paths, "random:4:7")  # seeded: the same draw every time
    assert drawn != select(paths, "random:4:8")
    assert len(select(paths, "random:40:1")) == 10


@pytest.mark.parametrize("bad", [-1, "x", "5:2", "3:", "random:0:1", "random:3", 1.5, True])
def test_bad_selections_are_config_errors(bad: Any) -> None:
    with pytest.raises(ConfigError, match="shards"):
        check_selection(bad)


def test_a_range_past_the_listing_is_an_error() -> None:
    with pytest.raises(ConfigError, match="only 2 shards"):
        select(["a", "b"], "5:9")


def test_listing_is_read_with_its_hash_and_a_missing_crawl_names_the_ones_there() -> None:
    listing = read_listing(str(SAMPLE_ROOT), CRAWL)
    assert len(listing.paths) == 4 and all(p.endswith(".warc.gz") for p in listing.paths)
    assert len(listing.sha256) == 64
    with pytest.raises(ConfigError, match=f"crawls there: {CRAWL}"):
        read_listing(str(SAMPLE_ROOT), "CC-MAIN-NOPE")
    robots = read_listing(str(SAMPLE_ROOT), "CC-MAIN-NOPE", "robotstxt.paths.gz")
    assert robots.paths == ()  # a missing robots listing is an empty one


# --------------------------------------------------------------------------------------------
# The [fetch] table


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'name = "t"\ncrawl = "{CRAWL}"\nstages = ["extract"]\n{extra}\n')
    return path


def test_fetch_table_is_checked_and_crawl_root_defaults_to_common_crawl(tmp_path: Path) -> None:
    config = PipelineConfig.load(_config(tmp_path, "[fetch]\ntimeout = 5\nmax_attempts = 3"))
    assert config.crawl_root == "https://data.commoncrawl.org/"
    assert config.fetch.timeout == 5 and config.fetch.max_attempts == 3
    for bad, message in [
        ("[fetch]\ntimeout = -1", "timeout"),
        ("[fetch]\nmax_attempts = 0", "max_attempts"),
        ("[fetch]\ntimout = 5", "unknown key 'timout'"),
        ('shards = "1-3"', "shards"),
    ]:
        with pytest.raises(ConfigError, match=message):
            PipelineConfig.load(_config(tmp_path, bad))


# --------------------------------------------------------------------------------------------
# fsspec: a local filesystem that fails like a network


class FlakyFileSystem(LocalFileSystem):
    """Local files under the `flaky://` protocol; `faults` is consumed one per open: 'open'
    (the open fails), 'reset' (a read fails after `cut` bytes), 'short' (the file ends after
    `cut` bytes), or 'missing' (FileNotFoundError)."""

    protocol = "flaky"
    faults: ClassVar[list[str]] = []
    cut = 100_000
    opens = 0

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(str(path).removeprefix("flaky://"))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        FlakyFileSystem.opens += 1
        fault = FlakyFileSystem.faults.pop(0) if FlakyFileSystem.faults else None
        if fault == "open":
            raise ConnectionError("connection refused (injected)")
        if fault == "missing":
            raise FileNotFoundError(path)
        inner = super()._open(path, mode, **kwargs)
        return _Failing(inner, fault) if fault else inner


class _Failing(io.RawIOBase):
    def __init__(self, inner: Any, fault: str) -> None:
        self.inner, self.fault, self.given = inner, fault, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.given = offset
        return self.inner.seek(offset, whence)

    def read(self, n: int = -1) -> bytes:
        room = FlakyFileSystem.cut - self.given
        if room <= 0:
            if self.fault == "reset":
                raise ConnectionResetError("connection reset by peer (injected)")
            return b""  # 'short': the body ends early
        data = self.inner.read(min(n, room) if n >= 0 else room)
        self.given += len(data)
        return data

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def flaky() -> type[FlakyFileSystem]:
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    FlakyFileSystem.faults, FlakyFileSystem.opens = [], 0
    return FlakyFileSystem


def _shard() -> Path:
    return SAMPLE_ROOT / read_listing(str(SAMPLE_ROOT), CRAWL).paths[0]


def test_fsspec_reader_resumes_after_faults_and_gives_the_same_bytes(flaky) -> None:
    path = _shard()
    flaky.faults = ["open", "reset", "short", "reset"]
    with open_stream(f"flaky://{path}", FAST) as stream:
        data = stream.read()
    assert data == path.read_bytes()
    assert flaky.opens == 5  # four faults, then one clean open to the end
    assert gzip.decompress(data)  # and it is still a whole gzip file


def test_fsspec_reader_gives_up_after_max_attempts_and_on_a_missing_file(flaky) -> None:
    path = _shard()
    flaky.faults = ["open"] * 10
    options = FetchOptions(backoff=0.001, max_attempts=3)
    with pytest.raises(FetchError, match="gave up after 3 attempts"):
        open_stream(f"flaky://{path}", options).read()
    flaky.faults = ["missing"]
    with pytest.raises(FetchError, match="FileNotFoundError"):
        open_stream(f"flaky://{path}", FAST).read()


def test_s3_urls_go_through_fsspec_anonymously() -> None:
    reader = _FsspecReader("s3://commoncrawl/crawl-data/CC-MAIN-2024-51/warc.paths.gz", FAST)
    try:
        assert type(reader._fs).__name__ == "S3FileSystem"
        assert reader._fs.anon is True
        assert reader._path == "commoncrawl/crawl-data/CC-MAIN-2024-51/warc.paths.gz"
    finally:
        reader.close()


def test_cache_keeps_a_checked_copy_and_fetches_a_damaged_one_again(flaky, tmp_path: Path) -> None:
    path = _shard()
    options = FetchOptions(backoff=0.001, cache=str(tmp_path / "cache"))
    url = f"flaky://{path}"
    with open_stream(url, options) as stream:
        assert stream.read() == path.read_bytes()
    copies = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert sorted(p.suffix for p in copies) == [".gz", ".json"]
    opens = flaky.opens
    with open_stream(url, options) as stream:  # from the cache: no new open
        assert stream.read() == path.read_bytes()
    assert flaky.opens == opens
    copy = next(p for p in copies if p.suffix == ".gz")
    with open(copy, "r+b") as damaged:  # same size, one byte changed
        damaged.seek(1000)
        damaged.write(bytes([damaged.read(1)[0] ^ 0xFF]))
    os.utime(copy)
    with open_stream(url, options) as stream:
        assert stream.read() == path.read_bytes()
    assert flaky.opens == opens + 1 and copy.read_bytes() == path.read_bytes()


def test_corpus_over_fsspec_equals_the_local_run(local_run: Path, tmp_path: Path) -> None:
    """The whole sample through a file:// root (fsspec, not the local-path shortcut): outputs
    byte-identical to the local run's; the manifest differs only in where the crawl was."""
    out = tmp_path / "fsspec"
    root = f"file://{SAMPLE_ROOT}"
    run_heed("corpus", "--executor", "local", "--out", str(out), "--crawl-root", root)
    assert same_outputs(out, local_run)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["listing"]["location"] == f"{root}/crawl-data/{CRAWL}/warc.paths.gz"
    assert manifest["config"]["crawl_root"] == root


def same_outputs(out: Path, reference: Path) -> bool:
    """Every output file but the manifest and the report (they name the crawl root)
    byte-identical; the manifests' inputs the same."""
    ours, theirs = output_files(out), output_files(reference)
    manifests = [json.loads(files.pop("manifest.json")) for files in (ours, theirs)]
    for files in (ours, theirs):
        files.pop("report.html")
    assert sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert manifests[0]["inputs"] == manifests[1]["inputs"]
    assert manifests[0]["listing"]["sha256"] == manifests[1]["listing"]["sha256"]
    return True


def test_the_common_crawl_config_reads_data_commoncrawl_org() -> None:
    config = PipelineConfig.load(REPO / "configs" / "commoncrawl.toml")
    assert config.crawl_root == "https://data.commoncrawl.org/"
    assert config.fetch.connections_per_host >= 1
    assert [s.name for s in config.build_stages()] == [
        s.name for s in PipelineConfig.load(REPO / "configs" / "sample.toml").build_stages()
    ]

"""Fetch and decompress over loopback: heed's reader against `curl | gzip -d`, same files.

A ~200 MB multi-member gzip file (the sample crawl's WARC shards end to end, as Common Crawl's
files are: one gzip member per record) is served by tests/crawl_server.py on 127.0.0.1. heed
reads it through `heed.curation.crawl.fetch.open_stream` (range requests, retry bookkeeping, the
connection gate) and decompresses it with fastwarc's GzipReader, the decompressor its WARC
reader uses, in one thread; the baseline is `curl -s URL | gzip -d > /dev/null` (two
processes). Runs alternate, the best of each counts; the ratio is heed's throughput over the
baseline's. A last run injects faults (503, a reset, a stall) to show what surviving costs.

    python benchmarks/fetch_bench.py [--megabytes 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the loopback crawl server is a test helper

from crawl_server import CrawlServer  # noqa: E402
from fastwarc.stream_io import GzipReader  # noqa: E402

from heed.curation.crawl.fetch import FetchOptions, open_stream  # noqa: E402
from heed.curation.crawl.listing import read_listing  # noqa: E402

SAMPLE = ROOT / "sample"
CRAWL = "CC-MAIN-SAMPLE"


def make_file(folder: Path, megabytes: int) -> tuple[Path, int]:
    """The sample shards concatenated until the file holds `megabytes` MB of gzip."""
    shards = [(SAMPLE / p).read_bytes() for p in read_listing(str(SAMPLE), CRAWL).paths]
    path = folder / "crawl-data" / "BENCH" / "big.warc.gz"
    path.parent.mkdir(parents=True)
    size = 0
    with open(path, "wb") as out:
        while size < megabytes * 1_000_000:
            for shard in shards:
                out.write(shard)
                size += len(shard)
    return path, size


def heed_read(url: str, options: FetchOptions) -> tuple[float, int]:
    started = time.perf_counter()
    out = 0
    with open_stream(url, options) as stream:
        reader = GzipReader(stream, fsspec_args=False)
        while block := reader.read(1 << 20):
            out += len(block)
    return time.perf_counter() - started, out


def curl_read(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        f"curl -sf {url} | gzip -d | wc -c", shell=True, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, int(proc.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not (shutil.which("curl") and shutil.which("gzip")):
        print("curl and gzip are needed for the baseline")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="heed-fetch-"))
    try:
        path, size = make_file(folder, args.megabytes)
        rel = str(path.relative_to(folder))
        options = FetchOptions()
        with CrawlServer(folder, retry_after=0, stall_seconds=1.0) as server:
            url = server.url + rel
            ours, theirs = [], []
            for _ in range(args.repeats):
                ours.append(heed_read(url, options))
                theirs.append(curl_read(url))
            (heed_s, heed_out), (curl_s, curl_out) = min(ours), min(theirs)
            assert heed_out == curl_out, "both sides must decompress the same bytes"
            server.fail(rel, "503", "reset", "stall")
            faulty = FetchOptions(timeout=0.5, backoff=0.05)
            fault_s, fault_out = heed_read(url, faulty)
            assert fault_out == heed_out
        mb = size / 1e6
        print(
            f"fetch + decompress over loopback: heed {mb / heed_s:,.0f} MB/s "
            f"beside curl | gzip -d {mb / curl_s:,.0f} MB/s: ratio {curl_s / heed_s:.2f} "
            f"(target >= 0.8)"
        )
        print(
            f"file: {mb:,.0f} MB of gzip ({heed_out / 1e6:,.0f} MB decompressed), served by "
            f"tests/crawl_server.py; best of {args.repeats} alternating runs each "
            f"(heed {', '.join(f'{t:.2f}' for t, _ in ours)} s; "
            f"curl {', '.join(f'{t:.2f}' for t, _ in theirs)} s)"
        )
        print(
            "heed: heed.curation.crawl.fetch.open_stream + fastwarc GzipReader, one thread; "
            "baseline: curl -s URL | gzip -d (two processes)"
        )
        print(
            f"with a 503, a connection reset and a 0.5 s stall on the way (each resumed by a "
            f"range request): {fault_s:.2f} s, {mb / fault_s:,.0f} MB/s, same bytes"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

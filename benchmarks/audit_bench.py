"""The audit at scale: `heed audit summary` and `heed audit explain` on a generated audit of
1,000,000 rows (the sample run's audit, copied with fresh record ids, URLs and shard names
into 20 files of 50,000 rows), each timed as the command runs it, in this process.

    python benchmarks/audit_bench.py [--rows 1000000] [--files 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent


def sample_run(scratch: Path) -> Path:
    out = scratch / "sample"
    subprocess.run(
        [sys.executable, "-m", "heed.cli", "corpus", "--executor", "local", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def generate(source: Path, target: Path, rows: int, files: int) -> None:
    """`rows` audit rows in `files` files, from the sample's audit with unique identities."""
    base = pa.concat_tables(pq.read_table(p) for p in sorted((source / "audit").glob("*.parquet")))
    per_file = rows // files
    (target / "audit").mkdir(parents=True)
    for f in range(files):
        picks = pa.array([(f * per_file + i) % base.num_rows for i in range(per_file)])
        table = base.take(picks)
        suffix = pa.array([f"-{f}-{i}" for i in range(per_file)])
        for column in ("record_id", "url"):
            at = table.schema.get_field_index(column)
            table = table.set_column(
                at, table.schema.field(at), pc.binary_join_element_wise(table[column], suffix, "")
            )
        at = table.schema.get_field_index("shard")
        shard = pa.array([f"crawl-data/BENCH/segments/x/warc/bench-{f:05d}.warc.gz"] * per_file)
        table = table.set_column(at, table.schema.field(at), shard)
        pq.write_table(table, target / "audit" / f"part-{f:05d}.parquet", compression="zstd")
    shutil.copy(source / "manifest.json", target / "manifest.json")
    shutil.copytree(source / "documents", target / "documents")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from heed.curation.audit.query import explain, find_records, stage_columns, summary

    scratch = Path(tempfile.mkdtemp(prefix="heed-audit-"))
    try:
        source = sample_run(scratch)
        big = scratch / "big"
        started = time.perf_counter()
        generate(source, big, args.rows, args.files)
        made = time.perf_counter() - started
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (big / "audit").glob("*.parquet"))
        timings = {}
        started = time.perf_counter()
        data = summary(big)
        timings["summary"] = time.perf_counter() - started
        json.dumps(data)
        assert data["records"] == rows
        one = pq.read_table(next((big / "audit").glob("*.parquet"))).slice(1234, 1).to_pylist()[0]
        for label, key in (("explain by URL", one["url"]), ("explain by record id",
                           one["record_id"]), ("explain by host", one["host"])):  # fmt: skip
            started = time.perf_counter()
            found = find_records(big, key)
            stages = stage_columns(big)
            lines = [line for row in found for line in explain(row, stages)]
            timings[label] = time.perf_counter() - started
            assert found and lines
            if label == "explain by host":
                host_rows = len(found)
        print(
            f"audit of {rows:,} rows in {args.files} Parquet files (generated in {made:.1f} s "
            f"from the sample run's audit): target under 2 s each"
        )
        for label, seconds in timings.items():
            extra = f" ({host_rows:,} rows of one host)" if label == "explain by host" else ""
            print(f"{label:<22} {seconds:6.2f} s{extra}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

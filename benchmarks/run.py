"""`make bench`: run every benchmark script and write benchmarks/RESULTS.md with the machine,
the date and the commit beside each result."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
# script -> what it measures; each prints its own figures.
BENCHMARKS = {
    "real_pages_bench.py": "Real pages: heed vs datatrove, CPU seconds per core, on 1,001 news "
    "pages of ~186 KB (the extraction gold set cycled); every extractor setting's gold-set F1; "
    "the extraction path's profile",
    "robots_bench.py": "Opt-out: URL decisions per second per core, memory per task "
    "(100,000 synthetic hosts)",
    "robots_build_bench.py": "Robots snapshot build at crawl scale: a generated crawl of 1,000 "
    "robots.txt capture files (220,000 captures of 200,000 hosts) and 100 WARC shards over "
    "loopback HTTP; wall time with 1 and 2 workers, captures/s per core, the driver's peak memory "
    "at 500 and 1,000 files, a killed build rerun, `heed corpus` starting on an existing snapshot",
    "filters_bench.py": "Language ID (heed's fastText beside fasttext-predict), fastText "
    "training and toxicity: documents per second per core on 2 KB documents, language ID at "
    "several text cuts with its accuracy",
    "pii_bench.py": "PII redaction: documents per second per core on 2 KB pages, all five kinds, "
    "with and without the pre-check",
    "fetch_bench.py": "Fetch and decompress over loopback: heed's reader beside curl | gzip -d "
    "on the same ~200 MB file, and with faults injected",
    "audit_bench.py": "The audit at scale: summary and explain on a generated audit of "
    "1,000,000 rows",
    "dedup_bench.py": "Dedup: detection per Jaccard band against the 14 x 8 S-curve, heed beside "
    "datatrove's MinHash (docs/s per core, memory per task, removed-set overlap), and millions of "
    "generated documents through every task: per-task peak memory at a fixed task size, the "
    "exchange files, the projection to a 3-billion-document crawl",
    "pipeline_bench.py": "Pipeline vs datatrove on small synthetic pages: docs/s per core and "
    "memory on the sample crawl and a generated 20,000-record crawl, one and two workers; the "
    "floor (decompress, parse, extract); time per stage; memory against shard size; core-hours "
    "per crawl",
}
# A script whose first output line starts so is a headline, put right under the title (in
# BENCHMARKS' order: the real-page figure first).
HEADLINE = "heed: "
# From this line on, RESULTS.md holds what benchmarks/gpu.sh measured on a GPU, pasted by
# hand with the card and date; `make bench` runs on the CPU, so it keeps that part as it is.
GPU_MARKER = "<!-- GPU results (benchmarks/gpu.sh): kept as they are by make bench -->"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def gpu_section(results: str) -> list[str]:
    """The lines of RESULTS.md from the GPU marker on (none if it has no marker)."""
    if GPU_MARKER not in results:
        return []
    return results[results.index(GPU_MARKER) :].rstrip().split("\n")


def main() -> int:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    date = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    lines: list[str] = []
    status = 0
    headlines = []
    started = time.monotonic()
    for script, title in BENCHMARKS.items():
        print(f"== {script}", flush=True)
        began = time.monotonic()
        proc = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True)
        took = time.monotonic() - began
        print(proc.stdout, proc.stderr[-2000:] if proc.returncode else "", sep="", flush=True)
        status |= proc.returncode
        first = proc.stdout.split("\n", 1)[0].strip()
        if proc.returncode == 0 and first.startswith(HEADLINE):
            headlines.append(first)
        lines += ["", f"## {title}", "", f"`python benchmarks/{script}` ({took:.0f} s)", "", "```"]
        lines += [proc.stdout.rstrip() or f"failed with exit status {proc.returncode}", "```"]
    head = [
        "# Benchmark results",
        "",
        *[line for headline in headlines for line in (headline, "")],  # right under the title
        f"Machine: {machine()}  ",
        f"Date: {date}  ",
        f"Commit: {commit or 'unknown'}  ",
        f"Time: {time.monotonic() - started:.0f} s for all benchmarks",
        "",
        "Written by `make bench` (benchmarks/run.py); rerun to refresh.",
    ]
    results = HERE / "RESULTS.md"
    gpu = gpu_section(results.read_text() if results.exists() else "")
    results.write_text("\n".join(head + lines + (["", *gpu] if gpu else [])) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Faults injected, survived, records lost: runs tests/test_reliability.py and prints its figures.

Usage: python benchmarks/reliability_report.py [--json]

Each test of that file records what it did (the hostile crawl's planted faults, the driver and
worker kills with their seeded delays, the removed node, the unwritable folder and the full
disk, the DNS-rebinding fetch); a fault counts as survived when the test's checks held after
it, and records lost counts good records missing or changed against a clean run. Takes a few
minutes (it starts `heed corpus` some twenty times, Ray and a three-node cluster among them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLUMNS = ("faults injected", "survived", "records lost")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures_file = Path(folder) / "figures.json"
        env = {**os.environ, "HEED_RELIABILITY_FIGURES": str(figures_file)}
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "tests/test_reliability.py"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        figures = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
    else:
        print(f"{'fault':<20} " + " ".join(f"{c:>16}" for c in COLUMNS))
        for name, entry in sorted(figures.items()):
            print(f"{name:<20} " + " ".join(f"{entry[c]:>16}" for c in COLUMNS))
        totals = [sum(entry[c] for entry in figures.values()) for c in COLUMNS]
        print(f"{'total':<20} " + " ".join(f"{t:>16}" for t in totals))
        for name, entry in sorted(figures.items()):
            extra = {k: v for k, v in entry.items() if k not in COLUMNS}
            if extra:
                print(f"\n{name}: " + json.dumps(extra, sort_keys=True))
    print(tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else "no test output")
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())

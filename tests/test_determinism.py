"""Same input and config, same bytes: across runs, executors, and a killed-then-resumed run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import CRAWL, REPO, SAMPLE_ROOT, output_files, run_heed

from heed.curation.crawl.listing import read_listing


def test_two_runs_are_byte_identical(local_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    run_heed("corpus", "--executor", "local", "--out", str(again))
    first, second = output_files(local_run), output_files(again)
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []


def test_ray_and_local_executors_give_identical_outputs(local_run: Path, ray_run: Path) -> None:
    local, ray = output_files(local_run), output_files(ray_run)
    assert sorted(local) == sorted(ray)
    assert [name for name in local if local[name] != ray[name]] == []


def test_killed_run_resumes_to_the_same_bytes(local_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "heed.cli", "corpus", "--executor", "local", "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Halfway: two of four shards done, the third under way.
    deadline = time.monotonic() + 300
    while not (out / "markers" / "part-00001.json").exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    markers = sorted(p.name for p in (out / "markers").glob("*.json"))
    assert markers[:2] == ["part-00000.json", "part-00001.json"] and len(markers) < 4
    assert not (out / "manifest.json").exists()

    resumed = run_heed("corpus", "--executor", "local", "--out", str(out))
    assert f"({len(markers)} already done)" in resumed.stderr
    clean, after = output_files(local_run), output_files(out)
    assert sorted(clean) == sorted(after), "leftover or missing files after resume"
    assert [name for name in clean if clean[name] != after[name]] == []

    # A finished run, rerun, does no work: nothing is rewritten.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    rerun = run_heed("corpus", "--executor", "local", "--out", str(out))
    assert "(4 already done)" in rerun.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps


def test_a_failed_shard_is_reported_and_retried_by_a_rerun(local_run: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(SAMPLE_ROOT, root)
    shards = read_listing(str(root), CRAWL).paths
    missing = root / shards[2]
    hidden = missing.with_name("away")
    missing.rename(hidden)
    out = tmp_path / "out"
    proc = run_heed(
        "corpus", "--executor", "local", "--crawl-root", str(root), "--out", str(out), check=False
    )
    assert proc.returncode == 1
    assert "1 FAILED" in proc.stdout and shards[2] in proc.stderr
    assert sorted(p.name for p in (out / "markers").iterdir()) == [
        "part-00000.json",
        "part-00001.json",
        "part-00003.json",
    ]
    assert not (out / "manifest.json").exists()

    hidden.rename(missing)
    run_heed("corpus", "--executor", "local", "--crawl-root", str(root), "--out", str(out))
    clean, after = output_files(local_run), output_files(out)
    assert sorted(clean) == sorted(after)
    # The manifest and the report name the crawl root; every data file and marker is the same.
    assert [n for n in clean if clean[n] != after[n]] == ["manifest.json", "report.html"]


def test_a_rerun_with_other_settings_is_refused_not_mixed(local_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(local_run, out)
    (out / "markers" / "part-00003.json").unlink()  # one shard still to do
    config = tmp_path / "other.toml"
    text = (REPO / "configs" / "sample.toml").read_text().replace('"../sample', f'"{SAMPLE_ROOT}')
    config.write_text(text.replace("min_score = 0.5", "min_score = 0.6"))
    before = output_files(out)
    proc = run_heed("corpus", str(config), "--executor", "local", "--out", str(out), check=False)
    assert proc.returncode == 2
    # The language stage comes before dedup: its records of all four shards (the run's first
    # phase) were made with the old setting.
    assert "4 shard(s) made with other stage settings" in proc.stderr
    assert output_files(out) == before
    # The same settings resume as before.
    run_heed("corpus", "--executor", "local", "--out", str(out))
    assert output_files(out) == output_files(local_run)

"""A filter from an installed out-of-tree package runs in a pipeline, found by its entry point
or by a dotted path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import CRAWL, REPO, SAMPLE_ROOT

PLUGIN = Path(__file__).resolve().parent / "plugins" / "heed-shouting"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The plug-in installed with pip into a folder of its own (kept off the project venv)."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(PLUGIN),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


def run_with_plugin(site: Path, tmp_path: Path, stage_ref: str) -> tuple[list[dict], str]:
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "p"\ncrawl_root = "{SAMPLE_ROOT}"\ncrawl = "{CRAWL}"\n'
        f'stages = ["extract", "{stage_ref}"]\n[stage.shouting]\nmax_upper_share = 0.02\n'
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "heed.cli",
            "corpus",
            str(config),
            "--executor",
            "local",
            "--shards",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = pq.read_table(out / "audit" / "part-00000.parquet").to_pylist()
    return rows, (out / "manifest.json").read_text()


@pytest.mark.parametrize("stage_ref", ["shouting", "heed_shouting:ShoutingFilter"])
def test_an_installed_plugin_filter_runs_in_the_pipeline(plugin_site, tmp_path, stage_ref):
    rows, manifest = run_with_plugin(plugin_site, tmp_path, stage_ref)
    scored = [r for r in rows if r["upper_share"] is not None]
    assert len(scored) > 100
    dropped = [r for r in rows if r["stage"] == "shouting"]
    assert dropped and all(r["upper_share"] > 0.02 and r["reason"] == "shouting" for r in dropped)
    kept = [r for r in rows if r["status"] == "kept"]
    assert kept and all(r["upper_share"] <= 0.02 for r in kept)
    (entry,) = [s for s in json.loads(manifest)["stages"] if s["name"] == "shouting"]
    assert entry["ref"] == stage_ref and entry["version"] == "0.1.0"


def test_without_the_plugin_the_name_is_unknown(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "p"\ncrawl_root = "{SAMPLE_ROOT}"\ncrawl = "{CRAWL}"\nstages = ["shouting"]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "heed.cli", "corpus", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2 and "unknown stage 'shouting'" in proc.stderr

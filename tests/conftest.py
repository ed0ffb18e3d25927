"""Shared fixtures: the embedded sample crawl, its ground truth, and real pipeline runs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heed.curation.document import Document

REPO = Path(__file__).resolve().parent.parent
SAMPLE_ROOT = REPO / "sample"
CRAWL = "CC-MAIN-SAMPLE"
TRUTH = SAMPLE_ROOT / "truth" / f"{CRAWL}.jsonl.gz"
# The stage chain of configs/sample.toml, in order.
SAMPLE_STAGES = [
    "opt_out", "extract", "language", "dedup", "toxicity", "pii",
    "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality",
    "tokenize",
]  # fmt: skip


def make_doc(text: str = "", url: str = "https://example.org/a", **fields) -> Document:
    """A document as the reader would hand it over, for testing one stage on its own."""
    return Document(
        record_id=f"<urn:{url}#{len(text)}>",
        url=url,
        host="example.org",
        crawl="C",
        shard="s",
        offset=0,
        warc_date="",
        text=text,
        **fields,
    )


# The truth lists Apertus's agents as Apertus wrote them, CCBot/2.0 and CCBot/1.0 beside CCBot;
# the stage names those once, as CCBot, since RFC 9309 2.2.1 matches groups by product token.
SAME_AS_CCBOT = ("CCBot/2.0", "CCBot/1.0")


def expected_blocked(t: dict) -> list[str]:
    """The agents that may not fetch a truth record's URL under the robots.txt the sample
    config reads first: the folder capture (robots-2025-01) where it has the host, else the
    crawl's own capture."""
    agents = t["robots_dir_blocked_agents"] if t["robots_dir"] else t["robots_blocked_agents"]
    return [agent for agent in agents if agent not in SAME_AS_CCBOT]


def run_heed(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """`heed ...` in a subprocess, as a user runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "heed.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"heed {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def output_files(out: Path) -> dict[str, bytes]:
    """Every file of an output folder (relative path -> bytes), hidden temporaries included."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def truth() -> list[dict]:
    with gzip.open(TRUTH, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="session")
def local_run(tmp_path_factory) -> Path:
    """The whole sample crawl through the in-process executor."""
    out = tmp_path_factory.mktemp("local") / "out"
    run_heed("corpus", "--executor", "local", "--out", str(out))
    return out


@pytest.fixture(scope="session")
def ray_run(tmp_path_factory) -> Path:
    """The whole sample crawl through a local Ray started by the command."""
    out = tmp_path_factory.mktemp("ray") / "out"
    run_heed("corpus", "--executor", "ray", "--out", str(out))
    return out

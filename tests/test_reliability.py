"""Reliability (issue 10): bad input, crashes, a dying node, disk faults: nothing lost.

* A hostile crawl (`sample/make_bad_crawl.py`) runs through `heed corpus`: every planted fault
  is one audit row with the reason it deserves, and every good record comes out exactly as it
  does from the same records alone.
* The driver, and separately a Ray worker running a shard, are killed with SIGKILL at random
  (seeded) points: at every kill each file one can see is complete and each marker tells the
  truth, and the rerun (or Ray's retry) ends with the bytes of an uninterrupted run.
* A node of a three-node Ray cluster is removed while it runs a shard: the run finishes on the
  other two with the bytes of a clean run.
* An output folder that cannot be written, and a full disk, fail clearly and mark nothing done
  that is not; a rerun with space finishes with the bytes of a clean run.

Each test records its figures (faults injected, survived, records lost); with
HEED_RELIABILITY_FIGURES=FILE they are written there as JSON, and
`benchmarks/reliability_report.py` runs this file and prints them.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import REPO, make_doc, output_files, run_heed
from warcio.archiveiterator import ArchiveIterator

from heed.common import files
from heed.curation.document import Document
from heed.curation.optout import live as robots_fetch
from heed.curation.output import KINDS, ShardWriter

SEED = 20250110
TRIALS = 5  # kills of each kind
GENERATOR = REPO / "sample" / "make_bad_crawl.py"
CRAWL = "CC-MAIN-RELIABILITY"
PART = re.compile(r"part-\d{5}\.(parquet|json)")
FIGURES: dict[str, dict[str, Any]] = {}

# What each planted fault must become: (status, stage, reason); None matches anything.
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "garbage": ("error", "read", "garbage_bytes"),
    "garbage_with_false_magic": ("error", "read", "garbage_bytes"),
    # Cut short: what was read of it keeps its identity, and its digest no longer matches.
    "truncated_member": ("error", "read", "block_digest_mismatch"),
    "truncated_at_end": ("error", "read", "block_digest_mismatch"),
    "content_length_too_large": ("error", "read", "bad_content_length"),
    "content_length_too_small": ("error", "read", "bad_content_length"),
    "gzip_bomb": ("error", "read", "record_too_large"),
    # Its header lines lose their colons: no Content-Type is left to call it HTML.
    "garbled_http_head": ("dropped", "extract", "not_html"),
    "pdf": ("dropped", "extract", "not_html"),
    "png": ("dropped", "extract", "not_html"),
    "binary": ("dropped", "extract", "not_html"),
    "binary_as_html": ("dropped", "extract", "too_short"),
    "huge_page": ("dropped", "extract", "too_large"),
    "nested_html": ("dropped", "extract", "too_short"),
    "slow_page": ("dropped", "extract", "extract_timeout"),
    "empty_page": ("dropped", "extract", "too_short"),
    "robots_huge_private": ("dropped", "opt_out", "robots_disallow"),
}
# Pages that are fine but for how they were served: read right, they are judged on their text.
RECOVERED = {
    "shift_jis_as_utf8": "jpn_Jpan",
    "windows1251_as_utf8": "rus_Cyrl",
    "no_charset": "rus_Cyrl",
}
# Pages on hosts whose robots.txt is binary, nonsense, or has its only refusal of them past the
# 500 KiB that are read: robots.txt does not remove them.
NOT_OPTED_OUT = {
    "robots_binary_private",
    "robots_binary_public",
    "robots_nonsense_private",
    "robots_nonsense_public",
    "robots_huge_public",
}


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, dict[str, Any]]]:
    yield FIGURES
    if target := os.environ.get("HEED_RELIABILITY_FIGURES"):
        Path(target).write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------
# The crawls and their clean run


@dataclass
class Crawls:
    root: Path
    planted: dict[str, Any]
    bad_config: Path
    clean_config: Path

    def kinds(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for item in self.planted["planted"]:
            out.setdefault(item["kind"], []).append(item)
        return out


def _config(folder: Path, crawl_root: Path) -> Path:
    """configs/sample.toml for a generated crawl: its own robots.txt captures only, an
    extraction time limit small enough for the slow page, large for any real one, and no dedup
    (the bad crawl holds copies of good pages, re-encoded: dedup would rightly tie them to the
    good ones, and each good record is to come out as from the clean crawl alone)."""
    text = (REPO / "configs" / "sample.toml").read_text()
    text = text.replace('"language", "dedup", "toxicity"', '"language", "toxicity"')
    text = re.sub(r"\[stage\.dedup\][^\[]*", "", text)
    text = text.replace('robots_dirs = ["../sample/robots-2025-01"]\n', "")
    text = text.replace('crawl_root = "../sample"', f'crawl_root = "{crawl_root}"')
    text = text.replace('crawl = "CC-MAIN-SAMPLE"', f'crawl = "{CRAWL}"')
    text = text.replace("[stage.extract]\n", "[stage.extract]\ntimeout = 2\n")
    assert "robots_dirs" not in text and "timeout = 2" in text and "dedup" not in text
    path = folder / f"{crawl_root.name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> Crawls:
    root = tmp_path_factory.mktemp("crawls")
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(root)], check=True, capture_output=True
    )
    planted = json.loads((root / "planted.json").read_text())
    configs = tmp_path_factory.mktemp("configs")
    return Crawls(root, planted, _config(configs, root / "bad"), _config(configs, root / "clean"))


@dataclass
class CleanRun:
    out: Path
    files: dict[str, bytes]
    work_seconds: float  # from its first shard temporary to its exit


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "heed.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _temporaries(out: Path) -> set[str]:
    return {p.name for kind in KINDS for p in (out / kind).glob(".*.tmp")}


@pytest.fixture(scope="module")
def clean(crawls: Crawls, tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    """The good records alone, uninterrupted: the reference for every fault below."""
    out = tmp_path_factory.mktemp("clean") / "out"
    proc = _start("corpus", str(crawls.clean_config), "--executor", "local", "--out", str(out))
    first = None
    while proc.poll() is None:
        if first is None and _temporaries(out):
            first = time.monotonic()
        time.sleep(0.02)
    assert proc.returncode == 0, proc.stderr.read()
    assert first is not None
    return CleanRun(out, output_files(out), time.monotonic() - first)


def _corpus(config: Path, out: Path, check: bool = True) -> subprocess.CompletedProcess:
    """`heed corpus CONFIG --executor local --out OUT`, as a user runs it."""
    return run_heed("corpus", str(config), "--executor", "local", "--out", str(out), check=check)


@pytest.fixture(scope="module")
def bad(crawls: Crawls, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """The bad-input crawl's run: its output, what it printed (tables on stdout, messages on
    stderr), its exit status."""
    out = tmp_path_factory.mktemp("bad") / "out"
    proc = _corpus(crawls.bad_config, out, check=False)
    return out, proc.stdout + proc.stderr, proc.returncode


def _rows(out: Path, kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in sorted((out / kind).glob("part-*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


# --------------------------------------------------------------------------------------------
# 1-2, 6: bad input


def test_the_bad_crawl_generator_is_deterministic_and_plants_what_it_says(
    crawls: Crawls, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True, capture_output=True
    )
    assert output_files(tmp_path) == output_files(crawls.root), "two runs differ"

    bad, clean = crawls.root / "bad", crawls.root / "clean"
    listing = gzip.decompress((bad / f"crawl-data/{CRAWL}/warc.paths.gz").read_bytes()).split()
    assert len(listing) == 3
    assert (
        gzip.decompress((clean / f"crawl-data/{CRAWL}/warc.paths.gz").read_bytes()).split()
        == (listing[:2])
    )
    for item in crawls.planted["planted"]:
        data = (bad / item["shard"]).read_bytes()
        start = data[item["offset"] : item["offset"] + 3]
        if item["kind"].startswith("garbage"):
            assert start != b"\x1f\x8b\x08", item  # no gzip member starts there
        else:
            assert start == b"\x1f\x8b\x08", item  # the record's own gzip member does
    # The clean shards hold the good records alone, in order (read with warcio, not heed).
    for shard, ids in crawls.planted["good"].items():
        with open(clean / shard, "rb") as stream:
            found = [
                r.rec_headers.get_header("WARC-Record-ID")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            ]
        assert found == ids and len(ids) == crawls.planted["pages"]
    assert set(crawls.kinds()) == {*EXPECTED, *RECOVERED, *NOT_OPTED_OUT, "hostile_names"}
    unreadable = (bad / crawls.planted["unreadable_shard"]).read_bytes()
    assert b"WARC/" not in unreadable and not unreadable.startswith(b"\x1f\x8b")


def test_bad_input_is_audited_and_good_records_come_out_as_from_a_clean_crawl(
    crawls: Crawls, bad: tuple[Path, str, int], clean: CleanRun, figures: dict
) -> None:
    """A shard with no WARC record in it fails as a whole (exit 1, OUT/failed/, rerun retries
    it); any other damage is per record: one audit row each, and reading goes on."""
    out, stderr, code = bad
    landed, good, changed = _check_bad_run(crawls, out, stderr, code, clean.out, EXPECTED)
    figures["bad_input"] = {
        "faults injected": len(crawls.planted["planted"]) + 1,
        # Each planted fault audited as expected (or the asserts above stop), the bad shard
        # failed alone.
        "survived": len(crawls.planted["planted"]) + 1,
        "good records": len(good),
        "records lost": len(changed),
        "outcomes": dict(sorted(landed.items())),
    }


def test_bad_input_holds_with_the_resiliparse_extractor(crawls: Crawls, tmp_path: Path) -> None:
    """The same crawls with extractor = "resiliparse": each fault lands where it does with
    trafilatura but for three pages the two extractors read differently. The deep page is
    stopped by resiliparse's depth cap before its main-content pass (quadratic in depth, C++
    the timer cannot stop); the slow page is slow for trafilatura only, and is extracted."""
    outs = {}
    for name, config in (("clean", crawls.clean_config), ("bad", crawls.bad_config)):
        text = config.read_text().replace(
            "[stage.extract]\n", '[stage.extract]\nextractor = "resiliparse"\n'
        )
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        outs[name] = tmp_path / name
        proc = _corpus(path, outs[name], check=name == "clean")
    expected = dict(EXPECTED, nested_html=("dropped", "extract", "too_deep"))
    # Random bytes served as HTML: resiliparse keeps them as text (trafilatura finds too little
    # to keep); language ID then drops the mojibake.
    expected["binary_as_html"] = ("dropped", "language", "low_language_score")
    del expected["slow_page"]
    landed, _, _ = _check_bad_run(
        crawls,
        outs["bad"],
        proc.stdout + proc.stderr,
        proc.returncode,
        outs["clean"],
        expected,
        ("slow_page",),
    )
    assert not landed["slow_page"].startswith(("error:", "dropped:extract:")), landed


def _check_bad_run(
    crawls: Crawls,
    out: Path,
    printed: str,
    code: int,
    clean_out: Path,
    expected: dict[str, tuple[str, str | None, str | None]],
    judged_on_text: tuple[str, ...] = (),
) -> tuple[dict[str, str], list[str], list[str]]:
    """Every planted fault audited as `expected` says (the kinds `judged_on_text` without an
    error), the unreadable shard failed alone, and every good record as in the clean run;
    (outcome by kind, good ids, good ids judged otherwise)."""
    unreadable = crawls.planted["unreadable_shard"]
    assert code == 1 and "1 FAILED" in printed and unreadable in printed
    failure = json.loads((out / "failed" / "part-00002.json").read_text())
    assert failure["shard"] == unreadable and failure["error"].startswith("NotAWarc: ")
    assert sorted(p.name for p in (out / "markers").iterdir()) == [
        "part-00000.json",
        "part-00001.json",
    ]

    audit = _rows(out, "audit")
    by_id = {row["record_id"]: row for row in audit}
    assert len(by_id) == len(audit), "one row per record"
    landed: dict[str, str] = {}
    for item in crawls.planted["planted"]:
        kind = item["kind"]
        key = item["record_id"] or f"{item['shard']}@{item['offset']}"
        assert key in by_id, f"planted {kind} has no audit row"
        row = by_id[key]
        assert (row["shard"], row["offset"]) == (item["shard"], item["offset"]), kind
        if kind in expected:
            status, stage, reason = expected[kind]
            assert (row["status"], row["stage"], row["reason"]) == (status, stage, reason), (
                kind,
                row["detail"],
            )
            assert row["detail"], kind
        elif kind in RECOVERED:
            assert row["status"] != "error" and row["language"] == RECOVERED[kind], kind
        elif kind in NOT_OPTED_OUT:
            assert row["status"] != "error" and row["stage"] != "opt_out", (kind, row["detail"])
        else:
            assert kind in ("hostile_names", *judged_on_text) and row["status"] != "error"
        landed[kind] = f"{row['status']}:{row['stage'] or ''}:{row['reason'] or ''}"
    first = crawls.planted["planted"][0]  # garbage: named by where it starts
    detail = by_id[f"{first['shard']}@{first['offset']}"]["detail"]
    assert "reading went on at the next record" in detail, detail

    # Every good record: the audit row, document and tokens of the clean run (the offset and
    # the id of the robots snapshot, which also holds the hostile captures, aside).
    good = [i for ids in crawls.planted["good"].values() for i in ids]
    planted_ids = {
        item["record_id"] or f"{item['shard']}@{item['offset']}"
        for item in crawls.planted["planted"]
    }
    assert set(by_id) == set(good) | planted_ids, "rows for nothing planted, or records lost"

    def same(row: dict[str, Any]) -> dict[str, Any]:
        snapshot = row.get("robots_snapshot")
        text = {k: v for k, v in row.items() if k not in ("offset", "robots_snapshot")}
        if snapshot and text.get("detail"):
            text["detail"] = text["detail"].replace(snapshot, "SNAPSHOT")
        return text

    clean_audit = {row["record_id"]: same(row) for row in _rows(clean_out, "audit")}
    assert sorted(clean_audit) == sorted(good)
    changed = [i for i in good if same(by_id[i]) != clean_audit[i]]
    assert changed == [], f"{len(changed)} good records judged otherwise than in a clean crawl"
    for kind in ("documents", "tokens"):
        clean_rows = {row["id"]: same(row) for row in _rows(clean_out, kind)}
        bad_rows = {row["id"]: same(row) for row in _rows(out, kind) if row["id"] in clean_audit}
        assert bad_rows == clean_rows, kind
    kept = sum(row["status"] == "kept" for row in clean_audit.values())
    assert kept >= 20, "the good records should be mostly kept, or the comparison says little"
    return landed, good, changed + sorted(set(good) - set(by_id))


def test_output_names_come_from_the_listing_position_only(bad: tuple[Path, str, int]) -> None:
    """Record ids like `<../../documents/part-99999.parquet>` and URLs with `../` name nothing."""
    out, _, _ = bad
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    data = {n for n in names if not n.startswith("robots/") and n != "report.html"}
    assert data == {f"{kind}/part-0000{i}.parquet" for kind in KINDS for i in (0, 1)} | {
        "markers/part-00000.json",
        "markers/part-00001.json",
        "failed/part-00002.json",
    }
    assert "report.html" in names  # the one name not from the listing: fixed
    assert all(PART.fullmatch(Path(n).name) for n in data)
    assert not [n for n in names if "99999" in n or "passwd" in n or ".." in n]
    ids = {row["record_id"] for row in _rows(out, "audit")}
    assert "<../../documents/part-99999.parquet>" in ids  # read, audited, and named nothing


def test_the_robots_fetcher_connects_only_to_the_address_it_checked(
    monkeypatch: pytest.MonkeyPatch, figures: dict
) -> None:
    """DNS rebinding: a name that answers a public address when checked and an internal one
    when asked again is resolved once per hop, and only the checked address is dialled."""
    answers = iter([["93.184.216.34"], ["169.254.169.254"], ["127.0.0.1"]])
    resolved: list[str] = []
    dialled: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return next(answers)

    def connect(address: str, port: int, timeout: float) -> Any:
        dialled.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(robots_fetch, "_resolve", resolve)
    monkeypatch.setattr(robots_fetch, "_connect", connect)
    result = robots_fetch.fetch_robots("rebind.example.com", timeout=2)
    assert result.status is None and result.error
    assert resolved == ["rebind.example.com"] and dialled == ["93.184.216.34"]
    figures["security"] = {"faults injected": 1, "survived": 1, "records lost": 0}


# --------------------------------------------------------------------------------------------
# 3: crash and resume


def _check_visible(out: Path, reference: Path) -> int:
    """What a reader may see at any instant: every visible Parquet file is complete (it reads
    back, and has the bytes of the clean run), every marker names files that are there with
    its digests, and only hidden temporaries may be partial. Returns the number of visible
    files whose marker was not written yet (killed between the renames and the marker)."""
    unmarked = 0
    for kind in KINDS:
        for path in sorted((out / kind).glob("*")) if (out / kind).exists() else []:
            if path.name.startswith("."):
                assert path.name.endswith(".tmp"), path
                continue
            assert PART.fullmatch(path.name), path
            pq.read_table(path)  # reads back
            assert path.read_bytes() == (reference / kind / path.name).read_bytes(), path
            unmarked += not (out / "markers" / f"{path.stem}.json").exists()
    for path in sorted((out / "markers").glob("*")) if (out / "markers").exists() else []:
        if path.name.startswith("."):
            assert path.name.endswith(".tmp"), path
            continue
        assert path.read_bytes() == (reference / "markers" / path.name).read_bytes(), path
        for entry in json.loads(path.read_text())["outputs"].values():
            data = (out / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry
    if (out / "manifest.json").exists():
        assert (out / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()
    return unmarked


def _wait(proc: subprocess.Popen, seconds: float) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        return proc.wait(timeout=seconds)
    return None


def test_a_killed_driver_resumes_to_the_same_bytes(
    crawls: Crawls, clean: CleanRun, tmp_path: Path, figures: dict
) -> None:
    """SIGKILL to `heed corpus` at a random point of its work (from its first shard temporary
    on: reading, stages, writing, committing, the manifest); each killed folder is resumed by
    the next run, which may be killed in turn; the last run ends with the clean run's bytes."""
    rng = random.Random(SEED)
    kills: list[float] = []
    runs, unmarked, folders = 0, 0, 1
    out = tmp_path / "out-1"
    while True:
        runs += 1
        assert runs <= 4 * TRIALS, f"only {len(kills)} kills landed in {runs} runs"
        before = _temporaries(out)  # left by the run killed before: not this run's work
        proc = _start("corpus", str(crawls.clean_config), "--executor", "local", "--out", str(out))
        while proc.poll() is None and not _temporaries(out) - before:
            time.sleep(0.01)
        # The kill lands within the work still to do: the clean run's, for the shards left.
        left = 2 - len(list((out / "markers").glob("part-*.json")))
        delay = rng.uniform(0, clean.work_seconds * max(left, 1) / 2)
        if len(kills) < TRIALS and proc.poll() is None and _wait(proc, delay) is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills.append(round(delay, 2))
            unmarked += _check_visible(out, clean.out)
            continue
        proc.wait()
        assert proc.returncode == 0, proc.stderr.read()
        after = output_files(out)
        assert sorted(after) == sorted(clean.files), "leftover or missing files after resume"
        assert [n for n in after if after[n] != clean.files[n]] == []
        if len(kills) >= TRIALS:
            break
        folders += 1
        out = tmp_path / f"out-{folders}"  # finished before the kill: start another
    figures["driver_kills"] = {
        "faults injected": len(kills),
        "survived": len(kills),
        "records lost": 0,
        "kill delays (s)": kills,
        "runs": runs,
        "killed between renames and marker": unmarked,
    }


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                kids.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    return kids


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return ""


def _started(pid: int) -> str | None:
    """A process's start time (with its pid, its identity); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if stat[0] == "Z" else stat[19]


def _tree(root: int) -> list[int]:
    kids, found, todo = _children(), [], [root]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap(seen: dict[int, str]) -> None:
    """End the processes of a run that outlived its driver (only those we saw, by pid and
    start time)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_started(p) == s for p, s in seen.items()):
        time.sleep(0.2)
    for pid, start in seen.items():
        if _started(pid) == start:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_killed_ray_worker_is_retried_to_the_same_bytes(
    crawls: Crawls, clean: CleanRun, tmp_path: Path, figures: dict
) -> None:
    """SIGKILL to a Ray worker while it runs a shard task (`ray::heed.shard`), at a random point of
    it. Ray runs the task again (max_retries=2); a shard whose retries are all spent fails and
    the rerun does it. The folder ends with the clean run's bytes."""
    rng = random.Random(SEED + 1)
    kills: list[float] = []
    runs, unmarked, folders = 0, 0, 1
    out = tmp_path / "out-1"
    while True:
        runs += 1
        assert runs <= 6, f"only {len(kills)} kills landed in {runs} runs"
        proc = _start("corpus", str(crawls.clean_config), "--executor", "ray", "--out", str(out))
        seen: dict[int, str] = {}
        try:
            while proc.poll() is None:
                for pid in _tree(proc.pid):
                    seen.setdefault(pid, _started(pid) or "")
                tasks = [p for p in seen if _title(p).startswith("ray::heed.shard")]
                if tasks and len(kills) < TRIALS:
                    target, delay = tasks[0], rng.uniform(0, clean.work_seconds)
                    time.sleep(delay)
                    if _title(target).startswith("ray::heed.shard"):
                        os.kill(target, signal.SIGKILL)
                        kills.append(round(delay, 2))
                        unmarked += _check_visible(out, clean.out)
                    seen.pop(target)  # killed, or its task is over: look for the next
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            _reap(seen)
        stderr = proc.stderr.read()
        assert proc.returncode in (0, 1), stderr
        if proc.returncode == 1:
            assert "shard(s) failed" in stderr  # retries spent: the next run resumes
            continue
        after = output_files(out)
        assert sorted(after) == sorted(clean.files), "leftover or missing files"
        assert [n for n in after if after[n] != clean.files[n]] == []
        if len(kills) >= TRIALS:
            break
        folders += 1
        out = tmp_path / f"out-{folders}"
    figures["worker_kills"] = {
        "faults injected": len(kills),
        "survived": len(kills),
        "records lost": 0,
        "kill delays (s)": kills,
        "runs": runs,
        "killed between renames and marker": unmarked,
    }


# --------------------------------------------------------------------------------------------
# 4: a dying node


def test_a_node_removed_mid_run_costs_nothing(local_run: Path, tmp_path: Path, figures: dict):
    """Three nodes of one CPU each; all four sample shards. Once a shard is done and a worker
    node runs another, that node is removed: its task runs again on the others, the run
    exits 0 with the bytes of a clean run. The run's actors live on the driver's node."""
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node)
    try:
        workers = [cluster.add_node(**node) for _ in range(2)]
        cluster.wait_for_nodes()
        out = tmp_path / "out"
        proc = _start(
            "corpus", "--executor", "ray", "--ray-address", cluster.address, "--out", str(out)
        )

        def running(worker: Any) -> list[int]:
            raylet = worker.all_processes["raylet"][0].process.pid
            return [
                p for p in _children().get(raylet, []) if _title(p).startswith("ray::heed.shard")
            ]

        removed = None
        while proc.poll() is None:
            done = list((out / "markers").glob("part-*.json"))
            busy = [w for w in workers if running(w)] if removed is None and done else []
            if busy:
                assert len(done) < 4
                removed = (len(done), running(busy[0]))
                cluster.remove_node(busy[0])
            time.sleep(0.1)
        stderr = proc.stderr.read()
    finally:
        cluster.shutdown()
    assert proc.returncode == 0, stderr
    assert removed is not None, "the run ended before a node could be removed mid-shard"
    clean, after = output_files(local_run), output_files(out)
    assert sorted(after) == sorted(clean)
    assert [n for n in after if after[n] != clean[n]] == []
    figures["node_removed"] = {
        "faults injected": 1,
        "survived": 1,
        "records lost": 0,
        "shards done when removed": removed[0],
        "tasks running on it": len(removed[1]),
    }


# --------------------------------------------------------------------------------------------
# 5: disk and permission faults


def _mount(target: Path, options: str) -> bool:
    """Mount a tmpfs on `target` (root only); False where this machine does not allow it."""
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True
    )
    return done.returncode == 0


@contextlib.contextmanager
def _read_only(target: Path) -> Iterator[None]:
    """`target` cannot be written: a read-only tmpfs as root, else mode 0555."""
    if os.geteuid() == 0:
        assert _mount(target, "ro,size=1m"), "root, yet no tmpfs: cannot make a read-only dir"
        try:
            yield
        finally:
            subprocess.run(["umount", str(target)], check=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o555)
        try:
            yield
        finally:
            target.chmod(0o755)


def test_an_unwritable_output_folder_fails_clearly_and_marks_nothing(
    crawls: Crawls, tmp_path: Path, figures: dict
) -> None:
    """The whole --out, then only OUT/documents, cannot be written: one line names the folder
    and the reason, exit 2 (no traceback); then each shard fails with the reason, exit 1."""
    folder = tmp_path / "ro"
    with _read_only(folder):
        proc = _corpus(crawls.clean_config, folder / "out", check=False)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("error: cannot write") and str(folder / "out") in last
        assert re.search("Read-only file system|Permission denied", last), last
        assert not (folder / "out").exists()

    out = tmp_path / "out"
    with _read_only(out / "documents"):
        proc = _corpus(crawls.clean_config, out, check=False)
        assert proc.returncode == 1
        for shard in crawls.planted["good"]:
            assert re.search(
                rf"shard {re.escape(shard)} failed: .*(Read-only file system|Permission denied)",
                proc.stderr,
            ), proc.stderr
        for folder in (*KINDS, "markers"):
            assert not (out / folder).exists() or not any((out / folder).iterdir()), folder
        assert sorted(p.name for p in (out / "failed").iterdir()) == [
            "part-00000.json",
            "part-00001.json",
        ]
    figures["unwritable_output"] = {"faults injected": 2, "survived": 2, "records lost": 0}


def _docs(label: str, n: int = 200) -> list[Document]:
    docs = [make_doc(f"{label} " * 40, url=f"https://a.org/{label}/{i}") for i in range(n)]
    for doc in docs:
        doc.tokens = np.arange(3, dtype=np.uint32)
    return docs


def test_two_attempts_at_one_shard_never_write_into_each_others_files(tmp_path: Path) -> None:
    """An attempt the driver gave up on (its worker cut off, still running) and its retry:
    each writes its own temporaries; the retry's start removes the stale ones, so the old
    attempt cannot commit, and the files are the retry's, whole."""
    old = ShardWriter(tmp_path, "part-00000", {})
    old.write(_docs("old"))
    retry = ShardWriter(tmp_path, "part-00000", {})
    retry.write(_docs("retry"))
    with pytest.raises(FileNotFoundError):
        old.commit({"shard": "s"})
    retry.commit({"shard": "s"})
    urls = pq.read_table(tmp_path / "audit" / "part-00000.parquet").column("url").to_pylist()
    assert urls == [d.url for d in _docs("retry")]
    assert not [p for p in tmp_path.rglob(".*")], "a temporary was left behind"


@pytest.mark.parametrize("fails", ["close", "marker"])
def test_a_commit_that_fails_leaves_nothing_of_the_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    """A full disk fails a Parquet file's close as often as a write, or the marker after the
    renames: then no file of the shard, no marker and no temporary stays."""
    writer = ShardWriter(tmp_path, "part-00000", {})
    writer.write(_docs("page"))
    full = OSError(errno.ENOSPC, "No space left on device")
    if fails == "close":
        tokens = writer.writers["tokens"]
        real_close = tokens.close

        def close() -> None:
            real_close()
            raise full

        monkeypatch.setattr(tokens, "close", close)
    else:
        real_fsync = files.fsync_file

        def fsync(path: Path) -> None:
            if Path(path).name.startswith(".part-") and ".json." in Path(path).name:
                raise full
            real_fsync(path)

        monkeypatch.setattr(files, "fsync_file", fsync)  # the marker's atomic write
    with pytest.raises(OSError, match="No space left"):
        writer.commit({"shard": "s"})
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _pages(path: Path) -> int:
    return math.ceil(path.stat().st_size / 4096) * 4096


def test_a_full_disk_fails_the_shard_marks_nothing_and_a_rerun_with_space_finishes(
    crawls: Crawls, clean: CleanRun, tmp_path: Path, figures: dict
) -> None:
    """A tmpfs with room for the robots.txt snapshot and shard 00000 only: shard 00001 fails
    with an error naming it, leaves nothing behind, and is not marked; given space, the rerun
    ends with the bytes of the clean run. The snapshot is built first, with room (its build
    needs working space beyond its final size), and the disk then shrunk to what it holds
    plus the rest of the run's files but shard 00001's, plus a third of shard 00001's."""
    disk, ref = tmp_path / "disk", clean.out
    first = [
        p
        for p in ref.rglob("*")
        if p.is_file()
        and "part-00001" not in p.name
        and p.name != "manifest.json"
        and "robots" not in p.relative_to(ref).parts
    ]
    second = sum(_pages(p) for p in ref.rglob("part-00001.*"))
    assert second // 3 > 8 * 4096, "shard 00001's files are too small to overflow the disk"
    assert _mount(disk, "size=64m"), "a tmpfs is needed for the full-disk test"
    try:
        out = disk / "out"
        run_heed(
            "robots", "build", "--from-crawl", CRAWL, "--crawl-root", str(crawls.root / "clean"),
            "--out", str(out / "robots" / f"crawl-{CRAWL}"), "--executor", "local",
        )  # fmt: skip
        room = shutil.disk_usage(disk).used + sum(_pages(p) for p in first) + second // 3
        subprocess.run(["mount", "-o", f"remount,size={room}", str(disk)], check=True)
        proc = _corpus(crawls.clean_config, out, check=False)
        shard = sorted(crawls.planted["good"])[1]
        assert proc.returncode == 1, proc.stderr
        assert re.search(
            rf"shard {re.escape(shard)} failed: .*No space left on device", proc.stderr
        ), proc.stderr
        assert sorted(p.name for p in (out / "markers").iterdir()) == ["part-00000.json"]
        for kind in KINDS:
            assert sorted(p.name for p in (out / kind).iterdir()) == ["part-00000.parquet"]
        _check_visible(out, ref)
        assert not (out / "manifest.json").exists()

        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        _corpus(crawls.clean_config, out)
        after = output_files(out)
        assert sorted(after) == sorted(clean.files)
        assert [n for n in after if after[n] != clean.files[n]] == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    figures["disk_full"] = {"faults injected": 1, "survived": 1, "records lost": 0}


def test_reader_resynchronises_after_every_kind_of_damage() -> None:
    """The reader on its own, one damage at a time between two good records: the good ones
    are always read; the damage is one error row at its offset."""
    from heed.curation.crawl.warc import NotAWarc, read_documents

    def record(n: int, delta: int = 0) -> bytes:
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>page %d</p>" % n
        head = (
            f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:r{n}>\r\n"
            f"Content-Length: {len(block) + delta}\r\nWARC-Target-URI: https://a.example/{n}\r\n"
            "Content-Type: application/http; msgtype=response"
            "\r\n\r\n"
        ).encode()
        return head + block + b"\r\n\r\n"

    one, two = gzip.compress(record(1), mtime=0), gzip.compress(record(2), mtime=0)
    member = gzip.compress(record(9), mtime=0)
    damages = {
        b"garbage \x00\xff" * 30: "garbage_bytes",
        member[: len(member) // 2]: "damaged_record",
        gzip.compress(b"not a WARC record at all", mtime=0): "damaged_record",
        gzip.compress(record(9, delta=+40), mtime=0): "bad_content_length",
        gzip.compress(record(9, delta=-5), mtime=0): "bad_content_length",
    }
    for damage, reason in damages.items():
        docs = list(read_documents(io.BytesIO(one + damage + two), crawl="C", shard="s"))
        assert [d.record_id for d in docs if d.reason is None] == ["<urn:r1>", "<urn:r2>"]
        assert [(d.offset, d.reason) for d in docs if d.reason] == [(len(one), reason)]
    # Damage before the first record, and a file that ends in garbage.
    junk = b"\x00junk"
    docs = list(read_documents(io.BytesIO(junk + one + two + junk), crawl="C", shard="s"))
    offsets = [0, len(junk), len(junk + one), len(junk + one + two)]
    reasons = ["garbage_bytes", None, None, "garbage_bytes"]
    assert [(d.offset, d.reason) for d in docs] == list(zip(offsets, reasons, strict=True))
    # Nothing readable at all: the shard fails as a whole.
    for nothing in (b"", b"<html>503</html>", gzip.compress(b"<html>503</html>")):
        with pytest.raises(NotAWarc):
            list(read_documents(io.BytesIO(nothing), crawl="C", shard="s"))

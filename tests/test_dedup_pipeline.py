"""The dedup stage in a real run: a corpus-level phase between per-shard phases, over two crawls
with planted duplicates (tests/dedup_crawl.py), through `heed corpus` as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, output_files, run_heed
from dedup_crawl import CRAWLS, write

STAGES = '["extract", "dedup", "tokenize"]'


def config_file(root: Path, dedup: str = "") -> Path:
    """The run's config; `dedup`: more lines of its [stage.dedup] table. Tasks of 100
    documents: the corpus step runs as several group and partition tasks."""
    path = root / "dedup.toml"
    path.write_text(
        f'name = "dedup"\ncrawl_root = "{root}"\ncrawl = {json.dumps(list(CRAWLS))}\n'
        f"stages = {STAGES}\n[stage.dedup]\ndocuments_per_task = 100\n{dedup}"
    )
    return path


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> tuple[Path, dict]:
    """Two crawls of four shards each, the planted duplicates among 300 unrelated pages."""
    root = tmp_path_factory.mktemp("dedup-crawl")
    return root, write(root, unrelated=300, shards=4)


@pytest.fixture(scope="module")
def reference(crawl, tmp_path_factory) -> Path:
    """An uninterrupted run in this process's own executor."""
    root, _ = crawl
    out = tmp_path_factory.mktemp("dedup-ref") / "out"
    run_heed("corpus", str(config_file(root)), "--executor", "local", "--out", str(out))
    return out


def rows(out: Path, kind: str) -> list[dict]:
    return pq.read_table(out / kind).to_pylist()


def test_each_planted_group_keeps_one_copy_by_the_rule(crawl, reference: Path) -> None:
    _, truth = crawl
    audit = {row["record_id"]: row for row in rows(reference, "audit")}
    assert len(audit) == truth["records"]  # one audit row per record
    reasons = {"exact": "exact_duplicate", "near": "near_duplicate", "url": "url_duplicate"}
    grouped = set()
    for group in truth["groups"]:
        members = [audit[m] for m in group["members"]]
        grouped |= set(group["members"])
        kept = [row for row in members if row["status"] == "kept"]
        # The rule: the earliest capture (URL duplicates: the latest), ties by record id.
        assert [row["record_id"] for row in kept] == [group["keep"]], group
        for row in members:
            assert row["dedup_cluster"] == group["keep"]
            assert row["dedup_cluster_size"] == len(members)
            if row["status"] == "dropped":
                assert row["stage"] == "dedup" and row["reason"] == reasons[group["kind"]]
                assert row["duplicate_of"] == group["keep"]
    # Pages that share only the site's boilerplate are all kept, each its own cluster.
    others = [row for record, row in audit.items() if record not in grouped]
    assert len(others) >= 300
    assert all(r["status"] == "kept" and r["dedup_cluster_size"] == 1 for r in others)
    # Across shards and crawls: the planted groups span both.
    crawls = {audit[m]["crawl"] for g in truth["groups"] for m in g["members"]}
    assert crawls == set(CRAWLS)
    # documents/ and tokens/ hold the kept documents only.
    kept = {record for record, row in audit.items() if row["status"] == "kept"}
    assert {row["id"] for row in rows(reference, "documents")} == kept
    assert {row["id"] for row in rows(reference, "tokens")} == kept


def test_explain_names_the_copy_kept(crawl, reference: Path) -> None:
    _, truth = crawl
    near = next(g for g in truth["groups"] if g["kind"] == "near")
    shown = run_heed("audit", "explain", str(reference), near["members"][1]).stdout
    kept_url = near["urls"][0]
    assert f"near-duplicate of {near['keep']} ({kept_url}), cluster of 2" in shown
    summary = json.loads(run_heed("audit", "summary", str(reference), "--json").stdout)
    assert summary["clusters"]["2"] + summary["clusters"]["3-5"] == len(truth["groups"])


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_outputs_do_not_depend_on_the_workers(crawl, reference: Path, tmp_path, cpus) -> None:
    root, _ = crawl
    out = tmp_path / "out"
    run_heed("corpus", str(config_file(root)), "--num-cpus", str(cpus), "--out", str(out))
    assert output_files(out) == output_files(reference)
    # the corpus step ran as several tasks a round (groups of shards, hash partitions)
    stats = out / "dedup" / "work" / "stats"
    assert len(list((stats / "keys-map").iterdir())) > 1
    assert len(list((stats / "keys-reduce").iterdir())) > 1


def _start(config: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "heed.cli", "corpus", str(config), "--executor", "local",
         "--out", str(out)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _in_phase(out: Path, phase: str) -> bool:
    """Whether the run is in the middle of `phase` (some of its work done, not all)."""
    if phase == "before":
        done = len(list((out / "before-dedup" / "markers").glob("*.json")))
        return 0 < done < 8
    if phase == "corpus step":
        stats = list((out / "dedup" / "work" / "stats").glob("*/*.json"))
        return bool(stats) and not (out / "dedup" / "done.json").exists()
    done = len(list((out / "markers").glob("*.json")))
    return 0 < done < 8


@pytest.mark.parametrize("phase", ["before", "corpus step", "after"])
def test_a_run_killed_in_each_phase_resumes_to_the_same_bytes(
    crawl, reference: Path, tmp_path, phase: str
) -> None:
    root, _ = crawl
    config, out = config_file(root), tmp_path / "out"
    proc = _start(config, out)
    killed = False
    try:
        while proc.poll() is None:
            if _in_phase(out, phase):
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    finally:
        proc.wait()
    assert killed, f"the run ended before it could be killed in phase {phase!r}"
    run_heed("corpus", str(config), "--executor", "local", "--out", str(out))
    assert output_files(out) == output_files(reference)


def test_new_dedup_settings_redo_only_the_corpus_step_and_after(crawl, reference, tmp_path):
    root, truth = crawl
    out = tmp_path / "out"
    run_heed("corpus", str(config_file(root)), "--executor", "local", "--out", str(out))
    before = {p: p.stat().st_mtime_ns for p in (out / "before-dedup").rglob("*") if p.is_file()}
    again = run_heed("corpus", str(config_file(root)), "--executor", "local", "--out", str(out))
    assert "(8 already done)" in again.stderr  # a finished run rerun does nothing
    assert {p: p.stat().st_mtime_ns for p in before} == before
    step = (out / "dedup" / "done.json").stat().st_mtime_ns
    changed = config_file(root, "near = false\n")
    proc = run_heed("corpus", str(changed), "--executor", "local", "--out", str(out))
    # Extraction is not redone: the records before dedup are the same files, untouched.
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert "extract" not in proc.stdout.split("time per stage")[-1]
    assert (out / "dedup" / "done.json").stat().st_mtime_ns != step
    audit = {row["record_id"]: row for row in rows(out, "audit")}
    for group in truth["groups"]:
        statuses = [audit[m]["status"] for m in group["members"]]
        expected_drops = 0 if group["kind"] == "near" else len(group["members"]) - 1
        assert statuses.count("dropped") == expected_drops, group


def test_a_chain_that_cannot_be_cut_is_refused(crawl, tmp_path) -> None:
    root, _ = crawl
    path = root / "bad.toml"
    path.write_text(
        f'name = "bad"\ncrawl_root = "{root}"\ncrawl = "{CRAWLS[0]}"\n'
        'stages = ["tokenize", "dedup", "extract"]\n'
    )
    proc = run_heed("corpus", str(path), "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode == 2
    assert "'extract' reads the page itself: put it before 'dedup'" in proc.stderr
    assert "'tokenize' must come after 'dedup'" in proc.stderr


def test_in_memory_pipeline_decides_as_the_run(crawl, reference: Path) -> None:
    """heed.Pipeline.run with dedup in its chain (documents in memory, no run folder) gives
    every record the decision `heed corpus` gave it."""
    import heed
    from heed.curation.crawl.warc import read_documents

    root, _ = crawl
    docs = []
    for path in sorted(root.glob("crawl-data/*/segments/*/warc/*.warc.gz")):
        with path.open("rb") as stream:
            crawl_id = path.parts[-5]
            docs += read_documents(stream, crawl=crawl_id, shard=str(path.relative_to(root)))
    params = {"dedup": {"documents_per_task": 100}}
    pipeline = heed.Pipeline.from_stages(["extract", "dedup"], params)
    done = pipeline.run(docs)
    audit = {row["record_id"]: row for row in rows(reference, "audit")}
    assert len(done) == len(audit)
    for doc in done:
        row = audit[doc.record_id]
        decided = (doc.status.value, doc.stage, doc.reason)
        assert decided == (row["status"], row["stage"], row["reason"]), doc.record_id
        assert doc.scores.get("duplicate_of") == row["duplicate_of"]
        assert doc.scores.get("dedup_cluster_size") == row["dedup_cluster_size"]
    # run again over fewer documents: the step is redone for them, nothing of the first kept
    again = pipeline.run(docs[:40])
    assert all(doc.scores["dedup_cluster_size"] <= 40 for doc in again)
    assert sum(doc.alive for doc in again) >= 1


def test_documents_sharing_a_record_id_are_refused_in_memory() -> None:
    import heed

    text = "the same words in the same order, long enough for several five-word shingles"
    pipeline = heed.Pipeline.from_stages(["dedup"])
    with pytest.raises(ValueError, match="record id"):
        pipeline.run([heed.Document.from_text(text), heed.Document.from_text(text)])
    # distinct URLs make distinct records: one is kept, the other is its exact duplicate
    first, second = pipeline.run(
        [heed.Document.from_text(text, url="https://a.example/"),
         heed.Document.from_text(text, url="https://b.example/")]
    )  # fmt: skip
    assert sorted([first.status.value, second.status.value]) == ["dropped", "kept"]
    dropped = first if first.status.value == "dropped" else second
    kept = second if dropped is first else first
    assert dropped.reason == "exact_duplicate" and dropped.scores["duplicate_of"] == kept.record_id

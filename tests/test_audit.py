"""The audit read back: explain's reason codes, the summary's totals, SQL over the run, and
rethreshold deciding again from the stored scores (on the sample crawl's local run)."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from conftest import REPO, run_heed

from heed.curation import registry
from heed.curation.audit.query import explain_row, stage_columns, summary
from heed.curation.audit.rethreshold import parse_setting, rethreshold
from heed.curation.config import ConfigError, stage_class
from heed.curation.crawl.warc import READ_REASONS, READ_STAGE
from heed.curation.stage import STAGE_REASONS


def _rows(out: Path, kind: str) -> list[dict]:
    return ds.dataset(sorted((out / kind).glob("part-*.parquet"))).to_table().to_pylist()


# --------------------------------------------------------------------------------------------
# explain: every stage's reason codes


def _declared_in_source(path: Path) -> set[str]:
    """Reason codes a module's code gives: `.drop(self.name, "code"`, `.fail(..., "code"`,
    `return "code", f"..."` (a filter's reject) and `return ("signal", "code", ...)` tuples."""
    text = path.read_text()
    found = set(re.findall(r"\.(?:drop|fail)\([^,()]+,\s*\"([a-z_]+)\"", text))
    found |= set(re.findall(r"return \"([a-z_]+)\", (?!\"[a-z_]+\",)f?\"", text))
    found |= set(re.findall(r"return \(?\s*\"[a-z_]+\",\s*\"([a-z_]+)\",", text, re.S))
    return found


def _stage_classes() -> list[type]:
    refs = list(registry.available())
    return [stage_class(ref) for ref in refs]


def test_every_reason_code_in_the_source_is_declared_with_a_meaning() -> None:
    for cls in _stage_classes():
        source = Path(__import__(cls.__module__, fromlist=["x"]).__file__)
        for code in _declared_in_source(source):
            if code in READ_REASONS or code in STAGE_REASONS:
                continue
            assert cls.reason_meaning(code), f"{cls.__name__} gives {code!r} without a meaning"
    warc = REPO / "curation" / "crawl" / "warc.py"
    assert _declared_in_source(warc) <= set(READ_REASONS)
    assert _declared_in_source(REPO / "curation" / "stage.py") <= set(STAGE_REASONS)


def test_explain_names_each_declared_reason_with_its_meaning(local_run: Path) -> None:
    stages = stage_columns(local_run)
    template = _rows(local_run, "audit")[0]
    by_name = {s["name"]: s for s in stages}
    for cls in _stage_classes():
        if cls.name not in by_name:
            continue
        for code, meaning in {**cls.reasons, **STAGE_REASONS}.items():
            row = {**template, "status": "dropped", "stage": cls.name, "reason": code,
                   "detail": "evidence"}  # fmt: skip
            text = "\n".join(explain_row(row, stages))
            assert f"{cls.name}" in text and f"{code}: evidence" in text
            assert meaning in text, (cls.name, code)
    for code, meaning in READ_REASONS.items():
        row = {**template, "status": "error", "stage": READ_STAGE, "reason": code, "detail": "x"}
        assert meaning in "\n".join(explain_row(row, stages))


def test_every_reason_in_the_sample_audit_has_a_meaning(local_run: Path) -> None:
    stages = {s["name"]: s for s in stage_columns(local_run)}
    seen = {(r["stage"], r["reason"]) for r in _rows(local_run, "audit") if r["stage"]}
    assert len(seen) >= 7
    for stage, reason in seen:
        if stage == READ_STAGE:
            assert reason in READ_REASONS
            continue
        cls = stage_class(stages[stage]["ref"])
        assert cls.reason_meaning(reason), (stage, reason)


# --------------------------------------------------------------------------------------------
# summary


def test_summary_totals_equal_the_audit(local_run: Path) -> None:
    rows = _rows(local_run, "audit")
    data = summary(local_run)
    assert data["records"] == len(rows)
    assert data["status"] == dict(Counter(r["status"] for r in rows))
    funnel = data["funnel"]
    assert funnel[0]["stage"] == READ_STAGE and funnel[0]["in"] == len(rows)
    for step, after in itertools.pairwise(funnel):
        removed = sum(step["dropped"].values()) + sum(step["error"].values())
        assert step["out"] == step["in"] - removed == after["in"]
        assert sum(step["by_language"].values()) == removed
    assert funnel[-1]["out"] == data["status"]["kept"]
    by_stage = Counter((r["stage"], r["status"], r["reason"]) for r in rows if r["stage"])
    for step in funnel:
        for status in ("dropped", "error"):
            for reason, n in step[status].items():
                assert by_stage[(step["stage"], status, reason)] == n
    for key, column in (("languages", "language"), ("crawls", "crawl"), ("shards", "shard")):
        assert sum(e["records"] for e in data[key].values()) == len(rows)
        expected = Counter((r[column] or "-", r["status"]) for r in rows)
        for name, entry in data[key].items():
            for status in ("kept", "dropped", "error"):
                assert entry[status] == expected[(name, status)]
    documents = _rows(local_run, "documents")
    tokens = Counter()
    for doc in documents:
        tokens[doc["language"]] += doc["num_tokens"]
    assert {k: v["tokens"] for k, v in data["languages"].items() if v["tokens"]} == dict(tokens)
    printed = json.loads(run_heed("audit", "summary", str(local_run), "--json").stdout)
    assert printed == json.loads(json.dumps(data))
    shown = run_heed("audit", "summary", str(local_run))
    # The tables are data: on stdout, so `heed audit summary OUT > file` keeps them.
    table = shown.stdout
    assert "funnel" in table and "toxicity" in table and "per shard" in table
    assert "funnel" not in shown.stderr


# --------------------------------------------------------------------------------------------
# sql


def test_sql_sees_audit_documents_and_tokens(local_run: Path) -> None:
    rows, docs = _rows(local_run, "audit"), _rows(local_run, "documents")
    query = (
        "SELECT (SELECT count(*) FROM audit) AS audit_rows, "
        "(SELECT count(*) FROM documents d JOIN tokens t ON d.id = t.id) AS joined, "
        "(SELECT count(*) FROM audit WHERE status = 'kept') AS kept"
    )
    result = json.loads(run_heed("audit", "sql", str(local_run), query, "--format", "json").stdout)
    assert result == [{"audit_rows": len(rows), "joined": len(docs), "kept": len(docs)}]
    bad = run_heed("audit", "sql", str(local_run), "SELEC nonsense", check=False)
    assert bad.returncode == 2 and "syntax error" in bad.stderr


# --------------------------------------------------------------------------------------------
# rethreshold


def test_rethreshold_with_the_original_thresholds_keeps_the_same_set(
    local_run: Path, tmp_path: Path
) -> None:
    manifest = json.loads((local_run / "manifest.json").read_text())
    params = {s["name"]: s["params"] for s in manifest["stages"]}
    settings = [
        f"toxicity.threshold={params['toxicity']['threshold']}",
        f"language.min_score={params['language']['min_score']}",
    ]
    counts = rethreshold(local_run, settings, tmp_path / "same")
    assert counts["kept_before"] == counts["kept_after"]
    assert counts["newly_dropped"] == counts["moved"] == counts["would_pass"] == 0
    for kind in ("documents", "tokens", "audit"):
        for part in sorted((local_run / kind).glob("part-*.parquet")):
            assert pq.read_table(tmp_path / "same" / kind / part.name).equals(pq.read_table(part))
    assert pq.read_table(tmp_path / "same" / "diff.parquet").num_rows == 0


def test_a_stricter_threshold_removes_exactly_the_documents_whose_score_crosses_it(
    local_run: Path, tmp_path: Path
) -> None:
    """A per-language minimum language-ID score above the run's: exactly the kept documents
    of that language scoring below it go, and nothing else changes."""
    docs = _rows(local_run, "documents")
    language = Counter(d["language"] for d in docs).most_common(1)[0][0]
    scores = sorted(d["language_score"] for d in docs if d["language"] == language)
    limit = scores[len(scores) // 4]  # a quarter of them score below it
    expected = {d["id"] for d in docs if d["language"] == language and d["language_score"] < limit}
    assert expected
    new = tmp_path / "strict"
    run_heed("audit", "rethreshold", str(local_run), "--set",
             f"language.min_score.{language}={limit}", "--out", str(new))  # fmt: skip
    kept = {d["id"] for d in _rows(new, "documents")}
    assert kept == {d["id"] for d in docs} - expected
    assert {t["id"] for t in _rows(new, "tokens")} == kept
    diff = pq.read_table(new / "diff.parquet").to_pylist()
    assert {d["record_id"] for d in diff if d["change"] == "newly_dropped"} == expected
    assert {(d["after_stage"], d["after_reason"]) for d in diff} == {
        ("language", "low_language_score")
    }
    # Records a later stage dropped now go at language instead: exactly those that reached
    # it with a score below the new minimum.
    before = {r["record_id"]: r for r in _rows(local_run, "audit")}
    order = [s["name"] for s in stage_columns(local_run)]
    later = {
        i for i, r in before.items()
        if r["status"] == "dropped" and r["stage"] in order
        and order.index(r["stage"]) > order.index("language")
        and r["language"] == language and r["language_score"] < limit
    }  # fmt: skip
    assert {d["record_id"] for d in diff if d["change"] == "moved"} == later
    audit = {r["record_id"]: r for r in _rows(new, "audit")}
    assert all(audit[i]["status"] == "dropped" for i in expected)
    assert sum(r["status"] == "kept" for r in audit.values()) == len(kept)
    manifest = json.loads((new / "manifest.json").read_text())
    stage = next(s for s in manifest["stages"] if s["name"] == "language")
    assert stage["params"]["min_scores"] == {language: limit}
    assert manifest["rethreshold"]["newly_dropped"] == len(expected)


def test_a_looser_threshold_lists_what_would_pass_and_keeps_the_set(
    local_run: Path, tmp_path: Path
) -> None:
    toxic = [r for r in _rows(local_run, "audit") if r["reason"] == "toxic"]
    counts = rethreshold(local_run, ["toxicity.threshold=1.0"], tmp_path / "loose")
    assert counts["would_pass"] == len(toxic) > 0
    assert counts["kept_after"] == counts["kept_before"]
    diff = pq.read_table(tmp_path / "loose" / "diff.parquet").to_pylist()
    assert {d["record_id"] for d in diff} == {r["record_id"] for r in toxic}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("gopher_quality.options=1", "cannot be decided again"),
        ("nope.threshold=1", "no stage 'nope'"),
        ("toxicity.threshold", "expected STAGE.PARAM"),
        ("extract.min_chars=5", "cannot be decided again"),
        ("language.languages.eng_Latn=5", "no per-language values"),
    ],
)
def test_bad_settings_are_errors(
    local_run: Path, tmp_path: Path, setting: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        rethreshold(local_run, [setting], tmp_path / "x")
    assert parse_setting("toxicity.threshold.eng_Latn=0.5") == (
        "toxicity", "threshold", "eng_Latn", 0.5,
    )  # fmt: skip

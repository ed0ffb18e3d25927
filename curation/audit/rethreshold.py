"""Decide again from the stored scores: new thresholds, no re-extraction, no re-scoring.

`heed audit rethreshold OUT --set toxicity.threshold.eng_Latn=0.02 --out NEW` rebuilds the
run's stages from its manifest with the settings changed, walks every audit row through the
changed stages' `reject` (which reads only the scores the audit stored), and writes NEW: the
documents and tokens still kept, the audit with the new decisions, `diff.parquet` (every record
whose outcome changed, before and after) and a manifest that says where it came from.

A stricter setting removes documents. A looser one cannot add any: a record a stage dropped was
never processed past it (no redacted text, no tokens), so it is listed in the diff as
`would_pass` and counted; `heed corpus` with the new settings takes it in.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from heed.common.files import write_json_atomic
from heed.curation.audit.query import audit_dataset
from heed.curation.config import ConfigError, build_stage, stage_class
from heed.curation.document import Document
from heed.curation.output import MANIFEST
from heed.curation.stage import Stage

DIFF = "diff.parquet"
_DIFF_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("url", pa.string()),
        ("language", pa.string()),
        ("change", pa.string()),  # newly_dropped | moved | would_pass
        ("before_status", pa.string()),
        ("before_stage", pa.string()),
        ("before_reason", pa.string()),
        ("after_status", pa.string()),
        ("after_stage", pa.string()),
        ("after_reason", pa.string()),
        ("after_detail", pa.string()),
    ]
)


def parse_setting(text: str) -> tuple[str, str, str | None, Any]:
    """`stage.param=value` or `stage.param.LANGUAGE=value` -> (stage, param, language, value);
    the value is read as JSON (numbers, true/false, lists), else kept as a string."""
    key, eq, raw = text.partition("=")
    parts = key.strip().split(".")
    if not eq or len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(
            f"--set {text!r}: expected STAGE.PARAM=VALUE or STAGE.PARAM.LANGUAGE=VALUE "
            "(e.g. toxicity.threshold.eng_Latn=0.02)"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None, value


def _rethresholdable(stage: type[Stage]) -> set[str]:
    """Parameters a stage decides by from stored scores alone: its thresholds, their
    per-language tables, and (for language ID) the allow-list. Only a stage that decides in
    `reject` (a Filter) can: others drop inline while they work."""
    if not hasattr(stage, "reject"):
        return set()
    params = set(stage.threshold_params.values())
    params |= {f"{p}s" for p in params}
    if stage.threshold_params and "languages" in {f.name for f in dataclasses.fields(stage)}:
        params.add("languages")
    return params


def changed_stages(
    manifest: dict[str, Any], settings: list[str]
) -> tuple[list[Stage], dict[str, Stage]]:
    """The run's stages rebuilt from the manifest, and the ones the settings change (by name,
    rebuilt with the new parameters)."""
    described = {s["name"]: s for s in manifest["stages"]}
    params = {name: json.loads(json.dumps(s["params"])) for name, s in described.items()}
    touched: set[str] = set()
    for text in settings:
        name, param, language, value = parse_setting(text)
        if name not in described:
            raise ConfigError(f"--set {text!r}: the run has no stage {name!r}: {list(described)}")
        cls = stage_class(described[name]["ref"])
        allowed = _rethresholdable(cls)
        if param not in allowed:
            raise ConfigError(
                f"--set {text!r}: {name}.{param} cannot be decided again from stored scores"
                + (f"; what can: {', '.join(sorted(allowed))}" if allowed else "")
                + "; run heed corpus with the new setting instead"
            )
        if language is None:
            params[name][param] = value
        elif isinstance(params[name].get(param), dict):
            params[name][param][language] = value
        elif isinstance(params[name].get(f"{param}s"), dict):
            params[name][f"{param}s"][language] = value
        else:
            raise ConfigError(f"--set {text!r}: {name}.{param} has no per-language values")
        touched.add(name)
    stages = [build_stage(s["ref"], params[s["name"]]) for s in manifest["stages"]]
    return stages, {s.name: s for s in stages if s.name in touched}


def rethreshold(out: Path, settings: list[str], new: Path) -> dict[str, Any]:
    """Write NEW from OUT with the settings applied (see the module doc); the counts."""
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: rethreshold needs a finished run")
    if new.resolve() == out.resolve():
        raise ConfigError("--out must be a new folder, not the run itself")
    if new.exists() and any(new.iterdir()):
        raise ConfigError(f"{new} is not empty")
    manifest = json.loads(manifest_path.read_text())
    stages, changed = changed_stages(manifest, settings)
    order = {stage.name: i for i, stage in enumerate(stages)}
    audit = audit_dataset(out)
    columns = audit.schema.names
    score_columns = [c for s in stages for c in s.columns if c in columns]
    diff: list[dict[str, Any]] = []
    counts = {"records": 0, "kept_before": 0, "kept_after": 0, "newly_dropped": 0,
              "moved": 0, "would_pass": 0}  # fmt: skip
    removed: set[str] = set()
    for part in sorted((out / "audit").glob("part-*.parquet")):
        table = pq.read_table(part)
        rows = table.to_pylist()
        statuses, stage_names, reasons, details = [], [], [], []
        for row in rows:
            after = _decide(row, stages, changed, order, score_columns)
            change = _change(row, after)
            if change:
                counts[change] += 1
                diff.append(_diff_row(row, after, change))
                if change == "newly_dropped":
                    removed.add(row["record_id"])
            # A record that would pass where it was dropped has nothing to keep: it stays.
            status, stage, reason, detail = _same(row) if change == "would_pass" else after
            counts["records"] += 1
            counts["kept_before"] += row["status"] == "kept"
            counts["kept_after"] += status == "kept"
            statuses.append(status)
            stage_names.append(stage)
            reasons.append(reason)
            details.append(detail)
        for name, values in (("status", statuses), ("stage", stage_names), ("reason", reasons),
                             ("detail", details)):  # fmt: skip
            at = table.schema.get_field_index(name)
            table = table.set_column(at, table.schema.field(at), pa.array(values, pa.string()))
        _write(new / "audit" / part.name, table)
    for kind in ("documents", "tokens"):
        for part in sorted((out / kind).glob("part-*.parquet")):
            table = pq.read_table(part)
            keep = pc.invert(pc.is_in(table.column("id"), pa.array(sorted(removed), pa.string())))
            _write(new / kind / part.name, table.filter(keep))
    _write(new / DIFF, pa.Table.from_pylist(diff, _DIFF_SCHEMA))
    manifest["rethreshold"] = {"from": str(out.resolve()), "settings": settings, **counts}
    for described, stage in zip(manifest["stages"], stages, strict=True):
        described["params"] = stage.describe()["params"]
    write_json_atomic(new / MANIFEST, manifest)
    return counts


def _decide(
    row: dict[str, Any],
    stages: list[Stage],
    changed: dict[str, Stage],
    order: dict[str, int],
    score_columns: list[str],
) -> tuple[str, str | None, str | None, str | None]:
    """The row's outcome with the changed stages deciding again, in chain order, over the part
    of the chain the record went through (a record dropped at a stage reached no later one)."""
    if row["status"] == "error":
        return _same(row)
    stop = order.get(row["stage"], len(stages)) if row["status"] != "kept" else len(stages)
    doc = Document(
        record_id=row["record_id"], url=row["url"], host=row["host"], crawl=row["crawl"],
        shard=row["shard"], offset=row["offset"], warc_date="", language=row["language"],
        scores={c: row[c] for c in score_columns},
    )  # fmt: skip
    for stage in stages[: stop + 1]:
        if stage.name not in changed:
            continue
        verdict = changed[stage.name].reject(doc)  # type: ignore[attr-defined]
        if verdict:
            return "dropped", stage.name, verdict[0], verdict[1]
        if stage.name == row["stage"]:  # it passes the stage that dropped it
            return "kept", None, None, None  # (never processed further: see _change)
    return _same(row)


def _same(row: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    return row["status"], row["stage"], row["reason"], row["detail"]


def _change(row: dict[str, Any], after: tuple) -> str | None:
    if after[:3] == (row["status"], row["stage"], row["reason"]):
        return None
    if row["status"] == "kept":
        return "newly_dropped"
    if after[0] == "kept":
        return "would_pass"
    return "moved"


def _diff_row(row: dict[str, Any], after: tuple, change: str) -> dict[str, Any]:
    return {
        "record_id": row["record_id"],
        "url": row["url"],
        "language": row["language"],
        "change": change,
        "before_status": row["status"],
        "before_stage": row["stage"],
        "before_reason": row["reason"],
        "after_status": after[0],
        "after_stage": after[1],
        "after_reason": after[2],
        "after_detail": after[3],
    }


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)

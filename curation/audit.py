"""Reading the audit back: why one record was dropped, or kept."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds

from curation.output import MANIFEST
from curation.warc import READ_STAGE


def find_records(out: Path, key: str) -> list[dict[str, Any]]:
    """Audit rows whose record_id, url or host equals `key`, in shard and file order."""
    folder = out / "audit"
    if not folder.is_dir():
        raise FileNotFoundError(f"no audit under {out}: is it a heed output folder?")
    dataset = ds.dataset(folder, format="parquet")
    match = (pc.field("record_id") == key) | (pc.field("url") == key) | (pc.field("host") == key)
    rows = dataset.to_table(filter=match).to_pylist()
    return sorted(rows, key=lambda r: (r["shard"], r["offset"]))


def stage_columns(out: Path) -> list[dict[str, Any]]:
    """The run's stages in order, with the score columns each one wrote (from the manifest)."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        return []
    return json.loads(manifest.read_text())["stages"]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def explain(row: dict[str, Any], stages: list[dict[str, Any]]) -> list[str]:
    """Lines that walk one audit row through the stage chain."""
    lines = [
        f"record  {row['record_id']}",
        f"url     {row['url']}",
        f"source  {row['shard']} @ byte {row['offset']}",
        f"status  {row['status'].upper()}"
        + (f" at {row['stage']}: {row['reason']}" if row["stage"] else ""),
    ]
    if row["stage"] == READ_STAGE:
        lines.append(f"  read        error  {row['reason']}: {row['detail']}")
        return lines
    reached = True
    for stage in stages:
        name = stage["name"]
        scores = ", ".join(
            f"{col}={_value(row[col])}" for col in stage["columns"] if row.get(col) is not None
        )
        if name == "language" and row.get("language"):
            scores = f"language={row['language']}, {scores}"
        if not reached:
            verdict = "not reached"
        elif row["stage"] == name:
            verdict = f"{row['status']}  {row['reason']}: {row['detail']}"
            reached = False
        else:
            verdict = "passed"
        lines.append(f"  {name:<11} {verdict}" + (f"  [{scores}]" if scores else ""))
    return lines


def optout_counts(out: Path, top: int = 10) -> dict[str, list[tuple[str, int]]] | None:
    """Opt-out removals counted by signal and by blocking agent, and the top blocking hosts."""
    folder = out / "audit"
    if not folder.is_dir():
        return None
    dataset = ds.dataset(folder, format="parquet")
    if "optout_signal" not in dataset.schema.names:
        return None
    table = dataset.to_table(
        columns=["host", "optout_signal", "robots_agents"],
        filter=pc.field("stage") == "opt_out",
    )
    signals: Counter[str] = Counter(table.column("optout_signal").to_pylist())
    agents: Counter[str] = Counter()
    for value in table.column("robots_agents").to_pylist():
        agents.update(value.split(",") if value else [])
    hosts: Counter[str] = Counter(table.column("host").to_pylist())
    return {
        "signal": sorted(signals.items(), key=lambda kv: (-kv[1], str(kv[0]))),
        "agent": sorted(agents.items(), key=lambda kv: (-kv[1], kv[0])),
        "host": hosts.most_common(top),
    }

"""Reading the audit back: why one record was dropped, or kept, and the whole run at a glance."""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from heed.curation.crawl.warc import READ_REASONS, READ_STAGE
from heed.curation.optout.robots import distinct_agents, product_token
from heed.curation.output import MANIFEST
from heed.curation.stage import Stage


def audit_dataset(out: str | Path) -> ds.Dataset:
    """The run's audit Parquet files as one dataset; FileNotFoundError if there is none."""
    out = Path(out)
    folder = out / "audit"
    if not folder.is_dir() or not any(folder.glob("part-*.parquet")):
        raise FileNotFoundError(f"no audit under {out}: is it a heed output folder?")
    return ds.dataset(sorted(folder.glob("part-*.parquet")), format="parquet")


def find_records(out: str | Path, key: str) -> list[dict[str, Any]]:
    """Audit rows whose record_id, url or host equals `key`, in shard and file order."""
    out = Path(out)
    dataset = audit_dataset(out)
    match = (pc.field("record_id") == key) | (pc.field("url") == key) | (pc.field("host") == key)
    rows = dataset.to_table(filter=match).to_pylist()
    return sorted(rows, key=lambda r: (r["shard"], r["offset"]))


def stage_columns(out: str | Path) -> list[dict[str, Any]]:
    """The run's stages in order, with the score columns each one wrote (from the manifest)."""
    out = Path(out)
    manifest = out / MANIFEST
    if not manifest.is_file():
        return []
    return json.loads(manifest.read_text())["stages"]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def explain_row(
    row: dict[str, Any], stages: list[dict[str, Any]], urls: dict[str, str] | None = None
) -> list[str]:
    """Lines that walk one audit row through the stage chain: each stage's verdict with the
    scores it recorded, the reason code's meaning, and the evidence (the detail). `urls` gives
    the URL of the document a duplicate duplicated (its `duplicate_of`)."""
    lines = [
        f"record  {row['record_id']}",
        f"url     {row['url']}",
        f"source  {row['shard']} @ byte {row['offset']}",
        f"status  {row['status'].upper()}"
        + (f" at {row['stage']}: {row['reason']}" if row["stage"] else ""),
    ]
    if row["stage"] == READ_STAGE:
        lines.append(f"  read        error  {row['reason']}: {row['detail']}")
        meaning = READ_REASONS.get(row["reason"] or "")
        if meaning:
            lines.append(f"              ({meaning})")
        return lines
    reached = True
    for stage in stages:
        name = stage["name"]
        scores = ", ".join(
            f"{col}={_value(row[col])}" for col in stage["columns"] if row.get(col) is not None
        )
        if name == "language" and row.get("language"):
            scores = f"language={row['language']}, {scores}"
        meaning = None
        if not reached:
            verdict = "not reached"
        elif row["stage"] == name:
            detail = row["detail"]
            original = row.get("duplicate_of")
            if original and urls and original in urls:
                detail = detail.replace(original, f"{original} ({urls[original]})", 1)
            verdict = f"{row['status']}  {row['reason']}: {detail}"
            meaning = reason_meaning(stage, row["reason"])
            reached = False
        else:
            verdict = "passed"
        lines.append(f"  {name:<11} {verdict}" + (f"  [{scores}]" if scores else ""))
        if meaning:
            lines.append(f"              ({meaning})")
    return lines


def explain(out: str | Path, key: str) -> list[str]:
    """Why each record with this record id, URL or host was dropped or kept: one text per
    record (what `heed audit explain` prints), in shard and offset order; [] when none."""
    out = Path(out)
    stages = stage_columns(out)
    rows = find_records(out, key)
    kept = sorted({row["duplicate_of"] for row in rows if row.get("duplicate_of")})
    urls = {}
    if kept:  # the copies that were kept, for the URL beside each duplicate's
        match = pc.field("record_id").isin(kept)
        found = audit_dataset(out).to_table(columns=["record_id", "url"], filter=match)
        urls = dict(zip(found["record_id"].to_pylist(), found["url"].to_pylist(), strict=True))
    return ["\n".join(explain_row(row, stages, urls)) for row in rows]


def reason_meaning(stage: dict[str, Any], code: str) -> str | None:
    """What a stage's reason code means, from the stage's class (named in the manifest)."""
    cls = _stage_class(stage.get("ref", ""))
    return cls.reason_meaning(code) if cls is not None else None


@functools.cache
def _stage_class(ref: str) -> type[Stage] | None:
    """The class a manifest names (cached: finding a plug-in reads the entry points)."""
    from heed.curation.config import ConfigError, stage_class

    try:
        return stage_class(ref)
    except ConfigError:  # a plug-in no longer installed: the code alone must do
        return None


def optout_counts(out: str | Path, top: int = 10) -> dict[str, list[tuple[str, int]]] | None:
    """Opt-out removals counted by signal and by blocking agent, and the top blocking hosts."""
    out = Path(out)
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
    # One count per product token and record: `CCBot`, `CCBot/2.0` and `CCBot/1.0` are one
    # crawler (RFC 9309 2.2.1), named as first written; audits before stage version 3 list all.
    names: dict[str, str] = {}
    for value in table.column("robots_agents").to_pylist():
        for agent in distinct_agents(value.split(",") if value else []):
            agents[names.setdefault(product_token(agent), agent)] += 1
    hosts: Counter[str] = Counter(table.column("host").to_pylist())
    return {
        "signal": sorted(signals.items(), key=lambda kv: (-kv[1], str(kv[0]))),
        "agent": sorted(agents.items(), key=lambda kv: (-kv[1], kv[0])),
        "host": hosts.most_common(top),
    }


def summary(out: str | Path) -> dict[str, Any]:
    """The run's funnel: per stage (in chain order) the records that reached it and what it
    dropped or failed, by reason and by language; and kept, dropped and error counts per
    language, per crawl and per shard, with tokens kept. Grouped in Arrow, so a million audit
    rows take well under a second."""
    out = Path(out)
    table = audit_dataset(out).to_table(
        columns=["crawl", "shard", "status", "stage", "reason", "language"]
    )
    records = table.num_rows
    table = table.append_column("n", pa.array(np.ones(records, np.int64)))

    def grouped(keys: list[str]) -> list[dict[str, Any]]:
        return table.group_by(keys).aggregate([("n", "sum")]).to_pylist()

    outcomes = grouped(["stage", "status", "reason", "language"])
    stages = [READ_STAGE] + [s["name"] for s in stage_columns(out)]
    for row in outcomes:  # stages a manifest does not name (a run still going) come last
        if row["stage"] and row["stage"] not in stages:
            stages.append(row["stage"])
    funnel: list[dict[str, Any]] = []
    reaching = records
    for stage in stages:
        here = [r for r in outcomes if r["stage"] == stage]
        entry: dict[str, Any] = {"stage": stage, "in": reaching, "dropped": {}, "error": {}}
        by_language: dict[str, int] = {}
        for row in sorted(here, key=lambda r: (r["status"], r["reason"] or "")):
            reasons = entry[row["status"]]
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["n_sum"]
            language = row["language"] or "-"
            by_language[language] = by_language.get(language, 0) + row["n_sum"]
        removed = sum(r["n_sum"] for r in here)
        entry["out"] = reaching - removed
        entry["by_language"] = dict(sorted(by_language.items(), key=lambda kv: (-kv[1], kv[0])))
        funnel.append(entry)
        reaching -= removed
    return {
        "records": records,
        "status": _counts(grouped(["status"]), "status"),
        "funnel": funnel,
        "clusters": _cluster_sizes(out),
        "languages": _by(grouped(["language", "status"]), "language", _tokens(out)),
        "crawls": _by(grouped(["crawl", "status"]), "crawl"),
        "shards": _by(grouped(["shard", "status"]), "shard"),
    }


CLUSTER_SIZES = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 100), (101, None))


def _cluster_sizes(out: Path) -> dict[str, int] | None:
    """Kept documents by the size of the duplicate cluster they stand for (dedup's
    `dedup_cluster_size`; None without a dedup stage): how much a weighting by cluster size
    would upsample."""
    dataset = audit_dataset(out)
    if "dedup_cluster_size" not in dataset.schema.names:
        return None
    sizes = dataset.to_table(columns=["dedup_cluster_size"], filter=pc.field("status") == "kept")[
        "dedup_cluster_size"
    ]
    values = np.asarray(sizes.fill_null(0).to_numpy(zero_copy_only=False))
    found = {}
    for low, high in CLUSTER_SIZES:
        label = str(low) if low == high else (f"{low}-{high}" if high else f"{low}+")
        inside = (values >= low) & (values <= (high or np.iinfo(np.int64).max))
        found[label] = int(inside.sum())
    return found


def _counts(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    return {row[key]: row["n_sum"] for row in sorted(rows, key=lambda r: r[key])}


def _by(
    rows: list[dict[str, Any]], key: str, tokens: dict[str, int] | None = None
) -> dict[str, dict[str, int]]:
    """{value: {records, kept, dropped, error[, tokens]}}, most records first."""
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        name = row[key] or "-"
        entry = table.setdefault(name, {"records": 0, "kept": 0, "dropped": 0, "error": 0})
        entry[row["status"]] += row["n_sum"]
        entry["records"] += row["n_sum"]
    if tokens is not None:
        for name, entry in table.items():
            entry["tokens"] = tokens.get(name, 0)
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["records"], kv[0])))


def _tokens(out: Path) -> dict[str, int]:
    """Tokens kept per language, from the documents' num_tokens."""
    files = sorted((out / "documents").glob("part-*.parquet"))
    if not files:
        return {}
    dataset = ds.dataset(files, format="parquet")
    if "num_tokens" not in dataset.schema.names:  # a pipeline without the tokenize stage
        return {}
    table = dataset.to_table(columns=["language", "num_tokens"])
    rows = table.group_by(["language"]).aggregate([("num_tokens", "sum")]).to_pylist()
    return {row["language"] or "-": row["num_tokens_sum"] for row in rows}


TABLES = ("audit", "documents", "tokens")


def sql(out: str | Path, query: str) -> pa.Table:
    """A DuckDB query over the run's Parquet files, as the tables `audit`, `documents` and
    `tokens` (views: nothing is loaded until the query reads it)."""
    out = Path(out)
    import duckdb

    connection = duckdb.connect()
    found = False
    for name in TABLES:
        files = sorted(str(p) for p in (out / name).glob("part-*.parquet"))
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}])")
            found = True
    if not found:
        raise FileNotFoundError(f"no audit, documents or tokens under {out}")
    try:
        return connection.sql(query).to_arrow_table()
    except duckdb.Error as exc:
        raise ValueError(f"SQL error: {exc}") from None

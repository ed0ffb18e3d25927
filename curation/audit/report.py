"""`heed report`: one self-contained HTML page for a run's output folder.

The page shows the run's header (crawl, config, records, kept, tokens), the funnel through the
stage chain, documents and tokens per language, a histogram of every numeric score column of
the audit with its threshold, the opt-out removals, and the errors. It reads only the audit
(through `heed.curation.audit.query`) and `manifest.json`, so it also renders a run that failed
or has not finished (without thresholds then).

Charts are inline SVG built here: no JavaScript, no external file, font or CDN, so the page
opens offline and can be mailed or archived as one file. Everything that comes from a crawled
page or the audit (URLs, hosts, reasons, details, languages, agents, crawl and shard names) is
HTML-escaped before it reaches the page, SVG text and attributes included: a host named
`<script>` must show as text. The page is a pure function of the folder (no clock, no
absolute output path), so two identical runs write identical reports.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from heed.common.files import write_atomic
from heed.curation.audit.query import audit_dataset, optout_counts, summary
from heed.curation.output import AUDIT_FIELDS, MANIFEST

REPORT = "report.html"
# The audit's fixed columns; every other column is a stage's score.
BASE_COLUMNS = frozenset(f.name for f in AUDIT_FIELDS)
STATUS_COLOURS = {"kept": "#4c78a8", "dropped": "#f58518", "error": "#d62728"}
TOKEN_COLOUR = "#54a24b"
HISTOGRAM_BINS = 40
BAR_ROWS = 30  # bars per chart; the tables below list every row
SHARD_ROWS = 200  # shards listed; a run over the whole crawl has tens of thousands
ERROR_EXAMPLES = 20

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
  max-width:1200px;margin:20px auto;padding:0 16px;background:#fff}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 4px}
table{border-collapse:collapse;margin:6px 0 12px}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f6f6f6;font-weight:600}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.wrap{overflow-wrap:anywhere;max-width:460px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:18px}
figure{margin:0}
figcaption{font-weight:600;margin-bottom:2px}
.note{color:#555;font-size:13px;margin:2px 0 8px}
.warn{background:#fff4e5;border-left:4px solid #f58518;padding:8px 12px;margin:10px 0}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 14px;vertical-align:0}
.reasons{font-size:13px}
.err{color:#b00}
dl.head{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.head dt{color:#555} dl.head dd{margin:0;font-variant-numeric:tabular-nums}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#333}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}
"""


def _e(value: Any) -> str:
    """HTML-escape anything shown on the page (quotes too: it may land in an attribute)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _n(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else _num(value)


def _num(value: float) -> str:
    """A short, stable rendering of a threshold or an axis tick."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _ticks(lo: float, hi: float, count: int = 6, integer: bool = False) -> list[float]:
    """Round axis ticks (steps of 1, 2 or 5 times a power of ten) between lo and hi."""
    raw = (hi - lo) / max(count - 1, 1) or 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _clip(text: str, limit: int) -> str:
    """Shorten before escaping, so an entity is never cut in half."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Markup(str):
    """HTML built here from escaped parts: `_table` inserts it as is."""


def _table(
    headers: list[str], rows: Iterable[list[Any]], numeric: set[int], attrs: str = ""
) -> str:
    """A table; cells are escaped unless given as `Markup`, columns in `numeric` right-aligned."""
    head = "".join(
        f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell if isinstance(cell, Markup) else _e(_n(cell) if _is_number(cell) else cell)
            cells.append(f'<td class="n">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _legend(keys: Iterable[tuple[str, str]]) -> str:
    return (
        '<div class="legend note">'
        + "".join(f'<span style="background:{c}"></span>{_e(k)}' for k, c in keys)
        + "</div>"
    )


# --- charts -------------------------------------------------------------------------------


def _bar_chart(
    rows: list[tuple[str, dict[str, int]]],
    series: list[tuple[str, str]],
    width: int = 560,
    label_width: int = 180,
) -> str:
    """Horizontal stacked bars, one row per label; the total is written at the bar's end."""
    if not rows:
        return '<p class="note">nothing to show</p>'
    row_height, top = 20, 4
    height = top + row_height * len(rows) + 4
    plot = width - label_width - 70
    most = max(sum(v.get(key, 0) for key, _ in series) for _, v in rows) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for i, (label, values) in enumerate(rows):
        y = top + i * row_height
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(_clip(label, 30))}</text>"
        )
        x = float(label_width)
        total = 0
        for key, colour in series:
            value = values.get(key, 0)
            total += value
            if value <= 0:
                continue
            w = value / most * plot
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.8):.1f}" height="{row_height - 6}"'
                f' fill="{colour}"><title>{_e(label)}: {_e(key)} {value:,}</title></rect>'
            )
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}">{total:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram_svg(
    edges: np.ndarray,
    stacks: dict[str, np.ndarray],
    threshold: float | None,
    column: str,
    integer: bool,
) -> str:
    """Vertical bars stacked by status over `edges`; the threshold as a dashed vertical line."""
    width, height = 560, 220
    left, right, top, bottom = 56, 14, 24, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = float(edges[0]), float(edges[-1])
    totals = sum(stacks.values())
    yticks = _ticks(0, max(int(totals.max()) if len(totals) else 0, 1), 4, integer=True)
    if yticks[-1] < totals.max():  # the top tick is the plot's top: round it up one step
        yticks.append(yticks[-1] + (yticks[1] - yticks[0] if len(yticks) > 1 else 1))
    ymax = yticks[-1]

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * plot_w

    def y(count: float) -> float:
        return top + plot_h - count / ymax * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram of {_e(column)}">'
    ]
    for tick in yticks:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#e6e6e6"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{_num(tick)}</text>'
        )
    for i in range(len(edges) - 1):
        bottom_count = 0.0
        x0, x1 = x(float(edges[i])), x(float(edges[i + 1]))
        counts = ", ".join(f"{k} {int(v[i]):,}" for k, v in stacks.items() if v[i])
        for status, values in stacks.items():
            count = float(values[i])
            if count <= 0:
                continue
            y0, y1 = y(bottom_count + count), y(bottom_count)
            parts.append(
                f'<rect x="{x0 + 0.5:.1f}" y="{y0:.1f}" width="{max(x1 - x0 - 1, 0.8):.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{STATUS_COLOURS[status]}">'
                f"<title>{_num(float(edges[i]))} to {_num(float(edges[i + 1]))}: "
                f"{_e(counts)}</title></rect>"
            )
            bottom_count += count
    base = top + plot_h
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="#888"/>')
    # An integer column with a bar per value gets ticks at whole values (the bars' centres).
    for value in _ticks(lo, hi, 7, integer=integer):
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{base}" y2="{base + 4}" '
            f'stroke="#888"/><text x="{x(value):.1f}" y="{base + 16}" '
            f'text-anchor="middle">{_num(value)}</text>'
        )
    if threshold is not None:
        tx = x(threshold)
        anchor = "end" if tx > left + plot_w * 0.7 else "start"
        shift = -4 if anchor == "end" else 4
        parts.append(
            f'<line class="threshold" x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 8}" y2="{base}" '
            f'stroke="#111" stroke-width="2" stroke-dasharray="5,3"/>'
            f'<text x="{tx + shift:.1f}" y="{top - 10 + 8}" text-anchor="{anchor}" '
            f'font-weight="600">threshold {_num(threshold)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- data ---------------------------------------------------------------------------------


def _read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _thresholds(manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{score column: {stage, value, by_language, quantile, cutoffs}} from the manifest."""
    if manifest is None:
        return {}
    params = {s["name"]: s.get("params", {}) for s in manifest.get("stages", [])}
    found: dict[str, dict[str, Any]] = {}
    for stage, columns in (manifest.get("thresholds") or {}).items():
        stage_params = params.get(stage, {})
        for column, entry in columns.items():
            found[column] = {
                "stage": stage,
                "value": entry.get("value"),
                "by_language": entry.get("by_language") or {},
                "quantile": 0.0,
                "cutoffs": {},
            }
        # Quantile cutoffs belong to the stage's one thresholded column (toxicity_score):
        # they replace the fixed threshold for the languages calibrated.
        quantile = stage_params.get("quantile") or 0.0
        if quantile > 0 and stage_params.get("cutoffs") and len(columns) == 1:
            column = next(iter(columns))
            found[column]["quantile"] = quantile
            found[column]["cutoffs"] = stage_params["cutoffs"]
    return found


def _chain_order(funnel: list[dict[str, Any]], schema: pa.Schema) -> list[dict[str, Any]]:
    """The funnel in stage-chain order for a run without a manifest.

    `summary()` knows the chain from the manifest; without one it lists only the stages that
    removed something, in no set order, so the records "reaching" each are wrong. Every audit
    file names its stages in chain order (`heed.stages`): reorder by that, add the stages that
    removed nothing, and count again."""
    raw = (schema.metadata or {}).get(b"heed.stages")
    if not raw or not funnel:
        return funnel
    by_stage = {entry["stage"]: entry for entry in funnel}
    first = funnel[0]["stage"]  # the reader's stage, before the chain
    order = [first] + [s for s in json.loads(raw) if s != first]
    order += [s for s in by_stage if s not in order]
    reaching = funnel[0]["in"]
    chained = []
    for stage in order:
        entry = by_stage.get(stage, {"stage": stage, "dropped": {}, "error": {}, "by_language": {}})
        removed = sum(entry["dropped"].values()) + sum(entry["error"].values())
        chained.append({**entry, "in": reaching, "out": reaching - removed})
        reaching -= removed
    return chained


def _score_columns(schema: pa.Schema) -> list[str]:
    """The audit's numeric columns other than the fixed ones, in schema (= stage) order."""
    return [
        f.name
        for f in schema
        if f.name not in BASE_COLUMNS
        and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]


def _histogram(
    values: np.ndarray, statuses: np.ndarray, integer: bool, threshold: float | None
) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """Bin edges, counts per status, and a note on how the range was cut."""
    lo, hi = float(values.min()), float(values.max())
    note = ""
    # A long tail (a few pages of 100k characters) would squeeze everything else into the
    # first bar: cut the range at the 99th percentile and count the rest in the last bar.
    p99 = float(np.percentile(values, 99))
    if values.size >= 50 and hi - lo > 4 * (p99 - lo) and p99 > lo:
        beyond = int((values > p99).sum())
        note = f"{beyond:,} values above {_num(p99)} (up to {_num(hi)}) are in the last bar"
        hi = p99
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    if integer and hi - lo <= 60:
        edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0, 1.0)
    else:
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    clipped = np.clip(values, edges[0], edges[-1])
    stacks = {}
    for status in STATUS_COLOURS:
        chosen = clipped[statuses == status]
        if chosen.size:
            stacks[status] = np.histogram(chosen, bins=edges)[0]
    return edges, stacks, note


def _errors(dataset: ds.Dataset) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Error records counted by stage and reason, and the first few of them (shard order)."""
    table = dataset.to_table(
        columns=["shard", "offset", "stage", "reason", "detail", "host", "url"],
        filter=pc.field("status") == "error",
    )
    if table.num_rows == 0:
        return [], []
    counted = table.group_by(["stage", "reason"]).aggregate([("offset", "count")]).to_pylist()
    kinds = sorted(counted, key=lambda r: (-r["offset_count"], str(r["stage"]), str(r["reason"])))
    first = table.sort_by([("shard", "ascending"), ("offset", "ascending")])
    return kinds, first.slice(0, ERROR_EXAMPLES).to_pylist()


# --- sections -----------------------------------------------------------------------------


def _header(out_summary: dict[str, Any], manifest: dict[str, Any] | None) -> str:
    status = out_summary["status"]
    items: list[tuple[str, str]] = []
    if manifest is not None:
        config = manifest.get("config", {})
        totals = manifest.get("totals", {})
        items += [
            ("crawl", _e(_crawls(config.get("crawl")))),
            ("config", _e(config.get("name"))),
            ("records", _e(_n(totals.get("records", out_summary["records"])))),
            ("kept", _e(_n(status.get("kept", 0)))),
            ("tokens", _e(_n(totals.get("tokens", 0)))),
        ]
        shards = len(manifest.get("inputs", []))
    else:
        tokens = sum(v.get("tokens", 0) for v in out_summary["languages"].values())
        items += [
            ("crawl", _e(", ".join(out_summary["crawls"]))),
            ("config", "unknown (no manifest)"),
            ("records", _e(_n(out_summary["records"]))),
            ("kept", _e(_n(status.get("kept", 0)))),
            ("tokens", _e(_n(tokens)) + " (in the documents written so far)"),
        ]
        shards = len(out_summary["shards"])
    items += [
        ("dropped", _e(_n(status.get("dropped", 0)))),
        ("errors", _e(_n(status.get("error", 0)))),
        ("shards", _e(_n(shards))),
    ]
    head = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    text = f'<h1>heed run report</h1><dl class="head">{head}</dl>'
    if manifest is None:
        text += (
            '<p class="warn">No manifest.json in this folder: the run failed or has not '
            "finished. The counts cover the shards written so far, and the thresholds are "
            "unknown, so the histograms draw none.</p>"
        )
    return text


def _funnel(out_summary: dict[str, Any]) -> str:
    funnel = out_summary["funnel"]
    rows = [
        (
            entry["stage"],
            {
                "passed": entry["out"],
                "dropped": sum(entry["dropped"].values()),
                "error": sum(entry["error"].values()),
            },
        )
        for entry in funnel
    ]
    series = [
        ("passed", STATUS_COLOURS["kept"]),
        ("dropped", STATUS_COLOURS["dropped"]),
        ("error", STATUS_COLOURS["error"]),
    ]
    table_rows = []
    for entry in funnel:
        reasons = [
            f"{_e(reason)}&nbsp;{n:,}"
            for reason, n in sorted(entry["dropped"].items(), key=lambda kv: (-kv[1], kv[0]))
        ] + [
            f'<span class="err">{_e(reason)}&nbsp;{n:,}&nbsp;(error)</span>'
            for reason, n in sorted(entry["error"].items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        table_rows.append(
            [
                entry["stage"],
                entry["in"],
                sum(entry["dropped"].values()),
                sum(entry["error"].values()),
                entry["out"],
                Markup(f'<span class="reasons">{" · ".join(reasons)}</span>'),
            ]
        )
    return (
        "<h2>Funnel</h2>"
        '<p class="note">Records reaching each stage in chain order, and what it removed.</p>'
        + _legend(series)
        + _bar_chart(rows, series, width=760, label_width=150)
        + _table(
            ["stage", "reaching", "dropped", "errors", "passed", "by reason"],
            table_rows,
            {1, 2, 3, 4},
            ' id="funnel"',
        )
    )


def _duplicates(out_summary: dict[str, Any]) -> str:
    """Removals by kind of duplicate and language, and the kept documents by cluster size."""
    clusters = out_summary.get("clusters")
    step = next((s for s in out_summary["funnel"] if s["stage"] == "dedup"), None)
    if clusters is None or step is None:
        return ""
    kinds = [[reason, n] for reason, n in sorted(step["dropped"].items())]
    languages = [[lang, n] for lang, n in step["by_language"].items()]
    sizes = [(size, {"kept": n}) for size, n in clusters.items()]
    return (
        "<h2>Duplicates</h2>"
        '<p class="note">Removed by dedup, by kind and by language; kept documents by the size '
        "of the duplicate cluster each stands for (dedup_cluster_size).</p>"
        '<div class="grid"><div>'
        + _table(["kind", "removed"], kinds, {1})
        + _table(["language", "removed"], languages, {1})
        + "</div><figure><figcaption>kept documents by cluster size</figcaption>"
        + _bar_chart(sizes, [("kept", STATUS_COLOURS["kept"])])
        + "</figure></div>"
    )


def _languages(out_summary: dict[str, Any]) -> str:
    languages = out_summary["languages"]
    total_tokens = sum(v.get("tokens", 0) for v in languages.values()) or 1
    shown = list(languages.items())[:BAR_ROWS]
    docs = [(lang, {k: v[k] for k in STATUS_COLOURS}) for lang, v in shown]
    by_tokens = sorted(languages.items(), key=lambda kv: (-kv[1].get("tokens", 0), kv[0]))
    tokens = [(lang, {"tokens": v.get("tokens", 0)}) for lang, v in by_tokens[:BAR_ROWS]]
    more = (
        f'<p class="note">The charts show the first {BAR_ROWS} of {len(languages)} '
        "languages; the table lists all.</p>"
        if len(languages) > BAR_ROWS
        else ""
    )
    rows = [
        [
            lang,
            v["records"],
            v["kept"],
            v["dropped"],
            v["error"],
            v.get("tokens", 0),
            f"{100 * v.get('tokens', 0) / total_tokens:.1f}%",
        ]
        for lang, v in languages.items()
    ]
    return (
        "<h2>Languages</h2>"
        '<p class="note">"-": records removed before language identification.</p>'
        + '<div class="grid"><figure><figcaption>documents</figcaption>'
        + _legend(STATUS_COLOURS.items())
        + _bar_chart(docs, list(STATUS_COLOURS.items()))
        + "</figure><figure><figcaption>tokens kept</figcaption>"
        + _legend([("tokens", TOKEN_COLOUR)])
        + _bar_chart(tokens, [("tokens", TOKEN_COLOUR)])
        + "</figure></div>"
        + more
        + _table(
            ["language", "records", "kept", "dropped", "errors", "tokens", "share of tokens"],
            rows,
            {1, 2, 3, 4, 5, 6},
            ' id="languages"',
        )
    )


def _scores(dataset: ds.Dataset, thresholds: dict[str, dict[str, Any]], have_manifest: bool) -> str:
    columns = _score_columns(dataset.schema)
    if not columns:
        return '<h2>Scores</h2><p class="note">The audit has no numeric score column.</p>'
    table = dataset.to_table(columns=[*columns, "status"])
    statuses_all = table.column("status").to_numpy(zero_copy_only=False)
    figures = []
    for column in columns:
        data = table.column(column)
        integer = pa.types.is_integer(data.type)
        statuses = statuses_all
        if data.null_count:  # a null: the stage never ran on the record
            statuses = statuses[pc.is_valid(data).to_numpy(zero_copy_only=False)]
        values = data.drop_null().to_numpy(zero_copy_only=False).astype(np.float64)
        if not integer:  # NaN scores carry no position on the axis
            finite = np.isfinite(values)
            values, statuses = values[finite], statuses[finite]
        found = thresholds.get(column)
        threshold = None if found is None or found["value"] is None else float(found["value"])
        caption = f"<figcaption>{_e(column)}</figcaption>"
        if values.size == 0:
            figures.append(
                f'<figure class="hist" data-column="{_e(column)}">{caption}'
                '<p class="note">no values (the stage never ran on a record)</p></figure>'
            )
            continue
        edges, stacks, note = _histogram(values, statuses, integer, threshold)
        stats = (
            f"{values.size:,} values, {data.null_count:,} null; min {_num(values.min())}, "
            f"median {_num(float(np.median(values)))}, max {_num(values.max())}"
        )
        notes = [stats] + ([note] if note else [])
        if found is not None:
            notes.append(
                f"threshold {_e(_num(threshold))} from stage {_e(found['stage'])}"
                if threshold is not None
                else f"no global threshold in stage {_e(found['stage'])}"
            )
            overrides = found["by_language"]
            if overrides:
                listed = ", ".join(
                    f"{_e(lang)}&nbsp;{_e(_num(float(v)))}" for lang, v in sorted(overrides.items())
                )
                notes.append(f"per-language thresholds: {listed}")
            if found["cutoffs"]:
                listed = ", ".join(
                    f"{_e(lang)}&nbsp;{_e(_num(float(cut[0])))}"
                    for lang, cut in sorted(found["cutoffs"].items())
                )
                notes.append(
                    f"quantile cutoffs (top {found['quantile']:.0%} per language dropped, "
                    f"other languages by the threshold): {listed}"
                )
        elif not have_manifest:
            notes.append("threshold unknown (no manifest)")
        figures.append(
            f'<figure class="hist" data-column="{_e(column)}">{caption}'
            + _histogram_svg(edges, stacks, threshold, column, integer)
            + "".join(f'<p class="note">{n}</p>' for n in notes)
            + "</figure>"
        )
    return (
        "<h2>Scores</h2>"
        '<p class="note">Every numeric score column of the audit, over the records the stage '
        "scored (null where a record never reached it), by final status. The dashed line is "
        "the stage's global threshold.</p>"
        + _legend(STATUS_COLOURS.items())
        + f'<div class="grid">{"".join(figures)}</div>'
    )


def _optout(out: Path) -> str:
    counts = optout_counts(out)
    if counts is None:
        return '<h2>Opt-out</h2><p class="note">This run has no opt-out stage.</p>'
    removed = sum(n for _, n in counts["signal"])
    agents = [(str(a), {"records": n}) for a, n in counts["agent"][:BAR_ROWS]]
    signals = [(str(s), {"records": n}) for s, n in counts["signal"]]
    colour = [("records", STATUS_COLOURS["dropped"])]
    hosts = _table(
        ["host", "records removed"], [[h, n] for h, n in counts["host"]], {1}, ' id="optout-hosts"'
    )
    return (
        "<h2>Opt-out</h2>"
        f'<p class="note">{removed:,} records removed. A record counts once for each agent its '
        "robots.txt refuses, so the agents add up to more than the robots removals.</p>"
        '<div class="grid"><figure><figcaption>by agent</figcaption>'
        + _bar_chart(agents, colour)
        + "</figure><figure><figcaption>by signal</figcaption>"
        + _bar_chart(signals, colour)
        + "</figure></div><h3>top blocking hosts</h3>"
        + hosts
    )


def _error_section(dataset: ds.Dataset) -> str:
    kinds, first = _errors(dataset)
    if not kinds:
        return '<h2>Errors</h2><p class="note">No record failed.</p>'
    total = sum(k["offset_count"] for k in kinds)
    return (
        "<h2>Errors</h2>"
        f'<p class="note">Records failed (status error), by stage and reason: {total:,}.</p>'
        + _table(
            ["stage", "reason", "records"],
            [[k["stage"], k["reason"], k["offset_count"]] for k in kinds],
            {2},
            ' id="errors"',
        )
        + f"<h3>the first {len(first)} of them</h3>"
        + _table(
            ["stage", "reason", "host", "url", "detail"],
            [
                [
                    r["stage"],
                    r["reason"],
                    r["host"],
                    Markup(f'<span class="wrap">{_e(r["url"])}</span>'),
                    Markup(f'<span class="wrap">{_e(_clip(r["detail"] or "", 400))}</span>'),
                ]
                for r in first
            ],
            set(),
        )
    )


def _sources(out_summary: dict[str, Any], manifest: dict[str, Any] | None) -> str:
    columns = ["records", "kept", "dropped", "error"]
    crawls = [[name, *(v[c] for c in columns)] for name, v in out_summary["crawls"].items()]
    # The shards with errors first: those are the ones worth a look.
    shards = sorted(out_summary["shards"].items(), key=lambda kv: (-kv[1]["error"], kv[0]))
    more = (
        f'<p class="note">{len(shards) - SHARD_ROWS:,} more shards not listed.</p>'
        if len(shards) > SHARD_ROWS
        else ""
    )
    text = (
        "<h2>Crawls and shards</h2>"
        + _table(["crawl", *columns], crawls, {1, 2, 3, 4})
        + f"<details><summary>{len(shards):,} shards</summary>"
        + _table(
            ["shard", *columns],
            [[name, *(v[c] for c in columns)] for name, v in shards[:SHARD_ROWS]],
            {1, 2, 3, 4},
        )
        + more
        + "</details>"
    )
    if manifest is not None:
        config = json.dumps(manifest.get("config", {}), indent=2, sort_keys=True)
        text += f"<details><summary>config</summary><pre>{_e(config)}</pre></details>"
    return text


def _crawls(crawl: str | list[str] | None) -> str:
    """A config's crawl, or its crawls, as text."""
    return ", ".join(crawl) if isinstance(crawl, list) else str(crawl or "")


def render_report(out: Path) -> str:
    """The whole HTML page for the output folder `out` (FileNotFoundError without an audit)."""
    out = Path(out)
    dataset = audit_dataset(out)
    out_summary = summary(out)
    manifest = _read_manifest(out)
    if manifest is None:
        out_summary["funnel"] = _chain_order(out_summary["funnel"], dataset.schema)
    title = "heed report"
    if manifest is not None:
        config = manifest.get("config", {})
        title = f"heed report: {config.get('name', '')} {_crawls(config.get('crawl'))}".strip()
    body = [
        _header(out_summary, manifest),
        _funnel(out_summary),
        _languages(out_summary),
        _duplicates(out_summary),
        _scores(dataset, _thresholds(manifest), manifest is not None),
        _optout(out),
        _error_section(dataset),
        _sources(out_summary, manifest),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(out: Path, path: Path | None = None) -> Path:
    """Render the report of `out` to `path` (default `out/report.html`) under a temporary name
    renamed into place, so a reader never sees half a page; returns the path. The same page
    already there is left alone (a rerun of a finished run rewrites nothing)."""
    out = Path(out)
    path = Path(path) if path is not None else out / REPORT
    page = render_report(out)
    if path.is_file() and path.read_text(encoding="utf-8") == page:
        return path
    write_atomic(path, page)
    return path

"""`heed audit ...` and `heed report`: reading a run's audit from the command line. What is asked
for (explanations, tables, SQL results, JSON) goes to stdout; messages go to stderr."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from heed.common.console import data, messages


def cmd_audit_explain(args: argparse.Namespace) -> int:
    from heed.curation.audit.query import explain

    found = explain(args.out, args.key)
    if not found:
        messages.print(
            escape(f"no audit row has record_id, url or host {args.key!r} in {args.out}")
        )
        return 1
    print("\n\n".join(found))
    return 0


def summary_tables(summary: dict[str, Any], top: int = 15) -> list[Table]:
    """`heed audit summary` as tables: the funnel, then stage x language (the languages with
    most removals), then per crawl and per shard."""
    funnel = Table(title=f"funnel: {summary['records']:,} records")
    for column in ("stage", "in", "dropped", "error", "out", "by reason"):
        funnel.add_column(column, justify="left" if column in ("stage", "by reason") else "right")
    for step in summary["funnel"]:
        dropped, errors = sum(step["dropped"].values()), sum(step["error"].values())
        reasons = {**step["dropped"], **{f"error:{k}": v for k, v in step["error"].items()}}
        text = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        funnel.add_row(
            step["stage"], f"{step['in']:,}", f"{dropped:,}", f"{errors:,}", f"{step['out']:,}",
            escape(text),
        )  # fmt: skip
    tables = [funnel]
    removing = [s for s in summary["funnel"] if s["by_language"] and s["stage"] != "read"]
    languages = [name for name in summary["languages"] if name != "-"][:top]
    if removing and languages:
        matrix = Table(title=f"removed per language x stage (the {len(languages)} largest)")
        matrix.add_column("language")
        for step in removing:
            matrix.add_column(step["stage"], justify="right")
        unlabelled = ["-"] if "-" in summary["languages"] else []
        for language in languages + unlabelled:
            name = "(none yet)" if language == "-" else escape(language)
            matrix.add_row(name, *(f"{s['by_language'].get(language, 0):,}" for s in removing))
        tables.append(matrix)
    if summary.get("clusters"):
        clusters = Table(title="kept documents by the size of their duplicate cluster")
        clusters.add_column("cluster size")
        clusters.add_column("kept", justify="right")
        for size, n in summary["clusters"].items():
            clusters.add_row(size, f"{n:,}")
        tables.append(clusters)
    for key, title in (("languages", "per language"), ("crawls", "per crawl"),
                       ("shards", "per shard")):  # fmt: skip
        table = Table(title=title)
        rows = list(summary[key].items())
        columns = ["records", "kept", "dropped", "error"] + (
            ["tokens"] if key == "languages" else []
        )
        table.add_column(key[:-1])
        for column in columns:
            table.add_column(column, justify="right")
        for name, entry in rows[: top if key == "shards" else None]:
            table.add_row(escape(name), *(f"{entry[c]:,}" for c in columns))
        if key == "shards" and len(rows) > top:
            table.caption = f"{len(rows) - top:,} more shards (--json lists all)"
        tables.append(table)
    return tables


def cmd_audit_summary(args: argparse.Namespace) -> int:
    from heed.curation.audit.query import summary

    found = summary(Path(args.out))
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    for table in summary_tables(found):
        data.print(table)
    return 0


def cmd_audit_sql(args: argparse.Namespace) -> int:
    from heed.curation.audit.query import sql

    try:
        table = sql(Path(args.out), args.query)
    except ValueError as exc:  # the query's own error, as DuckDB words it
        messages.print(f"[red]{escape(str(exc))}[/red]")
        return 2
    if args.format == "json":
        print(json.dumps(table.to_pylist(), indent=2, ensure_ascii=False, default=str))
    elif args.format == "csv":
        import pyarrow.csv

        sink = pyarrow.BufferOutputStream()
        pyarrow.csv.write_csv(table, sink)
        sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
    else:
        shown = Table(caption=f"{table.num_rows:,} rows" + (
            f" (first {args.limit} shown; --format csv for all)" if table.num_rows > args.limit
            else ""))  # fmt: skip
        for name in table.column_names:
            shown.add_column(escape(name))
        for row in table.slice(0, args.limit).to_pylist():
            shown.add_row(*(escape("" if v is None else str(v)) for v in row.values()))
        data.print(shown)
    return 0


def cmd_audit_rethreshold(args: argparse.Namespace) -> int:
    from heed.curation.audit.rethreshold import DIFF, rethreshold

    counts = rethreshold(Path(args.out), args.set, Path(args.new))
    messages.print(
        escape(
            f"{counts['records']:,} records decided again: kept {counts['kept_before']:,} -> "
            f"{counts['kept_after']:,}; newly dropped {counts['newly_dropped']:,}, dropped at "
            f"another stage {counts['moved']:,}, would pass but were never processed past the "
            f"stage that dropped them {counts['would_pass']:,} (rerun heed corpus to take "
            f"them in). What changed: {Path(args.new) / DIFF}"
        )
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from heed.curation.audit.report import write_report

    path = write_report(Path(args.out), Path(args.output) if args.output else None)
    messages.print(escape(f"report: {path}"))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="read a run's audit: why a record went, the funnel")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    explain = audit_commands.add_parser(
        "explain", help="why one record (by URL, record id or host) was dropped or kept"
    )
    explain.add_argument("out", help="a heed output folder")
    explain.add_argument("key", help="a URL, a WARC-Record-ID or a host")
    explain.set_defaults(func=cmd_audit_explain)
    summary = audit_commands.add_parser(
        "summary", help="the funnel per stage x language, per crawl and per shard"
    )
    summary.add_argument("out", help="a heed output folder")
    summary.add_argument("--json", action="store_true", help="print the numbers as JSON")
    summary.set_defaults(func=cmd_audit_summary)
    query = audit_commands.add_parser(
        "sql", help="SQL (DuckDB) over the run's tables: audit, documents, tokens"
    )
    query.add_argument("out", help="a heed output folder")
    query.add_argument("query", help='e.g. "SELECT language, count(*) FROM documents GROUP BY 1"')
    query.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="default: table"
    )
    query.add_argument("--limit", type=int, default=50, help="rows shown as a table (default: 50)")
    query.set_defaults(func=cmd_audit_sql)
    again = audit_commands.add_parser(
        "rethreshold",
        help="decide again from the stored scores with new thresholds; write the new kept set",
    )
    again.add_argument("out", help="a finished heed output folder")
    again.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="STAGE.PARAM[.LANGUAGE]=VALUE",
        help="e.g. toxicity.threshold.eng_Latn=0.02 or language.min_score=0.7 (repeatable)",
    )
    again.add_argument("--out", dest="new", required=True, help="the new folder to write")
    again.set_defaults(func=cmd_audit_rethreshold)

    report = commands.add_parser("report", help="one self-contained HTML page for a run")
    report.add_argument("out", help="a heed output folder")
    report.add_argument("-o", "--output", help="the HTML file (default: OUT/report.html)")
    report.set_defaults(func=cmd_report)

"""The `heed` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from heed.curation.config import ConfigError, PipelineConfig
from heed.curation.crawl.listing import (
    SELECTION_HELP,
    WARC_LISTING,
    Listing,
    Shard,
    read_listing,
    select,
    select_shards,
)
from heed.curation.run import calibrate, executors
from heed.curation.run.manifest import build_manifest, stages_digest, write_manifest
from heed.curation.run.output import failure_path, read_failures, read_marker, write_json_atomic
from heed.curation.stage import RunContext, Stage
from heed.filters import registry

# soft_wrap: messages and paths stay on one line, whatever the terminal width.
console = Console(stderr=True, soft_wrap=True)


class BarProgress(executors.Progress):
    """Two bars: shards finished (of the selection) and records processed."""

    def __init__(self, bar: Progress, shards: int) -> None:
        self.bar = bar
        self.shard_task = bar.add_task("shards", total=shards)
        self.record_task = bar.add_task("records", total=None)

    def records(self, n: int) -> None:
        self.bar.advance(self.record_task, n)

    def shard_done(self, marker: dict[str, Any]) -> None:
        self.bar.advance(self.shard_task)

    def shard_failed(self, shard: Shard, error: str) -> None:
        self.bar.advance(self.shard_task)
        console.print(f"[red]shard {escape(shard.path)} failed:[/red] {escape(error)}")


def summarize(markers: list[dict[str, Any]], failed: dict[str, str], stages: list[str]) -> Table:
    outcomes: Counter[str] = Counter()
    for marker in markers:
        outcomes.update(marker["outcomes"])
    records = sum(outcomes.values())
    table = Table(title="heed corpus", show_lines=False)
    table.add_column("step")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    table.add_column("share", justify="right")

    def row(step: str, what: str, n: int) -> None:
        table.add_row(step, what, f"{n:,}", f"{100 * n / records:.1f}%" if records else "-")

    row("read", "response records in", records)
    for stage in ["read", *stages]:
        for status in ("error", "dropped"):
            prefix = f"{status}:{stage}:"
            for key, n in sorted(outcomes.items()):
                if key.startswith(prefix):
                    row(stage, f"{status}: {key[len(prefix) :]}", n)
    kept = sum(n for key, n in outcomes.items() if key.startswith("kept:"))
    row("all", "kept", kept)
    tokens = sum(m["tokens"] for m in markers)
    table.add_row("tokenize", "tokens", f"{tokens:,}", "")
    done = sum(not m.get("skipped") for m in markers)
    table.caption = (
        f"{len(markers)} shards complete ({done} run now, {len(markers) - done} already done)"
        + (f", {len(failed)} FAILED" if failed else "")
    )
    return table


def timing_table(markers: list[dict[str, Any]]) -> Table | None:
    """Records per second of each stage, per worker, over the shards run now."""
    totals: dict[str, list[float]] = {}
    for marker in markers:
        for name, t in marker.get("timings", {}).items():
            entry = totals.setdefault(name, [0, 0.0])
            entry[0] += t["records"]
            entry[1] += t["seconds"]
    if not totals:
        return None
    table = Table(title="time per stage (summed over workers)")
    for column in ("stage", "records", "seconds", "records/s", "share"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    whole = sum(seconds for _, seconds in totals.values()) or 1.0
    for name, (records, seconds) in totals.items():
        rate = f"{records / seconds:,.0f}" if seconds else "-"
        table.add_row(name, f"{records:,}", f"{seconds:.2f}", rate, f"{100 * seconds / whole:.1f}%")
    return table


def optout_table(out: Path, top: int = 10) -> Table | None:
    """Opt-out removals by signal, by blocking agent, and the hosts that removed the most."""
    from heed.curation.audit.query import optout_counts

    counts = optout_counts(out, top)
    if counts is None:
        return None
    table = Table(title="opt-out removals")
    table.add_column("by")
    table.add_column("what")
    table.add_column("records", justify="right")
    for by in ("signal", "agent", "host"):
        for what, n in counts[by]:
            table.add_row(by, what, f"{n:,}")
    return table


def cmd_robots_build(args: argparse.Namespace) -> int:
    from heed.curation.optout.snapshot import build_snapshot, captures_from_crawl, captures_from_dir

    # A URL stays as given; a folder is made absolute.
    root = args.crawl_root if "://" in args.crawl_root else str(Path(args.crawl_root).resolve())
    hosts = None
    if args.hosts_from_crawl:
        from heed.curation.optout.snapshot import crawl_hosts

        hosts = crawl_hosts(root, args.hosts_from_crawl, select_shards(root, args.hosts_from_crawl))
    elif args.hosts:
        lines = Path(args.hosts).read_text(encoding="utf-8").splitlines()
        hosts = {
            line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
        }
    if args.from_crawl:
        read_listing(root, args.from_crawl)  # a ConfigError naming the crawls there if missing
        captures = captures_from_crawl(root, args.from_crawl)
        sources = [f"crawl:{args.from_crawl}"]
    elif args.from_dir:
        captures = captures_from_dir(Path(args.from_dir), args.captured_at)
        sources = [f"dir:{Path(args.from_dir).resolve()}"]
    else:
        from heed.curation.optout.live import fetch_many
        from heed.curation.optout.snapshot import Capture

        if hosts is None:
            raise ConfigError(
                "--live needs --hosts FILE or --hosts-from-crawl CRAWL: the hosts to fetch from"
            )
        results = fetch_many(
            sorted(hosts), allow_private=args.allow_private, scheme=args.scheme, port=args.port
        )
        captures = (
            Capture.of(
                r.host,
                r.scheme,
                r.status,
                r.fetched_at,
                r.body,
                f"live:{r.url}" + (f" ({r.error})" if r.error else ""),
                r.tdmrep,
            )
            for r in results
        )
        sources = ["live"]
    meta = build_snapshot(Path(args.out), captures, sources, hosts=hosts, buckets=args.buckets)
    console.print(
        escape(
            f"robots snapshot {meta['id']}: {meta['hosts']:,} hosts in {args.out} "
            f"({meta['buckets']} buckets; from {', '.join(sources)})"
        )
    )
    return 0


@dataclass
class PipelineRun:
    """What `run_pipeline` did: the stages built, the listing read, the selected shards,
    the markers of those done (before or now), and this run's result."""

    stages: list[Stage]
    listing: Listing
    shards: list[Shard]
    markers: list[dict[str, Any]]
    result: executors.RunResult

    @property
    def complete(self) -> bool:
        return len(self.markers) == len(self.shards) and not self.result.failed


def run_pipeline(
    config: PipelineConfig,
    out: Path,
    executor: str,
    ray_address: str | None,
    what: str,
    retry_failed: bool = False,
) -> PipelineRun:
    """Run the config's shards not yet done in `out` (with `retry_failed`, only those that
    failed before), with progress bars; failures are recorded in `out/failed/`."""
    listing = read_listing(config.crawl_root, config.crawl, WARC_LISTING, config.fetch_options())
    shards = select(listing.paths, config.shards)
    out.mkdir(parents=True, exist_ok=True)
    finished = {s.index: read_marker(out, s.part) for s in shards}
    todo = [s for s in shards if finished[s.index] is None]
    if retry_failed:
        failures = read_failures(out)
        todo = [s for s in todo if s.part in failures]
    console.print(
        escape(
            f"heed {what}: {config.crawl} from {config.crawl_root}: {len(shards)} of "
            f"{len(listing.paths)} listed shards ({len(shards) - len(todo)} already done"
            + (", retrying the failed ones only" if retry_failed else "")
            + f") -> {out} (executor: {executor})"
        )
    )
    result = executors.RunResult()
    stages = config.build_stages()
    context = RunContext(config.crawl_root, config.crawl, str(out), config.fetch_options())
    for stage in stages:
        stage.prepare(context)
    digest = stages_digest(config, stages)
    other = [m["shard"] for m in finished.values() if m and m.get("stages_sha256") != digest]
    if other:
        raise ConfigError(
            f"{out} holds {len(other)} shard(s) made with other stage settings or models "
            f"(e.g. {other[0]}); write to a new --out, or delete {out} to redo them"
        )
    if todo:
        columns = (
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            done = sum(marker is not None for marker in finished.values())
            progress = BarProgress(bar, done + len(todo))
            bar.advance(progress.shard_task, done)
            result = executors.run(executor, config, todo, out, progress, ray_address)
    by_path = {s.path: s for s in todo}
    for path, error in result.failed.items():
        shard = by_path[path]
        record = {"shard": path, "index": shard.index, "error": error, "failed_at": _now()}
        write_json_atomic(failure_path(out, shard.part), record)
    markers = [
        {**marker, "skipped": True} for marker in finished.values() if marker is not None
    ] + result.markers
    markers.sort(key=lambda m: m["index"])
    return PipelineRun(stages, listing, shards, markers, result)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_failures(run: PipelineRun, out: Path, command: str) -> int:
    """The failed shards and how to retry them; the exit status (1 if any failed or are
    still to do)."""
    failed = run.result.failed
    if failed:
        console.print(f"[red]{len(failed)} shard(s) failed:[/red]")
        for path, error in sorted(failed.items()):
            console.print(f"  {escape(path)}: {escape(error)}")
        console.print(escape(f"retry them: heed {command} ... --out {out} --retry-failed"))
    elif not run.complete:
        left = len(run.shards) - len(run.markers)
        console.print(escape(f"{left} shard(s) not done yet; run again without --retry-failed"))
    return 0 if run.complete else 1


def cmd_corpus(args: argparse.Namespace) -> int:
    config = PipelineConfig.load(
        args.config, crawl_root=args.crawl_root, crawl=args.crawl, shards=args.shards
    )
    out = Path(args.out) if args.out else Path("out") / config.name
    config, calibration = calibrate.apply(config, out)
    started = time.monotonic()
    run = run_pipeline(config, out, args.executor, args.ray_address, "corpus", args.retry_failed)
    if run.complete:
        manifest = build_manifest(config, run.stages, run.markers, calibration, run.listing)
        write_manifest(out, manifest)
    console.print(summarize(run.markers, run.result.failed, [s.name for s in run.stages]))
    if run.markers:
        from heed.curation.audit.report import write_report

        report = write_report(out)  # also after failures: what is done so far
        console.print(escape(f"report: {report}"))
    timings = timing_table(run.result.markers)
    if timings is not None:
        console.print(timings)
    optout = optout_table(out)
    if optout is not None:
        console.print(optout)
    console.print(escape(f"outputs in {out}  ({time.monotonic() - started:.1f}s)"))
    return report_failures(run, out, "corpus")


def calibration_table(calibration: dict[str, Any]) -> Table:
    table = Table(title="heed calibrate: per-language cutoffs")
    for column in ("stage", "language", "documents", "cutoff", "drop rate", "note"):
        table.add_column(
            column, justify="right" if column in ("documents", "drop rate") else "left"
        )
    for name, stage in calibration["stages"].items():
        for language, entry in stage["languages"].items():
            documents = f"{entry['documents']:,}"
            if not entry["calibrated"]:
                table.add_row(name, language, documents, "-", "-", escape(f"{entry['why']}: fixed"))
            elif entry["cutoff"] is None:
                table.add_row(name, language, documents, "-", "0.0%", "quantile drops none")
            else:
                table.add_row(
                    name,
                    language,
                    documents,
                    f"{entry['cutoff'][0]:.4f}",
                    f"{100 * entry['drop_rate']:.1f}%",
                    f"{entry['tied_at_cutoff']:,} tied at the cutoff",
                )
    return table


def cmd_calibrate(args: argparse.Namespace) -> int:
    config = PipelineConfig.load(
        args.config, crawl_root=args.crawl_root, crawl=args.crawl, shards=args.shards
    )
    out = Path(args.out) if args.out else Path("out") / config.name
    sample = calibrate.sample_config(config)
    sample_out = out / calibrate.CALIBRATION_RUN
    run = run_pipeline(
        sample, sample_out, args.executor, args.ray_address, "calibrate", args.retry_failed
    )
    if not run.complete:
        return report_failures(run, out, "calibrate")
    markers = run.markers
    calibration = {
        "fingerprint": calibrate.fingerprint(config),
        "sample": {
            "shards": [m["shard"] for m in markers],
            "records": sum(m["records"] for m in markers),
            "run": calibrate.CALIBRATION_RUN,  # under the output folder
        },
        "min_docs": args.min_docs,
        "stages": calibrate.compute(config, sample_out, args.min_docs),
    }
    path = calibrate.write(out, calibration)
    console.print(calibration_table(calibration))
    console.print(escape(f"cutoffs in {path}; `heed corpus` with this config uses them"))
    return 0


def cmd_audit_explain(args: argparse.Namespace) -> int:
    from heed.curation.audit.query import explain, find_records, stage_columns

    out = Path(args.out)
    rows = find_records(out, args.key)
    if not rows:
        console.print(escape(f"no audit row has record_id, url or host {args.key!r} in {out}"))
        return 1
    stages = stage_columns(out)
    for i, row in enumerate(rows):
        if i:
            print()
        print("\n".join(explain(row, stages)))
    return 0


def summary_tables(data: dict[str, Any], top: int = 15) -> list[Table]:
    """`heed audit summary` as terminal tables: the funnel, then stage x language (the
    languages with most removals), then per crawl and per shard."""
    funnel = Table(title=f"funnel: {data['records']:,} records")
    for column in ("stage", "in", "dropped", "error", "out", "by reason"):
        funnel.add_column(column, justify="left" if column in ("stage", "by reason") else "right")
    for step in data["funnel"]:
        dropped, errors = sum(step["dropped"].values()), sum(step["error"].values())
        reasons = {**step["dropped"], **{f"error:{k}": v for k, v in step["error"].items()}}
        text = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        funnel.add_row(
            step["stage"], f"{step['in']:,}", f"{dropped:,}", f"{errors:,}", f"{step['out']:,}",
            escape(text),
        )  # fmt: skip
    tables = [funnel]
    removing = [s for s in data["funnel"] if s["by_language"] and s["stage"] != "read"]
    languages = [name for name in data["languages"] if name != "-"][:top]
    if removing and languages:
        matrix = Table(title=f"removed per language x stage (the {len(languages)} largest)")
        matrix.add_column("language")
        for step in removing:
            matrix.add_column(step["stage"], justify="right")
        unlabelled = ["-"] if "-" in data["languages"] else []
        for language in languages + unlabelled:
            name = "(none yet)" if language == "-" else escape(language)
            matrix.add_row(name, *(f"{s['by_language'].get(language, 0):,}" for s in removing))
        tables.append(matrix)
    for key, title in (("languages", "per language"), ("crawls", "per crawl"),
                       ("shards", "per shard")):  # fmt: skip
        table = Table(title=title)
        rows = list(data[key].items())
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

    data = summary(Path(args.out))
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for table in summary_tables(data):
        console.print(table)
    return 0


def cmd_audit_sql(args: argparse.Namespace) -> int:
    from heed.curation.audit.query import sql

    try:
        table = sql(Path(args.out), args.query)
    except ValueError as exc:  # the query's own error, as DuckDB words it
        console.print(f"[red]{escape(str(exc))}[/red]")
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
        console.print(shown)
    return 0


def cmd_audit_rethreshold(args: argparse.Namespace) -> int:
    from heed.curation.audit.rethreshold import DIFF, rethreshold

    counts = rethreshold(Path(args.out), args.set, Path(args.new))
    console.print(
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
    console.print(escape(f"report: {path}"))
    return 0


def add_run_arguments(command: argparse.ArgumentParser, shards: str) -> None:
    """What `corpus` and `calibrate` both take: the config, the crawl, where and how to run."""
    command.add_argument("config", nargs="?", help="pipeline TOML (default: configs/sample.toml)")
    command.add_argument(
        "--crawl-root",
        help="folder or URL holding crawl-data/: https://data.commoncrawl.org/ (the default), "
        "s3://commoncrawl/, a local folder (overrides config)",
    )
    command.add_argument("--crawl", help="crawl name, e.g. CC-MAIN-2024-51 (overrides config)")
    command.add_argument("--out", help="the corpus output folder (default: out/<config name>)")
    command.add_argument("--executor", choices=executors.EXECUTORS, default="ray")
    command.add_argument("--shards", help=f"{shards}: {SELECTION_HELP}")
    command.add_argument(
        "--retry-failed",
        action="store_true",
        help="run only the shards that failed before in --out (recorded in OUT/failed/)",
    )
    command.add_argument(
        "--ray-address", help="a Ray cluster to use (default: $RAY_ADDRESS, or local)"
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="heed", description=__doc__)
    top.add_argument("-v", "--verbose", action="store_true", help="log progress per shard")
    commands = top.add_subparsers(dest="command", required=True)

    corpus = commands.add_parser(
        "corpus", help="build an audited, tokenized corpus from a crawl in Common Crawl's layout"
    )
    add_run_arguments(corpus, shards="the shards to process")
    corpus.set_defaults(func=cmd_corpus)

    calib = commands.add_parser(
        "calibrate",
        help="measure per-language quantile cutoffs (e.g. toxicity's top 5%%) on a sample run",
    )
    add_run_arguments(calib, shards="the sample")
    calib.add_argument(
        "--min-docs",
        type=int,
        default=calibrate.DEFAULT_MIN_DOCS,
        help="languages with fewer sample documents keep the fixed threshold",
    )
    calib.set_defaults(func=cmd_calibrate)

    robots = commands.add_parser("robots", help="robots.txt snapshots")
    robots_commands = robots.add_subparsers(dest="robots_command", required=True)
    build = robots_commands.add_parser(
        "build", help="collect robots.txt per host into a snapshot (Parquet, by host hash)"
    )
    build.add_argument("--out", required=True, help="snapshot folder to write")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-crawl", metavar="CRAWL", help="a crawl's own captures")
    source.add_argument("--from-dir", metavar="DIR", help="DIR/<host>/robots.txt files")
    source.add_argument("--live", action="store_true", help="fetch live (opt-in)")
    build.add_argument("--crawl-root", default=".", help="folder holding crawl-data/")
    hosts = build.add_mutually_exclusive_group()
    hosts.add_argument("--hosts", help="a file of hosts to cover, one per line")
    hosts.add_argument(
        "--hosts-from-crawl", metavar="CRAWL", help="cover the hosts of a crawl's WARC shards"
    )
    build.add_argument("--captured-at", help="capture time for --from-dir (default: mtime)")
    build.add_argument("--buckets", type=int, default=64, help="host-hash partitions")
    build.add_argument("--scheme", default="https", choices=("https", "http"), help="for --live")
    build.add_argument("--port", type=int, help="for --live (default: the scheme's)")
    build.add_argument(
        "--allow-private",
        action="store_true",
        help="let --live fetch from private, loopback and link-local addresses",
    )
    build.set_defaults(func=cmd_robots_build)

    filters = commands.add_parser("filters", help="filters' models: training")
    filter_commands = filters.add_subparsers(dest="filters_command", required=True)
    for name, (text, setup) in registry.commands().items():
        command = filter_commands.add_parser(name, help=text)
        command.set_defaults(func=setup(command))

    audit = commands.add_parser("audit", help="read a run's audit")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
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
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--limit", type=int, default=50, help="rows shown as a table")
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

    # Commands other packages add (the trainer's `heed train`): entry points in the group
    # heed.commands, each a function given the subparsers; curation never imports them by name.
    for entry in sorted(entry_points(group="heed.commands"), key=lambda e: e.name):
        entry.load()(commands)

    report = commands.add_parser("report", help="one self-contained HTML page for a run")
    report.add_argument("out", help="a heed output folder")
    report.add_argument("-o", "--output", help="the HTML file (default: OUT/report.html)")
    report.set_defaults(func=cmd_report)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except ConfigError as exc:
        console.print(f"[red]config error:[/red] {escape(str(exc))}")
        return 2
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except OSError as exc:  # an unwritable --out, a full disk: say where, not a traceback
        where = f"cannot write {exc.filename}: " if exc.filename else ""
        console.print(f"[red]error:[/red] {escape(where + (exc.strerror or str(exc)))}")
        return 2


if __name__ == "__main__":
    sys.exit(main())

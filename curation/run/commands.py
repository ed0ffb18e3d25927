"""`heed corpus` and `heed calibrate`: the command line over heed.curation.run.driver. Tables and
`--json` go to stdout; progress bars and messages to stderr."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.table import Table

from heed.common.console import data, messages
from heed.curation.crawl.listing import SELECTION_HELP
from heed.curation.run import calibrate
from heed.curation.run.driver import CorpusResult, run_calibration, run_corpus
from heed.curation.run.executors import EXECUTORS, Progress


class BarProgress(Progress):
    """Two bars on stderr: tasks finished (of the selection) and records processed."""

    def __init__(self) -> None:
        columns = (
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self.bars = Bars(*columns, console=messages, transient=False)
        self.records: Any = None

    def message(self, text: str) -> None:
        messages.print(escape(text))

    def begin(self, what: str, total: int, done: int = 0) -> None:
        self.what = what.removesuffix("s")  # "shard" for "shards"
        self.bars.start()
        self.tasks = self.bars.add_task(what, total=total, completed=done)
        if what == "shards":  # tasks that read records count them
            self.records = self.bars.add_task("records", total=None)

    def count(self, n: int) -> None:
        if n and self.records is not None:
            self.bars.advance(self.records, n)

    def task_done(self, item: Any, result: Any) -> None:
        self.bars.advance(self.tasks)

    def task_failed(self, item: Any, error: str) -> None:
        self.bars.advance(self.tasks)
        name = escape(f"{self.what} {getattr(item, 'path', item)}")
        messages.print(f"[red]{name} failed:[/red] {escape(error)}")

    def end(self) -> None:
        self.bars.stop()  # leaves this map's bars printed once
        # The next map's display starts empty: without this, each map would print again the
        # bars of every map before it (once per map where stderr is not a terminal).
        for task in list(self.bars.task_ids):
            self.bars.remove_task(task)
        self.records = None


def summary_table(result: CorpusResult) -> Table:
    """Records in, dropped and failed per stage and reason, kept, tokens."""
    records = result.records
    table = Table(title="heed corpus", show_lines=False)
    for column, justify in (("step", "left"), ("outcome", "left"), ("records", "right"),
                            ("share", "right")):  # fmt: skip
        table.add_column(column, justify=justify)

    def row(step: str, what: str, n: int) -> None:
        table.add_row(step, what, f"{n:,}", f"{100 * n / records:.1f}%" if records else "-")

    row("read", "response records in", records)
    outcomes = result.outcomes
    for stage in ["read", *result.config.stage_names]:
        for status in ("error", "dropped"):
            found = sorted(
                (o.reason or "", n) for o, n in outcomes.items()
                if o.status == status and o.stage == stage
            )  # fmt: skip
            for reason, n in found:
                row(stage, f"{status}: {reason}", n)
    row("all", "kept", result.kept)
    table.add_row("tokenize", "tokens", f"{result.tokens:,}", "")
    done_now = sum(not r.skipped for r in result.results)
    table.caption = (
        f"{len(result.results)} shards complete ({done_now} run now, "
        f"{len(result.results) - done_now} already done)"
        + (f", {len(result.failed)} FAILED" if result.failed else "")
    )
    return table


def timing_table(result: CorpusResult) -> Table | None:
    """Records per second of each stage, per worker, over the shards run now (every phase)."""
    totals = {name: [t["records"], t["seconds"]] for name, t in result.timings.items()}
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


def optout_table(result: CorpusResult, top: int = 10) -> Table | None:
    """Opt-out removals by signal, by blocking agent, and the hosts that removed the most."""
    from heed.curation.audit.query import optout_counts

    counts = optout_counts(result.out, top)
    if counts is None:
        return None
    table = Table(title="opt-out removals")
    for column, justify in (("by", "left"), ("what", "left"), ("records", "right")):
        table.add_column(column, justify=justify)
    for by in ("signal", "agent", "host"):
        for what, n in counts[by]:
            table.add_row(by, escape(str(what)), f"{n:,}")
    return table


def report_failures(result: CorpusResult, command: str) -> int:
    """The failed shards and how to retry them; the exit status (1 if any failed or are still
    to do)."""
    if result.failed:
        messages.print(f"[red]{len(result.failed)} shard(s) failed:[/red]")
        for path, error in sorted(result.failed.items()):
            messages.print(f"  {escape(path)}: {escape(error)}")
        messages.print(escape(f"retry them: heed {command} ... --out {result.out} --retry-failed"))
    elif not result.complete:
        messages.print(
            escape(f"{result.todo} shard(s) not done yet; run again without --retry-failed")
        )
    return 0 if result.complete else 1


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "executor": args.executor,
        "ray_address": args.ray_address,
        "num_cpus": args.num_cpus,
        "retry_failed": args.retry_failed,
        "progress": BarProgress(),
        "crawl_root": args.crawl_root,
        "crawl": args.crawl,
        "shards": args.shards,
    }


def cmd_corpus(args: argparse.Namespace) -> int:
    started = time.monotonic()
    result = run_corpus(args.config, args.out, **_run_options(args))
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    else:
        data.print(summary_table(result))
        for table in (timing_table(result), optout_table(result)):
            if table is not None:
                data.print(table)
    if result.report is not None:
        messages.print(escape(f"report: {result.report}"))
    messages.print(escape(f"outputs in {result.out}  ({time.monotonic() - started:.1f}s)"))
    return report_failures(result, "corpus")


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
    calibration, result = run_calibration(
        args.config, args.out, min_docs=args.min_docs, **_run_options(args)
    )
    if calibration is None:
        return report_failures(result, "calibrate")
    if args.json:
        print(json.dumps(calibration, indent=2))
    else:
        data.print(calibration_table(calibration))
    path = result.out.parent / calibrate.CALIBRATION
    messages.print(escape(f"cutoffs in {path}; `heed corpus` with this config uses them"))
    return 0


def add_run_arguments(command: argparse.ArgumentParser, shards: str) -> None:
    """What `corpus` and `calibrate` both take: the config, the crawl, where and how to run."""
    command.add_argument(
        "config", nargs="?", help="pipeline TOML (default: the sample crawl's, configs/sample.toml)"
    )
    command.add_argument(
        "--crawl-root",
        help="folder or URL holding crawl-data/: https://data.commoncrawl.org/ (the default), "
        "s3://commoncrawl/, a local folder (overrides the config)",
    )
    command.add_argument("--crawl", help="crawl name, e.g. CC-MAIN-2024-51 (overrides the config)")
    command.add_argument("--out", help="the output folder (default: out/<config name>)")
    command.add_argument("--shards", help=f"{shards}: {SELECTION_HELP}")
    command.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="ray",
        help="ray: shards as Ray tasks (a local Ray, or the cluster of --ray-address); "
        "local: one after the other in this process (default: ray)",
    )
    command.add_argument(
        "--ray-address",
        help="a running Ray cluster's address, HOST:PORT as `ray start --head` printed it "
        "(default: $RAY_ADDRESS, else a local Ray)",
    )
    command.add_argument(
        "--num-cpus",
        type=int,
        metavar="N",
        help="at most N shards at once: the CPUs a local Ray may use (on a cluster: tasks in "
        "flight); default: every CPU",
    )
    command.add_argument(
        "--retry-failed",
        action="store_true",
        help="run only the shards that failed before in --out (recorded in OUT/failed/)",
    )
    command.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of tables"
    )


def add_commands(commands: argparse._SubParsersAction) -> None:
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
        help="languages with fewer sample documents keep the fixed threshold (default: 100)",
    )
    calib.set_defaults(func=cmd_calibrate)

"""The run driver: read the crawl's listing, select shards, skip the finished ones, run the rest
on an executor, record failures, then write the manifest and the report.

`run_corpus` is what `heed corpus` calls and what a Python user calls; `run_calibration` is
`heed calibrate`. A run is a list of phases; today there is one, the per-shard phase that runs
the whole stage chain on each shard. Its markers (`markers/part-NNNNN.json`) make it resumable
and its output files the run's outputs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from heed.common.files import write_json_atomic
from heed.curation.config import ConfigError, PipelineConfig
from heed.curation.crawl.listing import Listing, Shard, select_crawls
from heed.curation.output import (
    FAILED,
    KINDS,
    MANIFEST,
    failure_path,
    read_failures,
    read_marker,
)
from heed.curation.pipeline import Pipeline
from heed.curation.run import calibrate
from heed.curation.run.executors import (
    Executor,
    Progress,
    TaskFailure,
    TaskRunner,
    TasksFailed,
    TaskTools,
    make_executor,
)
from heed.curation.run.manifest import build_manifest, write_manifest
from heed.curation.run.phases import Phase, plan_phases, run_corpus_step
from heed.curation.run.shard import Outcome, ShardResult, process_shard

log = logging.getLogger(__name__)


@dataclass
class CorpusResult:
    """What a corpus run did. `results` are the finished shards of the selection (finished now
    or by an earlier run), `failed` the shards that failed now (path -> error)."""

    config: PipelineConfig
    out: Path
    listing: Listing
    shards: list[Shard]
    results: list[ShardResult]
    failed: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    manifest: Path | None = None
    report: Path | None = None
    listings: list[Listing] = field(default_factory=list)  # one per crawl
    # Seconds and records per stage over the shards run now, every phase (never written).
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every selected shard is finished and none failed."""
        return len(self.results) == len(self.shards) and not self.failed

    @property
    def todo(self) -> int:
        return len(self.shards) - len(self.results)

    @property
    def outcomes(self) -> Counter[Outcome]:
        total: Counter[Outcome] = Counter()
        for result in self.results:
            total.update(result.outcomes)
        return total

    @property
    def records(self) -> int:
        """Response records read (every one has one audit row)."""
        return sum(result.records for result in self.results)

    @property
    def kept(self) -> int:
        return sum(n for o, n in self.outcomes.items() if o.status == "kept")

    @property
    def tokens(self) -> int:
        return sum(result.tokens for result in self.results)

    def removed(self, status: str = "dropped") -> Counter[tuple[str, str]]:
        """(stage, reason) -> records, for `dropped` or `error` outcomes."""
        return Counter(
            {
                (o.stage or "", o.reason or ""): n
                for o, n in self.outcomes.items()
                if o.status == status
            }
        )

    @property
    def dropped(self) -> Counter[tuple[str, str]]:
        return self.removed("dropped")

    @property
    def errors(self) -> Counter[tuple[str, str]]:
        return self.removed("error")

    @property
    def paths(self) -> dict[str, Path]:
        """Where the outputs are: documents/, tokens/, audit/ folders, manifest and report."""
        paths = {kind: self.out / kind for kind in KINDS}
        paths["manifest"] = self.out / MANIFEST
        paths["report"] = self.out / "report.html"
        paths["failed"] = self.out / FAILED
        return paths

    def summary(self) -> dict[str, Any]:
        """The run's numbers as plain data (what `heed corpus --json` prints)."""
        return {
            "out": str(self.out),
            "crawl": self.config.crawl_id,
            "complete": self.complete,
            "shards": {
                "selected": len(self.shards),
                "finished": len(self.results),
                "finished_before": sum(r.skipped for r in self.results),
                "failed": dict(sorted(self.failed.items())),
            },
            "records": self.records,
            "kept": self.kept,
            "tokens": self.tokens,
            "dropped": {f"{s}:{r}": n for (s, r), n in sorted(self.dropped.items())},
            "errors": {f"{s}:{r}": n for (s, r), n in sorted(self.errors.items())},
            "paths": {name: str(path) for name, path in self.paths.items()},
        }


def _process_shard_task(
    config: PipelineConfig, out: str, phase: Phase, shard: Shard, tools: TaskTools
) -> ShardResult:
    return process_shard(config, shard, out, tools, phase)


class CorpusRun:
    """One run of a config into an output folder, on a given executor."""

    def __init__(
        self,
        config: PipelineConfig,
        out: Path,
        executor: Executor[Any, Any],
        progress: Progress | None = None,
        what: str = "corpus",
        calibration: dict[str, Any] | None = None,
    ) -> None:
        self.config, self.out, self.executor = config, out, executor
        self.progress = progress or Progress()
        self.what = what
        self.calibration = calibration

    def run(self, retry_failed: bool = False, finish: bool = True) -> CorpusResult:
        """Run the shards not done yet, phase by phase. With `finish`, a complete run gets its
        manifest and any run with a finished shard its report.

        A shard that fails in a phase is left out of the phases after it: a corpus step then
        covers the shards that got through, and the run ends incomplete (exit 1). Each corpus
        step's key (its inputs and settings) is folded into the digests of the phases after it,
        so when a failed shard gets through later, the step and everything after it is redone
        for every shard."""
        config, out = self.config, self.out
        listings, shards = select_crawls(
            config.crawl_root, config.crawls, config.shards, config.fetch
        )
        out.mkdir(parents=True, exist_ok=True)
        pipeline = Pipeline(config)
        pipeline.prepare(pipeline.context(out, TaskRunner(self.executor, self.progress)))
        phases = plan_phases(pipeline)
        self._refuse_other_settings(phases, shards)
        first = phases[0]
        todo = self._needing(first, shards)
        if retry_failed:
            failures = read_failures(out)
            todo = [s for s in todo if s.part in failures]
        # Done: through every phase (with corpus-level stages, later phases may still redo it).
        already = len(shards) - len(todo)
        if len(phases) > 1:
            already = sum(read_marker(out, s.part) is not None for s in shards)
        self.progress.message(
            f"heed {self.what}: {config.crawl_name} from {config.crawl_root}: {len(shards)} of "
            f"{sum(len(listing.paths) for listing in listings)} listed shards "
            f"({already} already done"
            + (", retrying the failed ones only" if retry_failed else "")
            + f") -> {out} (executor: {self.executor.describe()})"
        )
        failed: dict[str, str] = {}
        timings: dict[str, dict[str, float]] = {}
        going = list(shards)  # the shards that got through every phase so far
        phase = first
        for phase in phases:
            if len(phases) > 1 and (todo or phase is not first):
                names = ", ".join(config.stage_names[phase.start : phase.stop])
                self.progress.message(f"phase {phase.number} of {len(phases)}: {names}")
            if phase.reads is not None:
                parts = [s.part for s in going]
                try:
                    key = run_corpus_step(pipeline, phase, out, parts, self.executor, self.progress)
                except TasksFailed as exc:
                    failed["(corpus step)"] = str(exc)
                    break
                phase = phase.after_step(key)
                todo = self._needing(phase, going)
            ran = self._run_phase(phase, todo, total=len(going))
            for shard, outcome in ran:
                if isinstance(outcome, TaskFailure):
                    failed[shard.path] = outcome.error
                    self._record_failure(shard, outcome.error)
                    continue
                for name, t in outcome.timings.items():
                    total = timings.setdefault(name, {"records": 0, "seconds": 0.0})
                    total["records"] += t["records"]
                    total["seconds"] += t["seconds"]
            going = [s for s in going if s.path not in failed and self._done(phase, s)]
        results = []
        for shard in shards:
            marker = read_marker(out, shard.part)
            if marker is not None and (phase.final and marker["stages_sha256"] == phase.digest):
                results.append(ShardResult.from_marker(marker, skipped=shard not in todo))
        result = CorpusResult(config, out, listings[0], shards, results, failed, self.calibration)
        result.listings = listings
        result.timings = timings
        if finish and result.complete:
            markers = [r.marker for r in results]
            manifest = build_manifest(pipeline, markers, self.calibration, listings, phase.digest)
            result.manifest = write_manifest(out, manifest)
        if finish and results:
            from heed.curation.audit.report import write_report

            result.report = write_report(out)  # also after failures: what is done so far
        return result

    def _done(self, phase: Phase, shard: Shard) -> bool:
        marker = read_marker(self.out if phase.final else self.out / str(phase.writes), shard.part)
        return marker is not None and marker.get("stages_sha256") == phase.digest

    def _refuse_other_settings(self, phases: list[Phase], shards: list[Shard]) -> None:
        """A folder made with other settings for the stages of the first phase is not mixed
        with this run's (their work, extraction above all, would be thrown away); settings
        changed after a corpus-level stage only redo the phases from it on."""
        first = phases[0]
        root = self.out if first.final else self.out / str(first.writes)
        markers = [read_marker(root, s.part) for s in shards]
        other = [m["shard"] for m in markers if m and m.get("stages_sha256") != first.digest]
        if other:
            raise ConfigError(
                f"{self.out} holds {len(other)} shard(s) made with other stage settings or models "
                f"(e.g. {other[0]}); write to a new --out, or delete {self.out} to redo them"
            )

    def _needing(self, phase: Phase, shards: list[Shard]) -> list[Shard]:
        """The shards without this phase's marker for its digest."""
        return [shard for shard in shards if not self._done(phase, shard)]

    def _run_phase(self, phase: Phase, shards: list[Shard], total: int) -> list[tuple[Any, Any]]:
        if not shards:
            return []
        task = functools.partial(_process_shard_task, self.config, str(self.out), phase)
        self.progress.begin("shards", total, done=total - len(shards))
        try:
            return self.executor.map(
                task, shards, self.progress, self.config.fetch.connections_per_host, name="shard"
            )
        finally:
            self.progress.end()

    def _record_failure(self, shard: Shard, error: str) -> None:
        record = {
            "shard": shard.path,
            "index": shard.index,
            "error": error,
            "failed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        write_json_atomic(failure_path(self.out, shard.part), record)


@contextlib.contextmanager
def _executor(
    executor: str | Executor[Any, Any], ray_address: str | None, num_cpus: int | None
) -> Iterator[Executor[Any, Any]]:
    """The executor named (closed afterwards: a local Ray it started stops), or the one given
    (left to its owner)."""
    if not isinstance(executor, str):
        yield executor
        return
    runner = make_executor(executor, ray_address, num_cpus)
    try:
        yield runner
    finally:
        runner.close()


def run_corpus(
    config: PipelineConfig | str | Path | None = None,
    out: str | Path | None = None,
    *,
    executor: str | Executor[Any, Any] = "ray",
    ray_address: str | None = None,
    num_cpus: int | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
    **overrides: Any,
) -> CorpusResult:
    """Build the corpus a config describes into `out` (default `out/<config name>`).

    `config` is a PipelineConfig or a TOML file (default: the sample crawl's config);
    `overrides` (crawl_root, crawl, shards) win over the file. `executor` is "ray" (a local
    Ray, or the cluster at `ray_address`/RAY_ADDRESS), "local" (this process) or an Executor.
    Finished shards are skipped; a rerun of a finished run does nothing. Writes the manifest
    when every shard is done, and the report whenever a shard is."""
    progress = progress or Progress()
    if not isinstance(config, PipelineConfig):
        config = PipelineConfig.load(config, **overrides)
    out = Path(out) if out else Path("out") / config.name
    config, calibration = calibrate.apply(config, out)
    with _executor(executor, ray_address, num_cpus) as runner:
        return CorpusRun(config, out, runner, progress, calibration=calibration).run(retry_failed)


def run_calibration(
    config: PipelineConfig | str | Path | None = None,
    out: str | Path | None = None,
    *,
    min_docs: int = calibrate.DEFAULT_MIN_DOCS,
    executor: str | Executor[Any, Any] = "ray",
    ray_address: str | None = None,
    num_cpus: int | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
    **overrides: Any,
) -> tuple[dict[str, Any] | None, CorpusResult]:
    """`heed calibrate`: run the stages up to the calibrated ones on the config's shards (the
    sample) into `out/calibration/`, then write per-language cutoffs to
    `out/calibration.json`. Returns the calibration (None if the sample run is not complete)
    and the sample run's result."""
    progress = progress or Progress()
    if not isinstance(config, PipelineConfig):
        config = PipelineConfig.load(config, **overrides)
    out = Path(out) if out else Path("out") / config.name
    sample = calibrate.sample_config(config)
    sample_out = out / calibrate.CALIBRATION_RUN
    with _executor(executor, ray_address, num_cpus) as runner:
        run = CorpusRun(sample, sample_out, runner, progress, what="calibrate")
        result = run.run(retry_failed, finish=False)
    if not result.complete:
        return None, result
    calibration = {
        "fingerprint": calibrate.fingerprint(config),
        "sample": {
            "shards": [r.shard.path for r in result.results],
            "records": result.records,
            "run": calibrate.CALIBRATION_RUN,  # under the output folder
        },
        "min_docs": min_docs,
        "stages": calibrate.compute(config, sample_out, min_docs),
    }
    calibrate.write(out, calibration)
    return calibration, result

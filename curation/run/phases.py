"""A run's phases. A chain without corpus-level stages is one phase: each shard from its WARC
to the run's outputs. Each corpus-level stage (dedup) splits the chain: the stages before it run
on every shard and leave their records in OUT/before-STAGE/; then the stage's corpus step runs
(tasks of its own, over what every shard left); then the next phase goes on from those records,
starting with the corpus-level stage itself, which now knows the whole corpus.

Every phase is resumable by its markers, the corpus step by its own files and a marker of its
inputs and settings; a phase's digest covers every stage up to its end, so a setting changed
after a corpus-level stage redoes only the phases it reaches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from heed.common.files import write_atomic, write_json_atomic
from heed.curation.config import PipelineConfig
from heed.curation.output import RECORDS, phase_folder
from heed.curation.pipeline import Pipeline, stages_digest
from heed.curation.run.executors import Executor, Progress, TaskRunner

STEP_KEY = "key"  # what the step's files were made from (a digest), written first
STEP_MARKER = "done.json"  # written last


@dataclass(frozen=True)
class Phase:
    """Stages `start:stop` of the chain, run on every shard. `reads` is the folder of the
    records it goes on from (None: the WARC shards), `writes` the folder it leaves its records
    in for the next corpus step (None: the run's outputs). `digest` covers stages `:stop`."""

    number: int
    start: int
    stop: int
    digest: str
    reads: str | None = None
    writes: str | None = None

    @property
    def final(self) -> bool:
        return self.writes is None

    def after_step(self, key: str) -> Phase:
        """This phase with the key of the corpus step before it folded into its digest: what it
        writes depends on which shards that step covered, and with which settings."""
        digest = hashlib.sha256(f"{self.digest}|{key}".encode()).hexdigest()
        return dataclasses.replace(self, digest=digest)

    def config(self, config: PipelineConfig) -> PipelineConfig:
        """The config of the stages this phase runs."""
        return dataclasses.replace(config, stages=config.stages[self.start : self.stop])

    def score_columns(self, config: PipelineConfig) -> dict[str, pa.DataType]:
        """The score columns its files carry: every stage's up to its end."""
        columns: dict[str, pa.DataType] = {}
        for spec in config.stages[: self.stop]:
            columns.update(spec.cls.columns)
        return columns


def plan_phases(pipeline: Pipeline) -> list[Phase]:
    """The phases of a pipeline's chain (its stages built on the driver and prepared, so their
    descriptions, and so the digests, are complete)."""
    config, stages = pipeline.config, pipeline.stages
    bounds = [0, *pipeline.corpus_levels, len(stages)]
    if len(bounds) == 2:
        return [Phase(1, 0, len(stages), pipeline.digest())]
    phases = []
    for number, (start, stop) in enumerate(itertools.pairwise(bounds), start=1):
        prefix = dataclasses.replace(config, stages=config.stages[:stop])
        digest = stages_digest(prefix, stages[:stop])
        reads = None if start == 0 else str(phase_folder(Path(), stages[start].name))
        writes = None if stop == len(stages) else str(phase_folder(Path(), stages[stop].name))
        phases.append(Phase(number, start, stop, digest, reads, writes))
    return phases


class CorpusStepRun(TaskRunner):
    """What a corpus-level stage's `corpus_step` is given (heed.curation.stage.CorpusStep)."""

    def __init__(
        self,
        folder: Path,
        inputs: dict[str, Path],
        executor: Executor[Any, Any],
        progress: Progress,
    ) -> None:
        super().__init__(executor, progress)
        self.folder, self.inputs = folder, inputs


def run_corpus_step(
    pipeline: Pipeline,
    phase: Phase,
    out: Path,
    parts: list[str],
    executor: Executor[Any, Any],
    progress: Progress,
) -> str:
    """The corpus step of the stage that starts `phase`, unless it is done for these inputs and
    settings already; its key. Its folder is OUT/<stage>; a step begun or done for other
    inputs or settings is thrown away and redone."""
    stage = pipeline.stages[phase.start]
    folder = out / stage.name
    inputs = {part: out / str(phase.reads) / RECORDS / f"{part}.parquet" for part in parts}
    identity = {
        "inputs": _previous_digest(pipeline, phase),
        "stage": stage.describe(),
        "parts": parts,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    key_file, marker = folder / STEP_KEY, folder / STEP_MARKER
    if key_file.is_file() and key_file.read_text() != key:
        shutil.rmtree(folder)  # begun or done for other inputs or settings: start again
    if marker.is_file():
        return key
    for stale in folder.rglob(".*.tmp"):  # what tasks killed with an earlier run left
        stale.unlink(missing_ok=True)
    write_atomic(key_file, key)
    progress.message(f"{stage.name}: the corpus step over {len(parts)} shards -> {folder}")
    stage.corpus_step(CorpusStepRun(folder, inputs, executor, progress))
    write_json_atomic(marker, {"parts": parts, "stage": stage.name})
    return key


def _previous_digest(pipeline: Pipeline, phase: Phase) -> str:
    config = dataclasses.replace(pipeline.config, stages=pipeline.config.stages[: phase.start])
    return stages_digest(config, pipeline.stages[: phase.start])

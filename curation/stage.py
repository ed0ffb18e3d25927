"""The Stage interface: a batch of documents in, the same batch out with scores and decisions.

Stages are small dataclasses (their fields are the parameters a config may set), named in the
config in order. Each declares the columns it records so every shard's audit has one schema.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from heed.curation.crawl.fetch import FetchOptions
from heed.curation.document import Document

log = logging.getLogger(__name__)
STAGE_REASONS = {
    "stage_exception": "the stage raised an error on this record (the detail names it); the "
    "other records of the batch went on",
}


class TaskMap(Protocol):
    """Runs work as tasks of the run's executor (Ray tasks, or one after the other here)."""

    def map(self, task: Callable[[Any], Any], items: Sequence[Any], name: str) -> list[Any]:
        """`task(item)` for every item; their results in order. A task that fails raises
        (a rerun carries on from the files the others left)."""
        ...

    def message(self, text: str) -> None:
        """Tell the user what is being done (the command line prints it)."""
        ...


class InProcess:
    """A TaskMap that runs every task here, one after the other (no executor at hand)."""

    def map(self, task: Callable[[Any], Any], items: Sequence[Any], name: str) -> list[Any]:
        return [task(item) for item in items]

    def message(self, text: str) -> None:
        log.info(text)


@dataclass(frozen=True)
class RunContext:
    """What a stage may know about the run: where the crawl lives, how to read it, where
    outputs go, and how to run work as tasks (`tasks`, on the driver). `crawls` names every
    crawl of a run over several (`crawl` is the first)."""

    crawl_root: str
    crawl: str
    out: str = ""
    fetch: FetchOptions | None = None
    crawls: tuple[str, ...] = ()
    tasks: TaskMap = dataclasses.field(default_factory=InProcess, compare=False)

    @property
    def all_crawls(self) -> tuple[str, ...]:
        return self.crawls or (self.crawl,)


class CorpusStep(TaskMap, Protocol):
    """What the run gives a corpus-level stage between its phases (see Stage.corpus_step)."""

    # The stage's own folder under the output folder (OUT/<stage name>/).
    folder: Path
    # Shard part name -> the file holding every record of that shard as the stages before
    # this one left it (heed.curation.output.read_records reads it).
    inputs: dict[str, Path]


@dataclass
class Stage:
    """Base of every pipeline step.

    Subclasses set `name`, `version` and `columns`, and implement `process`, which sees only the
    documents still kept and records on each one its scores and, if it drops it, the reason.
    Models are loaded in `setup`, once per process, not in `__init__`: stages are built on the
    driver to validate the config, then rebuilt in each worker.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    # Score columns this stage fills in `Document.scores`, with their Arrow types.
    columns: ClassVar[dict[str, pa.DataType]] = {}
    # Parameters that name files: relative values are read against the config file's folder.
    path_params: ClassVar[tuple[str, ...]] = ()
    # A score column whose per-language quantile `heed calibrate` can turn into cutoffs. Such a
    # stage has the parameters `quantile`, `cutoffs` and `score_only` (see curation/calibrate.py).
    quantile_column: ClassVar[str | None] = None
    # Score column -> the parameter holding its global threshold (per-language overrides live
    # in the same name plus "s", e.g. threshold / thresholds): for reports and rethreshold.
    threshold_params: ClassVar[dict[str, str]] = {}
    # Whether the stage reads the raw page (the HTTP payload) rather than the extracted text.
    reads_payload: ClassVar[bool] = False
    # Whether it gives documents their token ids (the last stages of a chain, after any
    # corpus-level stage: token ids are not carried between phases).
    writes_tokens: ClassVar[bool] = False
    # A stage that can decide only once the whole corpus is known (dedup). The run then
    # executes the stages before it on every shard, then its `corpus_step` (itself tasks),
    # then, from it on, the rest of the chain on every shard.
    corpus_level: ClassVar[bool] = False
    # Every reason code the stage may drop or fail a record with -> what it means (audit
    # explain prints it). STAGE_REASONS apply to every stage.
    reasons: ClassVar[dict[str, str]] = {}

    @classmethod
    def reason_meaning(cls, code: str) -> str | None:
        """What a reason code of this stage means; None for a code it never gives."""
        return cls.reasons.get(code) or STAGE_REASONS.get(code)

    def threshold_values(self) -> dict[str, Any]:
        """{score column: {"value": global threshold, "by_language": overrides}}."""
        found = {}
        for column, param in self.threshold_params.items():
            overrides = getattr(self, f"{param}s", None)
            found[column] = {
                "value": getattr(self, param),
                "by_language": dict(overrides) if isinstance(overrides, dict) else {},
            }
        return found

    def prepare(self, context: RunContext) -> None:
        """Driver-side work before any shard runs (building an index the tasks then read)."""

    def setup(self, context: RunContext) -> None:
        """Load models and assets. Called once per process before the first batch."""

    def corpus_step(self, step: CorpusStep) -> None:
        """Driver side, corpus-level stages only: read what the stages before left of every
        shard (`step.inputs`) and write under `step.folder` what `process` reads per shard."""
        raise NotImplementedError(f"{self.name} is not a corpus-level stage")

    def start_shard(self, part: str) -> None:
        """Before a shard's first batch, in the worker (`part`: its part-NNNNN name)."""

    def process(self, docs: list[Document]) -> None:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def assets(self) -> dict[str, str]:
        """Files the stage's decisions depend on (models, word lists): name -> sha256."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What the stage's outputs depend on. The code is named by the stage's name and
        version, never by its module path: moving code between files changes no output."""
        return {
            "name": self.name,
            "version": self.version,
            "params": self.params(),
            "columns": list(self.columns),
            "assets": self.assets(),
        }

    def __call__(self, batch: list[Document]) -> None:
        live = [d for d in batch if d.alive]
        if not live:
            return
        try:
            self.process(live)
        except Exception:
            # One bad document must not cost its batch: redo one by one and mark only the culprit.
            log.warning("stage %s failed on a batch; isolating the failing records", self.name)
            for doc in live:
                if not doc.alive:
                    continue
                try:
                    self.process([doc])
                except Exception as exc:
                    log.exception("stage %s failed on %s (%s)", self.name, doc.record_id, doc.url)
                    doc.fail(self.name, "stage_exception", f"{type(exc).__name__}: {exc}")

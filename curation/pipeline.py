"""A stage chain built from a config: the one place where a config becomes working stages.

The corpus run builds one per worker process and feeds it each shard's batches; in a notebook
or a test it runs on documents made in memory:

    pipeline = Pipeline.from_config("configs/sample.toml")
    docs = pipeline.run([Document.from_html(html, url="https://example.org/a"),
                         Document.from_text("Guten Tag ...")])
    docs[0].status, docs[0].stage, docs[0].reason, docs[0].scores

In memory a corpus-level stage (dedup) works as in a run, over the documents given: the stages
before it run on all of them, then its corpus step (in this process, under the workdir), then
the rest of the chain.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from heed.curation.config import PipelineConfig
from heed.curation.document import Document
from heed.curation.output import RECORDS, ShardWriter, phase_folder
from heed.curation.stage import InProcess, RunContext, Stage, TaskMap


def describe_stages(config: PipelineConfig, stages: list[Stage]) -> list[dict[str, Any]]:
    """Each stage as the manifest records it: the config's reference to it (a registered name
    or `module:Class`, what the audit tools load it by) and its description."""
    return [
        {"ref": spec.ref, **stage.describe()}
        for spec, stage in zip(config.stages, stages, strict=True)
    ]


def stages_digest(config: PipelineConfig, stages: list[Stage]) -> str:
    """What a shard's outputs depend on besides its input: the crawl and every stage's
    reference, version, parameters and asset hashes. Each shard's marker carries it, so a rerun
    into the same folder with other settings is refused instead of mixing two configs'
    outputs."""
    described = {"crawl": config.crawl_id, "stages": describe_stages(config, stages)}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    docs = iter(docs)
    while batch := list(islice(docs, size)):
        yield batch


class InMemoryStep(InProcess):
    """What a corpus-level stage's step is given in memory (heed.curation.stage.CorpusStep):
    its folder, the one records file, and tasks run here."""

    def __init__(self, folder: Path, inputs: dict[str, Path]) -> None:
        self.folder, self.inputs = folder, inputs


class Pipeline:
    """The config's stages, in order. `prepare` does the driver's one-off work (indexes the
    stages read later), `setup` loads models in this process, `process` runs one batch."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.stages = config.build_stages()
        # Per-stage wall time and records seen, for the run's timing table (never written:
        # not deterministic).
        self.seconds: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        # The out folder of the context it was set up with: where a corpus step run in
        # memory writes (the stages' setup reads their step's results from there).
        self._workdir: Path | None = None

    @classmethod
    def from_config(
        cls, config: PipelineConfig | str | Path | None = None, workdir: str | Path | None = None
    ) -> Pipeline:
        """A pipeline ready to run on documents made in memory: prepared and set up, with
        what stages build (robots snapshots) under `workdir` (default: a temporary folder
        removed with the pipeline)."""
        if not isinstance(config, PipelineConfig):
            config = PipelineConfig.load(config)
        pipeline = cls(config)
        if workdir is None:
            pipeline._tmp = tempfile.TemporaryDirectory(prefix="heed-")
            workdir = pipeline._tmp.name
        context = pipeline.context(workdir)
        pipeline.prepare(context)
        pipeline.setup(context)
        return pipeline

    @classmethod
    def from_stages(
        cls,
        stages: list[str],
        params: dict[str, dict[str, Any]] | None = None,
        workdir: str | Path | None = None,
        **settings: Any,
    ) -> Pipeline:
        """A pipeline of the named stages (with `params` per stage name, as the config's
        [stage.NAME] tables) for documents made in memory: no crawl is read, so opt_out reads
        robots.txt only from the snapshots and folders its parameters name."""
        params = {name: dict(table) for name, table in (params or {}).items()}
        if "opt_out" in stages:
            params["opt_out"] = {"crawl_captures": False, **params.get("opt_out", {})}
        values = {"name": "in-memory", "crawl": "", "stages": list(stages), "stage": params}
        return cls.from_config(PipelineConfig.from_dict({**values, **settings}), workdir)

    @property
    def names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def context(self, out: str | Path, tasks: TaskMap | None = None) -> RunContext:
        """What the stages may know of the run; `tasks` runs their driver-side work (default:
        in this process)."""
        config = self.config
        return RunContext(
            config.crawl_root,
            config.crawls[0],
            str(out),
            config.fetch,
            config.crawls,
            tasks or InProcess(),
        )

    def prepare(self, context: RunContext) -> None:
        for stage in self.stages:
            stage.prepare(context)

    def setup(self, context: RunContext) -> None:
        self._workdir = Path(context.out)
        for stage in self.stages:
            stage.setup(context)

    def digest(self) -> str:
        return stages_digest(self.config, self.stages)

    def describe(self) -> list[dict[str, Any]]:
        return describe_stages(self.config, self.stages)

    def score_columns(self, stop: int | None = None) -> dict[str, Any]:
        """The score columns of every stage (or of those before stage `stop`)."""
        columns: dict[str, Any] = {}
        for stage in self.stages[:stop]:
            columns.update(stage.columns)
        return columns

    @property
    def corpus_levels(self) -> list[int]:
        """Where the chain's corpus-level stages are: each starts a phase."""
        return [i for i, stage in enumerate(self.stages) if stage.corpus_level]

    @contextmanager
    def clock(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def process(self, batch: list[Document], stages: list[Stage] | None = None) -> list[Document]:
        """Run every stage (or `stages`) on one batch, in place; a stage sees only documents
        still kept."""
        for stage in self.stages if stages is None else stages:
            self.seen[stage.name] += sum(doc.alive for doc in batch)
            with self.clock(stage.name):
                stage(batch)
        return batch

    def run(self, docs: Iterable[Document]) -> list[Document]:
        """Every document through the chain in batches of the config's batch_size; the same
        documents come back, each kept, dropped (stage, reason, detail) or failed, with every
        score computed on the way. A corpus-level stage sees all of them (see the module doc)."""
        docs = list(docs)
        start = 0
        for cut in [*self.corpus_levels, len(self.stages)]:
            for batch in batches(docs, self.config.batch_size):
                self.process(batch, self.stages[start:cut])
            if cut < len(self.stages):
                self._corpus_step(cut, docs)
            start = cut
        return docs

    def _corpus_step(self, index: int, docs: list[Document]) -> None:
        """The corpus step of stage `index` over `docs`, as a run's with one shard: their
        records written as that phase's input, the step run here, its results loaded."""
        stage = self.stages[index]
        seen: Counter[str] = Counter(doc.record_id for doc in docs)
        shared = [record_id for record_id, count in seen.items() if count > 1]
        if shared:
            raise ValueError(
                f"{len(shared)} record id(s) name several documents, first {shared[0]}: "
                f"{stage.name} tells documents apart by record id; give each its own "
                "record_id (or url)"
            )
        if self._workdir is None:
            raise RuntimeError("set the pipeline up first (Pipeline.from_config or from_stages)")
        part, root = "part-00000", phase_folder(self._workdir, stage.name)
        folder = self._workdir / stage.name
        for earlier in (root, folder):  # what an earlier run() over other documents left
            shutil.rmtree(earlier, ignore_errors=True)
        writer = ShardWriter(root, part, self.score_columns(index), kinds=(RECORDS,))
        writer.write(docs)
        writer.commit({"records": len(docs)})
        stage.corpus_step(InMemoryStep(folder, {part: root / RECORDS / f"{part}.parquet"}))
        stage.start_shard(part)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

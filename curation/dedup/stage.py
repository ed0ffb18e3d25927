"""The `dedup` stage: exact, near (MinHash LSH) and URL duplicates across the whole corpus.

A corpus-level stage: the run executes the stages before it on every shard, then its corpus
step (every task a plain function over Parquet files, run by the run's executor), then the rest
of the chain, starting with this stage, which drops each duplicate with the record id of the
copy kept.

The corpus step, under OUT/dedup/:
* signatures/part-NNNNN.parquet: per shard, the keys of the documents still kept (the URL key,
  the exact-text key, the MinHash band keys), from the records the stages before left;
* work/: the rounds of heed.curation.dedup.plan (URL groups, key groups, connected components
  by large-star/small-star, clusters), each a set of tasks over groups of signature files or
  over hash partitions, of about `documents_per_task` documents each, so no task ever holds
  the whole corpus;
* decisions/part-NNNNN.parquet: per shard, each document's decision, the document kept for
  its cluster, the cluster's id and size.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from heed.curation.dedup.corpus import write_parquet
from heed.curation.dedup.plan import DedupPlan, Task
from heed.curation.dedup.settings import UNSPACED_SCRIPTS, DedupSettings
from heed.curation.dedup.signatures import SIGNATURE_SCHEMA, signatures
from heed.curation.document import Document
from heed.curation.output import read_records
from heed.curation.stage import CorpusStep, RunContext, Stage

DETAIL = {
    "exact_duplicate": "exact duplicate",
    "near_duplicate": "near-duplicate",
    "url_duplicate": "another capture of the same URL",
}


@dataclass
class Dedup(Stage):
    """Removes duplicates across every shard (and crawl) of the run; see the module doc."""

    name: ClassVar[str] = "dedup"
    version: ClassVar[str] = "1"
    corpus_level: ClassVar[bool] = True
    columns: ClassVar[dict[str, pa.DataType]] = {
        "duplicate_of": pa.string(),
        "dedup_cluster": pa.string(),
        "dedup_cluster_size": pa.int32(),
    }
    reasons: ClassVar[dict[str, str]] = {
        "exact_duplicate": "the same normalised text as the document kept for its cluster "
        "(duplicate_of names it)",
        "near_duplicate": "MinHash near-duplicate of a document of its cluster; the cluster "
        "keeps one document (duplicate_of names it)",
        "url_duplicate": "the same URL was captured again (in another shard or crawl); one "
        "capture is kept (duplicate_of names it)",
    }

    # The fields of heed.curation.dedup.settings.DedupSettings (its docstring says what they
    # do); the [stage.dedup] table sets them.
    url: bool = True
    exact: bool = True
    near: bool = True
    scope: str = "language"
    keep: str = "earliest"
    url_keep: str = "latest"
    ngram_words: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1
    unspaced_scripts: list[str] = field(default_factory=lambda: list(UNSPACED_SCRIPTS))
    ngram_chars: int = 5
    documents_per_task: int = 1_000_000

    def __post_init__(self) -> None:
        self.settings()  # its checks, with their messages

    def settings(self) -> DedupSettings:
        return DedupSettings(**dataclasses.asdict(self))

    def describe(self) -> dict[str, Any]:
        """The manifest's record: the parameters, and the hash functions and seeds."""
        described = super().describe()
        method = self.settings().describe()
        del method["settings"]
        return {**described, "method": method}

    # -- between the phases (driver) --

    def corpus_step(self, step: CorpusStep) -> None:
        settings = self.settings()
        folder = Path(step.folder)
        parts = sorted(step.inputs)
        signature_paths = [folder / "signatures" / f"{part}.parquet" for part in parts]
        todo = [
            (step.inputs[part], path)
            for part, path in zip(parts, signature_paths, strict=True)
            if not path.is_file()
        ]
        step.map(functools.partial(_write_signatures, settings=settings), todo, "dedup-keys")
        plan = DedupPlan(signature_paths, folder / "work", folder / "decisions", settings)
        while (round_ := plan.next_round()) is not None:
            tasks = [task for task in round_.tasks if not task.complete()]
            step.map(functools.partial(_run_task, settings=settings), tasks, f"dedup-{round_.name}")

    # -- after it, per shard (worker) --

    def setup(self, context: RunContext) -> None:
        self._decisions_folder = Path(context.out) / self.name / "decisions"
        self._decisions: dict[str, tuple[str, str | None, str, int]] = {}

    def start_shard(self, part: str) -> None:
        table = pq.read_table(self._decisions_folder / f"{part}.parquet")
        self._decisions = {
            row["record_id"]: (
                row["decision"],
                row["duplicate_of"],
                row["cluster_id"],
                row["cluster_size"],
            )
            for row in table.to_pylist()
        }

    def process(self, docs: list[Document]) -> None:
        for doc in docs:
            found = self._decisions.get(doc.record_id)
            if found is None:
                raise LookupError(f"no dedup decision for {doc.record_id}")
            decision, duplicate_of, cluster, size = found
            doc.scores["duplicate_of"] = duplicate_of
            doc.scores["dedup_cluster"] = cluster
            doc.scores["dedup_cluster_size"] = size
            if decision != "kept":
                detail = f"{DETAIL[decision]} of {duplicate_of}, cluster of {size}"
                doc.drop(self.name, decision, detail)


def _write_signatures(paths: tuple[Path, Path], settings: DedupSettings) -> int:
    """One shard's keys: its documents still kept, in the order of its records, a batch of
    texts at a time."""
    records, target = paths
    tables = [
        signatures([doc for doc in batch if doc.alive], settings)
        for batch in read_records(records, 4096)
    ]
    table = pa.concat_tables(tables).combine_chunks() if tables else SIGNATURE_SCHEMA.empty_table()
    write_parquet(str(target), table)
    return table.num_rows


def _run_task(task: Task, settings: DedupSettings) -> None:
    task.run(settings)

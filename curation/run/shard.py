"""One shard, start to finish: read its records in batches, run the stage chain, write outputs.

This is the whole unit of work of a per-shard phase; executors only decide where it runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from heed.curation.config import PipelineConfig
from heed.curation.crawl.fetch import process_gate
from heed.curation.crawl.listing import Shard, open_input
from heed.curation.crawl.warc import read_documents
from heed.curation.document import Document
from heed.curation.output import KINDS, RECORDS, ShardWriter, read_marker, read_records
from heed.curation.pipeline import Pipeline, batches
from heed.curation.run.executors import TaskTools
from heed.curation.run.phases import Phase

log = logging.getLogger(__name__)

# Built and set up once per process and config: a Ray worker reuses it across its tasks.
_PIPELINES: dict[str, Pipeline] = {}


@dataclass(frozen=True)
class Outcome:
    """What became of a record: kept, or dropped or failed at a stage for a reason."""

    status: str
    stage: str | None = None
    reason: str | None = None

    def key(self) -> str:
        """The marker's spelling, `status:stage:reason`."""
        return f"{self.status}:{self.stage or ''}:{self.reason or ''}"

    @classmethod
    def of(cls, doc: Document) -> Outcome:
        return cls(doc.status.value, doc.stage, doc.reason)

    @classmethod
    def parse(cls, key: str) -> Outcome:
        status, stage, reason = key.split(":", 2)
        return cls(status, stage or None, reason or None)


@dataclass
class ShardResult:
    """A finished shard, as its marker records it (`skipped`: finished by an earlier run)."""

    shard: Shard
    records: int
    tokens: int
    outcomes: Counter[Outcome]
    marker: dict[str, Any]
    skipped: bool = False
    # Seconds and records per stage in this run (empty when skipped); never written.
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_marker(cls, marker: dict[str, Any], skipped: bool = False) -> ShardResult:
        outcomes = Counter({Outcome.parse(k): n for k, n in marker["outcomes"].items()})
        stored = {k: v for k, v in marker.items() if k not in ("skipped", "timings")}
        return cls(
            shard=Shard(marker["index"], marker["shard"]),
            records=marker["records"],
            tokens=marker["tokens"],
            outcomes=outcomes,
            marker=stored,
            skipped=skipped,
            timings=marker.get("timings", {}),
        )


class _HashingReader:
    """Passes a binary stream through while hashing it: the input checksum costs no extra read."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.digest, self.size = stream, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def tell(self) -> int:
        return self.size

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def pipeline_for(config: PipelineConfig, out: Path) -> Pipeline:
    """This process's pipeline for a config and output folder, set up on first use."""
    key = f"{config!r}|{out}"
    if key not in _PIPELINES:
        pipeline = Pipeline(config)
        pipeline.setup(pipeline.context(out))
        _PIPELINES[key] = pipeline
    return _PIPELINES[key]


def process_shard(
    config: PipelineConfig,
    shard: Shard,
    out: str | Path,
    tools: TaskTools | None = None,
    phase: Phase | None = None,
) -> ShardResult:
    """Run one phase (default: the only one, the whole chain) on one shard unless the phase's
    marker for it is there, made by the same stages. `tools` (from the executor) count records
    for the progress bar and cap connections per host when the shard is remote."""
    out = Path(out)
    phase = phase or Phase(1, 0, len(config.stages), "")
    root = out if phase.final else out / str(phase.writes)
    done = read_marker(root, shard.part)
    if done is not None and (not phase.digest or done.get("stages_sha256") == phase.digest):
        return ShardResult.from_marker(done, skipped=True)
    tools = tools or TaskTools(lambda n: None, process_gate(config.fetch.connections_per_host))
    pipeline = pipeline_for(phase.config(config), out)
    digest = phase.digest or pipeline.digest()
    # Each file names the stages (and versions) behind its rows, as the manifest does.
    chain = config.stages[: phase.stop]
    metadata = {
        "heed.stages": json.dumps({spec.name: spec.cls.version for spec in chain}),
        "heed.stages_sha256": digest,
    }
    pipeline.seconds.clear()
    pipeline.seen.clear()
    kinds = KINDS if phase.final else (RECORDS,)
    writer = ShardWriter(root, shard.part, phase.score_columns(config), metadata, kinds)
    counts: Counter[Outcome] = Counter()
    tokens = 0
    try:
        for stage in pipeline.stages:
            stage.start_shard(shard.part)
        with _records(config, shard, out, phase, tools) as (records, source):
            while True:
                with pipeline.clock("read"):
                    batch = next(records, None)
                if batch is None:
                    break
                pipeline.seen["read"] += len(batch)
                pipeline.process(batch)
                with pipeline.clock("write"):
                    writer.write(batch)
                for doc in batch:
                    counts[Outcome.of(doc)] += 1
                    if doc.alive and doc.tokens is not None:
                        tokens += len(doc.tokens)
                tools.count(len(batch))
            read = source()
    except BaseException:
        writer.abort()
        raise
    marker = {
        "shard": shard.path,
        "index": shard.index,
        "input": read,
        "stages_sha256": digest,
        "records": sum(counts.values()),
        "tokens": tokens,
        "outcomes": dict(sorted((o.key(), n) for o, n in counts.items())),
    }
    if shard.crawl and len(config.crawls) > 1:
        marker["crawl"] = shard.crawl
    log.info("%s: %d records, %d tokens", shard.path, marker["records"], tokens)
    with pipeline.clock("write"):
        marker = writer.commit(marker)
    pipeline.seen["write"] = pipeline.seen["read"]
    result = ShardResult.from_marker(marker)
    result.timings = {
        name: {"records": pipeline.seen[name], "seconds": pipeline.seconds[name]}
        for name in pipeline.seen
    }
    return result


@contextmanager
def _records(
    config: PipelineConfig, shard: Shard, out: Path, phase: Phase, tools: TaskTools
) -> Iterator[tuple[Iterator[list[Document]], Callable[[], dict[str, Any]]]]:
    """The shard's records in batches (read from its WARC, or from the phase before), and a
    function that says, once they are all read, what the input was (size and SHA-256)."""
    if phase.reads is None:
        with open_input(config.crawl_root, shard.path, config.fetch, tools.gate) as raw:
            stream = _HashingReader(raw)
            crawl = shard.crawl or config.crawls[0]
            documents = read_documents(stream, crawl=crawl, shard=shard.path)

            def source() -> dict[str, Any]:
                stream.drain()
                return {"sha256": stream.digest.hexdigest(), "bytes": stream.size}

            yield batches(documents, config.batch_size), source
        return
    before = out / phase.reads
    marker = read_marker(before, shard.part)
    if marker is None:
        raise FileNotFoundError(f"{before / RECORDS / shard.part}.parquet: the phase before "
                                "has not finished this shard")  # fmt: skip
    path = before / RECORDS / f"{shard.part}.parquet"
    yield read_records(path, config.batch_size), lambda: marker["input"]

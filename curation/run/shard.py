"""One shard, start to finish: read its records in batches, run the stage chain, write outputs.

This is the whole unit of work; executors only decide where it runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from heed.curation.config import PipelineConfig
from heed.curation.crawl.fetch import ConnectionGate
from heed.curation.crawl.listing import Shard, open_input
from heed.curation.crawl.warc import read_documents
from heed.curation.document import Document
from heed.curation.run.manifest import stages_digest
from heed.curation.run.output import ShardWriter, read_marker
from heed.curation.stage import RunContext, Stage

log = logging.getLogger(__name__)

# Built and set up once per process and config: a Ray worker reuses them across its tasks.
_STAGES: dict[str, tuple[list[Stage], str]] = {}


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


def stages_for(config: PipelineConfig, out: Path) -> tuple[list[Stage], str]:
    """The set-up stages and their digest (see `stages_digest`)."""
    key = f"{config!r}|{out}"
    if key not in _STAGES:
        stages = config.build_stages()
        context = RunContext(config.crawl_root, config.crawl, str(out), config.fetch_options())
        for stage in stages:
            stage.setup(context)
        _STAGES[key] = (stages, stages_digest(config, stages))
    return _STAGES[key]


def score_columns(stages: list[Stage]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for stage in stages:
        columns.update(stage.columns)
    return columns


def _batches(docs: Iterator[Document], size: int) -> Iterator[list[Document]]:
    while batch := list(islice(docs, size)):
        yield batch


def process_shard(
    config: PipelineConfig,
    shard: Shard,
    out: str | Path,
    progress: Callable[[int], None] | None = None,
    gate: ConnectionGate | None = None,
) -> dict[str, Any]:
    """Process one shard unless its completion marker exists; returns the marker. `gate` caps
    connections per host when the shard is remote (default: this process's own cap)."""
    out = Path(out)
    done = read_marker(out, shard.part)
    if done is not None:
        return {**done, "skipped": True}
    stages, digest = stages_for(config, out)
    # Each file names the stages (and versions) behind its rows, as the manifest does.
    metadata = {
        "heed.stages": json.dumps({stage.name: stage.version for stage in stages}),
        "heed.stages_sha256": digest,
    }
    writer = ShardWriter(out, shard.part, score_columns(stages), metadata)
    counts: Counter[str] = Counter()
    tokens = 0
    # Per-stage wall time and records seen; reported to the caller, never written (not
    # deterministic).
    seconds: Counter[str] = Counter()
    seen: Counter[str] = Counter()

    @contextmanager
    def clock(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        seconds[name] += time.perf_counter() - started

    try:
        with open_input(config.crawl_root, shard.path, config.fetch_options(), gate) as raw:
            stream = _HashingReader(raw)
            documents = read_documents(stream, crawl=config.crawl, shard=shard.path)
            batches = _batches(documents, config.batch_size)
            while True:
                with clock("read"):
                    batch = next(batches, None)
                if batch is None:
                    break
                seen["read"] += len(batch)
                for stage in stages:
                    seen[stage.name] += sum(d.alive for d in batch)
                    with clock(stage.name):
                        stage(batch)
                with clock("write"):
                    writer.write(batch)
                for doc in batch:
                    counts[f"{doc.status.value}:{doc.stage or ''}:{doc.reason or ''}"] += 1
                    if doc.alive and doc.tokens is not None:
                        tokens += len(doc.tokens)
                if progress:
                    progress(len(batch))
            stream.drain()
    except BaseException:
        writer.abort()
        raise
    marker = {
        "shard": shard.path,
        "index": shard.index,
        "input": {"sha256": stream.digest.hexdigest(), "bytes": stream.size},
        "stages_sha256": digest,
        "records": sum(counts.values()),
        "tokens": tokens,
        "outcomes": dict(sorted(counts.items())),
    }
    log.info("%s: %d records, %d tokens", shard.path, marker["records"], tokens)
    with clock("write"):
        marker = writer.commit(marker)
    seen["write"] = seen["read"]
    timings = {name: {"records": seen[name], "seconds": seconds[name]} for name in seen}
    return {**marker, "skipped": False, "timings": timings}

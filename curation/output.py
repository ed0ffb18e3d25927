"""The output layout and its atomic writers.

```
OUT/documents/part-NNNNN.parquet   kept documents (redacted text, language, scores)
OUT/tokens/part-NNNNN.parquet      kept documents' token ids (uint32, BOS ... EOS)
OUT/audit/part-NNNNN.parquet       one row per response record read: kept, dropped or error
OUT/markers/part-NNNNN.json        completion marker: written last, its presence = shard done
OUT/failed/part-NNNNN.json         a shard that failed (its error), until a run finishes it
OUT/manifest.json                  config, versions, model hashes, inputs with checksums
OUT/before-STAGE/                  with a corpus-level stage (dedup): every record of each shard
  records/part-NNNNN.parquet       as the stages before STAGE left it (the text of kept ones),
  markers/part-NNNNN.json          what the run goes on from after STAGE's corpus step
```
Each file is written under a hidden temporary name and renamed into place; the marker comes
after all three, so a shard without a marker is redone from scratch on the next run. A file
that can be seen is complete; a shard is done when its marker is there.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from heed.common.files import fsync_file, sha256_file, write_json_atomic
from heed.common.tokens import TOKENS_SCHEMA
from heed.curation.document import Document, Status

KINDS = ("documents", "tokens", "audit")
MARKERS = "markers"
FAILED = "failed"
MANIFEST = "manifest.json"

AUDIT_FIELDS = [
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("shard", pa.string(), nullable=False),
    pa.field("offset", pa.int64(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("host", pa.string()),
    pa.field("crawl", pa.string()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("stage", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("detail", pa.string()),
    pa.field("language", pa.string()),
]
DOCUMENT_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("host", pa.string()),
    pa.field("crawl", pa.string()),
    pa.field("warc_date", pa.string()),
    pa.field("language", pa.string()),
]
# Columns read straight off the Document; every other non-fixed column is a stage's score.
DOCUMENT_ATTRIBUTES = frozenset(
    {"shard", "offset", "url", "host", "crawl", "stage", "reason", "detail", "language", "text"}
)


# Between phases: every record as the stages so far left it.
RECORDS = "records"
PHASE_FIELDS = [*AUDIT_FIELDS, pa.field("warc_date", pa.string()), pa.field("text", pa.string())]


def phase_folder(out: Path, stage: str) -> Path:
    """Where the records wait for a corpus-level stage's step: OUT/before-STAGE."""
    return out / f"before-{stage}"


def schemas(
    score_columns: dict[str, pa.DataType], metadata: dict[str, str] | None = None
) -> dict[str, pa.Schema]:
    """The files' schemas; `metadata` (which stages, at which versions, wrote them) goes into
    each file's Parquet key-value metadata."""
    scores = [pa.field(name, kind) for name, kind in score_columns.items()]
    return {
        kind: schema.with_metadata(metadata or {})
        for kind, schema in {
            "documents": pa.schema([*DOCUMENT_FIELDS, *scores, pa.field("text", pa.string())]),
            "tokens": TOKENS_SCHEMA,
            "audit": pa.schema([*AUDIT_FIELDS, *scores]),
            RECORDS: pa.schema([*PHASE_FIELDS, *scores]),
        }.items()
    }


def _rows(kind: str, docs: list[Document], schema: pa.Schema) -> pa.Table:
    if kind == "tokens":
        return pa.table(
            {
                "id": [d.record_id for d in docs],
                "tokens": pa.array([d.tokens for d in docs], type=pa.list_(pa.uint32())),
                "num_tokens": pa.array([len(d.tokens) for d in docs], pa.int32()),
            },
            schema=schema,
        )
    columns: dict[str, list[Any]] = {}
    for name in schema.names:
        if name in ("id", "record_id"):
            columns[name] = [d.record_id for d in docs]
        elif name == "status":
            columns[name] = [d.status.value for d in docs]
        elif name == "warc_date":
            columns[name] = [d.warc_date for d in docs]
        elif name == "text" and kind == RECORDS:
            columns[name] = [d.text if d.alive else None for d in docs]  # the rest is done with
        elif name in DOCUMENT_ATTRIBUTES:
            columns[name] = [getattr(d, name) for d in docs]
        else:
            columns[name] = [d.scores.get(name) for d in docs]
    return pa.table(columns, schema=schema)


def read_records(path: Path, batch_size: int) -> Iterator[list[Document]]:
    """The records of a phase file (see RECORDS), in their order, in batches: documents again,
    with the status, stage, reason, detail and scores the earlier stages gave them."""
    parquet = pq.ParquetFile(path)
    fixed = {field.name for field in PHASE_FIELDS}
    for batch in parquet.iter_batches(batch_size=batch_size):
        rows = batch.to_pylist()
        docs = []
        for row in rows:
            doc = Document(
                record_id=row["record_id"],
                url=row["url"],
                host=row["host"],
                crawl=row["crawl"],
                shard=row["shard"],
                offset=row["offset"],
                warc_date=row["warc_date"] or "",
                text=row["text"],
                language=row["language"],
                scores={k: v for k, v in row.items() if k not in fixed and v is not None},
                status=Status(row["status"]),
                stage=row["stage"],
                reason=row["reason"],
                detail=row["detail"],
            )
            docs.append(doc)
        yield docs


def marker_path(out: Path, part: str) -> Path:
    return out / MARKERS / f"{part}.json"


def read_marker(out: Path, part: str) -> dict[str, Any] | None:
    path = marker_path(out, part)
    return json.loads(path.read_text()) if path.is_file() else None


def failure_path(out: Path, part: str) -> Path:
    return out / FAILED / f"{part}.json"


def read_failures(out: Path) -> dict[str, dict[str, Any]]:
    """The failure records in `out`, by part name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / FAILED).glob("part-*.json"))}


def _temporary(final: Path) -> Path:
    """A hidden name of one writer's own for `final`: an attempt at a shard that is still
    running somewhere (a worker the driver gave up on) never writes into this one's file."""
    return final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def _remove_stale(final: Path) -> None:
    """Temporaries of earlier attempts at `final` (killed ones leave theirs behind)."""
    for stale in final.parent.glob(f".{final.name}.*tmp"):
        stale.unlink(missing_ok=True)


class ShardWriter:
    """Streams one shard's Parquet files batch by batch, then commits them atomically: the
    run's three (`kinds` KINDS) under `out`, or the records of a phase (`kinds` (RECORDS,))
    under its folder."""

    def __init__(
        self,
        out: Path,
        part: str,
        score_columns: dict[str, pa.DataType],
        metadata: dict[str, str] | None = None,
        kinds: tuple[str, ...] = KINDS,
    ) -> None:
        self.out, self.part, self.kinds = out, part, kinds
        self.schemas = schemas(score_columns, metadata)
        self.final = {kind: out / kind / f"{part}.parquet" for kind in kinds}
        self.tmp = {kind: _temporary(path) for kind, path in self.final.items()}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.placed: list[Path] = []  # files this writer renamed into place
        try:
            for kind, path in self.tmp.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                _remove_stale(self.final[kind])
                self.writers[kind] = pq.ParquetWriter(
                    path, self.schemas[kind], compression="zstd", write_statistics=True
                )
        except BaseException:
            self.abort()
            raise

    def write(self, batch: list[Document]) -> None:
        if self.kinds != KINDS:
            for kind in self.kinds:
                self.writers[kind].write_table(_rows(kind, batch, self.schemas[kind]))
            return
        kept = [d for d in batch if d.alive]
        self.writers["audit"].write_table(_rows("audit", batch, self.schemas["audit"]))
        if kept:
            self.writers["documents"].write_table(
                _rows("documents", kept, self.schemas["documents"])
            )
        tokenized = [d for d in kept if d.tokens is not None]
        if tokenized:
            self.writers["tokens"].write_table(_rows("tokens", tokenized, self.schemas["tokens"]))

    def commit(self, marker: dict[str, Any]) -> dict[str, Any]:
        """Close the three files, rename them into place, then write the marker. If any step
        fails (a full disk fails at close as often as at write), nothing of this shard stays
        visible: no marker, no file, no temporary."""
        try:
            for writer in self.writers.values():
                writer.close()
            files = {}
            for kind in self.kinds:
                fsync_file(self.tmp[kind])
                files[kind] = {
                    "path": str(self.final[kind].relative_to(self.out)),
                    "sha256": sha256_file(self.tmp[kind]),
                }
            for kind in self.kinds:
                os.replace(self.tmp[kind], self.final[kind])
                self.placed.append(self.final[kind])
            marker = {**marker, "outputs": files}
            write_json_atomic(marker_path(self.out, self.part), marker)
        except BaseException:
            self.abort()
            raise
        if self.kinds == KINDS:
            failure_path(self.out, self.part).unlink(missing_ok=True)  # done now
        return marker

    def abort(self) -> None:
        """Drop this shard's temporaries, and any file renamed into place before its marker
        could be written; a writer that fails to close (a full disk) does not stop that."""
        for writer in self.writers.values():
            with contextlib.suppress(Exception):  # the file is deleted below either way
                writer.close()
        self.writers = {}
        for path in [*self.tmp.values(), *self.placed]:
            path.unlink(missing_ok=True)
        self.placed = []

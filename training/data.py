"""The token loader: `tokens/` Parquet (README, "Output") into packed, masked training batches.

Data flow. The unit of reading and of shuffling is a Parquet row group (curation writes one
per batch of records, a few dozen documents). Each epoch deals a seeded permutation of all
units out to S *streams* (stream j takes units j, j + S, j + 2S, ...), so the streams see
disjoint documents. A stream reads its units in order, shuffles each unit's documents (seeded
by epoch and unit), and concatenates them (each already BOS … EOS) into one token stream cut
into windows of seq_len + 1 tokens: inputs are a window's first seq_len tokens, targets its
last seq_len. Nothing is dropped or repeated within an epoch; a stream that runs out moves on
to its next epoch.

Ranks. The S streams are split evenly over the ranks (rank r owns streams r·S/W … ), and each
micro-batch takes micro_batch / (S/W) consecutive windows from each owned stream, in stream
order. A global batch is therefore the same whatever the number of ranks it is spread over:
one process owning streams 0 and 1 builds exactly the rows that two ranks owning one each
build between them. The state (per stream: epoch, unit, document, token offset) is keyed by
global stream id, so a checkpoint can resume on another number of ranks that divides S.

Documents stay apart. Every window carries per-token segment ids (one per document piece in
the window) and positions that restart at 0 at each piece; the model's attention lets a token
see only earlier tokens of its own segment (training/attention.py). A target that begins a new
document (the BOS after an EOS) gets weight 0: it would be predicted across the boundary.
The Goldfish mask (training/goldfish.py) is applied to each row's targets here, in the loader,
and ends up in the per-token loss weights with the padding.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from heed.common.tokens import FORMAT_VERSION
from heed.training.goldfish import goldfish_mask

log = logging.getLogger(__name__)

PAD_ID = 0  # any id will do: padded targets have weight 0 and padding sits in its own segment


class DataError(ValueError):
    """The shards cannot be read as `tokens/` Parquet (schema, manifest, tokenizer, sizes)."""


@dataclass(frozen=True)
class Unit:
    """One row group of one Parquet file: the unit of reading and shuffling."""

    file: str
    row_group: int
    rows: int


@dataclass
class Batch:
    """A micro-batch: B rows of T tokens, everything the model and the loss need.

    input_ids, targets (B, T) int64; segments (B, T) int64, equal within one document piece;
    positions (B, T) int64, restarting at each piece; weights (B, T) float32 (0: padding, a
    document's first token as target, or dropped by Goldfish).
    """

    input_ids: torch.Tensor
    targets: torch.Tensor
    segments: torch.Tensor
    positions: torch.Tensor
    weights: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        """The batch on `device`. To CUDA through pinned memory: a copy from ordinary (pageable)
        host memory waits for the GPU's queue to drain first; from pinned memory it is queued
        like a kernel, so the host can run ahead."""
        if torch.device(device).type == "cuda":
            return Batch(*(t.pin_memory().to(device, non_blocking=True) for t in self.tensors()))
        return Batch(*(t.to(device) for t in self.tensors()))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.input_ids, self.targets, self.segments, self.positions, self.weights)

    @property
    def kept(self) -> torch.Tensor:
        """How many targets count in the loss."""
        return self.weights.sum()


def token_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Parquet files named directly, or found (sorted) in folders named."""
    if isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.parquet"))
            if not found:
                raise DataError(f"{path}: no *.parquet files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files


def check_manifest(files: Sequence[Path], tokenizer_sha256: str | None = None) -> None:
    """Check the manifest.json beside each files' tokens/ folder, where there is one.

    The manifest's format_version must be the one this trainer reads, and when
    `tokenizer_sha256` is given, the manifest's tokenizer must have that hash. A folder
    without a manifest (hand-made shards, tests) is read as is.
    """
    for manifest in sorted({f.resolve().parent.parent / "manifest.json" for f in files}):
        if not manifest.is_file():
            log.info("no %s: format and tokenizer not checked", manifest)
            continue
        data = json.loads(manifest.read_text(encoding="utf-8"))
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise DataError(
                f"{manifest}: format_version {version!r}, this trainer reads {FORMAT_VERSION}"
            )
        if tokenizer_sha256:
            tokenizer = data.get("tokenizer") or {}
            if tokenizer_sha256 not in tokenizer.values():
                raise DataError(
                    f"{manifest}: tokenizer {tokenizer or 'not named'}, the config expects "
                    f"sha256 {tokenizer_sha256}"
                )


def list_units(files: Sequence[Path]) -> list[Unit]:
    """Every row group of every file, from the Parquet footers (no data read)."""
    units = []
    for file in files:
        meta = pq.ParquetFile(file)
        field = meta.schema_arrow.field("tokens") if "tokens" in meta.schema_arrow.names else None
        if field is None or not (
            pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
        ):
            raise DataError(f"{file}: no `tokens` list column (schema: {meta.schema_arrow})")
        if not pa.types.is_integer(field.type.value_type):
            raise DataError(f"{file}: `tokens` holds {field.type.value_type}, not integers")
        for group in range(meta.metadata.num_row_groups):
            rows = meta.metadata.row_group(group).num_rows
            if rows:
                units.append(Unit(str(file), group, rows))
    return units


def read_unit(unit: Unit, vocab_size: int | None = None) -> list[np.ndarray]:
    """The documents of one row group, reading the `tokens` column only."""
    column = pq.ParquetFile(unit.file).read_row_group(unit.row_group, columns=["tokens"])
    tokens = column.column("tokens").combine_chunks()
    offsets = tokens.offsets.to_numpy()
    values = tokens.values.to_numpy().astype(np.int64)
    if vocab_size is not None and len(values) and int(values.max()) >= vocab_size:
        raise DataError(
            f"{unit.file}: token id {int(values.max())} is outside the model's vocabulary "
            f"({vocab_size})"
        )
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


class _Stream:
    """One stream of windows over its share of each epoch's units (see the module doc)."""

    def __init__(self, loader: TokenLoader, index: int) -> None:
        self.loader, self.index = loader, index
        self.epoch, self.unit, self.doc, self.offset = 0, 0, 0, 0
        self.done = False
        self._cache: tuple[tuple[int, int], list[np.ndarray]] | None = None
        self._units_cache: tuple[int, list[Unit]] | None = None

    def state(self) -> dict[str, int | bool]:
        return {
            "epoch": self.epoch,
            "unit": self.unit,
            "doc": self.doc,
            "offset": self.offset,
            "done": self.done,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.epoch, self.unit = int(state["epoch"]), int(state["unit"])
        self.doc, self.offset = int(state["doc"]), int(state["offset"])
        self.done = bool(state["done"])
        self._cache = None

    def _units(self) -> list[Unit]:
        """This stream's units in this epoch: every S-th of the epoch's order."""
        if self._units_cache is None or self._units_cache[0] != self.epoch:
            units = self.loader.epoch_units(self.epoch)[self.index :: self.loader.streams]
            self._units_cache = (self.epoch, units)
        return self._units_cache[1]

    def _documents(self) -> list[np.ndarray]:
        """The current unit's documents in this epoch's order (the last unit read is cached)."""
        key = (self.epoch, self.unit)
        if self._cache is None or self._cache[0] != key:
            unit = self._units()[self.unit]
            docs = read_unit(unit, self.loader.vocab_size)
            generator = np.random.default_rng(
                [self.loader.seed, self.epoch, self.loader.unit_id(unit)]
            )
            order = generator.permutation(len(docs)) if self.loader.shuffle else range(len(docs))
            self._cache = (key, [docs[i] for i in order])
        return self._cache[1]

    def window(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The next `size` tokens and a 0/1 flag per token marking a document's start (2 for
        padding). Moves to the next epoch when this one's units run out; in a finite loader
        pads instead."""
        tokens = np.full(size, PAD_ID, dtype=np.int64)
        starts = np.full(size, 2, dtype=np.int8)  # 2: padding
        filled = 0
        while filled < size and not self.done:
            units = self._units()
            if self.unit >= len(units):
                self.epoch, self.unit, self.doc, self.offset = self.epoch + 1, 0, 0, 0
                if self.loader.epochs is not None and self.epoch >= self.loader.epochs:
                    self.done = True
                continue
            docs = self._documents()
            if self.doc >= len(docs):
                self.unit, self.doc, self.offset = self.unit + 1, 0, 0
                continue
            doc = docs[self.doc]
            take = min(size - filled, len(doc) - self.offset)
            tokens[filled : filled + take] = doc[self.offset : self.offset + take]
            starts[filled : filled + take] = 0
            if self.offset == 0:
                starts[filled] = 1
            filled += take
            self.offset += take
            if self.offset == len(doc):
                self.doc, self.offset = self.doc + 1, 0
        return tokens, starts


class TokenLoader:
    """Packed batches over `tokens/` Parquet files, sharded over ranks, resumable exactly.

    files: the Parquet files (see `token_files`). seq_len: tokens per row (targets are the
    inputs shifted by one, so each row reads seq_len + 1 tokens). micro_batch: rows per batch
    on this rank. streams: global number of streams (a multiple of world_size; each rank's
    share must divide micro_batch). epochs: None cycles forever; n stops after n epochs of
    every stream (the last windows padded). goldfish: (k, h, mode) or None. vocab_size: token
    ids at or above it are an error.
    """

    def __init__(
        self,
        files: Sequence[Path],
        seq_len: int,
        micro_batch: int,
        *,
        streams: int = 1,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        epochs: int | None = None,
        goldfish: tuple[int, int, str] | None = None,
        vocab_size: int | None = None,
    ) -> None:
        if streams % world_size:
            raise DataError(f"streams ({streams}) must be a multiple of the ranks ({world_size})")
        local = streams // world_size
        if micro_batch % local:
            raise DataError(
                f"each rank owns {local} streams: micro_batch ({micro_batch}) must be a multiple"
            )
        self.files = [Path(f) for f in files]
        self.units = list_units(self.files)
        if len(self.units) < streams:
            raise DataError(
                f"{len(self.units)} row groups in {len(self.files)} files cannot feed {streams} "
                "streams: use fewer streams (or ranks), or write smaller row groups"
            )
        self.seq_len, self.micro_batch = seq_len, micro_batch
        self.streams, self.rank, self.world_size = streams, rank, world_size
        self.seed, self.shuffle, self.epochs = seed, shuffle, epochs
        self.goldfish, self.vocab_size = goldfish, vocab_size
        self._unit_ids = {(u.file, u.row_group): i for i, u in enumerate(self.units)}
        self._epoch_cache: dict[int, list[Unit]] = {}
        owned = range(rank * local, (rank + 1) * local)
        self._streams = [_Stream(self, j) for j in owned]

    @property
    def stream_ids(self) -> list[int]:
        return [s.index for s in self._streams]

    def unit_id(self, unit: Unit) -> int:
        return self._unit_ids[(unit.file, unit.row_group)]

    def epoch_units(self, epoch: int) -> list[Unit]:
        """All units in epoch `epoch`'s order (the same on every rank)."""
        if epoch not in self._epoch_cache:
            if self.shuffle:
                order = np.random.default_rng([self.seed, epoch]).permutation(len(self.units))
            else:
                order = np.arange(len(self.units))
            # Streams drift apart by an epoch at most now and then: keep the last few orders.
            for old in sorted(self._epoch_cache)[:-3]:
                del self._epoch_cache[old]
            self._epoch_cache[epoch] = [self.units[i] for i in order]
        return self._epoch_cache[epoch]

    @property
    def exhausted(self) -> bool:
        """In a finite loader: every owned stream has finished its last epoch."""
        return all(s.done for s in self._streams)

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        if self.exhausted:
            raise StopIteration
        per_stream = self.micro_batch // len(self._streams)
        rows = [s.window(self.seq_len + 1) for s in self._streams for _ in range(per_stream)]
        return self._batch(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]))

    def padding_batch(self) -> Batch:
        """A batch of padding only (weight 0 everywhere): lets a rank whose finite loader has
        run out keep step with the others in collective calls."""
        size = (self.micro_batch, self.seq_len + 1)
        return self._batch(np.full(size, PAD_ID, np.int64), np.full(size, 2, np.int8))

    def _batch(self, tokens: np.ndarray, starts: np.ndarray) -> Batch:
        # Segment ids: a new one at each document start and at the first padding token;
        # padding is its own segment, so its (ignored) rows still attend to something.
        pad = starts == 2
        boundary = starts == 1
        boundary[:, 1:] |= pad[:, 1:] & ~pad[:, :-1]
        segments = np.cumsum(boundary, axis=1)
        # Positions restart at every segment: index minus the index of the segment's start.
        index = np.broadcast_to(np.arange(tokens.shape[1]), tokens.shape)
        seg_start = np.maximum.accumulate(np.where(boundary, index, 0), axis=1)
        positions = index - seg_start
        weights = (~pad[:, 1:]) & (segments[:, 1:] == segments[:, :-1])
        targets = torch.from_numpy(tokens[:, 1:].copy())
        if self.goldfish is not None:
            k, h, mode = self.goldfish
            weights &= goldfish_mask(targets, k, h, mode).numpy()
        return Batch(
            input_ids=torch.from_numpy(tokens[:, :-1].copy()),
            targets=targets,
            segments=torch.from_numpy(segments[:, :-1].copy()),
            positions=torch.from_numpy(positions[:, :-1].copy()),
            weights=torch.from_numpy(weights.astype(np.float32)),
        )

    def state_dict(self) -> dict[str, Any]:
        """The position of every owned stream, keyed by global stream id."""
        return {
            "streams": {s.index: s.state() for s in self._streams},
            "num_streams": self.streams,
            "seed": self.seed,
            "units": len(self.units),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the owned streams from a state_dict (one rank's, or every rank's merged)."""
        if state["num_streams"] != self.streams or state["units"] != len(self.units):
            raise DataError(
                f"loader state for {state['num_streams']} streams over {state['units']} row "
                f"groups; this loader has {self.streams} over {len(self.units)}"
            )
        if state["seed"] != self.seed:
            raise DataError(f"loader state seeded {state['seed']}, this loader {self.seed}")
        streams = {int(k): v for k, v in state["streams"].items()}
        for stream in self._streams:
            if stream.index not in streams:
                raise DataError(f"loader state lacks stream {stream.index}")
            stream.restore(streams[stream.index])


def merge_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One state_dict from every rank's (their streams are disjoint)."""
    merged = dict(states[0])
    merged["streams"] = {k: v for s in states for k, v in s["streams"].items()}
    return merged

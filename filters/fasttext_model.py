"""fastText models in pure Python + numpy: read (`.bin`, quantized `.ftz`), write (`.bin`),
predict, and train supervised classifiers.

Why not the C++ package: fasttext-predict cannot train, the full `fasttext` wheels install the
same `fasttext` module, and per-call overhead made language ID cost ~650 µs per 2 KB page.
Here a quantized model is decoded to dense rows once at load, and each distinct word's input
rows are summed once and cached, so a document costs a dict lookup per token plus one
gather-and-sum; `predict_top` does the arithmetic after that for a batch of lines at once,
with each line's numbers exactly what it would get alone. Outputs follow fastText 0.9.2
exactly (src/fasttext.cc, dictionary.cc, loss.cc, quantmatrix.cc, productquantizer.cc),
including its quirks: the `</s>` token that predict appends, FNV-1a over *signed* chars, and
the 1e-5 added inside every log it takes.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = 793712314  # the first int32 of every fastText model file
VERSION = 12  # the format fastText 0.9 writes; 11 is read too
EOS = "</s>"  # the token fastText reads at the end of each line
LABEL_PREFIX = "__label__"  # fastText's default `-label` (not stored in the file)
LOSS_HS, LOSS_NS, LOSS_SOFTMAX, LOSS_OVA = 1, 2, 3, 4
MODEL_CBOW, MODEL_SG, MODEL_SUP = 1, 2, 3
_WORD, _LABEL = 0, 1  # dictionary entry types
_KSUB = 256  # centroids per sub-quantizer (8-bit codes)
_NGRAM_MULTIPLIER = np.uint64(116049371)  # fastText's word n-gram hash step

_EOS_BYTES = EOS.encode()
_LABEL_BYTES = LABEL_PREFIX.encode()
# Whitespace to str.split() (and regex `\s`) that is not ASCII whitespace to bytes.split(),
# in UTF-8 (which never shows these byte runs inside another character).
_UNICODE_SPACE = re.compile(
    rb"[\x1c-\x1f]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
)
_ARGS = struct.Struct("<12id")
# fastText's hs search floor: its threshold 0 through std_log, log(0 + 1e-5), as a float.
_HS_FLOOR = np.float32(np.log(1e-5))
_EXTRA = 3  # columns after a cached word's row sum: row count, Unicode space, is </s>
_DICT_HEAD = struct.Struct("<3i2q")


@dataclass
class Args:
    """The training arguments a model file stores (in this order)."""

    dim: int = 16
    ws: int = 5
    epoch: int = 5
    min_count: int = 1
    neg: int = 5
    word_ngrams: int = 1
    loss: int = LOSS_SOFTMAX
    model: int = MODEL_SUP
    bucket: int = 2_000_000
    minn: int = 0
    maxn: int = 0
    lr_update_rate: int = 100
    t: float = 1e-4

    def pack(self) -> bytes:
        return _ARGS.pack(
            self.dim, self.ws, self.epoch, self.min_count, self.neg, self.word_ngrams,
            self.loss, self.model, self.bucket, self.minn, self.maxn, self.lr_update_rate,
            self.t,
        )  # fmt: skip


def fnv1a(data: bytes) -> int:
    """fastText's 32-bit FNV-1a, which xors each byte as a *signed* char (sign-extended)."""
    h = 2166136261
    for b in data:
        h = ((h ^ ((b | 0xFFFFFF00) if b & 0x80 else b)) * 16777619) & 0xFFFFFFFF
    return h


def fnv1a_many(items: list[bytes]) -> np.ndarray:
    """`fnv1a` of each item at once (uint64 holding the 32-bit hash): one vectorised step per
    byte position instead of a Python loop per byte. Meant for short items (n-grams, words)."""
    n = len(items)
    lengths = np.fromiter(map(len, items), np.intp, n)
    data = np.frombuffer(b"".join(items), np.uint8).astype(np.uint64)
    # Sign-extend bytes >= 0x80 to 32 bits, as fastText's signed char does.
    data = np.where(data >= 0x80, data | np.uint64(0xFFFFFF00), data)
    starts = np.cumsum(lengths) - lengths
    h = np.full(n, 2166136261, np.uint64)
    order = np.argsort(-lengths, kind="stable")  # longest first: active items stay a prefix
    by_length, from_start = lengths[order], starts[order]
    for j in range(int(by_length[0]) if n else 0):
        active = int(np.searchsorted(-by_length, -j, side="left"))  # items longer than j
        rows = order[:active]
        h[rows] = ((h[rows] ^ data[from_start[:active] + j]) * np.uint64(16777619)) & np.uint64(
            0xFFFFFFFF
        )
    return h


def _signed32(h: int) -> int:
    # fastText keeps word hashes in a vector<int32_t>, then widens them to uint64 with sign.
    return h - (1 << 32) if h & 0x80000000 else h


def line_words(text: str) -> list[bytes]:
    """The words fastText reads from one line, as UTF-8: split on its separators (space,
    tab, CR, VT, FF, NUL) only, as bytes.split() does but for NUL."""
    data = text.encode("utf-8", "surrogatepass")
    if b"\0" in data:
        data = data.replace(b"\0", b" ")
    return data.split()


def _fold(words: list[bytes]) -> list[bytes]:
    """The words split again where str.split() splits but bytes.split() does not (at
    no-break spaces, U+3000, ...). The space joining them is never part of a character, so
    each word decodes as it would alone."""
    text = b" ".join(words).decode("utf-8", "surrogateescape")
    return [word.encode("utf-8", "surrogateescape") for word in text.split()]


def _end_to_end(lines: list[list[bytes]]) -> tuple[list[bytes], list[int]]:
    """The lines' words end to end, each closed by </s>, and where each line starts."""
    words: list[bytes] = []
    starts = []
    for line in lines:
        starts.append(len(words))
        words += line
        words.append(_EOS_BYTES)  # as predict's "\n" reads
    return words, starts


def _lines(words: list[bytes], starts: list[int] | None) -> list[list[bytes]]:
    """`_end_to_end` undone: each line's words (without its closing </s>)."""
    if starts is None:
        lines, line = [], []
        for word in words:
            if word == _EOS_BYTES:
                lines.append(line)
                line = []
            else:
                line.append(word)
        return lines
    ends = [*starts[1:], len(words)]
    return [words[a : b - 1] for a, b in zip(starts, ends, strict=True)]


def subword_hashes(words: list[bytes], minn: int, maxn: int) -> tuple[np.ndarray, np.ndarray]:
    """Every character n-gram of each word (wrapped in `<` `>`) as computeSubwords lists them,
    for all words at once: the index of its word and its FNV-1a hash, ordered by word, start,
    length. Like fastText, it walks bytes (a character is a byte and the continuation bytes
    after it), so a word that is not valid UTF-8 gets exactly fastText's n-grams too. One
    vectorised step per character of n-gram length: a cold cache (a worker's first pages,
    where most words are new) is not a Python loop per n-gram."""
    if not words or maxn <= 0:
        return np.zeros(0, np.intp), np.zeros(0, np.uint64)
    lengths = np.fromiter(map(len, words), np.intp, len(words)) + 2
    data = np.frombuffer(b"<" + b"><".join(words) + b">", np.uint8)
    ends = np.cumsum(lengths)
    follow = (data & 0xC0) == 0x80  # a continuation byte
    follow = np.append(follow, False)  # past the last word: nothing follows
    value = data.astype(np.uint64)
    value = np.where(data >= 0x80, value | np.uint64(0xFFFFFF00), value)  # signed char
    start = np.flatnonzero(~follow[:-1])  # where each n-gram may start
    owner = np.repeat(np.arange(len(words)), lengths)[start]
    end = ends[owner]
    edge = (start == end - lengths[owner]) | (start == end - 1)  # at `<` or `>`
    h = np.full(len(start), 2166136261, np.uint64)
    at = start.copy()
    live = np.arange(len(start))  # n-grams still growing, by index into start
    found_at, found_n, found_h = [], [], []
    for n in range(1, maxn + 1):
        # One more character: its lead byte, then its continuation bytes.
        step = live
        while len(step):
            h[step] = ((h[step] ^ value[at[step]]) * np.uint64(16777619)) & np.uint64(0xFFFFFFFF)
            at[step] += 1
            step = step[(at[step] < end[step]) & follow[at[step]]]
        if n >= minn:
            emit = live if n > 1 else live[~(edge[live] | (at[live] == end[live]))]
            found_at.append(emit)
            found_n.append(np.full(len(emit), n, np.intp))
            found_h.append(h[emit])
        live = live[at[live] < end[live]]
    index, length = np.concatenate(found_at), np.concatenate(found_n)
    order = np.lexsort((length, index))  # by start (so by word), then by length
    return owner[index[order]], np.concatenate(found_h)[order]


class _Reader:
    """Bounds-checked reads from a model file's bytes; any shortfall is a ValueError."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.offset, self.name = data, 0, name

    def unpack(self, fmt: str | struct.Struct) -> tuple:
        layout = fmt if isinstance(fmt, struct.Struct) else struct.Struct(fmt)
        if self.offset + layout.size > len(self.data):
            raise ValueError(f"{self.name}: truncated fastText model (at byte {self.offset})")
        values = layout.unpack_from(self.data, self.offset)
        self.offset += layout.size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.offset + size > len(self.data):
            raise ValueError(f"{self.name}: truncated fastText model (at byte {self.offset})")
        values = np.frombuffer(self.data, dtype, count, self.offset)
        self.offset += size
        return values

    def cstring(self) -> bytes:
        end = self.data.find(b"\0", self.offset)
        if end < 0:
            raise ValueError(f"{self.name}: truncated fastText model (at byte {self.offset})")
        word = self.data[self.offset : end]
        self.offset = end + 1
        return word


def _read_pq(reader: _Reader) -> tuple[int, int, int, int, np.ndarray]:
    dim, nsubq, dsub, lastdsub = reader.unpack("<4i")
    if dim <= 0 or nsubq <= 0 or dsub <= 0 or not 0 < lastdsub <= dsub:
        raise ValueError(f"{reader.name}: bad product quantizer header")
    if (nsubq - 1) * dsub + lastdsub != dim:
        raise ValueError(f"{reader.name}: product quantizer does not cover its dimension")
    centroids = reader.array("<f4", dim * _KSUB)
    return dim, nsubq, dsub, lastdsub, centroids


def _decode_pq(
    codes: np.ndarray, pq: tuple[int, int, int, int, np.ndarray], rows: int
) -> np.ndarray:
    """Each row's centroids side by side (ProductQuantizer::addcode, all rows at once)."""
    dim, nsubq, dsub, lastdsub, centroids = pq
    codes = codes.reshape(rows, nsubq)
    dense = np.empty((rows, dim), np.float32)
    for sub in range(nsubq):
        width = lastdsub if sub == nsubq - 1 else dsub
        block = centroids[sub * _KSUB * dsub : sub * _KSUB * dsub + _KSUB * width]
        dense[:, sub * dsub : sub * dsub + width] = block.reshape(_KSUB, width)[codes[:, sub]]
    return dense


def _read_matrix(reader: _Reader, quantized: bool) -> np.ndarray:
    """A DenseMatrix, or a QuantMatrix decoded to dense rows (norm times centroids, as
    QuantMatrix::addRowToVector scales them)."""
    if not quantized:
        rows, cols = reader.unpack("<2q")
        if rows < 0 or cols <= 0:
            raise ValueError(f"{reader.name}: bad matrix shape {rows}x{cols}")
        return reader.array("<f4", rows * cols).reshape(rows, cols).copy()
    (qnorm,) = reader.unpack("<?")
    rows, cols = reader.unpack("<2q")
    (codesize,) = reader.unpack("<i")
    codes = reader.array("u1", codesize)
    pq = _read_pq(reader)
    if pq[0] != cols or codesize != rows * pq[1]:
        raise ValueError(f"{reader.name}: quantized matrix sizes disagree")
    dense = _decode_pq(codes, pq, rows)
    if qnorm:
        norm_codes = reader.array("u1", rows)
        npq = _read_pq(reader)
        norms = _decode_pq(norm_codes, npq, rows)[:, 0]
        dense *= norms[:, None]
    return dense


def _huffman_paths(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For each label (leaf), the (internal node, went right) steps from the root, from a tree
    built exactly like HierarchicalSoftmaxLoss::buildTree (counts in dictionary order)."""
    osz = len(counts)
    size = 2 * osz - 1
    count = [10**15] * size
    count[:osz] = counts
    parent = [-1] * size
    binary = [False] * size
    leaf, node = osz - 1, osz
    for i in range(osz, size):
        mini = [0, 0]
        for j in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                mini[j], leaf = leaf, leaf - 1
            else:
                mini[j], node = node, node + 1
        count[i] = count[mini[0]] + count[mini[1]]
        parent[mini[0]] = parent[mini[1]] = i
        binary[mini[1]] = True
    paths = []
    for i in range(osz):
        steps, at = [], i
        while parent[at] != -1:
            steps.append((parent[at] - osz, binary[at]))
            at = parent[at]
        paths.append(steps[::-1])
    depth = max((len(p) for p in paths), default=0)
    # Index into [log(1-f) per internal node, log(f) per internal node, 0]: padding adds 0.
    pad = 2 * (osz - 1)
    index = np.full((osz, depth), pad, np.intp)
    for i, steps in enumerate(paths):
        for d, (inner, right) in enumerate(steps):
            index[i, d] = inner + (osz - 1 if right else 0)
    return index, np.array([len(p) for p in paths])


class FastTextModel:
    """A supervised fastText model held dense in memory; see the module docstring.

    Prediction keeps work buffers and a word cache on the instance: use one model per thread.
    """

    def __init__(
        self,
        args: Args,
        words: list[str],
        counts: list[int],
        types: list[int],
        ntokens: int,
        input_matrix: np.ndarray,
        output_matrix: np.ndarray,
        pruneidx: dict[int, int] | None = None,
        cache_words: int = 1 << 18,
    ) -> None:
        self.args = args
        self.words, self.counts, self.types = words, counts, types
        self.ntokens = ntokens
        self.nwords = sum(1 for t in types if t == _WORD)
        if any(t == _WORD for t in types[self.nwords :]):
            raise ValueError("dictionary words must come before labels")
        self.labels: list[str] = words[self.nwords :]
        # None: not pruned (fastText's pruneidx_size -1); else bucket -> compact row.
        self.pruneidx = pruneidx
        self.input = np.ascontiguousarray(input_matrix, np.float32)
        self.output = np.ascontiguousarray(output_matrix, np.float32)
        if self.input.shape[1] != args.dim or self.output.shape[1] != args.dim:
            raise ValueError("matrix width differs from the model's dim")
        if self.output.shape[0] != len(self.labels):
            raise ValueError("output rows differ from the number of labels")
        self._quantized: bytes | None = None  # a pruned model's matrix bytes, as loaded
        # Keyed by the word's bytes: the text is split as bytes, which is faster than str.
        self._word_ids = {w.encode("utf-8", "surrogateescape"): i for i, w in enumerate(words)}
        self._cache_words = max(int(cache_words), 1024)
        self.refresh()

    def refresh(self) -> None:
        """Recompute what prediction derives from the matrices (after changing them)."""
        self._setup_output()
        self._clear_cache()

    # --- reading and writing ----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> FastTextModel:
        """A `.bin` or quantized `.ftz` model; ValueError if it is not a (whole) fastText file."""
        data = Path(path).read_bytes()
        reader = _Reader(data, str(path))
        magic, version = reader.unpack("<2i")
        if magic != MAGIC:
            raise ValueError(f"{path} is not a fastText model (bad magic number)")
        if version > VERSION:
            raise ValueError(f"{path}: fastText format version {version} is newer than 12")
        args = Args(*reader.unpack(_ARGS))
        if args.model != MODEL_SUP:
            raise ValueError(f"{path}: not a supervised fastText model (cbow or skipgram)")
        if version == 11:
            args.maxn = 0  # as fastText: old supervised models had no character n-grams
        if args.dim <= 0:
            raise ValueError(f"{path}: bad dimension {args.dim}")
        size, nwords, nlabels, ntokens, prune_size = reader.unpack(_DICT_HEAD)
        if size < 0 or nwords < 0 or nwords + nlabels != size:
            raise ValueError(f"{path}: bad dictionary sizes")
        words, counts, types = [], [], []
        for _ in range(size):
            raw = reader.cstring()
            count, kind = reader.unpack("<qb")
            # surrogateescape: any non-UTF-8 bytes survive a save unchanged.
            words.append(raw.decode("utf-8", "surrogateescape"))
            counts.append(count)
            types.append(kind)
        pruneidx = None
        if prune_size >= 0:
            pairs = reader.array("<i4", 2 * prune_size).reshape(-1, 2)
            pruneidx = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))
        matrices_start = reader.offset
        (quant_input,) = reader.unpack("<?")
        input_matrix = _read_matrix(reader, quant_input)
        (qout,) = reader.unpack("<?")
        output_matrix = _read_matrix(reader, quant_input and qout)
        if input_matrix.shape[0] < nwords:
            raise ValueError(f"{path}: input matrix has fewer rows than words")
        model = cls(args, words, counts, types, ntokens, input_matrix, output_matrix, pruneidx)
        if pruneidx is not None:
            model._quantized = data[matrices_start : reader.offset]
        return model

    def save(self, path: str | Path) -> None:
        """fastText's binary format (version 12), dense matrices.

        A pruned dictionary (a `.ftz` quantized with a cutoff, like lid.176) is the exception:
        fastText refuses it beside a dense input matrix ("Invalid model file", its issue
        #332), and no dense model can stand in (a pruned n-gram adds no row to the mean, an
        unpruned one always does). Such a model is written with its matrices exactly as
        loaded, still quantized.
        """
        if self.pruneidx is not None and self._quantized is None:
            raise ValueError("a pruned fastText model can only be saved as it was loaded")
        parts = [struct.pack("<2i", MAGIC, VERSION), self.args.pack()]
        prune_size = -1 if self.pruneidx is None else len(self.pruneidx)
        sizes = (len(self.words), self.nwords, len(self.labels), self.ntokens, prune_size)
        parts.append(_DICT_HEAD.pack(*sizes))
        for word, count, kind in zip(self.words, self.counts, self.types, strict=True):
            parts.append(word.encode("utf-8", "surrogateescape") + b"\0")
            parts.append(struct.pack("<qb", count, kind))
        if self.pruneidx is not None:
            pairs = np.array(list(self.pruneidx.items()), "<i4").reshape(-1, 2)  # file order
            parts.append(pairs.tobytes())
        if self.pruneidx is not None:
            Path(path).write_bytes(b"".join([*parts, self._quantized]))
            return
        for matrix in (self.input, self.output):
            parts.append(struct.pack("<?2q", False, *matrix.shape))  # not quantized, shape
            parts.append(np.ascontiguousarray(matrix, "<f4").tobytes())
        Path(path).write_bytes(b"".join(parts))

    # --- prediction -------------------------------------------------------------------------

    def predict(self, text: str, k: int = 1) -> tuple[list[str], list[float]]:
        """The `k` most likely labels of one line and their probabilities, as fastText's
        `model.predict(text, k)` (k = -1: every label fastText would list)."""
        if "\n" in text:
            raise ValueError("predict processes one line at a time (remove '\\n')")
        return self.predict_words(line_words(text), k)

    def predict_words(
        self, words: list[bytes], k: int = 1, fold_unicode_spaces: bool = False
    ) -> tuple[list[str], list[float]]:
        """`predict` for a line already split into UTF-8 words (see `line_words`). With
        `fold_unicode_spaces`, words are also split where Python's str.split() would (at
        no-break spaces, U+3000, ...): the prediction for `" ".join(text.split())`."""
        if k == -1:
            k = len(self.labels)
        elif k <= 0:
            raise ValueError("k needs to be 1 or higher")
        scores, alive = self._scores(*_end_to_end([words]), fold_unicode_spaces)
        if not alive[0]:
            return [], []
        row = scores[0]
        if k == 1:
            top = [int(row.argmax())]
        elif self.args.loss == LOSS_HS:
            # fastText's tree search drops a leaf once its running log-score on the way down
            # falls below log(1e-5) (its threshold 0 passed through the same log).
            kept = np.flatnonzero(self._alive(0))
            top = kept[np.argsort(-row[kept], kind="stable")[:k]].tolist()
        else:
            top = np.argsort(-row, kind="stable")[:k].tolist()
        return [self.labels[i] for i in top], [self._reported(row[i]) for i in top]

    def predict_top(
        self, texts: list[str], fold_unicode_spaces: bool = False
    ) -> list[tuple[str, float] | None]:
        """The top label and its probability for each text, as `predict_words(line_words(
        text), 1)` gives them (bit for bit; newlines count as spaces), but batched: the texts
        are split in one call and the arithmetic after the word lookups runs once for all.
        None for a text fastText predicts nothing for."""
        if not texts:
            return []
        # One split for all: each text closed by " </s>", as predict's "\n" reads.
        joined = " </s> ".join(texts) + " </s>"
        if joined.count(EOS) == len(texts):
            data = joined.encode("utf-8", "surrogatepass")
            words, starts = (data.replace(b"\0", b" ") if b"\0" in data else data).split(), None
        else:  # a literal </s> ends its line early: find where each line starts
            words, starts = _end_to_end([line_words(text) for text in texts])
        scores, alive = self._scores(words, starts, fold_unicode_spaces)
        best = scores.argmax(axis=1)
        top = scores[np.arange(len(texts)), best]
        if self.args.loss == LOSS_HS:  # as _reported, for the whole batch at once
            top = np.exp(top.astype(np.float32)).astype(np.float64)
        labels = self.labels
        return [
            (labels[i], p) if ok else None
            for i, p, ok in zip(best.tolist(), top.tolist(), alive.tolist(), strict=True)
        ]

    def probabilities(self, text: str) -> np.ndarray:
        """Per label (in `self.labels` order), the probability fastText's predict would report
        for it, including fastText's +1e-5 smoothing (zeros for a line with no known input)."""
        if "\n" in text:
            raise ValueError("probabilities processes one line at a time (remove '\\n')")
        scores, alive = self._scores(*_end_to_end([line_words(text)]))
        if not alive[0]:
            return np.zeros(len(self.labels))
        if self.args.loss == LOSS_HS:
            return np.exp(scores[0].astype(np.float32)).astype(np.float64)
        return scores[0].copy()

    def _reported(self, score: float) -> float:
        if self.args.loss == LOSS_HS:
            return float(np.exp(np.float32(score)))  # fastText: exp of its float32 score
        return float(score)

    def _setup_output(self) -> None:
        """Precompute what each loss needs per prediction. The hidden vector arrives as the
        sum of the line's input rows followed by the row count (and two flags), so the
        matrix gets zero columns for those and the division comes after the product."""
        osz = len(self.labels)
        rows = self.output[: max(osz - 1, 0)] if self.args.loss == LOSS_HS else self.output
        self._out_t = np.ascontiguousarray(
            np.hstack((rows, np.zeros((len(rows), _EXTRA), np.float32))).T
        )
        if self.args.loss == LOSS_HS and osz > 1:
            index, depth = _huffman_paths(self.counts[self.nwords :])
            # Leaf scores by np.add.reduceat over each leaf's steps laid end to end.
            self._steps = np.concatenate([index[i, :d] for i, d in enumerate(depth)])
            self._starts = np.concatenate(([0], np.cumsum(depth)[:-1]))
            self._paths = index

    def _alive(self, line: int) -> np.ndarray:
        """Leaves whose running score never falls below fastText's floor on the way down."""
        steps = np.append(self._last_steps[line], np.float32(0))[self._paths]  # padding: 0
        return np.cumsum(steps, axis=1, dtype=np.float32).min(axis=1) >= _HS_FLOOR

    def _scores(
        self, words: list[bytes], starts: list[int] | None, fold: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per line and label: fastText's log-score (hs) or reported probability (other
        losses); and per line whether it has input rows (else fastText predicts nothing).
        Every step treats each line on its own, so a line's numbers never depend on the
        other lines of the batch. The lines come as `_totals` takes them."""
        if self.args.model != MODEL_SUP:
            raise ValueError("model needs to be supervised for prediction")
        dim = self.args.dim
        totals = self._totals(words, starts, fold)
        count = totals[:, dim]
        alive = count > 0
        scale = np.float32(-1.0) / np.where(alive, count, np.float32(1))
        # One vector-matrix product per line (a stack of them), as for a single line.
        z = np.matmul(totals[:, None, :], self._out_t)[:, 0, :]  # float32, as fastText
        if self.args.loss == LOSS_HS:
            if len(self.labels) == 1:
                return np.zeros((len(totals), 1)), alive
            # Each step down the tree adds fastText's std_log(p) = log(p + 1e-5), p = f to the
            # right and 1 - f to the left, f the sigmoid of the mean row's product. In float32
            # as fastText computes it: near 1, f's float32 steps decide 1 - f, and with it
            # the probabilities (~1e-5) of the unlikely labels and their order. (Its double
            # division and subtraction, rounded to float, equal these float32 ones exactly.)
            z *= scale[:, None]
            np.minimum(z, np.float32(88), out=z)  # beyond, exp overflows and f is 0 anyway
            np.exp(z, out=z)
            z += np.float32(1)
            n = z.shape[1]
            both = np.empty((len(totals), 2 * n), np.float32)
            np.reciprocal(z, out=both[:, n:])
            np.subtract(np.float32(1), both[:, n:], out=both[:, :n])
            wide = np.add(both, 1e-5)  # + 1e-5 in double, as std_log
            np.log(wide, out=wide)
            both[...] = wide
            self._last_steps = both
            # Summed root to leaf in float32, as fastText's running score.
            return np.add.reduceat(both.take(self._steps, axis=1), self._starts, axis=1), alive
        z = z.astype(np.float64) * -scale[:, None]  # the mean of the rows, as computeHidden
        if self.args.loss == LOSS_SOFTMAX:
            z = np.exp(z - z.max(axis=1, keepdims=True))
            z /= z.sum(axis=1, keepdims=True)
        else:  # ns and ova score each label with its own sigmoid
            z = 1.0 / (1.0 + np.exp(np.minimum(-z, 700.0)))
        return z + 1e-5, alive  # fastText reports exp(log(p + 1e-5))

    # --- input rows, with the per-word cache ------------------------------------------------

    def _clear_cache(self) -> None:
        dim = self.args.dim
        # word -> its slot, packed as one native intp: a line's slots are then one
        # b"".join of a C-level itemgetter, read back with frombuffer (about half the cost
        # of np.fromiter over int values).
        self._slots: dict[bytes, bytes] = {}
        # Per cached word: the sum of its input rows, then how many rows that is, whether it
        # holds a Unicode space, whether it is </s> (so one sum adds up all four for a
        # line); its hash for word n-grams; whether it is a word at all. float32 halves the
        # bytes each line gathers; fastText itself sums in float32.
        self._sums = np.zeros((self._cache_words, dim + _EXTRA), np.float32)
        self._hashes = np.zeros(self._cache_words, np.int64)
        self._is_word = np.zeros(self._cache_words, bool)
        self._picked = np.empty((8192, dim + _EXTRA), np.float32)
        self._fill([_EOS_BYTES])  # always cached: every line ends with it

    def _totals(self, words: list[bytes], starts: list[int] | None, fold: bool) -> np.ndarray:
        """Per line: the sum of its input rows, then their count (Dictionary::getLine's
        rows), then how many of its words hold a Unicode space and how many are </s>.
        `words`: the lines' words end to end, each line closed by </s>; `starts`: where each
        line starts, or None to cut after each </s> (when no line holds a literal one)."""
        dim = self.args.dim
        n = len(words)
        try:
            index = self._lookup(words)
        except KeyError:
            index = self._fill(words)
            if index is None:  # more new words than the cache holds: a line at a time
                lines = _lines(words, starts)
                return np.concatenate([self._totals_one(line, fold) for line in lines])
        if starts is None:
            ends = np.flatnonzero(index == self._lookup([_EOS_BYTES])[0]) + 1
            starts = [0, *ends[:-1].tolist()]
        # Gathered into a kept buffer: a new array each time costs more (page faults) than
        # the gathering itself.
        if n > len(self._picked):
            self._picked = np.empty((max(n, 2 * len(self._picked)), dim + _EXTRA), np.float32)
        # mode="clip": slots are always in range, and it skips the bounds check.
        picked = self._sums.take(index, axis=0, out=self._picked[:n], mode="clip")
        totals = np.add.reduceat(picked, starts, axis=0)
        redo = totals[:, dim + 2] > 1  # a literal </s>: fastText stops reading there
        if fold:
            redo |= totals[:, dim + 1] > 0  # to split at Unicode spaces too
        ends = [*starts[1:], n]
        if self.args.word_ngrams > 1:
            for b in np.flatnonzero(~redo).tolist():
                self._add_word_ngrams(totals[b], index[starts[b] : ends[b]])
        for b in np.flatnonzero(redo).tolist():
            totals[b] = self._totals_one(words[starts[b] : ends[b] - 1], fold)[0]
        return totals

    def _totals_one(self, words: list[bytes], fold: bool) -> np.ndarray:
        """`_totals` for one line whose words need splitting again or cutting at a literal
        </s> (fastText stops reading there), or that does not fit the cache."""
        if fold:
            words = _fold(words)
        if _EOS_BYTES in words:
            words = words[: words.index(_EOS_BYTES)]
        words = [*words, _EOS_BYTES]
        index = self._fill(words)
        if index is None:
            unique = list(dict.fromkeys(words))
            sums, hashes, is_word = self._word_entries(unique)
            at = dict(zip(unique, range(len(unique)), strict=True))
            index = np.fromiter(map(at.__getitem__, words), np.intp, len(words))
            total = np.zeros((1, self.args.dim + _EXTRA), np.float32)
            total[0, : self.args.dim + 1] = np.add.reduce(sums.take(index, axis=0), axis=0)
            if self.args.word_ngrams > 1:
                own = hashes.take(index)[is_word.take(index)]
                self._add_ngram_rows(total[0], self._word_ngram_rows(own))
            return total
        total = np.add.reduceat(self._sums.take(index, axis=0), [0], axis=0)
        if self.args.word_ngrams > 1:
            self._add_word_ngrams(total[0], index)
        return total

    def _add_word_ngrams(self, total: np.ndarray, index: np.ndarray) -> None:
        hashes = self._hashes.take(index)[self._is_word.take(index)]
        self._add_ngram_rows(total, self._word_ngram_rows(hashes))

    def _add_ngram_rows(self, total: np.ndarray, rows: np.ndarray) -> None:
        if len(rows):
            total[: self.args.dim] += self.input.take(rows, axis=0).sum(axis=0)
            total[self.args.dim] += len(rows)

    def _fill(self, words: list[bytes]) -> np.ndarray | None:
        """Cache the words' entries; their slots, or None if they cannot all fit at once."""
        slots = self._slots
        unique = list(dict.fromkeys(words))
        if len(unique) + 1 > self._cache_words:  # by the words alone: history never matters
            return None
        missing = [w for w in unique if w not in slots]
        if len(slots) + len(missing) > self._cache_words:
            self._clear_cache()  # bounded: start afresh (results never depend on the cache)
            slots = self._slots
            missing = [w for w in dict.fromkeys(words) if w not in slots]
        if missing:
            row_sums, hashes, is_word = self._word_entries(missing)
            dim = self.args.dim
            first = len(slots)
            new = slice(first, first + len(missing))
            self._sums[new, : dim + 1] = row_sums
            self._sums[new, dim + 1] = [_UNICODE_SPACE.search(w) is not None for w in missing]
            self._sums[new, dim + 2] = [w == _EOS_BYTES for w in missing]
            self._hashes[new] = hashes
            self._is_word[new] = is_word
            packed = np.arange(first, first + len(missing), dtype=np.intp).tobytes()
            size = np.dtype(np.intp).itemsize
            slots.update(
                (word, packed[k * size : (k + 1) * size]) for k, word in enumerate(missing)
            )
        return self._lookup(words)

    def _lookup(self, words: list[bytes]) -> np.ndarray:
        """The cached words' slots; KeyError if one is not cached."""
        if len(words) == 1:  # itemgetter of one key returns the value, not a tuple
            return np.frombuffer(self._slots[words[0]], np.intp)
        return np.frombuffer(b"".join(operator.itemgetter(*words)(self._slots)), np.intp)

    def _word_entries(self, words: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per new word: the sum of its input rows and their count, its signed hash, whether
        it is a word (not a label); each word's rows summed in one pass per column."""
        args, n = self.args, len(words)
        rows, owner, is_word = self._input_rows(words)
        picked = self.input.take(rows, axis=0).astype(np.float64)
        row_sums = np.zeros((n, args.dim + 1))
        for column in range(args.dim):
            row_sums[:, column] = np.bincount(owner, picked[:, column], minlength=n)
        row_sums[:, args.dim] = np.bincount(owner, minlength=n)
        hashes = np.zeros(n, np.int64)
        if args.word_ngrams > 1:  # word hashes serve only word n-grams
            counted = [w for w, ok in zip(words, is_word.tolist(), strict=True) if ok]
            signed = fnv1a_many(counted).astype(np.int64)
            hashes[is_word] = np.where(signed >= 1 << 31, signed - (1 << 32), signed)
        return row_sums, hashes, is_word

    def _input_rows(self, words: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The input rows of each word as Dictionary::getLine + addSubwords add them (its own
        row if in the vocabulary, then its n-grams' rows; labels have none, nor does </s>
        have n-grams; pruned n-grams are left out), in that order with the index of the word
        each row belongs to; and per word whether it is a word (not a label)."""
        args = self.args
        is_word = np.ones(len(words), bool)
        own_rows: list[int] = []
        own_words: list[int] = []
        gram_words: list[int] = []
        for k, word in enumerate(words):
            wid = self._word_ids.get(word, -1)
            if (self.types[wid] == _LABEL) if wid >= 0 else word.startswith(_LABEL_BYTES):
                is_word[k] = False  # a label: neither rows nor a hash
                continue
            if wid >= 0:
                own_words.append(k)
                own_rows.append(wid)
            if word != _EOS_BYTES:
                gram_words.append(k)
        gram_rows = np.zeros(0, np.intp)
        gram_owner = np.zeros(0, np.intp)
        if args.maxn > 0 and args.bucket > 0 and gram_words:
            local, hashes = subword_hashes(
                [words[k] for k in gram_words], max(args.minn, 1), args.maxn
            )
            gram_owner = np.array(gram_words, np.intp)[local]
            gram_rows = self._bucket_rows((hashes % np.uint64(args.bucket)).astype(np.int64))
        # Own rows first: a stable sort by word keeps each word's rows in fastText's order.
        rows = np.concatenate([np.array(own_rows, np.intp), gram_rows])
        owner = np.concatenate([np.array(own_words, np.intp), gram_owner])
        order = np.argsort(owner, kind="stable")
        rows, owner = rows[order], owner[order]
        kept = rows >= 0  # a pruned model leaves n-grams out
        return rows[kept], owner[kept], is_word

    def _bucket_rows(self, buckets: np.ndarray) -> np.ndarray:
        """Dictionary::pushHash for an array of bucket ids: each one's input row, or -1 where a
        pruned model left it out."""
        if self.pruneidx is None:
            return buckets + self.nwords
        keys, values = self._prune_table()
        if not len(keys):
            return np.full(len(buckets), -1, np.int64)
        at = np.minimum(np.searchsorted(keys, buckets), len(keys) - 1)
        return np.where(keys[at] == buckets, values[at] + self.nwords, -1)

    def _prune_table(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_prune_keys"):
            keys = np.array(sorted(self.pruneidx or {}), np.int64)
            self._prune_keys = keys
            self._prune_values = np.array([self.pruneidx[k] for k in keys.tolist()], np.int64)
        return self._prune_keys, self._prune_values

    def word_rows(self, words: list[bytes]) -> list[list[int] | None]:
        """Each word's input rows as Dictionary::getLine + addSubwords add them; None for a
        label (which fastText skips)."""
        rows, owner, is_word = self._input_rows(words)
        per_word: list[list[int] | None] = [[] if ok else None for ok in is_word.tolist()]
        for row, k in zip(rows.tolist(), owner.tolist(), strict=True):
            per_word[k].append(row)  # type: ignore[union-attr]
        return per_word

    def _word_ngram_rows(self, hashes: np.ndarray) -> np.ndarray:
        """Dictionary::addWordNgrams over the line's word hashes (sign-extended to 64 bits,
        arithmetic wrapping modulo 2**64 as fastText's uint64)."""
        args = self.args
        if args.bucket <= 0 or len(hashes) < 2:
            return np.zeros(0, np.intp)
        widened = hashes.astype(np.uint64)
        ids, h = [], widened
        for j in range(1, args.word_ngrams):
            if j >= len(widened):
                break
            h = h[:-1] * _NGRAM_MULTIPLIER + widened[j:]
            ids.append(h % np.uint64(args.bucket))
        found = np.concatenate(ids).astype(np.int64)
        if self.pruneidx is None:
            return found + self.nwords
        keys, values = self._prune_table()
        if not len(keys):
            return np.zeros(0, np.intp)
        at = np.minimum(np.searchsorted(keys, found), len(keys) - 1)
        hit = keys[at] == found
        return values[at[hit]] + self.nwords


# --- training -------------------------------------------------------------------------------


def _label(label: str) -> str:
    label = label if label.startswith(LABEL_PREFIX) else LABEL_PREFIX + label
    if label == LABEL_PREFIX or label.split() != [label] or line_words(label) != [label.encode()]:
        raise ValueError(f"bad label {label!r}: it must be one non-empty word")
    return label


def train_supervised(
    examples: Iterable[tuple[str, str]],
    *,
    dim: int = 16,
    epoch: int = 5,
    lr: float = 0.5,
    word_ngrams: int = 2,
    minn: int = 0,
    maxn: int = 0,
    bucket: int = 200_000,
    min_count: int = 1,
    seed: int = 0,
) -> FastTextModel:
    """A fastText supervised classifier (softmax loss) trained on (label, text) examples.

    fastText's algorithm, single-threaded and seeded, so the same input gives a byte-identical
    saved file: input rows uniform(-1/dim, 1/dim), output rows zero, lr decaying linearly
    over epoch x the token count, the input rows' gradient averaged over the line's rows.
    Examples are visited in the order given, every epoch. Newlines in a text count as spaces.
    """
    if dim <= 0 or epoch <= 0 or lr <= 0 or word_ngrams <= 0 or min_count <= 0:
        raise ValueError("dim, epoch, lr, word_ngrams and min_count must be positive")
    lines: list[tuple[str, list[bytes]]] = []
    word_counts: dict[bytes, int] = {}
    label_counts: dict[str, int] = {}
    for label, text in examples:
        label = _label(label)
        tokens = line_words(text.replace("\n", " "))
        if _EOS_BYTES in tokens:
            tokens = tokens[: tokens.index(_EOS_BYTES)]
        tokens = [t for t in tokens if not t.startswith(_LABEL_BYTES)]
        lines.append((label, tokens))
        label_counts[label] = label_counts.get(label, 0) + 1
        for token in tokens:
            word_counts[token] = word_counts.get(token, 0) + 1
    if not lines:
        raise ValueError("no training examples")
    word_counts[_EOS_BYTES] = word_counts.get(_EOS_BYTES, 0) + len(lines)
    # Most frequent first (as fastText), ties by the word's bytes: deterministic.
    words = sorted(
        (w for w, c in word_counts.items() if c >= min_count), key=lambda w: (-word_counts[w], w)
    )
    labels = sorted(label_counts, key=lambda w: (-label_counts[w], w.encode("utf-8")))
    if word_ngrams <= 1 and maxn == 0:
        bucket = 0  # as fastText: nothing is hashed, so no bucket rows
    args = Args(
        dim=dim, epoch=epoch, min_count=min_count, word_ngrams=word_ngrams, loss=LOSS_SOFTMAX,
        model=MODEL_SUP, bucket=bucket, minn=minn, maxn=maxn,
    )  # fmt: skip
    ntokens = sum(len(tokens) + 2 for _, tokens in lines)  # + the label and </s>
    rng = np.random.default_rng(seed)
    bound = 1.0 / dim
    wi = rng.uniform(-bound, bound, (len(words) + bucket, dim)).astype(np.float32)
    wo = np.zeros((len(labels), dim), np.float32)
    model = FastTextModel(
        args,
        [w.decode("utf-8", "surrogateescape") for w in words] + labels,
        [word_counts[w] for w in words] + [label_counts[w] for w in labels],
        [_WORD] * len(words) + [_LABEL] * len(labels),
        ntokens,
        wi,
        wo,
    )
    wi, wo = model.input, model.output  # train in place on the model's own arrays
    label_ids = {label: i for i, label in enumerate(labels)}
    unique = list(dict.fromkeys([token for _, tokens in lines for token in tokens] + [_EOS_BYTES]))
    hashes = fnv1a_many(unique).astype(np.int64).tolist()
    entry = {
        token: (rows or [], _signed32(h))
        for token, rows, h in zip(unique, model.word_rows(unique), hashes, strict=True)
    }
    data = []
    for label, tokens in lines:
        entries = [entry[t] for t in tokens] + [entry[_EOS_BYTES]]
        rows = [r for e in entries for r in e[0]]
        if word_ngrams > 1:
            hashes = np.array([e[1] for e in entries], np.int64)
            rows.extend(model._word_ngram_rows(hashes).tolist())
        data.append((np.array(rows, np.intp), label_ids[label], len(tokens) + 2))

    total = float(epoch * ntokens)
    seen = 0
    target = np.zeros(len(labels), np.float32)
    for _ in range(epoch):
        for rows, label_id, count in data:
            rate = np.float32(lr * (1.0 - seen / total))
            seen += count
            if not len(rows):
                continue
            hidden = wi[rows].mean(axis=0, dtype=np.float32)
            z = wo @ hidden
            z = np.exp(z - z.max())
            target[label_id] = 1.0
            alpha = rate * (target - z / z.sum())  # SoftmaxLoss::forward
            target[label_id] = 0.0
            grad = alpha @ wo  # with each output row before its own update
            wo += np.outer(alpha, hidden)
            grad /= np.float32(len(rows))  # fastText averages the input gradient
            np.add.at(wi, rows, grad)
    model.refresh()
    return model


def read_labelled_tsv(path: str | Path) -> Iterator[tuple[str, str]]:
    """(label, text) per `label<TAB>text` line of a LABELS.tsv; blank lines are skipped."""
    with open(path, encoding="utf-8-sig", newline="") as lines:  # a BOM is no label
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            label, tab, text = line.partition("\t")
            if not tab or not label.strip() or not text.strip() or label != label.strip():
                raise ValueError(f"{path}: line {number}: expected 'label<TAB>text'")
            if label.split() != [label] or line_words(label) != [label.encode()]:
                raise ValueError(f"{path}: line {number}: a label is one word, got {label!r}")
            yield label, text

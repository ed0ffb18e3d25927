"""Text to MinHash: normalisation, n-gram shingles, signatures and LSH band keys, vectorised.

The text is normalised as datatrove's `simplify_text` does (its punctuation table and number
pattern, so the n-grams are the ones datatrove's MinHash sees), split into words on spaces,
and every n-gram of words is hashed straight from the UTF-8 bytes with a polynomial prefix hash,
so no n-gram string is ever built. The signature is datatrove's: (a * x + b) mod (2**61 - 1)
with the parameters drawn from numpy's RandomState(seed), the modulo done with shifts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
from datatrove.utils.text import NUMBERS_PATTERN, PUNCTUATION_TRANS

from heed.curation.dedup.settings import GOLDEN, SHINGLE_BASE

MERSENNE = np.uint64((1 << 61) - 1)
U64 = np.uint64
WHITESPACE = re.compile(r"\s+")
# Shingles per block of the (shingles x permutations) product: ~ 16k x 112 x 8 B = 14 MiB.
BLOCK = 1 << 14
# Units hashed per window; its prefix tables are kept between calls.
CACHED_POWERS = 1 << 17


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64: a bijection that spreads every bit."""
    x = x ^ (x >> U64(30))
    x = x * U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> U64(27))
    x = x * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


def hash64(data: str) -> int:
    """A stable 64-bit hash of a string (not Python's hash(), which changes per process)."""
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "little")


@cache
def _combining_marks() -> dict[int, None]:
    """str.translate table deleting every nonspacing mark (category Mn)."""
    return {c: None for c in range(0x110000) if unicodedata.category(chr(c)) == "Mn"}


def normalize(text: str) -> str:
    """datatrove's simplify_text with its default config, the same output, faster."""
    text = NUMBERS_PATTERN.sub("0", text.lower()).translate(PUNCTUATION_TRANS)
    text = WHITESPACE.sub(" ", text.strip())
    if not text.isascii():  # ASCII has no marks: skip the decomposition
        text = unicodedata.normalize("NFD", text).translate(_combining_marks())
    return text.strip()


def exact_text(text: str) -> str:
    """The text exact dedup compares: NFC, whitespace runs as one space, no outer space."""
    return WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def url_key_text(url: str) -> str:
    """A URL as URL dedup compares it: the scheme, fragment and default port dropped, the host
    in lower case without a leading www., query parameters sorted."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # malformed (e.g. a port that is not a number): compared as written
        return url.strip()
    host = (parts.hostname or "").rstrip(".")
    host = host.removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{parts.path or '/'}{'?' + query if query else ''}"


@cache
def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """SHINGLE_BASE**i and its inverse mod 2**64 to the power i, for i < length."""
    base = np.full(length, U64(SHINGLE_BASE), dtype=U64)
    base[0] = 1
    inverse = np.full(length, U64(pow(SHINGLE_BASE, -1, 1 << 64)), dtype=U64)
    inverse[0] = 1
    return np.cumprod(base, dtype=U64), np.cumprod(inverse, dtype=U64)


def span_hashes(units: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The hash of units[s:e] for each (s, e), both ascending: a polynomial over the units, made
    position-free with the inverse powers, xor the length, mixed. Vectorised over the spans,
    a window of at most CACHED_POWERS units at a time (unless one span is longer), so a long
    text needs no more memory than a short one."""
    out = np.empty(len(starts), dtype=U64)
    first = 0
    while first < len(starts):
        begin = int(starts[first])
        last = max(first + 1, int(np.searchsorted(ends, begin + CACHED_POWERS, side="right")))
        end = int(ends[last - 1])
        window = units[begin:end]
        n = len(window) + 1
        powers, inverses = (
            _powers(CACHED_POWERS + 1) if n <= CACHED_POWERS + 1 else _powers.__wrapped__(n)
        )
        prefix = np.zeros(n, dtype=U64)
        np.cumsum((window.astype(U64) + U64(1)) * powers[: n - 1], out=prefix[1:])
        local_starts, local_ends = starts[first:last] - begin, ends[first:last] - begin
        raw = (prefix[local_ends] - prefix[local_starts]) * inverses[local_starts]
        lengths = (local_ends - local_starts).astype(U64)
        out[first:last] = mix64(raw ^ (lengths * U64(GOLDEN)))
        first = last
    return out


def word_shingles(normalized: str, n: int) -> np.ndarray:
    """Hashes of every n-gram of space-separated words (none if fewer than n words)."""
    data = np.frombuffer(normalized.encode(), dtype=np.uint8)
    if not len(data):
        return np.empty(0, dtype=U64)
    spaces = np.flatnonzero(data == 32)
    if len(spaces) < n - 1:
        return np.empty(0, dtype=U64)
    starts = np.concatenate(([0], spaces[: len(spaces) - n + 1] + 1))
    ends = np.concatenate((spaces[n - 1 :], [len(data)]))
    return span_hashes(data, starts, ends)


def char_shingles(normalized: str, n: int) -> np.ndarray:
    """Hashes of every n characters in a row, spaces left out (none if fewer than n)."""
    chars = np.frombuffer(normalized.replace(" ", "").encode("utf-32-le"), dtype=np.uint32)
    if len(chars) < n:
        return np.empty(0, dtype=U64)
    starts = np.arange(len(chars) - n + 1)
    return span_hashes(chars, starts, starts + n)


class MinHasher:
    """MinHash signatures and LSH band keys for a fixed (bands, rows, seed)."""

    def __init__(self, bands: int, rows: int, seed: int) -> None:
        self.bands, self.rows = bands, rows
        # datatrove's parameters: the same draws from the same generator.
        generator = np.random.RandomState(seed)
        self.a = generator.randint(1, MERSENNE, dtype=U64, size=(1, bands * rows))
        self.b = generator.randint(0, MERSENNE, dtype=U64, size=(1, bands * rows))

    def signatures(self, shingles: Sequence[np.ndarray]) -> np.ndarray:
        """(documents, bands * rows) uint64 minima; each document needs at least one shingle."""
        lengths = np.array([len(s) for s in shingles], dtype=np.int64)
        if (lengths == 0).any():
            raise ValueError("every document needs at least one shingle")
        out = np.empty((len(shingles), self.a.shape[1]), dtype=U64)
        out.fill(MERSENNE)  # above every value mod 2**61 - 1
        if not len(shingles):
            return out
        flat = np.concatenate(shingles)
        owner = np.repeat(np.arange(len(shingles)), lengths)
        for begin in range(0, len(flat), BLOCK):
            block = flat[begin : begin + BLOCK, None]
            values = block * self.a + self.b  # wraps mod 2**64, as in datatrove
            values = (values & MERSENNE) + (values >> U64(61))  # == values % (2**61 - 1) ...
            values -= MERSENNE * (values >= MERSENNE)  # ... after one conditional subtraction
            docs = owner[begin : begin + BLOCK]
            cuts = np.flatnonzero(np.diff(docs)) + 1
            starts = np.concatenate(([0], cuts))
            minima = np.minimum.reduceat(values, starts, axis=0)
            rows = docs[starts]
            out[rows] = np.minimum(out[rows], minima)
        return out

    def band_keys(self, signatures: np.ndarray, salts: np.ndarray) -> np.ndarray:
        """(documents, bands) uint64: each band's rows hashed with the band index and the
        document's salt (its language's, in per-language scope)."""
        bands = signatures.reshape(len(signatures), self.bands, self.rows)
        keys = mix64(salts[:, None] ^ (np.arange(self.bands, dtype=U64)[None, :] * U64(GOLDEN)))
        for row in range(self.rows):
            keys = mix64(keys ^ bands[:, :, row])
        return keys

"""The per-shard half of dedup: one row of keys per document, written beside the shard's outputs.

A signature file holds, per document and in the shard's order, what the corpus step compares
(the URL key, the exact-text key, the MinHash band keys) and what the keep rule reads (the
capture time and the record id). The text itself never leaves the shard.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pyarrow as pa

from heed.curation.dedup.minhash import (
    U64,
    MinHasher,
    char_shingles,
    exact_text,
    hash64,
    normalize,
    url_key_text,
    word_shingles,
)
from heed.curation.dedup.settings import DedupSettings

SIGNATURE_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        # null when the WARC-Date cannot be read: such a capture is kept last.
        pa.field("capture_time", pa.timestamp("us", tz="UTC")),
        pa.field("url_key", pa.uint64()),  # null without a URL
        pa.field("exact_key", pa.uint64()),  # null when the text is empty
        # `bands` keys, or none when the text has fewer words (characters) than one n-gram.
        pa.field("band_keys", pa.list_(pa.uint64()), nullable=False),
    ]
)


class Page(Protocol):
    """What dedup reads of a document (heed.curation.document.Document has it)."""

    record_id: str
    url: str
    warc_date: str
    language: str | None
    text: str | None


def capture_time(warc_date: str) -> datetime | None:
    """The WARC-Date as a UTC time; None when it is not an ISO 8601 date."""
    try:
        moment = datetime.fromisoformat(warc_date.strip())
    except (ValueError, AttributeError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def shingles(text: str, language: str | None, settings: DedupSettings) -> np.ndarray:
    """The document's n-gram hashes: word n-grams, or character n-grams for unspaced scripts."""
    normalized = normalize(text)
    if language and language.rpartition("_")[2] in settings.unspaced_scripts:
        return char_shingles(normalized, settings.ngram_chars)
    return word_shingles(normalized, settings.ngram_words)


def signatures(docs: Iterable[Page], settings: DedupSettings) -> pa.Table:
    """One row per document, in order, with SIGNATURE_SCHEMA."""
    docs = list(docs)
    per_language = settings.scope == "language"
    times, url_keys, exact_keys, salts, with_shingles, shingle_sets = [], [], [], [], [], []
    for index, doc in enumerate(docs):
        text = doc.text or ""
        language = (doc.language or "") if per_language else ""
        times.append(capture_time(doc.warc_date or ""))
        url_keys.append(hash64(url_key_text(doc.url)) if doc.url else None)
        exact = exact_text(text)
        exact_keys.append(hash64(f"{language}\0{exact}") if exact else None)
        salts.append(hash64(language) if language else 0)
        if settings.near and exact:
            found = shingles(text, doc.language, settings)
            if len(found):
                with_shingles.append(index)
                shingle_sets.append(found)
    band_keys: list[list[int]] = [[] for _ in docs]
    if shingle_sets:
        hasher = MinHasher(settings.bands, settings.rows, settings.seed)
        keys = hasher.band_keys(
            hasher.signatures(shingle_sets), np.array(salts, dtype=U64)[with_shingles]
        )
        for index, row in zip(with_shingles, keys.tolist(), strict=True):
            band_keys[index] = row
    return pa.table(
        {
            "record_id": [doc.record_id for doc in docs],
            "capture_time": times,
            "url_key": url_keys,
            "exact_key": exact_keys,
            "band_keys": band_keys,
        },
        schema=SIGNATURE_SCHEMA,
    )

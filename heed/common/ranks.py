"""Ranking scores for per-language quantile cutoffs, with ties broken deterministically.

Scores tie (a word-list scorer gives most pages 0), so a score alone cannot cut at exactly 5%.
The order is made total with a second key, a hash of the record id: a document is in the top
part when `(score, tie_key)` ranks at or above the cutoff pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def tie_key(record_id: str) -> float:
    """A fixed pseudo-random number in [0, 1) per record: the tie-breaker between equal scores."""
    digest = hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def ranks_at_or_above(score: float, key: float, cutoff: list[float]) -> bool:
    """Whether `(score, key)` is within the top part that `cutoff = [score, tie]` marks off."""
    return score > cutoff[0] or (score == cutoff[0] and key <= cutoff[1])


def quantile_cutoff(scored: Iterable[tuple[float, float]], quantile: float) -> list[float] | None:
    """The `[score, tie]` pair that marks off the top `quantile` of `(score, tie_key)` pairs.

    None when that top part is empty (too few documents for the quantile to drop one).
    """
    ranked = sorted(scored, key=lambda pair: (-pair[0], pair[1]))
    drop = round(quantile * len(ranked))
    if drop == 0:
        return None
    score, key = ranked[drop - 1]
    return [score, key]

"""The memorisation check of the Goldfish paper (Hans et al., 2024, §4): prompt the model with
a training document's prefix, greedy-decode as many tokens as the document's last n (n = 50),
and compare. A document counts as memorised when all n tokens match (exact match, the
paper's headline measure); the mean fraction of matching tokens is reported beside it.

Documents longer than the model's context are cut to their first `context` tokens (the model
never saw more of one at once); documents shorter than min_prefix + n are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from heed.training.model import Transformer, greedy_continue


@dataclass
class MemorizationResult:
    documents: int
    exact_match: float  # share of documents whose n tokens were all reproduced
    token_match: float  # mean share of the n tokens reproduced (position by position)
    per_document: list[float]

    def to_dict(self) -> dict[str, float | int]:
        return {
            "documents": self.documents,
            "exact_match": self.exact_match,
            "token_match": self.token_match,
        }


def memorization(
    model: Transformer,
    documents: Sequence[np.ndarray | Sequence[int]],
    *,
    suffix: int = 50,
    context: int = 256,
    min_prefix: int = 16,
    batch_size: int = 16,
) -> MemorizationResult:
    """Greedy-decode each document's last `suffix` tokens from the rest; see the module doc."""
    pairs = []
    for doc in documents:
        doc = torch.as_tensor(np.asarray(doc, dtype=np.int64))[:context]
        if len(doc) >= min_prefix + suffix:
            pairs.append((doc[:-suffix], doc[-suffix:]))
    # Similar lengths share a batch, so little of each batch is padding.
    pairs.sort(key=lambda p: len(p[0]))
    scores: list[float] = []
    model.eval()
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        generated = greedy_continue(model, [p for p, _ in chunk], suffix)
        truth = torch.stack([t for _, t in chunk])
        scores.extend((generated == truth).float().mean(dim=1).tolist())
    if not scores:
        return MemorizationResult(0, 0.0, 0.0, [])
    return MemorizationResult(
        documents=len(scores),
        exact_match=sum(s == 1.0 for s in scores) / len(scores),
        token_match=sum(scores) / len(scores),
        per_document=scores,
    )

"""The Filter interface: score a batch, then decide from the scores alone.

Keeping the decision a pure function of stored scores (Dolma's attributes idea) means a
threshold can be changed later from the audit without recomputing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from heed.common.ranks import ranks_at_or_above, tie_key
from heed.curation.document import Document
from heed.curation.stage import Stage


@dataclass
class Filter(Stage):
    """A stage that scores documents and drops those whose scores fail its thresholds.

    Subclasses implement `score` (one dict of `columns` per document) and `reject`
    (a `(reason, detail)` pair or None, from the scores and the document's language).
    """

    name: ClassVar[str]

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        raise NotImplementedError

    def reject(self, doc: Document) -> tuple[str, str] | None:
        return None

    def process(self, docs: list[Document]) -> None:
        for doc, scores in zip(docs, self.score(docs), strict=True):
            doc.scores.update(scores)
            verdict = self.reject(doc)
            if verdict:
                doc.drop(self.name, *verdict)


@dataclass
class QuantileFilter(Filter):
    """A filter that can drop the top `quantile` of each language by its score.

    `heed calibrate` measures each language's cutoff on a sample run and `heed corpus` fills
    `cutoffs` from it (or the config sets them). A language without a cutoff (too few documents
    in the sample) is judged by the filter's fixed threshold. `score_only` scores without
    dropping: the calibration run uses it.
    """

    quantile: float = 0.0  # 0: fixed thresholds only; 0.05 drops each language's top 5%
    cutoffs: dict[str, list[float]] = field(default_factory=dict)  # language -> [score, tie]
    score_only: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.quantile < 1:
            raise ValueError(f"quantile = {self.quantile} must be in [0, 1)")
        for language, cutoff in self.cutoffs.items():
            if len(cutoff) != 2:
                raise ValueError(f"cutoffs.{language} = {cutoff} must be [score, tie]")

    def above_cutoff(self, doc: Document, score: float) -> bool | None:
        """Whether `score` is in its language's calibrated top part; None if uncalibrated."""
        cutoff = self.cutoffs.get(doc.language or "") if self.quantile > 0 else None
        if cutoff is None:
            return None
        return ranks_at_or_above(score, tie_key(doc.record_id), cutoff)

    def process(self, docs: list[Document]) -> None:
        if not self.score_only:
            super().process(docs)
            return
        for doc, scores in zip(docs, self.score(docs), strict=True):
            doc.scores.update(scores)

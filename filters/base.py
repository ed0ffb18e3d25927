"""The Filter interface: score a batch, then decide from the scores alone.

Keeping the decision a pure function of stored scores (Dolma's attributes idea) means a
threshold can be changed later from the audit without recomputing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from curation.document import Document
from curation.stage import Stage


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

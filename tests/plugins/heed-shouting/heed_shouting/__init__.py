"""A heed filter from outside the heed repository: drops pages that shout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from heed.curation.document import Document
from heed.filters.base import Filter


@dataclass
class ShoutingFilter(Filter):
    """Drops documents whose letters are mostly capitals."""

    name: ClassVar[str] = "shouting"
    version: ClassVar[str] = "0.1.0"
    columns: ClassVar[dict[str, pa.DataType]] = {"upper_share": pa.float64()}

    max_upper_share: float = 0.5

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        shares = []
        for doc in docs:
            letters = [c for c in doc.text or "" if c.isalpha()]
            shares.append({"upper_share": sum(c.isupper() for c in letters) / max(len(letters), 1)})
        return shares

    def reject(self, doc: Document) -> tuple[str, str] | None:
        share = doc.scores["upper_share"]
        if share > self.max_upper_share:
            return "shouting", f"{share:.2f} of letters are capitals > {self.max_upper_share}"
        return None

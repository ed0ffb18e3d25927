"""Quality filters: any datatrove filter, run unchanged through an adapter.

datatrove's Gopher repetition, Gopher quality, C4 and FineWeb filters are the field's reference
heuristics; re-implementing them would only drift from the originals. The adapter hands each
kept document to the datatrove filter as a datatrove `Document` (text, id, and metadata with
url and language), and records its verdict. datatrove tokenizes words with spaCy blank
pipelines: nothing is downloaded.

A filter that cannot be built for a document's language (no tokenizer for it) leaves the
document unjudged, with its column null, rather than failing it.

Speed (`shared_tokenization`, on by default). Profiling the four filters on the sample put over
nine tenths of their time in spaCy's tokenizer: each filter splits the whole text into words
again (C4 splits each kept line into sentences), and datatrove tokenizes inside a spaCy
memory zone, so every word of every call is a new lexeme whose attributes (shape, like_num,
like_url, ...) are computed afresh. The adapter therefore hands the filters a
`SharedTokenizer` as their `language`: datatrove's own tokenizer for the language, whose
answers are kept per document while its batch goes through the quality stages (so the three
word-based filters tokenize a text once), and which first lets the spaCy vocabulary keep the
lexemes of a language's first documents (bounded by `VOCAB_LIMIT`), so later calls find them.
The filters' code and decisions are datatrove's: the words and sentences are the ones
datatrove's tokenizer returns, computed once instead of up to four times.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
from datatrove.utils.word_tokenizers import (
    SpaCyTokenizer,
    WhitespaceTokenizer,
    WordTokenizer,
    load_word_tokenizer,
)

from heed.curation.document import Document
from heed.curation.registry import load_object
from heed.curation.stage import RunContext
from heed.filters.base import Filter
from heed.filters.languages import to_iso639_1

log = logging.getLogger(__name__)


# Lexemes a language's spaCy vocabulary may keep for good (a few hundred bytes each): enough for
# the words that make up most of any page; rarer ones are made per call, as datatrove does.
VOCAB_LIMIT = 200_000


class TokenizationMemo:
    """Tokenizer answers per document, kept while its batch is in the quality stages.

    `document(text)` scopes the answers to one document; `keep_only(texts)`, called with each
    batch, forgets documents no longer in it, so memory follows the batch, not the shard.
    """

    def __init__(self) -> None:
        self._by_document: dict[str, dict[tuple[str, str, str], Any]] = {}
        self.current: dict[tuple[str, str, str], Any] | None = None

    def keep_only(self, texts: Iterable[str]) -> None:
        keep = set(texts)
        for text in [t for t in self._by_document if t not in keep]:
            del self._by_document[text]

    @contextmanager
    def document(self, text: str) -> Iterator[None]:
        self.current = self._by_document.setdefault(text, {})
        try:
            yield
        finally:
            self.current = None


MEMO = TokenizationMemo()


class SharedTokenizer(WordTokenizer):
    """datatrove's own word tokenizer for `language`, remembering its answers in `MEMO` for the
    document being judged. Passed to a datatrove filter as its `language`: datatrove's
    `load_word_tokenizer` uses a tokenizer object as given."""

    def __init__(self, language: str) -> None:
        super().__init__(language)
        self._inner: WordTokenizer | None = None

    @property
    def inner(self) -> WordTokenizer:
        # Loaded on first use, as datatrove does: a missing package shows as the same
        # ImportError/LookupError at the same point, and the adapter leaves the language unjudged.
        if self._inner is None:
            self._inner = load_word_tokenizer(self.language)
        return self._inner

    def _learn(self, text: str) -> None:
        """Tokenize once outside spaCy's memory zone so that the vocabulary keeps these lexemes
        (up to VOCAB_LIMIT): the inner tokenizer then finds them instead of rebuilding them.
        Only speed changes: a token's text does not depend on whether its lexeme is cached."""
        inner = self.inner
        spacy_tok = inner._spacy_xx if isinstance(inner, WhitespaceTokenizer) else inner
        if isinstance(spacy_tok, SpaCyTokenizer) and spacy_tok.language != "ja":
            nlp = spacy_tok.tokenizer
            if len(nlp.vocab) < VOCAB_LIMIT:
                # A text spaCy chokes on is datatrove's to handle, in the call that follows.
                with contextlib.suppress(Exception):
                    nlp.tokenizer(text)

    def _answer(self, method: str, text: str) -> Any:
        memo = MEMO.current
        key = (self.language, method, text)
        if memo is None or key not in memo:
            self._learn(text)
            answer = getattr(self.inner, method)(text)
            if memo is None:
                return answer
            memo[key] = answer
        # A copy: one filter changing its list must not change what the next one sees.
        return list(memo[key])

    def word_tokenize(self, text: str) -> list[str]:
        return self._answer("word_tokenize", text)

    def sent_tokenize(self, text: str) -> list[str]:
        return self._answer("sent_tokenize", text)

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return self._answer("span_tokenize", text)


_SHARED: dict[str, SharedTokenizer] = {}


def shared_tokenizer(language: str) -> SharedTokenizer:
    """One SharedTokenizer per language and process, common to all quality stages."""
    if language not in _SHARED:
        _SHARED[language] = SharedTokenizer(language)
    return _SHARED[language]


@dataclass
class DatatroveFilter(Filter):
    """Runs one datatrove filter (`datatrove_filter`, a `module:Class` path) on each document.

    `options` are the filter's keyword arguments; `options_by_language` overrides them for a
    language (normalised labels, e.g. `deu_Latn`), and `language` is passed on where the filter
    takes it. Columns: `<name>_pass`, 1 or 0 (null: not judged), and `<name>_reason`,
    datatrove's own reason for a fail (`gopher_short_doc`, `line_punct_ratio`, ...), which
    is also the drop's reason.
    """

    name: ClassVar[str] = "datatrove"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {
        "datatrove_pass": pa.int8(),
        "datatrove_reason": pa.string(),
    }
    default_filter: ClassVar[str] = ""

    @classmethod
    def reason_meaning(cls, code: str) -> str | None:
        # datatrove's filters name their own failed checks (gopher_short_doc, ...).
        return super().reason_meaning(code) or f"datatrove's own reason: the check {code!r} failed"

    datatrove_filter: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    options_by_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    pass_language: bool = True
    # Tokenize each document once for all quality stages (see the module's docstring);
    # false runs datatrove's filters exactly as datatrove builds them.
    shared_tokenization: bool = True

    def __post_init__(self) -> None:
        self.datatrove_filter = self.datatrove_filter or self.default_filter
        if not self.datatrove_filter:
            raise ValueError("datatrove_filter must name a datatrove filter (module:Class)")

    @property
    def pass_column(self) -> str:
        return f"{self.name}_pass"

    @property
    def reason_column(self) -> str:
        return f"{self.name}_reason"

    def setup(self, context: RunContext) -> None:
        self._class = load_object(self.datatrove_filter)
        self._instances: dict[str | None, Any] = {}

    def _kwargs(self, language: str | None) -> dict[str, Any]:
        """The datatrove filter's keyword arguments for documents in `language`."""
        kwargs = {**self.options, **self.options_by_language.get(language or "", {})}
        if self.pass_language and language:
            kwargs.setdefault("language", language)
        return kwargs

    def _instance(self, language: str | None) -> Any:
        if language not in self._instances:
            kwargs = self._kwargs(language)
            if self.shared_tokenization and isinstance(kwargs.get("language"), str):
                kwargs["language"] = shared_tokenizer(kwargs["language"])
            try:
                self._instances[language] = self._class(**kwargs)
            except Exception as exc:  # the filter has no support for this language
                log.warning("%s: cannot build for %s: %s", self.name, language, exc)
                self._instances[language] = None
        return self._instances[language]

    def score(self, docs: list[Document]) -> list[dict[str, float | int | None]]:
        from datatrove.data import Document as DatatroveDocument

        results: list[dict[str, float | int | None]] = []
        unjudged = {self.pass_column: None, self.reason_column: None}
        MEMO.keep_only(doc.text or "" for doc in docs)
        for doc in docs:
            instance = self._instance(doc.language)
            if instance is None:
                results.append(unjudged)
                continue
            item = DatatroveDocument(
                text=doc.text or "",
                id=doc.record_id,
                metadata={"url": doc.url, "language": doc.language},
            )
            try:
                with MEMO.document(item.text):
                    verdict = instance.filter(item)
            except (LookupError, ImportError) as exc:
                # datatrove loads a language's word tokenizer lazily: a missing one shows here,
                # once per language; its documents stay unjudged (null) from then on. Info, not
                # a warning: the README says which languages need extra packages, and every
                # worker would repeat it.
                log.info("%s: no judging %s documents: %s", self.name, doc.language, exc)
                self._instances[doc.language] = None
                results.append(unjudged)
                continue
            passed, reason = (verdict, None) if isinstance(verdict, bool) else verdict
            results.append(
                {
                    self.pass_column: int(bool(passed)),
                    self.reason_column: None if passed else reason or "rejected",
                }
            )
        return results

    def reject(self, doc: Document) -> tuple[str, str] | None:
        if doc.scores[self.pass_column] == 0:
            reason = doc.scores[self.reason_column]
            return reason, f"{self.datatrove_filter} ({doc.language}): {reason}"
        return None


@dataclass
class GopherRepetition(DatatroveFilter):
    name: ClassVar[str] = "gopher_repetition"
    columns: ClassVar[dict[str, pa.DataType]] = {
        "gopher_repetition_pass": pa.int8(),
        "gopher_repetition_reason": pa.string(),
    }
    default_filter: ClassVar[str] = "datatrove.pipeline.filters:GopherRepetitionFilter"


def spacy_stop_words(language: str | None) -> list[str] | None:
    """spaCy's stop words for a language (they ship inside spaCy: no download), or None."""
    code = to_iso639_1(language or "")
    try:
        module = importlib.import_module(f"spacy.lang.{code}.stop_words")
    except ImportError:
        return None
    return sorted(module.STOP_WORDS)


@dataclass
class GopherQuality(DatatroveFilter):
    """Gopher's quality rules. Its stop-word test uses English words unless told otherwise,
    which fails nearly every page in another language; here each language gets spaCy's stop
    words, unless `options`/`options_by_language` set `stop_words`."""

    name: ClassVar[str] = "gopher_quality"
    columns: ClassVar[dict[str, pa.DataType]] = {
        "gopher_quality_pass": pa.int8(),
        "gopher_quality_reason": pa.string(),
    }
    default_filter: ClassVar[str] = "datatrove.pipeline.filters:GopherQualityFilter"

    def _kwargs(self, language: str | None) -> dict[str, Any]:
        kwargs = super()._kwargs(language)
        if "stop_words" not in kwargs:
            words = spacy_stop_words(language)
            if words:
                kwargs["stop_words"] = words
        return kwargs


@dataclass
class C4Quality(DatatroveFilter):
    name: ClassVar[str] = "c4_quality"
    columns: ClassVar[dict[str, pa.DataType]] = {
        "c4_quality_pass": pa.int8(),
        "c4_quality_reason": pa.string(),
    }
    default_filter: ClassVar[str] = "datatrove.pipeline.filters:C4QualityFilter"


@dataclass
class FineWebQuality(DatatroveFilter):
    name: ClassVar[str] = "fineweb_quality"
    columns: ClassVar[dict[str, pa.DataType]] = {
        "fineweb_quality_pass": pa.int8(),
        "fineweb_quality_reason": pa.string(),
    }
    default_filter: ClassVar[str] = "datatrove.pipeline.filters:FineWebQualityFilter"

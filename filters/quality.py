"""Quality filters: any datatrove filter, run unchanged through an adapter.

datatrove's Gopher repetition, Gopher quality, C4 and FineWeb filters are the field's reference
heuristics; re-implementing them would only drift from the originals. The adapter hands each
kept document to the datatrove filter as a datatrove `Document` (text, id, and metadata with
url and language), and records its verdict. datatrove tokenizes words with spaCy blank
pipelines: nothing is downloaded.

A filter that cannot be built for a document's language (no tokenizer for it) leaves the
document unjudged, with its column null, rather than failing it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from curation.document import Document
from curation.stage import RunContext
from filters.base import Filter
from filters.languages import to_iso639_1

log = logging.getLogger(__name__)


def _load_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


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

    datatrove_filter: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    options_by_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    pass_language: bool = True

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
        self._class = _load_class(self.datatrove_filter)
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
                verdict = instance.filter(item)
            except (LookupError, ImportError) as exc:
                # datatrove loads a language's word tokenizer lazily: a missing one shows here,
                # once per language; its documents stay unjudged from then on.
                log.warning("%s: no judging %s documents: %s", self.name, doc.language, exc)
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

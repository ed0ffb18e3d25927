"""Text extraction: main content only, no navigation, headers or footers.

Two extractors, chosen in the config (`extractor`): trafilatura (its heuristics, then, unless
`fast`, a comparison with readability and jusText on the same page), and resiliparse's
main-content extraction (a C++ DOM walk, several times cheaper, less precise on news pages).
`heed eval extract --compare` measures each named setting in SETTINGS on a gold set; the
default is the cheapest one within 0.005 F1 of trafilatura's own defaults on English news and
on every language of the multilingual checks (README, Extraction).
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import detect_encoding
from resiliparse.parse.html import HTMLTree
from trafilatura.settings import Extractor

from heed.curation.document import Document
from heed.curation.stage import Stage

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
EXTRACTORS = ("trafilatura", "resiliparse")
# The parameters each extractor reads; the others are not used with it, nor recorded.
TRAFILATURA_PARAMS = (
    "fast", "favor_precision", "favor_recall", "include_tables", "include_comments",
)  # fmt: skip
RESILIPARSE_PARAMS = ("include_tables", "include_comments", "max_depth")


def _trafilatura(fast: bool = False, focus: str = "") -> dict[str, Any]:
    return {
        "extractor": "trafilatura",
        "fast": fast,
        "favor_precision": focus == "precision",
        "favor_recall": focus == "recall",
    }


# Named settings, as stage parameters: what `heed eval extract --compare` measures. The default
# is chosen among these by measurement, never by tuning thresholds on the gold set.
SETTINGS: dict[str, dict[str, Any]] = {
    "trafilatura": _trafilatura(),
    "trafilatura_precision": _trafilatura(focus="precision"),
    "trafilatura_recall": _trafilatura(focus="recall"),
    "trafilatura_fast": _trafilatura(fast=True),
    "trafilatura_fast_precision": _trafilatura(fast=True, focus="precision"),
    "trafilatura_fast_recall": _trafilatura(fast=True, focus="recall"),
    "resiliparse": {"extractor": "resiliparse"},
}


def decode_html(payload: bytes, content_type_header: str) -> str | bytes:
    """The page as text when its HTTP charset is known and valid; else the bytes, which the
    extractor decodes by sniffing."""
    match = _CHARSET.search(content_type_header)
    if match:
        try:
            return payload.decode(codecs.lookup(match.group(1)).name)
        except (LookupError, UnicodeDecodeError):
            pass
    return payload


class ExtractTimeout(Exception):
    """Extraction of one page ran past its time limit."""


class TooDeep(Exception):
    """The page nests deeper than resiliparse's max_depth."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ExtractTimeout in this thread after `seconds` (SIGALRM; Python code is stopped at
    its next bytecode, a long C call when it returns). Only the main thread gets signals, so
    elsewhere (and for 0) there is no limit; shard tasks run in their worker's main thread."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise ExtractTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _resiliparse_tree(page: str | bytes) -> HTMLTree:
    if isinstance(page, str):
        return HTMLTree.parse(page)
    # Bytes that are valid UTF-8 are UTF-8; else resiliparse's sniffing (<meta> charset, then
    # the bytes themselves), as trafilatura sniffs for itself.
    try:
        return HTMLTree.parse(page.decode("utf-8"))
    except UnicodeDecodeError:
        return HTMLTree.parse_from_bytes(
            page, detect_encoding(page, from_html_meta=True) or "utf-8"
        )


@dataclass
class Extract(Stage):
    name: ClassVar[str] = "extract"
    version: ClassVar[str] = "1"
    reads_payload: ClassVar[bool] = True
    columns: ClassVar[dict[str, pa.DataType]] = {"extract_chars": pa.int32()}
    threshold_params: ClassVar[dict[str, str]] = {"extract_chars": "min_chars"}
    reasons: ClassVar[dict[str, str]] = {
        "not_html": "the response is not an HTML page (by its Content-Type)",
        "http_status": "the response status is not 200",
        "too_short": "the extracted text is shorter than min_chars",
        "too_large": "the page is larger than max_bytes (never parsed: memory stays bounded)",
        "extract_timeout": "extraction ran past timeout seconds and was stopped",
        "too_deep": "resiliparse: the page's elements nest deeper than max_depth (never "
        "extracted: its main-content pass grows with the square of the depth)",
    }

    min_chars: int = 200
    extractor: str = "trafilatura"  # see EXTRACTORS
    # trafilatura only: skip its comparison with readability and jusText (`fast`); prefer
    # less text to more boilerplate (`favor_precision`), or the other way (`favor_recall`).
    fast: bool = False
    favor_precision: bool = False
    favor_recall: bool = False
    include_tables: bool = True
    include_comments: bool = False
    # The guard: one pathological page must not stall or kill a shard. Parsing holds a tree of
    # several times the page's size, so the size cap bounds memory; the timer bounds time.
    max_bytes: int = 10_000_000
    timeout: float = 30.0  # seconds per page; 0 = no limit
    # resiliparse only: its main-content pass is C++ the timer cannot stop, and it grows with
    # the square of the nesting depth (100,000 nested <div>s: hours). Real pages nest a few
    # dozen levels deep; trafilatura reads the bad crawl's 100,000-deep page in a fraction of a
    # second.
    max_depth: int = 512

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"extractor = {self.extractor!r}; valid: {', '.join(EXTRACTORS)}")
        if self.favor_precision and self.favor_recall:
            raise ValueError("favor_precision and favor_recall cannot both be true")
        if self.max_depth < 1:
            raise ValueError(f"max_depth = {self.max_depth} must be >= 1")
        # An element max_depth levels below <html>, by child combinators: lexbor matches each
        # element upwards and stops at the root, so a shallow page costs little.
        self._too_deep = "html" + " > *" * self.max_depth

    def params(self) -> dict[str, Any]:
        """The parameters the outputs depend on: the chosen extractor's own, not the other's
        (a trafilatura option set beside extractor = "resiliparse" changes nothing)."""
        used = TRAFILATURA_PARAMS if self.extractor == "trafilatura" else RESILIPARSE_PARAMS
        unused = set(TRAFILATURA_PARAMS + RESILIPARSE_PARAMS) - set(used)
        return {k: v for k, v in super().params().items() if k not in unused}

    def options(self, url: str) -> Extractor:
        """trafilatura's options for one page: what `trafilatura.extract(page, url=url,
        **settings)` builds, copied from one built once (building them reads the config file's
        settings again each time: ~8% of extraction)."""
        if not hasattr(self, "_options"):
            self._options = Extractor(
                output_format="txt",
                fast=self.fast,
                precision=self.favor_precision,
                recall=self.favor_recall,
                tables=self.include_tables,
                comments=self.include_comments,
                # dedup=True keeps a cache across documents: output would then depend on
                # document order and task split.
                dedup=False,
                with_metadata=False,
            )
        options = copy.copy(self._options)
        options.url = url
        options.source = url.encode("utf-8", "replace").decode("utf-8") if url else None
        return options

    def extract(self, page: str | bytes, url: str) -> str:
        """The main text of one page (str when its charset is known, else bytes), "" if none."""
        if self.extractor == "resiliparse":
            tree = _resiliparse_tree(page)
            if tree.document.query_selector(self._too_deep) is not None:
                raise TooDeep
            return extract_plain_text(
                tree,
                main_content=True,
                # Text, not image descriptions: trafilatura leaves alt texts out too.
                alt_texts=False,
                comments=self.include_comments,
                skip_elements=None if self.include_tables else ["table"],
            )
        return trafilatura.extract(page, url=url, options=self.options(url)) or ""

    def process(self, docs: list[Document]) -> None:
        for doc in docs:
            if doc.text is not None and not doc.payload:
                self._check_length(doc)  # made from text (Document.from_text): kept as given
                continue
            if doc.content_type not in HTML_TYPES:
                doc.drop(self.name, "not_html", f"Content-Type {doc.content_type or 'missing'}")
                continue
            if doc.http_status != 200:
                doc.drop(self.name, "http_status", f"HTTP {doc.http_status}")
                continue
            if len(doc.payload) > self.max_bytes:
                doc.drop(self.name, "too_large", f"{len(doc.payload):,} bytes > {self.max_bytes:,}")
                continue
            try:
                with time_limit(self.timeout):
                    text = self.extract(
                        decode_html(doc.payload, doc.http_headers.get("content-type", "")),
                        doc.url,
                    )
            except ExtractTimeout:
                doc.drop(self.name, "extract_timeout", f"stopped after {self.timeout:g} s")
                continue
            except TooDeep:
                doc.drop(self.name, "too_deep", f"elements nested over {self.max_depth} deep")
                continue
            doc.text = text
            self._check_length(doc)

    def _check_length(self, doc: Document) -> None:
        doc.scores["extract_chars"] = len(doc.text or "")
        if len(doc.text or "") < self.min_chars:
            doc.drop(self.name, "too_short", f"{len(doc.text or '')} chars < {self.min_chars}")

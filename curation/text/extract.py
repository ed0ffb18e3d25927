"""Text extraction with trafilatura: main content only, no navigation, headers or footers."""

from __future__ import annotations

import codecs
import contextlib
import copy
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa
import trafilatura
from trafilatura.settings import Extractor

from heed.curation.document import Document
from heed.curation.stage import Stage

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def decode_html(payload: bytes, content_type_header: str) -> str | bytes:
    """The page as text when its HTTP charset is known and valid; else the bytes, which
    trafilatura decodes by sniffing."""
    match = _CHARSET.search(content_type_header)
    if match:
        try:
            return payload.decode(codecs.lookup(match.group(1)).name)
        except (LookupError, UnicodeDecodeError):
            pass
    return payload


class ExtractTimeout(Exception):
    """Extraction of one page ran past its time limit."""


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
    }

    min_chars: int = 200
    favor_precision: bool = False
    include_tables: bool = True
    include_comments: bool = False
    # The guard: one pathological page must not stall or kill a shard. Parsing holds a tree of
    # several times the page's size, so the size cap bounds memory; the timer bounds time.
    max_bytes: int = 10_000_000
    timeout: float = 30.0  # seconds per page; 0 = no limit

    def options(self, url: str) -> Extractor:
        """trafilatura's options for one page: what `trafilatura.extract(page, url=url,
        **settings)` builds, copied from one built once (building them reads the config file's
        settings again each time: ~8% of extraction)."""
        if not hasattr(self, "_options"):
            self._options = Extractor(
                output_format="txt",
                precision=self.favor_precision,
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
                    text = trafilatura.extract(
                        decode_html(doc.payload, doc.http_headers.get("content-type", "")),
                        url=doc.url,
                        options=self.options(doc.url),
                    )
            except ExtractTimeout:
                doc.drop(self.name, "extract_timeout", f"stopped after {self.timeout:g} s")
                continue
            doc.text = text or ""
            self._check_length(doc)

    def _check_length(self, doc: Document) -> None:
        doc.scores["extract_chars"] = len(doc.text or "")
        if len(doc.text or "") < self.min_chars:
            doc.drop(self.name, "too_short", f"{len(doc.text or '')} chars < {self.min_chars}")

"""Text extraction with trafilatura: main content only, no navigation, headers or footers."""

from __future__ import annotations

import codecs
import copy
import re
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa
import trafilatura
from trafilatura.settings import Extractor

from curation.document import Document
from curation.stage import Stage

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


@dataclass
class Extract(Stage):
    name: ClassVar[str] = "extract"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {"extract_chars": pa.int32()}
    threshold_params: ClassVar[dict[str, str]] = {"extract_chars": "min_chars"}
    reasons: ClassVar[dict[str, str]] = {
        "not_html": "the response is not an HTML page (by its Content-Type)",
        "http_status": "the response status is not 200",
        "too_short": "the extracted text is shorter than min_chars",
    }

    min_chars: int = 200
    favor_precision: bool = False
    include_tables: bool = True
    include_comments: bool = False

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
            if doc.content_type not in HTML_TYPES:
                doc.drop(self.name, "not_html", f"Content-Type {doc.content_type or 'missing'}")
                continue
            if doc.http_status != 200:
                doc.drop(self.name, "http_status", f"HTTP {doc.http_status}")
                continue
            text = trafilatura.extract(
                decode_html(doc.payload, doc.http_headers.get("content-type", "")),
                url=doc.url,
                options=self.options(doc.url),
            )
            doc.text = text or ""
            doc.scores["extract_chars"] = len(doc.text)
            if len(doc.text) < self.min_chars:
                doc.drop(self.name, "too_short", f"{len(doc.text)} chars < {self.min_chars}")

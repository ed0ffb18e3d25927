"""The unit that flows through the stage chain: one WARC response record, or a document made
in memory from text or from HTML and its URL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

import numpy as np


class Status(StrEnum):
    KEPT = "kept"
    DROPPED = "dropped"
    ERROR = "error"


@dataclass
class Document:
    """A response record and everything the stages learn about it.

    A document stays `kept` until a stage drops it (or fails on it); later stages skip it, so
    the audit shows the first stage that said no and every score computed before that.
    """

    record_id: str
    url: str
    host: str
    crawl: str
    shard: str
    offset: int
    warc_date: str
    http_status: int = 0
    http_headers: dict[str, str] = field(default_factory=dict)
    payload: bytes = b""
    text: str | None = None
    language: str | None = None
    tokens: np.ndarray | None = None
    scores: dict[str, float | int | None] = field(default_factory=dict)
    status: Status = Status.KEPT
    stage: str | None = None
    reason: str | None = None
    detail: str | None = None

    @classmethod
    def from_text(
        cls, text: str, url: str = "", record_id: str | None = None, **fields: object
    ) -> Document:
        """A document whose text is already known: the extract stage keeps it as it is."""
        return cls._in_memory(url, record_id, text.encode("utf-8"), text=text, **fields)

    @classmethod
    def from_html(
        cls, html: str | bytes, url: str, record_id: str | None = None, **fields: object
    ) -> Document:
        """An HTML page as a crawler would have fetched it (HTTP 200, text/html): every stage
        runs on it as on a WARC record, opt-out and extraction included."""
        payload = html.encode("utf-8") if isinstance(html, str) else html
        headers = {
            "content-type": "text/html; charset=utf-8" if isinstance(html, str) else "text/html"
        }
        fields = {"http_status": 200, "http_headers": headers, **fields}
        return cls._in_memory(url, record_id, payload, payload=payload, **fields)

    @classmethod
    def _in_memory(
        cls, url: str, record_id: str | None, content: bytes, **fields: object
    ) -> Document:
        # The same content and URL get the same id, so outputs stay deterministic.
        digest = hashlib.sha256(url.encode("utf-8") + b"\0" + content).hexdigest()[:32]
        values: dict[str, object] = {
            "record_id": record_id or f"<urn:sha256:{digest}>",
            "url": url,
            "host": (urlsplit(url).hostname or "") if url else "",
            "crawl": "",
            "shard": "",
            "offset": 0,
            "warc_date": "",
            **fields,
        }
        return cls(**values)  # type: ignore[arg-type]

    @property
    def alive(self) -> bool:
        return self.status is Status.KEPT

    @property
    def content_type(self) -> str:
        """The media type of the payload, lower case, without parameters."""
        return self.http_headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def drop(self, stage: str, reason: str, detail: str | None = None) -> None:
        self.status, self.stage, self.reason, self.detail = Status.DROPPED, stage, reason, detail

    def fail(self, stage: str, reason: str, detail: str | None = None) -> None:
        self.status, self.stage, self.reason, self.detail = Status.ERROR, stage, reason, detail

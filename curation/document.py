"""The unit that flows through the stage chain: one WARC response record."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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

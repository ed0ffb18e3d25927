"""The opt-out stage: drop a page if its site or the page itself refuses AI training.

It needs only the URL, the HTTP headers and the page head, so it runs before extraction and a
removed page is never extracted. Signals, in order: robots.txt (any listed agent disallowed, or
the capture answered 5xx), the TDMRep `tdm-reservation` header, `X-Robots-Tag: noai`, and the
same two in `<meta>` tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa
from protego import Protego

from curation.document import Document
from curation.robots import Capture, load_captures, parse_robots
from curation.stage import RunContext, Stage

# Apertus' list: a page goes if any of these may not fetch it (DESIGN.md).
APERTUS_AGENTS: tuple[str, ...] = (
    "AI2Bot",
    "Applebot-Extended",
    "Bytespider",
    "CCBot",
    "CCBot/2.0",
    "CCBot/1.0",
    "ClaudeBot",
    "cohere-training-data-crawler",
    "Diffbot",
    "Meta-ExternalAgent",
    "Google-Extended",
    "GPTBot",
    "PanguBot",
    "FacebookBot",
    "*",
)
NOAI_TOKENS = frozenset({"noai", "noimageai"})
# Meta tags live in <head>; looking further costs time and finds body text that quotes markup.
HEAD_BYTES = 64 * 1024
_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)

# Loaded once per process and crawl: every shard task of a crawl shares the same captures.
_CAPTURES: dict[tuple[str, str], dict[str, Capture]] = {}


def _meta_tags(payload: bytes) -> dict[str, str]:
    head = payload[:HEAD_BYTES]
    end = head.lower().find(b"</head")
    if end >= 0:
        head = head[:end]
    tags: dict[str, str] = {}
    for tag in _META.findall(head):
        attrs = {
            m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"")
            for m in _ATTR.finditer(tag)
        }
        name = attrs.get(b"name", b"").decode("latin-1").strip().lower()
        if name:
            content = attrs.get(b"content", b"").decode("latin-1").strip().lower()
            tags[name] = f"{tags[name]}, {content}" if name in tags else content
    return tags


def _noai(directives: str) -> bool:
    # X-Robots-Tag may prefix directives with an agent ("otherbot: noai"); any noai counts.
    tokens = re.split(r"[\s,:]+", directives.lower())
    return any(token in NOAI_TOKENS for token in tokens)


@dataclass
class OptOut(Stage):
    name: ClassVar[str] = "opt_out"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {
        "robots_status": pa.int16(),
        "robots_blocked_agents": pa.int16(),
    }

    agents: list[str] = field(default_factory=lambda: list(APERTUS_AGENTS))
    tdm_reservation: bool = True
    noai: bool = True

    def setup(self, context: RunContext) -> None:
        key = (context.crawl_root, context.crawl)
        if key not in _CAPTURES:
            _CAPTURES[key] = load_captures(context.crawl_root, context.crawl)
        self._captures = _CAPTURES[key]
        self._parsed: dict[str, Protego] = {}

    def _robots(self, doc: Document) -> None:
        capture = self._captures.get(doc.host)
        if capture is None:
            return
        doc.scores["robots_status"] = capture.status
        where = f"{capture.url} (HTTP {capture.status}, captured {capture.date})"
        if 500 <= capture.status < 600:
            doc.drop(self.name, "robots_unavailable", f"{where}: 5xx means disallow all")
            return
        if not 200 <= capture.status < 300:
            return
        if doc.host not in self._parsed:
            self._parsed[doc.host] = parse_robots(capture.body)
        rules = self._parsed[doc.host]
        blocked = [agent for agent in self.agents if not rules.can_fetch(doc.url, agent)]
        doc.scores["robots_blocked_agents"] = len(blocked)
        if blocked:
            doc.drop(self.name, "robots_disallow", f"{where} disallows {', '.join(blocked)}")

    def process(self, docs: list[Document]) -> None:
        for doc in docs:
            self._robots(doc)
            if not doc.alive:
                continue
            headers = doc.http_headers
            if self.tdm_reservation and headers.get("tdm-reservation", "").strip() == "1":
                doc.drop(self.name, "tdm_reservation", "HTTP header tdm-reservation: 1")
                continue
            if self.noai and _noai(headers.get("x-robots-tag", "")):
                doc.drop(self.name, "noai", f"HTTP header X-Robots-Tag: {headers['x-robots-tag']}")
                continue
            if "html" not in doc.content_type:
                continue
            meta = _meta_tags(doc.payload)
            if self.tdm_reservation and meta.get("tdm-reservation", "").strip() == "1":
                doc.drop(self.name, "tdm_reservation", '<meta name="tdm-reservation" content="1">')
            elif self.noai and _noai(meta.get("robots", "")):
                doc.drop(self.name, "noai", f'<meta name="robots" content="{meta["robots"]}">')

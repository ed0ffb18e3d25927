"""robots.txt: the crawl's own captures, and the question "may this agent fetch this URL?".

Common Crawl captures robots.txt for every host it crawls (`robotstxt.paths.gz`), so a crawl's
captures judge its pages without live fetching. Status handling follows RFC 9309: a 4xx capture
allows everything, a 5xx capture disallows everything, no capture allows everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastwarc.warc import ArchiveIterator, WarcRecordType
from protego import Protego

from curation.crawl import ROBOTS_LISTING, open_input, read_listing
from curation.warc import host_of

log = logging.getLogger(__name__)

# RFC 9309 2.5: crawlers may stop reading after 500 KiB.
MAX_ROBOTS_BYTES = 500 * 1024


def _decode(robots_txt: str | bytes) -> str:
    if isinstance(robots_txt, bytes):
        robots_txt = robots_txt[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    return robots_txt.removeprefix("\ufeff")


def parse_robots(robots_txt: str | bytes) -> Protego:
    return Protego.parse(_decode(robots_txt))


def is_allowed(robots_txt: str | bytes, user_agent: str, url: str) -> bool:
    """Whether `user_agent` may fetch `url` under this robots.txt body."""
    return bool(parse_robots(robots_txt).can_fetch(url, user_agent))


@dataclass(frozen=True)
class Capture:
    """One host's robots.txt as the crawler saw it."""

    url: str
    status: int
    date: str
    body: bytes


def load_captures(crawl_root: str, crawl: str) -> dict[str, Capture]:
    """host -> its robots.txt capture, from every WARC in the crawl's robotstxt.paths.gz.

    Where a host was captured more than once the latest capture wins (ties: the later record).
    """
    captures: dict[str, Capture] = {}
    for path in read_listing(crawl_root, crawl, ROBOTS_LISTING):
        with open_input(crawl_root, path) as stream:
            for record in ArchiveIterator(
                stream, record_types=WarcRecordType.response, parse_http=False, fsspec_args=False
            ):
                url = record.headers.get("WARC-Target-URI", "") or ""
                try:
                    record.parse_http()
                    status = int(record.http_headers.status_code or 0)
                    body = record.reader.read(MAX_ROBOTS_BYTES)
                except (OSError, ValueError) as exc:
                    log.warning("%s: unreadable robots.txt capture for %s: %s", path, url, exc)
                    continue
                capture = Capture(url, status, record.headers.get("WARC-Date", "") or "", body)
                host = host_of(url)
                if host not in captures or capture.date >= captures[host].date:
                    captures[host] = capture
    return captures

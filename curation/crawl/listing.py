"""Common Crawl's layout: `<root>/crawl-data/<crawl>/warc.paths.gz` lists the WARC shards and
`robotstxt.paths.gz` the robots.txt captures, each path relative to `<root>`. The root is a
local folder, an http(s) URL or an fsspec URL (see `heed.curation.crawl.fetch`)."""

from __future__ import annotations

import gzip
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from heed.curation.crawl.fetch import ConnectionGate, FetchError, FetchOptions, join, open_stream
from heed.curation.errors import ConfigError

WARC_LISTING = "warc.paths.gz"
ROBOTS_LISTING = "robotstxt.paths.gz"
_RANGE = re.compile(r"^(\d+):(\d+)$")
_RANDOM = re.compile(r"^random:(\d+):(\d+)$")
SELECTION_HELP = (
    "0 (every shard), N (the first N), 'A:B' (listing lines A to B-1, from 0), "
    "or 'random:N:SEED' (N shards drawn with SEED, in listing order)"
)


@dataclass(frozen=True)
class Shard:
    """One input WARC file: the unit of work. `index` is its line in warc.paths.gz; in a run
    over several crawls, the crawls' listings count on one after the other."""

    index: int
    path: str
    crawl: str = ""

    @property
    def part(self) -> str:
        # Output names come from the listing position only, never from anything inside a file.
        return f"part-{self.index:05d}"


@dataclass(frozen=True)
class Listing:
    """One of a crawl's listings as read: where from, its SHA-256, the paths it lists."""

    location: str
    sha256: str
    paths: tuple[str, ...]


def listing_location(crawl_root: str, crawl: str, name: str = WARC_LISTING) -> str:
    return join(crawl_root, f"crawl-data/{crawl}/{name}")


def read_listing(
    crawl_root: str, crawl: str, name: str = WARC_LISTING, options: FetchOptions | None = None
) -> Listing:
    """A listing of the crawl. A missing WARC listing is a ConfigError naming the crawls found
    (in a local root); a missing robots listing is an empty one."""
    location = listing_location(crawl_root, crawl, name)
    try:
        with open_stream(location, options) as stream:
            data = stream.read()
    except (FileNotFoundError, FetchError) as exc:
        missing = isinstance(exc, FileNotFoundError) or exc.status in (403, 404, 410)
        if missing and name != WARC_LISTING:
            return Listing(location, "", ())
        if not missing:
            raise ConfigError(f"cannot read {location}: {exc}") from None
        where = f"no crawl {crawl!r} under {crawl_root}: {location} not found"
        raise ConfigError(where + _crawls_there(crawl_root)) from None
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{location}: not a gzipped list of paths ({exc})") from None
    paths = tuple(line.strip() for line in text.splitlines() if line.strip())
    return Listing(location, hashlib.sha256(data).hexdigest(), paths)


def _crawls_there(crawl_root: str) -> str:
    if "://" in crawl_root:
        return ""
    found = sorted(p.parent.name for p in Path(crawl_root).glob(f"crawl-data/*/{WARC_LISTING}"))
    return f"; crawls there: {', '.join(found) if found else 'none'}"


def check_selection(selection: int | str) -> None:
    """ConfigError unless `selection` is one of the forms SELECTION_HELP names."""
    if isinstance(selection, bool) or not isinstance(selection, int | str):
        raise ConfigError(f"shards = {selection!r}: expected {SELECTION_HELP}")
    if isinstance(selection, int):
        if selection < 0:
            raise ConfigError(f"shards = {selection}: must be >= 0; expected {SELECTION_HELP}")
        return
    text = selection.strip()
    if text.isdigit():
        return
    found = _RANGE.match(text)
    if found and int(found.group(1)) < int(found.group(2)):
        return
    if _RANDOM.match(text) and int(_RANDOM.match(text).group(1)) > 0:  # type: ignore[union-attr]
        return
    raise ConfigError(f"shards = {selection!r}: expected {SELECTION_HELP}")


def select(paths: tuple[str, ...] | list[str], selection: int | str) -> list[Shard]:
    """The shards a selection picks from a listing (see SELECTION_HELP), in listing order."""
    check_selection(selection)
    shards = [Shard(i, p) for i, p in enumerate(paths)]
    text = str(selection).strip()
    if text.isdigit():
        count = int(text)
        return shards[:count] if count else shards
    found = _RANGE.match(text)
    if found:
        start, stop = int(found.group(1)), int(found.group(2))
        if start >= len(shards):
            raise ConfigError(f"shards = {text!r}: the listing has only {len(shards)} shards")
        return shards[start:stop]
    count, seed = (int(g) for g in _RANDOM.match(text).groups())  # type: ignore[union-attr]
    picked = random.Random(seed).sample(range(len(shards)), min(count, len(shards)))
    return [shards[i] for i in sorted(picked)]


def select_crawls(
    crawl_root: str,
    crawls: tuple[str, ...],
    selection: int | str = 0,
    options: FetchOptions | None = None,
) -> tuple[list[Listing], list[Shard]]:
    """The listings of the crawls and the shards the selection picks from each (a shard's
    index counts on across the crawls, in the order given)."""
    listings, shards, offset = [], [], 0
    for crawl in crawls:
        listing = read_listing(crawl_root, crawl, WARC_LISTING, options)
        for shard in select(listing.paths, selection):
            shards.append(Shard(offset + shard.index, shard.path, crawl))
        listings.append(listing)
        offset += len(listing.paths)
    return listings, shards


def select_shards(
    crawl_root: str, crawl: str, selection: int | str = 0, options: FetchOptions | None = None
) -> list[Shard]:
    return select(read_listing(crawl_root, crawl, WARC_LISTING, options).paths, selection)


def open_input(
    crawl_root: str,
    path: str,
    options: FetchOptions | None = None,
    gate: ConnectionGate | None = None,
) -> BinaryIO:
    """A file of the crawl (a path from a listing) as a binary stream."""
    return open_stream(join(crawl_root, path), options, gate)

"""Common Crawl's layout: `<root>/crawl-data/<crawl>/warc.paths.gz` lists the WARC shards and
`robotstxt.paths.gz` the robots.txt captures, each path relative to `<root>`."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from curation.config import ConfigError

WARC_LISTING = "warc.paths.gz"
ROBOTS_LISTING = "robotstxt.paths.gz"


@dataclass(frozen=True)
class Shard:
    """One input WARC file: the unit of work. `index` is its line in warc.paths.gz."""

    index: int
    path: str

    @property
    def part(self) -> str:
        # Output names come from the listing position only, never from anything inside a file.
        return f"part-{self.index:05d}"


def _local_root(crawl_root: str) -> Path:
    if "://" in crawl_root:
        raise ConfigError(
            f"crawl_root {crawl_root!r}: remote crawl roots are not supported yet; "
            "give a local folder that holds crawl-data/"
        )
    return Path(crawl_root)


def crawl_folder(crawl_root: str, crawl: str) -> Path:
    root = _local_root(crawl_root)
    folder = root / "crawl-data" / crawl
    if not (folder / WARC_LISTING).is_file():
        found = sorted(p.parent.name for p in (root / "crawl-data").glob(f"*/{WARC_LISTING}"))
        choices = ", ".join(found) if found else "none"
        raise ConfigError(
            f"no crawl {crawl!r} under {root}: {folder / WARC_LISTING} not found; "
            f"crawls there: {choices}"
        )
    return folder


def read_listing(crawl_root: str, crawl: str, listing: str = WARC_LISTING) -> list[str]:
    """The paths in one of the crawl's listings; a missing robots listing is an empty one."""
    path = crawl_folder(crawl_root, crawl) / listing
    if not path.is_file():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [line.strip() for line in lines if line.strip()]


def select_shards(crawl_root: str, crawl: str, limit: int = 0) -> list[Shard]:
    paths = read_listing(crawl_root, crawl)
    shards = [Shard(i, p) for i, p in enumerate(paths)]
    return shards[:limit] if limit else shards


def open_input(crawl_root: str, path: str) -> BinaryIO:
    return (_local_root(crawl_root) / path).open("rb")


def sha256_file(crawl_root: str, path: str) -> str:
    digest = hashlib.sha256()
    with open_input(crawl_root, path) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

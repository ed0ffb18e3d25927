"""Reading WARC response records as Documents, streaming, one record at a time.

A record that cannot be trusted (its block digest fails, its HTTP head does not parse) becomes an
`error` document with its identity, and reading goes on with the next record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import urlsplit

from fastwarc.warc import ArchiveIterator, WarcRecordType

from curation.document import Document

log = logging.getLogger(__name__)
READ_STAGE = "read"
READ_REASONS = {
    "block_digest_mismatch": "the record's WARC-Block-Digest does not match its bytes",
    "bad_http": "the record's HTTP response head does not parse",
    "unreadable_stream": "the WARC file broke here (truncated or damaged gzip); the records "
    "before were read",
    "record_too_large": "the record's block is larger than MAX_RECORD_BYTES: skipped unread, "
    "so a decompression bomb costs no memory",
}
# Larger records are skipped without being held in memory (Common Crawl truncates payloads at
# 1 MiB; 64 MiB leaves room for other crawls and is still safe to hold).
MAX_RECORD_BYTES = 64 * 1024 * 1024


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _http_headers(record) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in record.http_headers.items():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def response_records(stream: BinaryIO) -> ArchiveIterator:
    """The response records of a WARC stream (gzip or not), HTTP heads not yet parsed: the one
    way heed opens a WARC, for pages and robots.txt captures alike."""
    return ArchiveIterator(
        stream, record_types=WarcRecordType.response, parse_http=False, fsspec_args=False
    )


def read_documents(
    stream: BinaryIO, *, crawl: str, shard: str, verify_digests: bool = True
) -> Iterator[Document]:
    """Every response record of a WARC stream (gzip or not), in file order."""
    records = response_records(stream)
    position = 0
    try:
        for record in records:
            position = record.stream_pos
            url = record.headers.get("WARC-Target-URI", "") or ""
            doc = Document(
                record_id=record.headers.get("WARC-Record-ID", "") or f"{shard}@{position}",
                url=url,
                host=host_of(url),
                crawl=crawl,
                shard=shard,
                offset=position,
                warc_date=record.headers.get("WARC-Date", "") or "",
            )
            if record.content_length > MAX_RECORD_BYTES:
                size = f"{record.content_length:,} bytes > {MAX_RECORD_BYTES:,}"
                doc.fail(READ_STAGE, "record_too_large", size)
                record.reader.consume()  # streamed through, never held
                yield doc
                continue
            if (
                verify_digests
                and record.headers.get("WARC-Block-Digest")
                and not record.verify_block_digest(consume=False)
            ):
                doc.fail(READ_STAGE, "block_digest_mismatch", "WARC-Block-Digest does not match")
                record.reader.consume()
                yield doc
                continue
            try:
                record.parse_http()
                if record.http_headers is None:
                    raise OSError("no HTTP response head")
                doc.http_status = int(record.http_headers.status_code or 0)
                doc.http_headers = _http_headers(record)
                doc.payload = record.reader.read()
            except (OSError, ValueError) as exc:
                doc.fail(READ_STAGE, "bad_http", f"{type(exc).__name__}: {exc}")
            yield doc
    except OSError as exc:
        # The stream itself broke (truncated or damaged gzip): what was read stays; the rest is
        # recorded as one error with the byte offset where reading stopped.
        log.error("%s: WARC stream unreadable after offset %d: %s", shard, position, exc)
        doc = Document(
            record_id=f"{shard}@{position}",
            url="",
            host="",
            crawl=crawl,
            shard=shard,
            offset=position,
            warc_date="",
        )
        doc.fail(READ_STAGE, "unreadable_stream", f"{type(exc).__name__}: {exc}")
        yield doc

"""Reading WARC response records as Documents, streaming, one record at a time.

A record that cannot be trusted (its block digest fails, its Content-Length disagrees with its
gzip member, its HTTP head does not parse) becomes an `error` document with its identity, and
reading goes on with the next record.

Common Crawl gzips each record as its own gzip member, and the reader works member by member:
bytes that are not a gzip member (garbage between records) and a member that does not
decompress (a truncated or damaged one) are skipped up to the next member that holds a WARC
record, and the skipped span is one `error` row with its byte offset, so damage costs the
damaged bytes only, never the good records after them. A WARC that is not gzipped (it starts
with `WARC/`), or gzipped whole as one member, is read straight through instead: damage there
ends the file (`unreadable_stream`). A file in which no WARC record can be found at all (an
error page stored in its place, an empty file) is not a shard to audit record by record:
reading it raises `NotAWarc`, and the shard fails as a whole.
"""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from fastwarc.warc import ArchiveIterator, WarcRecordType

from heed.curation.document import Document

log = logging.getLogger(__name__)
READ_STAGE = "read"
READ_REASONS = {
    "block_digest_mismatch": "the record's WARC-Block-Digest does not match its bytes",
    "bad_http": "the record's HTTP response head does not parse",
    "bad_content_length": "the record's Content-Length disagrees with its gzip member (the "
    "block is cut short or runs past the record's end)",
    "garbage_bytes": "bytes between records that are not a gzip member; skipped up to the next "
    "record, which was read",
    "damaged_record": "a gzip member that does not decompress to its end (truncated or "
    "damaged) or holds no readable WARC record; skipped up to the next record, which was read",
    "unreadable_stream": "the WARC file broke here (truncated or damaged gzip); the records "
    "before were read",
    "record_too_large": "the record's block is larger than MAX_RECORD_BYTES: skipped unread, "
    "so a decompression bomb costs no memory",
}
# Larger records are skipped without being held in memory (Common Crawl truncates payloads at
# 1 MiB; 64 MiB leaves room for other crawls and is still safe to hold).
MAX_RECORD_BYTES = 64 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b\x08"
_READ = 1 << 16  # raw bytes fed to the decompressor at a time
_OUT = 1 << 20  # decompressed bytes produced at a time
# A gzip member is decompressed whole before its record is read, so that a member cut short
# is known before its record is passed on. One holding more than this is a WARC gzipped whole
# (many records in one member): that is read straight through instead.
_HOLD = MAX_RECORD_BYTES + (1 << 20)
_HEAD = 1 << 20  # a record's WARC head ends within this many bytes
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")
_WARC_TYPE = re.compile(rb"(?im)^warc-type:[ \t]*(\S+)")


class NotAWarc(ValueError):
    """No WARC record could be found anywhere in a file: it fails as a whole."""


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
    way heed opens a WARC for robots.txt captures."""
    return ArchiveIterator(
        stream, record_types=WarcRecordType.response, parse_http=False, fsspec_args=False
    )


class _Window:
    """A stream's bytes from absolute offset `base` on: read on demand, let go once passed, so
    the reader can look ahead for the next record and step back to a member's start."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.data, self.base, self.eof = stream, bytearray(), 0, False

    @property
    def end(self) -> int:
        return self.base + len(self.data)

    def ensure(self, end: int) -> None:
        while not self.eof and self.end < end:
            chunk = self.stream.read(max(_READ, end - self.end))
            if chunk:
                self.data += chunk
            else:
                self.eof = True

    def get(self, start: int, end: int) -> bytes:
        self.ensure(end)
        return bytes(self.data[start - self.base : end - self.base])

    def at_end(self, pos: int) -> bool:
        self.ensure(pos + 1)
        return self.end <= pos

    def release(self, upto: int) -> None:
        if upto > self.base:
            del self.data[: upto - self.base]
            self.base = upto


class _Rest:
    """A window's bytes from `start` on, then the rest of its stream: a file-like for
    fastwarc when a file is read straight through."""

    def __init__(self, window: _Window, start: int) -> None:
        window.release(start)
        self.window, self.pos = window, start

    def read(self, n: int = -1) -> bytes:
        window = self.window
        if self.pos < window.end:  # what the window holds first, let go as it is read
            stop = window.end if n < 0 else min(window.end, self.pos + n)
            piece = bytes(window.data[self.pos - window.base : stop - window.base])
            window.release(stop)
        else:
            piece = window.stream.read(n)
        self.pos += len(piece)
        return piece

    def tell(self) -> int:
        return self.pos


@dataclass
class _Member:
    """One gzip member as decompressed: `data` is all of it, or only its WARC head when its
    record is too large to hold; `end` is where it ends in the file (where decompression
    stopped, when `error` says why it could not go on)."""

    data: bytes
    end: int
    size: int
    error: str | None = None
    too_large: bool = False  # the record's Content-Length is over MAX_RECORD_BYTES
    whole_file: bool = False  # over _HOLD without a too-large record: many records in one


def _inflate(window: _Window, start: int) -> _Member:
    """Decompress the gzip member at `start` (see _Member)."""
    inflater = zlib.decompressobj(31)
    held, size, pos, head_end = bytearray(), 0, start, -1
    too_large = False
    while True:
        chunk = window.get(pos, pos + _READ)
        if not chunk:
            return _Member(bytes(held), pos, size, "the file ends inside this gzip member")
        data = chunk
        while data:
            try:
                piece = inflater.decompress(data, _OUT)
            except zlib.error as exc:
                # zlib gives nothing of the call that failed: decompress again in small steps
                # to keep what came before the damage (the record's identity, at least).
                data = held if too_large else _salvage(window, start)
                return _Member(bytes(data), pos, size, f"gzip: {exc}", too_large)
            size += len(piece)
            if not too_large:
                held += piece
                if head_end == -1 and (head_end := held.find(b"\r\n\r\n", 0, _HEAD)) >= 0:
                    found = _CONTENT_LENGTH.search(held, 0, head_end + 2)
                    if found and int(found.group(1)) > MAX_RECORD_BYTES:
                        # A decompression bomb or a huge record: keep its head only and
                        # stream the rest through.
                        too_large = True
                        del held[head_end + 4 :]
                elif head_end == -1 and len(held) >= _HEAD:
                    head_end = -2  # no WARC head in reach: not looked for again
                if len(held) > _HOLD:
                    return _Member(b"", pos, size, whole_file=True)
            if inflater.eof:
                end = pos + len(chunk) - len(inflater.unused_data)
                return _Member(bytes(held), end, size, too_large=too_large)
            data = inflater.unconsumed_tail
        pos += len(chunk)
        if too_large:
            window.release(pos)  # never replayed: memory stays bounded


def _salvage(window: _Window, start: int, step: int = 32) -> bytes:
    """What a damaged gzip member at `start` decompresses to before its damage (at most
    _HOLD bytes)."""
    inflater, out, pos = zlib.decompressobj(31), bytearray(), start
    try:
        while len(out) <= _HOLD and not inflater.eof:
            piece = window.get(pos, pos + step)
            if not piece:
                break
            out += inflater.decompress(piece)
            pos += len(piece)
    except zlib.error:
        pass
    return bytes(out)


def _starts_warc(window: _Window, pos: int) -> bool:
    """Whether a gzip member starting at `pos` decompresses to a WARC record's first line."""
    inflater, out, at = zlib.decompressobj(31), b"", pos
    try:
        while len(out) < 8 and not inflater.eof:
            chunk = window.get(at, at + _READ)
            if not chunk:
                break
            out += inflater.decompress(chunk, 8 - len(out))
            at += len(chunk) - len(inflater.unconsumed_tail)
    except zlib.error:
        return False
    return out.startswith(b"WARC/")


def _next_member(window: _Window, pos: int) -> int:
    """The offset of the first gzip member at or after `pos` that holds a WARC record; the end
    of the file if there is none."""
    while True:
        window.ensure(pos + _READ)
        found = window.data.find(GZIP_MAGIC, pos - window.base)
        if found < 0:
            if window.eof:
                return window.end
            pos = max(pos, window.end - len(GZIP_MAGIC) + 1)  # a magic may straddle reads
            window.release(pos)
            continue
        candidate = window.base + found
        if _starts_warc(window, candidate):
            return candidate
        pos = candidate + 1


def _error_row(crawl: str, shard: str, offset: int, reason: str, detail: str) -> Document:
    doc = Document(
        record_id=f"{shard}@{offset}",
        url="",
        host="",
        crawl=crawl,
        shard=shard,
        offset=offset,
        warc_date="",
    )
    doc.fail(READ_STAGE, reason, detail)
    log.error("%s: %s at byte %d: %s", shard, reason, offset, detail)
    return doc


def _document(
    record,
    offset: int,
    *,
    crawl: str,
    shard: str,
    verify_digests: bool,
    length_error: str | None = None,
    cut: str | None = None,
) -> Document:
    """One response record as a Document: an error row when it cannot be trusted.
    `length_error`: why its Content-Length disagrees with its member; `cut`: why the member
    it came from could not be read to its end."""
    url = record.headers.get("WARC-Target-URI", "") or ""
    doc = Document(
        record_id=record.headers.get("WARC-Record-ID", "") or f"{shard}@{offset}",
        url=url,
        host=host_of(url),
        crawl=crawl,
        shard=shard,
        offset=offset,
        warc_date=record.headers.get("WARC-Date", "") or "",
    )
    if record.content_length > MAX_RECORD_BYTES:
        size = f"{record.content_length:,} bytes > {MAX_RECORD_BYTES:,}"
        doc.fail(READ_STAGE, "record_too_large", size)
        record.reader.consume()  # streamed through, never held
        return doc
    if length_error is not None:
        doc.fail(READ_STAGE, "bad_content_length", length_error)
        return doc
    digest = record.headers.get("WARC-Block-Digest")
    if (verify_digests or cut) and digest and not record.verify_block_digest(consume=False):
        detail = "WARC-Block-Digest does not match" + (f" ({cut})" if cut else "")
        doc.fail(READ_STAGE, "block_digest_mismatch", detail)
        record.reader.consume()
        return doc
    if cut is not None and not digest:
        # From a damaged member, only a record its digest vouches for is passed on.
        doc.fail(READ_STAGE, "damaged_record", cut)
        return doc
    try:
        record.parse_http()
        if record.http_headers is None:
            raise OSError("no HTTP response head")
        doc.http_status = int(record.http_headers.status_code or 0)
        doc.http_headers = _http_headers(record)
        doc.payload = record.reader.read()
    except (OSError, ValueError) as exc:
        doc.fail(READ_STAGE, "bad_http", f"{type(exc).__name__}: {exc}")
    return doc


def _length_error(data: bytes, content_length: int) -> str | None:
    """Why the first record of a whole member does not end where the member does (None: it
    does, or the next record of the same member follows)."""
    head_end = data.find(b"\r\n\r\n") + 4
    rest = data[head_end + content_length :]
    if head_end + content_length > len(data):
        return (
            f"Content-Length {content_length:,} runs past the gzip member: its block has "
            f"{len(data) - head_end:,} bytes"
        )
    extra = rest.strip(b"\r\n")
    if extra and not rest.lstrip(b"\r\n").startswith(b"WARC/"):
        return (
            f"Content-Length {content_length:,} ends the block {len(extra):,} bytes before the "
            "gzip member does"
        )
    return None


def _member_documents(
    member: _Member, offset: int, skipped: str, *, crawl: str, shard: str, verify_digests: bool
) -> list[Document]:
    """The response records of one gzip member, read from its decompressed bytes, and an error
    row for what of it could not be read. `skipped` says where reading goes on after it."""
    cut = f"{member.error}; {skipped}" if member.error else None
    if not member.data.startswith(b"WARC/"):
        what = member.error or "holds no WARC record"
        return [
            _error_row(crawl, shard, offset, "damaged_record", f"gzip member: {what}; {skipped}")
        ]
    docs: list[Document] = []
    seen, broken = 0, None
    try:
        for record in ArchiveIterator(io.BytesIO(member.data), parse_http=False, fsspec_args=False):
            length_error = None
            if seen == 0 and cut is None and not member.too_large:
                length_error = _length_error(member.data, record.content_length)
            seen += 1
            if record.record_type == WarcRecordType.response:
                doc = _document(
                    record,
                    offset + record.stream_pos,
                    crawl=crawl,
                    shard=shard,
                    verify_digests=verify_digests,
                    length_error=length_error,
                    cut=cut,
                )
                docs.append(doc)
            if length_error is not None:
                break  # what follows in the member is the wrong length's doing, not a record
    except OSError as exc:
        broken = f"{type(exc).__name__}: {exc}"
    if not docs:
        if seen and (broken is None or cut is not None):
            return docs  # request or metadata records (cut short or not): not audited
        head = member.data[: max(member.data.find(b"\r\n\r\n"), 0)]
        kind = _WARC_TYPE.search(head)
        if cut is not None and kind and kind.group(1).lower() != b"response":
            return docs  # a damaged request or metadata record
        detail = f"no readable WARC record ({cut or broken})"
        return [_error_row(crawl, shard, offset, "damaged_record", detail)]
    if broken is not None and cut is None:
        detail = f"the rest of the gzip member is no WARC record ({broken})"
        docs.append(_error_row(crawl, shard, offset, "damaged_record", detail))
    return docs


def _read_through(
    window: _Window, start: int, *, crawl: str, shard: str, verify_digests: bool
) -> Iterator[Document]:
    """A WARC that is not gzipped per record, read straight through from `start` with
    fastwarc: damage ends it (`unreadable_stream`, the records before stay)."""
    records = ArchiveIterator(_Rest(window, start), parse_http=False, fsspec_args=False)
    position, seen = start, 0
    try:
        for record in records:
            position = start + record.stream_pos
            seen += 1
            if record.record_type != WarcRecordType.response:
                continue
            yield _document(
                record, position, crawl=crawl, shard=shard, verify_digests=verify_digests
            )
    except OSError as exc:
        # The stream itself broke (truncated or damaged gzip): what was read stays; the rest is
        # recorded as one error with the byte offset where reading stopped.
        if not seen:
            raise NotAWarc(f"{shard}: no WARC record could be read ({exc})") from None
        detail = f"{type(exc).__name__}: {exc}"
        yield _error_row(crawl, shard, position, "unreadable_stream", detail)
        return
    if not seen:
        raise NotAWarc(f"{shard}: no WARC record in {window.end:,} bytes")


def read_documents(
    stream: BinaryIO, *, crawl: str, shard: str, verify_digests: bool = True
) -> Iterator[Document]:
    """Every response record of a WARC stream (gzip or not), in file order, and an error row
    for each damaged span (see the module's docstring). Raises NotAWarc when the stream holds
    no WARC record at all."""
    options = {"crawl": crawl, "shard": shard, "verify_digests": verify_digests}
    window = _Window(stream)
    if window.get(0, 5) == b"WARC/":  # not gzipped: read straight through
        yield from _read_through(window, 0, **options)
        return
    # Gzipped (garbage before the first member included): member by member.
    pos, found = 0, False
    while not window.at_end(pos):
        if window.get(pos, pos + len(GZIP_MAGIC)) != GZIP_MAGIC:
            after = _next_member(window, pos + 1)
            detail = f"{after - pos:,} bytes that are not a gzip member; {_skipped(window, after)}"
            yield _error_row(crawl, shard, pos, "garbage_bytes", detail)
            pos = after
            continue
        member = _inflate(window, pos)
        if member.whole_file:
            yield from _read_through(window, pos, **options)
            return
        after = member.end if member.error is None else _next_member(window, pos + 1)
        found = found or member.data.startswith(b"WARC/")
        skipped = f"{after - pos:,} bytes skipped, {_skipped(window, after)}"
        yield from _member_documents(member, pos, skipped, **options)
        window.release(after)
        pos = after
    if not found:
        raise NotAWarc(f"{shard}: no WARC record in {window.end:,} bytes")


def _skipped(window: _Window, after: int) -> str:
    """Where reading goes on after a damaged span."""
    if window.at_end(after):
        return "reading ended at the end of the file"
    return f"reading went on at the next record, byte {after:,}"

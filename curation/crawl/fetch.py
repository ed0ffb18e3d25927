"""Crawl files wherever they live, read as streams that survive a hostile network.

A location is a local path, an `http(s)://` URL (Common Crawl's `https://data.commoncrawl.org/`)
or any other fsspec URL (`s3://commoncrawl/`, anonymous by default). Nothing needs the whole
file on disk: the stream is decompressed and parsed as it arrives.

HTTP: every request asks for the bytes from the last one received (`Range: bytes=N-`), so a
connection reset, a short body, a stall past the timeout or a wrong Content-Length resumes
where it stopped, and the total from `Content-Range` says when the file is whole. 429 and 503
wait as long as `Retry-After` says; other 5xx answers and network errors back off
exponentially with jitter. Retries are capped per file: a number of attempts in a row without
a byte of progress, and a wall time. A file that still fails raises `FetchError` with the
reason; 4xx answers (404, 403, ...) are not retried. fsspec URLs get the same policy: the
file is reopened and sought to the last byte received.

Politeness: a `ConnectionGate` caps open connections per host (across a whole Ray cluster
when the executor hands in its shared gate), and every request says who is asking
(`USER_AGENT`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import http.client
import io
import json
import logging
import os
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from heed.common.files import sha256_file, write_json_atomic
from heed.common.tables import check_table
from heed.curation.errors import ConfigError

log = logging.getLogger(__name__)

COMMON_CRAWL_HTTPS = "https://data.commoncrawl.org/"
COMMON_CRAWL_S3 = "s3://commoncrawl/"
USER_AGENT = "heed/0.1 (pretraining-corpus curation; +https://github.com/heed-project/heed)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_PERMANENT_STATUS = frozenset(range(400, 500)) - {408, 425, 429}  # retrying will not help
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchOptions:
    """How remote crawl files are read: the `[fetch]` table of a config."""

    timeout: float = 60.0  # seconds without a byte before a connection counts as stalled
    max_attempts: int = 10  # failed attempts in a row (without a byte of progress) per file
    max_seconds: float = 6 * 3600.0  # wall time per file, all attempts together
    backoff: float = 1.0  # first wait after a failure, doubled each time, with jitter
    max_backoff: float = 120.0  # the longest single wait, Retry-After included
    connections_per_host: int = 16  # open connections to one host, across the cluster
    user_agent: str = USER_AGENT
    cache: str = ""  # a folder for local copies of fetched files ("" = stream only)
    storage_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # for fsspec

    @classmethod
    def from_table(cls, table: dict[str, Any], where: str = "[fetch]") -> FetchOptions:
        """Options from a config table; ConfigError listing every unknown key and bad value."""
        problems = check_table(cls, table, where)
        if problems:
            raise ConfigError(problems)
        options = cls(**table)
        for name in ("timeout", "max_seconds", "backoff", "max_backoff"):
            value = getattr(options, name)
            if value < 0:
                problems.append(f"{where}: {name} = {value!r} must be a number >= 0")
        for name in ("max_attempts", "connections_per_host"):
            value = getattr(options, name)
            if value < 1:
                problems.append(f"{where}: {name} = {value!r} must be an integer >= 1")
        if problems:
            raise ConfigError(problems)
        return options


class FetchError(OSError):
    """A file that could not be read: a permanent answer (404, 403, ...) or retries spent."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.status = url, reason, status


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def join(root: str, path: str) -> str:
    """`path` (relative, as listings give it) under a folder or URL root."""
    if "://" in root:
        return root.rstrip("/") + "/" + path.lstrip("/")
    return str(Path(root) / path)


# --------------------------------------------------------------------------------------------
# The per-host connection cap


class ConnectionGate(Protocol):
    """Holds one of a host's slots while a file is read from it."""

    def hold(self, host: str) -> Any: ...  # a context manager


class LocalGate:
    """The cap within one process (threads); the Ray executor hands in a cluster-wide one."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with slot:
            yield


_PROCESS_GATES: dict[int, LocalGate] = {}


def process_gate(per_host: int) -> LocalGate:
    """This process's gate for a given cap (what readers use when no gate is handed in)."""
    return _PROCESS_GATES.setdefault(per_host, LocalGate(per_host))


# --------------------------------------------------------------------------------------------
# Retrying


class _Retry:
    """One file's retry budget and waits (shared by the HTTP and fsspec readers)."""

    def __init__(self, url: str, options: FetchOptions, sleep: Callable[[float], None]) -> None:
        self.url, self.options, self.sleep = url, options, sleep
        self.started = time.monotonic()
        self.failures = 0  # in a row, without progress
        self.rng = random.Random()  # jitter only: never reaches the outputs

    def progressed(self) -> None:
        self.failures = 0

    def failed(self, reason: str, retry_after: float | None = None) -> None:
        """Wait before the next attempt, or raise FetchError once the budget is spent."""
        self.failures += 1
        left = self.options.max_seconds - (time.monotonic() - self.started)
        if self.failures >= self.options.max_attempts:
            raise FetchError(self.url, f"{reason} (gave up after {self.failures} attempts)")
        if retry_after is not None:  # the server said how long: honour it
            wait = min(retry_after, self.options.max_backoff)
        else:  # exponential, with jitter so that many workers do not come back at once
            cap = min(self.options.backoff * 2 ** (self.failures - 1), self.options.max_backoff)
            wait = cap / 2 + self.rng.uniform(0, cap / 2)
        if wait > left:
            raise FetchError(
                self.url, f"{reason} (no time left: max_seconds {self.options.max_seconds:g})"
            )
        log.warning("%s: %s; retrying in %.1f s", self.url, reason, wait)
        self.sleep(wait)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Transient(Exception):
    """A read error worth retrying (a reset, a timeout, a backend's hiccup)."""


class _Resumable(io.RawIOBase):
    """What both readers share: the retry budget, the bytes received so far, the file's size
    once known, and the host's connection slot, held from open to close."""

    def __init__(
        self,
        url: str,
        options: FetchOptions,
        host: str,
        gate: ConnectionGate | None,
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__()
        self.url, self.options = url, options
        self._retry = _Retry(url, options, sleep)
        self._received = 0
        self._total: int | None = None  # the whole file's size, once the source says it
        self._done = False
        self._held = (gate or process_gate(options.connections_per_host)).hold(host)
        self._held.__enter__()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._done:
            try:
                n = self._read_some(buffer)
            except _Transient as exc:
                self._drop()
                if self._total is not None and self._received >= self._total:
                    self._done = True  # all there; the source only ended untidily
                    break
                self._retry.failed(f"read failed at byte {self._received:,}: {exc}")
                continue
            if n is None:  # (re)connected: read again
                continue
            if n:
                self._received += n
                self._retry.progressed()
                return n
            self._drop()
            if self._total is None or self._received >= self._total:
                self._done = True
                break
            self._retry.failed(f"the data ended at byte {self._received:,} of {self._total:,}")
        return 0

    def _read_some(self, buffer: Any) -> int | None:
        """Bytes into `buffer` from the current connection or file (0: it ended; None: one
        was opened just now); `_Transient` for an error worth retrying."""
        raise NotImplementedError

    def _drop(self) -> None:
        """Let go of the current connection or file (a retry opens a new one)."""

    def close(self) -> None:
        if not self.closed:
            self._drop()
            self._held.__exit__(None, None, None)
        super().close()


# --------------------------------------------------------------------------------------------
# HTTP(S)


class _HttpReader(_Resumable):
    """A file over HTTP(S) as a raw stream that resumes by byte range (see the module doc)."""

    def __init__(
        self,
        url: str,
        options: FetchOptions,
        gate: ConnectionGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        super().__init__(url, options, self._host, gate, sleep)

    def _read_some(self, buffer: Any) -> int | None:
        if self._response is None:
            self._request()
            return None
        try:
            return self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            raise _Transient(_describe(exc)) from exc

    def _request(self) -> None:
        """Open a response that starts at the next byte wanted, waiting as the policy says."""
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self.options.timeout)
        headers = {
            "User-Agent": self.options.user_agent,
            "Accept-Encoding": "identity",
            "Range": f"bytes={self._received}-",
        }
        try:
            conn.request("GET", self._target, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._retry.failed(f"request failed: {_describe(exc)}")
            return
        status = response.status
        if status in (200, 206):
            start = self._accept(response)
            if start is None:
                conn.close()
                self._retry.failed("the answer does not start at the byte asked for")
                return
            self._conn, self._response = conn, response
            self._skip(start)
            return
        retry_after = _retry_after(response.getheader("Retry-After"))
        total = _total_of(response.getheader("Content-Range"))
        conn.close()
        if status == 416 and total is not None and self._received >= total:
            self._total, self._done = total, True  # asked past the end: the file is whole
            return
        if status in _PERMANENT_STATUS:
            raise FetchError(self.url, f"HTTP {status} {response.reason}", status)
        self._retry.failed(
            f"HTTP {status} {response.reason}", retry_after if status in (429, 503) else None
        )

    def _accept(self, response: http.client.HTTPResponse) -> int | None:
        """Note the total size an answer gives; the byte it starts at (None: not usable)."""
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.getheader("Content-Range") or "")
            if not match or int(match.group(1)) != self._received:
                return None
            if match.group(3) != "*":
                self._set_total(int(match.group(3)))
            return self._received
        # 200: the whole file (a server that ignores Range); its length is the total.
        length = response.getheader("Content-Length")
        if length and length.isdigit():
            self._set_total(int(length))
        return 0

    def _set_total(self, total: int) -> None:
        if self._total is not None and total != self._total:
            raise FetchError(self.url, f"file size changed from {self._total:,} to {total:,}")
        self._total = total

    def _skip(self, start: int) -> None:
        """Read past the bytes already delivered when a 200 starts from the beginning."""
        behind = self._received - start
        while behind > 0 and self._response is not None:
            try:
                data = self._response.read(min(behind, _CHUNK))
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                self._retry.failed(f"read failed while skipping: {_describe(exc)}")
                return
            if not data:
                self._drop()
                self._retry.failed("body ended before the bytes already received")
                return
            behind -= len(data)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._response = None


def _total_of(content_range: str | None) -> int | None:
    """The total in `Content-Range: bytes */TOTAL` (a 416's) or `bytes A-B/TOTAL`."""
    if not content_range:
        return None
    match = re.search(r"/(\d+)\s*$", content_range)
    return int(match.group(1)) if match else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# fsspec (s3://, gs://, file://, ...)


class _FsspecReader(_Resumable):
    """A file through fsspec as a raw stream: on an error it is reopened at the next byte."""

    def __init__(
        self,
        url: str,
        options: FetchOptions,
        gate: ConnectionGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import fsspec.core

        storage = dict(options.storage_options)
        if url.startswith("s3://"):
            storage.setdefault("anon", True)  # Common Crawl's bucket is public
        self._fs, self._path = fsspec.core.url_to_fs(url, **storage)
        self._file: Any = None
        host = urllib.parse.urlsplit(url).netloc or url.split("://", 1)[0]
        super().__init__(url, options, host, gate, sleep)

    def _read_some(self, buffer: Any) -> int | None:
        view = memoryview(buffer).cast("B")
        try:
            if self._file is None:
                if self._total is None:
                    self._total = self._fs.size(self._path)
                self._file = self._fs.open(self._path, "rb")
                if self._received:
                    self._file.seek(self._received)
            data = self._file.read(len(view))
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            raise FetchError(self.url, _describe(exc)) from exc
        except Exception as exc:  # each backend raises its own kinds of errors
            raise _Transient(_describe(exc)) from exc
        view[: len(data)] = data
        return len(data)

    def _drop(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):  # a broken file may fail to close too
                self._file.close()
        self._file = None


# --------------------------------------------------------------------------------------------
# Opening


def open_stream(
    location: str, options: FetchOptions | None = None, gate: ConnectionGate | None = None
) -> BinaryIO:
    """A crawl file as a buffered binary stream: a local path, http(s) or fsspec URL. With
    `options.cache`, a remote file is first copied into the cache (or taken from it when its
    size and checksum still match) and read from there."""
    options = options or FetchOptions()
    if "://" not in location:
        return open(location, "rb")
    if options.cache and is_remote(location):
        return open(cached(location, options, gate), "rb")
    raw: io.RawIOBase
    if location.startswith(("http://", "https://")):
        raw = _HttpReader(location, options, gate)
    else:
        raw = _FsspecReader(location, options, gate)
    return ForwardStream(io.BufferedReader(raw, _CHUNK))  # type: ignore[return-value]


class ForwardStream:
    """A network file: read, tell and close, but no `seek`. Readers such as fastwarc's seek
    any stream that has the method; one without it they read straight through."""

    def __init__(self, stream: io.BufferedReader) -> None:
        self._stream, self._position = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = self._stream.readinto(buffer)
        self._position += n
        return n

    def tell(self) -> int:
        return self._position

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ForwardStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cached(location: str, options: FetchOptions, gate: ConnectionGate | None = None) -> Path:
    """The local copy of a remote file in `options.cache`, fetched if missing or damaged.

    Beside each copy, `<name>.json` records its URL, size and SHA-256; a copy whose size or
    checksum no longer matches is fetched again. Copies are written under a temporary name
    and renamed, so a killed run never leaves a partial file that looks whole."""
    parts = urllib.parse.urlsplit(location)
    path = Path(options.cache) / parts.netloc / parts.path.lstrip("/")
    sidecar = path.with_name(path.name + ".json")
    if path.is_file() and sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
            if meta.get("size") == path.stat().st_size and meta.get("sha256") == sha256_file(path):
                return path
            log.warning("%s: cached copy damaged (size or checksum); fetching again", path)
        except (OSError, ValueError):
            log.warning("%s: unreadable cache record; fetching again", sidecar)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.part-{os.getpid()}")
    digest, size = hashlib.sha256(), 0
    uncached = dataclasses.replace(options, cache="")
    with open_stream(location, uncached, gate) as stream, open(partial, "wb") as copy:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
            copy.write(block)
            size += len(block)
    os.replace(partial, path)
    write_json_atomic(sidecar, {"url": location, "size": size, "sha256": digest.hexdigest()})
    return path

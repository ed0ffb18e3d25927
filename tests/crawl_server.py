"""A fault-injecting HTTP server for a crawl folder laid out like Common Crawl's bucket.

`CrawlServer(root)` serves the files under `root` (crawl-data/<crawl>/warc.paths.gz, the WARC
files the listing names, ...) over HTTP/1.1 on 127.0.0.1, so that a file's URL is `server.url`
plus its path relative to `root`, as on data.commoncrawl.org. Tests queue faults for the next
GET requests of a path (`fail`), mark paths as missing (`missing`), and read back every request
the server saw (`requests`) and the most GET responses it had in flight at once
(`max_concurrent`).

    with CrawlServer(tmp_path, stall_seconds=3) as server:
        server.fail("crawl-data/CC-MAIN-X/segments/a.warc.gz", "503", "reset")
        fetch(server.url + "crawl-data/CC-MAIN-X/segments/a.warc.gz")  # survives both

Every response says `Connection: close`: one request per connection, so a fault never leaves a
half-used connection behind. File bodies go out with `os.sendfile` in 8 MiB pieces, never read
whole into memory, so the server can also stand in for the bucket in throughput benchmarks.

Two details make the bookkeeping exact from the client's side. A GET counts as in flight from
the moment its request has been read until just before the last byte the client can wait for
leaves (the last body byte, or the head when there is no body, or the close of a connection the
fault cuts): a client that starts its next request after its previous response ended can never
make the two overlap. And a request's `status` and `body_bytes` are filled in before those last
bytes go out (and corrected if sending fails), so a test that has read a whole response reads
the final record.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import unquote, urlsplit

try:  # Linux: bytes sent but not yet acknowledged by the peer
    from termios import TIOCOUTQ as _OUTQ
except ImportError:  # pragma: no cover - other platforms skip the drain before a reset
    _OUTQ = None
if _OUTQ is not None:
    import fcntl

HOST: Final = "127.0.0.1"
FAULTS: Final = frozenset(
    {
        "503", "429", "500", "404",
        "reset", "truncate", "stall", "long-length", "short-length", "ignore-range",
    }
)  # fmt: skip
# Faults answered with a status and a short text body instead of the file.
_STATUS_FAULTS: Final = {
    "503": (503, b"Slow Down"),
    "429": (429, b"Too Many Requests"),
    "500": (500, b"Internal Server Error"),
    "404": (404, b"Not Found"),
}
# Faults that send about half of the body and then end the connection their own way.
_CUT_FAULTS: Final = frozenset({"reset", "truncate", "stall"})
_CHUNK: Final = 8 << 20  # bytes per sendfile call (the fallback copies 1 MiB at a time)
_LONG_BY: Final = 1000  # how much "long-length" overstates Content-Length
_DRAIN_SECONDS: Final = 2.0  # how long "reset" waits for the client to take what was sent
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
_UNSATISFIABLE: Final = (-1, -1)


@dataclass
class Request:
    """One request as the server saw it.

    `path` is the request path as the server looked it up: percent-decoded, without query and
    without the leading slash (the form `fail` and `missing` take). `range` is the Range header
    as sent, or None. `status` is 0 until the head goes out; `body_bytes` counts the body bytes
    handed to the kernel (for a response that is still going out it already holds what the
    server means to send). `fault` is the fault consumed by this request, or None.
    """

    method: str
    path: str
    range: str | None
    status: int = 0
    body_bytes: int = 0
    fault: str | None = None
    user_agent: str | None = None


def byte_range(header: str | None, total: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte positions a Range header asks of a `total`-byte file.

    None means "send the whole file": no header, or one this server ignores (malformed, another
    unit, several ranges). `_UNSATISFIABLE` means a 416. Takes `bytes=N-`, `bytes=N-M` (M past
    the end is clamped) and the suffix form `bytes=-N` (the last N bytes).
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or total == 0:
            return _UNSATISFIABLE
        return max(0, total - suffix), total - 1
    start = int(first)
    end = int(last) if last else total - 1
    if last and end < start:
        return None
    if start >= total:
        return _UNSATISFIABLE
    return start, min(end, total - 1)


def request_key(target: str) -> str:
    """The root-relative path a request target names: decoded, no query, no leading slash."""
    if not target.startswith("/"):
        target = urlsplit(target).path  # absolute form, "http://host/path"
    target = target.split("?", 1)[0].split("#", 1)[0]
    return unquote(target).lstrip("/")


class CrawlServer:
    """Serves `root` (a folder holding crawl-data/<crawl>/warc.paths.gz, the WARC files, ...)
    over HTTP/1.1 on 127.0.0.1, injecting faults on a schedule.

    Use it as a context manager: entering starts a ThreadingHTTPServer on a free port in a
    thread, leaving stops it (stalled handlers return at once, connections still open are shut).
    `retry_after` is the Retry-After value of the "503" and "429" faults; `stall_seconds` is how
    long a "stall" holds its connection before closing it.
    """

    def __init__(self, root: Path, *, retry_after: int = 1, stall_seconds: float = 5.0) -> None:
        self.root = Path(root).resolve()
        self.retry_after = retry_after
        self.stall_seconds = stall_seconds
        self.url = ""  # "http://127.0.0.1:PORT/" once started
        self.missing: set[str] = set()
        self.requests: list[Request] = []
        self.max_concurrent = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a connection closed
        self._faults: dict[str, deque[str]] = {}
        self._active = 0  # GET responses in flight that arrived since the last reset
        self._generation = 0  # bumped by reset: responses from before it no longer count
        self._conns: set[socket.socket] = set()
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None  # wakes the accept loop

    # -- lifecycle

    def __enter__(self) -> CrawlServer:
        """Start serving on a free loopback port; `url` says where."""
        self._stop.clear()
        httpd = self._httpd = _HTTPServer(self)
        self.url = f"http://{HOST}:{httpd.server_address[1]}/"
        wake = self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._accept, args=(httpd, wake[0]), name="crawl-server", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving: release stalled handlers, shut open connections, close the socket."""
        self._stop.set()
        httpd, thread, wake = self._httpd, self._thread, self._wake
        if httpd is None or thread is None or wake is None:
            return
        wake[1].send(b"\0")  # the accept loop returns at once, no polling interval
        thread.join(2.0)
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # a handler blocked in send or recv returns
            self._changed.wait_for(lambda: not self._conns, timeout=2.0)
        httpd.server_close()
        for end in wake:
            end.close()
        self._httpd = self._thread = self._wake = None

    def _accept(self, httpd: _HTTPServer, wake: socket.socket) -> None:
        """The accept loop (serve_forever without its polling): one thread per connection."""
        with selectors.DefaultSelector() as selector:
            selector.register(httpd, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select():
                    if key.fileobj is httpd and not self._stop.is_set():
                        httpd._handle_request_noblock()

    # -- the schedule

    def fail(self, path: str, *faults: str) -> None:
        """Queue `faults` for the next GET requests of `path` (relative to root), one per request,
        in order; later requests are served normally. Raises ValueError for an unknown fault.

        HEAD requests neither take nor suffer faults. A fault that needs the file (all but
        "503", "429", "500" and "404") is spent, without effect, on a request answered 404
        (no such file) or 416 (range past the end).
        """
        unknown = [fault for fault in faults if fault not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {sorted(FAULTS)}")
        with self._lock:
            self._faults.setdefault(path.lstrip("/"), deque()).extend(faults)

    def reset(self) -> None:
        """Forget the requests seen, `max_concurrent` and the queued faults; keep `missing`.

        Responses still in flight from before the reset no longer count towards
        `max_concurrent`; requests that arrive after it do.
        """
        with self._lock:
            self.requests.clear()
            self.max_concurrent = 0
            self._active = 0
            self._generation += 1
            self._faults.clear()

    # -- used by the handlers

    def _arrive(self, request: Request) -> tuple[str | None, int | None]:
        """Record `request`; for a GET, take its fault and count it in flight (its generation)."""
        with self._lock:
            self.requests.append(request)
            if request.method != "GET":
                return None, None
            queue = self._faults.get(request.path)
            if queue:
                request.fault = queue.popleft()
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)
            return request.fault, self._generation

    def _leave(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._active -= 1

    def _open(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)
            if self._stop.is_set():  # accepted just before the stop: shut it like the others
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def _close(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)
            self._changed.notify_all()

    def _file(self, key: str) -> Path | None:
        """The file `key` names under root, or None (missing, outside root, not a file)."""
        if key in self.missing or "\x00" in key or ".." in key.split("/"):
            return None
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a pool of fetchers connecting at once must not overflow listen()

    def __init__(self, crawl: CrawlServer) -> None:
        self.crawl = crawl
        super().__init__((HOST, 0), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse lookup of the address (getfqdn can be slow)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "heed-crawl-server/1"
    server: _HTTPServer

    _record: Request
    _generation: int | None
    _sent: int

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.crawl._open(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.crawl._close(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    # -- one request

    def _serve(self) -> None:
        crawl = self.server.crawl
        record = Request(
            method=self.command,
            path=request_key(self.path),
            range=self.headers.get("Range"),
            user_agent=self.headers.get("User-Agent"),
        )
        self._record, self._sent = record, 0
        fault, self._generation = crawl._arrive(record)
        try:
            self._respond(crawl, record, fault)
        except OSError:  # the client went away, or the server is stopping
            record.body_bytes = self._sent
            self.close_connection = True
        finally:
            self._end()

    def _end(self) -> None:
        """The response is over as far as the client can tell: it no longer counts in flight."""
        if self._generation is not None:
            self.server.crawl._leave(self._generation)
            self._generation = None

    def _respond(self, crawl: CrawlServer, record: Request, fault: str | None) -> None:
        if fault in _STATUS_FAULTS:
            status, text = _STATUS_FAULTS[fault]
            retry = {"Retry-After": str(crawl.retry_after)} if status in (503, 429) else {}
            self._send_text(status, text, retry)
            return
        path = crawl._file(record.path)
        if path is None:
            self._send_text(404, b"Not Found")
            return
        try:
            file = path.open("rb")
        except OSError:
            self._send_text(404, b"Not Found")
            return
        with file:
            total = os.fstat(file.fileno()).st_size
            span = None if fault == "ignore-range" else byte_range(record.range, total)
            if span == _UNSATISFIABLE:
                self._send_text(416, b"", {"Content-Range": f"bytes */{total}"})
                return
            if span is None:
                status, start, length, extra = 200, 0, total, {}
            else:
                first, last = span
                status, start, length = 206, first, last - first + 1
                extra = {"Content-Range": f"bytes {first}-{last}/{total}"}
            send = claim = length
            if fault in _CUT_FAULTS:
                send = length // 2
            elif fault == "long-length":
                claim = length + _LONG_BY
            elif fault == "short-length":
                send = claim = length // 2
            # The client sees these responses end with their last byte; the others end when
            # the connection goes.
            ends_with_body = fault in (None, "ignore-range", "short-length")
            if self.command == "HEAD":
                send, ends_with_body = 0, True
            last = ends_with_body and send == 0
            self._head(status, claim, "application/octet-stream", extra, last=last)
            if send:
                record.body_bytes = send
                self._copy(file, start, send - 1 if ends_with_body else send)
                if ends_with_body:
                    self._end()
                    self._copy(file, start + send - 1, 1)
            record.body_bytes = self._sent
        if not ends_with_body:
            self._cut(fault)

    def _head(
        self, status: int, length: int, kind: str, extra: dict[str, str], *, last: bool
    ) -> None:
        """Send the status line and headers; `last`: nothing follows them."""
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Accept-Ranges", "bytes")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self._record.status = status
        if last:
            self._end()
        self.end_headers()

    def _send_text(self, status: int, text: bytes, extra: dict[str, str] | None = None) -> None:
        """A short plain-text response (errors); HEAD gets the head alone."""
        body = text if self.command == "GET" else b""
        self._head(status, len(text), "text/plain", extra or {}, last=not body)
        if body:
            self._record.body_bytes = len(body)
            self._end()
            self.wfile.write(body)
            self._sent += len(body)

    def _copy(self, file: BinaryIO, offset: int, count: int) -> None:
        """Send `count` bytes of `file` from `offset` straight to the client."""
        out = self.connection
        if hasattr(os, "sendfile"):
            while count > 0:
                sent = os.sendfile(out.fileno(), file.fileno(), offset, min(count, _CHUNK))
                if sent == 0:  # the file shrank under us
                    return
                offset, count, self._sent = offset + sent, count - sent, self._sent + sent
            return
        buffer = memoryview(bytearray(1 << 20))  # pragma: no cover - no sendfile
        file.seek(offset)
        while count > 0:
            got = file.readinto(buffer[: min(count, len(buffer))])
            if not got:
                return
            out.sendall(buffer[:got])
            count, self._sent = count - got, self._sent + got

    def _cut(self, fault: str | None) -> None:
        """End a response the way `fault` says, after the bytes it lets through."""
        crawl = self.server.crawl
        self.close_connection = True
        if fault == "stall":
            crawl._stop.wait(crawl.stall_seconds)
        elif fault == "reset":
            self._drain()
            conn = self.connection
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._end()
            os.close(conn.detach())  # closing with a zero linger sends RST, not FIN
            return
        self._end()  # "truncate", "stall", "long-length": a clean close (FIN) follows

    def _drain(self) -> None:
        """Wait (a little) until the client has acknowledged every byte sent, so that the reset
        lands after the half body rather than discarding part of it in our send queue."""
        if _OUTQ is None:  # pragma: no cover
            return
        stop = self.server.crawl._stop
        deadline = time.monotonic() + _DRAIN_SECONDS
        queued = bytearray(4)
        while time.monotonic() < deadline and not stop.is_set():
            fcntl.ioctl(self.connection.fileno(), _OUTQ, queued)
            if struct.unpack("i", queued)[0] == 0:
                return
            stop.wait(0.001)

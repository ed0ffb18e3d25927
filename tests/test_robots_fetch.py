"""heed.curation.optout.live against a real HTTP server on 127.0.0.1.

Every request in this file goes to loopback. An autouse fixture replaces the module's resolver
(names under the reserved `.test` TLD resolve to 127.0.0.1 unless a test says otherwise; no real
DNS) and wraps its connect helper so that any attempt to connect anywhere but 127.0.0.1 is
blocked and fails the test. The server dispatches on the Host header, so one server plays many
hosts; tests that need the fetcher to accept loopback pass `allow_private=True`.
"""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from heed.curation.optout import live as robots_fetch
from heed.curation.optout.live import (
    DEFAULT_USER_AGENT,
    FetchResult,
    fetch_many,
    fetch_robots,
    is_public_address,
    resolve_checked,
)

ROBOTS = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
TDMREP = b'[{"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://tdm.test/policy"}]\n'
TDMREP_PATH = "/.well-known/tdmrep.json"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(64)
BIG = b"# padding\n" * 200_000  # 2 MB
BOMB = gzip.compress(bytes(10 * 1024 * 1024), compresslevel=9)  # ~10 KB on the wire
LOOPBACK = "127.0.0.1"


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class Seen:
    """One request as the server saw it."""

    host: str
    path: str
    headers: dict[str, str]
    start: float
    end: float = 0.0


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a pool of workers connecting at once must not overflow listen()

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), Handler)
        self.port: int = self.server_address[1]
        self.stop = threading.Event()  # set at teardown: stalling handlers return
        self.config: dict[str, Any] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}
        self.max_active: dict[str, int] = {}
        self.max_active_total = 0

    def begin(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)
            self._active[seen.host] = self._active.get(seen.host, 0) + 1
            self.max_active[seen.host] = max(
                self.max_active.get(seen.host, 0), self._active[seen.host]
            )
            self.max_active_total = max(self.max_active_total, sum(self._active.values()))

    def finish(self, seen: Seen) -> None:
        with self._lock:
            self._active[seen.host] -= 1
            seen.end = time.monotonic()

    def hosts_seen(self) -> list[str]:
        with self._lock:
            return [seen.host for seen in self.requests]


def _host_of(header: str) -> str:
    if header.startswith("["):
        return header[1 : header.index("]")]
    return header.rsplit(":", 1)[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        host = _host_of(self.headers.get("Host", ""))
        seen = Seen(host, self.path, dict(self.headers.items()), time.monotonic())
        self.server.begin(seen)
        try:
            self.route(host)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading, as it should
        finally:
            self.server.finish(seen)

    # -- helpers

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, status: int, location: str) -> None:
        self.send(status, b"moved", Location=location)

    def url(self, host: str, path: str = "/robots.txt") -> str:
        return f"http://{host}:{self.server.port}{path}"

    # -- behaviours, by the first label of the Host header

    def route(self, host: str) -> None:
        label = "ok" if host in (LOOPBACK, "localhost") else host.split(".")[0]
        path = self.path
        stop = self.server.stop
        if path == TDMREP_PATH or label.startswith("tdm"):
            self.tdmrep(label, path)
        elif label in ("ok", "final", "tls") or re.fullmatch(r"h\d+", label):
            if label.startswith("h"):
                time.sleep(0.1)  # long enough that a parallel pool overlaps requests
            self.send(200, ROBOTS, Content_Type="text/plain")
        elif label == "missing":
            self.send(404, b"<html>not found</html>", Content_Type="text/html")
        elif label == "unavailable":
            self.send(503, b"<html>down</html>", Content_Type="text/html")
        elif label == "chain":  # three hops: absolute path, relative path, other host
            if path == "/robots.txt":
                self.redirect(301, "/hop1")
            elif path == "/hop1":
                self.redirect(302, "hop2")
            else:
                self.redirect(307, self.url("final.test"))
        elif m := re.fullmatch(r"n(\d+)", label):  # a chain of N redirects, then 200
            hops = int(m.group(1))
            step = 0 if path == "/robots.txt" else int(path.removeprefix("/c"))
            if step < hops:
                self.redirect(308 if step % 2 else 303, f"/c{step + 1}")
            else:
                self.send(200, ROBOTS)
        elif label == "loop":
            self.redirect(302, "/robots.txt")
        elif label == "ftp":
            self.redirect(302, "ftp://files.test/robots.txt")
        elif label == "nolocation":
            self.send(302, b"")
        elif label == "pub":
            self.redirect(302, self.server.config["pub_location"])
        elif label == "same":  # three hops on one host
            nxt = {"/robots.txt": "/a", "/a": "/b"}.get(path)
            if nxt:
                self.redirect(302, nxt)
            else:
                self.send(200, ROBOTS)
        elif re.fullmatch(r"r\d+", label):  # each redirects to one shared host
            self.redirect(302, self.url("shared.test"))
        elif label == "shared":
            time.sleep(0.05)
            self.send(200, ROBOTS)
        elif label == "stall":
            stop.wait(10)
            self.close_connection = True
        elif label == "drip":  # headers at once, then one byte every 0.2 s
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            while not stop.wait(0.2):
                self.wfile.write(b"#")
        elif label == "driphead":  # the status line itself, one byte every 0.2 s
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n#":
                if stop.wait(0.2):
                    break
                self.wfile.write(bytes([byte]))
            self.close_connection = True
        elif label == "big":
            self.send(200, BIG)
        elif label == "exact":
            self.send(200, b"x" * 1000)
        elif label == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (ROBOTS[:10], ROBOTS[10:30], ROBOTS[30:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif label == "bigchunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BIG), 100_000):
                piece = BIG[start : start + 100_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif label == "short":  # promises 100 bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(ROBOTS[:10])
            self.close_connection = True
        elif label == "png":
            self.send(200, PNG, Content_Type="image/png")
        elif label == "gzip":
            self.send(200, gzip.compress(ROBOTS), Content_Encoding="gzip")
        elif label == "gzip2":  # two gzip members, as `cat a.gz b.gz` makes
            parts = gzip.compress(ROBOTS[:20]) + gzip.compress(ROBOTS[20:])
            self.send(200, parts, Content_Encoding="gzip")
        elif label == "zlibdeflate":
            self.send(200, zlib.compress(ROBOTS), Content_Encoding="deflate")
        elif label == "rawdeflate":
            raw = zlib.compressobj(wbits=-15)
            self.send(200, raw.compress(ROBOTS) + raw.flush(), Content_Encoding="deflate")
        elif label == "bomb":
            self.send(200, BOMB, Content_Encoding="gzip")
        elif label == "badgzip":
            self.send(200, b"\x1f\x8b\x08\x00" + b"not really gzip" * 10, Content_Encoding="gzip")
        elif label == "brotli":
            self.send(200, b"\x0b\x02\x80robots", Content_Encoding="br")
        else:
            self.send(500, b"no such test host")

    def tdmrep(self, label: str, path: str) -> None:
        """Hosts whose label starts with "tdm" serve a tdmrep.json; the others have none."""
        if path == "/robots.txt":
            self.send(200, ROBOTS)
        elif label == "tdm":
            self.send(200, TDMREP, Content_Type="application/json")
        elif label == "tdmmoved":  # the file has moved, and says so
            if path == TDMREP_PATH:
                self.redirect(301, "/tdm/policy.json")
            else:
                self.send(200, TDMREP, Content_Type="application/json")
        elif label == "tdmbig":
            self.send(200, b"[" + b" " * 2000 + b"]")
        elif label == "tdmerror":
            self.send(503, b"<html>down</html>")
        else:
            self.send(404, b"<html>not found</html>", Content_Type="text/html")


def serving(srv: LoopbackServer) -> Iterator[LoopbackServer]:
    """Serve `srv` from a thread while the test runs, then stop it."""
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    yield from serving(srv)


# --------------------------------------------------------------------------------------------
# The network guard


@dataclass
class Net:
    names: dict[str, list[str] | Exception | Callable[[], list[str]]] = field(default_factory=dict)
    connects: list[tuple[str, int]] = field(default_factory=list)
    blocked: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(autouse=True)
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[Net]:
    """No real DNS, and no connection anywhere but 127.0.0.1, whatever the code under test does."""
    state = Net()
    real_resolve = robots_fetch._resolve
    real_connect = robots_fetch._connect

    def resolve(host: str, port: int) -> list[str]:
        answer = state.names.get(host)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):  # a resolver that takes its time
            return answer()
        if answer is not None:
            return list(answer)
        if host.endswith(".test"):
            return [LOOPBACK]
        if host == "localhost" or re.fullmatch(r"[0-9.]+", host):
            return real_resolve(host, port)  # /etc/hosts and numeric forms: no DNS traffic
        raise socket.gaierror(socket.EAI_NONAME, f"test resolver does not know {host}")

    def connect(address: str, port: int, timeout: float) -> socket.socket:
        state.connects.append((address, port))
        if address != LOOPBACK:
            state.blocked.append((address, port))
            raise ConnectionRefusedError(f"test guard blocked a connection to {address}")
        return real_connect(address, port, timeout)

    monkeypatch.setattr(robots_fetch, "_resolve", resolve)
    monkeypatch.setattr(robots_fetch, "_connect", connect)
    yield state
    assert not state.blocked, f"the fetcher tried to connect off loopback: {state.blocked}"


def fetch(server: LoopbackServer, host: str, **options: Any) -> FetchResult:
    """fetch_robots against the test server: plain http, its port, loopback allowed, robots.txt
    alone (section 12 asks for tdmrep.json too)."""
    options = {
        "scheme": "http",
        "port": server.port,
        "allow_private": True,
        "fetch_tdmrep": False,
        **options,
    }
    return fetch_robots(host, **options)


# --------------------------------------------------------------------------------------------
# 1-2: plain answers


@pytest.mark.parametrize("host", [LOOPBACK, "localhost", "ok.test"])
def test_200_returns_the_body_and_sends_polite_headers(server: LoopbackServer, host: str) -> None:
    result = fetch(server, host)

    assert result.status == 200
    assert result.body == ROBOTS
    assert result.error is None
    assert result.host == host
    assert result.scheme == "http"
    assert result.url == f"http://{host}:{server.port}/robots.txt"
    assert result.redirects == ()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result.fetched_at)
    fetched = datetime.strptime(result.fetched_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - fetched).total_seconds()) < 60

    [seen] = server.requests
    assert seen.path == "/robots.txt"
    assert seen.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert seen.headers["Host"] == f"{host}:{server.port}"
    assert seen.headers["Accept"] == "text/plain, */*;q=0.1"
    assert seen.headers["Accept-Encoding"] == "identity"
    assert "Cookie" not in seen.headers


def test_host_is_normalised_and_user_agent_is_configurable(server: LoopbackServer) -> None:
    result = fetch(server, "  OK.Test ", user_agent="custom-bot/2")
    assert (result.host, result.status) == ("ok.test", 200)
    assert server.requests[0].headers["User-Agent"] == "custom-bot/2"


@pytest.mark.parametrize(("host", "status"), [("missing.test", 404), ("unavailable.test", 503)])
def test_error_statuses_are_kept_without_a_body(
    server: LoopbackServer, host: str, status: int
) -> None:
    result = fetch(server, host)
    assert (result.status, result.body, result.error) == (status, b"", None)


# --------------------------------------------------------------------------------------------
# 3: redirects


def test_a_chain_of_three_redirects_is_followed(server: LoopbackServer) -> None:
    result = fetch(server, "chain.test")
    port = server.port

    assert (result.status, result.body, result.error) == (200, ROBOTS, None)
    assert result.redirects == (
        f"http://chain.test:{port}/hop1",
        f"http://chain.test:{port}/hop2",
        f"http://final.test:{port}/robots.txt",
    )
    assert result.url == f"http://final.test:{port}/robots.txt"
    assert result.host == "chain.test"  # as asked, not where it ended
    assert [(s.host, s.path) for s in server.requests] == [
        ("chain.test", "/robots.txt"),
        ("chain.test", "/hop1"),
        ("chain.test", "/hop2"),
        ("final.test", "/robots.txt"),
    ]


def test_five_redirects_are_followed(server: LoopbackServer) -> None:
    result = fetch(server, "n5.test")
    assert (result.status, result.body, len(result.redirects)) == (200, ROBOTS, 5)


def test_six_redirects_are_too_many(server: LoopbackServer) -> None:
    result = fetch(server, "n6.test")

    assert result.status in (303, 308)  # the last 3xx: "unavailable" to the caller
    assert result.error == "too many redirects"
    assert result.body == b""
    assert len(result.redirects) == 5
    assert result.url == result.redirects[-1]
    assert len(server.requests) == 6


def test_max_redirects_is_honoured(server: LoopbackServer) -> None:
    assert fetch(server, "n6.test", max_redirects=6).status == 200
    assert fetch(server, "n1.test", max_redirects=0).error == "too many redirects"


def test_a_redirect_loop_terminates(server: LoopbackServer) -> None:
    started = time.monotonic()
    result = fetch(server, "loop.test")

    assert (result.status, result.error) == (302, "too many redirects")
    assert len(server.requests) == 6  # the first request and five follows
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("host", "error"),
    [("ftp.test", "bad redirect: "), ("nolocation.test", "bad redirect: no Location")],
)
def test_unfollowable_redirects_keep_their_status(
    server: LoopbackServer, host: str, error: str
) -> None:
    result = fetch(server, host)
    assert result.status == 302
    assert result.error is not None and result.error.startswith(error)
    assert result.body == b""
    assert len(server.requests) == 1


# --------------------------------------------------------------------------------------------
# 4: time limits


def test_a_stalled_server_times_out(server: LoopbackServer) -> None:
    started = time.monotonic()
    result = fetch(server, "stall.test", timeout=0.5)
    elapsed = time.monotonic() - started

    assert (result.status, result.body, result.error) == (None, b"", "timeout")
    assert elapsed < 1.4  # the read timeout, not the 10 s the server would wait


def test_a_resolver_that_does_not_answer_ends_at_the_deadline(
    server: LoopbackServer, net: Net
) -> None:
    answered = threading.Event()
    net.names["slowdns.test"] = lambda: [LOOPBACK] if answered.wait(10) else []
    started = time.monotonic()
    result = fetch(server, "slowdns.test", timeout=0.3)
    elapsed = time.monotonic() - started
    answered.set()  # let the abandoned lookup end

    assert (result.status, result.body) == (None, b"")
    assert result.error is not None and result.error.startswith("dns: timeout"), result.error
    # The resolver would take 10 s: only the fetch's deadline (3 x 0.3 s) ends the wait.
    assert 0.8 < elapsed < 2.5
    assert net.connects == [] and server.requests == []


@pytest.mark.parametrize("host", ["drip.test", "driphead.test"])
def test_a_slow_drip_ends_at_the_overall_deadline(server: LoopbackServer, host: str) -> None:
    started = time.monotonic()
    result = fetch(server, host, timeout=0.5)
    elapsed = time.monotonic() - started

    assert (result.status, result.body, result.error) == (None, b"", "timeout")
    # Every read succeeds within 0.5 s, so only the 3 x 0.5 s deadline can end it.
    assert 1.3 < elapsed < 3.0


# --------------------------------------------------------------------------------------------
# 5-7: bodies


@pytest.mark.parametrize("host", ["big.test", "bigchunked.test"])
def test_an_oversized_body_is_truncated(server: LoopbackServer, host: str) -> None:
    result = fetch(server, host)
    assert result.status == 200
    assert len(result.body) == 500 * 1024
    assert result.body == BIG[: 500 * 1024]
    assert result.error == "truncated at 512000 bytes"


def test_a_body_of_exactly_max_bytes_is_not_truncated(server: LoopbackServer) -> None:
    assert fetch(server, "exact.test", max_bytes=1000).error is None
    cut = fetch(server, "exact.test", max_bytes=999)
    assert (len(cut.body), cut.error) == (999, "truncated at 999 bytes")


def test_chunked_transfer_is_reassembled(server: LoopbackServer) -> None:
    result = fetch(server, "chunked.test")
    assert (result.status, result.body, result.error) == (200, ROBOTS, None)


def test_a_body_cut_short_is_unreachable(server: LoopbackServer) -> None:
    result = fetch(server, "short.test")
    assert (result.status, result.body, result.error) == (None, b"", "connection closed mid-body")


def test_a_binary_body_is_returned_as_is(server: LoopbackServer) -> None:
    result = fetch(server, "png.test")
    assert (result.status, result.body, result.error) == (200, PNG, None)


@pytest.mark.parametrize("host", ["gzip.test", "gzip2.test", "zlibdeflate.test", "rawdeflate.test"])
def test_a_compressed_body_sent_anyway_is_decoded(server: LoopbackServer, host: str) -> None:
    result = fetch(server, host)
    assert (result.status, result.body, result.error) == (200, ROBOTS, None)
    assert server.requests[0].headers["Accept-Encoding"] == "identity"


def test_a_gzip_bomb_is_bounded_by_max_bytes(server: LoopbackServer) -> None:
    tracemalloc.start()
    try:
        result = fetch(server, "bomb.test", max_bytes=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # the bomb inflates to 10 MB; only ~4 KB of it may exist
    assert result.status == 200
    assert result.body == bytes(4096)
    assert result.error == "truncated at 4096 bytes"

    default = fetch(server, "bomb.test")
    assert len(default.body) == 500 * 1024
    assert default.error == "truncated at 512000 bytes"


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("badgzip.test", "undecodable gzip body"),
        ("brotli.test", "unsupported Content-Encoding: br"),
    ],
)
def test_an_unreadable_encoding_is_unreachable(
    server: LoopbackServer, host: str, error: str
) -> None:
    result = fetch(server, host)
    assert (result.status, result.body) == (None, b"")
    assert result.error is not None and result.error.startswith(error)


# --------------------------------------------------------------------------------------------
# 8: unreachable


def test_a_refused_connection_is_unreachable(server: LoopbackServer) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind((LOOPBACK, 0))
        closed_port = probe.getsockname()[1]
    result = fetch(server, LOOPBACK, port=closed_port)
    assert (result.status, result.body, result.error) == (None, b"", "connection refused")


def test_an_unknown_name_is_unreachable(server: LoopbackServer, net: Net) -> None:
    result = fetch(server, "nowhere.invalid")
    assert result.status is None
    assert result.error is not None and result.error.startswith("dns: ")
    assert net.connects == []


@pytest.mark.parametrize("host", ["bad host", "evil.test/x#", "ok.test:80", "user@ok.test", ""])
def test_an_invalid_host_is_refused_before_anything(
    server: LoopbackServer, net: Net, host: str
) -> None:
    result = fetch(server, host)
    assert result.status is None
    assert result.error is not None and result.error.startswith("invalid host")
    assert net.connects == [] and server.requests == []


# --------------------------------------------------------------------------------------------
# 9-10: address safety


@pytest.mark.parametrize(
    ("host", "names", "address"),
    [
        (LOOPBACK, {}, "127.0.0.1"),
        ("localhost", {}, "127.0.0.1"),  # the real resolver, via /etc/hosts
        ("127.1", {}, "127.0.0.1"),  # a short numeric form: resolved, then checked
        ("[::1]", {}, "::1"),
        ("::1", {}, "::1"),
        ("[::ffff:127.0.0.1]", {}, "::ffff:127.0.0.1"),
        ("loopy.test", {"loopy.test": ["127.0.0.1"]}, "127.0.0.1"),
        # ANY internal answer refuses the name, even behind a public-looking one.
        ("mixed.test", {"mixed.test": ["1.1.1.1", "10.0.0.1"]}, "10.0.0.1"),
        ("169.254.169.254", {}, "169.254.169.254"),
        ("10.0.0.1", {}, "10.0.0.1"),
        ("192.168.1.1", {}, "192.168.1.1"),
        ("100.64.0.1", {}, "100.64.0.1"),
    ],
)
def test_internal_addresses_are_refused_without_connecting(
    server: LoopbackServer, net: Net, host: str, names: dict[str, list[str]], address: str
) -> None:
    net.names.update(names)
    result = fetch(server, host, allow_private=False)

    assert result.status is None
    # (str() of an IPv4-mapped address differs between Python versions.)
    assert result.error == f"refused: {ipaddress.ip_address(address)} is not a public address"
    assert net.connects == []  # refused before any connect, not after
    assert server.requests == []


@pytest.mark.parametrize(
    ("location", "refused"),
    [
        ("http://ok.test:{port}/robots.txt", None),  # control: a "public" hop is followed
        ("http://127.0.0.2:{port}/robots.txt", "127.0.0.2"),
        ("http://[::1]:{port}/robots.txt", "::1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://internal.test:{port}/robots.txt", "10.0.0.1"),
    ],
)
def test_every_redirect_hop_is_checked(
    server: LoopbackServer,
    net: Net,
    monkeypatch: pytest.MonkeyPatch,
    location: str,
    refused: str | None,
) -> None:
    # The first hop must pass the address check without allow_private, and the only server we
    # may talk to is on loopback. So "pub.test" resolves to 127.0.0.1 and the check is told that
    # exactly that one address is public; every other address still meets the real check. The
    # redirect targets are therefore judged by the production code, and the connect guard
    # would block (and fail the test) a connection to any of them.
    real_check = robots_fetch.is_public_address
    monkeypatch.setattr(
        robots_fetch, "is_public_address", lambda ip: str(ip) == LOOPBACK or real_check(ip)
    )
    net.names["internal.test"] = ["10.0.0.1"]
    server.config["pub_location"] = target = location.format(port=server.port)

    result = fetch(server, "pub.test", allow_private=False)

    assert result.redirects == (target,)
    if refused is None:
        assert (result.status, result.body) == (200, ROBOTS)
        assert net.connects == [(LOOPBACK, server.port)] * 2
    else:
        assert result.status is None
        assert result.error == f"refused: {refused} is not a public address"
        assert net.connects == [(LOOPBACK, server.port)]  # the first hop only
        assert [s.host for s in server.requests] == ["pub.test"]


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2a00:1450:4001:80b::200e",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.1",
        "203.0.113.1",
        "::",
        "::1",
        "fe80::1",
        "fe80::1%2",
        "fc00::1",
        "fd00:ec2::254",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "2002:a00:1::",
        "2002:7f00:1::",
    ],
)
def test_internal_addresses_fail(address: str) -> None:
    assert not is_public_address(address)


def test_resolve_checked_passes_private_only_when_allowed(net: Net) -> None:
    net.names["lan.test"] = ["192.168.0.10", "10.1.1.1"]
    assert resolve_checked("lan.test", 80, allow_private=True) == ["192.168.0.10", "10.1.1.1"]
    with pytest.raises(robots_fetch.AddressRefused, match=re.escape("192.168.0.10")):
        resolve_checked("lan.test", 80)
    assert net.connects == []


# --------------------------------------------------------------------------------------------
# TLS: connect to the checked IP, verify the certificate against the name


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=tls.test",
            "-addext",
            "subjectAltName=DNS:tls.test",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    yield from serving(srv)


def trust(monkeypatch: pytest.MonkeyPatch, cert: Path) -> None:
    context = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(robots_fetch, "_tls_context", lambda: context)


def test_https_verifies_the_name_while_connecting_to_the_ip(
    tls_server: LoopbackServer,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    net: Net,
) -> None:
    trust(monkeypatch, certificate[0])
    result = fetch_robots(
        "tls.test",
        scheme="https",
        port=tls_server.port,
        allow_private=True,
        timeout=5,
    )
    assert (result.status, result.body, result.error) == (200, ROBOTS, None)
    assert result.url == f"https://tls.test:{tls_server.port}/robots.txt"
    assert result.tdmrep is None  # asked for too, over TLS: the server has none
    # robots.txt, then tdmrep.json: each connection to the IP, not the name.
    assert net.connects == [(LOOPBACK, tls_server.port)] * 2


def test_https_rejects_a_certificate_for_another_name(
    tls_server: LoopbackServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    trust(monkeypatch, certificate[0])
    result = fetch_robots(
        "other.test", scheme="https", port=tls_server.port, allow_private=True, timeout=5
    )
    assert result.status is None
    assert result.error is not None and result.error.startswith("tls: ")
    assert "other.test" in result.error


def test_https_rejects_an_untrusted_certificate(tls_server: LoopbackServer) -> None:
    result = fetch_robots(
        "tls.test", scheme="https", port=tls_server.port, allow_private=True, timeout=5
    )
    assert result.status is None
    assert result.error is not None and result.error.startswith("tls: ")
    assert "certificate verify failed" in result.error


# --------------------------------------------------------------------------------------------
# 11: many hosts


def test_fetch_many_fetches_each_host_once_in_parallel(server: LoopbackServer, net: Net) -> None:
    net.names["boom.test"] = RuntimeError("resolver exploded")
    hosts = [f"h{i}.test" for i in range(1, 21)]
    asked = [*hosts, "H3.TEST", " h4.test ", "h5.test", "boom.test", "bad host"]

    started = time.monotonic()
    results = list(
        fetch_many(
            asked,
            workers=8,
            per_host_interval=0.5,
            scheme="http",
            port=server.port,
            allow_private=True,
        )
    )
    elapsed = time.monotonic() - started

    by_host = {result.host: result for result in results}
    assert len(results) == len(by_host) == 22  # duplicates removed
    assert all(by_host[host].status == 200 and by_host[host].body == ROBOTS for host in hosts)
    # Each host asked exactly once for robots.txt, then once for tdmrep.json (it has none).
    asked = sorted((s.host, s.path) for s in server.requests)
    assert asked == sorted((h, p) for h in hosts for p in ("/robots.txt", TDMREP_PATH))
    assert all(by_host[host].tdmrep is None for host in hosts)
    assert by_host["boom.test"].status is None  # one fetch's exception stays in its result
    assert "resolver exploded" in (by_host["boom.test"].error or "")
    assert by_host["bad host"].status is None
    assert server.max_active_total > 1  # the pool really ran requests side by side
    assert elapsed < 20 * 0.1  # and faster than one after another


def test_fetch_many_spaces_requests_to_one_host(server: LoopbackServer) -> None:
    interval = 0.3
    results = list(
        fetch_many(
            [f"r{i}.test" for i in range(5)],
            workers=5,
            per_host_interval=interval,
            scheme="http",
            port=server.port,
            allow_private=True,
            # The last turn at shared.test comes ~1.2 s in, past 3 x timeout: the wait for a
            # turn must not count against a fetch's deadline.
            timeout=0.4,
        )
    )

    assert [(r.status, r.error) for r in results] == [(200, None)] * 5
    shared = sorted(s.start for s in server.requests if s.host == "shared.test")
    assert len(shared) == 5  # every fetch redirected into shared.test
    assert server.max_active["shared.test"] == 1  # never two at once
    gaps = [later - earlier for earlier, later in itertools.pairwise(shared)]
    assert min(gaps) >= interval, gaps


def test_fetch_many_does_not_pause_between_hops_of_one_fetch(server: LoopbackServer) -> None:
    started = time.monotonic()
    [result] = fetch_many(
        ["same.test"], per_host_interval=5, scheme="http", port=server.port, allow_private=True
    )
    assert (result.status, len(result.redirects)) == (200, 2)
    assert time.monotonic() - started < 2


def test_fetch_many_checks_options_at_once() -> None:
    with pytest.raises(TypeError, match="bogus"):
        fetch_many(["ok.test"], bogus=1)
    with pytest.raises(ValueError, match="scheme"):
        fetch_many(["ok.test"], scheme="ftp")
    with pytest.raises(ValueError, match="workers"):
        fetch_many(["ok.test"], workers=0)


def test_fetch_robots_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="scheme"):
        fetch_robots("ok.test", scheme="gopher")
    with pytest.raises(ValueError, match="timeout"):
        fetch_robots("ok.test", timeout=0)


# --------------------------------------------------------------------------------------------
# 12: /.well-known/tdmrep.json beside robots.txt


def fetch_both(server: LoopbackServer, host: str, **options: Any) -> FetchResult:
    """fetch_robots as --live calls it: robots.txt, then tdmrep.json (the default)."""
    return fetch_robots(host, scheme="http", port=server.port, allow_private=True, **options)


def test_tdmrep_json_is_fetched_after_robots_txt(server: LoopbackServer) -> None:
    result = fetch_both(server, "tdm.test")
    assert (result.status, result.body, result.error) == (200, ROBOTS, None)
    assert result.tdmrep == TDMREP
    assert result.url == f"http://tdm.test:{server.port}/robots.txt"  # robots.txt's, as before
    assert [s.path for s in server.requests] == ["/robots.txt", TDMREP_PATH]
    assert {s.headers["User-Agent"] for s in server.requests} == {DEFAULT_USER_AGENT}


def test_a_moved_tdmrep_json_is_followed(server: LoopbackServer) -> None:
    result = fetch_both(server, "tdmmoved.test")
    assert result.tdmrep == TDMREP
    assert [s.path for s in server.requests] == ["/robots.txt", TDMREP_PATH, "/tdm/policy.json"]


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("ok.test", "404: the host has none"),
        ("tdmerror.test", "503: no answer to keep"),
        ("tdmbig.test", "longer than max_bytes: a cut file is not the file"),
    ],
)
def test_no_whole_tdmrep_json_is_none(server: LoopbackServer, host: str, why: str) -> None:
    result = fetch_both(server, host, max_bytes=1000)
    assert (result.status, result.body) == (200, ROBOTS), why
    assert result.tdmrep is None, why
    assert [s.path for s in server.requests] == ["/robots.txt", TDMREP_PATH], why


def test_tdmrep_json_is_not_asked_of_an_unreachable_host(server: LoopbackServer, net: Net) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind((LOOPBACK, 0))
        closed_port = probe.getsockname()[1]
    result = fetch_robots(LOOPBACK, scheme="http", port=closed_port, allow_private=True)
    assert (result.status, result.tdmrep) == (None, None)
    assert net.connects == [(LOOPBACK, closed_port)]  # robots.txt only: no second try


def test_tdmrep_json_can_be_left_out(server: LoopbackServer) -> None:
    result = fetch_both(server, "tdm.test", fetch_tdmrep=False)
    assert (result.status, result.tdmrep) == (200, None)
    assert [s.path for s in server.requests] == ["/robots.txt"]


def test_fetch_many_fetches_tdmrep_json_in_the_same_visit(server: LoopbackServer) -> None:
    started = time.monotonic()
    [result] = fetch_many(
        ["tdm.test"], per_host_interval=5, scheme="http", port=server.port, allow_private=True
    )
    assert result.tdmrep == TDMREP
    # One visit: tdmrep.json right after robots.txt, not per_host_interval later.
    assert time.monotonic() - started < 2
    assert server.max_active["tdm.test"] == 1

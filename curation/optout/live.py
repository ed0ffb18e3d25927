"""Live robots.txt fetching: polite, bounded, and safe against server-side request forgery.

Common Crawl's own robots.txt captures (`heed.curation.optout.snapshot`) judge a crawl's pages as
the crawler
saw them. A snapshot taken *now* answers a different question (has the site opted out of AI
training since?), and that needs a live fetch. Fetching URLs named by untrusted web data is
dangerous in three ways, each handled here:

* Hostile or broken servers: every read has a timeout, the whole fetch (name resolution
  included) has a deadline of three times that (a server dripping one byte at a time, or a
  resolver that never answers, cannot hold a worker), bodies are capped at
  `max_bytes` (RFC 9309 2.5 only requires parsing 500 KiB), and a gzip body is decompressed with
  a bound on its *output*, so a gzip bomb costs at most `max_bytes` of memory.
* Server-side request forgery: a hostname (or a redirect) may point at loopback, a private
  network or the cloud metadata service. Names are resolved here, every address is checked, and
  the connection goes to the checked address itself, never to the name again, so DNS cannot
  answer differently between the check and the connect (DNS rebinding). Every redirect hop is
  checked the same way.
* Politeness: `fetch_many` never sends two requests to one host at once and waits
  `per_host_interval` between two hosts' fetches to it.

Beside robots.txt, a host that answered is asked for `/.well-known/tdmrep.json` (TDMRep: its
text-and-data-mining reservations), with the same limits and checks.

Outcomes follow RFC 9309 2.3.1: the caller maps a 2xx body to rules, 4xx (and unfollowable
redirects, reported with their 3xx status) to "allow all", and 5xx or `status=None`
("unreachable": we do not know the rules) to "disallow all". Standard library only.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import math
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urldefrag, urljoin, urlsplit

__all__ = [
    "DEFAULT_USER_AGENT",
    "TDMREP_PATH",
    "AddressRefused",
    "FetchResult",
    "fetch_many",
    "fetch_robots",
    "is_public_address",
    "resolve_checked",
]

DEFAULT_USER_AGENT = (
    "heed-robots/0.1 (+https://github.com/heed; robots.txt snapshot for AI-training opt-out)"
)
ACCEPT = "text/plain, */*;q=0.1"
ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"  # TDMRep 1.0 (W3C community group report), 3.2
# RFC 9309 2.3.1.2: crawlers should follow at least five consecutive redirects.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
# The whole fetch (all hops) may take this many times `timeout`.
DEADLINE_FACTOR = 3
_READ_CHUNK = 64 * 1024

# Addresses that are not globally reachable, from the IANA special-purpose registries. Python's
# own `is_global` changed between patch releases (and once called multicast "global"), so the
# lists are spelled out here and Python's flags are only a second opinion.
_IPV4_BLOCKED = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
    )
)
# Only 2000::/3 is global unicast; inside it these are not globally reachable.
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV6_BLOCKED = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments, incl. Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix, embeds an IPv4
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")  # 6to4, embeds an IPv4

_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True)
class FetchResult:
    """One host's robots.txt as fetched now.

    `status` is None when the file is unreachable (DNS failure, connection refused, timeout,
    TLS error, refused address, or a response we cannot read: broken framing, undecodable
    Content-Encoding) — RFC 9309 treats that as "disallow all", so a partial body is never
    passed off as a complete one. `error` says why, or notes a cut body ("truncated at N
    bytes") or an unfollowable redirect ("too many redirects", "bad redirect: ...") while
    `status` keeps the last 3xx.
    """

    host: str  # as asked: lower-cased, whitespace and IPv6 brackets removed, no port
    scheme: str  # "https" or "http" as asked
    url: str  # the robots.txt URL finally fetched (after redirects)
    status: int | None  # final HTTP status; None = unreachable
    body: bytes  # at most max_bytes; b"" unless 2xx
    fetched_at: str  # ISO 8601 UTC, when the fetch ended, e.g. "2026-11-26T15:04:05Z"
    error: str | None
    redirects: tuple[str, ...] = ()  # URLs followed, in order
    # /.well-known/tdmrep.json as the host answered it with a 2xx, whole (within max_bytes);
    # None when it has none, or it was not asked (fetch_tdmrep=False, or robots.txt unreachable)
    tdmrep: bytes | None = None


class AddressRefused(Exception):
    """A host resolved to an address that is not public, and private addresses were not allowed."""

    def __init__(self, address: str) -> None:
        super().__init__(f"refused: {address} is not a public address")
        self.address = address


class _Unreachable(Exception):
    """A fetch ended without a usable response; the message becomes `FetchResult.error`."""


class _ResolveTimeout(TimeoutError):
    """Name resolution did not answer before the fetch's deadline."""


# --------------------------------------------------------------------------------------------
# Addresses


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `address` is globally routable, so that connecting to it cannot reach anything
    internal (loopback, private networks, link-local metadata services, multicast, ...).

    IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
    6to4 `2002::/16`) are judged by the IPv4 address they lead to.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(ip.packed)  # drop any %scope: it does not change the class
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _is_public_ipv4(embedded)
        return _is_public_ipv6(ip)
    return _is_public_ipv4(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(ip.packed[-4:])
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    return None


def _python_says_internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _is_public_ipv4(ip: ipaddress.IPv4Address) -> bool:
    return not any(ip in net for net in _IPV4_BLOCKED) and not _python_says_internal(ip)


def _is_public_ipv6(ip: ipaddress.IPv6Address) -> bool:
    if ip not in _IPV6_GLOBAL_UNICAST or any(ip in net for net in _IPV6_BLOCKED):
        return False
    return not ip.is_site_local and not _python_says_internal(ip)


def _resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without duplicates.

    A module-level function so that tests can substitute a resolver. getaddrinfo takes no
    timeout (the system resolver's own, from resolv.conf, can add up to tens of seconds):
    `_resolve_by` bounds it by the fetch's deadline.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if family == socket.AF_INET6 and len(sockaddr) >= 4 and sockaddr[3]:
            address = f"{address}%{sockaddr[3]}"  # a link-local address needs its scope to connect
        if address not in addresses:
            addresses.append(address)
    return addresses


def _resolve_by(host: str, port: int, deadline: float) -> list[str]:
    """`_resolve`, given up when the deadline passes. The lookup runs on a daemon thread, which
    is left to end by itself if it does not answer in time: getaddrinfo cannot be cancelled."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _ResolveTimeout(f"deadline passed before resolving {host}")
    done = threading.Event()
    outcome: list[list[str] | BaseException] = []

    def lookup() -> None:
        try:
            outcome.append(_resolve(host, port))
        except BaseException as exc:  # handed to the fetch, which names it
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="robots-resolve", daemon=True).start()
    if not done.wait(remaining):
        raise _ResolveTimeout(f"no answer for {host} before the deadline")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def resolve_checked(
    host: str, port: int, *, allow_private: bool = False, deadline: float | None = None
) -> list[str]:
    """The addresses to connect to for `host` (a name or an IP literal), all of them checked.

    Raises AddressRefused if ANY address is not public and `allow_private` is False: a name
    that answers with one public and one internal address is a classic rebinding setup, and the
    connect loop could otherwise end up on the internal one. Literals are checked without
    calling the resolver. With a `deadline` (time.monotonic()), a lookup still unanswered then
    raises TimeoutError.
    """
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [str(literal)]
    elif deadline is not None:
        addresses = _resolve_by(host, port, deadline)
    else:
        addresses = _resolve(host, port)
    if not addresses:
        raise socket.gaierror(f"{host} resolved to no address")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise AddressRefused(address)
    return addresses


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Hosts and URLs


def _normalise_host(host: str) -> str:
    """The host as FetchResult reports it: lower-cased, trimmed, IPv6 brackets removed.

    Raises ValueError for anything that is not a bare host name or IP literal (a port, a path,
    credentials, spaces), because it is interpolated into a URL and a Host header.
    """
    if not isinstance(host, str):
        raise ValueError(f"invalid host: {host!r}")
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
        if not isinstance(_ip_literal(name), ipaddress.IPv6Address):
            raise ValueError(f"invalid host: {host!r}")
        return name
    if _ip_literal(name) is not None:
        return name
    if not _HOST_NAME.match(_ascii_host(name)):
        raise ValueError(f"invalid host: {host!r}")
    return name


def _ascii_host(name: str) -> str:
    """The form that goes on the wire: IDNA (punycode) for internationalised names."""
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid host: {name!r}") from exc


def _netloc(host: str, port: int, scheme: str) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port == DEFAULT_PORTS[scheme] else f"{bracketed}:{port}"


@dataclass(frozen=True)
class _Target:
    """One request to make: where to connect and what to send."""

    scheme: str
    host: str  # ASCII host name or IP literal, no brackets
    port: int
    request_target: str  # path?query, percent-encoded
    url: str

    @property
    def host_header(self) -> str:
        return _netloc(self.host, self.port, self.scheme)

    @classmethod
    def parse(cls, url: str) -> _Target:
        """Raises ValueError for anything but an absolute http(s) URL with a usable host."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        host = _ascii_host(_normalise_host(parts.hostname))
        port = parts.port  # raises ValueError when out of range
        port = DEFAULT_PORTS[scheme] if port is None else port
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        query = quote(parts.query, safe=_PATH_SAFE + "?")
        request_target = f"{path}?{query}" if parts.query else path
        canonical = f"{scheme}://{_netloc(host, port, scheme)}{request_target}"
        return cls(scheme, host, port, request_target, canonical)


# --------------------------------------------------------------------------------------------
# One request


def _arm(sock: socket.socket, timeout: float, deadline: float) -> None:
    """Set the socket timeout for the next operation: `timeout`, or less if the deadline is near.

    http.client reads headers line by line and bodies in pieces; a per-read socket timeout alone
    lets a server that sends one byte per second hold the connection forever. Re-arming before
    every recv with what is left of the deadline bounds the whole fetch.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    sock.settimeout(min(timeout, remaining))


class _DeadlineRaw(io.RawIOBase):
    """The raw stream under http.client's buffered reader: every recv re-armed by `_arm`."""

    def __init__(self, sock: socket.socket, timeout: float, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._timeout = timeout
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        _arm(self._sock, self._timeout, self._deadline)
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """The socket object http.client sees: sendall/makefile/close, all under the deadline."""

    def __init__(self, sock: socket.socket, timeout: float, deadline: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        _arm(self._sock, self._timeout, self._deadline)
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineRaw(self._sock, self._timeout, self._deadline))

    def close(self) -> None:
        """Nothing: http.client closes its socket while the response still reads from it (a real
        socket defers that until its makefile() is closed). `_request` closes the socket."""


@dataclass(frozen=True)
class _Response:
    status: int
    location: str | None
    body: bytes
    note: str | None


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to one already-checked IP address (never a name: no second lookup)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """ssl.create_default_context(), built once: loading the CA store per fetch is slow, and a
    context is safe to share between threads for wrap_socket."""
    return ssl.create_default_context()


def _open(
    target: _Target, *, allow_private: bool, timeout: float, deadline: float
) -> socket.socket:
    addresses = resolve_checked(
        target.host, target.port, allow_private=allow_private, deadline=deadline
    )
    last_error: OSError | None = None
    sock: socket.socket | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        try:
            sock = _connect(address, target.port, min(timeout, remaining))
            break
        except OSError as exc:  # try the next address, as socket.create_connection does
            last_error = exc
    if sock is None:
        assert last_error is not None
        raise last_error
    if target.scheme == "https":
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            sock.settimeout(min(timeout, remaining))  # the whole handshake, in CPython
            # Verify the certificate against the NAME while talking to the checked IP.
            return _tls_context().wrap_socket(sock, server_hostname=target.host)
        except BaseException:
            sock.close()
            raise
    return sock


def _decoder(content_encoding: str | None) -> Any:
    """A zlib decompressor for a body we asked to get as identity but did not, or None."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _GzipDecoder()
    if encoding == "deflate":
        return _DeflateDecoder()
    raise _Unreachable(f"unsupported Content-Encoding: {encoding}")


class _GzipDecoder:
    """gzip, including several members one after another (which zlib alone stops after one)."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj(16 + zlib.MAX_WBITS)

    @property
    def eof(self) -> bool:
        return self._inner.eof

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._inner.decompress(data, max_length)
        while self._inner.eof and self._inner.unused_data and len(out) < max_length:
            rest = self._inner.unused_data
            self._inner = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._inner.decompress(rest, max_length - len(out))
        return out


class _DeflateDecoder:
    """HTTP "deflate" is meant to be zlib-wrapped, but some servers send raw deflate."""

    def __init__(self) -> None:
        self._inner: Any = None
        self._start = b""

    @property
    def eof(self) -> bool:
        return self._inner is not None and self._inner.eof

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._inner is None:
            self._start += data
            if len(self._start) < 2:
                return b""
            header = self._start[0] * 256 + self._start[1]
            zlib_wrapped = self._start[0] & 0x0F == 8 and header % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
            data, self._start = self._start, b""
        return self._inner.decompress(data, max_length)


def _read_body(response: http.client.HTTPResponse, max_bytes: int) -> tuple[bytes, str | None]:
    """At most `max_bytes` of the (decoded) body, and a note when there was more.

    Reads at most max_bytes + 1 bytes of output: one more than kept tells "exactly max_bytes"
    from "longer". For a compressed body the bound is on the decompressor's output, so a few KB
    of gzip that inflate to gigabytes cost no more memory than a plain body.
    """
    decoder = _decoder(response.getheader("Content-Encoding"))
    limit = max_bytes + 1
    out = bytearray()
    ended = False
    try:
        while len(out) < limit:
            chunk = response.read1(_READ_CHUNK if decoder else min(_READ_CHUNK, limit - len(out)))
            if not chunk:
                ended = True
                break
            if decoder is None:
                out += chunk
                continue
            out += decoder.decompress(chunk, limit - len(out))
            # A stream whose output reached `limit` stops here with input left in
            # unconsumed_tail; otherwise every input byte was consumed.
    except zlib.error as exc:
        raise _Unreachable(
            f"undecodable {response.getheader('Content-Encoding')} body: {exc}"
        ) from exc
    if ended and response.length:  # Content-Length promised more than came
        raise _Unreachable("connection closed mid-body")
    if ended and decoder is not None and not decoder.eof and len(out) < limit:
        raise _Unreachable("compressed body ends before its stream does")
    if len(out) > max_bytes:
        return bytes(out[:max_bytes]), f"truncated at {max_bytes} bytes"
    return bytes(out), None


def _request(
    target: _Target,
    *,
    allow_private: bool,
    timeout: float,
    deadline: float,
    max_bytes: int,
    user_agent: str,
) -> _Response:
    """One GET, one connection (closed after). Errors propagate to `_fetch`, which names them."""
    sock = _open(target, allow_private=allow_private, timeout=timeout, deadline=deadline)
    conn = http.client.HTTPConnection(target.host, target.port)
    conn.sock = _DeadlineSocket(sock, timeout, deadline)  # type: ignore[assignment]
    try:
        # skip_host: the Host header names the host, while the socket went to its checked IP.
        conn.putrequest("GET", target.request_target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", target.host_header)
        conn.putheader("User-Agent", user_agent)
        conn.putheader("Accept", ACCEPT)
        conn.putheader("Accept-Encoding", "identity")
        conn.putheader("Connection", "close")
        conn.endheaders()
        response = conn.getresponse()
        status = response.status
        location = response.getheader("Location")
        if 200 <= status < 300:
            body, note = _read_body(response, max_bytes)
        else:
            body, note = b"", None  # RFC 9309 needs only the status; skip the error page
        response.close()
        return _Response(status, location.strip() if location else None, body, note)
    finally:
        conn.close()
        sock.close()


def _error_text(exc: BaseException) -> str:
    """A short, stable reason for a failed fetch."""
    if isinstance(exc, AddressRefused | _Unreachable):
        return str(exc)
    if isinstance(exc, _ResolveTimeout):
        return f"dns: timeout ({exc})"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"tls: {exc}"
    if isinstance(exc, socket.gaierror):
        return f"dns: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.HTTPException):
        return f"bad response: {type(exc).__name__}: {exc}"
    if isinstance(exc, OSError):
        return f"network: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------------------------
# A whole fetch (all hops)


def _check_options(
    scheme: str,
    port: int | None,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    user_agent: str,
) -> None:
    """Programming errors raise at once, instead of turning into one failed result per host."""
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"scheme must be 'http' or 'https', not {scheme!r}")
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        raise ValueError(f"port must be in 1..65535, not {port!r}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, not {max_bytes!r}")
    if max_redirects < 0:
        raise ValueError(f"max_redirects must be >= 0, not {max_redirects!r}")
    if not user_agent or any(ch in user_agent for ch in "\r\n\0"):
        raise ValueError(f"user_agent must be one non-empty header line, not {user_agent!r}")


def fetch_robots(
    host: str,
    *,
    scheme: str = "https",
    port: int | None = None,
    timeout: float = 10.0,
    max_bytes: int = 500 * 1024,
    max_redirects: int = 5,
    allow_private: bool = False,
    user_agent: str = DEFAULT_USER_AGENT,
    fetch_tdmrep: bool = True,
) -> FetchResult:
    """Fetch `{scheme}://{host}[:port]/robots.txt` now, and then (`fetch_tdmrep`, unless
    robots.txt was unreachable) `/.well-known/tdmrep.json` from the same origin.

    Network failures never raise: they come back as `status=None` with `error` set. Invalid
    options (scheme, port, timeout, ...) raise ValueError, since they are the caller's bug.
    `timeout` bounds the connect and every read; each of the two fetches, name resolution and
    redirects included, ends after 3 × timeout (in `fetch_many`, not counting the wait for a
    turn at a host). Without `allow_private`, a host or redirect target that resolves to any
    non-public address is refused before any connection is made.
    """
    return _fetch(
        host,
        scheme=scheme,
        port=port,
        timeout=timeout,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
        allow_private=allow_private,
        user_agent=user_agent,
        fetch_tdmrep=fetch_tdmrep,
        gate=None,
    )


@dataclass(frozen=True)
class _Outcome:
    """One path fetched, redirects followed: what FetchResult reports of it."""

    url: str
    status: int | None
    body: bytes
    error: str | None
    redirects: tuple[str, ...]


def _fetch(
    host: str,
    *,
    scheme: str,
    port: int | None,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    allow_private: bool,
    user_agent: str,
    fetch_tdmrep: bool,
    gate: _HostGate | None,
) -> FetchResult:
    _check_options(scheme, port, timeout, max_bytes, max_redirects, user_agent)
    asked = host.strip().lower() if isinstance(host, str) else repr(host)
    try:
        asked = _normalise_host(host)
        origin = f"{scheme}://{_netloc(_ascii_host(asked), port or DEFAULT_PORTS[scheme], scheme)}"
        robots_target = _Target.parse(origin + ROBOTS_PATH)
    except ValueError as exc:
        return FetchResult(asked, scheme, "", None, b"", _now(), str(exc))

    def get(target: _Target) -> _Outcome:
        return _follow(
            target,
            timeout=timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
            allow_private=allow_private,
            user_agent=user_agent,
            gate=gate,
            token=token,
        )

    # This fetch, for the gate: its own requests to one host (redirect hops, then tdmrep.json)
    # are one visit, made back to back.
    token = object()
    robots = get(robots_target)
    fetched_at = _now()
    tdmrep = None
    if fetch_tdmrep and robots.status is not None:
        found = get(_Target.parse(origin + TDMREP_PATH))
        # A cut or failed answer is not the file: keep only a whole 2xx body.
        if found.status is not None and 200 <= found.status < 300 and found.error is None:
            tdmrep = found.body
    return FetchResult(
        host=asked,
        scheme=scheme,
        url=robots.url,
        status=robots.status,
        body=robots.body,
        fetched_at=fetched_at,
        error=robots.error,
        redirects=robots.redirects,
        tdmrep=tdmrep,
    )


def _follow(
    target: _Target,
    *,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    allow_private: bool,
    user_agent: str,
    gate: _HostGate | None,
    token: object,
) -> _Outcome:
    """GET `target`, following up to `max_redirects` redirects, all within one deadline."""
    deadline = time.monotonic() + DEADLINE_FACTOR * timeout
    redirects: list[str] = []

    def outcome(url: str, status: int | None, body: bytes, error: str | None) -> _Outcome:
        return _Outcome(url, status, body, error, tuple(redirects))

    while True:
        try:
            if time.monotonic() >= deadline:
                raise TimeoutError("deadline passed")
            hold = gate.hold(target.host, token) if gate is not None else nullcontext()
            queued = time.monotonic()
            with hold:
                # Waiting for our turn at a host is politeness, not the server being slow.
                deadline += time.monotonic() - queued
                response = _request(
                    target,
                    allow_private=allow_private,
                    timeout=timeout,
                    deadline=deadline,
                    max_bytes=max_bytes,
                    user_agent=user_agent,
                )
        except Exception as exc:
            return outcome(target.url, None, b"", _error_text(exc))
        if response.status not in REDIRECT_STATUSES:
            return outcome(target.url, response.status, response.body, response.note)
        # A redirect RFC 9309 lets us give up on counts as "unavailable": keep its 3xx status.
        if not response.location:
            return outcome(target.url, response.status, b"", "bad redirect: no Location")
        if len(redirects) >= max_redirects:
            return outcome(target.url, response.status, b"", "too many redirects")
        next_url = urldefrag(urljoin(target.url, response.location)).url
        try:
            target = _Target.parse(next_url)
        except ValueError as exc:
            return outcome(target.url, response.status, b"", f"bad redirect: {exc}")
        redirects.append(target.url)


# --------------------------------------------------------------------------------------------
# Many hosts


class _HostGate:
    """Per-host politeness shared by the workers of one `fetch_many`.

    One request at a time per host, and `interval` seconds from the end of one request to the
    start of the next. Only one hop is held at a time (never a whole redirect chain), so two
    fetches redirecting into each other's hosts cannot deadlock. Consecutive requests of one
    fetch to one host (redirect hops, robots.txt then tdmrep.json) do not wait, since they are
    one visit to that host.
    """

    @dataclass
    class _Slot:
        lock: threading.Lock
        last_end: float = -math.inf
        last_owner: object = None

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._slots: dict[str, _HostGate._Slot] = {}

    def _slot(self, host: str) -> _HostGate._Slot:
        with self._lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = self._Slot(threading.Lock())
            return slot

    def hold(self, host: str, owner: object) -> AbstractContextManager[None]:
        return self._hold(host, owner)

    @contextmanager
    def _hold(self, host: str, owner: object) -> Iterator[None]:
        slot = self._slot(host)
        with slot.lock:
            if slot.last_owner is not owner:
                pause = slot.last_end + self._interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            try:
                yield
            finally:
                slot.last_end = time.monotonic()
                slot.last_owner = owner


_FETCH_OPTIONS = frozenset(
    {
        "scheme",
        "port",
        "timeout",
        "max_bytes",
        "max_redirects",
        "allow_private",
        "user_agent",
        "fetch_tdmrep",
    }
)
_FETCH_DEFAULTS: dict[str, Any] = {
    "scheme": "https",
    "port": None,
    "timeout": 10.0,
    "max_bytes": 500 * 1024,
    "max_redirects": 5,
    "allow_private": False,
    "user_agent": DEFAULT_USER_AGENT,
    "fetch_tdmrep": True,
}


_END: Any = object()  # the end of `hosts`


def _dedup_key(host: Any) -> str:
    try:
        return _normalise_host(host)
    except ValueError:
        return str(host).strip().lower()


def fetch_many(
    hosts: Iterable[str],
    *,
    workers: int = 16,
    per_host_interval: float = 1.0,
    **fetch_kwargs: Any,
) -> Iterator[FetchResult]:
    """Fetch robots.txt for many hosts on a pool of `workers` threads.

    Results are yielded AS THEY COMPLETE, not in input order (a slow host must not hold back the
    rest); match them up by `FetchResult.host`. Hosts are deduplicated (case, whitespace and
    IPv6 brackets ignored), so each appears once. No two requests to one host run at once and
    `per_host_interval` seconds separate them, counting redirect hops into a host that another
    fetch also reaches. An exception inside one fetch becomes that host's `status=None` result;
    it never ends the batch. `hosts` is consumed lazily (at most 2 × workers in flight), so it
    may be a large generator. Options are checked here, before anything runs.
    """
    unknown = set(fetch_kwargs) - _FETCH_OPTIONS
    if unknown:
        raise TypeError(f"fetch_many got unknown fetch options: {sorted(unknown)}")
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be a positive int, not {workers!r}")
    if not (per_host_interval >= 0 and math.isfinite(per_host_interval)):
        raise ValueError(f"per_host_interval must be >= 0 seconds, not {per_host_interval!r}")
    options = {**_FETCH_DEFAULTS, **fetch_kwargs}
    _check_options(
        options["scheme"],
        options["port"],
        options["timeout"],
        options["max_bytes"],
        options["max_redirects"],
        options["user_agent"],
    )
    return _fetch_many(iter(hosts), workers, _HostGate(per_host_interval), options)


def _fetch_safely(host: str, gate: _HostGate, options: dict[str, Any]) -> FetchResult:
    try:
        return _fetch(host, gate=gate, **options)
    except Exception as exc:  # one broken fetch must not end the batch
        return FetchResult(
            host=_dedup_key(host),
            scheme=options["scheme"],
            url="",
            status=None,
            body=b"",
            fetched_at=_now(),
            error=f"{type(exc).__name__}: {exc}",
            redirects=(),
        )


def _fetch_many(
    hosts: Iterator[str], workers: int, gate: _HostGate, options: dict[str, Any]
) -> Iterator[FetchResult]:
    seen: set[str] = set()
    pending: set[Future[FetchResult]] = set()
    exhausted = False
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="robots-fetch")
    try:
        while True:
            while not exhausted and len(pending) < 2 * workers:
                host = next(hosts, _END)
                if host is _END:
                    exhausted = True
                    break
                key = _dedup_key(host)
                if key in seen:
                    continue
                seen.add(key)
                pending.add(executor.submit(_fetch_safely, host, gate, options))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        # A consumer that stops early leaves queued fetches cancelled; running ones end by
        # their deadline.
        executor.shutdown(wait=True, cancel_futures=True)

"""The test helper tests/crawl_server.py: a crawl folder over HTTP, with faults on a schedule.

The client side is plain http.client and socket, so that what is checked here is the server,
not heed's fetcher. Note that http.client's `read()` (no amount) raises IncompleteRead on a
body cut short, while `read(amt)` just returns fewer bytes: these tests read whole bodies.
"""

from __future__ import annotations

import gzip
import http.client
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crawl_server import FAULTS, CrawlServer, Request, byte_range, request_key

CRAWL = "CC-MAIN-TEST"
WARC = f"crawl-data/{CRAWL}/segments/1/warc/a.warc.gz"
PATHS = f"crawl-data/{CRAWL}/warc.paths.gz"
SMALL = f"crawl-data/{CRAWL}/segments/1/warc/b.warc.gz"
EMPTY = f"crawl-data/{CRAWL}/segments/1/warc/empty.warc.gz"
DATA = random.Random(7).randbytes(3_000_000)
TOTAL = len(DATA)
HALF = TOTAL // 2
RETRY_AFTER = 2
STALL = 3.0
UA = "heed-test/1"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/root holds a small crawl; tmp/secret.txt sits just outside it."""
    base = tmp_path_factory.mktemp("crawl")
    root = base / "root"
    (root / WARC).parent.mkdir(parents=True)
    (root / WARC).write_bytes(DATA)
    (root / SMALL).write_bytes(b"small warc")
    (root / EMPTY).write_bytes(b"")
    (root / PATHS).write_bytes(gzip.compress(f"{WARC}\n{SMALL}\n".encode()))
    (base / "secret.txt").write_text("outside the root")
    (root / "link.txt").symlink_to(base / "secret.txt")
    return root


@pytest.fixture
def server(root: Path) -> Iterator[CrawlServer]:
    with CrawlServer(root, retry_after=RETRY_AFTER, stall_seconds=STALL) as srv:
        yield srv


def connect(server: CrawlServer, timeout: float = 5.0) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").rstrip("/").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def open_response(
    server: CrawlServer,
    path: str,
    *,
    method: str = "GET",
    range_: str | None = None,
    timeout: float = 5.0,
) -> http.client.HTTPResponse:
    """Send one request for `path` (the raw target, leading slash added) and read its head."""
    headers = {"User-Agent": UA}
    if range_ is not None:
        headers["Range"] = range_
    conn = connect(server, timeout)
    conn.request(method, "/" + path, headers=headers)
    return conn.getresponse()


def get(
    server: CrawlServer, path: str, *, method: str = "GET", range_: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One whole request: status, headers, body."""
    response = open_response(server, path, method=method, range_=range_)
    with response:
        return response.status, dict(response.getheaders()), response.read()


def only_request(server: CrawlServer) -> Request:
    assert len(server.requests) == 1, server.requests
    return server.requests[0]


# --------------------------------------------------------------------------------------------
# Plain serving


def test_url_names_files_by_their_path_under_root(server: CrawlServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert server.url.endswith("/")
    conn = connect(server)
    conn.request("GET", server.url + PATHS)  # absolute form works too
    listing = gzip.decompress(conn.getresponse().read()).decode().split()
    assert listing == [WARC, SMALL]


def test_plain_get_returns_the_file(server: CrawlServer) -> None:
    status, headers, body = get(server, WARC)
    assert status == 200
    assert body == DATA
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == str(TOTAL)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Connection"] == "close"
    assert "Content-Range" not in headers
    assert only_request(server) == Request("GET", WARC, None, 200, TOTAL, None, UA)


def test_empty_file(server: CrawlServer) -> None:
    assert get(server, EMPTY)[::2] == (200, b"")
    status, headers, _ = get(server, EMPTY, range_="bytes=0-")
    assert (status, headers["Content-Range"]) == (416, "bytes */0")


@pytest.mark.parametrize(
    ("range_", "first", "last"),
    [
        ("bytes=100-", 100, TOTAL - 1),
        ("bytes=100-199", 100, 199),
        ("bytes=0-0", 0, 0),
        (f"bytes={TOTAL - 1}-", TOTAL - 1, TOTAL - 1),
        (f"bytes={TOTAL - 10}-{TOTAL + 500}", TOTAL - 10, TOTAL - 1),  # clamped to the end
        ("bytes=-10", TOTAL - 10, TOTAL - 1),  # suffix
        ("BYTES = 5 - 9", 5, 9),
    ],
)
def test_range_gives_206(server: CrawlServer, range_: str, first: int, last: int) -> None:
    status, headers, body = get(server, WARC, range_=range_)
    assert status == 206
    assert headers["Content-Range"] == f"bytes {first}-{last}/{TOTAL}"
    assert headers["Content-Length"] == str(last - first + 1)
    assert body == DATA[first : last + 1]
    record = only_request(server)
    assert (record.range, record.status, record.body_bytes) == (range_, 206, len(body))


@pytest.mark.parametrize(
    "range_", [f"bytes={TOTAL}-", f"bytes={TOTAL + 5}-{TOTAL + 9}", "bytes=-0"]
)
def test_range_past_the_end_gives_416(server: CrawlServer, range_: str) -> None:
    status, headers, body = get(server, WARC, range_=range_)
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{TOTAL}"
    assert body == b""


@pytest.mark.parametrize(
    "range_", ["bytes=abc-", "bytes=9-2", "items=0-5", "bytes=0-1,5-6", "bytes=-", "bytes 0-5", ""]
)
def test_malformed_range_is_ignored(server: CrawlServer, range_: str) -> None:
    status, headers, body = get(server, WARC, range_=range_)
    assert (status, "Content-Range" in headers, body == DATA) == (200, False, True)


def test_head(server: CrawlServer) -> None:
    server.fail(WARC, "503")  # HEAD neither takes nor suffers a fault
    status, headers, body = get(server, WARC, method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, str(TOTAL), b"")
    status, headers, body = get(server, WARC, method="HEAD", range_="bytes=10-19")
    assert (status, headers["Content-Range"], headers["Content-Length"]) == (
        206,
        f"bytes 10-19/{TOTAL}",
        "10",
    )
    assert get(server, "nope", method="HEAD")[::2] == (404, b"")
    assert [(r.method, r.status, r.body_bytes, r.fault) for r in server.requests] == [
        ("HEAD", 200, 0, None),
        ("HEAD", 206, 0, None),
        ("HEAD", 404, 0, None),
    ]
    assert get(server, WARC)[0] == 503
    assert server.max_concurrent == 1  # only GETs count


def test_missing_files_are_404(server: CrawlServer) -> None:
    assert get(server, "crawl-data/nope.warc.gz")[0] == 404
    assert get(server, f"crawl-data/{CRAWL}")[0] == 404  # a folder
    server.missing.add(SMALL)
    assert get(server, SMALL)[0] == 404
    assert get(server, SMALL)[0] == 404  # for as long as it is in the set
    server.missing.discard(SMALL)
    assert get(server, SMALL)[::2] == (200, b"small warc")


@pytest.mark.parametrize(
    "target", ["../secret.txt", "%2e%2e/secret.txt", "crawl-data/../../secret.txt", "link.txt"]
)
def test_nothing_outside_root_is_served(server: CrawlServer, target: str) -> None:
    status, _, body = get(server, target)
    assert (status, b"outside" in body) == (404, False)


def test_query_and_percent_encoding(server: CrawlServer) -> None:
    assert get(server, SMALL.replace("/b.", "/%62.") + "?x=1")[::2] == (200, b"small warc")
    assert only_request(server).path == SMALL
    assert request_key("http://h:1/a%20b?q#f") == "a b"


# --------------------------------------------------------------------------------------------
# Faults


@pytest.mark.parametrize(
    ("fault", "status", "retry_after", "body"),
    [
        ("503", 503, str(RETRY_AFTER), b"Slow Down"),
        ("429", 429, str(RETRY_AFTER), b"Too Many Requests"),
        ("500", 500, None, b"Internal Server Error"),
        ("404", 404, None, b"Not Found"),
    ],
)
def test_status_faults(
    server: CrawlServer, fault: str, status: int, retry_after: str | None, body: bytes
) -> None:
    server.fail(WARC, fault)
    got_status, headers, got_body = get(server, WARC, range_="bytes=0-")
    assert (got_status, headers.get("Retry-After"), got_body) == (status, retry_after, body)
    assert headers["Content-Length"] == str(len(body))
    assert get(server, WARC)[::2] == (200, DATA)  # one fault, one request
    assert [(r.status, r.fault, r.body_bytes) for r in server.requests] == [
        (status, fault, len(body)),
        (200, None, TOTAL),
    ]


def test_reset_cuts_the_body_with_a_tcp_reset(server: CrawlServer) -> None:
    server.fail(WARC, "reset")
    response = open_response(server, WARC)
    assert (response.status, response.getheader("Content-Length")) == (200, str(TOTAL))
    got = bytearray()
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        while chunk := response.fp.read1(1 << 16):  # type: ignore[union-attr]
            got += chunk
        response.read()  # no reset seen (it came after the bytes): a short body, then EOF
    assert len(got) <= HALF
    assert DATA.startswith(got)
    record = only_request(server)
    assert (record.status, record.fault, record.body_bytes) == (200, "reset", HALF)


def test_truncate_closes_cleanly_after_half(server: CrawlServer) -> None:
    server.fail(WARC, "truncate")
    response = open_response(server, WARC, range_="bytes=1000-")
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 1000-{TOTAL - 1}/{TOTAL}"
    assert response.getheader("Content-Length") == str(TOTAL - 1000)
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    half = (TOTAL - 1000) // 2
    assert cut.value.partial == DATA[1000 : 1000 + half]
    assert only_request(server).body_bytes == half


def test_stall_outlasts_the_client_timeout_and_stopping_releases_it(root: Path) -> None:
    started = time.monotonic()
    with CrawlServer(root, stall_seconds=STALL) as server:
        server.fail(WARC, "stall")
        response = open_response(server, WARC, timeout=0.5)
        assert response.status == 200
        got = bytearray()
        with pytest.raises(TimeoutError):
            while chunk := response.fp.read1(1 << 16):  # type: ignore[union-attr]
                got += chunk
        assert bytes(got) == DATA[:HALF]
        record = only_request(server)
        assert (record.status, record.fault, record.body_bytes) == (200, "stall", HALF)
        assert server.max_concurrent == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1.0
    assert time.monotonic() - started < STALL


def test_long_length_claims_more_than_it_sends(server: CrawlServer) -> None:
    server.fail(WARC, "long-length")
    response = open_response(server, WARC, range_="bytes=10-109")
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 10-109/{TOTAL}"
    assert response.getheader("Content-Length") == "1100"
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    assert cut.value.partial == DATA[10:110]
    assert only_request(server).body_bytes == 100


def test_short_length_claims_half(server: CrawlServer) -> None:
    server.fail(WARC, "short-length")
    status, headers, body = get(server, WARC, range_="bytes=10-109")
    assert status == 206
    assert headers["Content-Range"] == f"bytes 10-109/{TOTAL}"  # still the whole range
    assert headers["Content-Length"] == "50"
    assert body == DATA[10:60]
    assert only_request(server).body_bytes == 50


def test_ignore_range_answers_200_with_the_whole_file(server: CrawlServer) -> None:
    server.fail(WARC, "ignore-range")
    status, headers, body = get(server, WARC, range_="bytes=100-")
    assert (status, "Content-Range" in headers, body == DATA) == (200, False, True)
    assert get(server, WARC, range_="bytes=100-")[0] == 206  # consumed


def test_faults_are_consumed_in_order_then_service_resumes(server: CrawlServer) -> None:
    server.fail(SMALL, "503", "429")
    server.fail("/" + SMALL, "short-length")  # a leading slash is tolerated
    assert get(server, WARC)[0] == 200  # another path: untouched
    assert get(server, SMALL, range_="bytes=0-")[0] == 503
    assert get(server, SMALL)[0] == 429
    assert get(server, SMALL)[::2] == (200, b"small")
    assert get(server, SMALL)[::2] == (200, b"small warc")
    assert [(r.path, r.fault) for r in server.requests] == [
        (WARC, None),
        (SMALL, "503"),
        (SMALL, "429"),
        (SMALL, "short-length"),
        (SMALL, None),
    ]


def test_a_fault_on_a_missing_file_is_spent_on_a_404(server: CrawlServer) -> None:
    server.fail("nope", "truncate")
    assert get(server, "nope")[0] == 404
    assert (only_request(server).fault, only_request(server).status) == ("truncate", 404)


def test_unknown_fault_is_refused(server: CrawlServer) -> None:
    with pytest.raises(ValueError, match="slow"):
        server.fail(WARC, "503", "slow")
    assert get(server, WARC)[0] == 200  # nothing was queued
    assert {"503", "reset", "stall", "ignore-range"} <= FAULTS


# --------------------------------------------------------------------------------------------
# Bookkeeping


def test_max_concurrent_counts_overlapping_responses(root: Path) -> None:
    with CrawlServer(root, stall_seconds=STALL) as server:
        for _ in range(3):
            assert get(server, SMALL)[0] == 200
        assert server.max_concurrent == 1  # one after the other never overlaps
        server.fail(WARC, "stall", "stall")
        first = open_response(server, WARC, timeout=2)
        second = open_response(server, WARC, timeout=2)
        assert (first.status, second.status) == (200, 200)
        assert server.max_concurrent == 2
        assert get(server, SMALL)[0] == 200  # while both stall
        assert server.max_concurrent == 3
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # both stalls released
    first.close()
    second.close()


def test_concurrent_clients_are_all_recorded(server: CrawlServer) -> None:
    results: list[bytes] = []
    barrier = threading.Barrier(16)

    def fetch(i: int) -> None:
        barrier.wait()
        results.append(get(server, WARC, range_=f"bytes={i * 1000}-{i * 1000 + 99_999}")[2])

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == sorted(DATA[i * 1000 : i * 1000 + 100_000] for i in range(16))
    assert len(server.requests) == 16
    assert all(r.status == 206 and r.body_bytes == 100_000 for r in server.requests)
    assert 1 <= server.max_concurrent <= 16


def test_reset_clears_requests_counts_and_faults_but_keeps_missing(server: CrawlServer) -> None:
    server.missing.add(SMALL)
    server.fail(WARC, "500")
    assert get(server, SMALL)[0] == 404
    server.reset()
    assert (server.requests, server.max_concurrent) == ([], 0)
    assert get(server, WARC)[0] == 200  # the queued 500 is gone
    assert get(server, SMALL)[0] == 404  # still missing
    assert [r.status for r in server.requests] == [200, 404]
    assert server.max_concurrent == 1


def test_a_client_that_never_sends_does_not_block_stopping(root: Path) -> None:
    with CrawlServer(root) as server:
        idle = socket.create_connection(("127.0.0.1", connect(server).port), timeout=5)
        assert get(server, SMALL)[0] == 200
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    assert idle.recv(1) == b""  # the server shut the connection
    idle.close()


def test_byte_range() -> None:
    assert byte_range(None, 10) is None
    assert byte_range("bytes=2-", 10) == (2, 9)
    assert byte_range("bytes=2-4", 10) == (2, 4)
    assert byte_range("bytes=-20", 10) == (0, 9)
    assert byte_range("bytes=10-", 10) == byte_range("bytes=-1", 0) == (-1, -1)
    assert byte_range("bytes=4-2", 10) is None

"""Opt-out at crawl scale: snapshots (from the crawl, from a folder), and evidence for every
removal."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import CRAWL, SAMPLE_ROOT, output_files, run_heed

import heed.curation.optout.snapshot as snapshot_module
from heed.curation.crawl.listing import ROBOTS_LISTING, read_listing
from heed.curation.optout.build import crawl_source
from heed.curation.optout.robots import explain
from heed.curation.optout.snapshot import Snapshot, bucket_of, build_snapshot, captures_from_crawl


@pytest.fixture(scope="module")
def crawl_snapshot(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("snap") / "crawl"
    run_heed(
        "robots",
        "build",
        "--from-crawl",
        CRAWL,
        "--crawl-root",
        str(SAMPLE_ROOT),
        "--out",
        str(out),
        "--buckets",
        "8",
        "--executor",
        "local",
    )
    return out


def test_crawl_snapshot_holds_the_latest_capture_of_every_host(crawl_snapshot: Path) -> None:
    captures = list(captures_from_crawl(str(SAMPLE_ROOT), CRAWL))
    latest: dict[str, object] = {}
    for c in captures:  # later of two equal times wins, as the snapshot promises
        if c.host not in latest or c.capture_time >= latest[c.host].capture_time:
            latest[c.host] = c
    snap = Snapshot(crawl_snapshot)
    meta = json.loads((crawl_snapshot / "snapshot.json").read_text())
    assert meta["hosts"] == len(latest) > 100 and meta["buckets"] == 8
    found = snap.lookup(latest)
    assert found == latest
    for part in sorted(crawl_snapshot.glob("part-*.parquet")):
        hosts = pq.read_table(part, columns=["host"]).column("host").to_pylist()
        assert hosts == sorted(hosts)
        assert {bucket_of(h, 8) for h in hosts} <= {int(part.stem.split("-")[1])}


def test_snapshots_are_deterministic(crawl_snapshot: Path, tmp_path: Path) -> None:
    """The build as tasks (one per capture file, one per bucket) gives the bytes of one pass
    over the captures in listing order, and the same on Ray with two workers."""
    listing = read_listing(str(SAMPLE_ROOT), CRAWL, ROBOTS_LISTING)
    again = tmp_path / "again"
    captures = captures_from_crawl(str(SAMPLE_ROOT), CRAWL)
    build_snapshot(again, captures, [crawl_source(CRAWL, listing.sha256)], buckets=8)
    assert output_files(again) == output_files(crawl_snapshot)
    on_ray = tmp_path / "ray"
    run_heed(
        "robots", "build", "--from-crawl", CRAWL, "--crawl-root", str(SAMPLE_ROOT),
        "--out", str(on_ray), "--buckets", "8", "--executor", "ray", "--num-cpus", "2",
    )  # fmt: skip
    assert output_files(on_ray) == output_files(crawl_snapshot)


def test_lookup_reads_only_the_buckets_of_the_hosts_asked(crawl_snapshot, monkeypatch) -> None:
    part = crawl_snapshot / "part-0003.parquet"
    hosts = pq.read_table(part).column("host").to_pylist()[:3]
    opened, groups_read = [], []
    real = snapshot_module.pq.ParquetFile

    class Spy(real):
        def __init__(self, path, *args, **kwargs) -> None:
            opened.append(Path(path).name)
            super().__init__(path, *args, **kwargs)

        def read_row_groups(self, groups, *args, **kwargs):
            groups_read.extend(groups)
            return super().read_row_groups(groups, *args, **kwargs)

    monkeypatch.setattr(snapshot_module.pq, "ParquetFile", Spy)
    snap = Snapshot(crawl_snapshot)
    assert sorted(snap.lookup(hosts)) == sorted(hosts)
    assert opened == ["part-0003.parquet"] and groups_read == [0]
    assert snap.lookup(["no-such-host.example"]) == {}


def test_a_spilling_build_gives_the_same_snapshot(crawl_snapshot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(snapshot_module, "SPILL_BYTES", 50_000)
    spilled = tmp_path / "spilled"
    sources = [crawl_source(CRAWL, read_listing(str(SAMPLE_ROOT), CRAWL, ROBOTS_LISTING).sha256)]
    build_snapshot(spilled, captures_from_crawl(str(SAMPLE_ROOT), CRAWL), sources, buckets=8)
    assert output_files(spilled) == output_files(crawl_snapshot)


def test_every_removal_carries_its_evidence(local_run: Path) -> None:
    rows = [
        r
        for p in sorted((local_run / "audit").glob("part-*.parquet"))
        for r in pq.read_table(p).to_pylist()
        if r["stage"] == "opt_out"
    ]
    assert len(rows) > 500
    snapshots = {s.id: s for s in map(Snapshot, sorted((local_run / "robots").iterdir()))}
    assert len(snapshots) == 2  # the folder capture and the crawl's own captures
    used = set()
    for row in rows:
        assert row["optout_signal"], row["url"]
        if row["optout_signal"] not in ("robots", "robots_status"):
            continue
        snap = snapshots[row["robots_snapshot"]]
        capture = snap.lookup([row["host"]])[row["host"]]
        used.add(snap.id)
        assert row["robots_sha256"] == capture.sha256
        assert row["robots_captured"] == capture.capture_time
        assert capture.sha256[:12] in row["detail"] and snap.id in row["detail"]
        if row["optout_signal"] == "robots_status":
            assert capture.status >= 500
            continue
        # The rule named is the line at that number in the very file that was judged.
        lines = capture.body.decode("utf-8", "replace").splitlines()
        assert lines[row["robots_line"] - 1].split("#")[0].strip() == row["robots_rule"]
        for agent in row["robots_agents"].split(","):
            verdict = explain(capture.body, agent, row["url"])
            assert not verdict.allowed and verdict.line is not None, (agent, row["url"])
    assert used == set(snapshots)


@pytest.fixture(scope="module")
def folder_snapshot(tmp_path_factory, truth) -> tuple[Path, str, str]:
    """A folder of robots files, as a user would keep a January 2025 capture: one host that the
    crawl's capture allowed now blocks GPTBot, another reserves TDM in tdmrep.json."""
    allowed = sorted(
        {
            t["host"]
            for t in truth
            if t["robots_category"] == "allow_all" and not t["tdm_reservation"] and not t["noai"]
        }
    )
    blocker, reserver = allowed[0], allowed[1]
    folder = tmp_path_factory.mktemp("robots-dir")
    (folder / blocker).mkdir()
    (folder / blocker / "robots.txt").write_text(
        "# January 2025\nUser-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /\n"
    )
    (folder / reserver / ".well-known").mkdir(parents=True)
    (folder / reserver / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    (folder / reserver / ".well-known" / "tdmrep.json").write_text(
        json.dumps([{"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://x/p"}])
    )
    out = tmp_path_factory.mktemp("snap") / "dir"
    run_heed(
        "robots",
        "build",
        "--from-dir",
        str(folder),
        "--out",
        str(out),
        "--captured-at",
        "2025-01-15T00:00:00Z",
    )
    return out, blocker, reserver


def test_a_folder_snapshot_overrides_the_crawl_captures(folder_snapshot, truth, tmp_path) -> None:
    snap_dir, blocker, reserver = folder_snapshot
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "t"\ncrawl_root = "{SAMPLE_ROOT}"\ncrawl = "{CRAWL}"\n'
        'stages = ["opt_out"]\n[stage.opt_out]\n'
        f'snapshots = ["{snap_dir}"]\n'
    )
    out = tmp_path / "out"
    run_heed("corpus", str(config), "--executor", "local", "--out", str(out))
    rows = {
        r["url"]: r
        for p in sorted((out / "audit").glob("part-*.parquet"))
        for r in pq.read_table(p).to_pylist()
    }
    snap_id = Snapshot(snap_dir).id
    blocked = [t for t in truth if t["host"] == blocker]
    reserved = [t for t in truth if t["host"] == reserver]
    assert blocked and reserved
    for t in blocked:
        row = rows[t["url"]]
        assert (row["reason"], row["optout_signal"]) == ("robots_disallow", "robots"), t["url"]
        assert row["robots_agents"] == "GPTBot"
        assert (row["robots_rule"], row["robots_line"]) == ("Disallow: /", 6)
        assert row["robots_snapshot"] == snap_id
        assert row["robots_captured"] == "2025-01-15T00:00:00Z"
    for t in reserved:
        row = rows[t["url"]]
        assert (row["reason"], row["optout_signal"]) == ("tdm_reservation", "tdmrep_json")
        assert "tdmrep.json" in row["detail"]
    # Hosts the folder does not hold are still judged by the crawl's own captures.
    others = [t for t in truth if t["robots_blocked_agents"] and t["kind"] != "corrupt"]
    assert all(rows[t["url"]]["stage"] == "opt_out" for t in others)


TDMREP = b'[{"location": "/*", "tdm-reservation": 1}]'


@pytest.fixture
def robots_server():
    """A real HTTP server on 127.0.0.1 serving one robots.txt, and a tdmrep.json for 127.0.0.1
    (none for localhost); it counts the requests it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.headers['Host']} {self.path}")
            status, body = 200, b"User-agent: GPTBot\nDisallow: /\n"
            if self.path == "/.well-known/tdmrep.json":
                on_ip = self.headers["Host"].startswith("127.0.0.1:")
                status, body = (200, TDMREP) if on_ip else (404, b"not found")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def build_live(tmp_path: Path, hosts: str, port: int, *flags: str) -> Path:
    """`heed robots build --live` over http on `port`, for the hosts given; returns its out."""
    (tmp_path / "hosts.txt").write_text(hosts)
    out = tmp_path / "live"
    run_heed(
        "robots",
        "build",
        "--live",
        "--hosts",
        str(tmp_path / "hosts.txt"),
        "--scheme",
        "http",
        "--port",
        str(port),
        "--out",
        str(out),
        *flags,
    )
    return out


def test_live_snapshot_from_a_loopback_server(robots_server, tmp_path) -> None:
    port, seen = robots_server
    out = build_live(tmp_path, "127.0.0.1\nlocalhost\n", port, "--allow-private")
    found = Snapshot(out).lookup(["127.0.0.1", "localhost"])
    assert sorted(found) == ["127.0.0.1", "localhost"]
    for capture in found.values():
        assert (capture.status, capture.scheme) == (200, "http")
        assert not explain(capture.body, "GPTBot", "https://x.org/a").allowed
        assert capture.source.startswith("live:http://")
    # /.well-known/tdmrep.json is asked for too, and kept where the host has one.
    assert (found["127.0.0.1"].tdmrep, found["localhost"].tdmrep) == (TDMREP, None)
    assert sorted(seen) == [
        f"{host}:{port} {path}"
        for host in ("127.0.0.1", "localhost")
        for path in ("/.well-known/tdmrep.json", "/robots.txt")
    ]


def test_live_snapshot_refuses_loopback_without_the_flag(robots_server, tmp_path) -> None:
    port, seen = robots_server
    out = build_live(tmp_path, "127.0.0.1\n", port)
    capture = Snapshot(out).lookup(["127.0.0.1"])["127.0.0.1"]
    # Refused before connecting: unreachable, which RFC 9309 reads as disallow all.
    assert capture.status is None and "refused" in capture.source
    assert not explain(capture.body, "GPTBot", "https://x.org/a", status=capture.status).allowed
    assert seen == []


def test_domain_mode_drops_every_host_of_a_refusing_domain(truth, tmp_path) -> None:
    """A sibling host (not in the crawl) refuses GPTBot at "/": in domain mode the pages of
    its allowed sibling go too, with the sibling named; in url mode they stay."""
    allowed = sorted(
        {
            t["host"]
            for t in truth
            if t["robots_category"] == "allow_all"
            and t["host"].startswith("www.")
            and not (t["tdm_reservation"] or t["noai"])
        }
    )
    target = allowed[0]
    sibling = "cdn." + target.removeprefix("www.")
    folder = tmp_path / "robots"
    (folder / sibling).mkdir(parents=True)
    (folder / sibling / "robots.txt").write_text("User-agent: GPTBot\nDisallow: /\n")
    outs = {}
    for mode in ("url", "domain"):
        config = tmp_path / f"{mode}.toml"
        config.write_text(
            f'name = "t"\ncrawl_root = "{SAMPLE_ROOT}"\ncrawl = "{CRAWL}"\n'
            f'stages = ["opt_out"]\n[stage.opt_out]\nmode = "{mode}"\n'
            f'robots_dirs = ["{folder}"]\n'
        )
        outs[mode] = tmp_path / mode
        run_heed("corpus", str(config), "--executor", "local", "--out", str(outs[mode]))
    rows = {
        mode: {
            r["url"]: r
            for p in sorted((out / "audit").glob("part-*.parquet"))
            for r in pq.read_table(p).to_pylist()
        }
        for mode, out in outs.items()
    }
    pages = [t["url"] for t in truth if t["host"] == target]
    assert pages
    for url in pages:
        assert rows["url"][url]["status"] == "kept"
        row = rows["domain"][url]
        assert (row["reason"], row["optout_signal"]) == ("robots_domain", "robots_domain")
        assert (
            sibling in row["detail"] and "GPTBot refused by 'Disallow: /' (line 2)" in row["detail"]
        )
    # Everything else is decided as in url mode, except pages of other refusing domains.
    blocked = json.loads((outs["domain"] / "robots" / "blocked-domains.json").read_text())
    for url, row in rows["url"].items():
        if row["status"] == "kept" and rows["domain"][url]["status"] != "kept":
            assert rows["domain"][url]["reason"] == "robots_domain"
            assert any(row["host"] == d or row["host"].endswith("." + d) for d in blocked)


def test_hosts_restrict_a_snapshot(truth, tmp_path) -> None:
    captured = {c.host for c in captures_from_crawl(str(SAMPLE_ROOT), CRAWL)}
    pages = {t["host"] for t in truth}
    chosen = sorted(captured)[:3]
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# three hosts\n" + "\n".join(h.upper() for h in chosen) + "\n")
    run_heed(
        "robots",
        "build",
        "--from-crawl",
        CRAWL,
        "--crawl-root",
        str(SAMPLE_ROOT),
        "--hosts",
        str(hosts),
        "--out",
        str(tmp_path / "three"),
        "--executor",
        "local",
    )
    assert json.loads((tmp_path / "three" / "snapshot.json").read_text())["hosts"] == 3
    assert sorted(Snapshot(tmp_path / "three").lookup(captured)) == chosen
    run_heed(
        "robots",
        "build",
        "--from-crawl",
        CRAWL,
        "--crawl-root",
        str(SAMPLE_ROOT),
        "--hosts-from-crawl",
        CRAWL,
        "--out",
        str(tmp_path / "paged"),
        "--executor",
        "local",
    )
    assert sorted(Snapshot(tmp_path / "paged").lookup(captured)) == sorted(captured & pages)

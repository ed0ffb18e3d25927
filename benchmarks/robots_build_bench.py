"""The robots snapshot build at crawl scale, over a loopback Common Crawl server.

Generates two crawls (benchmarks/robots_crawl.py: by default 500 and 1,000 robots.txt capture
files of 200 new hosts each plus 10% recaptures, and 100 WARC shards of tiny pages), serves
them with tests/crawl_server.py's CrawlServer on 127.0.0.1, and measures:

* `heed robots build --from-crawl` on the large crawl with 1 and with 2 workers (`--executor
  ray --num-cpus N`): wall time, their ratio, and captures per CPU second (the command and
  every process under it, Ray's included);
* the driver's peak RSS (the `heed robots build` process alone, from getrusage in a wrapper,
  without its Ray workers) on both crawls: it must not grow with the capture files;
* a build killed (SIGKILL of its process group) halfway, once partial outputs exist and before
  snapshot.json does, then run again: every file under the snapshot folder and the id must equal
  an uninterrupted build's;
* `heed corpus configs/commoncrawl.toml --crawl-root http://127.0.0.1:PORT/ --shards 2` with the
  crawl's snapshot already where the config keeps it: seconds until its first shard marker,
  that the snapshot was not rebuilt (its files untouched, no "building" line in the log), and
  that the manifest names the snapshot id.

Each snapshot is also checked against the generator's own record of each host's latest capture.
CPU time is sampled from /proc for every process of the command's tree and session, ten times a
second (a process's last tenth of a second before it ends can be missed). Without `--executor`
in `heed robots build --help` (the sequential build), the builds run without executor flags:
"1 and 2 workers" are then the same command, and a kill finds no partial outputs, so it comes at
half the uninterrupted build's time.

    python benchmarks/robots_build_bench.py [--small 500] [--large 1000] [--hosts-per-file 200]
        [--shards 100] [--repeats 1] [--scratch DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))
from crawl_server import CrawlServer  # noqa: E402
from robots_crawl import SimCrawl, Size, generate  # noqa: E402

WRAP = "--wrap"  # argv[1] of the wrapper mode: run `heed ARGS` here, then write its usage
TICK = os.sysconf("SC_CLK_TCK")
FINAL = re.compile(r"\.?part-\d+\.parquet(\.tmp)?")  # a snapshot's own bucket files (and temps)


# --------------------------------------------------------------------------- running heed


def wrapped() -> int:
    """`robots_build_bench.py --wrap FILE ARGS...`: `heed ARGS` in this process; then FILE gets
    this process's own peak RSS and CPU seconds (children not included)."""
    usage_file, argv = sys.argv[2], sys.argv[3:]
    code = 1
    try:
        from heed.cli import main

        code = main(argv)
    finally:
        me = resource.getrusage(resource.RUSAGE_SELF)
        usage = {"max_rss_kib": me.ru_maxrss, "cpu_s": me.ru_utime + me.ru_stime}
        Path(usage_file).write_text(json.dumps(usage))
    return code


def _proc_stat(pid: str) -> tuple[int, int, float] | None:
    """(ppid, session, own CPU seconds) of a live process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[3]), (int(fields[11]) + int(fields[12])) / TICK


class Tree:
    """CPU seconds of a process, every process below it and every process of its session,
    sampled from /proc: the latest figure seen for each."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.cpu: dict[int, float] = {}
        self.alive: set[int] = set()

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (stat := _proc_stat(entry)) is not None:
                stats[int(entry)] = stat
        members = {pid for pid, (_, sid, _) in stats.items() if sid == self.root}
        members |= set(self.cpu) & set(stats)  # pid reuse inside one run is not a concern
        members.add(self.root)
        grew = True
        while grew:  # descendants, whatever their session
            below = {pid for pid, (ppid, _, _) in stats.items() if ppid in members}
            grew = not below <= members
            members |= below
        self.alive = {pid for pid in members if pid in stats}
        for pid in self.alive:
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), stats[pid][2])

    @property
    def total(self) -> float:
        return sum(self.cpu.values())

    def kill_rest(self) -> None:
        """SIGKILL, one by one, whatever of the tree still lives (a Ray process left behind)."""
        self.sample()
        for pid in sorted(self.alive):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class Run:
    """One `heed` command as it ran."""

    args: list[str]
    returncode: int
    wall: float  # seconds from start to the command's exit
    cpu: float  # CPU seconds of the command and everything under it
    driver_rss_mib: float | None  # the command's own process; None if it was killed
    driver_cpu: float | None
    stdout: str
    lines: list[tuple[float, str]]  # stderr lines with the seconds since start they came at
    killed: dict[str, object] | None = None
    events: dict[str, float] = field(default_factory=dict)

    @property
    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)


def run_heed(
    args: list[str],
    scratch: Path,
    *,
    kill_when: Callable[[float], dict[str, object] | None] | None = None,
    watch: Callable[[Tree], list[str]] | None = None,
    timeout: float = 1800,
    home: Path | None = None,
) -> Run:
    """Run `heed ARGS` in its own session and process group, sampling its tree's CPU.

    `kill_when(elapsed)` is asked twenty times a second; when it returns a dict, the process
    group gets SIGKILL (then any straggler of the tree, by pid) and the dict is kept in
    `Run.killed`. `watch(tree)` names the events seen now; each one's first time is kept."""
    usage_file = scratch / f"usage-{time.monotonic_ns()}.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)  # a local Ray of its own, never the lead's cluster
    if home is not None:  # where `~` in a config leads (its crawl_snapshots folder)
        env["HOME"] = str(home)
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), WRAP, str(usage_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    lines: list[tuple[float, str]] = []
    out: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append((time.monotonic() - began, line.rstrip("\n")))

    def read_stdout() -> None:
        out.append(proc.stdout.read())  # type: ignore[union-attr]

    readers = [threading.Thread(target=read_stderr), threading.Thread(target=read_stdout)]
    for reader in readers:
        reader.start()
    tree = Tree(proc.pid)
    killed = None
    events: dict[str, float] = {}
    last_sample = 0.0
    while proc.poll() is None:
        elapsed = time.monotonic() - began
        if elapsed - last_sample >= 0.1:
            tree.sample()
            last_sample = elapsed
        if watch is not None:
            for name in watch(tree):
                events.setdefault(name, round(elapsed, 2))
        if kill_when is not None and killed is None and (found := kill_when(elapsed)):
            tree.sample()
            killed = {**found, "at_s": round(elapsed, 2)}
            os.killpg(proc.pid, signal.SIGKILL)
            tree.kill_rest()
        if elapsed > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            tree.kill_rest()
            raise TimeoutError(f"heed {' '.join(args)} ran past {timeout} s")
        time.sleep(0.05)
    wall = time.monotonic() - began
    # Ray's processes end after the driver: count them until they are gone (a few seconds).
    deadline = time.monotonic() + 20
    while True:
        tree.sample()
        if not tree.alive or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    tree.kill_rest()
    for reader in readers:
        reader.join()
    usage = json.loads(usage_file.read_text()) if usage_file.is_file() else None
    return Run(
        args=args,
        returncode=proc.returncode,
        wall=wall,
        cpu=tree.total,
        driver_rss_mib=usage["max_rss_kib"] / 1024 if usage else None,
        driver_cpu=usage["cpu_s"] if usage else None,
        stdout="".join(out),
        lines=lines,
        killed=killed,
        events=events,
    )


# --------------------------------------------------------------------------- the build


def parallel_build() -> bool:
    """Whether `heed robots build` takes --executor (the build as tasks)."""
    proc = subprocess.run(
        [sys.executable, "-m", "heed.cli", "robots", "build", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return "--executor" in proc.stdout


def build_args(
    snap: Path, crawl: str, root: str, workers: int | None, parallel: bool, buckets: int = 64
) -> list[str]:
    args = ["robots", "build", "--out", str(snap), "--from-crawl", crawl, "--crawl-root", root]
    args += ["--buckets", str(buckets)]
    if parallel and workers is not None:
        args += ["--executor", "ray", "--num-cpus", str(workers)]
    return args


def build(
    snap: Path,
    crawl: str,
    root: str,
    scratch: Path,
    workers: int | None,
    parallel: bool,
    buckets: int = 64,
    **options: object,
) -> Run:
    run = run_heed(
        build_args(snap, crawl, root, workers, parallel, buckets),
        scratch,
        watch=lambda tree: ["first task"] if titled(tree, b"ray::heed.") else [],
        **options,  # type: ignore[arg-type]
    )
    if run.returncode != 0 and run.killed is None:
        raise RuntimeError(f"heed {' '.join(run.args)} exited {run.returncode}:\n{run.stderr}")
    return run


def snapshot_files(snap: Path) -> dict[str, bytes]:
    """Every file under a snapshot folder (relative path -> bytes), hidden ones included."""
    return {
        str(p.relative_to(snap)): p.read_bytes() for p in sorted(snap.rglob("*")) if p.is_file()
    }


def partials(snap: Path) -> list[str]:
    """Files under a snapshot folder that are not its finished output: not snapshot.json, not
    a top-level part-NNNN.parquet (or its temporary), not the sequential build's .spill/."""
    found = []
    for path in snap.rglob("*"):
        rel = path.relative_to(snap)
        if not path.is_file() or rel.parts[0] == ".spill":
            continue
        if len(rel.parts) == 1 and (rel.name == "snapshot.json" or FINAL.fullmatch(rel.name)):
            continue
        found.append(str(rel))
    return sorted(found)


def halfway(
    snap: Path, after: float, expect_partials: bool
) -> Callable[[float], dict[str, object] | None]:
    """A kill condition: once `after` seconds have passed, partial outputs exist and
    snapshot.json does not. A build that writes no partials (the sequential one) is killed at
    `after`; one expected to write them but showing none under `snap`, at 1.8 x `after`."""

    def due(elapsed: float) -> dict[str, object] | None:
        if elapsed < after or (snap / "snapshot.json").exists():
            return None
        found = partials(snap)
        if found:
            return {"trigger": "partial outputs", "partials": len(found)}
        if not expect_partials or elapsed >= 1.8 * after:
            return {"trigger": "time, no partial outputs under the snapshot", "partials": 0}
        return None

    return due


def read_snapshot(snap: Path) -> dict[str, tuple[str, int, str, str]]:
    """host -> (capture time, status, sha256, scheme), read with pyarrow alone."""
    import pyarrow.parquet as pq

    rows: dict[str, tuple[str, int, str, str]] = {}
    columns = ["host", "capture_time", "status", "sha256", "scheme"]
    for part in sorted(snap.glob("part-*.parquet")):
        table = pq.read_table(part, columns=columns)
        for host, when, status, digest, scheme in zip(
            *(table.column(c).to_pylist() for c in columns), strict=True
        ):
            if host in rows:
                raise AssertionError(f"{snap}: host {host} twice")
            rows[host] = (when, status, digest, scheme)
    return rows


def truth_rows(sim: SimCrawl) -> dict[str, tuple[str, int, str, str]]:
    return {h: (x.time, x.status, x.sha256, x.scheme) for h, x in sim.latest.items()}


def mismatches(snap: Path, sim: SimCrawl) -> int:
    """Hosts whose row differs from the generator's latest capture (missing or extra count)."""
    got, want = read_snapshot(snap), truth_rows(sim)
    return sum(got.get(h) != row for h, row in want.items()) + len(set(got) - set(want))


def snapshot_id(snap: Path) -> str:
    return json.loads((snap / "snapshot.json").read_text())["id"]


# --------------------------------------------------------------------------- the corpus run


def titled(tree: Tree, prefix: bytes) -> bool:
    """Whether a live process of the tree has a command line starting with `prefix` (a Ray
    worker is titled `ray::heed.NAME` while it runs a task of that name)."""
    for pid in tree.alive:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(prefix):
                return True
    return False


def corpus_with_snapshot(
    server: CrawlServer, sim: SimCrawl, snap: Path, scratch: Path, workers: int
) -> tuple[Run, dict[str, object]]:
    """`heed corpus configs/commoncrawl.toml` on 2 shards with the crawl's snapshot already
    built where the config keeps crawl snapshots (its crawl_snapshots, ~/.cache/heed/robots,
    with HOME a scratch folder): when its first shard task starts and its first shard marker
    appears; whether the snapshot was rebuilt (a capture file fetched from the server, a
    "building" log line, a snapshot file changed); whether the manifest names its id."""
    out = scratch / "corpus"
    shutil.rmtree(out, ignore_errors=True)
    home = scratch / "home"
    placed = home / ".cache" / "heed" / "robots" / sim.crawl
    shutil.rmtree(placed, ignore_errors=True)
    shutil.copytree(snap, placed)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in placed.rglob("*") if p.is_file()}
    markers = out / "markers"

    def watch(tree: Tree) -> list[str]:
        seen = ["first marker"] if markers.is_dir() and any(markers.iterdir()) else []
        return seen + (["first shard task"] if titled(tree, b"ray::heed.shard") else [])

    args = ["-v", "corpus", "configs/commoncrawl.toml", "--crawl-root", server.url]
    args += ["--crawl", sim.crawl, "--shards", "2", "--out", str(out)]
    args += ["--executor", "ray", "--num-cpus", str(workers)]
    server.reset()
    run = run_heed(args, scratch, watch=watch, home=home)
    if run.returncode != 0:
        raise RuntimeError(f"heed {' '.join(args)} exited {run.returncode}:\n{run.stderr}")
    captures = set(sim.robots_paths)
    fetched = sum(r.method == "GET" and r.path in captures for r in server.requests)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in placed.rglob("*") if p.is_file()}
    manifest = (out / "manifest.json").read_text() if (out / "manifest.json").is_file() else ""
    wanted = snapshot_id(snap)
    facts: dict[str, object] = {
        "first_task_s": run.events.get("first shard task"),
        "first_marker_s": run.events.get("first marker"),
        "captures_fetched": fetched,
        "untouched": before == after,
        "rebuild_logged": any("building the robots snapshot" in line for _, line in run.lines),
        "manifest_names_id": wanted in manifest,
        "snapshot_lines": [(t, line) for t, line in run.lines if "snapshot" in line.lower()][:3],
        "id": wanted,
    }
    return run, facts


# --------------------------------------------------------------------------- the benchmark


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=500, help="capture files, small crawl")
    parser.add_argument("--large", type=int, default=1000, help="capture files, large crawl")
    parser.add_argument("--hosts-per-file", type=int, default=200)
    parser.add_argument("--shards", type=int, default=100)
    parser.add_argument("--buckets", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=1, help="builds with 1 and 2 workers each (median kept)"
    )
    parser.add_argument("--scratch", type=Path, help="folder for the crawls (default: a temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="robots-build-", dir=args.scratch))
    log = lambda msg: print(f"[{time.monotonic() - began:6.1f}s] {msg}", file=sys.stderr)  # noqa: E731
    began = time.monotonic()
    parallel = parallel_build()
    try:
        root = scratch / "bucket"
        sims = {}
        for label, files in (("small", args.small), ("large", args.large)):
            size = Size(files, args.hosts_per_file, shards=args.shards, seed=args.seed)
            t = time.monotonic()
            sims[label] = generate(root, size, f"CC-MAIN-SIM-{files}", workers=os.cpu_count() or 1)
            sim = sims[label]
            log(
                f"generated {sim.crawl}: {len(sim.robots_paths):,} files, {sim.captures:,} "
                f"captures of {sim.hosts:,} hosts, {len(sim.warc_paths)} shards, "
                f"{sim.bytes / 2**20:,.0f} MiB in {time.monotonic() - t:.0f} s"
            )
        large, small = sims["large"], sims["small"]
        with CrawlServer(root) as server:
            url = server.url

            def one(sim: SimCrawl, workers: int, name: str, **options: object) -> Run:
                snap = scratch / "snaps" / name
                shutil.rmtree(snap, ignore_errors=True)
                run = build(
                    snap, sim.crawl, url, scratch, workers, parallel, args.buckets, **options
                )
                log(
                    f"{name}: rc {run.returncode}, {run.wall:.1f} s wall, {run.cpu:.1f} CPU s, "
                    f"driver {mib(run.driver_rss_mib)} MiB"
                    + (f", killed {run.killed}" if run.killed else "")
                )
                return run

            # 1 and 2 workers alternate (the machine is shared); the median run of each counts.
            tries: dict[int, list[Run]] = {1: [], 2: []}
            ids: set[str] = set()
            for _ in range(args.repeats):
                for workers in (1, 2):
                    tries[workers].append(one(large, workers, f"large-{workers}"))
                    ids.add(snapshot_id(scratch / "snaps" / f"large-{workers}"))
            w1, w2 = (sorted(tries[n], key=lambda run: run.wall)[args.repeats // 2] for n in (1, 2))
            s2 = one(small, 2, "small-2")
            reference = scratch / "snaps" / "large-2"
            id1, id2 = snapshot_id(scratch / "snaps" / "large-1"), snapshot_id(reference)
            wrong = {
                "large-1": mismatches(scratch / "snaps" / "large-1", large),
                "large-2": mismatches(reference, large),
                "small-2": mismatches(scratch / "snaps" / "small-2", small),
            }
            # Killed halfway: after half the uninterrupted 2-worker build's time, once partial
            # outputs exist and before snapshot.json does; then run again to the end.
            killed_snap = scratch / "snaps" / "killed"
            due = halfway(killed_snap, w2.wall / 2, expect_partials=parallel)
            k = one(large, 2, "killed", kill_when=due)
            had_meta = (killed_snap / "snapshot.json").exists()
            r = build(killed_snap, large.crawl, url, scratch, 2, parallel, args.buckets)
            log(f"rerun: {r.wall:.1f} s wall, {r.cpu:.1f} CPU s")
            same = snapshot_files(killed_snap) == snapshot_files(reference)
            ids.add(snapshot_id(killed_snap))
            corpus, facts = corpus_with_snapshot(server, large, reference, scratch, 2)
            log(f"corpus: {corpus.wall:.1f} s, {facts}")

        def tasks(run: Run) -> str:
            first = run.events.get("first task")
            return "-" if first is None else f"{run.wall - first:.1f}"

        def rate(run: Run) -> str:
            return f"{large.captures / run.cpu:,.0f}" if run.cpu else "-"

        rows = [
            ("1 worker", large, w1, rate(w1)),
            ("2 workers", large, w2, rate(w2)),
            ("2 workers", small, s2, f"{small.captures / s2.cpu:,.0f}" if s2.cpu else "-"),
        ]
        impl = (
            "parallel build (--executor ray --num-cpus N)"
            if parallel
            else "sequential build (this heed's `heed robots build` has no --executor: the same "
            "command for 1 and 2 workers)"
        )
        print(
            f"robots snapshot build on a generated crawl over loopback HTTP: {impl}; CPU time "
            "of the command and every process under it; load average at the end "
            + "/".join(f"{x:.1f}" for x in os.getloadavg())
            + " (1/5/15 min, the benchmark's own work included)"
        )
        print()
        print(
            "| crawl | capture files | captures | hosts | workers | wall s | from first task s "
            "| CPU s | captures/s per core | driver peak RSS MiB | snapshot id | hosts wrong |"
        )
        print("|---|--:|--:|--:|---|--:|--:|--:|--:|--:|---|--:|")
        names = {"1 worker": "large-1", "2 workers": "large-2"}
        for label, sim, run, per_core in rows:
            name = names[label] if sim is large else "small-2"
            print(
                f"| {sim.crawl} | {len(sim.robots_paths):,} | {sim.captures:,} | {sim.hosts:,} "
                f"| {label} | {run.wall:.1f} | {tasks(run)} | {run.cpu:.1f} | {per_core} "
                f"| {mib(run.driver_rss_mib)} | {snapshot_id(scratch / 'snaps' / name)} "
                f"| {wrong[name]} |"
            )
        print()
        ratio = w2.wall / w1.wall
        walls = "; ".join(
            f"{n} worker{'s' * (n > 1)}: " + ", ".join(f"{r.wall:.1f}" for r in tries[n])
            for n in (1, 2)
        )
        print(f"- 2 workers / 1 worker wall time: {ratio:.2f} (target <= 0.6; wall s, {walls})")
        if "first task" in w1.events and "first task" in w2.events:
            after = (w2.wall - w2.events["first task"]) / (w1.wall - w1.events["first task"])
            print(f"- the same from the first Ray task on (Ray's start left out): {after:.2f}")
        print(
            f"- same snapshot id with 1 and 2 workers: {id1 == id2} ({id1}, {id2}); every large "
            f"build, the killed one's rerun included, gave one id: {len(ids) == 1}"
        )
        grow = (s2.driver_rss_mib or 0) and (w2.driver_rss_mib or 0) / (s2.driver_rss_mib or 1)
        print(
            f"- driver peak RSS, {len(large.robots_paths):,} vs {len(small.robots_paths):,} "
            f"capture files (2 workers): {mib(w2.driver_rss_mib)} vs {mib(s2.driver_rss_mib)} "
            f"MiB ({grow:.2f}x)"
        )
        if k.killed is None:
            print("- not killed: the build finished first (snapshot.json written)")
        else:
            print(
                f"- killed with SIGKILL at {k.killed['at_s']} s of {w2.wall:.1f} "
                f"({k.killed['trigger']}: {k.killed['partials']} partial files, snapshot.json "
                f"{'present' if had_meta else 'absent'}), rerun {r.wall:.1f} s wall: every file "
                f"and the id equal to the uninterrupted build's: {same}"
            )
        print(
            f"- heed corpus configs/commoncrawl.toml --shards 2 (Ray, 2 CPUs) with the snapshot "
            f"in place: first shard task running at {facts['first_task_s']} s, first shard "
            f"marker at {facts['first_marker_s']} s, whole run {corpus.wall:.1f} s; capture "
            f"files fetched: {facts['captures_fetched']}; snapshot files untouched: "
            f"{facts['untouched']}; rebuild logged: {facts['rebuild_logged']}; manifest names "
            f"{facts['id']}: {facts['manifest_names_id']}"
        )
        for t, line in facts["snapshot_lines"]:  # type: ignore[attr-defined]
            print(f"  - log at {t:.1f} s: {line.strip()[:160]}")
        ok = id1 == id2 and same and not any(wrong.values()) and facts["manifest_names_id"]
        ok = ok and k.killed is not None and len(ids) == 1
        ok = ok and facts["captures_fetched"] == 0 and not facts["rebuild_logged"]
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == WRAP:
        sys.exit(wrapped())
    sys.exit(main())

"""Where shards run: Ray (a local Ray started in-process, or a cluster), or in this process.

Both run the same `process_shard`; one shard is one task. A shard that fails is reported with
its error and the others go on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heed.curation.config import PipelineConfig
from heed.curation.crawl.listing import Shard
from heed.curation.run.shard import process_shard

log = logging.getLogger(__name__)
EXECUTORS = ("ray", "local")


@dataclass
class RunResult:
    markers: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # shard path -> error


class Progress:
    """What an executor reports: records processed and shards finished."""

    def records(self, n: int) -> None: ...

    def shard_done(self, marker: dict[str, Any]) -> None: ...

    def shard_failed(self, shard: Shard, error: str) -> None: ...


def run_local(
    config: PipelineConfig, shards: list[Shard], out: Path, progress: Progress
) -> RunResult:
    result = RunResult()
    for shard in shards:
        try:
            marker = process_shard(config, shard, out, progress.records)
        except Exception as exc:
            log.error("shard %s failed:\n%s", shard.path, traceback.format_exc())
            result.failed[shard.path] = f"{type(exc).__name__}: {exc}"
            progress.shard_failed(shard, result.failed[shard.path])
            continue
        result.markers.append(marker)
        progress.shard_done(marker)
    return result


def _ray_init(address: str | None) -> None:
    address = address or os.environ.get("RAY_ADDRESS")
    host = (address or "").removeprefix("ray://").rsplit(":", 1)[0]
    if host in ("", "localhost", "127.0.0.1", "::1", "[::1]"):
        # A Ray of this machine only stays on loopback, as Ray itself does on macOS, instead
        # of the primary interface's address. Read when ray is first imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        # A laptop-sized local Ray: no dashboard, a small object store (tasks return only
        # their markers; the data goes to files).
        ray.init(
            include_dashboard=False,
            object_store_memory=128 * 1024 * 1024,
            log_to_driver=True,
            configure_logging=False,
        )


class RayGate:
    """A cap on open connections per host shared by every task of a Ray run (see
    curation.fetch.ConnectionGate): slots live in one actor; a holder renews its lease while
    it reads, so a slot held by a worker that died comes free after `lease_seconds`."""

    def __init__(
        self, per_host: int, lease_seconds: float = 60.0, options: dict[str, Any] | None = None
    ) -> None:
        import ray

        self.per_host, self.lease_seconds = per_host, lease_seconds
        self.slots = ray.remote(num_cpus=0)(_Slots).options(**(options or {})).remote(per_host)

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        import ray

        lease = uuid.uuid4().hex
        wait = 0.05
        while not ray.get(self.slots.acquire.remote(host, lease, self.lease_seconds)):
            time.sleep(wait)
            wait = min(wait * 2, 2.0)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_seconds / 3):
                self.slots.renew.remote(host, lease, self.lease_seconds)

        renewer = threading.Thread(target=renew, daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            ray.get(self.slots.release.remote(host, lease))


class _Slots:
    """RayGate's actor: per host, the leases held and when each runs out."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self.leases: dict[str, dict[str, float]] = {}
        self.peak: dict[str, int] = {}

    def acquire(self, host: str, lease: str, seconds: float) -> bool:
        now = time.monotonic()
        held = self.leases.setdefault(host, {})
        for key in [k for k, until in held.items() if until < now]:
            del held[key]  # its holder stopped renewing: gone
        if len(held) >= self.per_host:
            return False
        held[lease] = now + seconds
        self.peak[host] = max(self.peak.get(host, 0), len(held))
        return True

    def renew(self, host: str, lease: str, seconds: float) -> None:
        if lease in self.leases.get(host, {}):
            self.leases[host][lease] = time.monotonic() + seconds

    def release(self, host: str, lease: str) -> None:
        self.leases.get(host, {}).pop(lease, None)

    def most_held(self) -> dict[str, int]:
        return dict(self.peak)


def run_ray(
    config: PipelineConfig,
    shards: list[Shard],
    out: Path,
    progress: Progress,
    address: str | None = None,
) -> RunResult:
    _ray_init(address)
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # The run's actors live on the driver's own node: they share its fate, and a worker node
    # that is lost mid-run (removed, crashed) costs only the shard tasks it ran, which Ray runs
    # again elsewhere (max_retries). Without a CPU of their own they never wait for a free one.
    here = {
        "num_cpus": 0,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False
        ),
    }

    @ray.remote
    class RecordCounter:
        def __init__(self) -> None:
            self.count = 0

        def add(self, n: int) -> None:
            self.count += n

        def take(self) -> int:
            count, self.count = self.count, 0
            return count

    counter = RecordCounter.options(**here).remote()
    gate = RayGate(config.fetch_options().connections_per_host, options=here)

    def task(cfg: PipelineConfig, shard: Shard, out_dir: str, gate: RayGate) -> dict[str, Any]:
        logging.basicConfig(level=logging.WARNING)
        return process_shard(cfg, shard, out_dir, lambda n: counter.add.remote(n), gate)

    remote = ray.remote(num_cpus=1, max_retries=2, retry_exceptions=False)(task)
    config_ref = ray.put(config)
    pending: dict[Any, Shard] = {remote.remote(config_ref, s, str(out), gate): s for s in shards}
    result = RunResult()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        with contextlib.suppress(ray.exceptions.RayActorError):  # progress lost, not the run
            progress.records(ray.get(counter.take.remote()))
        for ref in ready:
            shard = pending.pop(ref)
            try:
                marker = ray.get(ref)
            except Exception as exc:
                cause = getattr(exc, "cause", None) or exc
                result.failed[shard.path] = f"{type(cause).__name__}: {cause}"
                log.error("shard %s failed: %s", shard.path, exc)
                progress.shard_failed(shard, result.failed[shard.path])
                continue
            result.markers.append(marker)
            progress.shard_done(marker)
    return result


def run(
    executor: str,
    config: PipelineConfig,
    shards: list[Shard],
    out: Path,
    progress: Progress,
    ray_address: str | None = None,
) -> RunResult:
    if executor == "ray":
        result = run_ray(config, shards, out, progress, ray_address)
    elif executor == "local":
        result = run_local(config, shards, out, progress)
    else:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    result.markers.sort(key=lambda m: m["index"])
    return result

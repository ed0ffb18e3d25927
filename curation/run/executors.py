"""Where tasks run: on Ray (a local Ray started in this process, or a cluster) or in this
process. An executor maps a task function over items, one task per item; a task that fails is
reported with its error and the others go on. The corpus run maps `process_shard` over shards;
corpus-wide steps map their own task functions the same way.

A task function takes `(item, tools)`: `tools.count(n)` reports units of progress (records) and
`tools.gate` caps open connections per host across every task of the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from heed.curation.crawl.fetch import ConnectionGate, process_gate
from heed.curation.errors import ConfigError

log = logging.getLogger(__name__)
EXECUTORS = ("ray", "local")
Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised: its error as one line (the traceback went to the log)."""

    error: str


class Progress:
    """What a run reports as it goes. This default logs messages and ignores the rest; the
    command line draws bars."""

    def message(self, text: str) -> None:
        logging.getLogger("heed").info(text)

    def begin(self, what: str, total: int, done: int = 0) -> None:
        """A map over `total` tasks starts, `done` of which were finished before."""

    def count(self, n: int) -> None:
        """`n` more units of work (records) done inside the running tasks."""

    def task_done(self, item: Any, result: Any) -> None: ...

    def task_failed(self, item: Any, error: str) -> None: ...

    def end(self) -> None:
        """The map is over."""


class TaskTools:
    """What a running task may use: progress counting and the connection gate."""

    def __init__(self, count: Callable[[int], None], gate: ConnectionGate) -> None:
        self.count, self.gate = count, gate


class Executor(Generic[Item, Result]):
    name = ""

    def map(
        self,
        task: Callable[[Any, TaskTools], Any],
        items: Sequence[Any],
        progress: Progress | None = None,
        connections_per_host: int = 16,
        name: str = "task",
    ) -> list[tuple[Any, Any]]:
        """`task(item, tools)` for every item; (item, result or TaskFailure) in item order.
        `name` names the tasks (a Ray worker running one is titled `ray::heed.NAME`)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the tasks run, for the run's first line."""
        return self.name

    def close(self) -> None:
        """Release what the executor started (a local Ray)."""


class LocalExecutor(Executor[Any, Any]):
    """Every task in this process, one after the other: the same code as on Ray, debuggable."""

    name = "local"

    def map(
        self,
        task: Callable[[Any, TaskTools], Any],
        items: Sequence[Any],
        progress: Progress | None = None,
        connections_per_host: int = 16,
        name: str = "task",
    ) -> list[tuple[Any, Any]]:
        progress = progress or Progress()
        tools = TaskTools(progress.count, process_gate(connections_per_host))
        results: list[tuple[Any, Any]] = []
        for item in items:
            try:
                result = task(item, tools)
            except Exception as exc:
                log.error("task %s failed:\n%s", item, traceback.format_exc())
                failure = TaskFailure(f"{type(exc).__name__}: {exc}")
                results.append((item, failure))
                progress.task_failed(item, failure.error)
                continue
            results.append((item, result))
            progress.task_done(item, result)
        return results


class RayExecutor(Executor[Any, Any]):
    """Tasks as Ray tasks (1 CPU each, retried twice if their worker dies): on a local Ray
    started here, capped at `num_cpus`, or on the cluster at `address` (`RAY_ADDRESS` when
    not given). The run's actors (progress counter, connection slots) live on the driver's
    node: a worker node that is lost mid-run costs only the tasks it ran, which Ray reruns."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        if self.address and self.address.startswith("ray://"):
            raise ConfigError(
                f"Ray address {self.address}: ray:// (Ray Client) addresses are not supported: "
                "the driver writes markers and the manifest itself, so it runs on a node of the "
                "cluster. Run heed on the head node (or any node) with the cluster's address, "
                "e.g. --ray-address HEAD:6379"
            )
        if num_cpus is not None and num_cpus < 1:
            raise ConfigError(f"--num-cpus {num_cpus}: must be at least 1")
        self.num_cpus = num_cpus
        self._started = False

    def describe(self) -> str:
        if self.address:
            return f"ray, the cluster at {self.address}"
        return "ray, started here" + (f" with {self.num_cpus} CPUs" if self.num_cpus else "")

    def _init(self) -> None:
        import ray

        if ray.is_initialized():
            return
        self._started = connect_ray(self.address, self.num_cpus)

    def map(
        self,
        task: Callable[[Any, TaskTools], Any],
        items: Sequence[Any],
        progress: Progress | None = None,
        connections_per_host: int = 16,
        name: str = "task",
    ) -> list[tuple[Any, Any]]:
        progress = progress or Progress()
        if not items:
            return []
        self._init()
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = {
            "num_cpus": 0,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(
                ray.get_runtime_context().get_node_id(), soft=False
            ),
        }
        counter = ray.remote(_Counter).options(**here).remote()
        gate = RayGate(connections_per_host, options=here)
        remote = ray.remote(num_cpus=1, max_retries=2, retry_exceptions=False)(_run_task)
        remote = remote.options(name=f"heed.{name}")
        task_ref = ray.put(task)
        # With a cap on CPUs (on a cluster too) no more tasks than that are in flight.
        limit = self.num_cpus or len(items)
        waiting = list(enumerate(items))
        pending: dict[Any, tuple[int, Any]] = {}
        results: dict[int, tuple[Any, Any]] = {}
        while waiting or pending:
            while waiting and len(pending) < limit:
                index, item = waiting.pop(0)
                pending[remote.remote(task_ref, item, counter, gate)] = (index, item)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            with contextlib.suppress(ray.exceptions.RayActorError):  # progress lost, not the run
                progress.count(ray.get(counter.take.remote()))
            for ref in ready:
                index, item = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:
                    cause = getattr(exc, "cause", None) or exc
                    failure = TaskFailure(f"{type(cause).__name__}: {cause}")
                    log.error("task %s failed: %s", item, exc)
                    results[index] = (item, failure)
                    progress.task_failed(item, failure.error)
                    continue
                results[index] = (item, result)
                progress.task_done(item, result)
        with contextlib.suppress(ray.exceptions.RayActorError):
            progress.count(ray.get(counter.take.remote()))
        return [results[i] for i in range(len(items))]

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _run_task(task: Callable[[Any, TaskTools], Any], item: Any, counter: Any, gate: Any) -> Any:
    logging.basicConfig(level=logging.WARNING)
    return task(item, TaskTools(lambda n: counter.add.remote(n), gate))


class _Counter:
    """Units of progress reported by running tasks, taken by the driver twice a second."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, n: int) -> None:
        self.count += n

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def connect_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Join the cluster at `address`, or start a local Ray; True when a local one was started.

    A cluster started by `ray start --head` has token authentication on (Ray 2.60); Ray's
    driver enables it by itself only for `address="auto"`. For an explicit address the driver
    asks the cluster: when it refuses a client without a token and RAY_AUTH_MODE is unset, the
    token at hand (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) is used."""
    host = (address or "").rsplit(":", 1)[0]
    if host in ("", "localhost", "127.0.0.1", "::1", "[::1]"):
        # A Ray of this machine only stays on loopback, as Ray itself does on macOS, instead
        # of the primary interface's address. Read when ray is first imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if address:
        _use_token_if_required(address)
        try:
            ray.init(address=address, log_to_driver=True, configure_logging=False)
        except (ConnectionError, RuntimeError) as exc:
            raise ConfigError(
                f"cannot join the Ray cluster at {address}: {exc}. Is it running (`ray status` "
                "on its head), and does this machine have the cluster's token when it uses "
                "token authentication (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)?"
            ) from None
        if num_cpus:
            log.info("on a cluster, --num-cpus %d caps the tasks in flight", num_cpus)
        return False
    # A laptop-sized local Ray of its own ("local": never a cluster that `ray start` left running
    # on this machine; --ray-address auto joins that one): no dashboard, a small object store
    # (tasks return only small results; the data goes to files).
    ray.init(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        object_store_memory=128 * 1024 * 1024,
        log_to_driver=True,
        configure_logging=False,
    )
    return True


def _use_token_if_required(address: str) -> None:
    """Turn token authentication on in this process when the cluster at `address` requires it
    (a GCS client without a token is refused at once) and RAY_AUTH_MODE is unset. A cluster
    without authentication is left so: a driver that asks for tokens would have its own
    workers' calls refused."""
    if "RAY_AUTH_MODE" in os.environ or address == "auto":
        return  # the user's choice, or Ray's own lookup of the local cluster
    try:
        import ray.exceptions
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
        from ray._raylet import GcsClient
    except ImportError:  # a Ray without token authentication
        return
    try:
        with _native_stderr_silenced():  # the refusal is expected here, not worth a warning
            GcsClient(address=address).get_all_node_info(timeout=10)
    except ray.exceptions.AuthenticationError:
        # What ray.init(address="auto") does for the cluster it finds on this machine.
        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    except Exception:  # unreachable, or not a GCS: ray.init says so below
        return


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null: Ray's C++ client logs what it was refused."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class RayGate:
    """A cap on open connections per host shared by every task of a Ray run (see
    heed.curation.crawl.fetch.ConnectionGate): slots live in one actor; a holder renews its
    lease while it reads, so a slot held by a worker that died comes free after
    `lease_seconds`."""

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


class TasksFailed(RuntimeError):
    """Tasks of a TaskRunner failed; the work carries on from its files when run again."""


class TaskRunner:
    """Runs `task(item)` functions as tasks of an executor, for a stage's driver-side work
    (heed.curation.stage.TaskMap): a failed task raises TasksFailed after the others ran."""

    def __init__(self, executor: Executor[Any, Any], progress: Progress | None = None) -> None:
        self.executor, self.progress = executor, progress or Progress()

    def map(self, task: Callable[[Any], Any], items: Sequence[Any], name: str) -> list[Any]:
        if not items:
            return []
        self.progress.begin(f"{name} tasks", len(items))
        try:
            done = self.executor.map(_PlainTask(task), items, self.progress, name=name)
        finally:
            self.progress.end()
        failed = [(item, result) for item, result in done if isinstance(result, TaskFailure)]
        if failed:
            item, failure = failed[0]
            raise TasksFailed(f"{len(failed)} {name} task(s) failed, first {item}: {failure.error}")
        return [result for _, result in done]

    def message(self, text: str) -> None:
        self.progress.message(text)


class _PlainTask:
    """A `task(item)` as an executor's `task(item, tools)` (picklable)."""

    def __init__(self, task: Callable[[Any], Any]) -> None:
        self.task = task

    def __call__(self, item: Any, tools: TaskTools) -> Any:
        return self.task(item)


def make_executor(
    name: str = "ray", ray_address: str | None = None, num_cpus: int | None = None
) -> Executor[Any, Any]:
    if name == "ray":
        return RayExecutor(ray_address, num_cpus)
    if name == "local":
        return LocalExecutor()
    raise ConfigError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")

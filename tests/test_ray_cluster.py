"""heed on a stock Ray cluster: a head and a second node started by `ray start` as the README's
cluster section says (Ray 2.60: token authentication on), on loopback, with `heed corpus` run
as its own process on the head node.

The commands are read from the README's cluster block and run with these substitutions only:
HEAD -> 127.0.0.1, port 6379 -> a free port, /shared/heed-sample -> a temporary folder; each
`ray start` gets `--node-ip-address 127.0.0.1 --num-cpus 1` (loopback only, two small nodes on
this 2-core machine) and `--block` (so the test owns its processes), and `ray stop`, which would
stop every Ray on the machine, becomes stopping the processes this test started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO, output_files

RAY = Path(sys.executable).with_name("ray")
HEED = Path(sys.executable).with_name("heed")
README_BLOCK = "<!-- cluster commands: tests/test_ray_cluster.py runs this block -->"


def readme_commands() -> list[str]:
    """The shell lines of the README's cluster block, comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split(README_BLOCK, 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, "PATH": f"{RAY.parent}:{env.get('PATH', '')}"}


def split_env(line: str) -> tuple[dict[str, str], list[str]]:
    """`A=1 cmd args` -> ({"A": "1"}, ["cmd", "args"])."""
    words = shlex.split(line)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def wait_for_nodes(address: str, count: int, env: dict[str, str], timeout: float = 120) -> None:
    script = (
        "import ray, sys; ray.init(address=sys.argv[1]); "
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(
            [sys.executable, "-c", script, address],
            capture_output=True,
            text=True,
            env={**env, "RAY_AUTH_MODE": "token"},
            timeout=60,
        )
        if probe.returncode == 0 and probe.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(2)
    raise AssertionError(f"the cluster at {address} never had {count} nodes")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The README's cluster, started; its commands and address."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    out = tmp_path_factory.mktemp("cluster") / "heed-sample"
    # Ray's socket paths must stay short: its session folder lives under a short /tmp name.
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = environment()
    commands = [
        line.replace("HEAD", "127.0.0.1").replace("6379", str(port))
        .replace("/shared/heed-sample", str(out))
        for line in readme_commands()
    ]  # fmt: skip
    started: list[subprocess.Popen] = []
    logs = []
    try:
        for line in commands:
            extra_env, words = split_env(line)
            if words[:2] != ["ray", "start"]:
                continue
            words = [str(RAY), *words[1:], "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                     "--block", "--disable-usage-stats"]  # fmt: skip
            if "--head" in words:
                words += ["--temp-dir", temp, "--include-dashboard=false"]
            log = open(Path(temp) / f"start-{len(started)}.log", "w")  # noqa: SIM115
            logs.append(log)
            started.append(
                subprocess.Popen(
                    words,
                    env={**env, **extra_env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            wait_for_nodes(address, len(started), env)
        assert len(started) == 2, "the README's block starts a head and a second node"
        yield {"address": address, "commands": commands, "out": out, "env": env}
    finally:
        for proc in started[::-1]:  # `ray stop`, for these processes only
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(3)
        for proc in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for log in logs:
            log.close()


def test_readme_cluster_run_matches_the_local_executor(cluster, local_run: Path) -> None:
    (heed_line,) = [line for line in cluster["commands"] if line.startswith("heed corpus")]
    extra_env, words = split_env(heed_line)
    proc = subprocess.run(
        [str(HEED), *words[1:]],
        env={**cluster["env"], **extra_env},
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "InvalidAuthToken" not in proc.stderr
    assert output_files(cluster["out"]) == output_files(local_run)


def test_ray_address_from_the_environment(cluster, tmp_path: Path) -> None:
    """RAY_ADDRESS alone joins the cluster; one shard there gives the bytes of the same
    selection run by the local executor (a selection of its own: dedup compares only the
    documents a run reads, so one shard's outputs differ from the whole sample's)."""
    outs = {}
    for name, extra, env in (
        ("cluster", [], {**cluster["env"], "RAY_ADDRESS": cluster["address"]}),
        ("local", ["--executor", "local"], environment()),
    ):
        outs[name] = tmp_path / name
        proc = subprocess.run(
            [str(HEED), "corpus", "--shards", "1", "--out", str(outs[name]), *extra],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        if name == "cluster":
            assert f"(executor: ray, the cluster at {cluster['address']})" in proc.stderr
    assert output_files(outs["cluster"]) == output_files(outs["local"])


def test_ray_client_addresses_are_refused_with_a_reason(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(HEED), "corpus", "--ray-address", "ray://127.0.0.1:10001", "--out", str(tmp_path)],
        env=environment(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "ray:// (Ray Client) addresses are not supported" in proc.stderr
    assert not (tmp_path / "audit").exists()

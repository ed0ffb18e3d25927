"""The README as a newcomer runs it: every Python block runs, every shell command either runs
(and the transcripts it shows are what heed prints) or is covered by a named test.

Blocks run in document order in a working folder laid out like a checkout after `make corpus`:
`sample/`, `configs/` and `tests/` (its gold sets) from the repository, `out/sample/` from a
real run, and the files the README asks the reader to bring (`labels.tsv`, `held-out.tsv`,
`LABELS.tsv`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from test_toxicity_classifier import labelled_lines

README = (REPO / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent

# Shell commands the README shows that this test does not run, and the test that runs what they
# do instead (network, GPUs, clusters, hours of training, or a placeholder the reader fills in).
INSTALL = "tests/test_install.py::test_the_wheel_installs_heed_alone_and_runs_the_sample"
CLUSTER = "tests/test_ray_cluster.py::test_readme_cluster_run_matches_the_local_executor"
CALIBRATE = "tests/test_calibrate.py::test_calibrated_drop_rate_per_language_is_the_quantile"
LIVE = "tests/test_optout.py::test_live_snapshot_from_a_loopback_server"
HOSTILE = "tests/test_fetch_http.py::test_corpus_over_a_hostile_server_equals_the_local_run"
COVERED = {
    r"git clone .*": INSTALL,
    r"make corpus": INSTALL,
    r"make test": "tests/test_architecture.py::test_every_package_folder_is_in_the_wheel",
    r"make train": "tests/test_training.py::test_command_line",
    r"heed train configs/train-tiny\.toml.*": "tests/test_training.py::test_command_line",
    r"heed train memorization .*": "tests/test_training.py::test_command_line",
    r"torchrun .*": "tests/test_training.py::test_two_ranks_under_torchrun_match_one_process",
    r"ray (start|stop).*|.*ray start .*": CLUSTER,
    r"heed corpus --ray-address HEAD.*": CLUSTER,
    r"heed corpus configs/commoncrawl\.toml .*--retry-failed": HOSTILE,
    r"heed robots build .* --live .*": LIVE,
    r"heed calibrate configs/my-crawl\.toml.*": CALIBRATE,
    r"heed corpus configs/my-crawl\.toml.*": CALIBRATE,
}


def blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", README, re.S)]


def shell_commands(body: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = body.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(shlex.join(words))
    return commands


def transcripts() -> list[tuple[str, str]]:
    """`$ command` followed by its output, in the README's plain blocks."""
    found = []
    for language, body in blocks():
        if language:
            continue
        for part in re.split(r"\n(?=\$ )", body.strip()):
            if part.startswith("$ "):
                command, _, output = part[2:].partition("\n")
                found.append((command, output.strip()))
    return found


def covered_by(command: str) -> str | None:
    for pattern, test in COVERED.items():
        if re.fullmatch(pattern, command):
            return test
    return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, local_run: Path) -> Path:
    """A checkout as the README's reader has it after `make corpus`."""
    work = tmp_path_factory.mktemp("readme")
    for name in ("sample", "configs", "tests"):
        (work / name).symlink_to(REPO / name)
    shutil.copytree(local_run, work / "out" / "sample")
    for name, seed, count in (("labels.tsv", 1, 400), ("held-out.tsv", 2, 100),
                              ("LABELS.tsv", 3, 200)):  # fmt: skip
        (work / name).write_text("\n".join(labelled_lines(seed, count)) + "\n")
    return work


def run(command: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "COLUMNS": "200"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_every_shell_command_is_run_or_covered() -> None:
    for language, body in blocks():
        if language not in ("bash", "sh"):
            continue
        for command in shell_commands(body):
            if command.startswith("heed ") and covered_by(command) is None:
                continue  # run by test_the_readme_runs_as_written
            test = covered_by(command)
            assert test, f"README command neither run nor covered by a test: {command}"
            path, _, name = test.partition("::")
            source = (REPO / path).read_text()
            assert f"def {name}(" in source, f"{test} (covering {command!r}) does not exist"


def test_the_readme_runs_as_written(workdir: Path) -> None:
    ran = 0
    for index, (language, body) in enumerate(blocks()):
        if language == "python":
            script = workdir / f"readme_block_{index}.py"
            script.write_text(body)
            proc = run([sys.executable, str(script)], workdir)
            assert proc.returncode == 0, f"README Python block {index}:\n{body}\n{proc.stderr}"
            ran += 1
        elif language in ("bash", "sh"):
            for command in shell_commands(body):
                if covered_by(command) is not None:
                    continue
                assert command.startswith("heed "), command
                proc = run(["bash", "-c", command], workdir)
                assert proc.returncode == 0, f"README command {command!r}:\n{proc.stderr}"
                ran += 1
    assert ran >= 15
    # What the README shows heed printing is what it prints (numbers that are times aside).
    shown = transcripts()
    assert len(shown) >= 2
    for command, output in shown:
        proc = run(["bash", "-c", command], workdir)
        assert proc.returncode == 0, proc.stderr
        printed = proc.stdout.strip()
        if output.endswith("\n..."):  # the README shows the first lines only
            output = output.removesuffix("\n...")
            printed = "\n".join(printed.splitlines()[: len(output.splitlines())])
        if command.startswith("heed audit"):
            assert printed == output, command
        else:
            assert _without_numbers(printed) == _without_numbers(output), command


def _without_numbers(text: str) -> str:
    return re.sub(r"\d[\d,.]*", "#", text)

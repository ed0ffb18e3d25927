"""heed as a user installs it: a wheel built from the checkout holds the `heed` package and
nothing else at the top level, with the configs and the sample crawl inside; installed (not
editable) into a fresh environment, `import heed` and `heed corpus` work from any folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO

SKIP = shutil.ignore_patterns(
    ".venv", ".git", "out", "build", "*.egg-info", "__pycache__", ".*_cache", "*.pyc"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of the checkout (the checkout itself stays clean)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(REPO, source, ignore=SKIP, symlinks=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(work / "dist"), str(source)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    (found,) = (work / "dist").glob("heed-*.whl")
    return found


def test_the_wheel_holds_heed_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"heed"}, f"top-level entries besides heed: {top - dist_info}"
    for package in ("curation", "curation/optout", "curation/run", "filters", "kernels",
                    "training", "common"):  # fmt: skip
        assert f"heed/{package}/__init__.py" in names, package
    # What a default run reads: the configs, the sample crawl and its robots.txt folder, every
    # file of them (hidden ones too: .well-known/tdmrep.json).
    shipped = [*(REPO / "configs").glob("*.toml")]
    for folder in ("crawl-data", "robots-2025-01"):
        shipped += [p for p in (REPO / "sample" / folder).rglob("*") if p.is_file()]
    assert len(shipped) > 20
    for path in shipped:
        relative = path.relative_to(REPO)
        assert f"heed/{relative}" in names, relative
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[heed.stages]" in text and "opt_out = heed.curation.optout.stage:OptOut" in text
    assert "[console_scripts]" in text and "heed = heed.cli:main" in text


def test_the_wheel_installs_heed_alone_and_runs_the_sample(
    wheel: Path, tmp_path: Path, local_run: Path
) -> None:
    """A fresh environment with the wheel installed (not editable); its dependencies come from
    this one's site-packages (a path in a .pth file: nothing of heed's checkout is on it)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = {p.name for p in site.iterdir()} - {"dependencies.pth", "__pycache__"}
    assert {n for n in installed if not n.endswith(".dist-info")} == {"heed"}

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import heed, heed.curation.config as c; print(heed.__file__);"
         "print(c.default_config())"],
        cwd=elsewhere, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(site)) for path in where), where

    out = tmp_path / "x"
    proc = subprocess.run(
        [str(venv / "bin" / "heed"), "corpus", "--crawl-root", str(REPO / "sample"),
         "--out", str(out)],
        cwd=elsewhere, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # The same rows as the checkout's run (the manifest names other config paths).
    for kind in ("documents", "tokens", "audit"):
        assert pq.read_table(out / kind).equals(pq.read_table(local_run / kind)), kind

"""DESIGN.md's import rules, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

# package -> top-level packages of this repo it must not import (DESIGN.md's table)
FORBIDDEN = {
    "filters": {"training", "kernels"},
    "kernels": {"curation", "filters", "training"},
    "training": {"curation", "filters"},
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_keep_their_walls(package: str) -> None:
    for path in (REPO / package).rglob("*.py"):
        bad = {name for name in imports(path) if name.split(".")[0] in FORBIDDEN[package]}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_curation_knows_filters_only_through_the_registry() -> None:
    for path in (REPO / "curation").rglob("*.py"):
        used = {name for name in imports(path) if name.split(".")[0] == "filters"}
        assert used <= {"filters", "heed.filters.registry"}, f"{path.relative_to(REPO)}: {used}"
        bad = {name for name in imports(path) if name.split(".")[0] in {"training", "kernels"}}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"

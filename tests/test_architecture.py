"""ARCHITECTURE.md's import rules, checked on the source: who may import whom, no cycles, one
namespace, and every sub-package in the wheel's package list."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

# Repository folder -> the package it installs as.
FOLDERS = {
    "heed": "heed",
    "curation": "heed.curation",
    "filters": "heed.filters",
    "kernels": "heed.kernels",
    "training": "heed.training",
}
# heed's parts and what each may import of heed (ARCHITECTURE.md, "Who may import whom").
# Keys and values are prefixes of module names; the longest matching key rules.
MAY_IMPORT = {
    "heed.common": set(),
    "heed.kernels": {"heed.kernels"},
    "heed.training": {"heed.training", "heed.kernels", "heed.common"},
    "heed.filters": {"heed.filters", "heed.curation", "heed.common"},
    "heed.curation": {"heed.curation", "heed.common"},
    "heed": {"heed.common", "heed.curation", "heed.filters", "heed.cli", "heed.datatrove"},
}
# Inside curation: what each room may import of curation (the root modules are document,
# errors, stage, registry, config, pipeline, output).
CURATION_ROOM_MAY_IMPORT = {
    "crawl": {"crawl", "errors", "document"},
    "text": {"text", "root", "crawl"},
    "optout": {"optout", "root", "crawl", "run.executors", "run.commands"},
    "audit": {"audit", "root", "crawl", "optout.robots"},
    "dedup": {"dedup", "root", "crawl"},
    "run": {"run", "root", "crawl", "audit.report", "audit.query"},
    "root": {"root", "crawl"},
}
CURATION_ROOT = {"errors", "document", "stage", "registry", "config", "pipeline", "output"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    name = ".".join([FOLDERS[parts[0]], *parts[1:]])
    return name.removesuffix(".__init__")


def sources() -> dict[str, Path]:
    found = {}
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules `path` imports (absolute imports; `from a import b` counts a.b when a.b is a
    module of heed, else a). With `top_level_only`, imports inside functions are left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names: set[str] = set()
    known = sources()
    for node in nodes:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in known else node.module)
    return names


def part_of(module: str, table: dict[str, set[str]]) -> str:
    return max((key for key in table if module == key or module.startswith(key + ".")), key=len)


def test_nothing_imports_the_old_top_level_names() -> None:
    for module, path in sources().items():
        bad = {n for n in imports(path) if n.split(".")[0] in set(FOLDERS) - {"heed"}}
        assert not bad, f"{module} imports {sorted(bad)}: heed installs only the `heed` namespace"


@pytest.mark.parametrize("module", sorted(sources()))
def test_parts_keep_their_walls(module: str) -> None:
    allowed = MAY_IMPORT[part_of(module, MAY_IMPORT)]
    for name in imports(sources()[module]):
        if not name.startswith("heed"):
            continue
        assert any(name == a or name.startswith(a + ".") for a in allowed), (
            f"{module} imports {name}; ARCHITECTURE.md allows it only {sorted(allowed)}"
        )


def curation_room(module: str) -> str:
    rest = module.removeprefix("heed.curation.").split(".")
    return "root" if rest[0] in CURATION_ROOT else rest[0]


@pytest.mark.parametrize("module", sorted(m for m in sources() if m.startswith("heed.curation.")))
def test_curation_rooms_keep_their_walls(module: str) -> None:
    room = curation_room(module)
    allowed = CURATION_ROOM_MAY_IMPORT[room]
    for name in imports(sources()[module]):
        if not name.startswith("heed.curation."):
            continue
        other = curation_room(name)
        rest = name.removeprefix("heed.curation.")
        ok = other in allowed or any(rest == a or rest.startswith(a + ".") for a in allowed)
        assert ok, f"{module} ({room}) imports {name} ({other}); allowed: {sorted(allowed)}"


def test_no_import_cycles() -> None:
    """Between modules, counting the imports that run when a module is imported."""
    modules = sources()
    graph = {
        m: {n for n in imports(p, top_level_only=True) if n in modules} for m, p in modules.items()
    }
    for package in modules:  # importing a.b.c first imports a and a.b
        parts = package.split(".")
        graph[package] |= {".".join(parts[:i]) for i in range(1, len(parts))} & set(modules)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                cycle = [*path[path.index(child) :], child] if child in path else [node, child]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if child not in state:
                visit(child, [*path, child])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_every_package_folder_is_in_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {
        module_name(p.parent / "__init__.py")
        for folder in FOLDERS
        for p in (REPO / folder).rglob("__init__.py")
    }
    assert folders <= listed, (
        f"sub-packages missing from [tool.setuptools] packages: {folders - listed}"
    )

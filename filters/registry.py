"""Where filters are found by name: heed's own, then the `heed.filters` entry-point group of any
installed package, or a dotted path `package.module:Class` written in the config."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from heed.curation.stage import Stage

ENTRY_POINT_GROUP = "heed.filters"

BUILTIN: dict[str, str] = {
    "language": "heed.filters.langid:LanguageFilter",
    "toxicity": "heed.filters.toxicity:ToxicityFilter",
    "pii": "heed.filters.pii:PIIRedactor",
    "datatrove": "heed.filters.quality:DatatroveFilter",
    "gopher_repetition": "heed.filters.quality:GopherRepetition",
    "gopher_quality": "heed.filters.quality:GopherQuality",
    "c4_quality": "heed.filters.quality:C4Quality",
    "fineweb_quality": "heed.filters.quality:FineWebQuality",
}


# `heed filters NAME`: name -> (help, `module:function` that sets up the argparse parser and
# returns the command's function).
COMMANDS: dict[str, tuple[str, str]] = {
    "train-fasttext": (
        "train a fastText classifier (e.g. toxicity) from label<TAB>text lines",
        "heed.filters.commands:train_fasttext",
    ),
}


def commands() -> dict[str, tuple[str, Callable[..., Any]]]:
    """`heed filters` subcommands: name -> (help, parser setup function)."""
    found = {}
    for name, (text, target) in COMMANDS.items():
        module_name, _, attr = target.partition(":")
        found[name] = (text, getattr(importlib.import_module(module_name), attr))
    return found


def available() -> dict[str, str]:
    """Filter name -> `module:Class`, heed's own first; an installed plug-in cannot shadow them."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **BUILTIN}


def load(target: str) -> type[Stage]:
    """The filter class for a registered name or a `module:Class` path."""
    names = available()
    if ":" not in target and target not in names:
        raise KeyError(target)
    module_name, _, attr = names.get(target, target).partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"{target} is not a heed Stage/Filter class")
    return cls

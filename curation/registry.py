"""The one stage registry: every stage, heed's own and plug-ins', is an entry point of the
`heed.stages` group (heed's are declared in its pyproject.toml), found by name; a config may
also name any Stage class by `module:Class`."""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from typing import Any

from heed.curation.stage import Stage

ENTRY_POINT_GROUP = "heed.stages"
OWN_DISTRIBUTION = "heed"


class UnknownStage(LookupError):
    """A stage name that no installed package registers."""


@functools.cache
def available() -> dict[str, str]:
    """Stage name -> `module:Class`. heed's own names win: a plug-in cannot shadow them."""
    own, plugins = {}, {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry.dist, "name", None)
        (own if dist == OWN_DISTRIBUTION else plugins)[entry.name] = entry.value
    return {**plugins, **own}


def builtin() -> dict[str, str]:
    """heed's own stages only."""
    return {
        entry.name: entry.value
        for entry in entry_points(group=ENTRY_POINT_GROUP)
        if getattr(entry.dist, "name", None) == OWN_DISTRIBUTION
    }


def load_object(target: str) -> Any:
    """The object a `module:attribute` reference names (ImportError/AttributeError if none)."""
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise ImportError(f"{target!r} is not a 'module:attribute' reference")
    value: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def stage_class(ref: str) -> type[Stage]:
    """The Stage class for a registered name or a `module:Class` reference. UnknownStage for
    a name nothing registers; ImportError, AttributeError or TypeError for a reference that
    does not lead to a Stage class."""
    names = available()
    if ":" not in ref and ref not in names:
        raise UnknownStage(ref)
    cls = load_object(names.get(ref, ref))
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"{ref} is not a heed Stage class")
    return cls

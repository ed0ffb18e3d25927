"""Checking a TOML table against the dataclass it configures: every problem, not the first."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?); valid: a, b, c' for an unknown `word`."""
    choices = sorted(choices)
    close = difflib.get_close_matches(word, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid: {', '.join(choices)}"


def type_ok(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a type hint (an int is a float; a bool is not an int)."""
    origin = typing.get_origin(hint)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint in (int, str, bool):
        return isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        return isinstance(value, list) and all(type_ok(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(
            type_ok(k, key) and type_ok(v, item) for k, v in value.items()
        )
    if origin in (typing.Union, types.UnionType):
        return any(type_ok(value, h) for h in typing.get_args(hint))
    if hint is Any:
        return True
    return isinstance(value, hint) if isinstance(hint, type) else True


def type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def check_table(kind: type, table: dict[str, Any], where: str) -> list[str]:
    """Problems with `table` as keyword arguments of the dataclass `kind`: unknown keys (with
    the closest valid one) and values of the wrong type, one message each."""
    hints = typing.get_type_hints(kind)
    fields = {f.name for f in dataclasses.fields(kind) if f.init}
    problems = []
    for key, value in table.items():
        if key not in fields:
            problems.append(f"{where}: unknown key {key!r}{suggest(key, fields)}")
        elif not type_ok(value, hints[key]):
            problems.append(f"{where}: {key} = {value!r} is not a valid {type_name(hints[key])}")
    return problems

"""Pipeline configs: TOML files, checked in full before any work starts.

```toml
name = "sample"
crawl_root = "../sample"      # folder or URL that holds crawl-data/ (relative to this file);
                              # default https://data.commoncrawl.org/
crawl = "CC-MAIN-SAMPLE"
shards = 0                    # 0 = every shard in warc.paths.gz; 100; "200:300"; "random:100:7"
batch_size = 64
stages = ["opt_out", "extract", "language", "toxicity", "pii", "tokenize"]

[stage.language]              # parameters of one stage; unknown keys are errors
min_score = 0.5

[fetch]                       # reading remote crawls (curation.fetch.FetchOptions)
timeout = 60
```
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heed.curation.crawl.fetch import FetchOptions
from heed.curation.stage import Stage

# Stages that belong to curation itself; everything else is a filter found through its registry.
CURATION_STAGES: dict[str, str] = {
    "opt_out": "heed.curation.optout.stage:OptOut",
    "extract": "heed.curation.text.extract:Extract",
    "tokenize": "heed.curation.text.tokenize:Tokenize",
}
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "sample.toml"
TOP_LEVEL_KEYS = (
    "name", "crawl_root", "crawl", "shards", "batch_size", "stages", "stage", "fetch",
)  # fmt: skip
DEFAULT_CRAWL_ROOT = "https://data.commoncrawl.org/"


class ConfigError(ValueError):
    """A config that cannot run; the message names the problem and the valid choices."""


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(word, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid: {', '.join(choices)}"


def stage_names() -> list[str]:
    from heed.filters import registry

    return sorted({*CURATION_STAGES, *registry.available()})


def stage_class(ref: str) -> type[Stage]:
    """The Stage class for a stage name (curation's or a filter's) or a `module:Class` path."""
    if ref in CURATION_STAGES:
        module_name, _, attr = CURATION_STAGES[ref].partition(":")
        return getattr(importlib.import_module(module_name), attr)
    from heed.filters import registry

    try:
        return registry.load(ref)
    except KeyError:
        raise ConfigError(f"unknown stage {ref!r}{_suggest(ref, stage_names())}") from None
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError(f"cannot load stage {ref!r}: {exc}") from None


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint in (int, str, bool):
        return isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(
            _type_ok(k, key) and _type_ok(v, item) for k, v in value.items()
        )
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    return True


def build_stage(ref: str, params: dict[str, Any]) -> Stage:
    """Instantiate a stage from its config table, rejecting unknown keys and wrong types."""
    cls = stage_class(ref)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key, value in params.items():
        if key not in fields:
            raise ConfigError(f"[stage.{cls.name}]: unknown key {key!r}{_suggest(key, fields)}")
        if not _type_ok(value, hints[key]):
            raise ConfigError(
                f"[stage.{cls.name}]: {key} = {value!r} is not a valid "
                f"{getattr(hints[key], '__name__', hints[key])}"
            )
    try:
        return cls(**params)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[stage.{cls.name}]: {exc}") from None


def _is_url(location: str) -> bool:
    return "://" in location


def _resolve(value: Any, base: Path) -> Any:
    """A path parameter made absolute: a string, or the strings in a list or table."""
    if isinstance(value, str):
        return str((base / value).resolve()) if value and not _is_url(value) else value
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, base) for k, v in value.items()}
    return value


def _resolve_paths(refs: list[Any], tables: dict[str, Any], base: Path) -> dict[str, Any]:
    """Stage parameters that are file paths (a stage's `path_params`), made absolute against
    the config file's folder, so the config means the same from any working directory."""
    resolved = dict(tables)
    for ref in refs:
        if not isinstance(ref, str):
            continue
        cls = stage_class(ref)
        params = dict(resolved.get(cls.name, {}))
        for key in cls.path_params:
            if key in params:
                params[key] = _resolve(params[key], base)
        if params:
            resolved[cls.name] = params
    return resolved


@dataclass(frozen=True)
class PipelineConfig:
    name: str
    crawl_root: str
    crawl: str
    stages: tuple[str, ...]
    stage_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    shards: int | str = 0  # see curation.crawl.SELECTION_HELP
    batch_size: int = 64
    fetch: dict[str, Any] = field(default_factory=dict)  # FetchOptions fields
    source: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> PipelineConfig:
        """Read and check a TOML config; `overrides` (crawl_root, crawl, shards) win over it."""
        path = Path(path) if path else DEFAULT_CONFIG
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        for key in raw:
            if key not in TOP_LEVEL_KEYS:
                raise ConfigError(f"{path}: unknown key {key!r}{_suggest(key, TOP_LEVEL_KEYS)}")
        for key in ("name", "crawl", "stages"):
            if key not in raw:
                raise ConfigError(f"{path}: missing required key {key!r}")
        values = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
        root = str(values.get("crawl_root") or DEFAULT_CRAWL_ROOT)
        if not _is_url(root):
            # Relative roots in a file are relative to that file; on the command line, to the cwd.
            base = Path.cwd() if overrides.get("crawl_root") else path.parent
            root = str((base / root).resolve())
        stage_params = values.get("stage", {})
        if isinstance(stage_params, dict):
            stage_params = _resolve_paths(values.get("stages", []), stage_params, path.parent)
        config = cls(
            name=values["name"],
            crawl_root=root,
            crawl=values["crawl"],
            stages=tuple(values["stages"]),
            stage_params=stage_params,
            shards=values.get("shards", 0),
            batch_size=values.get("batch_size", 64),
            fetch=values.get("fetch", {}),
            source=str(path.resolve()),
        )
        config.validate()
        return config

    def validate(self) -> None:
        from heed.curation.crawl.listing import check_selection

        for key, kind in (("name", str), ("crawl", str), ("batch_size", int)):
            if not _type_ok(getattr(self, key), kind):
                raise ConfigError(f"{key} = {getattr(self, key)!r} must be a {kind.__name__}")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ConfigError(f"name = {self.name!r} must be a plain folder name")
        check_selection(self.shards)
        if not isinstance(self.fetch, dict):
            raise ConfigError("[fetch] must be a table")
        self.fetch_options()
        if self.batch_size < 1:
            raise ConfigError(f"batch_size = {self.batch_size} must be >= 1")
        if not self.stages or not all(isinstance(s, str) for s in self.stages):
            raise ConfigError(f"stages must be a non-empty list of names; valid: {stage_names()}")
        built = self.build_stages()
        names = [s.name for s in built]
        if len(set(names)) != len(names):
            raise ConfigError(f"stages lists a stage twice: {names}")
        for table in self.stage_params:
            if table not in names:
                raise ConfigError(f"[stage.{table}] configures a stage not in stages {names}")

    def fetch_options(self) -> FetchOptions:
        try:
            return FetchOptions.from_table(self.fetch)
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None

    def build_stages(self) -> list[Stage]:
        stages = []
        for ref in self.stages:
            cls = stage_class(ref)
            params = self.stage_params.get(cls.name, {})
            if not isinstance(params, dict):
                raise ConfigError(f"[stage.{cls.name}] must be a table")
            stages.append(build_stage(ref, params))
        return stages

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"stages": list(self.stages)}

"""Pipeline configs: a TOML file (or a dict), checked in full before any work starts and parsed
once into typed objects that the run passes on.

```toml
name = "sample"
crawl_root = "../sample"      # folder or URL that holds crawl-data/ (relative to this file);
                              # default https://data.commoncrawl.org/
crawl = "CC-MAIN-SAMPLE"       # or several: ["CC-MAIN-2024-46", "CC-MAIN-2024-51"]
shards = 0                    # 0 = every shard in warc.paths.gz; 100; "200:300"; "random:100:7"
batch_size = 64
stages = ["opt_out", "extract", "language", "toxicity", "pii", "tokenize"]

[stage.language]              # parameters of one stage; unknown keys are errors
min_score = 0.5

[fetch]                       # reading remote crawls (heed.curation.crawl.fetch.FetchOptions)
timeout = 60
```

Every problem is reported at once (`ConfigError.problems`), each naming the key and the valid
choices.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heed.common.tables import check_table, suggest, type_ok
from heed.curation import registry
from heed.curation.crawl.fetch import FetchOptions
from heed.curation.crawl.listing import check_selection
from heed.curation.errors import ConfigError
from heed.curation.stage import Stage

TOP_LEVEL_KEYS = (
    "name", "crawl_root", "crawl", "shards", "batch_size", "stages", "stage", "fetch",
)  # fmt: skip
REQUIRED_KEYS = ("name", "crawl", "stages")
DEFAULT_CRAWL_ROOT = "https://data.commoncrawl.org/"


def default_config() -> Path:
    """The config `heed corpus` reads when given none: the sample crawl's, shipped with heed."""
    return Path(str(importlib.resources.files("heed.configs") / "sample.toml"))


def stage_names() -> list[str]:
    return sorted(registry.available())


def stage_class(ref: str) -> type[Stage]:
    """The Stage class a config names, or a ConfigError saying why there is none."""
    try:
        return registry.stage_class(ref)
    except registry.UnknownStage:
        raise ConfigError(f"unknown stage {ref!r}{suggest(ref, stage_names())}") from None
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError(f"cannot load stage {ref!r}: {exc}") from None


def stage_problems(cls: type[Stage], params: Mapping[str, Any]) -> list[str]:
    """Everything wrong with `params` as the parameters of `cls`: unknown keys, wrong types,
    and what the stage's own checks (`__post_init__`) refuse."""
    where = f"[stage.{cls.name}]"
    if not isinstance(params, Mapping):
        return [f"{where} must be a table"]
    problems = check_table(cls, dict(params), where)
    if not problems:
        try:
            cls(**copy.deepcopy(dict(params)))
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: {exc}")
    return problems


def build_stage(ref: str, params: Mapping[str, Any]) -> Stage:
    """A stage from its config table; ConfigError with every problem if it cannot be built."""
    cls = stage_class(ref)
    problems = stage_problems(cls, params)
    if problems:
        raise ConfigError(problems)
    return cls(**copy.deepcopy(dict(params)))


@dataclass(frozen=True)
class StageSpec:
    """One entry of `stages`: the reference the config wrote (a registered name or
    `module:Class`), the class it names, and its checked parameters (file paths absolute).
    `build()` makes a fresh stage; models load later, in `setup`, once per process."""

    ref: str
    cls: type[Stage]
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.cls.name

    def build(self) -> Stage:
        return self.cls(**copy.deepcopy(dict(self.params)))

    def param(self, key: str) -> Any:
        """A parameter's value: as configured, else the stage's default."""
        if key in self.params:
            return self.params[key]
        default = next(f for f in dataclasses.fields(self.cls) if f.name == key)
        if default.default_factory is not dataclasses.MISSING:
            return default.default_factory()
        return default.default

    def with_params(self, **changes: Any) -> StageSpec:
        params = {**self.params, **changes}
        problems = stage_problems(self.cls, params)
        if problems:
            raise ConfigError(problems)
        return dataclasses.replace(self, params=params)


def _is_url(location: str) -> bool:
    return "://" in location


def _resolve(value: Any, base: Path) -> Any:
    """A path parameter made absolute (`~` is the home folder): a string, or the strings in a
    list or table."""
    if isinstance(value, str):
        if not value or _is_url(value):
            return value
        return str((base / Path(value).expanduser()).resolve())
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, base) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class PipelineConfig:
    """A checked config. Build one with `load` (a TOML file) or `from_dict`."""

    name: str
    crawl_root: str
    # The crawl, or the crawls of a run over several, in the order given (their shards are
    # numbered one after the other; corpus-level stages such as dedup see them all).
    crawl: str | tuple[str, ...]
    stages: tuple[StageSpec, ...]
    shards: int | str = 0  # see heed.curation.crawl.listing.SELECTION_HELP
    batch_size: int = 64
    fetch: FetchOptions = field(default_factory=FetchOptions)
    source: str = ""  # the config file, when there is one

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> PipelineConfig:
        """Read and check a TOML config; `overrides` (crawl_root, crawl, shards, ...) win over
        it. Relative paths in the file are relative to the file; a crawl root given as an
        override is relative to the working directory."""
        path = Path(path) if path else default_config()
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(raw, base=path.parent, source=str(path.resolve()), **overrides)

    @classmethod
    def from_dict(
        cls,
        values: Mapping[str, Any],
        base: str | Path = ".",
        source: str = "",
        **overrides: Any,
    ) -> PipelineConfig:
        """A config from the tables a TOML file would hold; relative paths are read against
        `base`. Raises ConfigError listing every problem."""
        where = f"{source}: " if source else ""
        base = Path(base)
        problems: list[str] = []
        for key in values:
            if key not in TOP_LEVEL_KEYS:
                problems.append(f"{where}unknown key {key!r}{suggest(key, TOP_LEVEL_KEYS)}")
        for key in REQUIRED_KEYS:
            if key not in values and overrides.get(key) is None:
                problems.append(f"{where}missing required key {key!r}")
        values = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        for key, kind in (("name", str), ("batch_size", int)):
            if key in values and not type_ok(values[key], kind):
                problems.append(f"{key} = {values[key]!r} must be a {kind.__name__}")
        crawl = values.get("crawl", "")
        if isinstance(crawl, str) and "," in crawl:
            crawl = [c.strip() for c in crawl.split(",")]  # --crawl A,B
        if isinstance(crawl, list) and crawl and all(isinstance(c, str) and c for c in crawl):
            crawl = crawl[0] if len(crawl) == 1 else tuple(crawl)
            if isinstance(crawl, tuple) and len(set(crawl)) != len(crawl):
                problems.append(f"crawl = {list(crawl)} names a crawl twice")
        elif not isinstance(crawl, str):
            problems.append(f"crawl = {crawl!r} must be a crawl name or a list of them")
        name = values.get("name", "")
        if isinstance(name, str) and (not name or "/" in name or name.startswith(".")):
            problems.append(f"name = {name!r} must be a plain folder name")
        batch_size = values.get("batch_size", 64)
        if type_ok(batch_size, int) and batch_size < 1:
            problems.append(f"batch_size = {batch_size} must be >= 1")
        shards = values.get("shards", 0)
        try:
            check_selection(shards)
        except ConfigError as exc:
            problems += exc.problems
        fetch_table = values.get("fetch", {})
        fetch = FetchOptions()
        if not isinstance(fetch_table, dict):
            problems.append("[fetch] must be a table")
        else:
            try:
                fetch = FetchOptions.from_table(fetch_table)
            except ConfigError as exc:
                problems += exc.problems
        root = str(values.get("crawl_root") or DEFAULT_CRAWL_ROOT)
        if not _is_url(root):
            # On the command line a relative root is relative to the working directory.
            root_base = Path.cwd() if overrides.get("crawl_root") else base
            root = str((root_base / root).resolve())
        specs, stage_problems_found = _stage_specs(values.get("stages"), values.get("stage"), base)
        problems += stage_problems_found
        if problems:
            raise ConfigError(problems)
        return cls(
            name=values["name"],
            crawl_root=root,
            crawl=crawl,
            stages=specs,
            shards=shards,
            batch_size=batch_size,
            fetch=fetch,
            source=source,
        )

    @property
    def crawls(self) -> tuple[str, ...]:
        return self.crawl if isinstance(self.crawl, tuple) else (self.crawl,)

    @property
    def crawl_id(self) -> str | list[str]:
        """The crawl as manifests and digests record it: its name, or the list of names."""
        return self.crawl if isinstance(self.crawl, str) else list(self.crawl)

    @property
    def crawl_name(self) -> str:
        """The crawl, or the crawls joined by "+", for messages."""
        return "+".join(self.crawls)

    @property
    def stage_names(self) -> list[str]:
        return [spec.name for spec in self.stages]

    def spec(self, name: str) -> StageSpec:
        return next(spec for spec in self.stages if spec.name == name)

    def build_stages(self) -> list[Stage]:
        """Fresh stages (not set up). The run builds them once per process, in
        heed.curation.pipeline.Pipeline."""
        return [spec.build() for spec in self.stages]

    def with_stage_params(self, changes: Mapping[str, Mapping[str, Any]]) -> PipelineConfig:
        """The config with some stages' parameters changed (stage name -> {param: value})."""
        stages = tuple(
            spec.with_params(**changes[spec.name]) if spec.name in changes else spec
            for spec in self.stages
        )
        return dataclasses.replace(self, stages=stages)

    def to_dict(self) -> dict[str, Any]:
        """The config as the manifest records it: the stages as referenced, the parameters as
        given (paths absolute), the [fetch] settings that differ from the defaults."""
        defaults = FetchOptions()
        fetch = {
            f.name: getattr(self.fetch, f.name)
            for f in dataclasses.fields(FetchOptions)
            if getattr(self.fetch, f.name) != getattr(defaults, f.name)
        }
        return {
            "name": self.name,
            "crawl_root": self.crawl_root,
            "crawl": self.crawl_id,
            "stages": [spec.ref for spec in self.stages],
            "stage_params": {spec.name: dict(spec.params) for spec in self.stages if spec.params},
            "shards": self.shards,
            "batch_size": self.batch_size,
            "fetch": fetch,
            "source": self.source,
        }


def _stage_specs(refs: Any, tables: Any, base: Path) -> tuple[tuple[StageSpec, ...], list[str]]:
    """The `stages` list and the `[stage.*]` tables as specs, and every problem with them."""
    if not refs or not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        return (), [f"stages must be a non-empty list of names; valid: {stage_names()}"]
    tables = tables if tables is not None else {}
    if not isinstance(tables, dict):
        return (), ["[stage] must hold one table per stage, e.g. [stage.language]"]
    specs, problems = [], []
    for ref in refs:
        try:
            cls = stage_class(ref)
        except ConfigError as exc:
            problems += exc.problems
            continue
        params = tables.get(cls.name, {})
        found = stage_problems(cls, params)
        if found:
            problems += found
            continue
        # File parameters are read against the config file's folder, so the config means
        # the same from any working directory.
        params = {k: _resolve(v, base) if k in cls.path_params else v for k, v in params.items()}
        specs.append(StageSpec(ref, cls, params))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        problems.append(f"stages lists a stage twice: {names}")
    problems += _phase_problems(specs)
    listed = {_name_of(ref) for ref in refs}
    for table in tables:
        if table not in listed:
            problems.append(f"[stage.{table}] configures a stage not in stages {names}")
    return tuple(specs), problems


def _phase_problems(specs: list[StageSpec]) -> list[str]:
    """What a chain with corpus-level stages cannot do: the raw pages and the token ids are not
    carried from one phase to the next."""
    corpus = [i for i, spec in enumerate(specs) if spec.cls.corpus_level]
    if not corpus:
        return []
    first, last = specs[corpus[0]], specs[corpus[-1]]
    problems = []
    for spec in specs[corpus[0] + 1 :]:
        if spec.cls.reads_payload:
            problems.append(
                f"stage {spec.name!r} reads the page itself: put it before {first.name!r} (a "
                "corpus-level stage; only the extracted text goes on past it)"
            )
    for spec in specs[: corpus[-1]]:
        if spec.cls.writes_tokens:
            problems.append(f"stage {spec.name!r} must come after {last.name!r}")
    return problems


def _name_of(ref: str) -> str | None:
    try:
        return registry.stage_class(ref).name
    except (LookupError, ImportError, AttributeError, TypeError):
        return None


def load_config(path: str | Path | None = None, **overrides: Any) -> PipelineConfig:
    """A checked config from a TOML file (default: the sample crawl's); `overrides`
    (crawl_root, crawl, shards, ...) win over the file."""
    return PipelineConfig.load(path, **overrides)

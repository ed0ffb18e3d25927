"""Training configs: a TOML file with the sections [data], [goldfish], [model], [optim],
[schedule] and [run] (configs/train-*.toml). Unknown keys and wrong types stop the run before
any work, with a message naming the key and the valid choices. Paths are read relative to
the config file.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from heed.common.tables import check_table
from heed.training.attention import BACKENDS
from heed.training.goldfish import MODES
from heed.training.model import SIZES, ModelConfig


class TrainConfigError(ValueError):
    """A training config that cannot be run as written."""


@dataclass
class DataSection:
    tokens: list[str] = field(default_factory=lambda: ["../out/sample/tokens"])
    # Part files held out for evaluation (names inside the tokens folders, or paths); they
    # are left out of training.
    eval_files: list[str] = field(default_factory=list)
    seq_len: int = 256
    batch_size: int = 8  # sequences per optimizer step, over all ranks
    micro_batch_size: int = 8  # sequences per forward pass on one rank
    streams: int = 0  # loader streams over all ranks (0: one per rank)
    seed: int = 0
    tokenizer_sha256: str = ""  # checked against manifest.json (empty: not checked)
    eval_batches: int = 0  # 0: the whole held-out set


@dataclass
class GoldfishSection:
    k: int = 0  # 0: off; else drop about 1/k of the targets
    h: int = 13
    mode: str = "apertus"


@dataclass
class OptimSection:
    name: str = "ademamix"
    lr: float = 3e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999, 0.9999])
    alpha: float = 8.0
    eps: float = 1e-8
    weight_decay: float = 0.1
    # AdEMAMix's α and β3 warm-up in steps (-1: the whole run, as in the paper).
    ademamix_warmup: int = -1
    clip: float = 0.1  # gradient norm clipping (0: off)


@dataclass
class ScheduleSection:
    steps: int = 300
    warmup: int = 30
    cooldown: float = 0.2  # the last fraction of the steps
    final_fraction: float = 0.1


@dataclass
class RunSection:
    out: str = "../out/train-tiny"
    device: str = "auto"  # auto, cpu, cuda
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU), bf16, fp32
    compile: bool = False
    # Document masking (training/attention.py): auto (flex on CUDA, dense on the CPU), dense,
    # flex, varlen.
    attention: str = "auto"
    fsdp: str = "auto"  # auto (FSDP2 for the 1b and 8b sizes on several ranks), on, off
    seed: int = 0  # model initialisation
    log_every: int = 10
    eval_every: int = 100  # 0: only at the end
    checkpoint_every: int = 100  # 0: only at the end; -1: never (benchmarks)
    keep_checkpoints: int = 2


@dataclass
class TrainConfig:
    data: DataSection = field(default_factory=DataSection)
    goldfish: GoldfishSection = field(default_factory=GoldfishSection)
    model: dict[str, Any] = field(default_factory=lambda: {"size": "tiny"})
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    run: RunSection = field(default_factory=RunSection)
    base: Path = field(default_factory=Path.cwd)  # what relative paths are read against

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise TrainConfigError(f"{path}: {exc}") from exc
        return cls.from_dict(raw, base=path.resolve().parent)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base: Path | None = None) -> TrainConfig:
        sections = {
            "data": DataSection,
            "goldfish": GoldfishSection,
            "optim": OptimSection,
            "schedule": ScheduleSection,
            "run": RunSection,
        }
        unknown = set(raw) - set(sections) - {"model"}
        if unknown:
            raise TrainConfigError(
                f"unknown sections {sorted(unknown)}; known: {sorted([*sections, 'model'])}"
            )
        built = {name: _section(kind, raw.get(name, {}), name) for name, kind in sections.items()}
        config = cls(**built, model=dict(raw.get("model", {"size": "tiny"})))
        config.base = base or Path.cwd()
        config.validate()
        return config

    def validate(self) -> None:
        self.model_config()  # raises on an unknown size or setting
        if self.goldfish.mode not in MODES:
            raise TrainConfigError(f"goldfish.mode {self.goldfish.mode!r}: one of {MODES}")
        if self.goldfish.k < 0 or self.goldfish.h < 1:
            raise TrainConfigError("goldfish.k must be ≥ 0 (0: off) and goldfish.h ≥ 1")
        if self.optim.name not in ("ademamix", "adamw"):
            raise TrainConfigError(f"optim.name {self.optim.name!r}: ademamix or adamw")
        if len(self.optim.betas) != (3 if self.optim.name == "ademamix" else 2):
            raise TrainConfigError(f"optim.betas: {self.optim.name} takes 3 (or 2 for adamw)")
        if not 0 <= self.schedule.cooldown <= 1:
            raise TrainConfigError("schedule.cooldown is a fraction of the steps, in [0, 1]")
        if self.run.checkpoint_every < -1:
            raise TrainConfigError("run.checkpoint_every: -1 (never), 0 (at the end) or a step")
        if self.schedule.steps < 1 or self.data.seq_len < 1 or self.data.micro_batch_size < 1:
            raise TrainConfigError("schedule.steps, data.seq_len, micro_batch_size must be ≥ 1")
        for key, choices in (
            ("device", ("auto", "cpu", "cuda")),
            ("precision", ("auto", "bf16", "fp32")),
            ("fsdp", ("auto", "on", "off")),
            ("attention", BACKENDS),
        ):
            if getattr(self.run, key) not in choices:
                raise TrainConfigError(f"run.{key} {getattr(self.run, key)!r}: one of {choices}")

    def model_config(self) -> ModelConfig:
        settings = dict(self.model)
        size = settings.pop("size", "tiny")
        if size not in SIZES:
            raise TrainConfigError(f"model.size {size!r}: one of {', '.join(SIZES)}")
        try:
            return ModelConfig.named(size, **settings)
        except (TypeError, ValueError) as exc:
            raise TrainConfigError(f"[model]: {exc}") from exc

    def path(self, value: str) -> Path:
        """A path from the config, relative to the config file."""
        p = Path(value)
        return p if p.is_absolute() else (self.base / p).resolve()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["base"] = str(self.base)
        return out


def _section(kind: type, values: dict[str, Any], name: str) -> Any:
    if not isinstance(values, dict):
        raise TrainConfigError(f"[{name}] must be a table")
    problems = check_table(kind, values, f"[{name}]")
    if problems:
        raise TrainConfigError("; ".join(problems))
    # An integer where a float is expected is that float.
    floats = {f.name for f in fields(kind) if f.type in (float, "float")}
    return kind(**{k: float(v) if k in floats else v for k, v in values.items()})

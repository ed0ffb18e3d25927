"""Per-language quantile thresholds, computed on a sample (`heed calibrate CONFIG`).

Apertus dropped the top 5% of each language by toxicity score. A threshold that does that
depends on the score distribution of each language, so it is measured on a sample run of the
same pipeline and then used as a fixed cutoff by `heed corpus`.

A stage takes part when it names a `quantile_column` and has its `quantile` set. The sample
run stops after the last such stage and runs them with `score_only` (they score, nothing is
dropped there), so each one sees the documents it would see in the real run. Its audit gives,
per language, the scores; the cutoff is the score of the document at the quantile.

Scores tie (a word-list scorer gives most pages 0), so a score alone cannot cut at exactly 5%.
The order is made total with a second key, a hash of the record id: a document is dropped when
`(score, tie_key)` ranks at or above the cutoff pair. On the sample the drop rate is then the
quantile up to one document; on other data it is as close as the sample is representative.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
from heed.curation.config import ConfigError, PipelineConfig
from heed.curation.run.output import write_json_atomic
from heed.curation.stage import Stage

CALIBRATION = "calibration.json"
CALIBRATION_RUN = "calibration"  # the sample run's own output folder, under the corpus output
DEFAULT_MIN_DOCS = 100


def tie_key(record_id: str) -> float:
    """A fixed pseudo-random number in [0, 1) per record: the tie-breaker between equal scores."""
    digest = hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def ranks_at_or_above(score: float, key: float, cutoff: list[float]) -> bool:
    """Whether `(score, key)` is within the top part that `cutoff = [score, tie]` marks off."""
    return score > cutoff[0] or (score == cutoff[0] and key <= cutoff[1])


def quantile_cutoff(scored: Iterable[tuple[float, float]], quantile: float) -> list[float] | None:
    """The `[score, tie]` pair that marks off the top `quantile` of `(score, tie_key)` pairs.

    None when that top part is empty (too few documents for the quantile to drop one).
    """
    ranked = sorted(scored, key=lambda pair: (-pair[0], pair[1]))
    drop = round(quantile * len(ranked))
    if drop == 0:
        return None
    score, key = ranked[drop - 1]
    return [score, key]


def calibrated_stages(stages: list[Stage]) -> list[Stage]:
    return [s for s in stages if s.quantile_column and getattr(s, "quantile", 0) > 0]


def sample_config(config: PipelineConfig) -> PipelineConfig:
    """The config of the sample run: stages up to the last calibrated one, those scoring only."""
    stages = config.build_stages()
    targets = calibrated_stages(stages)
    if not targets:
        raise ConfigError(
            "no stage to calibrate: set `quantile` (e.g. 0.05) in a stage that supports it "
            f"({', '.join(s.name for s in stages if s.quantile_column) or 'none in this config'})"
        )
    last = stages.index(targets[-1])
    params = {name: dict(table) for name, table in config.stage_params.items()}
    for stage in targets:
        params[stage.name] = {**params.get(stage.name, {}), "score_only": True, "cutoffs": {}}
    kept_refs = config.stages[: last + 1]
    kept_names = {s.name for s in stages[: last + 1]}
    return dataclasses.replace(
        config,
        stages=kept_refs,
        stage_params={k: v for k, v in params.items() if k in kept_names},
    )


def fingerprint(config: PipelineConfig) -> dict[str, Any]:
    """What a calibration depends on: the crawl and the stage chain up to the calibrated stages,
    without the cutoffs themselves."""
    stages = config.build_stages()
    targets = calibrated_stages(stages)
    last = stages.index(targets[-1]) if targets else -1
    chain = []
    for stage in stages[: last + 1]:
        params = stage.params()
        params.pop("cutoffs", None)
        params.pop("score_only", None)
        chain.append({"name": stage.name, "version": stage.version, "params": params})
    return {"crawl": config.crawl, "stages": chain}


def compute(config: PipelineConfig, sample_out: Path, min_docs: int) -> dict[str, Any]:
    """Cutoffs per calibrated stage and language from the sample run's audit."""
    stages = calibrated_stages(config.build_stages())
    columns = ["record_id", "language", "status", "stage"] + [s.quantile_column for s in stages]
    table = ds.dataset(sample_out / "audit", format="parquet").to_table(columns=columns)
    rows = table.to_pylist()
    result: dict[str, Any] = {}
    # A document an earlier calibrated stage drops never reaches a later one.
    dropped: set[str] = set()
    for stage in stages:
        column = stage.quantile_column
        by_language: dict[str, list[tuple[float, float]]] = defaultdict(list)
        keys: dict[str, float] = {}
        for row in rows:
            value = row[column]
            if value is None or row["record_id"] in dropped or row["language"] is None:
                continue
            if isinstance(value, float) and math.isnan(value):
                continue
            keys[row["record_id"]] = key = tie_key(row["record_id"])
            by_language[row["language"]].append((float(value), key))
        cutoffs: dict[str, list[float]] = {}
        languages: dict[str, Any] = {}
        for language in sorted(by_language):
            scored = by_language[language]
            entry: dict[str, Any] = {"documents": len(scored)}
            if len(scored) < min_docs:
                entry["calibrated"] = False
                entry["why"] = f"fewer than {min_docs} documents"
            else:
                cutoff = quantile_cutoff(scored, stage.quantile)
                dropping = sum(ranks_at_or_above(s, k, cutoff) for s, k in scored) if cutoff else 0
                entry |= {
                    "calibrated": True,
                    "cutoff": cutoff,
                    "drop_rate": dropping / len(scored),
                    # How much of the cut fell among tied scores: a scorer that ties often
                    # (word lists) picks those documents by record hash, not by content.
                    "tied_at_cutoff": sum(s == cutoff[0] for s, _ in scored) if cutoff else 0,
                }
                if cutoff:
                    cutoffs[language] = cutoff
            languages[language] = entry
        for row in rows:
            value = row[column]
            cutoff = cutoffs.get(row["language"] or "")
            key = keys.get(row["record_id"])
            if cutoff and key is not None and ranks_at_or_above(float(value), key, cutoff):
                dropped.add(row["record_id"])
        result[stage.name] = {
            "column": column,
            "quantile": stage.quantile,
            "cutoffs": cutoffs,
            "languages": languages,
        }
    return result


def write(out: Path, calibration: dict[str, Any]) -> Path:
    path = out / CALIBRATION
    write_json_atomic(path, calibration)
    return path


def apply(config: PipelineConfig, out: Path) -> tuple[PipelineConfig, dict[str, Any] | None]:
    """The config with calibrated cutoffs filled in from `out/calibration.json`, where a stage
    has a quantile but no cutoffs of its own; the calibration used, or None."""
    stages = config.build_stages()
    needing = [s for s in calibrated_stages(stages) if not getattr(s, "cutoffs", None)]
    if not needing:
        return config, None
    path = out / CALIBRATION
    names = ", ".join(s.name for s in needing)
    if not path.is_file():
        raise ConfigError(
            f"{names}: quantile is set but there are no cutoffs: run `heed calibrate "
            f"{config.source}` first (it writes {path}), or set cutoffs in the config"
        )
    calibration = json.loads(path.read_text())
    if calibration.get("fingerprint") != fingerprint(config):
        raise ConfigError(
            f"{path} was made for another config or crawl (the stages before and at {names} "
            f"differ): run `heed calibrate {config.source}` again"
        )
    params = {name: dict(table) for name, table in config.stage_params.items()}
    for stage in needing:
        params[stage.name] = {
            **params.get(stage.name, {}),
            "cutoffs": calibration["stages"][stage.name]["cutoffs"],
        }
    return dataclasses.replace(config, stage_params=params), calibration

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
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from heed.common.files import write_json_atomic
from heed.common.ranks import quantile_cutoff, ranks_at_or_above, tie_key
from heed.curation.config import ConfigError, PipelineConfig, StageSpec

CALIBRATION = "calibration.json"
CALIBRATION_RUN = "calibration"  # the sample run's own output folder, under the corpus output
DEFAULT_MIN_DOCS = 100


def calibrated(config: PipelineConfig) -> list[StageSpec]:
    """The stages that take part: a quantile column, and `quantile` set."""
    return [
        spec
        for spec in config.stages
        if spec.cls.quantile_column and (spec.param("quantile") or 0) > 0
    ]


def sample_config(config: PipelineConfig) -> PipelineConfig:
    """The config of the sample run: stages up to the last calibrated one, those scoring only."""
    targets = calibrated(config)
    if not targets:
        able = [spec.name for spec in config.stages if spec.cls.quantile_column]
        raise ConfigError(
            "no stage to calibrate: set `quantile` (e.g. 0.05) in a stage that supports it "
            f"({', '.join(able) or 'none in this config'})"
        )
    last = config.stages.index(targets[-1])
    sample = dataclasses.replace(config, stages=config.stages[: last + 1])
    return sample.with_stage_params(
        {spec.name: {"score_only": True, "cutoffs": {}} for spec in targets}
    )


def fingerprint(config: PipelineConfig) -> dict[str, Any]:
    """What a calibration depends on: the crawl and the stage chain up to the calibrated stages,
    without the cutoffs themselves."""
    targets = calibrated(config)
    last = config.stages.index(targets[-1]) if targets else -1
    chain = []
    for spec in config.stages[: last + 1]:
        params = {
            f.name: spec.param(f.name)
            for f in dataclasses.fields(spec.cls)
            if f.init and f.name not in ("cutoffs", "score_only")
        }
        chain.append({"name": spec.name, "version": spec.cls.version, "params": params})
    return {"crawl": config.crawl_id, "stages": chain}


def compute(config: PipelineConfig, sample_out: Path, min_docs: int) -> dict[str, Any]:
    """Cutoffs per calibrated stage and language from the sample run's audit."""
    stages = calibrated(config)
    columns = ["record_id", "language", "status", "stage"] + [s.cls.quantile_column for s in stages]
    table = ds.dataset(sample_out / "audit", format="parquet").to_table(columns=columns)
    rows = table.to_pylist()
    result: dict[str, Any] = {}
    # A document an earlier calibrated stage drops never reaches a later one.
    dropped: set[str] = set()
    for stage in stages:
        column = stage.cls.quantile_column
        quantile = stage.param("quantile")
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
                cutoff = quantile_cutoff(scored, quantile)
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
            "quantile": quantile,
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
    needing = [spec for spec in calibrated(config) if not spec.param("cutoffs")]
    if not needing:
        return config, None
    path = out / CALIBRATION
    names = ", ".join(spec.name for spec in needing)
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
    cutoffs = {
        spec.name: {"cutoffs": calibration["stages"][spec.name]["cutoffs"]} for spec in needing
    }
    return config.with_stage_params(cutoffs), calibration

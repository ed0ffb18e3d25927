"""Per-language quantile cutoffs: `heed calibrate` on the sample, then `heed corpus` with them."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from conftest import REPO, SAMPLE_ROOT, make_doc, run_heed

from heed.common.ranks import quantile_cutoff, ranks_at_or_above, tie_key
from heed.curation.config import ConfigError, PipelineConfig
from heed.curation.run.calibrate import fingerprint, sample_config
from heed.filters.toxicity import ToxicityFilter

QUANTILE = 0.05
MIN_DOCS = 50


def quantile_config(folder: Path, extra: str = "") -> Path:
    """configs/sample.toml with toxicity's fixed threshold replaced by a 5% quantile."""
    text = (REPO / "configs" / "sample.toml").read_text()
    text = text.replace('"../sample', f'"{SAMPLE_ROOT}')
    lines = [
        f"quantile = {QUANTILE}{extra}" if line.startswith("threshold =") else line
        for line in text.splitlines()
    ]
    assert any(line.startswith("quantile =") for line in lines)
    path = folder / "quantile.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("quantile", [0.01, 0.05, 0.2, 0.5])
def test_the_cutoff_marks_off_exactly_the_quantile_even_among_ties(quantile: float) -> None:
    rng = random.Random(7)
    # Mostly zeros, as a word-list scorer gives: the cut falls among tied scores.
    scored = [(rng.choice([0.0] * 8 + [0.01, 0.2]), tie_key(f"r{i}")) for i in range(997)]
    cutoff = quantile_cutoff(scored, quantile)
    above = [pair for pair in scored if ranks_at_or_above(*pair, cutoff)]
    assert len(above) == round(quantile * len(scored))
    below = [pair for pair in scored if not ranks_at_or_above(*pair, cutoff)]
    # The top part is the top: no left-out pair outranks a taken one.
    assert min((s, -k) for s, k in above) > max((s, -k) for s, k in below)


def test_no_cutoff_when_the_quantile_drops_nothing() -> None:
    assert quantile_cutoff([(0.5, 0.1)] * 9, 0.05) is None


def test_tie_key_is_a_fixed_number_per_record() -> None:
    keys = [tie_key(f"<urn:uuid:{i}>") for i in range(1000)]
    assert keys == [tie_key(f"<urn:uuid:{i}>") for i in range(1000)]
    assert all(0 <= k < 1 for k in keys)
    assert len(set(keys)) == 1000
    assert 0.4 < sum(keys) / len(keys) < 0.6


def test_sample_run_stops_after_the_calibrated_stage_and_only_scores(tmp_path: Path) -> None:
    config = PipelineConfig.load(quantile_config(tmp_path))
    sample = sample_config(config)
    assert sample.stage_names == ["opt_out", "extract", "language", "dedup", "toxicity"]
    toxicity = sample.build_stages()[-1]
    assert toxicity.score_only and toxicity.quantile == QUANTILE
    # The fingerprint ignores the cutoffs, not the thresholds that define the population.
    assert fingerprint(sample) == fingerprint(config)
    with pytest.raises(ConfigError, match="no stage to calibrate"):
        sample_config(PipelineConfig.load())


def test_score_only_scores_and_never_drops() -> None:
    docs = [
        make_doc("fuck shit fuck", url=f"https://e.org/{i}", language="eng_Latn") for i in (1, 2)
    ]
    stage = ToxicityFilter(quantile=0.5, score_only=True)
    stage.setup(None)
    stage(docs)
    assert all(d.alive and d.scores["toxicity_score"] == 1.0 for d in docs)
    stage = ToxicityFilter(quantile=0.5, cutoffs={"eng_Latn": [1.0, 1.0]})
    stage.setup(None)
    stage(docs)
    assert [d.reason for d in docs] == ["toxic", "toxic"]
    assert "top 50%" in docs[0].detail


def test_corpus_refuses_a_quantile_without_calibration(tmp_path: Path) -> None:
    config = quantile_config(tmp_path)
    proc = run_heed("corpus", str(config), "--out", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2
    assert "heed calibrate" in proc.stderr
    assert not (tmp_path / "out" / "audit").exists()


def test_calibrated_drop_rate_per_language_is_the_quantile(tmp_path: Path) -> None:
    """Issue 4, point 3: each calibrated language loses its top 5% (within 1 point)."""
    config = quantile_config(tmp_path)
    out = tmp_path / "out"
    run_heed(
        "calibrate",
        str(config),
        "--out",
        str(out),
        "--executor",
        "local",
        "--min-docs",
        str(MIN_DOCS),
    )
    calibration = json.loads((out / "calibration.json").read_text())
    toxicity = calibration["stages"]["toxicity"]
    calibrated = {k for k, v in toxicity["languages"].items() if v["calibrated"]}
    uncalibrated = set(toxicity["languages"]) - calibrated
    assert len(calibrated) >= 6 and uncalibrated  # the sample has both kinds
    assert all(toxicity["languages"][k]["documents"] >= MIN_DOCS for k in calibrated)

    run_heed("corpus", str(config), "--out", str(out), "--executor", "local")
    audit = ds.dataset(out / "audit", format="parquet").to_table().to_pylist()
    reached: dict[str, list[dict]] = defaultdict(list)
    for row in audit:
        if row["toxicity_score"] is not None:
            reached[row["language"]].append(row)
    for language in calibrated:
        rows = reached[language]
        dropped = [r for r in rows if r["stage"] == "toxicity"]
        rate = len(dropped) / len(rows)
        assert abs(rate - QUANTILE) <= 0.01, (language, len(dropped), len(rows))
        assert all("top 5%" in r["detail"] for r in dropped)
        # The dropped ones are the top of the (score, tie key) order.
        kept = [r for r in rows if r["stage"] != "toxicity"]
        rank = lambda r: (r["toxicity_score"], -tie_key(r["record_id"]))  # noqa: E731
        assert min(map(rank, dropped)) > max(map(rank, kept)), language
    for language in uncalibrated:
        for row in reached[language]:
            assert (row["stage"] == "toxicity") == (row["toxicity_score"] > 0.05), row["url"]

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["calibration"] == calibration
    cutoffs = manifest["config"]["stage_params"]["toxicity"]["cutoffs"]
    assert cutoffs == toxicity["cutoffs"] and set(cutoffs) <= calibrated

    # A calibration made for other settings is refused, not silently applied.
    stale = quantile_config(tmp_path, extra="\nchunk_words = 256")
    proc = run_heed("corpus", str(stale), "--out", str(out), check=False)
    assert proc.returncode == 2 and "another config" in proc.stderr

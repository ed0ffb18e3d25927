"""A config that cannot run stops at once, naming the problem and the valid choices."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, SAMPLE_STAGES, run_heed

from heed.curation.config import ConfigError, PipelineConfig, default_config


def write_config(tmp_path: Path, extra: str = "", stages: str = '["opt_out", "extract"]') -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'name = "t"\ncrawl_root = "{REPO / "sample"}"\ncrawl = "CC-MAIN-SAMPLE"\n'
        f"stages = {stages}\n{extra}"
    )
    return path


def test_default_config_loads_and_builds_every_stage() -> None:
    config = PipelineConfig.load()
    assert config.source == str(default_config().resolve())
    assert [s.name for s in config.build_stages()] == SAMPLE_STAGES


@pytest.mark.parametrize(
    ("extra", "stages", "message"),
    [
        ("batchsize = 3\n", None, "unknown key 'batchsize' (did you mean 'batch_size'?)"),
        ("[stage.extract]\nmin_char = 3\n", None, "unknown key 'min_char'"),
        ("[stage.extract]\nmin_chars = 'many'\n", None, "min_chars = 'many' is not a valid int"),
        ("batch_size = 0\n", None, "batch_size = 0 must be >= 1"),
        ("", '["opt_out", "extrct"]', "unknown stage 'extrct' (did you mean 'extract'?)"),
        ("[stage.language]\nmin_score = 0.5\n", None, "[stage.language] configures a stage not"),
        ("", '["opt_out", "opt_out"]', "lists a stage twice"),
        ("[stage.pii]\nkinds = ['email', 'ssn']\n", '["pii"]', "unknown PII kinds ['ssn']"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path, extra, stages, message) -> None:
    path = write_config(tmp_path, extra, stages or '["opt_out", "extract"]')
    with pytest.raises(ConfigError, match=None) as error:
        PipelineConfig.load(path)
    assert message in str(error.value)


def test_valid_choices_are_listed(tmp_path) -> None:
    with pytest.raises(ConfigError) as error:
        PipelineConfig.load(write_config(tmp_path, stages='["nope"]'))
    for name in SAMPLE_STAGES:
        assert name in str(error.value)


def test_cli_exits_2_on_bad_config_and_missing_crawl(tmp_path) -> None:
    proc = run_heed("corpus", str(write_config(tmp_path, "colour = 1\n")), check=False)
    assert proc.returncode == 2
    assert "unknown key 'colour'" in proc.stderr
    proc = run_heed("corpus", "--crawl", "CC-MAIN-2099-01", "--out", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert "no crawl 'CC-MAIN-2099-01'" in proc.stderr and "CC-MAIN-SAMPLE" in proc.stderr
    proc = run_heed("corpus", "--crawl-root", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 2 and "nowhere" in proc.stderr
    proc = run_heed("corpus", "--executor", "spark", check=False)
    assert proc.returncode == 2 and "ray" in proc.stderr and "local" in proc.stderr

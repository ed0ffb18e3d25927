"""Extraction chosen by measurement (issue 19): `heed eval extract`, its metrics against the
benchmarks' own scoring code, the second extractor, and what switching extractor changes.

Oracles: ScrapingHub's evaluate.py (tests/data/extraction-gold) and trafilatura's
eval_common.py (tests/data/extraction-multilingual), both unchanged; the extractors' own
libraries called directly."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest
import trafilatura
from conftest import REPO, SAMPLE_ROOT, make_doc, output_files, run_heed
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from heed.curation.config import ConfigError, PipelineConfig
from heed.curation.text import evaluate as ev
from heed.curation.text.extract import SETTINGS, Extract

GOLD = REPO / "tests" / "data" / "extraction-gold"
MULTILINGUAL = REPO / "tests" / "data" / "extraction-multilingual"


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scrapinghub() -> ModuleType:
    return _module(GOLD / "evaluate.py", "scrapinghub_evaluate")


@pytest.fixture(scope="module")
def trafilatura_eval() -> ModuleType:
    return _module(MULTILINGUAL / "eval_common.py", "trafilatura_eval_common")


@pytest.fixture(scope="module")
def gold() -> list[ev.GoldPage]:
    return ev.load_gold(GOLD)


def _trafilatura_default(page: ev.GoldPage) -> str:
    """trafilatura.extract with its own defaults and heed's output settings, called directly."""
    return (
        trafilatura.extract(
            page.html.decode("utf-8"), url=page.url, output_format="txt", include_tables=True,
            include_comments=False, deduplicate=False, with_metadata=False,
        )
        or ""
    )  # fmt: skip


def _resiliparse_main(page: ev.GoldPage) -> str:
    tree = HTMLTree.parse(page.html.decode("utf-8"))
    return extract_plain_text(tree, main_content=True, alt_texts=False, comments=False)


# --------------------------------------------------------------------------- the metrics


@pytest.mark.parametrize(
    ("true", "pred", "expected"),
    [  # the benchmark's own test cases (its tests.py), 3-token shingles
        ("a b c", "a b c", (1, 0, 0)),
        ("a b c d", "a b c", (0.5, 0, 0.5)),
        ("a b c", "a b c d", (0.5, 0.5, 0)),
        ("", "", (0, 0, 0)),
        ("a", "", (0, 0, 1)),
        ("", "a", (0, 1, 0)),
        ("a b c a b c", "a b c", (0.25, 0, 0.75)),
        ("a b c", "a b c a b c", (0.25, 0.75, 0)),
    ],
)
def test_shingle_match_gives_the_benchmarks_own_cases(
    true: str, pred: str, expected: tuple, scrapinghub: ModuleType
) -> None:
    assert ev.shingle_match(true, pred, n=3) == pytest.approx(expected)
    assert scrapinghub.string_shingle_matching(true, pred, ngram_n=3) == pytest.approx(expected)


def test_scores_are_the_benchmark_scripts_on_real_extractions(
    gold: list[ev.GoldPage], scrapinghub: ModuleType
) -> None:
    """Per page and in total, on what two real extractors make of the 91 gold pages."""
    for extract in (_trafilatura_default, _resiliparse_main):
        texts = [extract(page) for page in gold]
        ours = [ev.shingle_match(p.body, t) for p, t in zip(gold, texts, strict=True)]
        theirs = [
            scrapinghub.string_shingle_matching(true=p.body, pred=t)
            for p, t in zip(gold, texts, strict=True)
        ]
        assert [x for row in ours for x in row] == pytest.approx(
            [x for row in theirs for x in row], abs=1e-12
        )
        expected = scrapinghub.metrics_from_tp_fp_fns(theirs)
        assert ev.shingle_scores(ours) == pytest.approx(expected, abs=1e-12)
        assert 0.85 < expected["f1"] < 1


def test_snippet_scores_are_trafilaturas_on_real_extractions(trafilatura_eval: ModuleType):
    pages = ev.load_gold(MULTILINGUAL)
    assert len(pages) == 172 and {p.language for p in pages} >= {"spa_Latn", "pol_Latn"}
    matrix = trafilatura_eval.ConfusionMatrix()
    counts = []
    for page in pages[::4]:
        text = trafilatura.extract(page.html, output_format="txt", include_tables=True,
                                   include_comments=False, deduplicate=False) or ""  # fmt: skip
        item = {"with": list(page.with_), "without": list(page.without)}
        expected = trafilatura_eval.count_item(item, text)
        assert ev.snippet_counts(page, text) == expected
        matrix.add(expected)
        counts.append(expected)
    precision, recall, _, f1 = matrix.scores()
    assert ev.snippet_scores(counts) == pytest.approx(
        {"precision": precision, "recall": recall, "f1": f1}
    )


# --------------------------------------------------------------------------- the command


@pytest.fixture()
def small_gold(tmp_path: Path, gold: list[ev.GoldPage]) -> Path:
    """Twelve gold pages in the benchmark's layout."""
    folder = tmp_path / "gold"
    (folder / "html").mkdir(parents=True)
    entries = json.loads((GOLD / "ground-truth.json").read_text())
    keep = [p.id for p in gold[::8]]
    for key in keep:
        shutil.copy(GOLD / "html" / f"{key}.html.gz", folder / "html")
    (folder / "ground-truth.json").write_text(json.dumps({k: entries[k] for k in keep}))
    return folder


def _config(tmp_path: Path, **extract: object) -> Path:
    text = (REPO / "configs" / "sample.toml").read_text()
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extract.items())
    path = tmp_path / "eval.toml"
    path.write_text(text.replace("[stage.extract]\n", "[stage.extract]\n" + lines))
    return path


def test_eval_extract_json_is_the_configured_extractors_score(
    small_gold: Path, tmp_path: Path, scrapinghub: ModuleType
) -> None:
    pages = ev.load_gold(small_gold)
    for config, extract in (
        ([], _trafilatura_default),
        ([str(_config(tmp_path, extractor="resiliparse"))], _resiliparse_main),
    ):
        proc = run_heed("eval", "extract", str(small_gold), *config, "--json")
        result = json.loads(proc.stdout)
        assert {"pages", "f1", "precision", "recall", "ms_per_page"} <= set(result)
        assert result["pages"] == 12 and result["dropped"] == 0 and result["ms_per_page"] > 0
        expected = scrapinghub.metrics_from_tp_fp_fns(
            [scrapinghub.string_shingle_matching(true=p.body, pred=extract(p)) for p in pages]
        )
        for key in ("f1", "precision", "recall"):
            assert result[key] == pytest.approx(expected[key], abs=1e-9), (config, key)
    assert result["settings"]["extractor"] == "resiliparse"
    assert "by_language" not in result  # the benchmark's pages name no language


def test_eval_extract_compare_measures_every_named_setting(small_gold: Path) -> None:
    table = run_heed("eval", "extract", str(small_gold), "--compare").stdout
    for name in ["configured", *SETTINGS]:
        assert any(line.split()[:1] == [name] for line in table.splitlines()), name
    result = json.loads(run_heed("eval", "extract", str(small_gold), "--compare", "--json").stdout)
    assert set(result["compare"]) == set(SETTINGS)
    # The default config's stage is trafilatura with its own defaults: the same numbers.
    assert result["compare"]["trafilatura"]["f1"] == result["f1"]
    assert result["compare"]["resiliparse"]["settings"]["extractor"] == "resiliparse"


def test_eval_extract_gives_per_language_results_on_a_snippet_set(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    (folder / "html").mkdir(parents=True)
    entries = json.loads((MULTILINGUAL / "evaldata.json").read_text())
    keep = {k: v for k, v in entries.items() if v["language"] in ("spa_Latn", "pol_Latn")}
    keep = dict(list(keep.items())[:45])
    for key in keep:
        shutil.copy(MULTILINGUAL / "html" / f"{key}.html.gz", folder / "html")
    (folder / "evaldata.json").write_text(json.dumps(keep))
    result = json.loads(run_heed("eval", "extract", str(folder), "--json").stdout)
    groups = result["by_language"]
    assert sum(g["pages"] for g in groups.values()) == result["pages"] == 45
    # Spanish has enough pages for a row of its own; Polish (fewer than 20 here) is "other".
    assert "spa_Latn" in groups and "other" in groups and "pol_Latn" not in groups


def test_eval_extract_rejects_what_is_not_a_gold_set_clearly(tmp_path: Path) -> None:
    proc = run_heed("eval", "extract", str(tmp_path), check=False)
    assert proc.returncode == 2 and "neither ground-truth.json nor evaldata.json" in proc.stderr
    (tmp_path / "html").mkdir()
    (tmp_path / "ground-truth.json").write_text(json.dumps({"x": {"articleBody": "a b c d"}}))
    (tmp_path / "html" / "x.html.gz").write_bytes(gzip.compress(b"<html>")[:-6])
    proc = run_heed("eval", "extract", str(tmp_path), check=False)
    assert proc.returncode == 2 and "x.html.gz" in proc.stderr
    config = tmp_path / "no-extract.toml"
    config.write_text('name = "n"\ncrawl = "C"\nstages = ["opt_out"]\n')
    (tmp_path / "html" / "x.html.gz").write_bytes(gzip.compress(b"<html></html>"))
    proc = run_heed("eval", "extract", str(tmp_path), str(config), check=False)
    assert proc.returncode == 2 and "no extract stage" in proc.stderr


# --------------------------------------------------------------------------- the stage


def test_resiliparse_stage_gives_what_resiliparse_gives(gold: list[ev.GoldPage]) -> None:
    stage = Extract(extractor="resiliparse", min_chars=0)
    headers = {"content-type": "text/html; charset=utf-8"}
    docs = [make_doc(url=p.url, payload=p.html, http_status=200, http_headers=headers)
            for p in gold[:30]]  # fmt: skip
    stage.process(docs)
    assert [d.text for d in docs] == [_resiliparse_main(p) for p in gold[:30]]
    # Without a charset it sniffs the bytes, as trafilatura does: the same text here.
    sniffed = [make_doc(url=p.url, payload=p.html, http_status=200,
                        http_headers={"content-type": "text/html"}) for p in gold[:30]]  # fmt: skip
    stage.process(sniffed)
    assert [d.text for d in sniffed] == [d.text for d in docs]


def test_each_extractor_records_only_its_own_settings() -> None:
    trafilatura_params = Extract().params()
    assert (
        trafilatura_params["extractor"] == "trafilatura" and "max_depth" not in trafilatura_params
    )
    resiliparse_params = Extract(extractor="resiliparse", fast=True).params()
    assert "fast" not in resiliparse_params and resiliparse_params["max_depth"] == 512
    with pytest.raises(ValueError, match="valid: trafilatura, resiliparse"):
        Extract(extractor="readability")
    with pytest.raises(ValueError, match="cannot both be true"):
        Extract(favor_precision=True, favor_recall=True)


def test_an_unknown_extractor_in_a_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="extractor = 'justext'"):
        PipelineConfig.load(_config(tmp_path, extractor="justext"))


def test_the_guard_holds_for_resiliparse() -> None:
    """resiliparse's main-content pass is C++ the timer cannot stop and grows with the square
    of the nesting depth: a page nested deeper than max_depth is dropped before it starts; one
    too large is never parsed; one past the timeout is dropped once the call returns."""
    paragraph = "<p>" + "Ein ganz gewöhnlicher Satz über das Wetter und die Stadt. " * 8 + "</p>"
    normal = f"<html><body><article>{paragraph * 5}</article></body></html>".encode()
    deep = b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"</body></html>"
    huge = f"<html><body>{paragraph * 40_000}</body></html>".encode()  # ~20 MB
    many = "".join(f"<div><p>Absatz {i}: ein Satz über das Wetter {i * 7}.</p></div>"
                   for i in range(120_000))  # fmt: skip
    slow = f"<html><body><article>{many}</article></body></html>".encode()  # ~7 MB
    headers = {"content-type": "text/html; charset=utf-8"}
    docs = [
        make_doc(url=f"https://example.org/{i}", payload=page, http_status=200,
                 http_headers=headers)
        for i, page in enumerate([normal, deep, huge, normal])
    ]  # fmt: skip
    Extract(extractor="resiliparse").process(docs)
    assert [d.reason for d in docs] == [None, "too_deep", "too_large", None]
    assert docs[0].text and docs[0].text == docs[3].text
    assert docs[1].detail == "elements nested over 512 deep"
    late = [make_doc(url="https://example.org/s", payload=slow, http_status=200,
                     http_headers=headers)]  # fmt: skip
    Extract(extractor="resiliparse", timeout=0.01).process(late)
    assert (late[0].reason, late[0].detail) == ("extract_timeout", "stopped after 0.01 s")
    shallow = [
        make_doc(
            url="https://example.org/d",
            payload=b"<html><body>" + b"<div>" * 300 + b"x" * 300 + b"</div>" * 300,
            http_status=200,
            http_headers=headers,
        )
    ]
    Extract(extractor="resiliparse").process(shallow)  # fmt: skip
    assert shallow[0].reason is None and shallow[0].text == "x" * 300


# --------------------------------------------------------------------------- in a run


def _run_config(tmp_path: Path, name: str, **extract: object) -> Path:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extract.items())
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ncrawl_root = "{SAMPLE_ROOT}"\ncrawl = "CC-MAIN-SAMPLE"\nshards = 1\n'
        'stages = ["opt_out", "extract", "language"]\n'
        f'[stage.opt_out]\nrobots_dirs = ["{SAMPLE_ROOT / "robots-2025-01"}"]\n'
        f"[stage.extract]\n{lines}"
    )
    return path


def test_switching_extractor_changes_only_the_texts_and_what_follows_from_them(
    tmp_path: Path,
) -> None:
    """Same records, same order, same opt-out and HTTP/type decisions; other texts, and a
    manifest that names the extractor; two runs of the switched config: the same bytes."""
    outs = {}
    for name, extract, config in (("t", {}, "t"), ("r", {"extractor": "resiliparse"}, "r"),
                                  ("r2", {"extractor": "resiliparse"}, "r")):  # fmt: skip
        outs[name] = tmp_path / f"out-{name}"
        path = _run_config(tmp_path, config, **extract)
        run_heed("corpus", str(path), "--executor", "local", "--out", str(outs[name]))
    assert output_files(outs["r"]) == output_files(outs["r2"]), "resiliparse: not deterministic"

    def audit(out: Path) -> list[dict]:
        return pq.read_table(sorted((out / "audit").glob("*.parquet"))[0]).to_pylist()

    t, r = audit(outs["t"]), audit(outs["r"])
    assert [row["record_id"] for row in t] == [row["record_id"] for row in r]
    assert len(t) > 500
    for a, b in zip(t, r, strict=True):
        if a["stage"] in ("read", "opt_out") or a["reason"] in ("not_html", "http_status"):
            assert (a["status"], a["stage"], a["reason"]) == (b["status"], b["stage"], b["reason"])
        if a["stage"] != "read":  # read errors have no opt-out scores
            assert a["robots_rule"] == b["robots_rule"] and a["optout_signal"] == b["optout_signal"]

    def texts(out: Path) -> dict[str, str]:
        table = pq.read_table(sorted((out / "documents").glob("*.parquet"))[0])
        return dict(zip(table["id"].to_pylist(), table["text"].to_pylist(), strict=True))

    t_texts, r_texts = texts(outs["t"]), texts(outs["r"])
    shared = set(t_texts) & set(r_texts)
    assert len(shared) > 0.9 * len(t_texts)
    assert sum(t_texts[k] != r_texts[k] for k in shared) > 0.5 * len(shared)
    manifests = [json.loads((outs[n] / "manifest.json").read_text()) for n in ("t", "r")]
    params = [{s["name"]: s["params"] for s in m["stages"]} for m in manifests]
    assert params[0]["extract"]["extractor"] == "trafilatura" and "fast" in params[0]["extract"]
    assert params[1]["extract"]["extractor"] == "resiliparse" and "fast" not in params[1]["extract"]
    assert params[0]["opt_out"] == params[1]["opt_out"]
    assert params[0]["language"] == params[1]["language"]

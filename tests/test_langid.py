"""Language labels (heed.filters.languages) and language ID (heed.filters.langid) with the
real lid.176.

The accuracy test reads a labelled set of paragraphs written for heed (tests/data): 24
languages, 16 paragraphs each, including non-Latin scripts and close pairs (es/pt, cs/sk,
nb/da/sv, id/ms, hr/sr-Latn). Run with `-s` to see the per-language summary.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import fasttext
import pytest

from heed.curation.config import ConfigError, build_stage
from heed.curation.document import Document, Status
from heed.curation.stage import RunContext
from heed.filters import langid
from heed.filters.langid import LanguageFilter, default_model_path, identify, model_labels
from heed.filters.languages import (
    _SCRIPT_RANGES,
    LID176,
    NORMALISED,
    SCRIPT_VARIANTS,
    dominant_script,
    normalize,
    to_iso639_1,
    wordlist_code,
)
from heed.filters.toxicity import load_wordlists

PARAGRAPHS = Path(__file__).parent / "data" / "langid_paragraphs.jsonl"
CONTEXT = RunContext(crawl_root="", crawl="")
# ISO 15924 codes a lid.176 language may be written in (those the table may use).
SCRIPTS = {
    "Arab", "Armn", "Beng", "Cyrl", "Deva", "Ethi", "Geor", "Grek", "Gujr", "Guru", "Hang",
    "Hani", "Hebr", "Jpan", "Khmr", "Knda", "Laoo", "Latn", "Mlym", "Mymr", "Orya", "Sinh",
    "Taml", "Telu", "Thaa", "Thai", "Tibt",
}  # fmt: skip


def doc(text: str) -> Document:
    return Document(
        record_id="<urn:x>", url="https://example.org/", host="example.org", crawl="C",
        shard="s", offset=0, warc_date="", text=text,
    )  # fmt: skip


# --- the label table ---------------------------------------------------------------------


def test_every_lid176_label_maps() -> None:
    labels = [label.removeprefix("__label__") for label in model_labels(default_model_path())]
    assert len(labels) == 176
    assert sorted(labels) == sorted(LID176)


def test_normalised_labels_are_distinct_and_well_formed() -> None:
    values = list(LID176.values())
    assert len(set(values)) == len(values), Counter(values).most_common(3)
    for code, label in LID176.items():
        assert NORMALISED.fullmatch(label), (code, label)
        assert label[4:] in SCRIPTS, (code, label)
    # Two-letter lid.176 codes are ISO 639-1: their normalised form must lead back to them.
    for code, label in LID176.items():
        if len(code) == 2:
            assert to_iso639_1(label) == code, (code, label)


@pytest.mark.parametrize(
    ("label", "normal"),
    [
        ("__label__de", "deu_Latn"),
        ("__label__zh", "cmn_Hani"),
        ("__label__ar", "arb_Arab"),
        ("__label__ja", "jpn_Jpan"),
        ("__label__sq", "als_Latn"),  # Albanian (Tosk) ...
        ("__label__als", "gsw_Latn"),  # ... is not lid.176's `als`, Alemannic
        ("__label__deu_Latn", "deu_Latn"),  # GlotLID labels pass through
        ("__label__und_Zyyy", "und_Zyyy"),
        ("__label__xx-Yyyy", "xx-Yyyy"),  # unknown to both: prefix stripped, kept
    ],
)
def test_normalize(label: str, normal: str) -> None:
    assert normalize(label) == normal


def test_script_follows_the_text_for_multi_script_languages() -> None:
    assert normalize("__label__sr", "Vlada je juče usvojila novi zakon.") == "srp_Latn"
    assert normalize("__label__sr", "Влада је јуче усвојила нови закон.") == "srp_Cyrl"
    assert normalize("__label__sr") == "srp_Cyrl"
    # A script the language is not written in changes nothing.
    assert normalize("__label__sr", "政府は火曜日に") == "srp_Cyrl"
    # Languages with one usual script keep it whatever the text.
    assert normalize("__label__de", "Правительство") == "deu_Latn"
    assert dominant_script("ab где") == "Cyrl"
    for code, scripts in SCRIPT_VARIANTS.items():
        assert LID176[code][4:] in scripts, code


def test_iso639_1_and_wordlist_codes() -> None:
    assert to_iso639_1("deu_Latn") == "de"
    assert to_iso639_1("srp_Latn") == "sr"
    assert to_iso639_1("cmn_Hani") == "zh"
    assert to_iso639_1("nob_Latn") == "no"
    assert to_iso639_1("pes_Arab") == "fa"
    assert to_iso639_1("ceb_Latn") is None
    assert to_iso639_1("de") is None
    assert wordlist_code("tgl_Latn") == wordlist_code("fil_Latn") == "fil"
    assert wordlist_code("jpn_Jpan") == "ja"
    assert wordlist_code("yue_Hani") is None


def test_every_profanity_list_is_reachable_from_a_label() -> None:
    reachable = {wordlist_code(label) for label in LID176.values()}
    assert set(load_wordlists()) <= reachable


# --- the filter and the library call ------------------------------------------------------


def test_identify_loads_the_model_once() -> None:
    first = identify(["Die Bundesregierung hat am Mittwoch ein neues Gesetz beschlossen."])
    loaded = dict(langid._MODELS)
    second = identify(["Правительство утвердило новый бюджет.", "", "  \n "])
    assert loaded == langid._MODELS
    assert first[0][0] == "deu_Latn" and 0.5 < first[0][1] <= 1.0
    assert second[0][0] == "rus_Cyrl"
    assert all(NORMALISED.fullmatch(label) and 0.0 <= score <= 1.0 for label, score in second)


def test_per_language_minimum_overrides_the_default() -> None:
    text = "Die Bundesregierung hat am Mittwoch ein neues Gesetz zum Klimaschutz beschlossen."
    strict = LanguageFilter(min_score=0.1, min_scores={"deu_Latn": 1.01})
    lenient = LanguageFilter(min_score=1.01, min_scores={"deu_Latn": 0.1})
    for stage in (strict, lenient):
        stage.setup(CONTEXT)
    dropped, kept = doc(text), doc(text)
    strict([dropped])
    lenient([kept])
    assert (dropped.status, dropped.reason) == (Status.DROPPED, "low_language_score")
    assert "deu_Latn" in (dropped.detail or "") and "1.01" in (dropped.detail or "")
    assert kept.alive and kept.language == "deu_Latn"


@pytest.mark.parametrize("params", [{"languages": ["en"]}, {"min_scores": {"de": 0.3}}])
def test_labels_in_params_must_be_normalised(params: dict) -> None:
    with pytest.raises(ConfigError, match=r"did you mean '(eng|deu)_Latn'"):
        build_stage("language", params)


# --- accuracy on the labelled paragraphs ---------------------------------------------------


def _load_paragraphs() -> list[dict]:
    with PARAGRAPHS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_paragraph_set_is_well_formed() -> None:
    rows = _load_paragraphs()
    per_language = Counter(row["language"] for row in rows)
    assert len(rows) >= 300
    assert len(per_language) >= 15 and min(per_language.values()) >= 15, per_language
    for row in rows:
        assert set(row) == {"text", "language", "source"}, row
        assert NORMALISED.fullmatch(row["language"]), row
        assert len(row["text"]) >= 40, row["text"]
    assert len({row["text"] for row in rows}) == len(rows)


def _summary(rows: list[dict], predictions: list[tuple[str, float]]) -> list[str]:
    """Per language: paragraphs, correct, accuracy, mean score of the top label, share of
    paragraphs the default min_score (0.5) would drop, and what it was mistaken for."""
    by_language: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row, prediction in zip(rows, predictions, strict=True):
        by_language[row["language"]].append(prediction)
    lines = [f"{'language':<10} {'n':>3} {'ok':>3} {'acc':>6} {'score':>6} {'<0.5':>5}  confused"]
    for language in sorted(by_language):
        preds = by_language[language]
        ok = sum(label == language for label, _ in preds)
        mean = sum(score for _, score in preds) / len(preds)
        low = sum(score < 0.5 for _, score in preds)
        wrong = Counter(label for label, _ in preds if label != language)
        confused = ", ".join(f"{label} {n}" for label, n in sorted(wrong.items()))
        lines.append(
            f"{language:<10} {len(preds):>3} {ok:>3} {ok / len(preds):>6.1%} {mean:>6.3f} "
            f"{low:>5}  {confused}"
        )
    return lines


def test_lid176_accuracy_on_labelled_paragraphs() -> None:
    rows = _load_paragraphs()
    predictions = identify([row["text"] for row in rows])
    right = sum(label == row["language"] for row, (label, _) in zip(rows, predictions, strict=True))
    accuracy = right / len(rows)
    print(f"\nlid.176 on {len(rows)} paragraphs: {right} right, accuracy {accuracy:.1%}")
    print("\n".join(_summary(rows, predictions)))
    assert accuracy >= 0.95


def test_predict_matches_fasttext_predict_on_the_folded_line() -> None:
    """langid.predict folds whitespace and cuts at max_chars; fasttext-predict (the oracle)
    on the folded, cut line must give the same label and probability."""
    oracle = fasttext.load_model(str(default_model_path()))
    model = langid.load_model()
    texts = [row["text"] for row in _load_paragraphs()]
    texts += ["  Ein\u00a0Satz\u3000mit\u2009Leerzeichen\x1cund\n\tso  ", "", "x\x00y </s> z"]
    for max_chars in (5000, 120, 40):
        for text in texts:
            line = re.sub(r"\s+", " ", text[:max_chars]).strip()
            labels, probs = oracle.predict(line, k=1)
            label, prob = langid.predict(model, text, max_chars)
            assert label == normalize(labels[0], line)
            assert abs(prob - min(float(probs[0]), 1.0)) <= 1e-4


def test_dominant_script_counts_like_the_plain_loop() -> None:
    def plain(text: str) -> str | None:
        counts: dict[str, int] = {}
        for char in text:
            for low, high, script in _SCRIPT_RANGES:
                if low <= ord(char) <= high:
                    counts[script] = counts.get(script, 0) + 1
                    break
        return max(counts, key=lambda s: (counts[s], s)) if counts else None

    rng = random.Random(0)
    bounds = [bound for low, high, _ in _SCRIPT_RANGES for bound in (low, high)]
    edges = [bound + d for bound in bounds for d in (-1, 0, 1)]
    texts = [row["text"] for row in _load_paragraphs()] + ["", "\udcff", "ab где", "12 34"]
    for _ in range(2000):
        points = [rng.choice([*edges, rng.randrange(0x3000), rng.randrange(0x110000)])]
        points += [rng.choice(edges) for _ in range(rng.randrange(12))]
        texts.append("".join(map(chr, points)))
    for text in texts:
        assert dominant_script(text) == plain(text), text

"""A fastText toxicity classifier, trained by `heed filters train-fasttext` and used by path:
scores are probabilities (continuous), so a quantile cut falls between documents, not ties."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from conftest import make_doc, run_heed
from faker import Faker
from test_calibrate import MIN_DOCS, QUANTILE, quantile_config

from heed.filters import toxicity
from heed.filters.toxicity import ToxicityFilter, load_wordlists

LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES", "pl": "pl_PL"}


def vocabulary(code: str) -> list[str]:
    """Listed words the training lines use: a classifier learns the words it has seen."""
    return sorted(w for w in load_wordlists()[code][0] if w.isalpha() and len(w) > 3)[:40]


def labelled_lines(seed: int, per_language: int) -> list[str]:
    """`label<TAB>text` lines: Faker sentences, and the same with listed profanity mixed in."""
    rng = random.Random(seed)
    lines = []
    for code, locale in LOCALES.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        words = vocabulary(code)
        for _ in range(per_language):
            text = fake.sentence(nb_words=8)
            if rng.random() < 0.5:
                tokens = text.split()
                for _ in range(rng.randint(2, 4)):
                    tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(words))
                lines.append(f"toxic\t{' '.join(tokens)}")
            else:
                lines.append(f"clean\t{text}")
    return lines


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("toxic")
    (folder / "train.tsv").write_text("\n".join(labelled_lines(1, 400)) + "\n")
    (folder / "valid.tsv").write_text("\n".join(labelled_lines(2, 100)) + "\n")
    model = folder / "toxic.bin"
    proc = run_heed(
        "filters", "train-fasttext", str(folder / "train.tsv"), "--out", str(model),
        "--valid", str(folder / "valid.tsv"), "--epoch", "10", "--minn", "2", "--maxn", "4",
    )  # fmt: skip
    accuracy = float(proc.stdout.rsplit("=", 1)[1])
    print(proc.stdout)
    assert accuracy >= 0.9
    return model


def test_training_is_deterministic(classifier: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.bin"
    train = classifier.parent / "train.tsv"
    args = ["--epoch", "10", "--minn", "2", "--maxn", "4"]
    run_heed("filters", "train-fasttext", str(train), "--out", str(again), *args)
    assert again.read_bytes() == classifier.read_bytes()


def test_classifier_scores_chunks_and_keeps_the_worst(classifier: Path) -> None:
    clean = Faker("en_US")
    clean.seed_instance(5)
    page = " ".join(clean.paragraph(nb_sentences=5) for _ in range(60))
    rude = page + (" " + " ".join(vocabulary("en")[:8])) * 3
    scores = toxicity.score([page, rude], "eng_Latn", model=str(classifier), chunk_words=128)
    assert scores[0] < 0.5 < scores[1]
    # The max over chunks: one rude chunk at the end of a long page is not diluted.
    whole = toxicity.score([rude], "eng_Latn", model=str(classifier), chunk_words=100_000)
    assert whole[0] < scores[1]


def test_filter_with_a_model_scores_every_language_and_rejects_a_bad_label(
    classifier: Path,
) -> None:
    stage = ToxicityFilter(model=str(classifier), threshold=0.5)
    stage.setup(None)
    docs = [make_doc("Lorem ipsum dolor sit amet", language="lat_Latn")]
    stage(docs)
    assert 0 <= docs[0].scores["toxicity_score"] <= 1  # no word list needed
    bad = ToxicityFilter(model=str(classifier), toxic_label="hateful")
    with pytest.raises(ValueError, match="no label '__label__hateful'"):
        bad.setup(None)


def test_calibration_with_a_classifier_cuts_between_documents(
    classifier: Path, tmp_path: Path
) -> None:
    config = quantile_config(tmp_path, extra=f'\nmodel = "{classifier}"')
    out = tmp_path / "out"
    run_heed("calibrate", str(config), "--out", str(out), "--executor", "local",
             "--min-docs", str(MIN_DOCS))  # fmt: skip
    calibration = json.loads((out / "calibration.json").read_text())
    languages = calibration["stages"]["toxicity"]["languages"]
    calibrated = [k for k, v in languages.items() if v["calibrated"]]
    assert len(calibrated) >= 6
    for language in calibrated:
        assert languages[language]["tied_at_cutoff"] == 1, language  # no ties: a real order
        assert abs(languages[language]["drop_rate"] - QUANTILE) <= 0.01
    run_heed("corpus", str(config), "--out", str(out), "--executor", "local")
    audit = ds.dataset(out / "audit", format="parquet").to_table().to_pylist()
    scores = [r["toxicity_score"] for r in audit if r["toxicity_score"] is not None]
    assert len(set(scores)) > 0.9 * len(scores)
    for language in calibrated:
        rows = [r for r in audit if r["language"] == language and r["toxicity_score"] is not None]
        dropped = sum(r["stage"] == "toxicity" for r in rows)
        assert abs(dropped / len(rows) - QUANTILE) <= 0.01, language

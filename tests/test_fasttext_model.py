"""heed.filters.fasttext_model against the C++ oracle, fasttext-predict (module `fasttext`).

fasttext-predict's list form returns wrong results, so it is called one line at a time.
"""

from __future__ import annotations

import json
import random
import re
import struct
from pathlib import Path

import fasttext
import numpy as np
import pytest

from heed.filters.fasttext_model import (
    _UNICODE_SPACE,
    FastTextModel,
    fnv1a,
    line_words,
    read_labelled_tsv,
    subword_hashes,
    train_supervised,
)
from heed.filters.langid import default_model_path

PARAGRAPHS = Path(__file__).parent / "data" / "langid_paragraphs.jsonl"
LID = default_model_path()
WHITESPACE = re.compile(r"\s+")

# Lines that exercise the tokenizer: fastText splits on space, tab, CR, VT, FF and NUL only,
# stops at a literal </s>, skips __label__ words, and hashes bytes as signed chars.
EDGE_LINES = [
    "",
    " ",
    "a",
    "😀😀 🎉 👍🏽",
    "x" * 5000,
    "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherung " * 3,
    "</s>",
    "</s> hello",
    "hello </s> world",
    "bonjour le monde</s> hello",
    "x\x00y Straße",
    "a\tb\rc\vd\fe",
    "a\x1cb\x1dc\x1ed\x1fe",  # whitespace to str.split(), not to fastText
    "a\u00a0b\u3000c\u2003d\x85e",
    "__label__en hi there",
    "hi __label__ru there",
    "__label__",
    "ÄÖÜ äöü ß",
    "日本語のテキストです",
    "Привет, как дела?",
    "مرحبا بالعالم",
]


def _paragraphs() -> list[str]:
    with PARAGRAPHS.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


def _lines(count: int, seed: int = 0) -> list[str]:
    """Real text in many languages, folded to one line: whole paragraphs, single sentences,
    random slices (words cut in half) and mixtures of two languages."""
    rng = random.Random(seed)
    paragraphs = [WHITESPACE.sub(" ", p).strip() for p in _paragraphs()]
    lines = list(paragraphs)
    while len(lines) < count:
        text = rng.choice(paragraphs)
        kind = rng.randrange(4)
        if kind == 0:
            lines.append(rng.choice(re.split(r"(?<=[.!?。])\s*", text)))
        elif kind == 1:
            start = rng.randrange(len(text))
            lines.append(text[start : start + rng.randrange(1, 200)])
        elif kind == 2:
            lines.append(text + " " + rng.choice(paragraphs))
        else:
            lines.append(" ".join(rng.sample(text.split(), k=min(5, len(text.split())))))
    return lines[:count] + EDGE_LINES


@pytest.fixture(scope="module")
def lid() -> FastTextModel:
    return FastTextModel.load(LID)


@pytest.fixture(scope="module")
def oracle():
    return fasttext.load_model(str(LID))


def _compare(ours: tuple, theirs: tuple, tolerance: float) -> None:
    labels, probs = ours
    assert list(labels) == list(theirs[0])
    assert np.allclose(probs, theirs[1], rtol=0, atol=tolerance), (probs, theirs[1])


# --- reading and predicting --------------------------------------------------------------


def test_lid176_header_and_labels(lid: FastTextModel) -> None:
    assert len(lid.labels) == 176 and "__label__en" in lid.labels
    assert lid.args.loss == 1  # hierarchical softmax
    assert (lid.args.dim, lid.args.minn, lid.args.maxn) == (16, 2, 4)
    assert lid.pruneidx is not None and lid.input.shape == (50000, 16)


def test_lid176_predictions_match_fasttext(lid: FastTextModel, oracle) -> None:
    lines = _lines(3000)
    worst = 0.0
    for line in lines:
        for k in (1, 5):
            ours, theirs = lid.predict(line, k), oracle.predict(line, k)
            _compare(ours, theirs, 1e-4)
            worst = max(worst, float(np.max(np.abs(np.subtract(ours[1], theirs[1])))))
    print(f"\n{len(lines)} lines, k = 1 and 5: largest difference {worst:.2e}")


def test_all_labels_match_fasttext_above_its_floor(lid: FastTextModel, oracle) -> None:
    """k = -1 lists every leaf the tree search keeps (score above 1e-5); leaves at that floor
    can fall either side of it in float32, so only those may differ."""
    for line in _lines(300, seed=1):
        ours, theirs = lid.predict(line, -1), oracle.predict(line, -1)
        ours_map = dict(zip(*ours, strict=True))
        theirs_map = dict(zip(theirs[0], theirs[1], strict=True))
        for label in ours_map.keys() ^ theirs_map.keys():
            assert ours_map.get(label, theirs_map.get(label)) < 3e-5, (line, label)
        for label in ours_map.keys() & theirs_map.keys():
            assert abs(ours_map[label] - theirs_map[label]) <= 1e-4
        confident = [label for label, p in zip(*ours, strict=True) if p > 1e-3]
        assert confident == [label for label, p in theirs_map.items() if p > 1e-3]


def test_tokenizer_edge_cases_match_fasttext(lid: FastTextModel, oracle) -> None:
    for line in EDGE_LINES:
        _compare(lid.predict(line, 3), oracle.predict(line, 3), 1e-4)
    # The oracle refuses a lone surrogate (pybind cannot encode it); heed passes it through.
    assert lid.predict("\udcff broken surrogate")[0]


def test_probabilities_are_what_predict_reports(lid: FastTextModel) -> None:
    line = "Die Bundesregierung hat am Mittwoch ein neues Gesetz beschlossen."
    probabilities = lid.probabilities(line)
    assert probabilities.shape == (176,)
    labels, probs = lid.predict(line, 5)
    for label, prob in zip(labels, probs, strict=True):
        assert probabilities[lid.labels.index(label)] == pytest.approx(prob, abs=1e-12)
    assert labels[0] == "__label__de"
    # Leaf probabilities sum to one, but for fastText's 1e-5 inside each step's log.
    assert probabilities.sum() == pytest.approx(1.0, abs=0.02)


def test_predict_rejects_several_lines_and_bad_k(lid: FastTextModel) -> None:
    with pytest.raises(ValueError, match="one line"):
        lid.predict("one\ntwo")
    with pytest.raises(ValueError, match="k needs"):
        lid.predict("one", k=0)


def test_the_word_cache_never_changes_a_result() -> None:
    """A tiny cache that is cleared over and over gives exactly the big cache's results."""
    small = FastTextModel.load(LID)
    small._cache_words = 1024
    small._clear_cache()
    big = FastTextModel.load(LID)
    lines = _lines(600, seed=2)
    for line in lines:
        assert small.predict(line, 3) == big.predict(line, 3)
    assert len(small._slots) < 1024  # it did fill up and start afresh


def test_hash_xors_bytes_as_signed_chars() -> None:
    # 0xc3 sign-extends to 0xffffffc3 before the xor, as fastText's int8_t cast does.
    expected = ((2166136261 ^ 0xFFFFFFC3) * 16777619) & 0xFFFFFFFF
    assert fnv1a(b"\xc3") == expected
    assert fnv1a(b"a") == ((2166136261 ^ 0x61) * 16777619) & 0xFFFFFFFF


def _compute_subwords(word: bytes, minn: int, maxn: int) -> list[bytes]:
    """fastText's Dictionary::computeSubwords, line by line, on the wrapped word's bytes."""
    word = b"<" + word + b">"
    grams = []
    for i in range(len(word)):
        if (word[i] & 0xC0) == 0x80:
            continue
        j, n = i, 1
        while j < len(word) and n <= maxn:
            j += 1
            while j < len(word) and (word[j] & 0xC0) == 0x80:
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == len(word))):
                grams.append(word[i:j])
            n += 1
    return grams


@pytest.mark.parametrize(("minn", "maxn"), [(2, 4), (1, 3), (3, 6)])
def test_subword_hashes_are_compute_subwords_for_all_words_at_once(minn: int, maxn: int) -> None:
    """The vectorised n-grams equal computeSubwords' for each word, in its order, valid UTF-8
    or not (stray continuation bytes, cut characters, a lone lead byte)."""
    words = [w.encode() for w in ("a", "Straße", "日本語", "😀🎉", "x" * 40, "ab")]
    words += [b"\xff\x80ab", b"\xc3", b"abc\xe6\x97", b"\x80\x80", b"</s", b"\xf0\x9f\x98"]
    owner, hashes = subword_hashes(words, minn, maxn)
    expected = [
        (k, fnv1a(gram))
        for k, word in enumerate(words)
        for gram in _compute_subwords(word, minn, maxn)
    ]
    assert list(zip(owner.tolist(), hashes.tolist(), strict=True)) == expected
    assert len(subword_hashes([], minn, maxn)[0]) == 0


def test_line_words_split_like_fasttext() -> None:
    assert line_words("a\tb\rc\vd\fe\x00f  g") == [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]
    assert line_words("a\xa0b\x1cc") == ["a\xa0b\x1cc".encode()]


def test_unicode_spaces_in_utf8_are_exactly_what_str_split_adds() -> None:
    extra = [c for c in map(chr, range(0x110000)) if c.isspace() and not c.encode().isspace()]
    assert all(_UNICODE_SPACE.fullmatch(c.encode()) for c in extra)
    others = [chr(i) for i in range(0x3100) if chr(i) not in extra]
    assert not any(_UNICODE_SPACE.search(c.encode("utf-8", "surrogatepass")) for c in others)


def test_folding_unicode_spaces_predicts_the_folded_line(lid: FastTextModel) -> None:
    lines = [*EDGE_LINES, "Ein\u00a0Satz\u3000mit\u2009Leerzeichen\x1cund\x85so", "a\u00a0</s> b"]
    for line in lines:
        folded = " ".join(line.split())
        assert lid.predict_words(line_words(line), 3, fold_unicode_spaces=True) == lid.predict(
            folded, 3
        )


# --- files -------------------------------------------------------------------------------


def test_not_a_model_and_truncated_files_are_value_errors(tmp_path: Path) -> None:
    data = LID.read_bytes()
    bogus = tmp_path / "bogus.bin"
    bogus.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a fastText model"):
        FastTextModel.load(bogus)
    newer = tmp_path / "newer.bin"
    newer.write_bytes(struct.pack("<ii", 793712314, 13) + data[8:])
    with pytest.raises(ValueError, match="version"):
        FastTextModel.load(newer)
    unsupervised = tmp_path / "cbow.bin"
    unsupervised.write_bytes(data[:36] + struct.pack("<i", 1) + data[40:])  # args.model
    with pytest.raises(ValueError, match="not a supervised"):
        FastTextModel.load(unsupervised)
    for cut in (4, 60, 100, 5000, len(data) // 2, len(data) - 1):
        truncated = tmp_path / f"cut{cut}.ftz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ValueError):
            FastTextModel.load(truncated)


def test_lid176_saves_back_to_the_same_file(tmp_path: Path, lid: FastTextModel, oracle) -> None:
    """A pruned model cannot be dense in fastText's format (fastText refuses it), so it is
    written quantized as loaded: the very same bytes, which fastText reads back."""
    path = tmp_path / "lid.ftz"
    lid.save(path)
    assert path.read_bytes() == LID.read_bytes()
    again = fasttext.load_model(str(path))
    for line in _lines(50, seed=3):
        _compare(lid.predict(line, 3), again.predict(line, 3), 1e-4)


def test_a_dense_decoded_model_saves_and_fasttext_agrees(tmp_path: Path) -> None:
    """lid.176's dense rows with the pruning undone the only exact way: every kept n-gram
    becomes a word-free dense model of its own (no n-grams at all), so fastText and heed
    both read a dense file and must agree to float precision."""
    lid = FastTextModel.load(LID)
    args = lid.args.__class__(**{**vars(lid.args), "minn": 0, "maxn": 0, "bucket": 0})
    dense = FastTextModel(
        args, lid.words, lid.counts, lid.types, lid.ntokens, lid.input[: lid.nwords], lid.output
    )
    path = tmp_path / "dense.bin"
    dense.save(path)
    assert FastTextModel.load(path).input.shape == (lid.nwords, 16)
    oracle = fasttext.load_model(str(path))
    for line in _lines(500, seed=4):
        _compare(dense.predict(line, 3), oracle.predict(line, 3), 1e-5)


# --- training ----------------------------------------------------------------------------


def _labelled(count: int, seed: int) -> list[tuple[str, str]]:
    """Three topics told apart by vocabulary, over a shared background of common words."""
    rng = random.Random(seed)
    topics = {name: [f"{name}{i}" for i in range(60)] for name in ("sport", "food", "tech")}
    common = [f"w{i}" for i in range(200)]
    examples = []
    for _ in range(count):
        topic = rng.choice(sorted(topics))
        words = [
            rng.choice(topics[topic]) if rng.random() < 0.3 else rng.choice(common)
            for _ in range(rng.randint(4, 25))
        ]
        examples.append((topic if rng.random() < 0.5 else f"__label__{topic}", " ".join(words)))
    return examples


@pytest.mark.parametrize(
    "options",
    [{}, {"minn": 2, "maxn": 4, "word_ngrams": 1}, {"minn": 3, "maxn": 5, "word_ngrams": 3}],
)
def test_trained_model_is_accurate_and_fasttext_reads_it(tmp_path: Path, options: dict) -> None:
    model = train_supervised(_labelled(2000, seed=0), bucket=20_000, **options)
    assert model.labels == sorted(model.labels, key=lambda x: -model.counts[model.words.index(x)])
    held_out = _labelled(500, seed=1)
    right = sum(
        model.predict(text)[0][0] == "__label__" + label.removeprefix("__label__")
        for label, text in held_out
    )
    assert right / len(held_out) >= 0.9
    path = tmp_path / "model.bin"
    model.save(path)
    oracle = fasttext.load_model(str(path))
    reloaded = FastTextModel.load(path)
    for _, text in [*held_out[:200], ("x", ""), ("x", "unseen words only"), ("x", "sport1 😀")]:
        _compare(model.predict(text, -1), oracle.predict(text, -1), 1e-5)
        assert reloaded.predict(text, -1) == model.predict(text, -1)


def test_training_is_seeded_and_deterministic(tmp_path: Path) -> None:
    examples = _labelled(300, seed=5)
    paths = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        paths.append(tmp_path / f"{name}.bin")
        train_supervised(examples, seed=seed, bucket=5000).save(paths[-1])
    first, same, other = (path.read_bytes() for path in paths)
    assert first == same
    assert first != other


def test_training_rejects_bad_labels_and_empty_input() -> None:
    with pytest.raises(ValueError, match="label"):
        train_supervised([("two words", "text")])
    with pytest.raises(ValueError, match="label"):
        train_supervised([("", "text")])
    with pytest.raises(ValueError, match="no training examples"):
        train_supervised([])


def test_read_labelled_tsv(tmp_path: Path) -> None:
    path = tmp_path / "labels.tsv"
    text = "\ufefftoxic\tyou are awful\n\n__label__ok\tthanks a lot\r\n  \nok\ta\tb\n"
    path.write_text(text, encoding="utf-8")
    assert list(read_labelled_tsv(path)) == [
        ("toxic", "you are awful"),
        ("__label__ok", "thanks a lot"),
        ("ok", "a\tb"),
    ]
    for bad, number in (("ok\tfine\nno tab here\n", 2), ("\n\n\tno label\n", 3)):
        path.write_text(bad)
        with pytest.raises(ValueError, match=f"line {number}"):
            list(read_labelled_tsv(path))


def test_batched_top_labels_are_the_single_line_results(lid: FastTextModel) -> None:
    """predict_top gives each text exactly what predict_words gives its words alone, whatever
    else is in the batch (the pipeline's batches must not change a document's score): texts
    split together, or line by line when one holds a literal </s>."""
    lines = _lines(300, seed=6)
    lines += ["Ein\u00a0Satz\u3000mit </s> Ende", "", "__label__en", "zwei\nZeilen\0und NUL"]
    lines += ["Satz mit\u00a0Leerzeichen", "a</s>b", " </s "]
    alone = [lid.predict_words(line_words(t), 1, fold_unicode_spaces=True) for t in lines]
    expected = [(labels[0], probs[0]) if labels else None for labels, probs in alone]
    assert lid.predict_top(lines, fold_unicode_spaces=True) == expected
    rng = random.Random(6)
    order = list(range(len(lines)))
    rng.shuffle(order)
    for start in range(0, len(order), 37):
        chunk = order[start : start + 37]
        got = lid.predict_top([lines[i] for i in chunk], fold_unicode_spaces=True)
        assert got == [expected[i] for i in chunk]

"""Dedup's text side against datatrove's MinHash: the same normalisation, the same n-grams, the
same signatures; and the estimate against exact Jaccard."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import numpy as np
import pytest
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.text import ngrams, simplify_text

from heed.curation.dedup.minhash import (
    MinHasher,
    char_shingles,
    normalize,
    span_hashes,
    url_key_text,
    word_shingles,
)
from heed.curation.dedup.settings import DedupSettings
from heed.curation.dedup.signatures import SIGNATURE_SCHEMA, signatures
from heed.curation.dedup.stage import Dedup

SAMPLES = [
    "Hello, World! The 3.5 quick brown foxes jumped over 1,000 lazy dogs.",
    "  Ça coûte 12,50 € — très   cher…\n\tN'est-ce pas ? Élève, naïve, façade.",
    "Die Straße ist 2 km lang; Übermäßig große Äpfel (Ökologie) fallen.",
    "Привет, мир! Это тест № 5: ёлка, йогурт.",
    "مرحبا بالعالم ١٢٣ ، هذا اختبار؟",
    "नमस्ते दुनिया। यह एक परीक्षण है ४५६।",
    "日本語のテキスト、句読点。数字１２３と漢字。",
    "中文文本，包括标点符号。还有数字456！",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ ๑๒๓",
    "Tiếng Việt có dấu: người, được, những.",
    "",
    "   \n\t  ",
    "!!! ??? ...",
]


def random_text(rng: random.Random, length: int) -> str:
    """Letters, digits and marks of many scripts, punctuation and odd spaces, mixed."""
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
              (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x2000, 0x206F), (0x3000, 0x30FF),
              (0x4E00, 0x4E80), (0xFF00, 0xFF5E)]  # fmt: skip
    out = []
    for _ in range(length):
        low, high = rng.choice(ranges)
        out.append(chr(rng.randint(low, high)))
    return "".join(out)


@pytest.mark.parametrize("text", SAMPLES)
def test_normalize_is_datatrove_simplify_text(text: str) -> None:
    assert normalize(text) == simplify_text(text)


def test_normalize_matches_datatrove_on_random_unicode() -> None:
    rng = random.Random(7)
    for _ in range(300):
        text = random_text(rng, rng.randint(0, 400))
        assert normalize(text) == simplify_text(text), repr(text)


def datatrove_ngrams(text: str, n: int) -> set[str]:
    """datatrove's n-grams of the simplified text, words split on spaces."""
    return {" ".join(gram) for gram in ngrams(simplify_text(text).split(" "), n)}


def hash_string(string: str) -> int:
    data = np.frombuffer(string.encode(), dtype=np.uint8)
    return int(span_hashes(data, np.array([0]), np.array([len(data)]))[0])


@pytest.mark.parametrize("n", [1, 3, 5])
def test_word_shingles_are_the_hashes_of_datatrove_ngrams(n: int) -> None:
    rng = random.Random(n)
    texts = [*SAMPLES, *(random_text(rng, rng.randint(50, 600)) for _ in range(50))]
    for text in texts:
        grams = datatrove_ngrams(text, n) if normalize(text) else set()
        expected = {hash_string(gram) for gram in grams}
        got = word_shingles(normalize(text), n)
        assert set(got.tolist()) == expected, repr(text)
        # one hash per n-gram occurrence, no more
        words = normalize(text).split(" ") if normalize(text) else []
        assert len(got) == max(0, len(words) - n + 1)


def test_char_shingles_are_character_ngrams_without_spaces() -> None:
    text = "中文 文本，包括标点符号。"
    chars = normalize(text).replace(" ", "")
    expected = set()
    for i in range(len(chars) - 2):
        units = np.frombuffer(chars[i : i + 3].encode("utf-32-le"), dtype=np.uint32)
        expected.add(int(span_hashes(units, np.array([0]), np.array([3]))[0]))
    assert set(char_shingles(normalize(text), 3).tolist()) == expected
    assert len(char_shingles("ab", 3)) == 0


def test_signatures_equal_datatrove_get_signature() -> None:
    """Same shingles in, the same 14 x 8 minima out as datatrove's MinhashDedupSignature."""
    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=3)
    reference = MinhashDedupSignature(output_folder="/nonexistent-unused", config=config)
    hasher = MinHasher(bands=14, rows=8, seed=3)
    rng = np.random.default_rng(0)
    sets = [rng.integers(0, 2**64, size=int(rng.integers(1, 40_000)), dtype=np.uint64)
            for _ in range(12)]  # fmt: skip
    ours = hasher.signatures(sets)
    for shingle_set, row in zip(sets, ours, strict=True):
        theirs = np.array(reference.get_signature(shingle_set.reshape(-1, 1)), dtype=np.uint64)
        assert np.array_equal(row.reshape(14, 8), theirs)


def test_signature_agreement_estimates_exact_jaccard() -> None:
    """Over many pairs, the share of equal minima is within MinHash's error of the exact
    Jaccard similarity of datatrove's n-gram sets."""
    rng = random.Random(11)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
                  for _ in range(4000)]  # fmt: skip
    hasher = MinHasher(bands=14, rows=8, seed=1)
    errors = []
    for _ in range(200):
        words = rng.choices(vocabulary, k=300)
        other = list(words)
        for _ in range(rng.randint(0, 60)):
            other[rng.randrange(len(other))] = rng.choice(vocabulary)
        a, b = " ".join(words), " ".join(other)
        grams_a, grams_b = datatrove_ngrams(a, 5), datatrove_ngrams(b, 5)
        exact = len(grams_a & grams_b) / len(grams_a | grams_b)
        sig = hasher.signatures([word_shingles(normalize(a), 5), word_shingles(normalize(b), 5)])
        errors.append(float((sig[0] == sig[1]).mean()) - exact)
    errors = np.array(errors)
    # 112 permutations: standard error <= 0.5 / sqrt(112) = 0.047 per pair.
    assert abs(errors.mean()) < 0.01
    assert np.abs(errors).max() < 5 * 0.047


@dataclass
class Page:
    record_id: str
    url: str
    warc_date: str
    language: str | None
    text: str | None


def test_signature_rows_and_bad_input() -> None:
    """Empty text, a 10 MB text, one word, a language nobody tokenizes, no language, an
    unreadable date: no crash, one row each, with what can be said of each."""
    rng = random.Random(3)
    huge = " ".join(rng.choices(["lorem", "ipsum", "dolor", "sit", "amet", "elit"], k=2_000_000))
    assert len(huge) > 10_000_000
    pages = [
        Page("empty", "http://a.example/", "2025-01-02T03:04:05Z", "en", ""),
        Page("none", "http://a.example/n", "2025-01-02T03:04:05Z", "en", None),
        Page("huge", "http://a.example/h", "2025-01-02T03:04:05Z", "en", huge),
        Page("short", "http://a.example/s", "2025-01-02T03:04:05Z", "en", "two words"),
        Page("klingon", "http://a.example/k", "2025-01-02", "tlh", "nuqneH " * 20),
        Page("nolang", "", "not a date", None, "a b c d e f g"),
        Page("thai", "http://a.example/t", "2025-01-02T03:04:05+02:00", "tha_Thai", SAMPLES[8]),
    ]
    table = signatures(pages, DedupSettings())
    assert table.schema == SIGNATURE_SCHEMA
    rows = {row["record_id"]: row for row in table.to_pylist()}
    assert list(rows) == [page.record_id for page in pages]
    for name in ("empty", "none"):
        assert rows[name]["exact_key"] is None and rows[name]["band_keys"] == []
    assert len(rows["huge"]["band_keys"]) == 14
    assert rows["short"]["band_keys"] == [] and rows["short"]["exact_key"] is not None
    assert len(rows["klingon"]["band_keys"]) == 14
    assert len(rows["thai"]["band_keys"]) == 14  # characters: Thai has no spaces
    assert rows["nolang"]["url_key"] is None and rows["nolang"]["capture_time"] is None
    assert rows["thai"]["capture_time"].hour == 1  # +02:00 read as UTC


def test_scope_separates_languages() -> None:
    text = "the same words in the same order on both pages of the site"
    pages = [Page("a", "http://a/", "2025-01-01", "en", text),
             Page("b", "http://b/", "2025-01-01", "de", text)]  # fmt: skip
    per_language = signatures(pages, DedupSettings(scope="language")).to_pylist()
    together = signatures(pages, DedupSettings(scope="global")).to_pylist()
    assert per_language[0]["exact_key"] != per_language[1]["exact_key"]
    assert not set(per_language[0]["band_keys"]) & set(per_language[1]["band_keys"])
    assert together[0]["exact_key"] == together[1]["exact_key"]
    assert together[0]["band_keys"] == together[1]["band_keys"]


def test_url_key_text() -> None:
    same = [
        "http://www.Example.com/a/b?y=2&x=1#top",
        "https://example.com:443/a/b?x=1&y=2",
        "http://EXAMPLE.com./a/b?x=1&y=2",
    ]
    assert len({url_key_text(url) for url in same}) == 1
    assert url_key_text("http://example.com/a/b") != url_key_text("http://example.com/a/B")
    assert url_key_text("http://example.com:8080/") != url_key_text("http://example.com/")
    assert url_key_text("http://example.com:bad/") == "http://example.com:bad/"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("scope", "planet", "scope"),
        ("keep", "oldest", "keep"),
        ("bands", 0, "bands"),
        ("rows", 2.5, "rows"),
        ("near", "yes", "near"),
        ("seed", -1, "seed"),
        ("unspaced_scripts", "Hani", "unspaced_scripts"),
    ],
)
def test_settings_reject_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DedupSettings(**{field: value})


def test_describe_names_hashes_and_seeds() -> None:
    described = DedupSettings(seed=9).describe()
    assert "RandomState(9)" in described["permutations"]
    assert described["settings"]["bands"] == 14
    assert "documents_per_task" not in described["settings"]


def test_the_stage_takes_every_setting_with_its_default() -> None:
    """The [stage.dedup] table fills the stage's fields, which repeat DedupSettings' (a frozen
    dataclass the stage cannot inherit from): the two lists must not drift apart."""

    def defaults(cls: type) -> list[tuple[str, object]]:
        return [
            (f.name, f.default_factory() if callable(f.default_factory) else f.default)
            for f in dataclasses.fields(cls)
        ]

    assert defaults(Dedup) == defaults(DedupSettings)
    assert Dedup().settings() == DedupSettings()

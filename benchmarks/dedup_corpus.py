"""A seeded corpus with planted duplicates for the dedup benchmarks, made part by part.

Document i of the corpus is a function of (seed, i) alone, so any part can be made without the
others and the same seed always gives the same corpus. Of the documents:

* most are originals: 150-450 words drawn from a Zipf-like vocabulary of 50,000 words;
* `near` of them copy an earlier original with 1-5% of the words replaced or a paragraph added;
* `exact` copy an earlier original word for word;
* `recrawl` are a later capture of an earlier document's URL, with a new text.

    python benchmarks/dedup_corpus.py --docs 20 --show 5
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

VOCABULARY_SIZE = 50_000
ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


@dataclass
class Page:
    """What dedup reads of a document."""

    record_id: str
    url: str
    warc_date: str
    language: str
    text: str
    kind: str  # original, near, exact, recrawl
    source: int  # the document it copies (itself for an original)


@dataclass(frozen=True)
class Corpus:
    seed: int = 0
    near: float = 0.10
    exact: float = 0.03
    recrawl: float = 0.03

    def vocabulary(self) -> list[str]:
        rng = np.random.default_rng([self.seed, 1 << 40])
        lengths = rng.integers(3, 11, size=VOCABULARY_SIZE)
        letters = ALPHABET[rng.integers(0, 26, size=int(lengths.sum()))].tobytes().decode()
        ends = np.cumsum(lengths)
        return [letters[end - size : end] for end, size in zip(ends, lengths, strict=True)]

    def kind(self, doc: int) -> str:
        draw = np.random.default_rng([self.seed, doc, 1]).random()
        if doc == 0 or draw >= self.near + self.exact + self.recrawl:
            return "original"
        if draw < self.near:
            return "near"
        return "exact" if draw < self.near + self.exact else "recrawl"

    def recrawled(self, doc: int) -> int:
        """The earlier document whose URL a recrawl captures again."""
        return int(np.random.default_rng([self.seed, doc, 2]).integers(0, doc))

    def source(self, doc: int) -> int:
        """The original an exact or near copy copies: an earlier original."""
        earlier = int(np.random.default_rng([self.seed, doc, 2]).integers(0, doc))
        while self.kind(earlier) != "original":
            earlier -= 1
        return earlier


class Generator:
    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.words = np.array(corpus.vocabulary(), dtype=object)
        weights = 1.0 / np.arange(1, VOCABULARY_SIZE + 1) ** 1.0
        self.cdf = np.cumsum(weights) / weights.sum()

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return np.searchsorted(self.cdf, rng.random(count))

    def original_words(self, doc: int) -> np.ndarray:
        rng = np.random.default_rng([self.corpus.seed, doc, 3])
        return self.draw(rng, int(rng.integers(150, 451)))

    def url(self, doc: int) -> str:
        """A recrawl has the URL of the document it recaptures."""
        while self.corpus.kind(doc) == "recrawl":
            doc = self.corpus.recrawled(doc)
        return f"https://site{doc % 9973}.example/page/{doc}"

    def page(self, doc: int) -> Page:
        kind = self.corpus.kind(doc)
        source = doc
        day = doc % 28 + 1
        date = f"2024-03-{day:02d}T00:00:00Z"
        url = self.url(doc)
        if kind == "original":
            ids = self.original_words(doc)
        elif kind == "recrawl":
            source = self.corpus.recrawled(doc)
            date = f"2025-03-{day:02d}T00:00:00Z"
            rng = np.random.default_rng([self.corpus.seed, doc, 3])
            ids = self.draw(rng, int(rng.integers(150, 451)))
        else:
            source = self.corpus.source(doc)
            ids = self.original_words(source)
            if kind == "near":
                rng = np.random.default_rng([self.corpus.seed, doc, 4])
                if rng.random() < 0.5:
                    changed = rng.choice(len(ids), size=max(1, len(ids) // rng.integers(20, 101)))
                    ids = ids.copy()
                    ids[changed] = self.draw(rng, len(changed))
                else:
                    ids = np.concatenate((ids, self.draw(rng, int(rng.integers(10, 40)))))
        return Page(f"<urn:uuid:{self.corpus.seed}-{doc}>", url, date, "en",
                    " ".join(self.words[ids]), kind, source)  # fmt: skip

    def part(self, first: int, count: int) -> list[Page]:
        return [self.page(doc) for doc in range(first, first + count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=3)
    args = parser.parse_args()
    generator = Generator(Corpus(seed=args.seed))
    pages = generator.part(0, args.docs)
    kinds = {k: sum(p.kind == k for p in pages) for k in ("original", "near", "exact", "recrawl")}
    print(kinds)
    for page in pages[: args.show]:
        print(page.record_id, page.kind, page.source, page.url, page.text[:80])


if __name__ == "__main__":
    main()

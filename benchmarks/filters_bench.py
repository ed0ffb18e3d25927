"""Filters on their own: documents per second per core on 2 KB documents, side by side.

Language ID (lid.176) at several text cuts, with its accuracy on the labelled paragraphs of
tests/data at each cut (speed bought with accuracy is no bargain), the word-list toxicity
scorer, and the four datatrove quality filters through heed's adapter: each filter on its own
as datatrove runs it (plain) beside the four in a chain sharing one tokenization per document
(shared), in the languages datatrove can tokenize without extra packages. PII has its own
benchmark (pii_bench.py).

    python benchmarks/filters_bench.py [--docs 2000] [--quality-docs 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from curation.document import Document
from curation.stage import RunContext
from filters.langid import identify
from filters.languages import to_iso639_1
from filters.quality import C4Quality, FineWebQuality, GopherQuality, GopherRepetition
from filters.toxicity import load_wordlists, toxicity_score

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "langid_paragraphs.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--quality-docs", type=int, default=1000)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(0)
    docs: list[tuple[str, str]] = []  # (text of ~2 KB in one language, its label)
    by_language: dict[str, list[str]] = {}
    for row in rows:
        by_language.setdefault(row["language"], []).append(row["text"])
    languages = sorted(by_language)
    for i in range(args.docs):
        language = languages[i % len(languages)]
        text = ""
        while len(text) < 2000:
            text += rng.choice(by_language[language]) + "\n"
        docs.append((text[:2000], language))
    texts = [text for text, _ in docs]
    identify(texts[:5])  # load the model outside the clock
    print(f"{len(docs):,} documents of 2,000 characters in {len(languages)} languages")
    for cut in (5000, 1000, 500, 250):
        started = time.perf_counter()
        identify(texts, max_chars=cut)
        rate = len(texts) / (time.perf_counter() - started)
        labels = identify([row["text"] for row in rows], max_chars=cut)
        right = sum(label == row["language"] for (label, _), row in zip(labels, rows, strict=True))
        print(
            f"language ID, first {cut:>4} chars: {rate:>8,.0f} docs/s/core; "
            f"accuracy on {len(rows)} labelled paragraphs {right / len(rows):.1%}"
        )
    lists = load_wordlists()
    coded = [(text, to_iso639_1(label)) for text, label in docs]
    coded = [(text, code) for text, code in coded if code in lists]
    started = time.perf_counter()
    for text, code in coded:
        toxicity_score(text, code, lists)
    rate = len(coded) / (time.perf_counter() - started)
    print(f"toxicity word lists: {rate:>8,.0f} docs/s/core ({len(coded):,} documents with a list)")
    # Pages for the quality filters repeat no paragraph: a repeated one makes Gopher repetition
    # and FineWeb stop before they tokenize, which would time the early exit, not the filter.
    pages: list[tuple[str, str]] = []
    for i in range(args.quality_docs):
        language = languages[i % len(languages)]
        shuffled = rng.sample(by_language[language], len(by_language[language]))
        pages.append(("\n".join(shuffled)[:2000], language))
    quality_bench(pages)


QUALITY = (GopherRepetition, GopherQuality, C4Quality, FineWebQuality)


def as_documents(docs: list[tuple[str, str]]) -> list[Document]:
    return [
        Document(
            f"<{i}>", "https://example.org/", "example.org", "", "", 0, "", text=t, language=lang
        )
        for i, (t, lang) in enumerate(docs)
    ]


def quality_bench(docs: list[tuple[str, str]]) -> None:
    """Seconds each quality filter spends per document: plain (alone, datatrove's own
    tokenization on every call) and shared (in the pipeline's order, one tokenization per
    document for all four). Batches of 64, as the sample config runs them."""
    context = RunContext(crawl_root="", crawl="")
    probe = [cls(shared_tokenization=False) for cls in QUALITY]
    for stage in probe:
        stage.setup(context)
        stage.score(as_documents(docs[:200]))  # load every language's tokenizer off the clock
    # Only languages every filter judges here: an unjudged page costs nothing and flatters.
    judged = {
        lang
        for lang in {lang for _, lang in docs}
        if all(stage._instances.get(lang) is not None for stage in probe)
    }
    docs = [(text, lang) for text, lang in docs if lang in judged]
    print(
        f"quality filters on {len(docs):,} documents of 2,000 characters in {len(judged)} "
        "languages (plain: each filter alone, as datatrove runs it; shared: the four in a "
        "chain, one tokenization per document)"
    )
    plain: dict[str, float] = {}
    for cls in QUALITY:  # plain first: it leaves no lexemes behind to speed up the shared run
        stage = cls(shared_tokenization=False)
        stage.setup(context)
        batch = as_documents(docs)
        started = time.perf_counter()
        for i in range(0, len(batch), 64):
            stage.score(batch[i : i + 64])
        plain[cls.name] = time.perf_counter() - started
    stages = [cls() for cls in QUALITY]
    shared = dict.fromkeys(plain, 0.0)
    for stage in stages:
        stage.setup(context)
    batch = as_documents(docs)
    for i in range(0, len(batch), 64):
        for stage in stages:
            started = time.perf_counter()
            stage.score(batch[i : i + 64])
            shared[stage.name] += time.perf_counter() - started
    for name in [*plain, "all four"]:
        before = sum(plain.values()) if name == "all four" else plain[name]
        after = sum(shared.values()) if name == "all four" else shared[name]
        print(
            f"{name:<18} plain {len(docs) / before:>8,.0f} docs/s/core   "
            f"shared {len(docs) / after:>8,.0f} docs/s/core   ({before / after:.1f}x)"
        )


if __name__ == "__main__":
    main()

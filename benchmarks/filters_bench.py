"""Filters on their own: documents per second per core on 2 KB documents, side by side.

Language ID (lid.176) at several text cuts, with its accuracy on the labelled paragraphs of
tests/data at each cut (speed bought with accuracy is no bargain): heed's own fastText
(filters/fasttext_model.py, the path the pipeline runs) beside the same call made through
fasttext-predict's C++ (fold, predict, normalise), timed alternately, as the baseline ratio.
Then training a fastText classifier (train_supervised), toxicity by word lists and by that
fastText classifier, and the four datatrove quality filters through heed's adapter: each filter
on its own as datatrove runs it (plain) beside the four in a chain sharing one tokenization per
document (shared), in the languages datatrove can tokenize without extra packages. PII has its
own benchmark (pii_bench.py).

    python benchmarks/filters_bench.py [--docs 2000] [--quality-docs 1000]

Rates are per CPU second of this process (time.process_time), so other work on the machine
does not count against them.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import fasttext

from heed.curation.document import Document
from heed.curation.stage import RunContext
from heed.filters.fasttext_model import FastTextModel, train_supervised
from heed.filters.langid import default_model_path, identify, predict_many
from heed.filters.languages import normalize, to_iso639_1
from heed.filters.quality import C4Quality, FineWebQuality, GopherQuality, GopherRepetition
from heed.filters.toxicity import classifier_score, load_wordlists, toxicity_score

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
    # The baseline: langid.predict as it was with fasttext-predict (fold, cut, one call per
    # text: its list form returns wrong results, then normalise).
    baseline = fasttext.load_model(str(default_model_path()))
    whitespace = re.compile(r"\s+")

    def baseline_identify(texts: list[str], cut: int) -> None:
        for text in texts:
            line = whitespace.sub(" ", text[:cut]).strip()
            labels, _ = baseline.predict(line, k=1)
            normalize(labels[0], line)

    def ours_identify(texts: list[str], cut: int) -> None:
        identify(texts, max_chars=cut)

    def best_time(run: Callable[[list[str], int], object], chunk: list[str], cut: int) -> float:
        times = []
        for _ in range(3):
            started = time.process_time()
            run(chunk, cut)
            times.append(time.process_time() - started)
        return min(times)

    # A cold cache: a fresh model sees every word for the first time (a worker's first pages),
    # so each word's n-grams are listed, hashed and summed. Then the warm figures, per cut.
    fresh = FastTextModel.load(default_model_path())
    started = time.process_time()
    predict_many(fresh, texts)
    cold = len(texts) / (time.process_time() - started)
    started = time.process_time()
    baseline_identify(texts, 5000)
    base_rate = len(texts) / (time.process_time() - started)
    print(
        f"language ID, cold cache:          {cold:>8,.0f} docs/s/core (fasttext-predict "
        f"{base_rate:>6,.0f}, x{cold / base_rate:.1f}); {len(fresh._slots):,} distinct words"
    )
    for cut in (5000, 2000, 1000, 500, 250):
        identify(texts, max_chars=cut)  # warm the per-word cache, as a long run would be
        # Chunk by chunk, each timed three times for each path and the best kept: a busy
        # machine (other processes sharing caches) slows both alike and only now and then.
        ours = theirs = 0.0
        for start in range(0, len(texts), 250):
            chunk = texts[start : start + 250]
            ours += best_time(ours_identify, chunk, cut)
            theirs += best_time(baseline_identify, chunk, cut)
        rate, base_rate = len(texts) / ours, len(texts) / theirs
        labels = identify([row["text"] for row in rows], max_chars=cut)
        right = sum(label == row["language"] for (label, _), row in zip(labels, rows, strict=True))
        print(
            f"language ID, first {cut:>4} chars: {rate:>8,.0f} docs/s/core "
            f"(fasttext-predict {base_rate:>6,.0f}, x{rate / base_rate:.1f}); "
            f"accuracy on {len(rows)} labelled paragraphs {right / len(rows):.1%}"
        )
    examples = [(label, text.replace("\n", " ")) for text, label in docs]
    started = time.process_time()
    model = train_supervised(examples, epoch=5)
    elapsed = time.process_time() - started
    print(
        f"fastText training (dim 16, 5 epochs, word bigrams): {len(examples) * 5 / elapsed:,.0f} "
        f"examples/s ({len(examples):,} documents of 2,000 characters, {elapsed:.1f} s)"
    )
    lists = load_wordlists()
    coded = [(text, to_iso639_1(label)) for text, label in docs]
    coded = [(text, code) for text, code in coded if code in lists]
    started = time.process_time()
    for text, code in coded:
        toxicity_score(text, code, lists)
    rate = len(coded) / (time.process_time() - started)
    print(f"toxicity word lists: {rate:>8,.0f} docs/s/core ({len(coded):,} documents with a list)")
    # A classifier's cost does not depend on what its labels mean: the model trained above
    # stands in for a toxicity classifier, scoring 512-word chunks like the stage does.
    label = model.labels[0]
    started = time.process_time()
    for text in texts:
        classifier_score(text, model, label, unspaced=False)
    rate = len(texts) / (time.process_time() - started)
    print(f"toxicity fastText classifier: {rate:>8,.0f} docs/s/core ({len(texts):,} documents)")
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

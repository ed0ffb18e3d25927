"""Extraction quality and cost, measured on annotated pages: `heed eval extract DIR [CONFIG]`.

The extract stage runs exactly as a config sets it up (guard, `min_chars` and all: a page it
drops counts as no text) on every page of a gold set, one of two layouts:

* ScrapingHub's article-extraction benchmark: `ground-truth.json` maps an id to
  `{"articleBody": ..., "url": ...}` (optionally "language" and "content_type"), the page is
  `html/<id>.html.gz` (UTF-8 unless content_type says otherwise). Its metric:
  `\\w+` tokens, 4-token shingles counted and matched per page (tp, fp, fn, normalised by
  their sum), precision and recall averaged over pages, F1 from the two averages.
* trafilatura's evaluation: `evaldata.json` maps an id to `{"url", "with": [...], "without":
  [...], "language"}`, the page is `html/<id>.html.gz` (bytes in the page's own charset). Its
  metric: a snippet counts as found when its whitespace-normalised text is in the normalised
  output; tp/fp/fn/tn are pooled over pages.

Where pages name their language, results are also given per language (one with fewer than
MIN_LANGUAGE_PAGES pages counts as "other").

CPU time is the process's (`time.process_time`), extraction only, per page.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heed.curation.document import Document
from heed.curation.text.extract import SETTINGS, Extract

SCRAPINGHUB = "ground-truth.json"
TRAFILATURA = "evaldata.json"
_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
SHINGLE = 4
# Languages with fewer pages than this in a snippet set are pooled as "other".
MIN_LANGUAGE_PAGES = 20


@dataclass(frozen=True)
class GoldPage:
    id: str
    url: str
    html: bytes
    content_type: str
    body: str | None = None  # ScrapingHub: the annotated article body
    with_: tuple[str, ...] = ()  # trafilatura: snippets the text must hold
    without: tuple[str, ...] = ()  # ... and must not
    language: str = ""


class GoldSetError(ValueError):
    """A folder that is not a gold set in either layout, or a damaged one."""


def load_gold(folder: str | Path) -> list[GoldPage]:
    """The pages of a gold set, by id; either layout (see the module's docstring)."""
    folder = Path(folder)
    if (folder / SCRAPINGHUB).is_file():
        layout = SCRAPINGHUB
    elif (folder / TRAFILATURA).is_file():
        layout = TRAFILATURA
    else:
        raise GoldSetError(f"{folder}: neither {SCRAPINGHUB} nor {TRAFILATURA} found")
    try:
        entries = json.loads((folder / layout).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GoldSetError(f"{folder / layout}: not valid JSON: {exc}") from None
    if not isinstance(entries, dict) or not entries:
        raise GoldSetError(f"{folder / layout}: expected a non-empty object of pages")
    pages = []
    for key, entry in sorted(entries.items()):
        path = folder / "html" / f"{key}.html.gz"
        if not isinstance(entry, dict):
            raise GoldSetError(f"{folder / layout}: {key}: expected an object")
        try:
            html = gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as exc:
            raise GoldSetError(f"{path}: {exc}") from None
        if layout == SCRAPINGHUB:
            if not isinstance(entry.get("articleBody"), str):
                raise GoldSetError(f"{folder / layout}: {key}: no articleBody")
            # The benchmark's pages are UTF-8, and it reads them so; a set of other pages may
            # give each page's Content-Type (and its language, for results per language).
            content_type = entry.get("content_type", "text/html; charset=utf-8")
            pages.append(
                GoldPage(key, entry.get("url", ""), html, content_type, body=entry["articleBody"],
                         language=entry.get("language", ""))
            )  # fmt: skip
        else:
            snippets = [entry.get(k) for k in ("with", "without")]
            if not all(
                isinstance(s, list) and all(isinstance(x, str) for x in s) for s in snippets
            ):
                raise GoldSetError(f"{folder / layout}: {key}: 'with' and 'without' must be lists")
            pages.append(
                GoldPage(key, entry.get("url", ""), html, "text/html", with_=tuple(snippets[0]),
                         without=tuple(snippets[1]), language=entry.get("language", ""))
            )  # fmt: skip
    return pages


# --------------------------------------------------------------------------- the metrics


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The benchmark's shingles: every run of n `\\w+` tokens (a shorter text: one shingle)."""
    tokens = _TOKEN.findall(text or "")
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def shingle_match(true: str, pred: str, n: int = SHINGLE) -> tuple[float, float, float]:
    """(tp, fp, fn) of the predicted against the true shingles, divided by their sum so that a
    long page weighs no more than a short one (all 0 when both are empty)."""
    truth, found = shingles(true, n), shingles(pred, n)
    tp = sum((truth & found).values())
    fp = sum((found - truth).values())
    fn = sum((truth - found).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def shingle_scores(matches: list[tuple[float, float, float]]) -> dict[str, float]:
    """Precision and recall averaged over pages (a page with nothing predicted has no
    precision; one with nothing to find, no recall), and F1 from the two averages."""

    def ratio(hit: float, miss: float, other: float) -> float:
        if miss == other == 0:
            return 1.0
        return hit / (hit + miss) if hit + miss else 0.0

    precisions = [ratio(tp, fp, fn) for tp, fp, fn in matches if tp + fp > 0]
    recalls = [ratio(tp, fn, fp) for tp, fp, fn in matches if tp + fn > 0]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def normalize_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def snippet_counts(page: GoldPage, text: str) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn): snippets to keep found, to leave found, to keep missed, to leave
    missed, in the whitespace-normalised text."""
    text = normalize_space(text)
    tp = sum(normalize_space(s) in text for s in page.with_)
    fp = sum(normalize_space(s) in text for s in page.without)
    return tp, fp, len(page.with_) - tp, len(page.without) - fp


def snippet_scores(counts: Iterable[tuple[int, int, int, int]]) -> dict[str, float]:
    tp, fp, fn, _ = (sum(column) for column in zip(*counts, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


# --------------------------------------------------------------------------- evaluating


def extract_pages(stage: Extract, pages: list[GoldPage]) -> tuple[list[str], int, float]:
    """Each page's kept text ("" where the stage drops it), how many it dropped, and the CPU
    seconds the stage took. The stage sees the pages as WARC records of them would be."""
    docs = [
        Document(
            record_id=page.id, url=page.url, host="", crawl="", shard="", offset=0, warc_date="",
            http_status=200, http_headers={"content-type": page.content_type}, payload=page.html,
        )
        for page in pages
    ]  # fmt: skip
    # One page first, untimed: the first call pays for imports and caches, whichever setting.
    stage.process([dataclasses.replace(docs[0])])
    started = time.process_time()
    for doc in docs:
        stage.process([doc])
    seconds = time.process_time() - started
    texts = [(doc.text or "") if doc.alive else "" for doc in docs]
    return texts, sum(not doc.alive for doc in docs), seconds


def evaluate(stage: Extract, pages: list[GoldPage]) -> dict[str, Any]:
    """pages, f1, precision, recall, ms_per_page, dropped (and by_language for a snippet
    set) of one extract stage on one gold set."""
    texts, dropped, seconds = extract_pages(stage, pages)
    result: dict[str, Any] = {"pages": len(pages)}
    if pages[0].body is not None:
        counts: list[Any] = [
            shingle_match(p.body or "", t) for p, t in zip(pages, texts, strict=True)
        ]
        scores = shingle_scores
    else:
        counts = [snippet_counts(p, t) for p, t in zip(pages, texts, strict=True)]
        scores = snippet_scores
    result |= scores(counts)
    if any(page.language for page in pages):
        sizes = Counter(p.language for p in pages)
        groups: dict[str, list[Any]] = {}
        for page, count in zip(pages, counts, strict=True):
            key = page.language if sizes[page.language] >= MIN_LANGUAGE_PAGES else "other"
            groups.setdefault(key, []).append(count)
        result["by_language"] = {
            key: {"pages": len(group), **scores(group)}
            for key, group in sorted(groups.items(), key=lambda kv: (kv[0] == "other", kv[0]))
        }
    result["ms_per_page"] = 1000 * seconds / len(pages)
    result["dropped"] = dropped
    result["settings"] = {k: v for k, v in stage.params().items() if k in _SHOWN}
    return result


_SHOWN = ("extractor", "fast", "favor_precision", "include_tables", "include_comments", "min_chars")


def configured_stage(config: str | Path | None) -> Extract:
    """The extract stage as CONFIG (default: the default config) sets it up."""
    from heed.curation.config import PipelineConfig

    loaded = PipelineConfig.load(config)
    specs = [spec for spec in loaded.stages if issubclass(spec.cls, Extract)]
    if not specs:
        raise GoldSetError(f"{loaded.source}: its stages have no extract stage")
    return specs[0].build()


def compare(stage: Extract, pages: list[GoldPage]) -> dict[str, dict[str, Any]]:
    """Every named setting (SETTINGS) on the same pages, with the configured stage's other
    parameters (min_chars, the guard)."""
    return {
        name: evaluate(dataclasses.replace(stage, **params), pages)
        for name, params in SETTINGS.items()
    }


# --------------------------------------------------------------------------- the command


def _row(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:<28} {r['pages']:>5} {r['f1']:>6.3f} {r['precision']:>9.3f} {r['recall']:>6.3f} "
        f"{r['ms_per_page']:>11.1f} {r['dropped']:>7}"
    )


def format_table(results: dict[str, dict[str, Any]]) -> list[str]:
    header = f"{'setting':<28} {'pages':>5} {'F1':>6} {'precision':>9} {'recall':>6} "
    lines = [header + f"{'CPU ms/page':>11} {'dropped':>7}"]
    for name, result in results.items():
        lines.append(_row(name, result))
        for language, group in result.get("by_language", {}).items():
            lines.append(
                f"  {language:<26} {group['pages']:>5} {group['f1']:>6.3f} "
                f"{group['precision']:>9.3f} {group['recall']:>6.3f}"
            )
    return lines


def run_eval_extract(args: argparse.Namespace) -> int:
    from heed.curation.config import ConfigError

    try:
        pages = load_gold(args.dir)
        stage = configured_stage(args.config)
    except (GoldSetError, ConfigError) as exc:
        print(f"heed eval extract: {exc}", file=sys.stderr)
        return 2
    result = evaluate(stage, pages)
    settings = compare(stage, pages) if args.compare else {}
    if args.json:
        print(json.dumps(result | ({"compare": settings} if settings else {}), sort_keys=True))
        return 0
    print("\n".join(format_table({"configured": result, **settings})))
    return 0


def add_commands(subparsers: Any) -> None:
    """`heed eval`, a group of evaluations, and its `extract` (heed.commands entry point)."""
    group = subparsers.add_parser("eval", help="measure a stage's quality on annotated data")
    evaluations = group.add_subparsers(dest="evaluation", required=True)
    extract = evaluations.add_parser(
        "extract",
        help="the extract stage's F1 and CPU ms per page on a gold set",
        description=__doc__.split("\n\n")[0] + " Layouts and metrics: README, Extraction.",
    )
    extract.add_argument("dir", help="a gold set: ground-truth.json or evaldata.json, html/")
    extract.add_argument("config", nargs="?", help="pipeline config (default: the sample's)")
    extract.add_argument("--json", action="store_true", help="one JSON object on stdout")
    extract.add_argument(
        "--compare", action="store_true", help="also every named extractor setting"
    )
    extract.set_defaults(func=run_eval_extract)

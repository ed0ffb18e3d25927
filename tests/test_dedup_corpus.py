"""The corpus step end to end on planted duplicates: signatures written per shard, every round
run through the plan, decisions read back with pyarrow; components checked against a plain
union-find."""

from __future__ import annotations

import itertools
import pickle
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from heed.curation.dedup.corpus import DECISION_SCHEMA
from heed.curation.dedup.plan import DedupPlan, group_files, run_locally
from heed.curation.dedup.settings import DedupSettings
from heed.curation.dedup.signatures import SIGNATURE_SCHEMA, signatures


@dataclass
class Page:
    record_id: str
    url: str
    warc_date: str
    language: str | None
    text: str | None


RNG = random.Random(2024)
VOCABULARY = ["".join(RNG.choices("abcdefghijklmnopqrstuvwxyz", k=RNG.randint(3, 10)))
              for _ in range(20_000)]  # fmt: skip


def words(rng: random.Random, count: int) -> list[str]:
    return rng.choices(VOCABULARY, k=count)


def planted() -> tuple[list[list[Page]], dict[str, str]]:
    """Three shards over two crawls, and what must happen: record id -> expected decision
    (duplicates: "<decision> of <record id>")."""
    rng = random.Random(5)
    base = {f"b{i:02d}": words(rng, 300) for i in range(12)}
    text = {name: " ".join(ws) for name, ws in base.items()}

    def page(rid: str, body: str, url: str | None = None, date: str = "2024-03-01T00:00:00Z"):
        return Page(rid, url or f"http://site.example/{rid}", date, "en", body)

    changed = list(base["b02"])
    for position in (17, 120, 250):
        changed[position] = "replaced"
    nav, footer = words(rng, 50), words(rng, 40)
    boiler = [page(f"nav{i}", " ".join(nav + words(rng, 150) + footer)) for i in range(10)]
    crawl1_a = [page(name, text[name]) for name in ("b00", "b01", "b02", "b03", "b04")]
    crawl1_a.append(page("b00-copy", text["b00"], date="2024-03-05T00:00:00Z"))  # same shard
    crawl1_b = [page(name, text[name]) for name in ("b05", "b06", "b07")] + boiler
    crawl1_b.append(page("b02-edit", " ".join(changed), date="2024-03-02T00:00:00Z"))
    paragraph = " ".join(base["b03"] + words(rng, 30))
    crawl1_b.append(page("b03-more", paragraph, date="2024-03-03T00:00:00Z"))
    # crawl 2, a year later: the same URL again with a new text, an old text at a new URL, and
    # an exact copy that was captured *earlier* than its original (its record time wins).
    crawl2 = [
        page("b04-recrawl", " ".join(words(rng, 300)), url="http://site.example/b04",
             date="2025-03-01T00:00:00Z"),
        page("b05-moved", "  " + text["b05"].upper() + "\n", url="http://elsewhere.example/x",
             date="2025-03-01T00:00:00Z"),
        page("b01-early", text["b01"], date="2024-02-01T00:00:00Z"),
        page("b06-url", text["b06"], url="https://www.SITE.example/b06#top",
             date="2025-03-02T00:00:00Z"),
    ]  # fmt: skip
    expected = {page.record_id: "kept" for page in crawl1_a + crawl1_b + crawl2}
    expected |= {
        "b00-copy": "exact_duplicate of b00",
        "b01": "exact_duplicate of b01-early",
        "b02-edit": "near_duplicate of b02",
        "b03-more": "near_duplicate of b03",
        "b04": "url_duplicate of b04-recrawl",
        # upper case and outer spaces: not the same exact text, the same normalised words
        "b05-moved": "near_duplicate of b05",
        "b06": "url_duplicate of b06-url",
    }
    return [crawl1_a, crawl1_b, crawl2], expected


def write_signatures(shards: list[list[Page]], folder: Path, settings: DedupSettings) -> list[str]:
    paths = []
    for index, shard in enumerate(shards):
        path = folder / "signatures" / f"part-{index:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(signatures(shard, settings), path)
        paths.append(str(path))
    return paths


def run(paths: list[str], folder: Path, settings: DedupSettings, order: int | None = None):
    plan = DedupPlan(paths, folder / "work", folder / "decisions", settings)
    rounds = run_locally(plan, shuffle_seed=order)
    return plan, rounds


def read_decisions(plan: DedupPlan) -> pa.Table:
    tables = [pq.read_table(path) for path in plan.decision_paths]
    for table in tables:
        assert table.schema == DECISION_SCHEMA
    return pa.concat_tables(tables)


def check_clusters(decisions: pa.Table) -> None:
    """Each cluster keeps exactly one document, which names the cluster; every other member
    names it as duplicate_of; sizes are the member counts."""
    rows = decisions.to_pylist()
    by_cluster: dict[str, list[dict]] = {}
    for row in rows:
        by_cluster.setdefault(row["cluster_id"], []).append(row)
    for cluster_id, members in by_cluster.items():
        kept = [row for row in members if row["decision"] == "kept"]
        assert [row["record_id"] for row in kept] == [cluster_id]
        assert kept[0]["duplicate_of"] is None
        for row in members:
            assert row["cluster_size"] == len(members)
            if row["decision"] != "kept":
                assert row["duplicate_of"] == cluster_id


def test_planted_duplicates_keep_one_by_the_rule(tmp_path: Path) -> None:
    shards, expected = planted()
    settings = DedupSettings(documents_per_task=10)
    plan, _ = run(write_signatures(shards, tmp_path, settings), tmp_path, settings)
    assert (len(plan.groups), plan.partitions) == (3, 3)  # files of 6, 15 and 4 documents
    decisions = read_decisions(plan)
    # each decision file has its signature file's rows, in order
    for signature, decision in zip(sorted((tmp_path / "signatures").iterdir()),
                                   plan.decision_paths, strict=True):  # fmt: skip
        assert pq.read_table(signature).column("record_id") == pq.read_table(decision).column(
            "record_id"
        )
    got = {
        row["record_id"]: row["decision"]
        + (f" of {row['duplicate_of']}" if row["duplicate_of"] else "")
        for row in decisions.to_pylist()
    }
    assert got == expected
    check_clusters(decisions)
    sizes = dict(zip(decisions["record_id"].to_pylist(), decisions["cluster_size"].to_pylist(),
                     strict=True))  # fmt: skip
    assert sizes["b00"] == 2 and sizes["nav3"] == 1 and sizes["b04-recrawl"] == 2


def test_latest_and_earliest_rules_and_switches(tmp_path: Path) -> None:
    shards, _ = planted()
    settings = DedupSettings(keep="latest", url_keep="earliest", documents_per_task=20)
    plan, _ = run(write_signatures(shards, tmp_path, settings), tmp_path, settings)
    got = {row["record_id"]: row for row in read_decisions(plan).to_pylist()}
    assert got["b00"]["duplicate_of"] == "b00-copy"  # the later capture is kept
    assert got["b04-recrawl"]["decision"] == "url_duplicate"
    assert got["b04-recrawl"]["duplicate_of"] == "b04"

    only_exact = DedupSettings(url=False, near=False, documents_per_task=12)
    plan, rounds = run(write_signatures(shards, tmp_path / "x", only_exact), tmp_path / "x",
                       only_exact)  # fmt: skip
    assert "url-map" not in rounds
    got = {row["record_id"]: row["decision"] for row in read_decisions(plan).to_pylist()}
    assert got["b00-copy"] == "exact_duplicate" and got["b01"] == "exact_duplicate"
    assert got["b02-edit"] == got["b04"] == got["b05-moved"] == "kept"

    nothing = DedupSettings(url=False, exact=False, near=False)
    plan, _ = run(write_signatures(shards, tmp_path / "n", nothing), tmp_path / "n", nothing)
    assert set(read_decisions(plan)["decision"].to_pylist()) == {"kept"}


def test_outputs_identical_for_any_task_size_and_order(tmp_path: Path) -> None:
    shards, _ = planted()
    shards = [shards[0][:3], shards[0][3:], *shards[1:]]  # files of 3, 3, 15 and 4 documents
    outputs, layouts = set(), set()
    for per_task, order in ((1000, None), (10, 1), (3, 2), (7, 3)):
        settings = DedupSettings(documents_per_task=per_task)
        folder = tmp_path / f"t{per_task}-{order}"
        plan, _ = run(write_signatures(shards, folder, settings), folder, settings, order)
        outputs.add(tuple(Path(path).read_bytes() for path in plan.decision_paths))
        layouts.add((plan.groups, plan.partitions))
    assert len(outputs) == 1
    # one group of all files, a group of two files, every file alone
    assert layouts == {((0,), 1), ((0, 2, 3), 3), ((0, 1, 2, 3), 9), ((0, 2, 3), 4)}


@pytest.mark.parametrize(
    ("rows", "per_task", "starts"),
    [
        ([], 5, ()),
        ([0, 0, 0], 5, (0,)),
        ([3, 2, 1], 5, (0, 2)),
        ([9, 1, 4], 5, (0, 1)),  # a file larger than a task's share is a group alone
        ([2, 2, 2, 2], 4, (0, 2)),
    ],
)
def test_groups_of_signature_files(rows: list[int], per_task: int, starts: tuple) -> None:
    assert group_files(rows, per_task) == starts


# -- components against union-find ---------------------------------------------------------------


def union_find(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


def graph_signatures(folder: Path, n: int, edges: list[tuple[int, int]], files: int) -> list[str]:
    """Signature files whose only links are the given edges: each edge is one band key that
    exactly its two documents carry."""
    keys: list[list[int]] = [[] for _ in range(n)]
    for number, (a, b) in enumerate(edges):
        keys[a].append(number + 1)
        keys[b].append(number + 1)
    rng = random.Random(n)
    times = [pa.scalar(1_700_000_000_000_000 + rng.randrange(10**9), pa.timestamp("us", "UTC"))
             for _ in range(n)]  # fmt: skip
    paths = []
    for index in range(files):
        docs = list(range(index, n, files))
        table = pa.table(
            {
                "record_id": [f"doc{d:05d}" for d in docs],
                "capture_time": [times[d].as_py() for d in docs],
                "url_key": [None] * len(docs),
                "exact_key": [None] * len(docs),
                "band_keys": [keys[d] for d in docs],
            },
            schema=SIGNATURE_SCHEMA,
        )
        path = folder / f"part-{index:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        paths.append(str(path))
    return paths


def random_graph(seed: int, n: int) -> list[tuple[int, int]]:
    """Random edges, long paths (many rounds for label propagation) and a big star."""
    rng = random.Random(seed)
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(n // 3)]
    path = rng.sample(range(n), n // 4)
    edges += list(itertools.pairwise(path))
    edges += [(path[0], other) for other in rng.sample(range(n), 40)]
    return [(a, b) for a, b in edges if a != b]


# Small graphs whose shapes stop a wrong stopping rule early: a V (a node with two smaller
# neighbours and nothing else to do), paths numbered up, down and zig-zag, two stars joined.
SHAPES = {
    "v": [(0, 2), (1, 2)],
    "path-up": [(i, i + 1) for i in range(30)],
    "path-down": [(30 - i, 29 - i) for i in range(30)],
    "zigzag": [(i, 31 - i) for i in range(15)] + [(31 - i, i + 1) for i in range(15)],
    "two-stars": [(0, i) for i in range(2, 12)] + [(1, i) for i in range(12, 22)] + [(11, 21)],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_small_shapes_equal_union_find(tmp_path: Path, shape: str) -> None:
    edges = SHAPES[shape]
    check_against_union_find(tmp_path, 1 + max(max(edge) for edge in edges), edges, 3, None)


# 1 group and 1 partition; groups of two files and 3 partitions; every file a group, 8
@pytest.mark.parametrize(("seed", "per_task"), [(0, 1500), (1, 600), (2, 188)])
def test_components_equal_union_find(tmp_path: Path, seed: int, per_task: int) -> None:
    check_against_union_find(tmp_path, 1500, random_graph(seed, 1500), per_task, seed)


def check_against_union_find(
    tmp_path: Path, n: int, edges: list[tuple[int, int]], per_task: int, seed: int | None
) -> None:
    settings = DedupSettings(url=False, exact=False, documents_per_task=per_task)
    paths = graph_signatures(tmp_path / "signatures", n, edges, files=min(5, n))
    plan, rounds = run(paths, tmp_path, settings, order=seed)
    decisions = read_decisions(plan)
    check_clusters(decisions)
    roots = union_find(n, edges)
    record_ids = decisions["record_id"].to_pylist()
    cluster_of = dict(zip(record_ids, decisions["cluster_id"].to_pylist(), strict=True))
    ours = {}
    for doc in range(n):
        ours.setdefault(cluster_of[f"doc{doc:05d}"], set()).add(doc)
    theirs = {}
    for doc, root in enumerate(roots):
        theirs.setdefault(root, set()).add(doc)
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))
    # the kept document is each component's earliest capture
    times = {}
    for path in paths:
        table = pq.read_table(path)
        times |= dict(zip(table["record_id"].to_pylist(), table["capture_time"].to_pylist(),
                          strict=True))  # fmt: skip
    for members in theirs.values():
        earliest = min(members, key=lambda d: (times[f"doc{d:05d}"], d))
        assert cluster_of[f"doc{earliest:05d}"] == f"doc{earliest:05d}"
    stars = [name for name in rounds if name.startswith("star-")]
    assert 2 <= len(stars) <= 40


def test_rerun_after_a_killed_task_and_missing_inputs(tmp_path: Path) -> None:
    shards, _ = planted()
    settings = DedupSettings(documents_per_task=12)
    paths = write_signatures(shards, tmp_path, settings)
    plan, _ = run(paths, tmp_path, settings)
    before = [Path(path).read_bytes() for path in plan.decision_paths]

    # A task killed mid-way leaves outputs but no stats file: the planner gives its round
    # again, and running it and what follows gives the same decisions.
    task = plan.star_round(0).tasks[1]
    Path(task.stats).unlink()
    Path(task.outputs["edges"][0]).write_bytes(b"garbage from a killed task")
    for later in plan.decision_paths:
        Path(later).unlink()
    for stats in (tmp_path / "work" / "stats" / "decisions").iterdir():
        stats.unlink()
    assert plan.next_round().name == "star-000"
    run_locally(plan)
    assert [Path(path).read_bytes() for path in plan.decision_paths] == before

    # An input that is not there is an unfinished task, said so, and nothing is written.
    fresh = DedupPlan(paths, tmp_path / "fresh", tmp_path / "fresh-decisions", settings)
    fresh.next_round().tasks[0].run(settings)  # one url-map task of three
    reduce_round = fresh.first_rounds()[1]
    with pytest.raises(FileNotFoundError, match="has not finished"):
        reduce_round.tasks[0].run(settings)
    assert not Path(reduce_round.tasks[0].stats).exists()


def test_bad_signature_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "part-00000.parquet"
    pq.write_table(pa.table({"record_id": ["a"]}), path)
    plan = DedupPlan([str(path)], tmp_path / "work", tmp_path / "decisions", DedupSettings())
    with pytest.raises(ValueError, match="not a dedup signature file"):
        plan.next_round().tasks[0].run(plan.settings)


def test_signature_files_need_distinct_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="distinct names"):
        DedupPlan(["a/part-0.parquet", "b/part-0.parquet"], tmp_path, tmp_path, DedupSettings())


def test_empty_corpus(tmp_path: Path) -> None:
    settings = DedupSettings(documents_per_task=2)
    paths = write_signatures([[], []], tmp_path, settings)
    plan, _ = run(paths, tmp_path, settings)
    assert all(pq.read_table(path).num_rows == 0 for path in plan.decision_paths)
    assert np.array_equal([pq.read_table(p).num_rows for p in paths], [0, 0])


def test_tasks_name_their_files_without_holding_them(tmp_path: Path) -> None:
    """An exchange's files are named on demand: a plan for a crawl (thousands of tasks a side)
    would otherwise hold millions of paths in the driver and ship them with every task."""
    settings = DedupSettings(documents_per_task=1)
    paths = write_signatures([planted()[0][0][:1]], tmp_path, settings)  # one document
    for number in range(1, 300):
        target = tmp_path / "signatures" / f"part-{number:05d}.parquet"
        target.write_bytes(Path(paths[0]).read_bytes())
        paths.append(str(target))
    plan = DedupPlan(paths, tmp_path / "work", tmp_path / "decisions", settings)
    assert (len(plan.groups), plan.partitions) == (300, 300)
    reduce_task = plan.first_rounds()[1].tasks[7]
    inputs = reduce_task.inputs["partitions"]
    assert len(inputs) == 300
    assert list(inputs)[:2] == [
        str(tmp_path / "work" / "url" / "to-00007" / "from-00000.parquet"),
        str(tmp_path / "work" / "url" / "to-00007" / "from-00001.parquet"),
    ]
    assert inputs[-1] == inputs[299] != inputs[0] and inputs[1:3] == list(inputs)[1:3]
    with pytest.raises(IndexError):
        inputs[300]
    map_task = plan.first_rounds()[0].tasks[5]
    assert map_task.outputs["partitions"][299] == str(
        tmp_path / "work" / "url" / "to-00299" / "from-00005.parquet"
    )
    assert len(pickle.dumps(reduce_task)) < 2_000 and len(pickle.dumps(map_task)) < 4_000
    # the first edges round gathers the URL and the key edges of every partition
    star_inputs = list(plan.star_round(0).tasks[0].inputs["edges"])
    assert len(star_inputs) == 600 and star_inputs[0].endswith("from-url-00000.parquet")
    assert star_inputs[300].endswith("from-keys-00000.parquet")

"""The corpus half of dedup: the task functions, each the body of one task.

Every function has the form `f(inputs, outputs, settings, index, group_starts)`: named lists
of Parquet paths in, named lists out, the settings, the task's number (its group's, or its
partition's), and the first signature file of each group (curation/dedup/plan.py makes the
groups). A function reads only its inputs, writes each output under a temporary name and
renames it into place, and writes its `stats` file last, so a task is complete exactly when that
file exists and a killed task is simply run again. Its outputs depend on its inputs only, never
on which other tasks ran or in what order. curation/dedup/plan.py says which tasks exist.

Documents are numbered `file << 32 | row` (file: the signature file's place in the plan, row:
the document's row in it), so every id says which file its decision goes back to.

Shuffles route each row either to a hash partition (splitmix64(key) mod partitions) or to the
group of the signature file its document came from; a task writes one file per destination,
empty ones too, so a missing file always means an unfinished task.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from heed.common.files import atomic_path, write_json_atomic
from heed.curation.dedup.components import groups, large_star, small_star, star_labels
from heed.curation.dedup.minhash import mix64
from heed.curation.dedup.settings import DedupSettings
from heed.curation.dedup.signatures import SIGNATURE_SCHEMA

Paths = Mapping[str, Sequence[str]]
Groups = tuple[int, ...]
ROW_BITS = 32
ROW_MASK = (1 << ROW_BITS) - 1

DECISIONS = ("kept", "exact_duplicate", "near_duplicate", "url_duplicate")
DECISION_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("decision", pa.string(), nullable=False),
        # The record id of the document kept for this one's cluster; null when this one is kept.
        pa.field("duplicate_of", pa.string()),
        # The cluster: the record id of its kept document (a document alone is its own cluster).
        pa.field("cluster_id", pa.string(), nullable=False),
        # Documents in the cluster, captures of the same URL included.
        pa.field("cluster_size", pa.int64(), nullable=False),
    ]
)
URL_SCHEMA = pa.schema(
    [
        ("url_key", pa.uint64()),
        ("capture_time", pa.timestamp("us", tz="UTC")),
        ("record_id", pa.string()),
        ("doc", pa.int64()),
    ]
)
DOCS_SCHEMA = pa.schema([("doc", pa.int64())])
KEYS_SCHEMA = pa.schema([("key", pa.uint64()), ("doc", pa.int64())])
EDGES_SCHEMA = pa.schema([("src", pa.int64()), ("dst", pa.int64())])
LABELS_SCHEMA = pa.schema([("doc", pa.int64()), ("label", pa.int64())])
MEMBERS_SCHEMA = pa.schema(
    [
        ("label", pa.int64()),
        ("doc", pa.int64()),
        ("url_duplicate", pa.bool_()),
        ("capture_time", pa.timestamp("us", tz="UTC")),
        ("record_id", pa.string()),
        ("exact_key", pa.uint64()),
    ]
)
CLUSTERS_SCHEMA = pa.schema(
    [
        ("doc", pa.int64()),
        ("kept", pa.int64()),
        ("kept_record_id", pa.string()),
        ("cluster_size", pa.int64()),
        ("kept_exact_key", pa.uint64()),
    ]
)


# -- files --------------------------------------------------------------------------------------


def write_parquet(path: str, table: pa.Table) -> None:
    """Written under a temporary name, then renamed: never a partial file."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_stats(path: str, stats: dict[str, Any]) -> None:
    write_json_atomic(path, stats)


def read_stats(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def require(paths: Sequence[str]) -> None:
    """A missing input file is an unfinished task of an earlier round."""
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} input file(s) missing, first {missing[0]}: the task that writes it "
            "has not finished; run the earlier round first"
        )


def read_parquet(paths: Sequence[str], schema: pa.Schema) -> pa.Table:
    """The rows of every file, in the order given."""
    require(paths)
    tables = [pq.read_table(path, schema=schema) for path in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def read_column(paths: Sequence[str], name: str, dtype: Any) -> np.ndarray:
    """One column of every file, in the order given, read straight into one array: a task
    holds the column once, not a table of it beside the array."""
    require(paths)
    counts = [pq.read_metadata(path).num_rows for path in paths]
    out = np.empty(sum(counts), dtype=dtype)
    at = 0
    for path, count in zip(paths, counts, strict=True):
        out[at : at + count] = pq.read_table(path, columns=[name]).column(name).to_numpy()
        at += count
    return out


def read_signatures(path: str) -> pa.Table:
    table = pq.read_table(path)
    missing = [name for name in SIGNATURE_SCHEMA.names if name not in table.schema.names]
    if missing:
        raise ValueError(f"{path} is not a dedup signature file: it has no {missing} column")
    if table.num_rows > ROW_MASK:
        raise ValueError(f"{path} has {table.num_rows} rows; a signature file holds < 2**32")
    return table.select(SIGNATURE_SCHEMA.names).cast(SIGNATURE_SCHEMA)


def numpy(table: pa.Table, column: str, dtype: Any) -> np.ndarray:
    return table.column(column).to_numpy().astype(dtype, copy=False)


def partition_of(keys: np.ndarray, partitions: int) -> np.ndarray:
    return (mix64(keys.astype(np.uint64, copy=False)) % np.uint64(partitions)).astype(np.int64)


def file_of(docs: np.ndarray) -> np.ndarray:
    return docs >> ROW_BITS


def group_of(docs: np.ndarray, group_starts: Groups) -> np.ndarray:
    """The group of each document's signature file."""
    starts = np.asarray(group_starts, dtype=np.int64)
    return np.searchsorted(starts, file_of(docs), side="right") - 1


def scatter(table: pa.Table, destination: np.ndarray, paths: Sequence[str]) -> None:
    """Write row i of the table to paths[destination[i]], keeping the rows' order."""
    order = np.argsort(destination, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(destination, minlength=len(paths)))))
    for index, path in enumerate(paths):
        write_parquet(path, table.take(order[bounds[index] : bounds[index + 1]]))


def write_edges(src: np.ndarray, dst: np.ndarray, paths: Sequence[str]) -> None:
    table = pa.table({"src": src, "dst": dst}, schema=EDGES_SCHEMA)
    scatter(table, partition_of(src, len(paths)), paths)


def both_ways(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate((src, dst)), np.concatenate((dst, src))


def doc_ids(file: int, rows: int) -> np.ndarray:
    return (np.int64(file) << ROW_BITS) | np.arange(rows, dtype=np.int64)


def group_doc_ids(first: int, rows: Sequence[int]) -> np.ndarray:
    """The document numbers of a group whose files, numbered on from `first`, hold `rows`."""
    ids = [doc_ids(first + offset, count) for offset, count in enumerate(rows)]
    return np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)


def keep_order(keep: str) -> str:
    return "ascending" if keep == "earliest" else "descending"


def read_group(
    paths: Sequence[str], index: int, group_starts: Groups
) -> tuple[pa.Table, np.ndarray]:
    """A group's signature files as one table, and each row's document number (ascending)."""
    tables = [read_signatures(path) for path in paths]
    docs = group_doc_ids(group_starts[index], [table.num_rows for table in tables])
    return (pa.concat_tables(tables) if tables else SIGNATURE_SCHEMA.empty_table()), docs


def positions(group_docs: np.ndarray, docs: np.ndarray, what: str) -> np.ndarray:
    """Where each of `docs` is among a group's document numbers."""
    at = np.searchsorted(group_docs, docs)
    if len(docs) and ((at >= len(group_docs)).any() or not np.array_equal(group_docs[at], docs)):
        raise ValueError(f"{what} routed to this group name documents of another group")
    return at


def url_duplicates(paths: Sequence[str], group_docs: np.ndarray) -> np.ndarray:
    """Which of a group's documents URL dedup removed, as a boolean mask."""
    mask = np.zeros(len(group_docs), dtype=bool)
    docs = numpy(read_parquet(paths, DOCS_SCHEMA), "doc", np.int64)
    mask[positions(group_docs, docs, "URL duplicates")] = True
    return mask


# -- URL dedup ----------------------------------------------------------------------------------


def url_map(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """A group of signature files -> (url_key, capture_time, record_id, doc) by URL partition."""
    table, docs = read_group(inputs["signatures"], index, group_starts)
    rows = table.select(["url_key", "capture_time", "record_id"]).append_column(
        "doc", pa.array(docs)
    )
    rows = rows.filter(pc.is_valid(rows.column("url_key")))
    partitions = outputs["partitions"]
    scatter(rows, partition_of(numpy(rows, "url_key", np.uint64), len(partitions)), partitions)
    write_stats(outputs["stats"][0], {"rows": rows.num_rows})


def url_reduce(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """One URL partition -> per URL the capture kept by `url_keep`; the others go back to their
    groups as URL duplicates and into the graph linked to the kept capture."""
    rows = read_parquet(inputs["partitions"], URL_SCHEMA).sort_by(
        [
            ("url_key", "ascending"),
            ("capture_time", keep_order(settings.url_keep)),
            ("record_id", "ascending"),
            ("doc", "ascending"),
        ]
    )
    starts, counts = groups(numpy(rows, "url_key", np.uint64))
    docs = numpy(rows, "doc", np.int64)
    kept = np.repeat(docs[starts], counts)
    duplicate = docs != kept
    dups, to = docs[duplicate], kept[duplicate]
    dups_table = pa.table({"doc": dups}, schema=DOCS_SCHEMA)
    scatter(dups_table, group_of(dups, group_starts), outputs["duplicates"])
    write_edges(*both_ways(dups, to), outputs["edges"])
    write_stats(outputs["stats"][0], {"rows": rows.num_rows, "duplicates": len(dups)})


# -- exact and near dedup: keys -> edges --------------------------------------------------------


def keys_map(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """A group of signature files -> (key, doc) for each exact and band key of the URL
    survivors. The files are read one at a time: the task holds its keys, not its signatures."""
    paths = inputs["signatures"]
    rows = [pq.read_metadata(path).num_rows for path in paths]
    docs = group_doc_ids(group_starts[index], rows)
    alive = ~url_duplicates(inputs["url_duplicates"], docs)
    bounds = np.cumsum([0, *rows])
    keys, owners = [np.empty(0, dtype=np.uint64)], [np.empty(0, dtype=np.int64)]
    for number, path in enumerate(paths):
        part = slice(bounds[number], bounds[number + 1])
        for key, owner in file_keys(read_signatures(path), docs[part], alive[part], settings):
            keys.append(key)
            owners.append(owner)
    key = np.concatenate(keys)
    del keys  # each list dropped once joined: the keys are held about once
    doc = np.concatenate(owners)
    del owners
    table = pa.table({"key": key, "doc": doc}, schema=KEYS_SCHEMA)
    scatter(table, partition_of(key, len(outputs["partitions"])), outputs["partitions"])
    write_stats(outputs["stats"][0], {"rows": table.num_rows})


def file_keys(
    table: pa.Table, docs: np.ndarray, alive: np.ndarray, settings: DedupSettings
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One signature file's (keys, their documents): exact keys, then band keys."""
    found = []
    if settings.exact:
        exact = table.column("exact_key")
        valid = alive & pc.is_valid(exact).to_numpy(zero_copy_only=False)
        found.append((exact.fill_null(0).to_numpy()[valid].astype(np.uint64), docs[valid]))
    if settings.near:
        bands = table.column("band_keys")
        lengths = pc.list_value_length(bands).to_numpy(zero_copy_only=False).astype(np.int64)
        lengths[~alive] = 0
        flat = pc.list_flatten(bands.filter(pa.array(alive)))
        found.append((flat.to_numpy().astype(np.uint64), np.repeat(docs, lengths)))
    return found


def keys_reduce(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """One key partition -> for each key shared by several documents, edges from the smallest
    document to each of the others (a star: connected, and as few edges as there are members)."""
    paths = inputs["partitions"]
    key = read_column(paths, "key", np.uint64)
    count = len(key)
    # Most keys belong to one document and link nothing: drop them before the documents are
    # read and the rows sorted.
    shared = repeated(key)
    key = key[shared]
    doc = read_column(paths, "doc", np.int64)[shared]
    del shared
    order = np.lexsort((doc, key))
    key, doc = key[order], doc[order]
    del order
    starts, counts = groups(key)
    first = np.repeat(doc[starts], counts)
    linked = doc != first
    write_edges(*both_ways(first[linked], doc[linked]), outputs["edges"])
    write_stats(outputs["stats"][0], {"rows": count, "edges": int(linked.sum())})


def repeated(keys: np.ndarray) -> np.ndarray:
    """Which entries of `keys` occur more than once, as a boolean mask."""
    ordered = np.sort(keys)
    twice = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(twice):
        return np.zeros(len(keys), dtype=bool)
    at = np.searchsorted(twice, keys)
    np.minimum(at, len(twice) - 1, out=at)
    return twice[at] == keys


# -- connected components -----------------------------------------------------------------------


def read_edges(paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    edges = read_parquet(paths, EDGES_SCHEMA)
    return numpy(edges, "src", np.int64), numpy(edges, "dst", np.int64)


def large_star_round(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    src, dst = read_edges(inputs["edges"])
    (src_out, dst_out), changed = large_star(src, dst)
    write_edges(src_out, dst_out, outputs["edges"])
    write_stats(outputs["stats"][0], {"edges": len(src), "changed": changed})


def small_star_round(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    src, dst = read_edges(inputs["edges"])
    (src_out, dst_out), changed = small_star(src, dst)
    write_edges(src_out, dst_out, outputs["edges"])
    write_stats(outputs["stats"][0], {"edges": len(src), "changed": changed})


def labels(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """Converged edges -> (doc, component label) back to each document's group."""
    docs, label = star_labels(*read_edges(inputs["edges"]))
    table = pa.table({"doc": docs, "label": label}, schema=LABELS_SCHEMA)
    scatter(table, group_of(docs, group_starts), outputs["groups"])
    write_stats(outputs["stats"][0], {"docs": len(docs)})


# -- choosing the kept document -----------------------------------------------------------------


def members(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """A group's documents that belong to a component, with what the keep rule reads, routed
    to their component's partition."""
    table, docs = read_group(inputs["signatures"], index, group_starts)
    found = read_parquet(inputs["labels"], LABELS_SCHEMA)
    rows = positions(docs, numpy(found, "doc", np.int64), "labels")
    url_duplicate = url_duplicates(inputs["url_duplicates"], docs)
    picked = table.take(pa.array(rows))
    out = pa.table(
        {
            "label": found.column("label"),
            "doc": found.column("doc"),
            "url_duplicate": url_duplicate[rows],
            "capture_time": picked.column("capture_time"),
            "record_id": picked.column("record_id"),
            "exact_key": picked.column("exact_key"),
        },
        schema=MEMBERS_SCHEMA,
    )
    partitions = outputs["partitions"]
    scatter(out, partition_of(numpy(out, "label", np.int64), len(partitions)), partitions)
    write_stats(outputs["stats"][0], {"members": out.num_rows})


def clusters(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """One partition of components -> each member's kept document and cluster size.

    The kept document is the first by: not a URL duplicate, capture time (`keep`: earliest or
    latest; unknown times last), record id, document number."""
    rows = read_parquet(inputs["partitions"], MEMBERS_SCHEMA).sort_by(
        [
            ("label", "ascending"),
            ("url_duplicate", "ascending"),
            ("capture_time", keep_order(settings.keep)),
            ("record_id", "ascending"),
            ("doc", "ascending"),
        ]
    )
    starts, counts = groups(numpy(rows, "label", np.int64))
    first = pa.array(np.repeat(starts, counts))
    out = pa.table(
        {
            "doc": rows.column("doc"),
            "kept": rows.column("doc").take(first),
            "kept_record_id": rows.column("record_id").take(first),
            "cluster_size": np.repeat(counts, counts),
            "kept_exact_key": rows.column("exact_key").take(first),
        },
        schema=CLUSTERS_SCHEMA,
    )
    scatter(out, group_of(numpy(out, "doc", np.int64), group_starts), outputs["groups"])
    write_stats(outputs["stats"][0], {"members": out.num_rows, "clusters": len(starts)})


def decisions(
    inputs: Paths, outputs: Paths, settings: DedupSettings, index: int, group_starts: Groups
) -> None:
    """A group of signature files -> one decision file each, a row per document in the same
    order."""
    table, docs = read_group(inputs["signatures"], index, group_starts)
    n = table.num_rows
    record_ids = table.column("record_id").to_numpy(zero_copy_only=False).astype(object)
    url_duplicate = url_duplicates(inputs["url_duplicates"], docs)
    found = read_parquet(inputs["clusters"], CLUSTERS_SCHEMA)
    rows = positions(docs, numpy(found, "doc", np.int64), "clusters")
    kept = np.ones(n, dtype=bool)
    cluster_id = record_ids.copy()
    cluster_size = np.ones(n, dtype=np.int64)
    exact = np.zeros(n, dtype=bool)
    if len(rows):
        kept[rows] = numpy(found, "kept", np.int64) == numpy(found, "doc", np.int64)
        cluster_id[rows] = found.column("kept_record_id").to_numpy(zero_copy_only=False)
        cluster_size[rows] = numpy(found, "cluster_size", np.int64)
        same_text = pc.equal(
            table.column("exact_key").take(pa.array(rows)), found.column("kept_exact_key")
        )
        exact[rows] = same_text.fill_null(False).to_numpy(zero_copy_only=False)
    decision = np.full(n, "kept", dtype=object)
    removed = ~kept
    decision[removed] = "near_duplicate"
    if settings.exact:
        decision[removed & exact] = "exact_duplicate"
    decision[removed & url_duplicate] = "url_duplicate"
    duplicate_of = np.where(kept, None, cluster_id)
    out = pa.table(
        {
            "record_id": record_ids,
            "decision": decision,
            "duplicate_of": duplicate_of,
            "cluster_id": cluster_id,
            "cluster_size": cluster_size,
        },
        schema=DECISION_SCHEMA,
    )
    files = file_of(docs)
    bounds = np.searchsorted(files, group_starts[index] + np.arange(len(outputs["decisions"]) + 1))
    for number, path in enumerate(outputs["decisions"]):
        write_parquet(path, out.slice(bounds[number], bounds[number + 1] - bounds[number]))
    counts = {name: int((decision == name).sum()) for name in DECISIONS}
    write_stats(outputs["stats"][0], {"documents": n, **counts})

"""Connected components by the large-star / small-star rounds of Kiveris et al. (2014),
"Connected Components in MapReduce and Beyond", on one partition's edges at a time.

Edges are pairs of int64 node ids. A round's task sees every edge whose first node hashes to its
partition, so each node's whole neighbourhood is in one task, and no task holds more than its
partition. Alternating the two operations turns every component into a star around its
smallest node in O(log^2 n) rounds; the graph has converged when two rounds in a row change
nothing.

* large-star: each node u links every larger neighbour to the smallest node of its
  neighbourhood (u included). Input: both directions of each edge, grouped by the first node.
  Output: (larger, smaller) pairs, the form small-star reads.
* small-star: each node u links its smaller neighbours, and itself, to the smallest of them.
  Input: (larger, smaller) pairs grouped by the larger. Output: both directions.
"""

from __future__ import annotations

import numpy as np

Edges = tuple[np.ndarray, np.ndarray]


def unique_edges(src: np.ndarray, dst: np.ndarray) -> Edges:
    """The distinct (src, dst) pairs, sorted by src then dst."""
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    distinct = np.ones(len(src), dtype=bool)
    distinct[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    return src[distinct], dst[distinct]


def groups(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal keys in a sorted array."""
    if not len(sorted_keys):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1))
    return starts, np.diff(np.append(starts, len(sorted_keys)))


def large_star(src: np.ndarray, dst: np.ndarray) -> tuple[Edges, int]:
    """One large-star step; returns the (larger, smaller) edges and how many nodes changed."""
    src, dst = unique_edges(src, dst)
    starts, counts = groups(src)
    if not len(starts):
        return (src, dst), 0
    smallest = np.minimum(np.minimum.reduceat(dst, starts), src[starts])
    has_larger = np.maximum.reduceat(dst, starts) > src[starts]
    changed = int(np.count_nonzero(has_larger & (smallest != src[starts])))
    larger = dst > src
    return (dst[larger], np.repeat(smallest, counts)[larger]), changed


def small_star(src: np.ndarray, dst: np.ndarray) -> tuple[Edges, int]:
    """One small-star step on (larger, smaller) edges; returns edges in both directions and
    how many nodes changed."""
    src, dst = unique_edges(src, dst)
    starts, counts = groups(src)
    if not len(starts):
        return (src, dst), 0
    changed = int(np.count_nonzero(counts > 1))
    smallest = np.repeat(dst[starts], counts)  # dst is sorted within each group
    others = dst != smallest
    # every node u -> the smallest; every other smaller neighbour -> the smallest.
    a = np.concatenate((src[starts], dst[others]))
    b = np.concatenate((dst[starts], smallest[others]))
    return (np.concatenate((a, b)), np.concatenate((b, a))), changed


def star_labels(src: np.ndarray, dst: np.ndarray) -> Edges:
    """On converged edges (both directions): each node and the smallest node of its component."""
    src, dst = unique_edges(src, dst)
    starts, _ = groups(src)
    if not len(starts):
        return src, dst
    return src[starts], np.minimum(np.minimum.reduceat(dst, starts), src[starts])

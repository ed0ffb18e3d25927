"""Which dedup tasks exist, in which rounds, reading and writing which files.

A round is a set of tasks that may run in any order and in parallel; a round starts when the
one before it has finished. The planner is a function of the folder: `next_round()` returns
the first round with an unfinished task (a task is finished when its stats file exists), so a
driver that restarts simply carries on. The component rounds repeat until two in a row change
nothing, which the planner reads from their stats files.

Tasks come in two kinds, both sized by `documents_per_task` (T), so that a task's memory does
not grow with the corpus and neither does the number of files an exchange writes per document:
* group tasks, one per group of consecutive signature files holding up to T documents (G
  groups; a file larger than T is a group alone);
* partition tasks, one per hash partition: P = ceil(documents / T).
Each exchange between the two kinds writes G x P files (one per pair, empty ones too), about
(documents / T)^2: set by the task size, not by how many signature files the shards make.

Rounds, and where they write under the work folder (G-NNNNN, P-NNNNN: the writing task):

```
url-map       G  signatures -> url/to-P/from-G           (URL dedup on)
url-reduce    P  -> url-dups/to-G/from-P, edges/r000/to-P/from-url-P
keys-map      G  signatures, url-dups -> keys/to-P/from-G (exact or near dedup on)
keys-reduce   P  -> edges/r000/to-P/from-keys-P
star-NNN      P  edges/rNNN/to-P -> edges/rNNN+1/to-P/from-P  (large-star, small-star, ...)
labels        P  converged edges -> labels/to-G/from-P
members       G  signatures, labels, url-dups -> members/to-P/from-G
clusters      P  -> clusters/to-G/from-P
decisions     G  signatures, url-dups, clusters -> DECISIONS/<signature file name>, per file
stats/<round>/<task>.json   each task's counts, written last
```
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import pyarrow.parquet as pq

import heed.curation.dedup.corpus as corpus
from heed.curation.dedup.settings import DedupSettings

# Kiveris et al. bound the rounds by O(log^2 n); a graph still changing after this many has
# met a bug, not a hard input.
MAX_STAR_ROUNDS = 400

TaskFunction = Callable[[corpus.Paths, corpus.Paths, DedupSettings, int, tuple[int, ...]], None]


class ExchangeFiles(Sequence[str]):
    """The files one task of an exchange reads or writes, named on demand: a round plans
    thousands of tasks, each naming thousands of files, and the driver must not hold them all.
    Subclasses say how many there are and how the i-th is named."""

    @abstractmethod
    def _name(self, index: int) -> str: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._name(index % len(self))


@dataclass(frozen=True)
class Fanout(ExchangeFiles):
    """One task's files to every destination: FOLDER/to-NNNNN/from-SOURCE.parquet for NNNNN in
    range(count)."""

    folder: str
    source: str
    count: int

    def __len__(self) -> int:
        return self.count

    def _name(self, index: int) -> str:
        return f"{self.folder}/to-{index:05d}/from-{self.source}.parquet"


@dataclass(frozen=True)
class Gather(ExchangeFiles):
    """One destination's files from every source:
    FOLDER/to-NNNNN/from-PREFIXMMMMM.parquet for each prefix, MMMMM in range(count)."""

    folder: str
    to: int
    count: int
    prefixes: tuple[str, ...] = ("",)

    def __len__(self) -> int:
        return self.count * len(self.prefixes)

    def _name(self, index: int) -> str:
        prefix, number = divmod(index, self.count)
        return f"{self.folder}/to-{self.to:05d}/from-{self.prefixes[prefix]}{number:05d}.parquet"


@dataclass(frozen=True)
class Task:
    """One task: `function(inputs, outputs, settings, index, groups)`; `index` is the group's or
    the partition's number, `groups` the number of each group's first signature file."""

    round: str
    index: int
    function: TaskFunction
    inputs: dict[str, Sequence[str]]
    outputs: dict[str, Sequence[str]]
    groups: tuple[int, ...]

    def run(self, settings: DedupSettings) -> None:
        self.function(self.inputs, self.outputs, settings, self.index, self.groups)

    @property
    def stats(self) -> str:
        return self.outputs["stats"][0]

    def complete(self) -> bool:
        return os.path.exists(self.stats)


@dataclass(frozen=True)
class Round:
    name: str
    tasks: tuple[Task, ...] = field(default_factory=tuple)

    def complete(self) -> bool:
        return all(task.complete() for task in self.tasks)


def group_files(rows: Sequence[int], documents_per_task: int) -> tuple[int, ...]:
    """The first file of each group: consecutive files, as many as keep a group within
    `documents_per_task` rows (a larger file is a group alone)."""
    starts: list[int] = []
    total = 0
    for number, count in enumerate(rows):
        if not starts or (total and total + count > documents_per_task):
            starts.append(number)
            total = 0
        total += count
    return tuple(starts)


class DedupPlan:
    """The rounds of one corpus's dedup.

    `signatures`: the per-shard signature files (any order; they are sorted, and a document's
    number comes from its file's place in that order). `decisions`: the folder that gets one
    decision file per signature file, of the same name. `work`: the intermediate files.
    """

    def __init__(
        self,
        signatures: Sequence[str | Path],
        work: str | Path,
        decisions: str | Path,
        settings: DedupSettings,
    ) -> None:
        self.signatures = sorted(str(path) for path in signatures)
        names = [Path(path).name for path in self.signatures]
        if len(set(names)) != len(names):
            raise ValueError("signature files must have distinct names (decisions reuse them)")
        self.work = Path(work)
        self.decision_paths = [str(Path(decisions) / name) for name in names]
        self.settings = settings
        # The footers only: the layout needs each file's row count, not its rows.
        rows = [pq.read_metadata(path).num_rows for path in self.signatures]
        self.groups = group_files(rows, settings.documents_per_task)
        self.partitions = max(1, math.ceil(sum(rows) / settings.documents_per_task))

    # -- paths --

    def _path(self, *parts: str) -> str:
        return str(self.work.joinpath(*parts))

    def _stats(self, round_name: str, index: int) -> tuple[str, ...]:
        return (self._path("stats", round_name, f"{index:05d}.json"),)

    def _gather(self, kind: str, to: int, count: int, prefixes: tuple[str, ...] = ("",)) -> Gather:
        return Gather(self._path(kind), to, count, prefixes)

    def _fanout(self, kind: str, source: str, count: int) -> Fanout:
        return Fanout(self._path(kind), source, count)

    def _files_of(self, group: int) -> range:
        end = self.groups[group + 1] if group + 1 < len(self.groups) else len(self.signatures)
        return range(self.groups[group], end)

    def _signatures(self, group: int) -> tuple[str, ...]:
        return tuple(self.signatures[f] for f in self._files_of(group))

    def _url_duplicates(self, group: int) -> Sequence[str]:
        return self._gather("url-dups", group, self.partitions) if self.settings.url else ()

    def _edges(self, star_round: int) -> str:
        return f"edges/r{star_round:03d}"

    def _round(
        self,
        name: str,
        function: TaskFunction,
        count: int,
        inputs: Callable[[int], dict[str, Sequence[str]]],
        outputs: Callable[[int], dict[str, Sequence[str]]],
    ) -> Round:
        """Tasks 0..count-1 (groups or partitions), with the inputs and outputs each names."""
        return Round(
            name,
            tuple(
                Task(
                    name,
                    i,
                    function,
                    inputs(i),
                    {**outputs(i), "stats": self._stats(name, i)},
                    self.groups,
                )
                for i in range(count)
            ),
        )

    def first_rounds(self) -> list[Round]:
        """The rounds before the components (their tasks do not depend on the data)."""
        rounds = []
        n_groups, n_parts = len(self.groups), self.partitions
        if self.settings.url:
            rounds.append(
                self._round(
                    "url-map",
                    corpus.url_map,
                    n_groups,
                    lambda g: {"signatures": self._signatures(g)},
                    lambda g: {"partitions": self._fanout("url", f"{g:05d}", n_parts)},
                )
            )
            rounds.append(
                self._round(
                    "url-reduce",
                    corpus.url_reduce,
                    n_parts,
                    lambda p: {"partitions": self._gather("url", p, n_groups)},
                    lambda p: {
                        "duplicates": self._fanout("url-dups", f"{p:05d}", n_groups),
                        "edges": self._fanout(self._edges(0), f"url-{p:05d}", n_parts),
                    },
                )
            )
        if self.settings.exact or self.settings.near:
            rounds.append(
                self._round(
                    "keys-map",
                    corpus.keys_map,
                    n_groups,
                    lambda g: {
                        "signatures": self._signatures(g),
                        "url_duplicates": self._url_duplicates(g),
                    },
                    lambda g: {"partitions": self._fanout("keys", f"{g:05d}", n_parts)},
                )
            )
            rounds.append(
                self._round(
                    "keys-reduce",
                    corpus.keys_reduce,
                    n_parts,
                    lambda p: {"partitions": self._gather("keys", p, n_groups)},
                    lambda p: {"edges": self._fanout(self._edges(0), f"keys-{p:05d}", n_parts)},
                )
            )
        return rounds

    def _star_inputs(self, star_round: int, partition: int) -> Gather:
        if star_round > 0:
            return self._gather(self._edges(star_round), partition, self.partitions)
        prefixes = []
        if self.settings.url:
            prefixes.append("url-")
        if self.settings.exact or self.settings.near:
            prefixes.append("keys-")
        return self._gather(self._edges(0), partition, self.partitions, tuple(prefixes))

    def star_round(self, star_round: int) -> Round:
        """Round N of the components: large-star when N is even, small-star when odd."""
        function = corpus.large_star_round if star_round % 2 == 0 else corpus.small_star_round
        return self._round(
            f"star-{star_round:03d}",
            function,
            self.partitions,
            lambda p: {"edges": self._star_inputs(star_round, p)},
            lambda p: {
                "edges": self._fanout(self._edges(star_round + 1), f"{p:05d}", self.partitions)
            },
        )

    def _changed(self, star_round: int) -> int:
        return sum(
            corpus.read_stats(task.stats)["changed"] for task in self.star_round(star_round).tasks
        )

    def _last_rounds(self, converged: int) -> list[Round]:
        """The rounds after the components, given the star round whose input edges (in
        both-directions form) are the converged graph."""
        n_groups, n_parts = len(self.groups), self.partitions
        labels = self._round(
            "labels",
            corpus.labels,
            n_parts,
            lambda p: {"edges": self._star_inputs(converged, p)},
            lambda p: {"groups": self._fanout("labels", f"{p:05d}", n_groups)},
        )
        members = self._round(
            "members",
            corpus.members,
            n_groups,
            lambda g: {
                "signatures": self._signatures(g),
                "labels": self._gather("labels", g, n_parts),
                "url_duplicates": self._url_duplicates(g),
            },
            lambda g: {"partitions": self._fanout("members", f"{g:05d}", n_parts)},
        )
        clusters = self._round(
            "clusters",
            corpus.clusters,
            n_parts,
            lambda p: {"partitions": self._gather("members", p, n_groups)},
            lambda p: {"groups": self._fanout("clusters", f"{p:05d}", n_groups)},
        )
        decisions = self._round(
            "decisions",
            corpus.decisions,
            n_groups,
            lambda g: {
                "signatures": self._signatures(g),
                "url_duplicates": self._url_duplicates(g),
                "clusters": self._gather("clusters", g, n_parts),
            },
            lambda g: {"decisions": tuple(self.decision_paths[f] for f in self._files_of(g))},
        )
        return [labels, members, clusters, decisions]

    def next_round(self) -> Round | None:
        """The first round with an unfinished task; None when the decisions are all written."""
        for round_ in self.first_rounds():
            if not round_.complete():
                return round_
        star_round = 0
        while True:
            round_ = self.star_round(star_round)
            if not round_.complete():
                return round_
            if star_round > 0 and self._changed(star_round) == 0 == self._changed(star_round - 1):
                break
            star_round += 1
            if star_round >= MAX_STAR_ROUNDS:
                raise RuntimeError(f"connected components still changing after {star_round} rounds")
        # Both-directions edges of the fixed point: a large-star round's input, or the output of
        # a small-star round (which is the next large-star round's input).
        converged = star_round if star_round % 2 == 0 else star_round + 1
        for round_ in self._last_rounds(converged):
            if not round_.complete():
                return round_
        return None


def run_locally(plan: DedupPlan, shuffle_seed: int | None = None) -> list[str]:
    """Run every round in this process (tests, benchmarks, a laptop); with `shuffle_seed`, each
    round's tasks run in a shuffled order. Returns the names of the rounds run."""
    names = []
    while (round_ := plan.next_round()) is not None:
        tasks = list(round_.tasks)
        if shuffle_seed is not None:
            Random(f"{shuffle_seed}/{round_.name}").shuffle(tasks)
        for task in tasks:
            task.run(plan.settings)
        names.append(round_.name)
    return names

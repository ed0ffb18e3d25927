"""Which dedup tasks exist, in which rounds, reading and writing which files.

A round is a set of tasks that may run in any order and in parallel; a round starts when the
one before it has finished. The planner is a function of the folder: `next_round()` returns
the first round with an unfinished task (a task is finished when its stats file exists), so a
driver that restarts simply carries on. The component rounds repeat until two in a row change
nothing, which the planner reads from their stats files.

Rounds (F signature files, P partitions), and where they write under the work folder:

```
url-map       F  signatures -> url/to-P/from-F           (URL dedup on)
url-reduce    P  -> url-dups/to-F/from-P, edges/r000/to-P/from-url-P
keys-map      F  signatures, url-dups -> keys/to-P/from-F (exact or near dedup on)
keys-reduce   P  -> edges/r000/to-P/from-keys-P
star-NNN      P  edges/rNNN/to-P -> edges/rNNN+1/to-P/from-P  (large-star, small-star, ...)
labels        P  converged edges -> labels/to-F/from-P
members       F  signatures, labels, url-dups -> members/to-P/from-F
clusters      P  -> clusters/to-F/from-P
decisions     F  signatures, url-dups, clusters -> DECISIONS/<signature file name>
stats/<round>/<task>.json   each task's counts, written last
```
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import heed.curation.dedup.corpus as corpus
from heed.curation.dedup.settings import DedupSettings

# Kiveris et al. bound the rounds by O(log^2 n); a graph still changing after this many has
# met a bug, not a hard input.
MAX_STAR_ROUNDS = 400

TaskFunction = Callable[[corpus.Paths, corpus.Paths, DedupSettings, int], None]


@dataclass(frozen=True)
class Task:
    """One task: `function(inputs, outputs, settings, index)`."""

    round: str
    index: int
    function: TaskFunction
    inputs: dict[str, tuple[str, ...]]
    outputs: dict[str, tuple[str, ...]]

    def run(self, settings: DedupSettings) -> None:
        self.function(self.inputs, self.outputs, settings, self.index)

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

    # -- paths --

    def _path(self, *parts: str) -> str:
        return str(self.work.joinpath(*parts))

    def _stats(self, round_name: str, index: int) -> tuple[str, ...]:
        return (self._path("stats", round_name, f"{index:05d}.json"),)

    def _exchange(self, kind: str, to: int, sources: Sequence[str]) -> tuple[str, ...]:
        return tuple(self._path(kind, f"to-{to:05d}", f"from-{s}.parquet") for s in sources)

    def _fanout(self, kind: str, source: str, count: int) -> tuple[str, ...]:
        return tuple(
            self._path(kind, f"to-{to:05d}", f"from-{source}.parquet") for to in range(count)
        )

    @property
    def _files(self) -> list[str]:
        return [f"{i:05d}" for i in range(len(self.signatures))]

    @property
    def _partitions(self) -> list[str]:
        return [f"{p:05d}" for p in range(self.settings.partitions)]

    def _url_duplicates(self, file: int) -> tuple[str, ...]:
        return self._exchange("url-dups", file, self._partitions) if self.settings.url else ()

    def _edges(self, star_round: int) -> str:
        return f"edges/r{star_round:03d}"

    # -- rounds --

    def _map(self, name: str, function: TaskFunction, kind: str, extra: bool) -> Round:
        tasks = []
        for i, path in enumerate(self.signatures):
            inputs = {"signatures": (path,)}
            if extra:
                inputs["url_duplicates"] = self._url_duplicates(i)
            outputs = {
                "partitions": self._fanout(kind, f"{i:05d}", self.settings.partitions),
                "stats": self._stats(name, i),
            }
            tasks.append(Task(name, i, function, inputs, outputs))
        return Round(name, tuple(tasks))

    def first_rounds(self) -> list[Round]:
        """The rounds before the components (their tasks do not depend on the data)."""
        rounds = []
        n_files, n_parts = len(self.signatures), self.settings.partitions
        if self.settings.url:
            rounds.append(self._map("url-map", corpus.url_map, "url", extra=False))
            rounds.append(
                Round(
                    "url-reduce",
                    tuple(
                        Task(
                            "url-reduce",
                            p,
                            corpus.url_reduce,
                            {"partitions": self._exchange("url", p, self._files)},
                            {
                                "duplicates": self._fanout("url-dups", f"{p:05d}", n_files),
                                "edges": self._fanout(self._edges(0), f"url-{p:05d}", n_parts),
                                "stats": self._stats("url-reduce", p),
                            },
                        )
                        for p in range(n_parts)
                    ),
                )
            )
        if self.settings.exact or self.settings.near:
            rounds.append(self._map("keys-map", corpus.keys_map, "keys", extra=True))
            rounds.append(
                Round(
                    "keys-reduce",
                    tuple(
                        Task(
                            "keys-reduce",
                            p,
                            corpus.keys_reduce,
                            {"partitions": self._exchange("keys", p, self._files)},
                            {
                                "edges": self._fanout(self._edges(0), f"keys-{p:05d}", n_parts),
                                "stats": self._stats("keys-reduce", p),
                            },
                        )
                        for p in range(n_parts)
                    ),
                )
            )
        return rounds

    def _star_inputs(self, star_round: int, partition: int) -> tuple[str, ...]:
        if star_round > 0:
            return self._exchange(self._edges(star_round), partition, self._partitions)
        sources = []
        if self.settings.url:
            sources += [f"url-{p}" for p in self._partitions]
        if self.settings.exact or self.settings.near:
            sources += [f"keys-{p}" for p in self._partitions]
        return self._exchange(self._edges(0), partition, sources)

    def star_round(self, star_round: int) -> Round:
        """Round N of the components: large-star when N is even, small-star when odd."""
        name = f"star-{star_round:03d}"
        function = corpus.large_star_round if star_round % 2 == 0 else corpus.small_star_round
        return Round(
            name,
            tuple(
                Task(
                    name,
                    p,
                    function,
                    {"edges": self._star_inputs(star_round, p)},
                    {
                        "edges": self._fanout(
                            self._edges(star_round + 1), f"{p:05d}", self.settings.partitions
                        ),
                        "stats": self._stats(name, p),
                    },
                )
                for p in range(self.settings.partitions)
            ),
        )

    def _changed(self, star_round: int) -> int:
        return sum(
            corpus.read_stats(task.stats)["changed"] for task in self.star_round(star_round).tasks
        )

    def _last_rounds(self, converged: int) -> list[Round]:
        """The rounds after the components, given the star round whose input edges (in
        both-directions form) are the converged graph."""
        n_files, n_parts = len(self.signatures), self.settings.partitions
        labels = Round(
            "labels",
            tuple(
                Task(
                    "labels",
                    p,
                    corpus.labels,
                    {"edges": self._star_inputs(converged, p)},
                    {
                        "files": self._fanout("labels", f"{p:05d}", n_files),
                        "stats": self._stats("labels", p),
                    },
                )
                for p in range(n_parts)
            ),
        )
        members = Round(
            "members",
            tuple(
                Task(
                    "members",
                    i,
                    corpus.members,
                    {
                        "signatures": (path,),
                        "labels": self._exchange("labels", i, self._partitions),
                        "url_duplicates": self._url_duplicates(i),
                    },
                    {
                        "partitions": self._fanout("members", f"{i:05d}", n_parts),
                        "stats": self._stats("members", i),
                    },
                )
                for i, path in enumerate(self.signatures)
            ),
        )
        clusters = Round(
            "clusters",
            tuple(
                Task(
                    "clusters",
                    p,
                    corpus.clusters,
                    {"partitions": self._exchange("members", p, self._files)},
                    {
                        "files": self._fanout("clusters", f"{p:05d}", n_files),
                        "stats": self._stats("clusters", p),
                    },
                )
                for p in range(n_parts)
            ),
        )
        decisions = Round(
            "decisions",
            tuple(
                Task(
                    "decisions",
                    i,
                    corpus.decisions,
                    {
                        "signatures": (path,),
                        "url_duplicates": self._url_duplicates(i),
                        "clusters": self._exchange("clusters", i, self._partitions),
                    },
                    {"decisions": (self.decision_paths[i],), "stats": self._stats("decisions", i)},
                )
                for i, path in enumerate(self.signatures)
            ),
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

"""Goldfish canary experiment: does the Goldfish mask stop a model reproducing text it saw many
times?

A tiny model trains twice on the same data, once with plain loss and once with the Goldfish
mask (k = 4, h = 13: a quarter of the targets left out, the paper's aggressive setting): the
sample corpus's training shards (or, when out/sample is absent, synthetic Zipf-distributed
documents; the output says which) plus a few *canary* documents repeated many times. Canaries
are held-out documents of the sample corpus cut to prefix + 50 tokens. Afterwards the
memorisation check (training/memorization.py) prompts each canary's prefix and greedy-decodes
50 tokens: without Goldfish the canaries come back (partly, for a model this small), with it
the tokens the mask hid are never learnt, so whole continuations cannot. Documents seen once
are checked too, as a control.

    python benchmarks/goldfish_canary.py            # CPU, about 5 minutes
    python benchmarks/goldfish_canary.py --steps 400 --canaries 8 --repeats 400
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heed.common.tokens import TOKENS_SCHEMA  # noqa: E402
from heed.training.config import TrainConfig  # noqa: E402
from heed.training.data import list_units, read_unit, token_files  # noqa: E402
from heed.training.memorization import memorization  # noqa: E402
from heed.training.train import load_model, train  # noqa: E402

BOS, EOS = 1, 2
SUFFIX = 50


def read_docs(files: list[Path]) -> list[np.ndarray]:
    return [doc for unit in list_units(files) for doc in read_unit(unit)]


def corpus(
    sample: Path, train_files: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """(training documents, held-out documents, where they came from)."""
    if sample.is_dir():
        files = token_files(sample)
        if len(files) >= 2:
            return (
                read_docs(files[:train_files]),
                read_docs(files[-1:]),
                f"sample corpus ({sample.relative_to(REPO)}: {train_files} part file(s) trained "
                f"on, {files[-1].name} for canaries)",
            )

    # Zipf-distributed ids over tekken's range: text-like frequencies, nothing to understand.
    def doc() -> np.ndarray:
        body = rng.zipf(1.3, size=int(rng.integers(100, 600))) % 131_000 + 3
        return np.concatenate([[BOS], body, [EOS]]).astype(np.int64)

    return (
        [doc() for _ in range(300 * train_files)],
        [doc() for _ in range(64)],
        "synthetic Zipf tokens (out/sample/tokens is absent)",
    )


def write_tokens(folder: Path, docs: list[np.ndarray], rng: np.random.Generator) -> None:
    """One `tokens/` part file, documents in random order, small row groups (units)."""
    folder.mkdir(parents=True)
    order = rng.permutation(len(docs))
    rows = [docs[i].tolist() for i in order]
    table = pa.table(
        {
            "id": [f"doc-{i}" for i in order],
            "tokens": rows,
            "num_tokens": [len(r) for r in rows],
        },
        schema=TOKENS_SCHEMA,
    )
    pq.write_table(table, folder / "part-00000.parquet", row_group_size=16)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=140)
    parser.add_argument("--canaries", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=400, help="copies of each canary")
    parser.add_argument("--prefix", type=int, default=16, help="canary tokens before the 50")
    parser.add_argument("--train-files", type=int, default=1, help="sample part files to train on")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--h", type=int, default=13)
    parser.add_argument("--mode", default="apertus", choices=["apertus", "rolling"])
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    train_docs, held_out, source = corpus(REPO / "out" / "sample" / "tokens", args.train_files, rng)
    length = args.prefix + SUFFIX
    canaries = [d[:length].copy() for d in held_out if len(d) >= length][: args.canaries]
    for canary in canaries:
        canary[-1] = EOS  # each canary is a document of its own: BOS ... EOS
    control = [d[:length] for d in train_docs if len(d) >= length][:64]
    canary_tokens = len(canaries) * length * args.repeats
    corpus_tokens = sum(len(d) for d in train_docs)
    print(f"data: {source}")
    print(
        f"      {len(train_docs)} documents ({corpus_tokens:,} tokens) + {len(canaries)} "
        f"canaries of {length} tokens × {args.repeats} copies ({canary_tokens:,} tokens, "
        f"{100 * canary_tokens / (canary_tokens + corpus_tokens):.0f}% of the data); "
        f"{args.steps} steps of {args.batch} × {args.seq_len} tokens"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "data" / "tokens"
        write_tokens(tokens, train_docs + canaries * args.repeats, rng)
        for k in (0, args.k):
            config = TrainConfig.from_dict(
                {
                    "data": {
                        "tokens": [str(tokens)],
                        "seq_len": args.seq_len,
                        "batch_size": args.batch,
                        "micro_batch_size": args.batch,
                        "seed": args.seed,
                    },
                    "goldfish": {"k": k, "h": args.h, "mode": args.mode},
                    "model": {"size": "tiny", "hidden": args.hidden, "head_dim": args.hidden // 4},
                    "optim": {"lr": args.lr},
                    "schedule": {"steps": args.steps, "warmup": args.steps // 10},
                    "run": {
                        "out": str(Path(tmp) / f"run-k{k}"),
                        "device": "cpu",
                        "log_every": 50,
                        "eval_every": 0,
                        "checkpoint_every": 0,
                    },
                }
            )
            label = f"goldfish k={k}, h={args.h} ({args.mode})" if k else "plain loss"
            print(f"\n== {label}")
            start = time.perf_counter()
            history = train(config)
            model = load_model(config.path(config.run.out))
            canary = memorization(model, canaries, suffix=SUFFIX, context=args.seq_len)
            seen_once = memorization(model, control, suffix=SUFFIX, context=args.seq_len)
            rows.append(
                (label, history[-1]["loss"], canary, seen_once, time.perf_counter() - start)
            )

    print(f"\nmemorisation of the last {SUFFIX} tokens from the prefix (greedy):")
    header = (
        f"{'run':<32} {'last loss':>10} {'canary exact':>13} {'canary tokens':>14} "
        f"{'seen-once tokens':>17} {'time':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, loss, canary, seen_once, seconds in rows:
        print(
            f"{label:<32} {loss:>10.3f} {100 * canary.exact_match:>12.1f}% "
            f"{100 * canary.token_match:>13.1f}% {100 * seen_once.token_match:>16.1f}% "
            f"{seconds:>5.0f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

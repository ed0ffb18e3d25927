"""`heed train`: the trainer's commands, added to the `heed` command line through the
`heed.commands` entry point group (curation never imports training):

    heed train CONFIG [--resume] [--stop-after N]
    heed train memorization CKPT SHARDS [--docs N] [--suffix 50] [--json]

Without the entry point installed, the same commands run as
`python -m heed.training.cli train CONFIG ...` and `python -m heed.training.cli memorization ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TRAIN_USAGE = (
    "heed train CONFIG [--resume] [--stop-after N]\n"
    "       heed train memorization CKPT SHARDS [--docs N] [--suffix N] [--json]"
)


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heed train", description="Train on tokens/ Parquet shards as CONFIG says."
    )
    parser.add_argument("config", help="a training config (configs/train-*.toml)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from run.out's latest checkpoint"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        metavar="N",
        help="stop (with a checkpoint) after step N; the schedule stays that of the whole run",
    )
    return parser


def _memorization_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heed train memorization",
        description="Prompt with each training document's prefix, greedy-decode its last "
        "tokens, and report the exact-match rate (the Goldfish paper's measure) and the mean "
        "share of matching tokens.",
    )
    parser.add_argument("checkpoint", help="a checkpoint file or folder, or a run folder")
    parser.add_argument("shards", nargs="+", help="tokens/ folders or Parquet files")
    parser.add_argument("--docs", type=int, default=200, help="documents to test (default 200)")
    parser.add_argument("--suffix", type=int, default=50, help="tokens to reproduce (50)")
    parser.add_argument(
        "--context", type=int, default=0, help="document cut (default: the run's seq_len)"
    )
    parser.add_argument("--seed", type=int, default=0, help="which documents (a seeded draw)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def run_train(argv: list[str]) -> int:
    from heed.training.config import TrainConfigError
    from heed.training.data import DataError
    from heed.training.train import main_train

    args = _train_parser().parse_args(argv)
    try:
        return main_train(args.config, resume=args.resume, stop_after=args.stop_after)
    except (TrainConfigError, DataError, FileNotFoundError) as exc:
        print(f"heed train: {exc}", file=sys.stderr)
        return 2


def run_memorization(argv: list[str]) -> int:
    import numpy as np

    from heed.training.data import DataError, list_units, read_unit, token_files
    from heed.training.memorization import memorization
    from heed.training.train import load_model_and_meta

    args = _memorization_parser().parse_args(argv)
    try:
        model, meta = load_model_and_meta(args.checkpoint)
        context = args.context or int(meta["config"]["data"]["seq_len"])
        units = list_units(token_files(args.shards))
        # Row groups in a seeded order until enough documents: the shards are never read whole.
        rng = np.random.default_rng(args.seed)
        chosen: list[np.ndarray] = []
        for i in rng.permutation(len(units)):
            docs = read_unit(units[i])
            chosen.extend(docs[j] for j in rng.permutation(len(docs)))
            if len(chosen) >= args.docs:
                break
        chosen = chosen[: args.docs]
    except (DataError, FileNotFoundError, KeyError) as exc:
        print(f"heed train memorization: {exc}", file=sys.stderr)
        return 2
    result = memorization(model, chosen, suffix=args.suffix, context=context)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(
            f"{result.documents} documents (of {len(chosen)} drawn), last {args.suffix} tokens "
            f"from the prefix, context {context}:\n"
            f"  exact match      {100 * result.exact_match:6.2f}%\n"
            f"  tokens matching  {100 * result.token_match:6.2f}%"
        )
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.config == "memorization":
        return run_memorization(args.rest)
    return run_train([args.config, *args.rest])


def add_commands(subparsers: Any) -> None:
    """Add `train` (and its `train memorization`) to the `heed` command line's subparsers."""
    train = subparsers.add_parser(
        "train",
        help="train a model on tokens/ Parquet shards (or: train memorization CKPT SHARDS)",
        usage=TRAIN_USAGE,
    )
    train.add_argument("config", help="a training config, or `memorization`")
    train.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        help="its options: heed train CONFIG --help, heed train memorization --help",
    )
    train.set_defaults(func=_dispatch)


def main(argv: list[str] | None = None) -> int:
    """`python -m heed.training.cli train CONFIG ...` or `... memorization CKPT SHARDS ...`."""
    parser = argparse.ArgumentParser(prog="python -m heed.training.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_commands(commands)
    commands.add_parser("memorization", help="the memorisation check (heed train memorization)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["memorization"]:  # its own parser takes every argument after the name
        return run_memorization(argv[1:])
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""`heed filters ...`: work on filters' models outside a pipeline run. Added to the `heed`
command line through the `heed.commands` entry point group, like every command group."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path


def log(message: str) -> None:
    """Progress and results of a command that writes a file: messages, so on stderr."""
    print(message, file=sys.stderr)


def add_commands(commands: argparse._SubParsersAction) -> None:
    filters = commands.add_parser("filters", help="filters' models: training")
    subcommands = filters.add_subparsers(dest="filters_command", required=True, metavar="COMMAND")
    train = subcommands.add_parser(
        "train-fasttext",
        help="train a fastText classifier (e.g. toxicity) from label<TAB>text lines",
    )
    train.set_defaults(func=train_fasttext(train))


def train_fasttext(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """`heed filters train-fasttext LABELS.tsv --out MODEL.bin`: a supervised fastText model
    (e.g. a toxicity classifier for the toxicity stage's `model`/`models`)."""
    parser.add_argument("labels", help="training data: one `label<TAB>text` per line")
    parser.add_argument("--out", required=True, help="model file to write (fastText .bin)")
    parser.add_argument("--valid", help="held-out `label<TAB>text` lines to report accuracy on")
    parser.add_argument("--dim", type=int, default=16, help="embedding size")
    parser.add_argument("--epoch", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate at the start")
    parser.add_argument("--word-ngrams", type=int, default=2, help="word n-grams up to this n")
    parser.add_argument("--minn", type=int, default=0, help="shortest char n-gram (0: none)")
    parser.add_argument("--maxn", type=int, default=0, help="longest char n-gram")
    parser.add_argument("--bucket", type=int, default=200_000, help="hash buckets for n-grams")
    parser.add_argument("--min-count", type=int, default=1, help="rarer words are left out")
    parser.add_argument("--seed", type=int, default=0)

    def run(args: argparse.Namespace) -> int:
        from heed.filters.fasttext_model import read_labelled_tsv, train_supervised

        examples = list(read_labelled_tsv(args.labels))
        if not examples:
            log(f"error: {args.labels} has no labelled lines")
            return 2
        counts = Counter(label for label, _ in examples)
        log(f"{len(examples):,} examples: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        started = time.monotonic()
        model = train_supervised(
            examples,
            dim=args.dim,
            epoch=args.epoch,
            lr=args.lr,
            word_ngrams=args.word_ngrams,
            minn=args.minn,
            maxn=args.maxn,
            bucket=args.bucket,
            min_count=args.min_count,
            seed=args.seed,
        )
        seconds = time.monotonic() - started
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        model.save(args.out)
        log(f"trained in {seconds:.1f}s; labels {model.labels}; wrote {args.out}")
        if args.valid:
            held_out = list(read_labelled_tsv(args.valid))
            right = sum(
                model.predict(text)[0][0].removeprefix("__label__")
                == label.removeprefix("__label__")
                for label, text in held_out
            )
            share = right / max(len(held_out), 1)
            print(f"held-out accuracy: {right}/{len(held_out)} = {share:.3f}")  # the result: stdout
        return 0

    return run

"""The `heed` command line: `heed corpus`, `heed calibrate`, `heed robots`, `heed audit`,
`heed report`, `heed filters`, `heed train` and whatever installed packages add.

Every command group is an entry point of the `heed.commands` group, heed's own included: a
function given argparse's subparsers. This module imports none of them by name: curation never
learns of the trainer, and a package adds its commands by declaring an entry point.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import entry_points, version

from rich.markup import escape

from heed.common.console import messages
from heed.curation.errors import ConfigError

ENTRY_POINT_GROUP = "heed.commands"
# heed's own groups in the order --help lists them; plug-ins' follow, by name.
OWN_ORDER = ("run", "robots", "audit", "filters", "train")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="heed",
        description="Compliant web-data curation (Common Crawl -> audited, tokenized Parquet) "
        "and a compact trainer.",
    )
    top.add_argument("--version", action="version", version=f"heed {version('heed')}")
    top.add_argument(
        "-v", "--verbose", action="store_true", help="log progress per shard (to stderr)"
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    found = {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}
    order = [n for n in OWN_ORDER if n in found] + sorted(set(found) - set(OWN_ORDER))
    for name in order:
        try:
            add_commands = found[name].load()
        except Exception as exc:  # a broken plug-in must not take the other commands down
            messages.print(f"[yellow]heed: commands {escape(name)!r} not loaded:[/yellow] {exc}")
            continue
        add_commands(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except ConfigError as exc:
        messages.print(f"[red]config error:[/red] {escape(str(exc))}")
        return 2
    except FileNotFoundError as exc:
        messages.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except OSError as exc:  # an unwritable --out, a full disk: say where, not a traceback
        where = f"cannot write {exc.filename}: " if exc.filename else ""
        messages.print(f"[red]error:[/red] {escape(where + (exc.strerror or str(exc)))}")
        return 2


if __name__ == "__main__":
    sys.exit(main())

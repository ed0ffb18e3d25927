"""`heed robots build`: collect robots.txt per host into a snapshot (Parquet, by host hash)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from heed.common.console import messages
from heed.curation.errors import ConfigError


def cmd_robots_build(args: argparse.Namespace) -> int:
    from heed.curation.crawl.listing import read_listing, select_shards
    from heed.curation.optout.build import build_from_crawl
    from heed.curation.optout.snapshot import build_snapshot, captures_from_dir
    from heed.curation.run.commands import BarProgress
    from heed.curation.run.executors import TaskRunner, make_executor

    # A URL stays as given; a folder is made absolute.
    root = args.crawl_root if "://" in args.crawl_root else str(Path(args.crawl_root).resolve())
    hosts = None
    if args.hosts_from_crawl:
        from heed.curation.optout.snapshot import crawl_hosts

        hosts = crawl_hosts(root, args.hosts_from_crawl, select_shards(root, args.hosts_from_crawl))
    elif args.hosts:
        lines = Path(args.hosts).read_text(encoding="utf-8").splitlines()
        hosts = {
            line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
        }
    if args.from_crawl:
        read_listing(root, args.from_crawl)  # a ConfigError naming the crawls there if missing
        executor = make_executor(args.executor, args.ray_address, args.num_cpus)
        try:
            tasks = TaskRunner(executor, BarProgress())
            meta = build_from_crawl(
                Path(args.out), root, args.from_crawl, tasks=tasks, buckets=args.buckets,
                hosts=hosts,
            )  # fmt: skip
        finally:
            executor.close()
        return _built(meta, args.out)
    if args.from_dir:
        captures = captures_from_dir(Path(args.from_dir), args.captured_at)
        sources = [f"dir:{Path(args.from_dir).resolve()}"]
    else:
        from heed.curation.optout.live import fetch_many
        from heed.curation.optout.snapshot import Capture

        if hosts is None:
            raise ConfigError(
                "--live needs --hosts FILE or --hosts-from-crawl CRAWL: the hosts to fetch from"
            )
        results = fetch_many(
            sorted(hosts), allow_private=args.allow_private, scheme=args.scheme, port=args.port
        )
        captures = (
            Capture.of(
                r.host,
                r.scheme,
                r.status,
                r.fetched_at,
                r.body,
                f"live:{r.url}" + (f" ({r.error})" if r.error else ""),
                r.tdmrep,
            )
            for r in results
        )
        sources = ["live"]
    meta = build_snapshot(Path(args.out), captures, sources, hosts=hosts, buckets=args.buckets)
    return _built(meta, args.out)


def _built(meta: dict, out: str) -> int:
    messages.print(
        escape(
            f"robots snapshot {meta['id']}: {meta['hosts']:,} hosts in {out} "
            f"({meta['buckets']} buckets; from {', '.join(meta['sources'])})"
        )
    )
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    robots = commands.add_parser("robots", help="robots.txt snapshots")
    robots_commands = robots.add_subparsers(dest="robots_command", required=True, metavar="COMMAND")
    build = robots_commands.add_parser(
        "build", help="collect robots.txt per host into a snapshot (Parquet, by host hash)"
    )
    build.add_argument("--out", required=True, help="the snapshot folder to write")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from-crawl", metavar="CRAWL", help="a crawl's own captures (its robotstxt.paths.gz)"
    )
    source.add_argument("--from-dir", metavar="DIR", help="DIR/<host>/robots.txt files")
    source.add_argument(
        "--live", action="store_true", help="fetch https://<host>/robots.txt now (opt-in)"
    )
    build.add_argument(
        "--crawl-root", default=".", help="folder or URL holding crawl-data/ (default: .)"
    )
    hosts = build.add_mutually_exclusive_group()
    hosts.add_argument("--hosts", help="a file of hosts to cover, one per line")
    hosts.add_argument(
        "--hosts-from-crawl", metavar="CRAWL", help="cover the hosts of a crawl's WARC shards"
    )
    build.add_argument(
        "--captured-at",
        help="capture time for --from-dir, e.g. 2025-01-15T00:00:00Z (default: each file's mtime)",
    )
    build.add_argument(
        "--buckets",
        type=int,
        default=64,
        help="host-hash partitions (default: 64); a merge task holds one, so use more for a "
        "whole crawl (about one per 100,000 hosts)",
    )
    build.add_argument(
        "--executor",
        choices=("ray", "local"),
        default="ray",
        help="--from-crawl runs one task per capture file and one per bucket: as Ray tasks "
        "(a local Ray, or --ray-address) or here, one after the other (default: ray)",
    )
    build.add_argument("--ray-address", help="a running Ray cluster (default: $RAY_ADDRESS)")
    build.add_argument(
        "--num-cpus", type=int, metavar="N", help="at most N tasks at once (default: every CPU)"
    )
    build.add_argument(
        "--scheme", default="https", choices=("https", "http"), help="for --live (default: https)"
    )
    build.add_argument("--port", type=int, help="for --live (default: the scheme's)")
    build.add_argument(
        "--allow-private",
        action="store_true",
        help="let --live fetch from private, loopback and link-local addresses",
    )
    build.set_defaults(func=cmd_robots_build)

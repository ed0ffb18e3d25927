"""The opt-out stage: drop a page if its site or the page itself refuses AI training.

It needs only the URL, the HTTP headers and the page head, so it runs before extraction and a
removed page is never extracted. Signals, in order:

* robots.txt from the snapshots (the crawl's own captures by default): the page goes if any
  listed agent may not fetch it (`robots`), or if robots.txt answered 5xx or 429 or could not
  be reached (`robots_status`, RFC 9309 and Google: disallow all);
* TDMRep: the `tdm-reservation: 1` header, `<meta name="tdm-reservation" content="1">`, and the
  host's `/.well-known/tdmrep.json` where the snapshot has it;
* `noai` / `noimageai` in `X-Robots-Tag` or `<meta name="robots">`.

Every removal records its evidence: the signal, the blocking agents, the rule and its line,
the snapshot id, and the robots.txt's sha256 and capture time.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from heed.common.files import write_json_atomic
from heed.curation.crawl.listing import ROBOTS_LISTING, read_listing
from heed.curation.document import Document
from heed.curation.optout.build import build_from_crawl, crawl_source
from heed.curation.optout.robots import (
    ROBOTS_PATH,
    TOO_MANY_REQUESTS,
    RobotsTxt,
    Rule,
    Verdict,
    distinct_agents,
    product_token,
    rule_pattern,
    status_verdict,
    url_path,
)
from heed.curation.optout.snapshot import (
    Capture,
    Snapshot,
    build_snapshot,
    captures_from_dir,
    folder_digest,
)
from heed.curation.stage import RunContext, Stage

log = logging.getLogger(__name__)

# Apertus' list (its technical report, 2025): a page goes if any of these may not fetch it.
# Apertus also lists CCBot/2.0 and CCBot/1.0: RFC 9309 2.2.1 matches a group by product token,
# and theirs is CCBot, so they are CCBot again (the stage keeps one agent per product token in
# any case).
APERTUS_AGENTS: tuple[str, ...] = (
    "AI2Bot",
    "Applebot-Extended",
    "Bytespider",
    "CCBot",
    "ClaudeBot",
    "cohere-training-data-crawler",
    "Diffbot",
    "Meta-ExternalAgent",
    "Google-Extended",
    "GPTBot",
    "PanguBot",
    "FacebookBot",
    "*",
)
NOAI_TOKENS = frozenset({"noai", "noimageai"})
# Meta tags live in <head>; looking further costs time and finds body text that quotes markup.
HEAD_BYTES = 64 * 1024
CACHE_HOSTS = 50_000  # parsed robots.txt kept per process; a shard meets far fewer hosts
_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)


def crawl_snapshot_path(context: RunContext, crawl: str, folder: str = "") -> Path:
    """Where the snapshot of a crawl's own robots.txt captures is built and found: under
    `folder` (the stage's `crawl_snapshots`, shared by runs) or the run's OUT/robots/."""
    return Path(folder) / crawl if folder else Path(context.out) / "robots" / f"crawl-{crawl}"


def domains_path(context: RunContext) -> Path:
    """The blocked registrable domains of mode = "domain", computed once by the driver."""
    return Path(context.out) / "robots" / "blocked-domains.json"


@lru_cache(maxsize=1)
def _suffixes():
    import tldextract

    # The public suffix list bundled with tldextract: no network at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """`news.example.co.uk` -> `example.co.uk`; a host with no known suffix stays itself."""
    return _suffixes()(host).top_domain_under_public_suffix or host


def dir_snapshot_path(context: RunContext, folder: str) -> Path:
    """Where the driver builds the snapshot of a folder of robots.txt files."""
    return Path(context.out) / "robots" / f"dir-{Path(folder).name}"


def _meta_tags(payload: bytes) -> dict[str, str]:
    head = payload[:HEAD_BYTES]
    end = head.lower().find(b"</head")
    if end >= 0:
        head = head[:end]
    tags: dict[str, str] = {}
    for tag in _META.findall(head):
        attrs = {
            m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"")
            for m in _ATTR.finditer(tag)
        }
        name = attrs.get(b"name", b"").decode("latin-1").strip().lower()
        if name:
            content = attrs.get(b"content", b"").decode("latin-1").strip().lower()
            tags[name] = f"{tags[name]}, {content}" if name in tags else content
    return tags


def _noai(directives: str) -> bool:
    # X-Robots-Tag may prefix directives with an agent ("otherbot: noai"); any noai counts.
    tokens = re.split(r"[\s,:]+", directives.lower())
    return any(token in NOAI_TOKENS for token in tokens)


def _tdmrep_reserved(tdmrep: bytes, path: str) -> str | None:
    """The `location` of the tdmrep.json entry that reserves `path`, if any (TDMRep 1.0:
    the first entry whose location pattern matches decides)."""
    try:
        entries = json.loads(tdmrep)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("location"), str):
            continue
        # Locations use robots.txt path patterns (`*`, a final `$`).
        if Rule(False, rule_pattern(entry["location"]), 0, "").matches(path):
            return entry["location"] if str(entry.get("tdm-reservation")) == "1" else None
    return None


def _built_from(path: Path) -> list[str] | None:
    """The sources of the snapshot at `path`, or None if there is none yet."""
    meta = path / "snapshot.json"
    return json.loads(meta.read_text())["sources"] if meta.is_file() else None


@dataclass
class _Host:
    """What the stage knows of one host: its capture, where it came from, its parsed rules."""

    capture: Capture | None
    snapshot: str | None
    rules: RobotsTxt | None
    # For each group that governs some configured agents: those agents, and the group's rules
    # ranked for a first-match answer (see RobotsTxt.ranked).
    groups: list[tuple[list[str], list[tuple[Rule, Callable[[str], bool]]]]]


def blocking(host: _Host, path: str) -> list[tuple[list[str], Rule]]:
    """The configured agents that may not fetch `path` on this host, per group, each with the
    rule that refuses them. The hot loop of the stage: RobotsTxt.deciding_rule, inlined."""
    blocked: list[tuple[list[str], Rule]] = []
    if path == ROBOTS_PATH:
        return blocked
    for agents, ranked in host.groups:
        for rule, match in ranked:
            if match(path):
                if not rule.allow:
                    blocked.append((agents, rule))
                break
    return blocked


@dataclass
class OptOut(Stage):
    name: ClassVar[str] = "opt_out"
    version: ClassVar[str] = "3"
    path_params: ClassVar[tuple[str, ...]] = ("snapshots", "robots_dirs", "crawl_snapshots")
    reads_payload: ClassVar[bool] = True
    columns: ClassVar[dict[str, pa.DataType]] = {
        "optout_signal": pa.string(),
        "robots_status": pa.int16(),
        "robots_blocked_agents": pa.int16(),
        "robots_agents": pa.string(),
        "robots_rule": pa.string(),
        "robots_line": pa.int32(),
        "robots_snapshot": pa.string(),
        "robots_sha256": pa.string(),
        "robots_captured": pa.string(),
    }
    reasons: ClassVar[dict[str, str]] = {
        "robots_disallow": "the host's robots.txt (as captured) disallows this URL to at least "
        "one of the listed AI agents",
        "robots_unavailable": "the host's robots.txt answered with a status that counts as "
        "'disallow all' under the unavailable/unreachable/too_many_requests settings",
        "robots_domain": "mode = domain: another host of the same registrable domain opts out",
        "tdm_reservation": "text-and-data mining reserved: TDMRep header, <meta> or "
        "/.well-known/tdmrep.json",
        "noai": 'noai in X-Robots-Tag or <meta name="robots">',
    }

    agents: list[str] = field(default_factory=lambda: list(APERTUS_AGENTS))
    # Where robots.txt comes from, first match wins: snapshots from `heed robots build` (folders
    # or URLs: https://, s3://); then folders of <host>/robots.txt files; then, if
    # crawl_captures, the page's crawl's own captures. The driver builds the folders' snapshots
    # under OUT/robots/, and each crawl's under crawl_snapshots/<crawl> (default OUT/robots/,
    # one run's) once: a snapshot there built from the same listing is used as it is.
    snapshots: list[str] = field(default_factory=list)
    robots_dirs: list[str] = field(default_factory=list)
    crawl_captures: bool = True
    crawl_snapshots: str = ""
    # "url": a page goes if an agent may not fetch it. "domain" also drops every page of a
    # registrable domain one of whose hosts refuses an agent at "/" (Apertus's blocklists).
    mode: str = "url"
    # RFC 9309: robots.txt unavailable (3xx, 4xx) allows all; 5xx or unreachable disallows all.
    # 429 (Too Many Requests) is a 4xx that Google reads as a server error: disallow all.
    unavailable: str = "allow"
    unreachable: str = "disallow"
    too_many_requests: str = "disallow"
    tdm_reservation: bool = True
    tdmrep_json: bool = True
    noai: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("url", "domain"):
            raise ValueError(f"mode = {self.mode!r}; valid: url, domain")
        for key in ("unavailable", "unreachable", "too_many_requests"):
            if getattr(self, key) not in ("allow", "disallow"):
                raise ValueError(f"{key} = {getattr(self, key)!r}; valid: allow, disallow")
        if not self.agents:
            raise ValueError("agents must name at least one user agent")
        nameless = [a for a in self.agents if not product_token(a)]
        if nameless:
            raise ValueError(
                f"agents {nameless} have no product token (a name of letters, digits, _ and -, "
                "like GPTBot or CCBot/2.0)"
            )
        # Agents with one product token always meet the same group: judge and record one.
        self._crawlers = distinct_agents(self.agents)

    def _layers(self, context: RunContext) -> dict[str, list[str]]:
        """Each crawl's snapshots, in the order they are asked."""
        common = [str(p) for p in self.snapshots]
        common += [str(dir_snapshot_path(context, folder)) for folder in self.robots_dirs]
        return {
            crawl: common
            + (
                [str(crawl_snapshot_path(context, crawl, self.crawl_snapshots))]
                if self.crawl_captures
                else []
            )
            for crawl in context.all_crawls
        }

    def prepare(self, context: RunContext) -> None:
        self._paths = list(dict.fromkeys(p for ps in self._layers(context).values() for p in ps))
        for folder in self.robots_dirs:
            path = dir_snapshot_path(context, folder)
            source = f"dir:{Path(folder).name} sha256:{folder_digest(Path(folder))}"
            if _built_from(path) != [source]:
                context.tasks.message(f"building the robots snapshot of {folder} in {path}")
                build_snapshot(path, captures_from_dir(Path(folder)), [source])
        for crawl in context.all_crawls if self.crawl_captures else ():
            path = crawl_snapshot_path(context, crawl, self.crawl_snapshots)
            listing = read_listing(context.crawl_root, crawl, ROBOTS_LISTING, context.fetch)
            built = _built_from(path)
            if built == [crawl_source(crawl, listing.sha256)]:
                meta = Snapshot(path).meta
                context.tasks.message(
                    f"robots snapshot of {crawl}: {path} (id {meta['id']}, "
                    f"{meta['hosts']:,} hosts), already built"
                )
                continue
            context.tasks.message(
                f"building the robots snapshot of {crawl} from {len(listing.paths):,} capture "
                f"files in {path}"
            )
            build_from_crawl(
                path, context.crawl_root, crawl, tasks=context.tasks, options=context.fetch
            )
        if self.mode == "domain":
            write_json_atomic(domains_path(context), self._blocked_domains())

    def _blocked_domains(self) -> dict[str, dict[str, str]]:
        """Registrable domain -> the first host (in snapshot order, then host order) that
        refuses a configured agent at "/", with its evidence."""
        domains: dict[str, dict[str, str]] = {}
        seen: set[str] = set()
        for path in self._paths:
            snapshot = Snapshot(path)
            for capture in snapshot.captures():
                if capture.host in seen:
                    continue  # an earlier snapshot already judged this host
                seen.add(capture.host)
                refusal = self._root_refusal(capture)
                domain = registrable_domain(capture.host)
                if refusal and domain not in domains:
                    domains[domain] = {
                        "host": capture.host,
                        "refusal": refusal,
                        "snapshot": snapshot.id,
                        "sha256": capture.sha256,
                        "captured": capture.capture_time,
                    }
        return dict(sorted(domains.items()))

    def _root_refusal(self, capture: Capture) -> str | None:
        by_status = self._status_allows(capture.status)
        if by_status is not None:
            return None if by_status.allowed else by_status.reason
        rules = RobotsTxt.parse(capture.body)
        for agent in self._crawlers:
            group = rules.group_for(agent)
            rule = rules.deciding_rule(group, "/") if group else None
            if rule is not None and not rule.allow:
                return f"{agent} refused by '{rule.text}' (line {rule.line})"
        return None

    def assets(self) -> dict[str, str]:
        """The snapshots consulted, in order, by their sources -> snapshot id."""
        snapshots = [Snapshot(path) for path in getattr(self, "_paths", [])]
        return {f"robots snapshot of {', '.join(s.meta['sources'])}": s.id for s in snapshots}

    def setup(self, context: RunContext) -> None:
        layers = self._layers(context)
        self._paths = list(dict.fromkeys(p for ps in layers.values() for p in ps))
        opened = {path: Snapshot(path) for path in self._paths}
        self._snapshots = {crawl: [opened[p] for p in ps] for crawl, ps in layers.items()}
        self._default_crawl = context.all_crawls[0]
        self._domains: dict[str, dict[str, str]] = {}
        if self.mode == "domain":
            self._domains = json.loads(domains_path(context).read_text())
        # Per crawl (a crawl's own captures differ): host -> what the stage knows of it.
        self._hosts: dict[str, OrderedDict[str, _Host]] = {}

    def _load(self, crawl: str, hosts: set[str]) -> OrderedDict[str, _Host]:
        known = self._hosts.setdefault(crawl, OrderedDict())
        missing = {h for h in hosts if h not in known}
        for snapshot in self._snapshots[crawl]:
            if not missing:
                break
            for host, capture in snapshot.lookup(missing).items():
                rules = (
                    RobotsTxt.parse(capture.body)
                    if status_verdict(capture.status) is None
                    else None
                )
                governed: dict[str, list[str]] = {}
                for agent in self._crawlers:
                    key = rules.group_for(agent) if rules else None
                    if key is not None:  # no group at all: that agent is allowed
                        governed.setdefault(key, []).append(agent)
                groups = [(agents, rules.ranked(key)) for key, agents in governed.items()]
                known[host] = _Host(capture, snapshot.id, rules, groups)
                missing.discard(host)
        for host in missing:
            known[host] = _Host(None, None, None, [])
        while len(known) > CACHE_HOSTS:
            known.popitem(last=False)
        return known

    def _status_allows(self, status: int | None) -> Verdict | None:
        verdict = status_verdict(status)
        if verdict is None:
            return None
        if status is None or status >= 500:
            setting = self.unreachable
        elif status == TOO_MANY_REQUESTS:
            setting = self.too_many_requests
        else:
            setting = self.unavailable
        return Verdict(setting == "allow", reason=verdict.reason)

    def _robots(self, doc: Document, host: _Host) -> None:
        capture = host.capture
        if capture is None:
            return
        scores = doc.scores
        scores["robots_status"] = capture.status
        scores["robots_snapshot"] = host.snapshot
        scores["robots_sha256"] = capture.sha256
        scores["robots_captured"] = capture.capture_time
        if host.rules is None:
            verdict = self._status_allows(capture.status)
            if verdict is not None and not verdict.allowed:
                scores["optout_signal"] = "robots_status"
                doc.drop(self.name, "robots_unavailable", f"{self._where(host)}: {verdict.reason}")
            return
        blocked = blocking(host, url_path(doc.url))
        agents = [agent for group_agents, _ in blocked for agent in group_agents]
        scores["robots_blocked_agents"] = len(agents)
        if blocked:
            first = blocked[0][1]
            scores.update(
                optout_signal="robots",
                robots_agents=",".join(agents),
                robots_rule=first.text,
                robots_line=first.line,
            )
            evidence = "; ".join(
                f"{', '.join(group_agents)} by '{rule.text}' (line {rule.line})"
                for group_agents, rule in blocked
            )
            doc.drop(self.name, "robots_disallow", f"{self._where(host)}: blocks {evidence}")

    @staticmethod
    def _where(host: _Host) -> str:
        capture = host.capture
        return (
            f"{capture.scheme}://{capture.host}/robots.txt (HTTP {capture.status}, captured "
            f"{capture.capture_time}, sha256 {capture.sha256[:12]}, snapshot {host.snapshot})"
        )

    def process(self, docs: list[Document]) -> None:
        by_crawl: dict[str, list[Document]] = {}
        for doc in docs:  # a shard's batch is of one crawl; documents made in memory of none
            crawl = doc.crawl if doc.crawl in self._snapshots else self._default_crawl
            by_crawl.setdefault(crawl, []).append(doc)
        for crawl, some in by_crawl.items():
            self._judge(crawl, some)

    def _judge(self, crawl: str, docs: list[Document]) -> None:
        known = self._load(crawl, {doc.host for doc in docs})
        for doc in docs:
            host = known[doc.host]
            self._robots(doc, host)
            if doc.alive:
                found = self._page_signal(doc, host)
                if found is not None:
                    signal, reason, detail = found
                    doc.scores["optout_signal"] = signal
                    doc.drop(self.name, reason, detail)

    def _page_signal(self, doc: Document, host: _Host) -> tuple[str, str, str] | None:
        """The first signal beyond the page's own robots.txt rules that removes it, as
        (signal, reason, detail); cheap ones (headers) before the page head is scanned."""
        if self._domains:
            domain = registrable_domain(doc.host)
            blocker = self._domains.get(domain)
            if blocker is not None:
                return (
                    "robots_domain",
                    "robots_domain",
                    f"domain {domain}: {blocker['host']}/robots.txt (captured "
                    f"{blocker['captured']}, sha256 {blocker['sha256'][:12]}, snapshot "
                    f"{blocker['snapshot']}): {blocker['refusal']}",
                )
        headers = doc.http_headers
        if self.tdm_reservation and headers.get("tdm-reservation", "").strip() == "1":
            return "tdm_header", "tdm_reservation", "HTTP header tdm-reservation: 1"
        if self.noai and _noai(headers.get("x-robots-tag", "")):
            return "noai_header", "noai", f"HTTP header X-Robots-Tag: {headers['x-robots-tag']}"
        tdmrep = host.capture.tdmrep if host.capture else None
        if self.tdmrep_json and tdmrep:
            location = _tdmrep_reserved(tdmrep, url_path(doc.url))
            if location is not None:
                return (
                    "tdmrep_json",
                    "tdm_reservation",
                    f"/.well-known/tdmrep.json of {doc.host} reserves {location!r} "
                    f"(snapshot {host.snapshot})",
                )
        if "html" not in doc.content_type:
            return None
        meta = _meta_tags(doc.payload)
        if self.tdm_reservation and meta.get("tdm-reservation", "").strip() == "1":
            return "tdm_meta", "tdm_reservation", '<meta name="tdm-reservation" content="1">'
        if self.noai and _noai(meta.get("robots", "")):
            return "noai_meta", "noai", f'<meta name="robots" content="{meta["robots"]}">'
        return None

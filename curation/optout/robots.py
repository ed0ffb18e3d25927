"""robots.txt by RFC 9309, read as Google reads it, with the rule that decided each answer.

* Lines: `key: value`, or `key value` when the colon is missing; `#` starts a comment; only
  ASCII whitespace is trimmed (a no-break space is part of a path). Keys are read as Google's
  parser reads them: by how they start, case-insensitively, with the typos it accepts
  (`useragent`, `user agent`, `disalow`, `dissallow`, ...).
* Groups: one or more `user-agent` lines, then rules. Groups for the same agent merge; rules
  before any user-agent line are ignored; blank lines and other directives end nothing.
* The crawler is matched by its product token, the leading run of letters, digits, `_` and `-`
  (`CCBot` for `CCBot/2.0`, `GPTBot` for `GPTBot,`), case-insensitively; a group naming it
  replaces `*` entirely; no group at all allows everything.
* The longest matching path pattern wins; an allow wins a tie; `*` matches any run of
  characters and a `$` at the end anchors it (elsewhere `$` is a literal dollar sign). Rules
  and URLs compare in one encoded form: non-ASCII and the characters a URL carries only
  percent-encoded (space, `"`, `<`, `>`, `\\`, `^`, `` ` ``, `{`, `|`, `}`, controls) are
  escaped, escapes of unreserved characters decoded.
* Only the first 500 KiB are read; `/robots.txt` itself is always allowed.
* The fetch status decides before the body: 2xx parse; 3xx (redirects that could not be
  followed) and 4xx mean "unavailable", allow all; 5xx, 429 (as Google reads it) and
  unreachable (None) disallow all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

# RFC 9309 2.5: parse at least 500 KiB; what lies beyond is ignored.
MAX_ROBOTS_BYTES = 500 * 1024
ROBOTS_PATH = "/robots.txt"
# Google's robots.cc (KeyIsUserAgent, KeyIsAllow, KeyIsDisallow) reads a key by how it starts,
# typos included: a site that wrote `Disalow: /` meant to keep crawlers out, and RFC 9309 2.2.4
# lets a crawler honour records beyond the standard ones.
USER_AGENT_KEYS = ("user-agent", "useragent", "user agent")
ALLOW_KEYS = ("allow",)
DISALLOW_KEYS = ("disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw")
_KEY_STARTS = frozenset("uUaAdD")  # the first letters of those keys: other lines end at once
# HTTP 429 Too Many Requests: Google reads it as a server error (5xx), not as "unavailable".
TOO_MANY_REQUESTS = 429

_LINES = re.compile(r"\r\n|\r|\n")
# ASCII whitespace: RFC 9309's WS is space and tab; Google's parser also trims \v and \f. A
# no-break space (or any other non-ASCII space) is part of a value, as it is for Google.
_WS = " \t\n\r\x0b\x0c"
_WORDS = re.compile(r"[ \t]+")
# RFC 9309 2.2.1 spells a product token with letters, "-" and "_": what follows their leading
# run (a version, punctuation, more words) is not part of it, as Google's parser reads it.
# Digits are kept too, since real tokens have them (AI2Bot is on Apertus's list, MJ12bot).
_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
_COMPATIBLE = re.compile(r"compatible;\s*([A-Za-z0-9_-]+)", re.IGNORECASE)
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# What a URL may carry raw (RFC 3986 2.2, 2.3): unreserved and reserved characters, and the "%"
# of an escape. Everything else (non-ASCII, space, `"<>\^`{|}`, controls) only percent-encoded.
_RAW = _UNRESERVED | frozenset(":/?#[]@!$&'()*+,;=%")
_NEEDS_WORK = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _decode_hex(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _escape(char: str) -> str:
    try:
        # surrogateescape: a byte of a robots.txt that is not UTF-8 is escaped as that byte.
        data = char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # any other lone surrogate: its UTF-8-style bytes
        data = char.encode("utf-8", "surrogatepass")
    return "".join(f"%{b:02X}" for b in data)


def normalize_path(path: str) -> str:
    """One spelling for equivalent paths (RFC 9309 2.2.2): non-ASCII as UTF-8 escapes and the
    characters a URL carries only percent-encoded escaped, hex in upper case, escapes of
    unreserved characters decoded. `%2F` stays distinct from `/`."""
    # Most paths need nothing: answered before the cache, which URLs (each new) would churn.
    if _NEEDS_WORK.search(path) is None:
        return path
    return _normalized(path)


@lru_cache(maxsize=65536)
def _normalized(path: str) -> str:
    encoded = "".join(c if c in _RAW else _escape(c) for c in path)
    return _PERCENT.sub(_decode_hex, encoded) if "%" in encoded else encoded


@lru_cache(maxsize=65536)
def rule_pattern(value: str) -> str:
    """A rule's path pattern as it is matched: normalized, and a `$` anywhere but at the end
    read as the literal dollar sign (RFC 9309 2.2.3 gives `$` its meaning only at the end),
    which a URL's `$` is compared as (`%24`, see url_path)."""
    pattern = normalize_path(value)
    if pattern.find("$", 0, -1) >= 0:
        pattern = pattern[:-1].replace("$", "%24") + pattern[-1]
    return pattern


@lru_cache(maxsize=4096)  # a crawl asks about a handful of agents, over and over
def product_token(user_agent: str) -> str:
    """The lower-cased token a crawler is matched by: `ccbot` for `CCBot/2.0`, `claudebot` for
    `Mozilla/5.0 (compatible; ClaudeBot/1.0; ...)`, `*` for `*` (the group of all crawlers);
    empty if the string has none."""
    if user_agent == "*":
        return "*"
    found = _COMPATIBLE.search(user_agent)
    if found:
        return found.group(1).lower()
    return _TOKEN.match(user_agent.strip(_WS)).group().lower()  # type: ignore[union-attr]


def distinct_agents(agents: Iterable[str]) -> list[str]:
    """One agent per product token, the first listed: `CCBot/2.0` after `CCBot` names the same
    crawler, since groups are matched by product token alone (RFC 9309 2.2.1)."""
    first: dict[str, str] = {}
    for agent in agents:
        first.setdefault(product_token(agent), agent)
    return list(first.values())


def _group_token(value: str) -> str:
    """The product token a user-agent line names, `*`, or "" when it names none. As Google
    reads it: `* ...` is `*`; otherwise the leading run of token characters (`GPTBot,` ->
    `gptbot`, `ClaudeBot, GPTBot` -> `claudebot`)."""
    if value[:1] == "*" and value[1:2] in ("", " ", "\t"):
        return "*"
    return _TOKEN.match(value).group().lower()  # type: ignore[union-attr]


def _directive(line: str) -> tuple[str, str] | None:
    """("user-agent" | "allow" | "disallow", value) for a line that holds one (comment and
    surrounding whitespace already removed), else None."""
    if line[0] not in _KEY_STARTS:
        return None
    key, colon, value = line.partition(":")
    if not colon:
        # Google accepts whitespace for a missing colon, when the line is exactly two words.
        words = _WORDS.split(line, maxsplit=2)
        if len(words) != 2:
            return None
        key, value = words
    key = key.rstrip(_WS).lower()
    if key.startswith(DISALLOW_KEYS):
        return "disallow", value.lstrip(_WS)
    if key.startswith(ALLOW_KEYS):
        return "allow", value.lstrip(_WS)
    if key.startswith(USER_AGENT_KEYS):
        return "user-agent", value.lstrip(_WS)
    return None


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str  # normalized path pattern
    line: int  # 1-based line in the file
    text: str  # the line as written, comment removed

    @property
    def specificity(self) -> int:
        return len(self.pattern)  # ASCII: normalize_path escapes everything else

    def matches(self, path: str) -> bool:
        return _matcher(self.pattern)(path)


@lru_cache(maxsize=65536)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for one pattern. Plain prefixes use startswith; wildcards are matched
    piece by piece with str.find, never by a backtracking regex: a hostile rule such as
    `/*a*a*a*a*b` must not stall a shard."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    if "*" not in body:
        return body.__eq__ if anchored else lambda path: path.startswith(body)
    first, *middle, last = body.split("*")

    def match(path: str) -> bool:
        if not path.startswith(first):
            return False
        at = len(first)
        for piece in middle:
            # The leftmost place of each piece leaves the most room for the rest.
            found = path.find(piece, at)
            if found < 0:
                return False
            at = found + len(piece)
        if anchored:
            return len(path) - len(last) >= at and path.endswith(last)
        return path.find(last, at) >= 0

    return match


@dataclass(frozen=True)
class Verdict:
    """An answer and its evidence: the rule and line that decided, and the group used."""

    allowed: bool
    rule: str | None = None
    line: int | None = None
    group: str | None = None
    reason: str = ""  # when no rule decided: "no group", "no matching rule", "status 503", ...


def _text(robots_txt: str | bytes) -> str:
    """The text to parse: the first 500 KiB, a bad UTF-8 byte kept as a lone surrogate
    (surrogateescape) so that a rule holding it matches that byte, percent-encoded."""
    data = (
        robots_txt.encode("utf-8", "surrogatepass") if isinstance(robots_txt, str) else robots_txt
    )
    text = data[:MAX_ROBOTS_BYTES].decode("utf-8", errors="surrogateescape")
    if len(data) > MAX_ROBOTS_BYTES and "\n" in text:
        # A line cut at the limit is incomplete: drop it rather than read half a rule.
        text = text[: text.rfind("\n")]
    return text.removeprefix("\ufeff")


def _as_written(line: str) -> str:
    """A line for the audit: valid UTF-8, a bad byte shown as U+FFFD."""
    return line.encode("utf-8", "surrogateescape").decode("utf-8", errors="replace")


class RobotsTxt:
    """A parsed robots.txt: rules per agent token, merged across the file."""

    def __init__(self, groups: dict[str, tuple[Rule, ...]]) -> None:
        self.groups = groups
        self._ranks: dict[str, list[tuple[Rule, Callable[[str], bool]]]] = {}

    @classmethod
    def parse(cls, robots_txt: str | bytes) -> RobotsTxt:
        groups: dict[str, list[Rule]] = {}
        agents: list[str] = []
        in_rules = False
        for number, raw in enumerate(_LINES.split(_text(robots_txt)), start=1):
            line = raw.split("#", 1)[0].strip(_WS)
            parsed = _directive(line) if line else None
            if parsed is None:
                continue
            key, value = parsed
            if key == "user-agent":
                if in_rules:
                    agents, in_rules = [], False
                token = _group_token(value)
                if token:
                    agents.append(token)
                    groups.setdefault(token, [])
            else:
                in_rules = True
                if not agents or not value:
                    continue  # a rule outside any group, or an empty rule: matches nothing
                text = line if line.isascii() else _as_written(line)
                rule = Rule(key == "allow", rule_pattern(value), number, text)
                for agent in agents:
                    groups[agent].append(rule)
        return cls({agent: tuple(rules) for agent, rules in groups.items()})

    def group_for(self, user_agent: str) -> str | None:
        """The group key that applies to this crawler: its own, else `*`, else none."""
        token = product_token(user_agent)
        if token in self.groups:
            return token
        return "*" if "*" in self.groups else None

    def check_group(self, group: str | None, path: str) -> Verdict:
        """The verdict of one group on a normalized path (with query)."""
        if group is None:
            return Verdict(True, reason="no group for this agent")
        if path == ROBOTS_PATH:
            return Verdict(True, group=group, reason="/robots.txt is always allowed")
        rule = self.deciding_rule(group, path)
        if rule is None:
            return Verdict(True, group=group, reason="no matching rule")
        return Verdict(rule.allow, rule.text, rule.line, group)

    def deciding_rule(self, group: str, path: str) -> Rule | None:
        """The rule that decides `path` for a group (None: no rule matches, allowed). The hot
        path of the opt-out stage: no Verdict is built."""
        if path == ROBOTS_PATH:
            return None
        for rule, match in self.ranked(group):
            if match(path):
                return rule
        return None

    def ranked(self, group: str) -> list[tuple[Rule, Callable[[str], bool]]]:
        """The group's rules, most specific first and allow before disallow at equal length,
        each with its compiled matcher: the first rule that matches is the answer."""
        if group not in self._ranks:
            rules = sorted(self.groups[group], key=lambda r: (-r.specificity, not r.allow, r.line))
            self._ranks[group] = [(rule, _matcher(rule.pattern)) for rule in rules]
        return self._ranks[group]

    def check(self, user_agent: str, url: str) -> Verdict:
        return self.check_group(self.group_for(user_agent), url_path(url))


def url_path(url: str) -> str:
    """The part of a URL robots rules match: path and query, normalized; no fragment. A
    literal `*` or `$` in the URL is percent-encoded (RFC 9309 2.2.3): in a rule those are
    wildcards, and only a rule's `%2A` / `%24` matches them."""
    return _escape_specials(_url_path(url))


def _escape_specials(path: str) -> str:
    if "*" in path or "$" in path:
        return path.replace("*", "%2A").replace("$", "%24")
    return path


def _url_path(url: str) -> str:
    scheme_end = url.find("://")
    if scheme_end > 0:
        # The fast, common case: scheme://authority/path?query#fragment.
        start = url.find("/", scheme_end + 3)
        cut = [i for i in (url.find("?", scheme_end + 3), url.find("#", scheme_end + 3)) if i >= 0]
        if start < 0 or (cut and min(cut) < start):
            start = min(cut) if cut else len(url)  # no path: "/" plus any query
            rest = url[start:].split("#", 1)[0]
            return normalize_path("/" + rest if rest else "/")
        return normalize_path(url[start:].split("#", 1)[0])
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return normalize_path(path)


def status_verdict(status: int | None) -> Verdict | None:
    """The answer a fetch status gives before any body is read, or None for 2xx (parse it)."""
    if status is None:
        return Verdict(False, reason="robots.txt unreachable: disallow all")
    if 200 <= status < 300:
        return None
    if status >= 500:
        return Verdict(False, reason=f"robots.txt answered {status}: disallow all")
    if status == TOO_MANY_REQUESTS:
        return Verdict(
            False, reason="robots.txt answered 429 (read as a server error): disallow all"
        )
    return Verdict(True, reason=f"robots.txt answered {status}: unavailable, allow all")


def explain(
    robots_txt: str | bytes, user_agent: str, url: str, *, status: int | None = 200
) -> Verdict:
    """Whether `user_agent` may fetch `url`, and the rule (with its line) that decided."""
    return status_verdict(status) or RobotsTxt.parse(robots_txt).check(user_agent, url)


def is_allowed(
    robots_txt: str | bytes, user_agent: str, url: str, *, status: int | None = 200
) -> bool:
    """Whether `user_agent` may fetch `url` under this robots.txt (fetched with `status`)."""
    return explain(robots_txt, user_agent, url, status=status).allowed

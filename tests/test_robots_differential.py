"""heed's robots.txt matcher against Google's own parser, on real robots.txt files.

The oracle is Google's C++ parser (github.com/google/robotstxt, the reference implementation
behind RFC 9309) through the jwm.robotstxt bindings. The files are the 4,231 robots.txt files of
popular sites that Protego ships as test data (tests/data/robots-corpus.tar.xz, with its
licence). For each file the questions are made from the file itself: URLs from its own rule
paths and variations of them (one character more or less, a trailing slash, a query, upper
case), `/`, `/index.html` and `/robots.txt`; agents from its user-agent lines, Apertus's list and
one crawler that no file names.

Every answer of heed must be Google's, or differ for a reason in ALLOWED_DIFFERENCES: places
where heed follows RFC 9309 and Google's library does not. A difference is put in a class only
if Google itself, asked again with that one cause taken out of its input, gives heed's answer;
anything else fails the test.

`python tests/test_robots_differential.py` prints the totals.
"""

from __future__ import annotations

import random
import re
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import jwm.robotstxt.googlebot as google

from heed.curation.optout.robots import MAX_ROBOTS_BYTES, RobotsTxt
from heed.curation.optout.stage import APERTUS_AGENTS

CORPUS = Path(__file__).resolve().parent / "data" / "robots-corpus.tar.xz"
SITE = "https://example.com"
# A crawler no file names: it meets each file's `*` group.
NOBODY = "heeddifferentialbot"
URLS_PER_FILE = 40
# Google's library parses the whole file for every question (about 1 µs a line here), so a
# large file gets fewer questions: at most this many lines parsed per file.
GOOGLE_LINES_PER_FILE = 2_500
MIN_QUESTIONS = 16

# A line starts after CR, LF or CRLF (RFC 9309 2.2): not what `^` with re.M knows.
_LINE_START = rb"(?:^|(?<=[\r\n]))"
_RULE_KEY = rb"[ \t]*(?:dis|allow)[a-z]*[ \t]*:?[ \t]*"
_AGENT_KEY = rb"[ \t]*user.?agent[ \t]*:?[ \t]*"
# Generating questions (not judging them): a rule line's value and a user-agent line's name.
_RULE_LINE = re.compile(_LINE_START + _RULE_KEY + rb"([^#\r\n]+)", re.I)
_AGENT_LINE = re.compile(_LINE_START + _AGENT_KEY + rb"([A-Za-z0-9_-]+)", re.I)
# RFC 3986 2.2 and 2.3: what a URL carries raw; quote() escapes everything else.
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


def corpus() -> Iterator[tuple[str, bytes]]:
    """(host, robots.txt bytes) in name order, one file in memory at a time."""
    with tarfile.open(CORPUS, "r:xz") as tar:
        for member in tar:
            data = tar.extractfile(member)
            assert data is not None, member.name
            yield member.name, data.read()


def urls_of(body: bytes, rng: random.Random) -> list[str]:
    """URLs in their wire form (percent-encoded, as a crawler requests them; Google's library
    expects that form), made from the file's own rule paths."""
    paths = {b"/", b"/index.html", b"/robots.txt"}
    for match in _RULE_LINE.finditer(body):
        base = match.group(1).strip().removesuffix(b"$").replace(b"*", b"x")
        if not base.startswith(b"/"):
            base = b"/" + base
        paths.update((base, base + b"a", base + b"/", base[:-1] or b"/", base + b"?q=1"))
        paths.add(base.upper())
    chosen = sorted(paths)
    if len(chosen) > URLS_PER_FILE:
        chosen = sorted(rng.sample(chosen, URLS_PER_FILE))
    return [SITE + quote(path, safe=_URL_SAFE) for path in chosen]


def agents_of(body: bytes) -> list[str]:
    named = {m.group(1).decode() for m in _AGENT_LINE.finditer(body)}
    return sorted(named | set(APERTUS_AGENTS) - {"*"} | {NOBODY})


def google_allows(body: bytes, agent: str, url: str) -> bool:
    return google.RobotsMatcher().OneAgentAllowedByRobots(body, agent, url)


# --------------------------------------------------------------------------------------------
# Where heed and Google's library may differ. Each class takes one cause out of Google's input
# (body, agent, URL); the difference belongs to the class if Google then answers as heed.


_RULE_VALUE = re.compile(
    _LINE_START + b"(" + _RULE_KEY + rb")([^#\r\n]*?)([ \t]*(?:#[^\r\n]*)?)(?=[\r\n]|\Z)", re.I
)
_AGENT_VALUE = re.compile(_LINE_START + b"(" + _AGENT_KEY + rb")([^#\r\n]*)", re.I)
_INDEX_ALLOW = re.compile(_LINE_START + rb"[ \t]*allow[ \t]*:?[^\r\n]*/index\.htm[^\r\n]*", re.I)


def _rule_values(body: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The body with `change` applied to the value of every allow/disallow line."""

    def one(match: re.Match[bytes]) -> bytes:
        return match.group(1) + change(match.group(2)) + match.group(3)

    return _RULE_VALUE.sub(one, body)


_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


def _unreserved_decoded(value: bytes) -> bytes:
    """Escapes of unreserved characters decoded, the hex of the others in upper case."""

    def one(match: re.Match[bytes]) -> bytes:
        octet = bytes([int(match.group(1), 16)])
        return octet if octet in _UNRESERVED else b"%" + match.group(1).upper()

    return _ESCAPE.sub(one, value)


def _only_encoded_escaped(value: bytes) -> bytes:
    """What a URL carries only percent-encoded (RFC 3986 2: neither unreserved nor reserved),
    escaped; everything else as it was."""
    return quote(value, safe=_URL_SAFE + "#[]").encode()


def _cut_at_limit(body: bytes) -> bytes:
    cut = body[:MAX_ROBOTS_BYTES]
    return cut[: cut.rfind(b"\n")] if b"\n" in cut else cut


def _digits_hidden(body: bytes) -> bytes:
    """User-agent names with their digits made letters' neighbours (`MJ12bot` -> `MJ__bot`), so
    that Google's parser cannot cut a name at its first digit."""

    def one(match: re.Match[bytes]) -> bytes:
        return match.group(1) + re.sub(rb"[0-9]", b"_", match.group(2))

    return _AGENT_VALUE.sub(one, body)


def _index_allows_removed(body: bytes) -> bytes:
    return _INDEX_ALLOW.sub(b"", body)


@dataclass(frozen=True)
class Allowed:
    """A class of differences: why heed is right, and the counterfactual that shows it."""

    reason: str
    applies: Callable[[bytes, str, str, bool], bool]  # (body, agent, url, heed allowed)
    retry: Callable[[bytes, str, str], bool] | None  # Google asked again, cause taken out


def _path(url: str) -> str:
    return url[len(SITE) :]


ALLOWED_DIFFERENCES = {
    "robots_txt_always_allowed": Allowed(
        # RFC 9309 2.2.2: "The /robots.txt URI is implicitly allowed." Google's library leaves
        # that to the crawler that calls it.
        "RFC 9309 2.2.2: /robots.txt is implicitly allowed",
        lambda body, agent, url, heed: heed and _path(url) == "/robots.txt",
        None,
    ),
    "size_limit": Allowed(
        # RFC 9309 2.5: a crawler MAY ignore what lies beyond 500 KiB; heed does, at a line end.
        # Google's library parses what it is given (its crawler cuts at 500 KiB when fetching).
        "RFC 9309 2.5: only the first 500 KiB are read",
        lambda body, agent, url, heed: len(body) > MAX_ROBOTS_BYTES,
        lambda body, agent, url: google_allows(_cut_at_limit(body), agent, url),
    ),
    "unreserved_escapes": Allowed(
        # RFC 9309 2.2.2: a percent-encoded unreserved character "MUST be unencoded prior to
        # comparison" (its /foo/bar/%62%61%7A example). Google's library compares escapes as
        # written (%7e is not ~, nor %7E).
        "RFC 9309 2.2.2: escapes of unreserved characters are decoded before comparison",
        lambda body, agent, url, heed: b"%" in body or "%" in url,
        lambda body, agent, url: google_allows(
            _rule_values(body, _unreserved_decoded),
            agent,
            _unreserved_decoded(url.encode()).decode(),
        ),
    ),
    "only_encoded_characters": Allowed(
        # RFC 9309 2.2.2: rule and URL compare in their percent-encoded form; a URL carries a
        # space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}` only encoded (RFC 3986 2), so a
        # rule that writes one raw means its escape. Google's library compares the raw octet
        # with the URL's escape and never matches.
        "RFC 9309 2.2.2: characters a URL carries only percent-encoded compare encoded",
        lambda body, agent, url, heed: True,
        lambda body, agent, url: google_allows(
            _rule_values(body, _only_encoded_escaped), agent, url
        ),
    ),
    "digits_in_product_token": Allowed(
        # RFC 9309 2.2.1 spells a product token with letters, "-" and "_" only, so
        # `User-agent: MJ12bot` is outside its grammar. Google's parser cuts the name at the
        # digit and gives the group to a crawler called `MJ`; heed keeps the digits, since
        # real crawlers' names have them (AI2Bot is on Apertus's list): the group is MJ12bot's.
        "RFC 9309 2.2.1: a name with digits is read whole, not cut at its first digit",
        lambda body, agent, url, heed: True,
        lambda body, agent, url: google_allows(_digits_hidden(body), agent, url),
    ),
    "index_html_is_the_directory": Allowed(
        # Google-specific, in no RFC: `Allow: /dir/index.html` also allows `/dir/`. A site that
        # disallows `/dir/` and allows its index page has not allowed the directory listing;
        # heed reads the rules as written.
        "not in RFC 9309: Google's Allow: /d/index.htm* also allowing /d/",
        lambda body, agent, url, heed: not heed and _path(url).endswith("/"),
        lambda body, agent, url: google_allows(_index_allows_removed(body), agent, url),
    ),
}


@dataclass
class Comparison:
    files: int = 0
    questions: int = 0  # put to Google's parser
    decisions: int = 0  # of heed's, checked against those answers
    agreed: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    unexplained: list[tuple[str, str, str, bool, bool]] = field(default_factory=list)
    agents_google_cannot_ask: set[str] = field(default_factory=set)

    def explain(self, host: str, body: bytes, agent: str, url: str, heed: bool) -> None:
        for name, allowed in ALLOWED_DIFFERENCES.items():
            if not allowed.applies(body, agent, url, heed):
                continue
            if allowed.retry is None or allowed.retry(body, agent, url) == heed:
                self.classes[name] += 1
                return
        self.unexplained.append((host, agent, url, heed, not heed))

    def summary(self) -> str:
        lines = [
            f"{self.files:,} robots.txt files, {self.questions:,} questions to Google's parser, "
            f"{self.decisions:,} decisions of heed's checked against its answers, "
            f"{self.agreed:,} the same ({self.agreed / max(self.decisions, 1):.3%})"
        ]
        for name, count in self.classes.most_common():
            lines.append(f"  {count:7,}  {name}: {ALLOWED_DIFFERENCES[name].reason}")
        lines.append(f"  {len(self.unexplained):7,}  unexplained")
        for host, agent, url, heed, _ in self.unexplained[:40]:
            lines.append(f"      {host}: {agent} {url}: heed {'allows' if heed else 'blocks'}")
        if self.agents_google_cannot_ask:
            names = ", ".join(sorted(self.agents_google_cannot_ask)[:12])
            lines.append(
                f"  not asked: {len(self.agents_google_cannot_ask):,} agent names Google's "
                f"library refuses (digits: {names}, ...)"
            )
        return "\n".join(lines)


def compare(files: Iterator[tuple[str, bytes]]) -> Comparison:
    rng = random.Random(9309)
    result = Comparison()
    matcher = google.RobotsMatcher()
    for host, body in files:
        result.files += 1
        parsed = RobotsTxt.parse(body)
        urls = urls_of(body, rng)
        agents = []
        for agent in agents_of(body):
            if google.RobotsMatcher.IsValidUserAgentToObey(agent):
                agents.append(agent)
            else:
                result.agents_google_cannot_ask.add(agent)
        # Google compares a crawler's name with the names in the file, nothing else: every
        # agent the file never spells gets the answers of NOBODY, asked once for all of them.
        lowered = body.lower()
        named = [a for a in agents if a == NOBODY or a.lower().encode() in lowered]
        unnamed = [a for a in agents if a not in named]
        questions = [(agent, url) for agent in named for url in urls]
        lines = body.count(b"\n") + 1
        budget = max(MIN_QUESTIONS, GOOGLE_LINES_PER_FILE // lines)
        if len(questions) > budget:
            questions = rng.sample(questions, budget)
        result.questions += len(questions)
        for agent, url in questions:
            answer = matcher.OneAgentAllowedByRobots(body, agent, url)
            for asked in [agent, *unnamed] if agent == NOBODY else [agent]:
                heed = parsed.check(asked, url).allowed
                result.decisions += 1
                if heed == answer:
                    result.agreed += 1
                else:
                    result.explain(host, body, asked, url, heed)
    return result


def test_heed_answers_as_googles_parser_on_real_robots_txt_files() -> None:
    result = compare(corpus())
    print(result.summary())
    assert result.files == 4231
    assert result.questions > 50_000 and result.decisions > 500_000, result.summary()
    assert result.unexplained == [], result.summary()


def test_a_difference_nothing_explains_fails() -> None:
    # The allow-list is no catch-all: were heed to allow a page its rule plainly disallows
    # (a bug), no class may take the difference, since Google asked again still disallows.
    result = Comparison()
    result.explain(
        "planted", b"User-agent: *\nDisallow: /private/\n", NOBODY, f"{SITE}/private/a", True
    )
    assert len(result.unexplained) == 1 and not result.classes


def test_each_class_explains_its_own_example() -> None:
    # Each class accepts the difference it is written for: heed's answer, checked here against
    # RobotsTxt, is the one Google gives once the cause is taken out of its input.
    examples = {
        "robots_txt_always_allowed": (b"User-agent: *\nDisallow: /\n", "/robots.txt"),
        "unreserved_escapes": (b"User-agent: *\nDisallow: /%7euser/\n", "/~user/notes"),
        "only_encoded_characters": (b"User-agent: *\nDisallow: /a b\n", "/a%20b"),
        "digits_in_product_token": (b"User-agent: MJ12bot\nDisallow: /\n", "/x"),
        "index_html_is_the_directory": (
            b"User-agent: *\nDisallow: /d/\nAllow: /d/index.html\n",
            "/d/",
        ),
    }
    agents = {"digits_in_product_token": "MJ"}
    for name, (body, path) in examples.items():
        agent, url = agents.get(name, NOBODY), SITE + path
        heed = RobotsTxt.parse(body).check(agent, url).allowed
        assert google_allows(body, agent, url) != heed, name  # a real difference
        result = Comparison()
        result.explain(name, body, agent, url, heed)
        assert result.classes == Counter({name: 1}), (name, result.summary())


if __name__ == "__main__":
    print(compare(corpus()).summary())

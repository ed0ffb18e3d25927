"""Conformance of `heed.curation.optout.robots` with RFC 9309 (Robots Exclusion Protocol).

Every case is written from the RFC (https://www.rfc-editor.org/rfc/rfc9309) or from Google's
documented reading of it (developers.google.com/search/docs/crawling-indexing/robots/robots_txt),
never from what an implementation happens to do. The comment above each case names the section.
Status handling (the `status` argument) follows the interface documented in
`curation/optout/robots.py`: 2xx parse the body, 3xx and 4xx allow all, 5xx, 429 and None
(unreachable) disallow all.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from heed.curation.optout import robots

SITE = "https://example.com"
ALLOWED = True
BLOCKED = False


def txt(*lines: str) -> str:
    """A robots.txt body: the lines, each ended by LF."""
    return "".join(f"{line}\n" for line in lines)


def case(case_id: str, body: str | bytes, path: str, expected: bool, agent: str = "GPTBot"):
    """One parametrized case; `path` is on SITE unless it is a whole URL."""
    return pytest.param(body, agent, path, expected, id=case_id)


def check(body: str | bytes, agent: str, path: str, expected: bool, **kwargs) -> None:
    url = path if "://" in path else SITE + path
    got = robots.is_allowed(body, agent, url, **kwargs)
    verdict = "allowed" if expected else "blocked"
    assert got is expected, (
        f"{agent} {url} {kwargs}: expected {verdict}, got {got!r}\n{body[:400]!r}"
    )


CASE_ARGS = ("body", "agent", "path", "expected")

# --------------------------------------------------------------------------------------------
# 1. Groups
# --------------------------------------------------------------------------------------------
TWO_AGENTS_ONE_GROUP = txt("User-agent: GPTBot", "User-agent: CCBot", "Disallow: /private")
TWO_GROUPS = txt("User-agent: GPTBot", "Disallow: /a", "User-agent: CCBot", "Disallow: /b")

GROUP_CASES = [
    # RFC 9309 2.1: a group is one or more user-agent lines followed by rules.
    case("several-user-agent-lines-share-rules-first", TWO_AGENTS_ONE_GROUP, "/private", BLOCKED),
    case(
        "several-user-agent-lines-share-rules-last",
        TWO_AGENTS_ONE_GROUP,
        "/private",
        BLOCKED,
        agent="CCBot",
    ),
    # RFC 9309 2.1 (ABNF: startgroupline *(startgroupline / emptyline)): a blank line between
    # user-agent lines does not split them.
    case(
        "user-agent-lines-separated-by-blank-line-share-rules",
        txt("User-agent: GPTBot", "", "User-agent: CCBot", "Disallow: /"),
        "/page",
        BLOCKED,
    ),
    # RFC 9309 2.2.2: rules that precede the first user-agent line are in no group, ignored.
    case(
        "rules-before-any-user-agent-ignored",
        txt("Disallow: /", "", "User-agent: *", "Disallow: /private"),
        "/public",
        ALLOWED,
    ),
    case(
        "rules-without-any-user-agent-ignored", txt("Disallow: /", "Allow: /ok"), "/page", ALLOWED
    ),
    # RFC 9309 2.1: a user-agent line after rules starts a new group.
    case("user-agent-after-rules-starts-new-group-first", TWO_GROUPS, "/b", ALLOWED),
    case(
        "user-agent-after-rules-starts-new-group-second", TWO_GROUPS, "/a", ALLOWED, agent="CCBot"
    ),
    case("user-agent-after-rules-own-rules-apply", TWO_GROUPS, "/b", BLOCKED, agent="CCBot"),
]


@pytest.mark.parametrize(CASE_ARGS, GROUP_CASES)
def test_groups(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 2. Merging groups for the same agent
# --------------------------------------------------------------------------------------------
# The RFC 9309 2.2.1 example: two ExampleBot groups combine into one.
RFC_MERGE = txt(
    "user-agent: ExampleBot",
    "disallow: /foo",
    "disallow: /bar",
    "",
    "user-agent: ExampleBot",
    "disallow: /baz",
)
MERGE_ACROSS_STAR = txt(
    "User-agent: GPTBot",
    "Disallow: /shop",
    "",
    "User-agent: *",
    "Disallow: /",
    "",
    "User-agent: GPTBot",
    "Allow: /shop/public",
)

MERGE_CASES = [
    # RFC 9309 2.2.1: matching groups' rules MUST be combined.
    case("merge-rfc-example-first-group-rule", RFC_MERGE, "/foo/x", BLOCKED, agent="ExampleBot"),
    case("merge-rfc-example-second-group-rule", RFC_MERGE, "/baz", BLOCKED, agent="ExampleBot"),
    # RFC 9309 2.2.1 + 2.2.2: merged, then the longest match decides across the groups.
    case(
        "merge-across-star-group-longest-wins-allow", MERGE_ACROSS_STAR, "/shop/public/1", ALLOWED
    ),
    case("merge-across-star-group-longest-wins-disallow", MERGE_ACROSS_STAR, "/shop/cart", BLOCKED),
    case("merge-across-star-group-star-not-mixed-in", MERGE_ACROSS_STAR, "/about", ALLOWED),
    # RFC 9309 2.2.1: the match is case-insensitive, so differently-cased groups merge too.
    case(
        "merge-groups-differing-in-case",
        txt("User-agent: GPTBot", "Disallow: /a", "", "User-agent: gptbot", "Disallow: /b"),
        "/b",
        BLOCKED,
    ),
    # RFC 9309 2.2.1: a group naming several agents merges with a later group naming one.
    case(
        "merge-multi-agent-group-with-single-agent-group",
        txt(
            "User-agent: CCBot",
            "User-agent: GPTBot",
            "Disallow: /a",
            "",
            "User-agent: GPTBot",
            "Disallow: /b",
        ),
        "/a",
        BLOCKED,
    ),
    # RFC 9309 2.2.1: several "*" groups merge as well.
    case(
        "merge-star-groups",
        txt(
            "User-agent: *",
            "Disallow: /a",
            "",
            "User-agent: CCBot",
            "Disallow: /",
            "",
            "User-agent: *",
            "Disallow: /b",
        ),
        "/b",
        BLOCKED,
    ),
]


@pytest.mark.parametrize(CASE_ARGS, MERGE_CASES)
def test_merging(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 3. Matching the crawler's product token to a group
# --------------------------------------------------------------------------------------------
BLOCK_GPTBOT = txt("User-agent: GPTBot", "Disallow: /")
STAR_AND_GPTBOT = txt(
    "User-agent: *",
    "Disallow: /private",
    "",
    "User-agent: GPTBot",
    "Disallow: /gpt-only",
)
GPTBOT_AND_STAR = txt(
    "User-agent: GPTBot",
    "Disallow: /gpt-only",
    "",
    "User-agent: *",
    "Disallow: /private",
)
CLAUDE_UA = "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"

AGENT_CASES = [
    # RFC 9309 2.2.1: case-insensitive matching of the product token.
    case(
        "agent-match-case-insensitive-line-lower",
        txt("User-agent: gptbot", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    case("agent-match-case-insensitive-crawler-upper", BLOCK_GPTBOT, "/x", BLOCKED, agent="GPTBOT"),
    # RFC 9309 2.2.1: the crawler is matched by its product token, not its version.
    case("agent-product-token-without-version", BLOCK_GPTBOT, "/x", BLOCKED, agent="GPTBot/1.2"),
    case(
        "agent-product-token-ccbot-version",
        txt("User-agent: CCBot", "Disallow: /"),
        "/x",
        BLOCKED,
        agent="CCBot/2.0",
    ),
    # RFC 9309 2.2.1 (the ExampleBot table): the token inside a full Mozilla-style string.
    case(
        "agent-product-token-in-mozilla-string",
        txt("User-agent: ClaudeBot", "Disallow: /", "", "User-agent: *", "Allow: /"),
        "/x",
        BLOCKED,
        agent=CLAUDE_UA,
    ),
    # Google: "googlebot/1.2 and googlebot* are equivalent to googlebot" (text after the token
    # in the file's user-agent value is ignored).
    case(
        "agent-line-version-ignored",
        txt("User-agent: CCBot/2.0", "Disallow: /"),
        "/x",
        BLOCKED,
        agent="CCBot",
    ),
    case(
        "agent-line-trailing-star-ignored", txt("User-agent: GPTBot*", "Disallow: /"), "/x", BLOCKED
    ),
    # RFC 9309 2.2.1: a group naming the agent is used; the "*" group is then not applied.
    case("specific-group-excludes-star-star-first", STAR_AND_GPTBOT, "/private", ALLOWED),
    case("specific-group-excludes-star-star-last", GPTBOT_AND_STAR, "/private", ALLOWED),
    case("specific-group-rules-apply", STAR_AND_GPTBOT, "/gpt-only", BLOCKED),
    case(
        "specific-group-with-empty-disallow-beats-star-disallow-all",
        txt("User-agent: *", "Disallow: /", "", "User-agent: GPTBot", "Disallow:"),
        "/x",
        ALLOWED,
    ),
    # RFC 9309 2.2.1: no group names the agent -> the "*" group.
    case("unnamed-agent-obeys-star-group", STAR_AND_GPTBOT, "/private", BLOCKED, agent="CCBot"),
    case(
        "unnamed-agent-ignores-other-agents-group",
        STAR_AND_GPTBOT,
        "/gpt-only",
        ALLOWED,
        agent="CCBot",
    ),
    # RFC 9309 2.2.1: no matching group and no "*" group -> no rules apply.
    case(
        "no-matching-group-no-star-allows", txt("User-agent: CCBot", "Disallow: /"), "/x", ALLOWED
    ),
    # RFC 9309 2.2.1: the product token is matched whole, never as a prefix.
    case(
        "agent-line-prefix-of-crawler-token-no-match",
        txt("User-agent: AI2", "Disallow: /"),
        "/x",
        ALLOWED,
        agent="AI2Bot",
    ),
    case(
        "crawler-token-prefix-of-agent-line-no-match",
        txt("User-agent: AI2Bot", "Disallow: /"),
        "/x",
        ALLOWED,
        agent="AI2",
    ),
    # RFC 9309 2.2.1 (ABNF *WS around the value): surrounding whitespace is not part of it.
    case(
        "agent-value-surrounding-whitespace",
        txt("User-agent:    GPTBot   ", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
]


@pytest.mark.parametrize(CASE_ARGS, AGENT_CASES)
def test_agent_matching(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 4. Allow / Disallow rules and precedence
# --------------------------------------------------------------------------------------------
FISH = txt("User-agent: *", "Disallow: /fish")
FISH_DIR = txt("User-agent: *", "Disallow: /fish/")
ROOT_ONLY = txt("User-agent: *", "Allow: /$", "Disallow: /")


def rules(*lines: str) -> str:
    """A body with one "*" group holding these rule lines."""
    return txt("User-agent: *", *lines)


RULE_CASES = [
    # RFC 9309 2.2.2 (ABNF: the keys are case-insensitive strings).
    case("disallow-key-case-insensitive", rules("dIsAlLoW: /x"), "/x", BLOCKED),
    case("allow-key-case-insensitive", rules("Disallow: /", "ALLOW: /ok"), "/ok", ALLOWED),
    case(
        "user-agent-key-case-insensitive", txt("USER-AGENT: GPTBot", "Disallow: /"), "/x", BLOCKED
    ),
    # RFC 9309 2.2.2: path matching SHOULD be case-sensitive (Google: /fish misses /Fish.asp).
    case("rule-path-case-sensitive", FISH, "/Fish.asp", ALLOWED),
    # RFC 9309 2.2.2: rule paths are prefixes of the URL path (Google's /fish examples).
    case("prefix-matches-exact-path", FISH, "/fish", BLOCKED),
    case("prefix-matches-longer-name", FISH, "/fishheads/yummy.html", BLOCKED),
    case("prefix-matches-with-query", FISH, "/fish.php?id=anything", BLOCKED),
    case("prefix-match-starts-at-first-octet", FISH, "/desert/fish", ALLOWED),
    case("prefix-not-substring", FISH, "/catfish", ALLOWED),
    case("prefix-not-in-query", FISH, "/?id=fish", ALLOWED),
    case("directory-rule-misses-bare-name", FISH_DIR, "/fish", ALLOWED),
    case("directory-rule-matches-query-under-it", FISH_DIR, "/fish/?id=x", BLOCKED),
    # RFC 9309 2.2.2 (ABNF path-pattern may be empty): an empty Disallow disallows nothing.
    case("empty-disallow-allows-all", rules("Disallow:"), "/anything", ALLOWED),
    case("disallow-root-blocks-root", rules("Disallow: /"), "/", BLOCKED),
    # RFC 9309 2.2.2: no matching rule -> allowed.
    case("no-matching-rule-allows", rules("Disallow: /private"), "/public", ALLOWED),
    # RFC 9309 2.2.2: the most specific (longest) match wins, whichever comes first.
    case("longest-match-allow-longer", rules("Allow: /p", "Disallow: /"), "/page", ALLOWED),
    case(
        "longest-match-disallow-longer",
        rules("Allow: /folder", "Disallow: /folder/private"),
        "/folder/private/x",
        BLOCKED,
    ),
    case(
        "longest-match-not-first-match",
        rules("Disallow: /", "Allow: /public"),
        "/public/x",
        ALLOWED,
    ),
    # RFC 9309 2.2.2: equivalent allow and disallow -> allow (Google: /folder vs /folder).
    case(
        "equal-length-allow-wins",
        rules("Disallow: /folder", "Allow: /folder"),
        "/folder/page",
        ALLOWED,
    ),
    # Google: length is the rule path's, wildcards included: /*.htm (6) beats /page (5) ...
    case(
        "length-counts-wildcard-pattern",
        rules("Allow: /page", "Disallow: /*.htm"),
        "/page.htm",
        BLOCKED,
    ),
    # ... and /*.ph (5) ties /page (5), so allow wins.
    case(
        "length-tie-with-wildcard-allow-wins",
        rules("Allow: /page", "Disallow: /*.ph"),
        "/page.php5",
        ALLOWED,
    ),
    # Google: allow /$ with disallow / -> only the root is allowed.
    case("allow-root-only-root-allowed", ROOT_ONLY, "/", ALLOWED),
    case("allow-root-only-page-blocked", ROOT_ONLY, "/page.htm", BLOCKED),
    # RFC 9309 2.2.2: "The /robots.txt URI is implicitly allowed."
    case("robots-txt-implicitly-allowed", rules("Disallow: /"), "/robots.txt", ALLOWED),
]


@pytest.mark.parametrize(CASE_ARGS, RULE_CASES)
def test_rules(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 5. Special characters, queries, fragments
# --------------------------------------------------------------------------------------------
PHP = rules("Disallow: /*.php")
PHP_END = rules("Disallow: /*.php$")
ANY_QUERY = rules("Disallow: /*?")

SPECIAL_CASES = [
    # RFC 9309 2.2.3: "*" is 0 or more instances of any character, "/" included.
    case("star-matches-across-slashes", rules("Disallow: /*/private"), "/a/b/private", BLOCKED),
    case("star-matches-empty", rules("Disallow: /fish*.php"), "/fish.php", BLOCKED),
    case(
        "star-between-literals",
        rules("Disallow: /fish*.php"),
        "/fishheads/catfish.php?parameters",
        BLOCKED,
    ),
    case("star-several-in-one-rule", rules("Disallow: /a*b*c"), "/axxbyyc/d", BLOCKED),
    case("star-several-needs-all-literals", rules("Disallow: /a*b*c"), "/axxbyy", ALLOWED),
    # Google: "/*" is equivalent to "/", "/fish*" to "/fish".
    case("slash-star-same-as-slash", rules("Disallow: /*"), "/", BLOCKED),
    case("trailing-star-same-as-prefix", rules("Disallow: /fish*"), "/fishheads", BLOCKED),
    case("star-rule-matches-into-query", PHP, "/folder/filename.php?parameters", BLOCKED),
    case("star-rule-literal-stays-case-sensitive", PHP, "/windows.PHP", ALLOWED),
    case("star-rule-needs-literal", PHP, "/", ALLOWED),
    # RFC 9309 2.2.3: "$" designates the end of the pattern.
    case("dollar-anchors-exact-end", PHP_END, "/folder/filename.php", BLOCKED),
    case("dollar-rejects-longer-path", PHP_END, "/filename.php5", ALLOWED),
    case("dollar-rejects-trailing-slash", PHP_END, "/filename.php/", ALLOWED),
    case("dollar-rejects-query", PHP_END, "/filename.php?parameters", ALLOWED),
    case("slash-dollar-matches-only-root", rules("Disallow: /$"), "/page", ALLOWED),
    # RFC 3986 6.2.3: an empty path is "/", so "/$" matches the bare authority.
    case("empty-url-path-is-root", rules("Disallow: /$"), "https://example.com", BLOCKED),
    # RFC 9309 2.2.2 (its /foo/bar?baz=quz example): the query is part of the matched path.
    case("query-wildcard-blocks-query", ANY_QUERY, "/page?x=1", BLOCKED),
    case("query-wildcard-spares-no-query", ANY_QUERY, "/page", ALLOWED),
    case("query-rule-prefix", rules("Disallow: /search?q="), "/search?q=cats", BLOCKED),
    case("query-rule-misses-bare-path", rules("Disallow: /search?q="), "/search", ALLOWED),
    case(
        "longer-allow-with-query-wins",
        rules("Disallow: /search", "Allow: /search?q=public"),
        "/search?q=public&page=2",
        ALLOWED,
    ),
    # Only "*" and "$" are special: "?" and "." in a rule are literal characters.
    case("question-mark-literal", rules("Disallow: /search?q="), "/searcq=x", ALLOWED),
    case("dot-literal", PHP_END, "/filenameXphp", ALLOWED),
    # RFC 3986 3.5: the fragment is not sent to the server and takes no part in the match.
    case("fragment-ignored", rules("Disallow: /page$"), "/page#section", BLOCKED),
    # RFC 9309 2.2.3: special characters matched verbatim are percent-encoded in the rule.
    case(
        "percent-2a-matches-literal-star",
        rules("Disallow: /path/file-with-a-%2A.html"),
        "/path/file-with-a-*.html",
        BLOCKED,
    ),
    case(
        "percent-2a-is-not-a-wildcard",
        rules("Disallow: /path/file-with-a-%2A.html"),
        "/path/file-with-a-xyz.html",
        ALLOWED,
    ),
    case(
        "percent-24-matches-literal-dollar",
        rules("Disallow: /path/foo-%24"),
        "/path/foo-$",
        BLOCKED,
    ),
]


@pytest.mark.parametrize(CASE_ARGS, SPECIAL_CASES)
def test_special_characters(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 6. Percent-encoding
# --------------------------------------------------------------------------------------------
PERCENT_CASES = [
    # RFC 9309 2.2.2: non-ASCII octets are percent-encoded before comparison, in the rule ...
    case(
        "percent-encoded-rule-matches-raw-url",
        rules("Disallow: /foo/bar/%E3%83%84"),
        "/foo/bar/ツ",
        BLOCKED,
    ),
    # ... and in the URL.
    case(
        "raw-rule-matches-percent-encoded-url",
        rules("Disallow: /foo/bar/ツ"),
        "/foo/bar/%E3%83%84",
        BLOCKED,
    ),
    case("raw-rule-matches-raw-url", rules("Disallow: /foo/bar/ツ"), "/foo/bar/ツ", BLOCKED),
    case(
        "raw-rule-from-utf8-bytes-body",
        rules("Disallow: /foo/bar/ツ").encode(),
        "/foo/bar/%E3%83%84",
        BLOCKED,
    ),
    # RFC 3986 2.1: hex digits are case-insensitive.
    case(
        "percent-hex-case-insensitive",
        rules("Disallow: /foo/bar/%e3%83%84"),
        "/foo/bar/%E3%83%84",
        BLOCKED,
    ),
    # RFC 9309 2.2.2 (its /foo/bar/%62%61%7A example): encoded unreserved ASCII is decoded.
    case(
        "encoded-unreserved-rule-matches-plain-url",
        rules("Disallow: /foo/bar/%62%61%7A"),
        "/foo/bar/baz",
        BLOCKED,
    ),
    case(
        "plain-rule-matches-encoded-unreserved-url",
        rules("Disallow: /foo/bar/baz"),
        "/foo/bar/%62%61%7A",
        BLOCKED,
    ),
    case("encoded-tilde-lowercase-hex-url", rules("Disallow: /~user/"), "/%7euser/notes", BLOCKED),
]


@pytest.mark.parametrize(CASE_ARGS, PERCENT_CASES)
def test_percent_encoding(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 7. Syntax robustness
# --------------------------------------------------------------------------------------------
LONG_PATH = "/" + "a" * 5000

SYNTAX_CASES = [
    # RFC 9309 2.2.3: "#" starts a comment, on its own line or after a record.
    case(
        "comment-line-inside-group",
        txt("User-agent: GPTBot", "# note", "Disallow: /x"),
        "/x",
        BLOCKED,
    ),
    case("inline-comment-after-rule", rules("Disallow: /x # private area"), "/x", BLOCKED),
    case(
        "inline-comment-after-user-agent",
        txt("User-agent: GPTBot # OpenAI", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    # RFC 9309 2.1 (ABNF emptyline in a group); Google: blank lines are ignored.
    case(
        "blank-line-between-user-agent-and-rules",
        txt("User-agent: GPTBot", "", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    case(
        "blank-line-between-rules",
        txt("User-agent: GPTBot", "Disallow: /a", "", "", "Disallow: /b"),
        "/b",
        BLOCKED,
    ),
    # RFC 9309 2.2 (ABNF *WS): whitespace around keys, colon and values.
    case("leading-whitespace", txt("  User-agent: GPTBot", "   Disallow: /x"), "/x", BLOCKED),
    case("trailing-whitespace-after-value", rules("Disallow: /x   "), "/x", BLOCKED),
    case("whitespace-before-colon", txt("User-agent : GPTBot", "Disallow : /x"), "/x", BLOCKED),
    case("tab-as-whitespace", "User-agent:\tGPTBot\nDisallow:\t/x\n", "/x", BLOCKED),
    case("disallow-whitespace-only-value", rules("Disallow:    "), "/x", ALLOWED),
    # RFC 9309 2.2 (ABNF EOL = CR / LF / CRLF).
    case(
        "crlf-line-endings",
        "User-agent: GPTBot\r\nDisallow: /a\r\nAllow: /a/b\r\n",
        "/a/x",
        BLOCKED,
    ),
    case("cr-only-line-endings", "User-agent: GPTBot\rAllow: /a\rDisallow: /b\r", "/b/x", BLOCKED),
    case(
        "mixed-line-endings",
        "User-agent: GPTBot\r\nDisallow: /a\rDisallow: /b\nDisallow: /c\n",
        "/b",
        BLOCKED,
    ),
    # Google: a UTF-8 byte order mark at the start is ignored.
    case("utf8-bom-bytes", b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n", "/x", BLOCKED),
    case("utf8-bom-str", "\ufeffUser-agent: *\nDisallow: /\n", "/x", BLOCKED),
    # RFC 9309 2.3.1.5 (parse every line, use what parses): invalid UTF-8 spoils no other line.
    case(
        "invalid-utf8-spoils-no-other-line",
        b"User-agent: *\nDisallow: /caf\xe9\nDisallow: /x\n",
        "/x",
        BLOCKED,
    ),
    # Google: a missing colon is accepted ("Disallow /x").
    case("missing-colon-accepted", rules("Disallow /x"), "/x", BLOCKED),
    # RFC 9309 2.2.4: other records are ignored and do not end a group.
    case(
        "crawl-delay-does-not-end-group",
        txt("User-agent: GPTBot", "Crawl-delay: 10", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    case(
        "sitemap-does-not-end-group",
        txt("User-agent: GPTBot", "Sitemap: https://example.com/sitemap.xml", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    case(
        "sitemap-between-user-agent-lines-keeps-them-together",
        txt(
            "User-agent: GPTBot",
            "Sitemap: https://example.com/s.xml",
            "User-agent: CCBot",
            "Disallow: /",
        ),
        "/x",
        BLOCKED,
    ),
    case(
        "host-ignored",
        txt("User-agent: GPTBot", "Host: example.com", "Disallow: /x"),
        "/x",
        BLOCKED,
    ),
    case("noindex-is-not-a-disallow", rules("Noindex: /x"), "/x", ALLOWED),
    # Very long lines: a long comment does not swallow the next line; a long rule still matches.
    case(
        "long-comment-line-then-rule",
        txt("User-agent: *", "# " + "c" * 100_000, "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    case("long-rule-path", rules(f"Disallow: {LONG_PATH}"), f"{LONG_PATH}/page", BLOCKED),
]


@pytest.mark.parametrize(CASE_ARGS, SYNTAX_CASES)
def test_syntax_robustness(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 8. Size limit: 500 KiB
# --------------------------------------------------------------------------------------------
LIMIT = 500 * 1024  # 512,000 bytes


def padded(padding_bytes: int) -> str:
    """A "*" group whose "Disallow: /" comes after about `padding_bytes` of comment lines."""
    line = "#" + "x" * 98 + "\n"  # 100 bytes
    return "User-agent: *\n" + line * (padding_bytes // len(line)) + "Disallow: /\n"


SIZE_CASES = [
    # RFC 9309 2.5 / Google: content after the 500 KiB limit is ignored.
    case("rule-after-limit-ignored-bytes", padded(600_000).encode(), "/x", ALLOWED),
    case("rule-after-limit-ignored-str", padded(600_000), "/x", ALLOWED),
    # RFC 9309 2.5: the limit is at least 500 KiB, so a rule well before it applies.
    case("rule-before-limit-applies", padded(400_000).encode(), "/x", BLOCKED),
]


def test_size_padding_is_where_the_cases_say() -> None:
    assert len(padded(600_000)) > LIMIT + 80_000
    assert len(padded(400_000)) < LIMIT - 100_000


@pytest.mark.parametrize(CASE_ARGS, SIZE_CASES)
def test_size_limit(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 9. Empty, comment-only and garbage bodies
# --------------------------------------------------------------------------------------------
GARBAGE = random.Random(9309).randbytes(4096)
HTML_PAGE = "<!doctype html><html><head><title>Not found</title></head><body>Oops</body></html>"

EMPTY_CASES = [
    # RFC 9309 2.2.1: no groups at all -> no rules apply.
    case("empty-str-allows", "", "/x", ALLOWED),
    case("empty-bytes-allows", b"", "/x", ALLOWED),
    case("whitespace-only-allows", " \n\t\n\r\n", "/x", ALLOWED),
    case("comments-only-allows", txt("# robots.txt", "# Disallow: /", "#"), "/x", ALLOWED),
    case("user-agent-without-rules-allows", txt("User-agent: *"), "/x", ALLOWED),
    # RFC 9309 2.3.1.5: only parseable rules are used; a body with none allows all.
    case("binary-garbage-allows", GARBAGE, "/x", ALLOWED),
    case("html-page-allows", HTML_PAGE, "/x", ALLOWED),
]


@pytest.mark.parametrize(CASE_ARGS, EMPTY_CASES)
def test_empty_and_garbage(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 10. Fetch status
# --------------------------------------------------------------------------------------------
DISALLOW_ALL = txt("User-agent: *", "Disallow: /")
ALLOW_ALL = txt("User-agent: *", "Allow: /")

STATUS_CASES = [
    # RFC 9309 2.3.1.1: a successful fetch -> follow the parseable rules.
    pytest.param(200, DISALLOW_ALL, BLOCKED, id="status-200-body-applies"),
    # RFC 9309 2.3.1.3: 4xx is "unavailable" -> any resource may be accessed, body ignored.
    pytest.param(404, DISALLOW_ALL, ALLOWED, id="status-404-allows-all"),
    pytest.param(410, DISALLOW_ALL, ALLOWED, id="status-410-allows-all"),
    pytest.param(401, DISALLOW_ALL, ALLOWED, id="status-401-allows-all"),
    pytest.param(403, DISALLOW_ALL, ALLOWED, id="status-403-allows-all"),
    # Google treats "all 4xx errors, except 429" as no robots.txt, and "5xx and 429 server
    # errors" as a full disallow: 429 says the server could not answer now, not that there are
    # no rules. Read like 5xx, body ignored.
    pytest.param(429, ALLOW_ALL, BLOCKED, id="status-429-read-as-5xx-disallows-all"),
    # RFC 9309 2.3.1.4: 5xx is "unreachable" -> complete disallow, body ignored.
    pytest.param(500, ALLOW_ALL, BLOCKED, id="status-500-disallows-all"),
    pytest.param(503, ALLOW_ALL, BLOCKED, id="status-503-disallows-all"),
    # RFC 9309 2.3.1.4: a network error (no status) is "unreachable" too.
    pytest.param(None, ALLOW_ALL, BLOCKED, id="status-none-unreachable-disallows-all"),
    # RFC 9309 2.3.1.2: redirects not followed to an answer -> "unavailable" -> allow all.
    pytest.param(301, DISALLOW_ALL, ALLOWED, id="status-301-unavailable-allows-all"),
    pytest.param(302, DISALLOW_ALL, ALLOWED, id="status-302-unavailable-allows-all"),
]


@pytest.mark.parametrize(("status", "body", "expected"), STATUS_CASES)
def test_fetch_status(status, body, expected) -> None:
    check(body, "GPTBot", "/page", expected, status=status)


# --------------------------------------------------------------------------------------------
# 11. AI-crawler robots.txt files as sites write them
# --------------------------------------------------------------------------------------------
AI_AGENTS = [
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
]
AI_GROUP = [f"User-agent: {agent}" for agent in AI_AGENTS]
# The Apertus list: every AI agent and "*" in one group blocked from everything.
APERTUS = txt(*AI_GROUP, "User-agent: *", "Disallow: /")
# The same agents blocked; everyone else allowed.
AI_ONLY = txt(*AI_GROUP, "Disallow: /", "", "User-agent: *", "Allow: /")
# AI agents blocked, everyone else kept out of /admin/, GPTBot let into /blog/ by a later group.
AI_MIXED = txt(
    *AI_GROUP,
    "Disallow: /",
    "",
    "User-agent: *",
    "Disallow: /admin/",
    "",
    "User-agent: GPTBot",
    "Allow: /blog/",
)

AI_CASES = [
    # RFC 9309 2.2.1: "*" in the same group blocks an agent the list does not name.
    case("apertus-star-in-group-blocks-unlisted", APERTUS, "/", BLOCKED, agent="Bingbot/2.0"),
    case("apertus-star-in-group-blocks-applebot", APERTUS, "/page", BLOCKED, agent="Applebot"),
    # RFC 9309 2.2.1: exact product tokens: Applebot-Extended is not Applebot, Google-Extended
    # is not Googlebot.
    case("ai-only-applebot-not-applebot-extended", AI_ONLY, "/page", ALLOWED, agent="Applebot/0.1"),
    case("ai-only-googlebot-not-google-extended", AI_ONLY, "/page", ALLOWED, agent="Googlebot/2.1"),
    case(
        "applebot-extended-alone-leaves-applebot",
        txt("User-agent: Applebot-Extended", "Disallow: /"),
        "/page",
        ALLOWED,
        agent="Applebot",
    ),
    case(
        "applebot-alone-leaves-applebot-extended",
        txt("User-agent: Applebot", "Disallow: /"),
        "/page",
        ALLOWED,
        agent="Applebot-Extended",
    ),
    # RFC 9309 2.2.1: hyphenated tokens are matched whole and case-insensitively.
    case(
        "ai-only-hyphenated-token-lowercase-crawler",
        AI_ONLY,
        "/page",
        BLOCKED,
        agent="meta-externalagent/1.1",
    ),
    case(
        "ai-only-long-hyphenated-token",
        AI_ONLY,
        "/page",
        BLOCKED,
        agent="Cohere-Training-Data-Crawler",
    ),
    # RFC 9309 2.2.1: a site's later GPTBot group merges with the AI list group.
    case("ai-mixed-merged-allow-for-gptbot", AI_MIXED, "/blog/post", ALLOWED, agent="GPTBot/1.2"),
    case("ai-mixed-rest-still-blocked-for-gptbot", AI_MIXED, "/shop", BLOCKED, agent="GPTBot/1.2"),
    case("ai-mixed-merge-only-for-gptbot", AI_MIXED, "/blog/post", BLOCKED, agent="CCBot/2.0"),
    case("ai-mixed-others-get-star-group", AI_MIXED, "/page", ALLOWED, agent="Bingbot"),
    case("ai-mixed-others-obey-star-rules", AI_MIXED, "/admin/users", BLOCKED, agent="Bingbot"),
]


@pytest.mark.parametrize(CASE_ARGS, AI_CASES)
def test_ai_crawler_files(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


def test_ai_only_blocks_every_listed_agent_by_name() -> None:
    # RFC 9309 2.2.1: each user-agent line of a group names its own product token.
    not_blocked = [
        agent
        for agent in AI_AGENTS
        if robots.is_allowed(AI_ONLY, f"{agent}/1.0", f"{SITE}/page") is not BLOCKED
    ]
    assert not_blocked == []


# --------------------------------------------------------------------------------------------
# 12. The RFC's own examples (section 5)
# --------------------------------------------------------------------------------------------
# RFC 9309 5.1, verbatim.
RFC_SIMPLE = txt(
    "User-Agent: *",
    "Disallow: *.gif$",
    "Disallow: /example/",
    "Allow: /publications/",
    "",
    "User-Agent: foobot",
    "Disallow:/",
    "Allow:/example/page.html",
    "Allow:/example/allowed.gif",
    "",
    "User-Agent: barbot",
    "User-Agent: bazbot",
    "Disallow: /example/page.html",
    "",
    "User-Agent: quxbot",
)
# RFC 9309 5.2, verbatim.
RFC_LONGEST = txt(
    "User-Agent: foobot",
    "Allow: /example/page/",
    "Disallow: /example/page/disallowed.gif",
)

RFC_EXAMPLE_CASES = [
    # RFC 9309 5.1: "*" group: /example/ blocked, /publications/ allowed, *.gif$ blocked
    # (the "*" stands in for the otherwise-required leading slash).
    case("rfc-5.1-star-group-example-blocked", RFC_SIMPLE, "/example/x", BLOCKED, agent="OtherBot"),
    case(
        "rfc-5.1-star-group-publications-allowed",
        RFC_SIMPLE,
        "/publications/a",
        ALLOWED,
        agent="OtherBot",
    ),
    case("rfc-5.1-star-group-gif-blocked", RFC_SIMPLE, "/img/a.gif", BLOCKED, agent="OtherBot"),
    case(
        "rfc-5.1-star-group-longer-allow-beats-gif",
        RFC_SIMPLE,
        "/publications/a.gif",
        ALLOWED,
        agent="OtherBot",
    ),
    # RFC 9309 5.1: foobot (rules without the optional space) has only its two allowed paths.
    case("rfc-5.1-foobot-allowed-page", RFC_SIMPLE, "/example/page.html", ALLOWED, agent="foobot"),
    case("rfc-5.1-foobot-allowed-gif", RFC_SIMPLE, "/example/allowed.gif", ALLOWED, agent="foobot"),
    case("rfc-5.1-foobot-rest-blocked", RFC_SIMPLE, "/publications/a", BLOCKED, agent="foobot"),
    # RFC 9309 5.1: barbot and bazbot share a group, and not the "*" group's rules.
    case("rfc-5.1-barbot-page-blocked", RFC_SIMPLE, "/example/page.html", BLOCKED, agent="barbot"),
    case("rfc-5.1-bazbot-page-blocked", RFC_SIMPLE, "/example/page.html", BLOCKED, agent="bazbot"),
    case("rfc-5.1-bazbot-rest-allowed", RFC_SIMPLE, "/example/other.html", ALLOWED, agent="bazbot"),
    # RFC 9309 5.1: quxbot's empty group at the end of the file: unrestricted, "*" not applied.
    case(
        "rfc-5.1-quxbot-empty-group-unrestricted", RFC_SIMPLE, "/example/x", ALLOWED, agent="quxbot"
    ),
    # RFC 9309 5.2: the longer disallow is used.
    case(
        "rfc-5.2-longest-match",
        RFC_LONGEST,
        "/example/page/disallowed.gif",
        BLOCKED,
        agent="foobot",
    ),
    case(
        "rfc-5.2-shorter-allow-elsewhere",
        RFC_LONGEST,
        "/example/page/ok.gif",
        ALLOWED,
        agent="foobot",
    ),
]


@pytest.mark.parametrize(CASE_ARGS, RFC_EXAMPLE_CASES)
def test_rfc_examples(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


# --------------------------------------------------------------------------------------------
# 13. Untrusted content: wildcard patterns cannot make matching explode
# --------------------------------------------------------------------------------------------
WILDCARD_BOMB = """
from heed.curation.optout.robots import is_allowed
body = "User-agent: *\\nDisallow: /" + "*a" * 8 + "*b\\n"
print(is_allowed(body, "GPTBot", "https://example.com/" + "a" * 2000))
"""


def test_many_wildcards_match_in_bounded_time() -> None:
    # RFC 9309 3: robots.txt is untrusted content. A pattern of many "*" against a long path
    # must not backtrack exponentially (a linear matcher answers in milliseconds). Run in a
    # subprocess so that a matcher which does backtrack fails the test instead of hanging it.
    try:
        proc = subprocess.run(
            [sys.executable, "-c", WILDCARD_BOMB],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("matching 9 wildcards against a 2,000-character path took over 20 s")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"  # no "b" in the path: the rule does not match


# --------------------------------------------------------------------------------------------
# 14. Rules as sites write them (issue 18): each of these let a page through that the site
#     meant to keep out
# --------------------------------------------------------------------------------------------
PRICE_LIST = rules("Disallow: /price$list")
COMMA_LIST = txt("User-agent: ClaudeBot, GPTBot", "Disallow: /", "", "User-agent: *", "Allow: /")
NBSP_END = rules("Disallow: /a\u00a0")

AS_WRITTEN_CASES = [
    # RFC 9309 2.2.3: "$" designates the end of the match pattern; anywhere else it is a
    # literal dollar sign, matched whether the URL carries it raw or as %24 ...
    case("mid-dollar-literal-raw-url", PRICE_LIST, "/price$list", BLOCKED),
    case("mid-dollar-literal-encoded-url", PRICE_LIST, "/price%24list", BLOCKED),
    case("mid-dollar-literal-is-still-a-prefix", PRICE_LIST, "/price$list/2", BLOCKED),
    case("mid-dollar-literal-needs-the-dollar", PRICE_LIST, "/pricelist", ALLOWED),
    case("mid-dollar-literal-not-an-anchor", PRICE_LIST, "/price", ALLOWED),
    # ... and a final "$" still anchors after a literal one.
    case("mid-and-final-dollar-exact", rules("Disallow: /a$b$"), "/a$b", BLOCKED),
    case("mid-and-final-dollar-anchored", rules("Disallow: /a$b$"), "/a$bc", ALLOWED),
    case("mid-dollar-with-wildcard", rules("Disallow: /*$x"), "/cost/$x.html", BLOCKED),
    # RFC 9309 2.2.1: the product token is the leading run of token characters; what follows
    # (punctuation, a comment in words, another name) is not part of it.
    case("agent-token-before-comma", txt("User-agent: GPTBot,", "Disallow: /"), "/x", BLOCKED),
    case("agent-token-before-semicolon", txt("User-agent: GPTBot;", "Disallow: /"), "/x", BLOCKED),
    case(
        "agent-token-before-words",
        txt("User-agent: GPTBot (+https://openai.com/gptbot)", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    case("agent-token-first-of-list", COMMA_LIST, "/x", BLOCKED, agent="ClaudeBot"),
    # Google reads one product token per line: the second name of a list is not a group.
    case("agent-token-second-of-list-not-named", COMMA_LIST, "/x", ALLOWED),
    case(
        "agent-token-before-no-break-space",
        txt("User-agent: GPTBot\u00a0", "Disallow: /"),
        "/x",
        BLOCKED,
    ),
    # RFC 9309 2.2.2: both sides compare in encoded form. A character a URL carries only
    # percent-encoded (RFC 3986 2: not unreserved, not reserved) written raw in a rule
    # matches its escape, and the other way round.
    case("raw-space-in-rule", rules("Disallow: /a b"), "/a%20b", BLOCKED),
    case("raw-space-in-rule-and-url", rules("Disallow: /a b"), "/a b", BLOCKED),
    case("encoded-space-in-rule-raw-in-url", rules("Disallow: /a%20b"), "/a b", BLOCKED),
    case("raw-quote-in-rule", rules('Disallow: /q?x="y"'), "/q?x=%22y%22", BLOCKED),
    case("raw-angle-brackets-in-rule", rules("Disallow: /<tag>"), "/%3Ctag%3E", BLOCKED),
    case("raw-backslash-in-rule", rules("Disallow: /a\\b"), "/a%5Cb", BLOCKED),
    case("raw-caret-in-rule", rules("Disallow: /a^b"), "/a%5Eb", BLOCKED),
    case("raw-backtick-in-rule", rules("Disallow: /a`b"), "/a%60b", BLOCKED),
    case("raw-braces-in-rule", rules("Disallow: /{id}"), "/%7Bid%7D", BLOCKED),
    case("raw-pipe-in-rule-lowercase-hex-url", rules("Disallow: /a|b"), "/a%7cb", BLOCKED),
    case("raw-control-in-rule", rules("Disallow: /a\x01b"), "/a%01b", BLOCKED),
    # A reserved character is not its escape: "/" is not %2F (RFC 9309 2.2.2).
    case("reserved-slash-not-its-escape", rules("Disallow: /a/b"), "/a%2Fb", ALLOWED),
    # Google's parser accepts these misspelled keys (robots.cc, KeyIsUserAgent and
    # KeyIsDisallow), reading a key by how it starts; RFC 9309 2.2.4 lets a crawler honour
    # records beyond the standard ones.
    *(
        case(
            f"misspelled-user-agent-{key.replace(' ', '-')}",
            f"{key}: GPTBot\nDisallow: /\n",
            "/x",
            BLOCKED,
        )
        for key in ("User agent", "Useragent", "USERAGENT")
    ),
    *(
        case(f"misspelled-disallow-{key.lower()}", rules(f"{key}: /x"), "/x", BLOCKED)
        for key in ("Disalow", "Dissallow", "Dissalow", "Diasllow", "Disallaw")
    ),
    case("key-read-by-its-start", rules("Disallowed: /x"), "/x", BLOCKED),
    case("misspelled-disallow-missing-colon", rules("Disalow /x"), "/x", BLOCKED),
    # Google accepts no misspelling of "allow", and an unknown key is no rule at all.
    case("misspelled-allow-not-accepted", rules("Disallow: /", "Alow: /ok"), "/ok", BLOCKED),
    case("unknown-key-no-rule", rules("Deny: /x"), "/x", ALLOWED),
    # Google: whitespace stands in for a missing colon only between exactly two words.
    case("missing-colon-three-words-ignored", rules("Disallow /a b"), "/a", ALLOWED),
    # RFC 9309 2.2 (ABNF WS = SP / HTAB): a no-break space is not whitespace; at a rule's end
    # it is part of the path (as Google reads it too) ...
    case("nbsp-at-rule-end-not-trimmed", NBSP_END, "/a", ALLOWED),
    case("nbsp-at-rule-end-matches-encoded", NBSP_END, "/a%C2%A0", BLOCKED),
    case("nbsp-at-rule-end-matches-raw", NBSP_END, "/a\u00a0", BLOCKED),
    # ... while space and tab are trimmed.
    case("space-and-tab-at-rule-end-trimmed", rules("Disallow: /a \t "), "/a", BLOCKED),
    # RFC 9309 2.2.2: an octet outside ASCII is percent-encoded before comparison, a byte that
    # is not UTF-8 included (a Latin-1 robots.txt), as Google's parser encodes it.
    case("latin1-byte-in-rule", b"User-agent: *\nDisallow: /caf\xe9\n", "/caf%E9", BLOCKED),
]


@pytest.mark.parametrize(CASE_ARGS, AS_WRITTEN_CASES)
def test_rules_as_sites_write_them(body, agent, path, expected) -> None:
    check(body, agent, path, expected)


def test_a_latin1_rule_is_reported_as_valid_utf8() -> None:
    # The audit stores the deciding line as text: a byte that is not UTF-8 shows as U+FFFD.
    v = robots.explain(b"User-agent: *\nDisallow: /caf\xe9\n", "GPTBot", f"{SITE}/caf%E9")
    assert (v.allowed, v.rule, v.line) == (False, "Disallow: /caf\ufffd", 2)


def test_product_token_variants_are_one_agent() -> None:
    # RFC 9309 2.2.1: a group is matched by product token; a version is not part of it.
    agents = ["CCBot", "GPTBot/1.1", "CCBot/2.0", "ccbot/1.0", "gptbot", "*", "ClaudeBot"]
    assert robots.distinct_agents(agents) == ["CCBot", "GPTBot/1.1", "*", "ClaudeBot"]


# --------------------------------------------------------------------------------------------
# explain(): which rule, on which line, decided
# --------------------------------------------------------------------------------------------
EXPLAINED = txt(
    "User-agent: *",  # 1
    "Disallow: /",  # 2
    "",  # 3
    "User-agent: GPTBot",  # 4
    "Disallow: /shop/",  # 5
    "Allow: /shop/public/",  # 6
    "",  # 7
    "User-agent: CCBot",  # 8
    "Allow: /",  # 9
    "",  # 10
    "User-agent: GPTBot",  # 11
    "Disallow: /private/",  # 12
)


def explained(agent: str, path: str, **kwargs):
    return robots.explain(EXPLAINED, agent, SITE + path, **kwargs)


def test_explain_disallow_that_matched() -> None:
    # RFC 9309 2.2.2: the longest matching rule decides.
    v = explained("GPTBot", "/shop/cart")
    assert (v.allowed, v.rule, v.line) == (False, "Disallow: /shop/", 5)
    assert v.group is not None and v.group.casefold() == "gptbot"


def test_explain_allow_that_beat_a_disallow() -> None:
    # RFC 9309 2.2.2: the longer allow beats the shorter disallow.
    v = explained("GPTBot", "/shop/public/item")
    assert (v.allowed, v.rule, v.line) == (True, "Allow: /shop/public/", 6)


def test_explain_rule_from_second_merged_group() -> None:
    # RFC 9309 2.2.1: the line number is the rule's own, in the later of the merged groups.
    v = explained("GPTBot", "/private/x")
    assert (v.allowed, v.rule, v.line) == (False, "Disallow: /private/", 12)


def test_explain_star_group() -> None:
    # RFC 9309 2.2.1: an agent no group names falls to "*".
    v = explained("Bingbot", "/page")
    assert (v.allowed, v.rule, v.line, v.group) == (False, "Disallow: /", 2, "*")


def test_explain_robots_txt_implicit_allow_has_no_rule() -> None:
    # RFC 9309 2.2.2: /robots.txt is implicitly allowed; no line of the file decided.
    v = explained("Bingbot", "/robots.txt")
    assert (v.allowed, v.rule, v.line) == (True, None, None)


def test_explain_server_error_has_no_rule() -> None:
    # RFC 9309 2.3.1.4: 5xx -> complete disallow; no line of the file decided.
    v = explained("CCBot", "/page", status=503)
    assert (v.allowed, v.rule, v.line) == (False, None, None)

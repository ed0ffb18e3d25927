"""Each stage on its own, with its real model or word list."""

from __future__ import annotations

import gzip
import io
import re
import time
import tracemalloc
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import trafilatura
from conftest import CRAWL, SAMPLE_ROOT, make_doc
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from heed.curation.crawl.listing import open_input, read_listing
from heed.curation.crawl.warc import read_documents
from heed.curation.document import Document, Status
from heed.curation.optout.robots import is_allowed
from heed.curation.optout.snapshot import Capture, build_snapshot
from heed.curation.optout.stage import OptOut
from heed.curation.stage import RunContext, Stage
from heed.curation.text.extract import HTML_TYPES, Extract, decode_html
from heed.curation.text.tokenize import Tokenize, load_tokenizer
from heed.filters import toxicity
from heed.filters.langid import LanguageFilter
from heed.filters.pii import PIIRedactor
from heed.filters.toxicity import load_wordlists, toxicity_score

CONTEXT = RunContext(crawl_root="", crawl="")
doc = make_doc


ROBOTS = """User-agent: *
Disallow: /private/
Allow: /private/open.html

User-agent: GPTBot
Disallow: /

user-agent: CCBot
disallow: /*.pdf$
"""


@pytest.mark.parametrize(
    ("agent", "url", "allowed"),
    [
        ("GPTBot", "https://a.org/", False),
        ("GPTBot", "https://a.org/news/x.html", False),
        ("ClaudeBot", "https://a.org/news/x.html", True),
        ("ClaudeBot", "https://a.org/private/x.html", False),
        ("ClaudeBot", "https://a.org/private/open.html", True),
        ("CCBot", "https://a.org/doc.pdf", False),
        ("CCBot", "https://a.org/doc.pdf?x=1", True),
        ("CCBot", "https://a.org/private/x.html", True),
    ],
)
def test_is_allowed(agent: str, url: str, allowed: bool) -> None:
    assert is_allowed(ROBOTS, agent, url) is allowed
    assert is_allowed(ROBOTS.encode(), agent, url) is allowed


def test_opt_out_reads_headers_and_meta_in_any_attribute_order() -> None:
    stage = OptOut(crawl_captures=False)
    stage.setup(CONTEXT)
    html = {"content-type": "text/html"}
    docs = [
        doc(http_headers={**html, "tdm-reservation": "1"}),
        doc(http_headers={**html, "x-robots-tag": "otherbot: noai"}),
        doc(http_headers=html, payload=b'<head><meta content="noimageai" name=robots></head>'),
        doc(http_headers=html, payload=b"<head><meta name='tdm-reservation' content='1'></head>"),
        doc(http_headers={**html, "tdm-reservation": "0"}, payload=b"<p>noai</p>"),
        doc(http_headers=html, payload=b'<head></head><p><meta name="robots" content="noai">'),
    ]
    stage(docs)
    assert [d.reason for d in docs] == [
        "tdm_reservation",
        "noai",
        "noai",
        "tdm_reservation",
        None,
        None,
    ]


def opt_out_over(tmp_path, status: int | None, body: str, **params) -> OptOut:
    """An OptOut stage reading one snapshot (built for real) that holds example.org's capture."""
    capture = Capture.of("example.org", "https", status, "2025-01-15T00:00:00Z", body.encode(), "t")
    build_snapshot(tmp_path / "snap", [capture], ["test"])
    stage = OptOut(snapshots=[str(tmp_path / "snap")], crawl_captures=False, **params)
    stage.setup(RunContext("", "", str(tmp_path)))
    return stage


def test_opt_out_names_each_product_token_once(tmp_path) -> None:
    # RFC 9309 2.2.1: CCBot, CCBot/2.0 and CCBot/1.0 have one product token, so one group: the
    # stage judges them as one agent and names it once, as listed first.
    agents = ["CCBot", "CCBot/2.0", "GPTBot", "ccbot/1.0", "*"]
    stage = opt_out_over(tmp_path, 200, "User-agent: CCBot\nDisallow: /\n", agents=agents)
    page = doc(url="https://example.org/a", http_headers={"content-type": "text/plain"})
    stage([page])
    assert (page.status, page.reason) == (Status.DROPPED, "robots_disallow")
    assert (page.scores["robots_agents"], page.scores["robots_blocked_agents"]) == ("CCBot", 1)


@pytest.mark.parametrize(
    ("status", "params", "dropped"),
    [
        # Google reads 429 as a server error: disallow all, unless too_many_requests says allow.
        (429, {}, True),
        (429, {"too_many_requests": "allow"}, False),
        (429, {"unreachable": "allow"}, True),  # its own setting, not 5xx's
        (503, {"too_many_requests": "allow"}, True),
        (404, {}, False),
        (404, {"too_many_requests": "disallow"}, False),
    ],
)
def test_opt_out_reads_429_as_a_server_error(tmp_path, status, params, dropped) -> None:
    stage = opt_out_over(tmp_path, status, "User-agent: *\nAllow: /\n", **params)
    page = doc(url="https://example.org/a", http_headers={"content-type": "text/plain"})
    stage([page])
    assert (page.reason == "robots_unavailable") is dropped, page.detail
    if dropped:
        assert page.scores["robots_status"] == status and f"answered {status}" in page.detail


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"agents": ["GPTBot", "(compatible)"]}, "no product token"),
        ({"too_many_requests": "retry"}, "too_many_requests = 'retry'; valid: allow, disallow"),
    ],
)
def test_opt_out_refuses_bad_settings(params, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        OptOut(crawl_captures=False, **params)


def test_pii_placeholders_and_counts() -> None:
    stage = PIIRedactor()
    stage.setup(CONTEXT)
    text = (
        "Write to anna.berg@example.se or ops@mail.example.com. Host 203.0.113.77 and "
        "2001:db8:85a3::8a2e:370:7334 were blocked. Pay to DE89 3704 0044 0532 0130 00 today. "
        "Card 4111-1111-1111-1111, phone +44 20 7946 0958 or (212) 555-0123."
    )
    d = doc(text)
    stage([d])
    assert d.text == (
        "Write to <email-pii> or <email-pii>. Host <ip-pii> and <ip-pii> were blocked. "
        "Pay to <iban-pii> today. Card <card-pii>, phone <phone-pii> or <phone-pii>."
    )
    assert d.scores == {"pii_email": 2, "pii_ip": 2, "pii_iban": 1, "pii_card": 1, "pii_phone": 2}


def test_pii_leaves_invalid_iban_and_card_alone() -> None:
    stage = PIIRedactor()
    stage.setup(CONTEXT)
    text = "Account DE89 3704 0044 0532 0130 01 and card 4111 1111 1111 1112 are not valid."
    d = doc(text)
    stage([d])
    assert d.text == text
    assert d.scores["pii_iban"] == d.scores["pii_card"] == d.scores["pii_phone"] == 0


def test_pii_kinds_not_enabled_are_left_and_null() -> None:
    stage = PIIRedactor(kinds=["email"])
    stage.setup(CONTEXT)
    d = doc("Mail a@example.org or call +44 20 7946 0958.")
    stage([d])
    assert d.text == "Mail <email-pii> or call +44 20 7946 0958."
    assert d.scores == {
        "pii_email": 1,
        "pii_ip": None,
        "pii_iban": None,
        "pii_card": None,
        "pii_phone": None,
    }


def test_toxicity_score_counts_listed_words() -> None:
    lists = load_wordlists()
    bad = sorted(lists["de"][0])[:5]
    clean = "Der Gemeinderat hat heute den neuen Haushalt für das kommende Jahr beschlossen."
    assert toxicity_score(clean, "de", lists) == 0.0
    toxic = clean + " " + " ".join(bad)
    words = len(toxic.split())
    assert toxicity_score(toxic, "de", lists) == pytest.approx(5 / words)
    ja_word = sorted(lists["ja"][0], key=len)[-1]
    assert toxicity_score("今日は良い天気です。" + ja_word, "ja", lists) > 0


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (
            "Die Bundesregierung hat am Mittwoch ein neues Gesetz zum Klimaschutz beschlossen.",
            "deu_Latn",
        ),
        ("Le conseil municipal a voté le budget de l'année prochaine mardi soir.", "fra_Latn"),
        ("Правительство утвердило новый бюджет на следующий год во вторник.", "rus_Cyrl"),
        ("政府は火曜日に来年度の予算案を閣議決定した。", "jpn_Jpan"),
        ("الحكومة وافقت على الميزانية الجديدة للعام المقبل يوم الثلاثاء.", "arb_Arab"),
    ],
)
def test_language_filter_labels_and_scores(text: str, label: str) -> None:
    stage = LanguageFilter(min_score=0.5)
    stage.setup(CONTEXT)
    d = doc(text + "\n" + text)
    stage([d])
    assert d.language == label and d.alive
    assert 0.5 <= d.scores["language_score"] <= 1.0


def test_language_filter_drops_outside_allow_list() -> None:
    stage = LanguageFilter(languages=["eng_Latn"])
    stage.setup(CONTEXT)
    d = doc("Die Bundesregierung hat am Mittwoch ein neues Gesetz beschlossen.")
    stage([d])
    assert (d.status, d.reason) == (Status.DROPPED, "language_not_allowed")


@dataclass
class FailsOnBoom(Stage):
    name: ClassVar[str] = "boom"

    def process(self, docs: list[Document]) -> None:
        for d in docs:
            if "boom" in d.text:
                raise RuntimeError("cannot handle boom")
            d.scores["seen"] = 1


def test_a_failing_document_costs_only_itself() -> None:
    docs = [doc("fine"), doc("boom"), doc("also fine")]
    FailsOnBoom()(docs)
    assert [d.status for d in docs] == [Status.KEPT, Status.ERROR, Status.KEPT]
    assert docs[1].reason == "stage_exception" and "cannot handle boom" in docs[1].detail
    assert docs[0].scores["seen"] == docs[2].scores["seen"] == 1


def _warc(records: list[tuple[str, bytes, bool]]) -> bytes:
    """A gzipped WARC of response records; the flag damages a record after its digest is set."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    for url, body, damage in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http
        )
        if damage:
            raw = io.BytesIO()
            WARCWriter(raw, gzip=False).write_record(record)
            out.write(gzip.compress(raw.getvalue().replace(b"second", b"SECOND")))
        else:
            writer.write_record(record)
    return out.getvalue()


def test_reader_turns_damaged_records_into_errors_and_reads_on() -> None:
    data = _warc(
        [
            ("https://a.org/1", b"<p>first</p>", False),
            ("https://a.org/2", b"<p>second</p>", True),
            ("https://a.org/3", b"<p>third</p>", False),
        ]
    )
    docs = list(read_documents(io.BytesIO(data), crawl="C", shard="s"))
    assert [d.url for d in docs] == ["https://a.org/1", "https://a.org/2", "https://a.org/3"]
    assert [d.status for d in docs] == [Status.KEPT, Status.ERROR, Status.KEPT]
    assert docs[1].reason == "block_digest_mismatch"
    assert docs[2].payload == b"<p>third</p>" and docs[2].http_status == 200


def test_reader_reports_a_truncated_stream_after_the_records_it_could_read() -> None:
    data = _warc([(f"https://a.org/{i}", b"<p>page</p>" * 50, False) for i in range(3)])
    docs = list(read_documents(io.BytesIO(data[: len(data) - 40]), crawl="C", shard="s"))
    assert [d.status for d in docs[:2]] == [Status.KEPT, Status.KEPT]
    # The cut record keeps its identity: its digest no longer matches what was read.
    assert len(docs) == 3 and docs[-1].url == "https://a.org/2"
    assert (docs[-1].status, docs[-1].reason) == (Status.ERROR, "block_digest_mismatch")


def test_toxicity_score_library_call_takes_labels_or_list_codes() -> None:
    lists = load_wordlists()
    bad = " ".join(sorted(lists["de"][0])[:3])
    text = "Der Gemeinderat hat heute den Haushalt beschlossen. " + bad
    by_label = toxicity.score([text, "Ein ruhiger Tag im Park."], "deu_Latn")
    assert by_label == toxicity.score([text, "Ein ruhiger Tag im Park."], "de")
    assert by_label[0] == pytest.approx(3 / len(text.split())) and by_label[1] == 0.0
    assert toxicity.score(["שלום"], "heb_Hebr") == [None]


def test_tokenize_stage_gives_tekkens_ids_even_for_lone_surrogates() -> None:
    stage = Tokenize()
    stage.setup(CONTEXT)
    texts = ["Grüße, 世界! 😀", "", "a\ud800b", "x" * 3000]
    docs = [doc(text) for text in texts]
    stage.process(docs)
    tokenizer = load_tokenizer()
    for document, text in zip(docs, texts, strict=True):
        assert document.tokens.dtype == np.uint32
        assert document.tokens.tolist() == tokenizer.encode(text, bos=True, eos=True)
    assert docs[1].status.value == "dropped" and docs[1].reason == "too_few_tokens"


@pytest.mark.parametrize("precision", [False, True])
def test_extract_gives_what_trafilatura_extract_gives_with_the_same_settings(
    precision: bool,
) -> None:
    """The stage builds trafilatura's options once and copies them per page; the text must be
    what trafilatura.extract builds from the same settings for each page."""
    path = read_listing(str(SAMPLE_ROOT), CRAWL).paths[0]
    with open_input(str(SAMPLE_ROOT), path) as stream:
        pages = read_documents(stream, crawl=CRAWL, shard=path)
        docs = [d for d in pages if d.content_type in HTML_TYPES and d.http_status == 200][:150]
    stage = Extract(favor_precision=precision, min_chars=0)
    expected = [
        trafilatura.extract(
            decode_html(d.payload, d.http_headers.get("content-type", "")),
            url=d.url,
            output_format="txt",
            favor_precision=precision,
            include_tables=True,
            include_comments=False,
            deduplicate=False,
            with_metadata=False,
        )
        or ""
        for d in docs
    ]
    stage.process(docs)
    texts = [d.text or "" for d in docs]
    assert sum(bool(t) for t in texts) > 100
    assert texts == expected


def test_extraction_guard_bounds_size_and_time() -> None:
    """A page over max_bytes is never parsed; one whose extraction runs past the timeout is
    stopped and audited as such; the pages beside them are extracted as usual."""
    paragraph = "<p>" + "Ein ganz gewöhnlicher Satz über das Wetter und die Stadt. " * 8 + "</p>"
    normal = f"<html><body><article>{paragraph * 5}</article></body></html>".encode()
    huge = f"<html><body>{paragraph * 40_000}</body></html>".encode()  # ~20 MB
    many = "".join(
        f"<div><p>Absatz {i}: ein gewöhnlicher Satz über das Wetter {i * 7} und die Stadt "
        f"{i * 13}.</p><a href='/x{i}'>link {i}</a></div>"
        for i in range(8000)
    )
    slow = f"<html><body><article>{many}</article></body></html>"  # ~1 s to extract here
    headers = {"content-type": "text/html; charset=utf-8"}
    docs = [
        doc(url=f"https://example.org/{i}", payload=page, http_status=200, http_headers=headers)
        for i, page in enumerate([normal, huge, slow.encode(), normal])
    ]
    started = time.monotonic()
    Extract(timeout=0.2).process(docs)
    assert time.monotonic() - started < 10
    assert [d.reason for d in docs] == [None, "too_large", "extract_timeout", None]
    assert docs[0].text and docs[0].text == docs[3].text
    assert docs[1].detail == f"{len(huge):,} bytes > 10,000,000"
    assert docs[2].detail == "stopped after 0.2 s"
    unbounded = [doc(url="https://example.org/s", payload=slow.encode(), http_status=200,
                     http_headers=headers)]  # fmt: skip
    Extract(timeout=0).process(unbounded)  # no limit: it finishes, however long it takes
    assert unbounded[0].reason is None and len(unbounded[0].text) > 100_000


def test_a_decompression_bomb_record_is_skipped_unread() -> None:
    """A record whose block is over MAX_RECORD_BYTES (here 100 MB of zeros gzipped to ~100 KB)
    is an error row, streamed through without being held; the records around it are read."""
    bomb = b"<p>" + bytes(100 * 1024 * 1024) + b"</p>"
    data = _warc(
        [("https://a.org/1", b"<p>first</p>", False), ("https://a.org/bomb", bomb, False),
         ("https://a.org/3", b"<p>third</p>", False)]
    )  # fmt: skip
    assert len(data) < 1_000_000
    del bomb
    tracemalloc.start()
    docs = list(read_documents(io.BytesIO(data), crawl="C", shard="s"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [d.status for d in docs] == [Status.KEPT, Status.ERROR, Status.KEPT]
    assert docs[1].reason == "record_too_large" and docs[1].url == "https://a.org/bomb"
    assert docs[1].payload == b"" and docs[2].payload == b"<p>third</p>"
    assert peak < 20 * 1024 * 1024

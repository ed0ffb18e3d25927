"""The run report (curation/audit/report.py): its numbers against the audit summary, thresholds from
the manifest, a run without a manifest, escaping of hostile page data, and a real browser
(Debian's headless chromium) drawing it without errors."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLE_STAGES

from heed.curation.audit.query import audit_dataset, optout_counts, summary
from heed.curation.audit.report import render_report, write_report
from heed.curation.output import AUDIT_FIELDS

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
# One audit row rewritten as a hostile page would have it: each field a different payload, so
# each is checked on its own.
HOSTILE = {
    "url": f"https://evil.test/{SCRIPT}?q={IMG}",
    "host": f"{IMG}.evil.test",
    "reason": f"reason{SCRIPT}",
    "detail": f"detail {IMG} {SCRIPT}",
    "language": f"lang{SCRIPT}",
}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The report's status colours (kept, dropped) and the tokens' colour, as RGB.
COLOURS = {"kept": (0x4C, 0x78, 0xA8), "dropped": (0xF5, 0x85, 0x18), "tokens": (0x54, 0xA2, 0x4B)}


class Page(HTMLParser):
    """The parts of a page the tests read: tables by id (rows of cell texts), the histogram
    figures by column (their inner HTML's text and markup), the header's terms, all text, and
    every start tag."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: dict[str, list[str]] = {}
        self.text: list[str] = []
        self.tags: list[str] = []
        self.head: list[str] = []  # the header's terms and values, alternating
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._figure: str | None = None
        self._figure_depth = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "table" and found.get("id"):
            self._table = found["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        if tag == "figure" and found.get("data-column"):
            self._figure = found["data-column"]
            self.figures[self._figure] = []
            self._figure_depth = 0
        if self._figure is not None:
            self._figure_depth += tag == "figure"
            self.figures[self._figure].append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "figure" and self._figure is not None:
            self._figure_depth -= 1
            if self._figure_depth == 0:
                self._figure = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.lasttag in ("dt", "dd") and data.strip():
            self.head.append(data.strip())
        if self._cell is not None:
            self._cell.append(data)
        if self._figure is not None:
            self.figures[self._figure].append(data)

    def rows(self, table: str) -> dict[str, list[str]]:
        """A table's body rows by their first cell."""
        return {row[0]: row for row in self.tables[table][1:]}


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


def score_columns(out: Path) -> list[str]:
    """The audit's numeric columns beyond the fixed ones: each needs a histogram."""
    fixed = {f.name for f in AUDIT_FIELDS}
    return [
        f.name
        for f in audit_dataset(out).schema
        if f.name not in fixed and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]


@pytest.fixture(scope="module")
def report(local_run: Path, tmp_path_factory) -> Path:
    # Written beside, not into, the shared run: other tests compare its files byte for byte.
    return write_report(local_run, tmp_path_factory.mktemp("report") / "sample.html")


@pytest.fixture(scope="module")
def page(report: Path) -> Page:
    return Page(report.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hostile_run(local_run: Path, tmp_path_factory) -> Path:
    """A copy of the sample run whose one error record (the sample's corrupted WARC record)
    carries script and markup in its url, host, reason, detail and language."""
    out = tmp_path_factory.mktemp("hostile") / "out"
    shutil.copytree(local_run, out)
    for path in sorted((out / "audit").glob("part-*.parquet")):
        table = pq.read_table(path)
        errors = np.flatnonzero(table.column("status").to_numpy(zero_copy_only=False) == "error")
        if errors.size:
            break
    else:
        raise AssertionError("the sample run has no error record to rewrite")
    mask = pa.array(np.arange(table.num_rows) == errors[0])
    for name, value in HOSTILE.items():
        index = table.schema.get_field_index(name)
        column = pc.if_else(mask, pa.scalar(value, pa.string()), table.column(name))
        table = table.set_column(index, table.schema.field(index), column)
    schema = pq.read_schema(path)
    pq.write_table(table, path)
    assert pq.read_schema(path).equals(schema, check_metadata=True)
    return out


def test_the_header_names_the_run(page: Page, local_run: Path) -> None:
    manifest = json.loads((local_run / "manifest.json").read_text())
    head = dict(zip(page.head[::2], page.head[1::2], strict=True))
    assert head["crawl"] == "CC-MAIN-SAMPLE" and head["config"] == "sample"
    assert number(head["records"]) == manifest["totals"]["records"]
    assert number(head["tokens"]) == manifest["totals"]["tokens"]
    assert number(head["kept"]) == summary(local_run)["status"]["kept"]
    assert "No manifest.json" not in " ".join(page.text)


def test_the_funnel_has_every_stage_with_the_summary_counts(page: Page, local_run: Path) -> None:
    funnel = summary(local_run)["funnel"]
    rows = page.rows("funnel")
    assert list(rows) == [entry["stage"] for entry in funnel]
    for entry in funnel:
        stage, reaching, dropped, errors, passed, reasons = rows[entry["stage"]]
        assert number(reaching) == entry["in"]
        assert number(dropped) == sum(entry["dropped"].values())
        assert number(errors) == sum(entry["error"].values())
        assert number(passed) == entry["out"]
        for reason, n in {**entry["dropped"], **entry["error"]}.items():
            assert f"{reason}\xa0{n:,}" in reasons, (stage, reason)
    # The sample loses records at the opt-out, extract and toxicity stages and one at reading.
    assert sum(number(row[2]) + number(row[3]) for row in rows.values()) > 0


def test_every_language_has_its_counts_and_a_bar(page: Page, local_run: Path) -> None:
    languages = summary(local_run)["languages"]
    rows = page.rows("languages")
    assert set(rows) == set(languages)
    text = " ".join(page.text)
    for language, counts in languages.items():
        _, records, kept, dropped, errors, tokens, _share = rows[language]
        assert [number(c) for c in (records, kept, dropped, errors, tokens)] == [
            counts["records"],
            counts["kept"],
            counts["dropped"],
            counts["error"],
            counts["tokens"],
        ]
        assert text.count(language) >= 3, language  # table row and both charts' labels


def test_a_histogram_per_score_column_with_the_manifest_thresholds(
    page: Page, local_run: Path
) -> None:
    columns = score_columns(local_run)
    assert {"extract_chars", "language_score", "toxicity_score", "num_tokens"} <= set(columns)
    assert list(page.figures) == columns
    thresholds = {
        column: entry["value"]
        for stage in json.loads((local_run / "manifest.json").read_text())["thresholds"].values()
        for column, entry in stage.items()
    }
    assert thresholds["language_score"] == 0.5 and thresholds["extract_chars"] == 200
    for column in columns:
        figure = "".join(page.figures[column])
        assert "<svg" in figure and "<rect" in figure, column
        lines = figure.count('class="threshold"')
        if column in thresholds:
            assert lines == 1 and f"threshold {thresholds[column]:g}" in figure, column
        else:
            assert lines == 0, column


def test_optout_and_errors_sections(page: Page, local_run: Path) -> None:
    counts = optout_counts(local_run)
    text = " ".join(page.text)
    for name, n in counts["agent"] + counts["signal"]:
        assert f"{name}: records {n:,}" in text, name  # a bar's tooltip: its label and value
    assert {row[0]: number(row[1]) for row in page.tables["optout-hosts"][1:]} == dict(
        counts["host"]
    )
    assert page.rows("errors") == {"read": ["read", "block_digest_mismatch", "1"]}


def test_optout_counts_a_product_token_once_per_record(tmp_path) -> None:
    # An audit written before the stage named CCBot once (version 2) lists CCBot, CCBot/2.0
    # and CCBot/1.0: one crawler (RFC 9309 2.2.1), one count per record, named as first written.
    agents = ["CCBot,CCBot/2.0,CCBot/1.0,GPTBot", "GPTBot,*", "ccbot/1.0", None]
    (tmp_path / "audit").mkdir()
    table = pa.table(
        {
            "host": ["a.org", "a.org", "b.org", "c.org"],
            "stage": ["opt_out", "opt_out", "opt_out", "extract"],
            "optout_signal": ["robots", "robots", "robots", None],
            "robots_agents": agents,
        }
    )
    pq.write_table(table, tmp_path / "audit" / "part-00000.parquet")
    counts = optout_counts(tmp_path)
    assert counts is not None
    assert counts["agent"] == [("CCBot", 2), ("GPTBot", 2), ("*", 1)]
    assert counts["signal"] == [("robots", 3)]


def test_a_run_without_manifest_renders_without_thresholds(local_run: Path, tmp_path) -> None:
    out = tmp_path / "out"
    for part in ("audit", "documents"):  # an unfinished run: no manifest yet
        shutil.copytree(local_run / part, out / part)
    page = Page(render_report(out))
    text = " ".join(page.text)
    assert "No manifest.json" in text and "threshold unknown (no manifest)" in text
    assert list(page.figures) == score_columns(local_run)
    assert not any('class="threshold"' in "".join(f) for f in page.figures.values())
    # In chain order from the audit files' metadata, the same funnel as the finished run's.
    rows = page.rows("funnel")
    assert list(rows) == ["read", *SAMPLE_STAGES]
    for entry in summary(local_run)["funnel"]:
        counts = [number(cell) for cell in rows[entry["stage"]][1:5]]
        assert counts == [
            entry["in"],
            sum(entry["dropped"].values()),
            sum(entry["error"].values()),
            entry["out"],
        ]
    assert (
        number(dict(zip(page.head[::2], page.head[1::2], strict=True))["records"])
        == (summary(local_run)["records"])
    )


def test_per_language_thresholds_and_quantile_cutoffs_are_listed(
    local_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(local_run / "audit", out / "audit")
    manifest = json.loads((local_run / "manifest.json").read_text())
    manifest["thresholds"]["language"]["language_score"]["by_language"] = {
        "jpn_Jpan": 0.7,
        SCRIPT: 0.9,
    }
    toxicity = next(s for s in manifest["stages"] if s["name"] == "toxicity")
    toxicity["params"].update(quantile=0.05, cutoffs={"deu_Latn": [0.0123, 0.5]})
    (out / "manifest.json").write_text(json.dumps(manifest))
    html_text = render_report(out)
    page = Page(html_text)
    language = "".join(page.figures["language_score"])
    assert "per-language thresholds" in language and "jpn_Jpan\xa00.7" in language
    assert f"{SCRIPT}\xa00.9" in language and SCRIPT not in html_text
    toxicity_text = "".join(page.figures["toxicity_score"])
    assert "top 5% per language" in toxicity_text and "deu_Latn\xa00.0123" in toxicity_text


def test_rendering_is_deterministic(local_run: Path, report: Path) -> None:
    assert render_report(local_run) == report.read_text(encoding="utf-8")


def test_page_data_is_escaped(hostile_run: Path) -> None:
    path = write_report(hostile_run)
    assert path == hostile_run / "report.html"
    assert sorted(p.name for p in hostile_run.glob("*report*")) == ["report.html"]
    text = path.read_text(encoding="utf-8")
    # The page has no script and no image of its own: any would come from the data.
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert "onerror=alert" not in text.replace("onerror=alert(1)&gt;", "")
    for field, value in HOSTILE.items():
        assert html.escape(value, quote=True) in text, field
    page = Page(text)
    shown = "".join(page.text)
    for field, value in HOSTILE.items():
        assert value in shown, field  # read back as text, not markup
    assert HOSTILE["language"] in page.rows("languages")
    assert page.rows("errors")["read"][1] == HOSTILE["reason"]


# --- a real browser -----------------------------------------------------------------------


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: `make setup` installs Debian's chromium (apt-get install chromium)"
    )
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit, non-interlaced PNG as a (height, width, channels) array: zlib for the data,
    the five PNG row filters undone here (no imaging library needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), header
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    stride = width * bpp
    rows = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8).reshape(height, stride + 1)
    image = np.zeros((height, stride), np.uint8)
    prior = np.zeros(stride, np.uint8)
    for r in range(height):
        kind, line = int(rows[r, 0]), rows[r, 1:]
        if kind == 0:  # None
            current = line.copy()
        elif kind == 1:  # Sub: a running sum per channel
            summed = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint64) % 256
            current = summed.astype(np.uint8).reshape(stride)
        elif kind == 2:  # Up
            current = line + prior
        else:  # Average, Paeth: each byte needs the one decoded before it, byte by byte
            cur, up = bytearray(line.tobytes()), prior.tobytes()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    cur[i] = (cur[i] + ((a + b) >> 1)) & 255
                    continue
                c = up[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc_ = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc_ else b if pb <= pc_ else c)) & 255
            current = np.frombuffer(bytes(cur), np.uint8)
        image[r] = current
        prior = current
    return image.reshape(height, width, bpp)


def test_chromium_draws_the_report_without_errors(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = chromium(
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        "--enable-logging=stderr",
        "--v=0",
        report.as_uri(),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if re.search(r"CONSOLE|Uncaught", line)]
    assert console == []
    image = decode_png(shot.read_bytes())
    assert image.shape[:2] == (4000, 1280)
    rgb = image[..., :3].reshape(-1, 3).astype(np.int32)
    not_white = (rgb < 245).any(axis=1).mean()
    assert not_white > 0.05, f"only {not_white:.1%} of the page is not white"
    distinct = np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]).size
    assert distinct > 50
    for name, colour in COLOURS.items():  # the bars of the charts, drawn in their colours
        share = (np.abs(rgb - colour).sum(axis=1) < 12).mean()
        assert share > 0.002, f"{name} bars cover {share:.3%} of the page"


def test_chromium_shows_the_hostile_data_as_text(hostile_run: Path, tmp_path: Path) -> None:
    path = write_report(hostile_run, tmp_path / "hostile.html")
    proc = chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Page(proc.stdout)
    assert "h1" in dom.tags and "svg" in dom.tags
    assert "script" not in dom.tags and "img" not in dom.tags
    shown = "".join(dom.text)
    for field, value in HOSTILE.items():
        assert value in shown, field

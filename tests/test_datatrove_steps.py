"""heed's opt-out, extraction, language ID and PII as steps of a real datatrove pipeline
(LocalPipelineExecutor, datatrove's JsonlWriter): their decisions must be heed's own."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import CRAWL, SAMPLE_ROOT

import heed

STAGES = ("opt_out", "extract", "language", "pii")
SHARD_GLOB = "**/warc/*00000.warc.gz"  # the first shard of the sample


@pytest.fixture(scope="module")
def heed_run(tmp_path_factory) -> dict[str, dict]:
    """heed's own run of the sample's first shard through the four stages: audit rows and kept
    documents by record id."""
    config = heed.load_config(shards=1)
    config = dataclasses.replace(
        config, stages=tuple(spec for spec in config.stages if spec.name in STAGES)
    )
    out = tmp_path_factory.mktemp("heed") / "out"
    result = heed.run_corpus(config, out, executor="local")
    assert result.complete and result.records > 500
    audit = pq.read_table(out / "audit").to_pylist()
    documents = {row["id"]: row for row in pq.read_table(out / "documents").to_pylist()}
    return {"audit": {row["record_id"]: row for row in audit}, "documents": documents}


def run_datatrove(out: Path, reader) -> dict[str, dict]:
    """The four heed steps after `reader` in a datatrove pipeline; kept documents and, per
    step, the documents it dropped (exclusion writers), by id."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    from heed.datatrove import PII, Extract, Language, OptOut

    def dropped(name: str) -> JsonlWriter:
        return JsonlWriter(str(out / f"dropped-{name}"), compression=None)

    config = heed.load_config().source
    LocalPipelineExecutor(
        pipeline=[
            reader,
            OptOut(config=config, exclusion_writer=dropped("opt_out")),
            Extract(config=config, exclusion_writer=dropped("extract")),
            Language(config=config, exclusion_writer=dropped("language")),
            PII(config=config, exclusion_writer=dropped("pii")),
            JsonlWriter(str(out / "kept"), compression=None),
        ],
        tasks=1,
        logging_dir=str(out / "logs"),
    ).run()

    def read(folder: Path) -> dict[str, dict]:
        files = sorted(folder.glob("*.jsonl"))
        lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        return {doc["id"]: doc for doc in lines}

    found = {"kept": read(out / "kept")}
    for name in STAGES:
        found[name] = read(out / f"dropped-{name}") if (out / f"dropped-{name}").exists() else {}
    return found


def assert_same_decision(row: dict, documents: dict, found: dict) -> None:
    record = row["record_id"]
    if row["status"] == "kept":
        kept = found["kept"][record]
        document = documents[record]
        assert kept["text"] == document["text"], record
        meta = kept["metadata"]
        assert meta["language"] == row["language"]
        assert meta["language_score"] == pytest.approx(row["language_score"])
        for kind in ("email", "ip", "iban", "card", "phone"):
            assert meta[f"pii_{kind}"] == row[f"pii_{kind}"], (record, kind)
    else:
        step = found[row["stage"]]
        assert record in step, (record, row["stage"], row["reason"])
        meta = step[record]["metadata"]
        assert meta["filter_reason"] == row["reason"] and meta["heed_detail"] == row["detail"]
        assert record not in found["kept"]


def test_heed_steps_after_heeds_reader_decide_as_heed_corpus(heed_run, tmp_path) -> None:
    from heed.datatrove import HeedWarcReader

    reader = HeedWarcReader(
        str(SAMPLE_ROOT / "crawl-data" / CRAWL), crawl=CRAWL, glob_pattern=SHARD_GLOB
    )
    found = run_datatrove(tmp_path, reader)
    audit = heed_run["audit"]
    readable = [row for row in audit.values() if row["stage"] != "read"]
    assert {row["status"] for row in readable} == {"kept", "dropped"}
    assert len(found["kept"]) == sum(row["status"] == "kept" for row in readable) > 100
    for row in readable:
        assert_same_decision(row, heed_run["documents"], found)
    # Damaged records never reach a step (heed's own run audits them as read errors).
    seen = set(found["kept"]).union(*(found[name] for name in STAGES))
    assert seen == {row["record_id"] for row in readable}


def payload_types(shard: Path) -> dict[str, str]:
    """Record id -> WARC-Identified-Payload-Type of every response record, read by warcio."""
    from warcio.archiveiterator import ArchiveIterator

    found = {}
    with open(shard, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                headers = record.rec_headers
                found[headers["WARC-Record-ID"]] = headers.get("WARC-Identified-Payload-Type")
    return found


def test_heed_steps_after_datatroves_own_warc_reader(heed_run, tmp_path) -> None:
    """datatrove's WarcReader keeps only HTML payloads (by their WARC payload type), as text,
    with the URL and the date and no HTTP headers: every decision on what it reads that does
    not rest on a header is heed's own."""
    from datatrove.pipeline.readers import WarcReader

    crawl = SAMPLE_ROOT / "crawl-data" / CRAWL
    reader = WarcReader(str(crawl), glob_pattern=SHARD_GLOB)
    found = run_datatrove(tmp_path, reader)
    (shard,) = crawl.glob(SHARD_GLOB)
    types = payload_types(shard)
    html = {
        record for record, kind in types.items() if kind in ("text/html", "application/xhtml+xml")
    }
    seen = set(found["kept"]).union(*(found[name] for name in STAGES))
    assert seen == html and len(html) < len(types)
    rows = [r for r in heed_run["audit"].values() if r["record_id"] in html]
    by_header = {
        r["record_id"] for r in rows if r["optout_signal"] in ("tdm_header", "noai_header")
    }
    assert by_header  # the sample plants both header signals
    for row in rows:
        if row["record_id"] in by_header:
            # Refused by a header heed saw: datatrove's opt-out step has no headers to read.
            assert row["record_id"] not in found["opt_out"]
        else:
            assert_same_decision(row, heed_run["documents"], found)


def test_a_corpus_level_stage_is_refused_as_a_step() -> None:
    """dedup needs every document before it decides; one datatrove step sees a task's share."""
    from heed.datatrove import HeedStep

    with pytest.raises(ValueError, match="corpus-level stage"):
        HeedStep("dedup")
    assert HeedStep("pii").name == "heed pii"

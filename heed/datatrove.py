"""heed's stages as datatrove pipeline steps.

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter
    from heed.datatrove import HeedWarcReader, OptOut, Extract, Language, PII

    LocalPipelineExecutor(pipeline=[
        HeedWarcReader("sample/crawl-data/CC-MAIN-SAMPLE", glob_pattern="**/warc/*.warc.gz"),
        OptOut(config="configs/sample.toml"),     # [stage.opt_out] and the crawl from a config
        Extract(),
        Language(min_score=0.5),                  # parameters as in [stage.language]
        PII(),
        JsonlWriter("out/datatrove"),
    ]).run()

Each step runs heed's own stage on datatrove documents, in batches: a document heed drops is
dropped with heed's reason (`filter_reason` in an exclusion writer, with `heed_stage` and
`heed_detail` in its metadata); a kept one gets heed's scores in its metadata (`language` and
`language_score`, `pii_email`, `robots_status`, ...) and, where the stage changes the text
(extraction, PII redaction), the new text.

What a step sees of a record: `HeedWarcReader` keeps everything heed's own run sees (HTTP status
and headers, the raw payload, the record's shard and offset), so the steps decide exactly as
`heed corpus` does. After datatrove's own `WarcReader` (HTML as text, URL and date, no HTTP
headers) the opt-out step still applies robots.txt, TDMRep's tdmrep.json and `<meta>` signals,
but not the `X-Robots-Tag` or `tdm-reservation` headers, and extraction cannot drop a non-200
answer.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from datatrove.data import Document as DatatroveDocument
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers.base import BaseDiskReader

from heed.curation.config import PipelineConfig
from heed.curation.crawl.warc import read_documents
from heed.curation.document import Document, Status
from heed.curation.pipeline import Pipeline
from heed.curation.registry import stage_class

# Metadata keys HeedWarcReader writes; the raw payload is removed once extraction has run.
PAYLOAD = "heed_payload"


class HeedWarcReader(BaseDiskReader):
    """WARC files read by heed's reader: every response record (damaged ones are skipped and
    logged), with what heed's stages need in the metadata: `url`, `date`, `http_status`,
    `http_headers`, the raw payload, `crawl`, `shard` and `offset`. The text is the payload
    decoded as UTF-8 (what extraction replaces)."""

    name = "heed WARC"

    def __init__(self, data_folder: Any, crawl: str = "", **kwargs: Any) -> None:
        super().__init__(data_folder, **kwargs)
        self.crawl = crawl

    def read_file(self, filepath: str):  # type: ignore[override]
        with self.data_folder.open(filepath, "rb", compression=None) as stream:
            for doc in read_documents(stream, crawl=self.crawl, shard=filepath):
                if doc.status is Status.ERROR:
                    self.stat_update("damaged_records")
                    continue
                with self.track_time():
                    yield DatatroveDocument(
                        text=doc.payload.decode("utf-8", "replace"),
                        id=doc.record_id,
                        metadata={
                            "url": doc.url,
                            "date": doc.warc_date,
                            "http_status": doc.http_status,
                            "http_headers": dict(doc.http_headers),
                            PAYLOAD: doc.payload,
                            "crawl": doc.crawl,
                            "shard": doc.shard,
                            "offset": doc.offset,
                        },
                    )


def to_heed(doc: DatatroveDocument, reads_payload: bool) -> Document:
    """A datatrove document as heed sees a record. With HeedWarcReader's metadata: the record
    itself (status, headers, raw payload). Without: for a stage that reads the page
    (`reads_payload`: opt-out, extraction) the text is the page's HTML, fetched with HTTP 200;
    for the others it is the document's text."""
    meta = doc.metadata
    url = str(meta.get("url") or "")
    if PAYLOAD in meta:
        heed = Document.from_html(meta[PAYLOAD], url=url, record_id=doc.id)
        heed.http_status = int(meta.get("http_status") or 0)
        heed.http_headers = dict(meta.get("http_headers") or {})
        heed.crawl, heed.shard = str(meta.get("crawl", "")), str(meta.get("shard", ""))
        heed.offset = int(meta.get("offset") or 0)
        if not reads_payload:
            heed.text = doc.text
    elif reads_payload:
        heed = Document.from_html(doc.text, url=url, record_id=doc.id)
    else:
        heed = Document.from_text(doc.text, url=url, record_id=doc.id)
    heed.warc_date = str(meta.get("date") or "")
    heed.language = meta.get("language")
    return heed


class HeedStep(BaseFilter):
    """One heed stage as a datatrove filter.

    `stage` is a stage name (or `module:Class`); its parameters come from `params` (the
    [stage.NAME] table of a heed config), or from the heed config file `config` (which also
    names the crawl whose robots.txt captures the opt-out reads). What stages build once
    (robots snapshots) goes under `workdir` (default: a temporary folder per process)."""

    type = "🛡 - HEED"

    def __init__(
        self,
        stage: str,
        params: dict[str, Any] | None = None,
        *,
        config: str | Path | None = None,
        workdir: str | Path | None = None,
        batch_size: int = 64,
        exclusion_writer: Any = None,
    ) -> None:
        if stage_class(stage).corpus_level:
            raise ValueError(
                f"{stage} is a corpus-level stage: it decides only once it has seen every "
                "document, which one step of a datatrove pipeline never does. Run it with "
                "`heed corpus` (or heed.Pipeline.run on documents in memory), or use "
                "datatrove's own dedup steps here"
            )
        self.name = f"heed {stage}"  # before datatrove's __init__ names the step's stats
        super().__init__(exclusion_writer, batch_size)
        self.stage, self.params = stage, dict(params or {})
        self.config_path = str(config) if config else None
        self.workdir = str(workdir) if workdir else None
        self._pipeline: Pipeline | None = None

    def _chain(self) -> Pipeline:
        if self._pipeline is None:
            if self.config_path:
                config = PipelineConfig.load(self.config_path)
                (spec,) = [s for s in config.stages if s.ref == self.stage or s.name == self.stage]
                spec = spec.with_params(**self.params)
                config = dataclasses.replace(config, stages=(spec,))
                workdir = self.workdir or tempfile.mkdtemp(prefix="heed-datatrove-")
                self._pipeline = Pipeline.from_config(config, workdir)
            else:
                params = {self.stage: self.params} if self.params else {}
                self._pipeline = Pipeline.from_stages([self.stage], params, self.workdir)
        return self._pipeline

    def filter(self, doc: DatatroveDocument) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[DatatroveDocument]) -> list[bool | tuple[bool, str]]:
        pipeline = self._chain()
        (stage,) = pipeline.stages
        docs = [to_heed(doc, stage.reads_payload) for doc in batch]
        pipeline.process(docs)
        verdicts: list[bool | tuple[bool, str]] = []
        for doc, heed in zip(batch, docs, strict=True):
            meta = doc.metadata
            meta.update({c: heed.scores[c] for c in stage.columns if c in heed.scores})
            if heed.language:
                meta["language"] = heed.language
            if heed.text is not None and heed.text != doc.text:
                doc.text = heed.text
            if stage.name == "extract":
                meta.pop(PAYLOAD, None)  # no longer needed, and not JSON for the writers
            if heed.alive:
                verdicts.append(True)
                continue
            meta.pop(PAYLOAD, None)
            meta["heed_stage"] = heed.stage
            meta["heed_detail"] = heed.detail
            meta["heed_status"] = heed.status.value
            verdicts.append((False, heed.reason or heed.status.value))
        return verdicts


class OptOut(HeedStep):
    """robots.txt (as the snapshots and the crawl captured it), TDMRep and noai: heed's
    `opt_out` stage."""

    def __init__(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__("opt_out", params, **kwargs)


class Extract(HeedStep):
    """heed's `extract` stage: the page's main text replaces its HTML."""

    def __init__(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__("extract", params, **kwargs)


class Language(HeedStep):
    """heed's `language` stage: `language` (e.g. deu_Latn) and `language_score` in the
    metadata; drops what its thresholds and allow-list refuse."""

    def __init__(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__("language", params, **kwargs)


class PII(HeedStep):
    """heed's `pii` stage: emails, IP addresses, IBANs, cards and phone numbers replaced by
    placeholders in the text; the counts in the metadata."""

    def __init__(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__("pii", params, **kwargs)

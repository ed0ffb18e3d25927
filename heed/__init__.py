"""heed: compliant web-data curation (Common Crawl -> audited, tokenized Parquet) and a compact
trainer.

The Python API (the command line is a thin layer over it):

    import heed

    result = heed.run_corpus("configs/sample.toml", out="out/sample", executor="local")
    result.records, result.kept, result.tokens, result.dropped, result.failed, result.paths

    pipeline = heed.Pipeline.from_config()               # the sample config's stage chain
    docs = pipeline.run([heed.Document.from_html(html, url="https://example.org/a"),
                         heed.Document.from_text("Some text ...")])
    docs[0].status, docs[0].stage, docs[0].reason, docs[0].scores

Names are imported on first use, so `import heed` is cheap and loads no model.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("heed")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# name -> module that defines it
_API = {
    "load_config": "heed.curation.config",
    "PipelineConfig": "heed.curation.config",
    "ConfigError": "heed.curation.errors",
    "Document": "heed.curation.document",
    "Status": "heed.curation.document",
    "Stage": "heed.curation.stage",
    "Filter": "heed.filters.base",
    "Pipeline": "heed.curation.pipeline",
    "run_corpus": "heed.curation.run.driver",
    "run_calibration": "heed.curation.run.driver",
    "CorpusResult": "heed.curation.run.driver",
    "Progress": "heed.curation.run.executors",
    "explain": "heed.curation.audit.query",
    "summary": "heed.curation.audit.query",
}
__all__ = [
    "ConfigError",
    "CorpusResult",
    "Document",
    "Filter",
    "Pipeline",
    "PipelineConfig",
    "Progress",
    "Stage",
    "Status",
    "__version__",
    "explain",
    "load_config",
    "run_calibration",
    "run_corpus",
    "summary",
]

if TYPE_CHECKING:
    from heed.curation.audit.query import explain, summary
    from heed.curation.config import PipelineConfig, load_config
    from heed.curation.document import Document, Status
    from heed.curation.errors import ConfigError
    from heed.curation.pipeline import Pipeline
    from heed.curation.run.driver import CorpusResult, run_calibration, run_corpus
    from heed.curation.run.executors import Progress
    from heed.curation.stage import Stage
    from heed.filters.base import Filter


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'heed' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value

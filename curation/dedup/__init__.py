"""Exact, near (MinHash LSH) and URL deduplication, as pure functions over Parquet files.

The per-shard phase computes `signatures(docs, settings)` and writes them beside the shard's
outputs; the corpus phase runs the rounds of a `DedupPlan` (each task a plain function over
files, free of Ray) and leaves one decision file per signature file.
"""

from heed.curation.dedup.corpus import DECISION_SCHEMA, DECISIONS
from heed.curation.dedup.plan import DedupPlan, Round, Task, run_locally
from heed.curation.dedup.settings import DedupSettings
from heed.curation.dedup.signatures import SIGNATURE_SCHEMA, signatures

__all__ = [
    "DECISIONS",
    "DECISION_SCHEMA",
    "SIGNATURE_SCHEMA",
    "DedupPlan",
    "DedupSettings",
    "Round",
    "Task",
    "run_locally",
    "signatures",
]

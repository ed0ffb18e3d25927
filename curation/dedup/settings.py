"""What the dedup stage may be told: which duplicates to look for, how, and which copy to keep.

The fields are the `[stage.dedup]` table of a config, so they have TOML's types only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KEEP_RULES = ("earliest", "latest")
SCOPES = ("language", "global")
# Scripts written without spaces between words (ISO 15924, as the script part of heed's
# language labels: cmn_Hani, jpn_Jpan, tha_Thai): their n-grams are of characters, not words.
# Chinese (Han, simplified and traditional), Japanese (and its kana), Thai, Lao, Khmer, Burmese,
# Tibetan.
UNSPACED_SCRIPTS = ["Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr",
                    "Tibt"]  # fmt: skip


@dataclass(frozen=True)
class DedupSettings:
    """Exact, near and URL deduplication.

    URL dedup runs first: of the captures of one normalised URL it keeps one (`url_keep`).
    Content dedup then runs over the survivors: documents joined by an identical normalised
    text (`exact`) or by a shared MinHash band (`near`) form one cluster, connected
    components over those links, and each cluster keeps one document (`keep`).
    """

    url: bool = True
    exact: bool = True
    near: bool = True
    # "language": documents are compared only with documents of their own language
    # (FineWeb-2); "global": with every document.
    scope: str = "language"
    # Which capture of a cluster is kept: "earliest" or "latest" capture time; ties, and
    # captures without a time (always last), go to the smallest record id.
    keep: str = "earliest"
    url_keep: str = "latest"
    # MinHash over word n-grams with LSH banding; FineWeb's defaults.
    ngram_words: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1
    # Unspaced scripts use n-grams of characters instead of words.
    unspaced_scripts: list[str] = field(default_factory=lambda: list(UNSPACED_SCRIPTS))
    ngram_chars: int = 5
    # How many documents one task of the corpus step handles: its memory grows with it, the
    # number of tasks (and of the files they exchange) falls with it. Signature files are taken
    # in groups of up to this many documents, and each shuffle has one hash partition per this
    # many documents of the corpus. Changes no output, so describe() leaves it out.
    documents_per_task: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("url", "exact", "near"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"dedup.{name} must be true or false, not {getattr(self, name)!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"dedup.scope must be one of {SCOPES}, not {self.scope!r}")
        for name in ("keep", "url_keep"):
            if getattr(self, name) not in KEEP_RULES:
                raise ValueError(
                    f"dedup.{name} must be one of {KEEP_RULES}, not {getattr(self, name)!r}"
                )
        for name, low, high in (
            ("ngram_words", 1, 64),
            ("ngram_chars", 1, 256),
            ("bands", 1, 1024),
            ("rows", 1, 1024),
            ("documents_per_task", 1, 1 << 40),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(
                    f"dedup.{name} must be an integer in [{low}, {high}], not {value!r}"
                )
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ValueError(f"dedup.seed must be an integer in [0, 2**32), not {seed!r}")
        scripts = self.unspaced_scripts
        if not isinstance(scripts, list | tuple) or not all(
            isinstance(code, str) and code for code in scripts
        ):
            raise ValueError(
                f"dedup.unspaced_scripts must be a list of script codes (Hani, Thai), not "
                f"{scripts!r}"
            )
        object.__setattr__(self, "unspaced_scripts", sorted(set(scripts)))

    @property
    def permutations(self) -> int:
        return self.bands * self.rows

    @property
    def threshold(self) -> float:
        """The Jaccard similarity at which a pair is found with probability about one half."""
        return (1 / self.bands) ** (1 / self.rows)

    def describe(self) -> dict[str, Any]:
        """What decides the outputs, for the manifest: the settings and every hash and seed."""
        settings = asdict(self)
        del settings["documents_per_task"]
        return {
            "settings": settings,
            "text_normalisation": "datatrove simplify_text defaults: lower case, numbers -> 0, "
            "punctuation -> space, whitespace collapsed, accents (NFD marks) removed",
            "words": "the normalised text split on spaces; a language label whose script is in "
            "unspaced_scripts: characters, "
            "spaces removed",
            "shingle_hash": "polynomial hash of the n-gram's UTF-8 bytes (each byte + 1, base "
            f"{SHINGLE_BASE:#x}, mod 2**64) xor (length * {GOLDEN:#x}), then the splitmix64 "
            "finaliser",
            "permutations": f"(a * shingle + b) mod (2**61 - 1), computed with wrap-around "
            f"uint64 products as datatrove does; a, b: numpy RandomState({self.seed}) "
            f"randint(1, 2**61 - 1) then randint(0, 2**61 - 1), {self.permutations} each",
            "band_key": "splitmix64 chain over (language salt, band index, the band's rows); "
            "language salt: first 8 bytes of blake2b(language) when scope is language, else 0",
            "exact_key": "first 8 bytes of blake2b(language + NUL + text NFC-normalised with "
            "whitespace runs collapsed), language empty when scope is global",
            "url_key": "first 8 bytes of blake2b(the URL without scheme, fragment or default "
            "port, host lower case without www., query parameters sorted)",
            "partition": "splitmix64(key) mod the number of partitions",
        }


# Constants of the hashes, named in describe() (curation/dedup/minhash.py uses them).
SHINGLE_BASE = 0x100000001B3
GOLDEN = 0x9E3779B97F4A7C15

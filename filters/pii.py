"""PII redaction: emails, IP addresses (v4, v6), IBANs, payment card numbers and phone numbers
become placeholders (Apertus's for the first three); the count of each kind goes to the audit.

How a text is searched, cheapest first:

1. A pre-check per kind, a necessary condition far cheaper than the recognizer ('@' for
   emails, a dotted-digits or colon-hex pattern for IPs, two capitals and two digits for IBANs,
   a run of 7 digits with separators for phones, 12 for cards). Most web pages hold no PII;
   for them no recognizer runs.
2. Emails, IPs, IBANs: presidio-analyzer's pattern recognizers, called directly: its
   `AnalyzerEngine` adds ~25 µs a call and ~75 µs a result (its context enhancer deep-copies
   results, and has no NLP model to work with). Emails and IP addresses hold no whitespace, so
   their recognizers read only the words the pre-check hit (the IP one costs ~300-480 µs on a
   whole 2 KB page). presidio checks IBANs' mod-97 and their country's format; heed adds the
   country's length (presidio's formats match as prefixes, and a few are short).
3. Cards and phones: heed's own, because presidio's are too slow or too narrow. Its
   `PhoneRecognizer` runs phonenumbers' `PhoneNumberMatcher` over the whole text once per
   region: ~85 docs/s on 2 KB pages in the issue's measurement, 150-440 docs/s on
   `benchmarks/pii_bench.py`'s mix with the 12 default regions, against a target of 2,000
   with all five kinds; and its card pattern stops at 16 digits. One compiled regex finds
   candidate digit runs (groups joined by spaces, hyphens, dots, slashes, parentheses; a
   leading + and an extension allowed); each is validated: a card by length, issuer prefix
   and Luhn; a phone by `phonenumbers.is_valid_number`, in the configured regions when written
   nationally, in its own country when written +CC or 00CC.
4. Look-alikes are refused by shape and by the words before them: versions (a version label
   before a dotted quad, more dotted parts around it, a single-digit dotted group), dates and
   date-times, ISBNs (checksum and shape), order/invoice/reference numbers (a label before
   them), prices (a currency beside them, thousands grouping), times (a colon is no separator),
   and the groups of an IBAN that failed its checksum. A phone written as a bare digit run
   needs a word like 'tel', 'call' or '電話' before it: without one it is any figure.
5. Overlapping spans: the higher score wins, then the longer span, then the earlier one.

Offline: presidio's NLP engine is never built with a model (its default would download
spaCy's; `build_analyzer` keeps the no-op one), and tldextract reads its bundled suffix list.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

from heed.curation.document import Document
from heed.curation.stage import RunContext, Stage

# presidio probes for a CUDA device when its NLP package is imported: where torch is installed
# (the trainer's extra) and a GPU is present, every worker would open a CUDA context. heed never
# builds an NLP model, so the answer is known.
os.environ.setdefault("PRESIDIO_DEVICE", "cpu")

# kind -> (presidio entity, placeholder)
KINDS: dict[str, tuple[str, str]] = {
    "email": ("EMAIL_ADDRESS", "<email-pii>"),
    "ip": ("IP_ADDRESS", "<ip-pii>"),
    "iban": ("IBAN_CODE", "<iban-pii>"),
    "card": ("CREDIT_CARD", "<card-pii>"),
    "phone": ("PHONE_NUMBER", "<phone-pii>"),
}
PRESIDIO_KINDS = ("email", "ip", "iban")
DEFAULT_PHONE_REGIONS = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "BR", "IN", "JP", "CN"]

# Scores of heed's own detectors, on presidio's scale (there a validated pattern scores 1.0 and
# an IP 0.6). A checksum makes a card as sure as an IBAN; a phone number is only a number some
# plan accepts, so it loses every overlap with the other kinds.
CARD_SCORE = 1.0
PHONE_SCORE = 0.55

# ---------------------------------------------------------------------- pre-checks

_H = "[0-9A-Fa-f]{1,4}"
PRECHECK: dict[str, re.Pattern[str] | str] = {
    "email": "@",
    # An IPv4 holds '.d.d.d'; an IPv6 '::' or six colon-separated groups.
    "ip": re.compile(rf"\.\d{{1,3}}\.\d{{1,3}}\.\d|::|:{_H}:{_H}:{_H}:{_H}:{_H}:"),
    "iban": re.compile(r"[A-Z]{2}\d{2}"),
    "card": re.compile(r"\d(?:[ \-]?\d){11}"),
    "phone": re.compile(r"\d(?:[ \u00a0().\-/]{0,4}\d){6}"),
}

# ---------------------------------------------------------------------- card and phone shapes

# Candidate digit runs for cards and phones. Not glued on the left to a word, an email, number
# punctuation (a version, a decimal, a code), a time or an IPv6 group; nor on the right. The
# separators are never empty, so digit groups cannot be split two ways (no backtracking blowup).
_SP = "[ \u00a0]"
_SEP = rf"(?:{_SP}?[\-./]{_SP}?|{_SP}?\){_SP}?-?{_SP}?|{_SP}?\(|{_SP})"
_EXT = rf"(?:{_SP}?(?i:x)|,?{_SP}?(?i:ext\.?|extn\.?|extension)){_SP}?\d{{1,6}}"
NUMBER_CANDIDATE = re.compile(
    rf"(?<![\w+@#.,\-/])(?<!\d:)(?<!::)(?:\+{_SP}?|\(\+?)?\d{{1,19}}(?:{_SEP}\d{{1,19}}){{0,8}}"
    rf"(?:{_EXT})?(?![\w@]|[.,\-/]\d)"
)
_EXTENSION = re.compile(rf"{_EXT}$")
_GROUPS = re.compile(r"\d+")
_DATE = (
    r"(?:(?:19|20)\d\d[\-./](?:0?[1-9]|1[0-2])[\-./](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[\-./](?:0?[1-9]|[12]\d|3[01])[\-./](?:(?:19|20)\d\d|\d\d))"
)
_DATE_SHAPE = re.compile(rf"^\(?{_DATE}(?:$|{_SP}+\d)")  # a date, or a date and a time
_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")

# Labels that make the number after them an identifier, not a phone or a card.
_ID_LABEL = re.compile(
    r"(?:\b(?:order|orders|invoice|inv|ref|reference|isbn(?:-?1[03])?|issn|sku|item|article|"
    r"art|tracking|ticket|case|serial|s/n|model|part|policy|booking|reservation|transaction|"
    r"receipt|customer|client|member|patent|doi|ean|upc|gtin|lot|batch|po|id|"
    r"bestellung|bestellnummer|bestellnr|rechnung|rechnungsnummer|rechnungsnr|kundennummer|"
    r"kundennr|auftrag|auftragsnummer|artikelnummer|artikelnr|vorgang|aktenzeichen|"
    r"commande|facture|référence|réf|dossier|pedido|factura|referencia|ordine|fattura|"
    r"riferimento|bestelling|bestelnummer|factuur|referentie|zamówienie|zamówienia|faktura|"
    r"faktury|numer\s+zamówienia|nota\s+fiscal|protocolo|protocollo)"
    r"\W{0,3}(?:(?:no|nr|num|number|nummer|numéro|número|numero|n[º°o]?)\.?\W{0,3})?"
    r"|(?:注文番号|注文|請求書番号|請求書|伝票番号|订单号|订单编号|订单|发票号|发票|编号|单号)"
    r"\W{0,3})$",
    re.IGNORECASE,
)
# A code word right before the digits: letters and digits mixed, or an IBAN's first groups.
# A phone number written as one bare run of digits ('4155552671') looks like any other figure,
# so it counts only after a word that announces a number to call.
_PHONE_CONTEXT = re.compile(
    r"(?:t[eé]l|phone|call|fax|mobile|cell|ring|contact|whats\s?app|sms|hotline|dial|"
    r"ruf|anruf|handy|fon|appel|llam|chiam|bel\b|ligue|zadzwo|numer|n[uú]m[eé]ro|standard|"
    r"電話|电话|手机|携帯|拨打|連絡|联系)",
    re.IGNORECASE,
)


_CODE_BEFORE = re.compile(
    r"(?:(?=\w*[A-Za-z])(?=\w*\d)\w+|\b[A-Z]{2}\d{2}(?:[ \-][A-Z0-9]{1,4})*)[ \-]$"
)
_CURRENCY = r"[$€£¥₹₩₽]|R\$|zł|zl|kr|USD|EUR|GBP|CHF|PLN|JPY|CNY|RMB|INR|BRL|CAD|AUD"
_CURRENCY_BEFORE = re.compile(rf"(?:{_CURRENCY})\s?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(rf"(?:,\d|\s?(?:{_CURRENCY}|%|‰)(?!\w))", re.IGNORECASE)

# ---------------------------------------------------------------------- IP look-alikes

_VERSION_LABEL = re.compile(
    r"(?:\b(?:version|versions|ver|release|build|firmware|fw|update|patch|driver|kernel|rev|"
    r"revision|v|versión|versione|versão|versie|wersja|wersji|stand)\.?\s*[:#]?\s*"
    r"|(?:バージョン|版本|版)\s*[:：]?\s*)$",
    re.IGNORECASE,
)
_IP_TAIL = re.compile(r"\.\d|[\-_][A-Za-z]|[+~]")  # '1.2.3.4.5', '1.2.3.4-beta', '+build'
_WHITESPACE = re.compile(r"\s")

# Letters written without spaces around them (CJK ideographs, kana, hangul) are word
# characters, so '詳しくはa@b.jpまで' has no word boundary before the address. The detectors
# read a view of the text with each such letter turned into a space: same length, same offsets.
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

# Payment card issuer prefixes (IIN ranges) and the lengths each issues.
_CARD_RANGES: list[tuple[int, int, frozenset[int]]] = [
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (2200, 2204, frozenset(range(16, 20))),  # Mir
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (300, 305, frozenset(range(14, 20))),  # Diners Club
    (3095, 3095, frozenset(range(14, 20))),
    (36, 36, frozenset(range(14, 20))),
    (38, 39, frozenset(range(14, 20))),
    (35, 35, frozenset(range(16, 20))),  # JCB (3528-3589 assigned; Faker draws all of 35)
    (1800, 1800, frozenset({15})),  # JCB, 15 digits
    (2131, 2131, frozenset({15})),
    (6011, 6011, frozenset(range(16, 20))),  # Discover
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (62, 62, frozenset(range(16, 20))),  # UnionPay
    (81, 82, frozenset({16})),  # RuPay
    (60, 60, frozenset({16})),
    (508, 508, frozenset({16})),
    (9792, 9792, frozenset({16})),  # Troy
    (50, 50, frozenset(range(12, 20))),  # Maestro (5018, 5020, 5038, ...)
    (56, 69, frozenset(range(12, 20))),  # Maestro (5893, 6304, 6759, 6761-6763, ...)
]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer_ok(digits: str) -> bool:
    """A known issuer prefix that issues numbers of this length."""
    n = len(digits)
    for low, high, lengths in _CARD_RANGES:
        if n in lengths and low <= int(digits[: len(str(low))]) <= high:
            return True
    return False


def isbn_ok(digits: str) -> bool:
    """An ISBN-13 (978/979) or an ISBN-10 with a valid check digit (an ISBN-10 ending in X is
    never a candidate)."""
    if len(digits) == 13 and digits[:3] in ("978", "979"):
        return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
    if len(digits) == 10:
        return sum(int(d) * (10 - i) for i, d in enumerate(digits)) % 11 == 0
    return False


def _looks_like_an_id(text: str, start: int, end: int) -> bool:
    """A label before the digits ('Order no.', 'ISBN', '注文番号'), a code word before them
    ('DE89 3704 ...': an IBAN that failed its checksum), or money around them."""
    before = text[max(0, start - 40) : start]
    return bool(
        _ID_LABEL.search(before)
        or _CODE_BEFORE.search(before)
        or _CURRENCY_BEFORE.search(before[-5:])
        or _CURRENCY_AFTER.match(text, end, end + 6)
    )


def _phone_shape_ok(number: str, digits: str) -> bool:
    """Not a date, a dotted quad, a dotted version, a thousands-grouped amount or an ISBN."""
    if _DATE_SHAPE.match(number) or _DOTTED_QUAD.match(number):
        return False  # '2024-05-17', '17.05.2024 14', an IPv4 the IP kind did not take
    groups = _GROUPS.findall(number)
    if {c for c in number if not c.isdigit()} == {"."}:
        if len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]):
            return False  # '12.345.678': thousands, not a number to call
        if any(len(g) == 1 for g in groups[1:]):
            return False  # '0.6.34.13.9': a version
    # An ISBN-13, or an ISBN-10 printed with its check digit apart.
    return not (isbn_ok(digits) and (len(digits) == 13 or groups[-1] == digits[-1]))


_WORD_HITS: dict[str, re.Pattern[str]] = {"email": re.compile("@"), "ip": PRECHECK["ip"]}  # type: ignore[dict-item]


def _words(text: str, hits: re.Pattern[str]) -> list[tuple[int, int]]:
    """The whitespace-delimited words of `text` that hold a match of `hits`, in order."""
    words: list[tuple[int, int]] = []
    for m in hits.finditer(text):
        if words and m.start() < words[-1][1]:
            continue
        a = m.start()
        while a and not text[a - 1].isspace():
            a -= 1
        b = _WHITESPACE.search(text, m.end())
        words.append((a, b.start() if b else len(text)))
    return words


def _spaced_view(text: str) -> str:
    if text.isascii() or not _UNSPACED.search(text):
        return text
    return _UNSPACED.sub(" ", text)


def build_analyzer(kinds: list[str], extra_recognizers: list | None = None):
    """presidio's AnalyzerEngine over the presidio recognizers of `kinds` (those of email, ip,
    iban) and `extra_recognizers`, with a no-op NLP engine: presidio's default would download a
    spaCy model. heed calls the recognizers directly (see the module docstring); this engine is
    for comparing with presidio (benchmarks/pii_bench.py)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    recognizers = list(_presidio_recognizers([k for k in kinds if k in PRESIDIO_KINDS]).values())
    recognizers += extra_recognizers or []
    if not recognizers:
        # An empty registry makes presidio load all its predefined recognizers, among them an
        # email recognizer that fetches the public-suffix list.
        raise ValueError("build_analyzer needs at least one recognizer")
    return AnalyzerEngine(
        registry=RecognizerRegistry(recognizers=recognizers),
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
        supported_languages=["en"],
    )


def _presidio_recognizers(kinds: list[str]) -> dict:
    import tldextract
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

    classes = {"email": OfflineEmailRecognizer, "ip": IpRecognizer, "iban": IbanRecognizer}
    return {kind: classes[kind]() for kind in kinds}


Span = tuple[int, int, str, float]  # start, end, kind, score


class Redactor:
    """Finds and replaces PII of `kinds` in text. Build once per process (it loads presidio's
    recognizers and phonenumbers' metadata); `redact` is then a pure function of the text.

    Phone numbers written nationally are read for `phone_regions`; numbers written with +CC or
    00CC for the country they name. `precheck=False` runs every detector on every text, for
    measuring the pre-check: the results are the same."""

    def __init__(
        self,
        kinds: list[str] | None = None,
        phone_regions: list[str] | None = None,
        min_score: float = 0.5,
        precheck: bool = True,
    ) -> None:
        import phonenumbers

        self.kinds = list(KINDS) if kinds is None else list(kinds)
        check_params(self.kinds, phone_regions or [])
        self.min_score = min_score
        self.precheck = precheck
        self._pn = phonenumbers
        self._mobile = {
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        }
        self._recognizers = _presidio_recognizers([k for k in self.kinds if k in PRESIDIO_KINDS])
        self._cards = "card" in self.kinds and min_score <= CARD_SCORE
        self._phones = "phone" in self.kinds and min_score <= PHONE_SCORE
        # The number pre-check: a phone needs 7 digits, a card 12.
        self._number_check = PRECHECK["phone" if self._phones else "card"]
        # Per region: trunk prefix, country code and the lengths its numbers may have.
        self._regions = []
        for region in DEFAULT_PHONE_REGIONS if phone_regions is None else phone_regions:
            meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
            lengths = frozenset(meta.general_desc.possible_length)
            self._regions.append((region, meta.national_prefix, meta.country_code, lengths))

    # ------------------------------------------------------------------ the public calls

    def find(self, text: str) -> list[Span]:
        """Every span found, overlaps not yet resolved."""
        found: list[Span] = []
        view = None
        for kind, recognizer in self._recognizers.items():
            check = PRECHECK[kind]
            if self.precheck and not (
                check in text if isinstance(check, str) else check.search(text)  # type: ignore[union-attr]
            ):
                continue
            view = view or _spaced_view(text)
            found += [
                (s, e, kind, score)
                for s, e, score in self._presidio(text, view, recognizer, kind)
                if score >= self.min_score
            ]
        if self._cards or self._phones:
            # Read on the view: a letter that became a space there may join digit groups.
            view = view or _spaced_view(text)
            if not self.precheck or self._number_check.search(view):  # type: ignore[union-attr]
                found += self._numbers(text, view)
        return found

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with each PII span replaced by its kind's placeholder, and the count of
        replacements per kind (every kind of this redactor, zeros included)."""
        redacted, counts = replace_spans(text, self.find(text)) if text else (text, {})
        return redacted, {kind: counts.get(kind, 0) for kind in self.kinds}

    # ------------------------------------------------------------------ presidio's kinds

    def _presidio(
        self, text: str, view: str, recognizer, kind: str
    ) -> list[tuple[int, int, float]]:
        entity = KINDS[kind][0]
        if self.precheck and kind in _WORD_HITS:
            # Emails and IP addresses hold no whitespace: the recognizer reads only the words
            # the pre-check hits. A word starts and ends at whitespace, which the patterns'
            # lookarounds and word boundaries treat as a text edge, so nothing changes.
            results = []
            for a, b in _words(view, _WORD_HITS[kind]):
                for r in recognizer.analyze(view[a:b], [entity]):
                    r.start, r.end = a + r.start, a + r.end
                    results.append(r)
        else:
            results = recognizer.analyze(view, [entity])
        if kind == "ip":
            results = [r for r in results if _ip_plausible(text, r.start, r.end)]
        elif kind == "iban":
            results = [r for r in results if _iban_whole(view, r.start, r.end)]
        return [(r.start, r.end, r.score) for r in results]

    # ------------------------------------------------------------------ cards and phones

    def _numbers(self, text: str, view: str) -> list[Span]:
        spans: list[Span] = []
        for m in NUMBER_CANDIDATE.finditer(view):
            start, end = m.span()
            if view[start] == "(" and ")" not in m.group():
                start += 1  # an opening parenthesis the number does not close
            span = view[start:end]
            number = _EXTENSION.sub("", span)
            digits = "".join(c for c in number if c.isdigit())
            if len(digits) < 7:
                continue
            if self._cards and 12 <= len(digits) <= 19 and _card_ok(span, digits):
                if not _looks_like_an_id(text, start, end):
                    spans.append((start, end, "card", CARD_SCORE))
                continue
            if (
                self._phones
                and len(digits) <= 17
                and _phone_shape_ok(number, digits)
                and not _looks_like_an_id(text, start, end)
                and (number != digits or _PHONE_CONTEXT.search(text, max(0, start - 30), start))
                and self._phone_valid(span, number, digits)
            ):
                spans.append((start, end, "phone", PHONE_SCORE))
        return spans

    def _phone_valid(self, span: str, number: str, digits: str) -> bool:
        pn = self._pn
        if number.startswith(("+", "(+")) or digits.startswith("00"):
            # '+CC' or the common '00' exit code: the number names its own country, and any
            # country's valid number counts.
            if digits.startswith("00"):
                span = "+" + span.lstrip("(+ ")[2:]
            try:
                return pn.is_valid_number(pn.parse(span))
            except pn.NumberParseException:
                return False
        n = len(digits)
        for region, trunk, code, lengths in self._regions:
            if n not in lengths and not (
                trunk and digits.startswith(trunk) and n - len(trunk) in lengths
            ):
                continue
            try:
                parsed = pn.parse(span, region)
            except pn.NumberParseException:
                continue
            if not pn.is_valid_number(parsed):
                continue
            # Written the way the country writes its numbers: with the trunk prefix where it
            # has one ('030 ...', '06 12 ...'), since without it plans like Germany's accept
            # almost any digit string ('20240517'). Except where numbers are written without
            # it: North America, Brazil, and mobiles in India and China.
            if (
                not trunk
                or code in (1, 55)
                or digits.startswith(trunk)
                or (region in ("IN", "CN") and pn.number_type(parsed) in self._mobile)
            ):
                return True
        return False


def _card_ok(span: str, digits: str) -> bool:
    """A known issuer's prefix and length, Luhn's checksum, and one kind of separator at most
    ('4111-1111 1111-1111' is not how cards print)."""
    separators = {c for c in span if not c.isdigit()}
    return (
        (separators <= {" "} or separators <= {"-"} or separators <= {"\u00a0"})
        and card_issuer_ok(digits)
        and luhn_ok(digits)
    )


def _ip_plausible(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    if ":" in value:
        # IPv6: 'Add::' and 'face::' are valid syntax, but addresses have digits.
        return any(c.isdigit() for c in value)
    if text[start - 1 : start] == "." or _IP_TAIL.match(text, end):
        return False  # part of a longer dotted number (an OID, a version), or '1.2.3.4-beta'
    return _VERSION_LABEL.search(text[max(0, start - 24) : start]) is None


# IBAN lengths per country (SWIFT's IBAN registry). presidio checks the format as a prefix
# only, and its Portuguese one is short, so a span it cut out of a longer code would pass.
_IBAN_LENGTH_TABLE = (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 "
    "DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 "
    "HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 "
    "MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 "
    "RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 "
    "VG24 XK20 YE30"
)
_IBAN_LENGTHS = {entry[:2]: int(entry[2:]) for entry in _IBAN_LENGTH_TABLE.split()}


def _iban_whole(text: str, start: int, end: int) -> bool:
    """The IBAN is whole: not cut out of a longer code (presidio, failing the whole match,
    retries it without its last characters), and as long as its country's IBANs are."""
    if end < len(text) and text[end].isalnum():
        return False
    compact = re.sub(r"[ \-]", "", text[start:end])
    return _IBAN_LENGTHS.get(compact[:2].upper(), len(compact)) == len(compact)


def replace_spans(text: str, found: list[Span]) -> tuple[str, dict[str, int]]:
    """Replace each (start, end, kind, score) span by its placeholder. Overlapping spans keep
    the higher score, then the longer span, then the earlier one. Returns the text and the
    count per kind (kinds with none are left out)."""
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind, _ in sorted(found, key=lambda f: (-f[3], f[0] - f[1], f[0], f[2])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    counts: dict[str, int] = {}
    pieces, last = [], 0
    for start, end, kind in sorted(chosen):
        pieces += [text[last:start], KINDS[kind][1]]
        counts[kind] = counts.get(kind, 0) + 1
        last = end
    pieces.append(text[last:])
    return "".join(pieces), counts


def check_params(kinds: list[str], phone_regions: list[str]) -> None:
    """Raise ValueError naming unknown kinds or phone regions, and the valid choices."""
    import phonenumbers

    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown PII kinds {unknown}; valid: {', '.join(KINDS)}")
    bad = sorted(r for r in phone_regions if r not in phonenumbers.SUPPORTED_REGIONS)
    if bad:
        raise ValueError(
            f"unknown phone regions {bad}; valid: ISO 3166 codes phonenumbers knows "
            f"(e.g. {', '.join(DEFAULT_PHONE_REGIONS)})"
        )


_REDACTORS: dict[tuple[str, ...] | None, Redactor] = {}


def redact(text: str, kinds: list[str] | None = None) -> tuple[str, dict[str, int]]:
    """Redact `text` outside any pipeline: the text with placeholders, and the count per kind.
    `kinds` defaults to all five; phones are read for DEFAULT_PHONE_REGIONS. The recognizers
    load on the first call for each set of kinds, once per process."""
    key = None if kinds is None else tuple(kinds)
    redactor = _REDACTORS.get(key)
    if redactor is None:
        redactor = _REDACTORS[key] = Redactor(kinds)
    return redactor.redact(text)


@dataclass
class PIIRedactor(Stage):
    """Replaces emails, IP addresses (v4 and v6), IBANs, payment card numbers and phone
    numbers by placeholders; drops nothing.

    The count of each kind goes to the audit (`pii_email`, `pii_ip`, `pii_iban`, `pii_card`,
    `pii_phone`; null for a kind not enabled). Phone numbers written nationally are read for
    `phone_regions`; numbers written with +CC or 00CC for the country they name.
    """

    name: ClassVar[str] = "pii"
    version: ClassVar[str] = "2"
    columns: ClassVar[dict[str, pa.DataType]] = {f"pii_{kind}": pa.int32() for kind in KINDS}

    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    min_score: float = 0.5
    phone_regions: list[str] = field(default_factory=lambda: list(DEFAULT_PHONE_REGIONS))

    def __post_init__(self) -> None:
        check_params(self.kinds, self.phone_regions)

    def setup(self, context: RunContext) -> None:
        self._redactor = Redactor(self.kinds, self.phone_regions, self.min_score)

    def process(self, docs: list[Document]) -> None:
        for doc in docs:
            doc.text, counts = self._redactor.redact(doc.text or "")
            doc.scores.update({f"pii_{kind}": counts.get(kind) for kind in KINDS})

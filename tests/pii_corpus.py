"""Seeded sentences for the PII tests and benchmark: planted PII of each kind in the formats of
many countries, and look-alikes that must stay (versions, dates, ISBNs, order numbers, bad
IBANs and cards, times, prices). Everything comes from Faker (its locales' own phone, IBAN and
email formats) and `random.Random(seed)`, so a seed gives the same set on every machine.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import phonenumbers
from faker import Faker

# Faker locale -> (phone region, language of the sentence templates)
LOCALES: dict[str, tuple[str, str]] = {
    "en_US": ("US", "en"),
    "en_GB": ("GB", "en"),
    "de_DE": ("DE", "de"),
    "fr_FR": ("FR", "fr"),
    "es_ES": ("ES", "es"),
    "it_IT": ("IT", "it"),
    "nl_NL": ("NL", "nl"),
    "pl_PL": ("PL", "pl"),
    "pt_BR": ("BR", "pt"),
    "hi_IN": ("IN", "en"),
    "ja_JP": ("JP", "ja"),
    "zh_CN": ("CN", "zh"),
}
IBAN_LOCALES = [
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pl_PL",
    "pt_BR",
    "pt_PT",
    "fi_FI",
    "da_DK",
    "de_AT",
    "de_CH",
    "nl_BE",
    "no_NO",
    "cs_CZ",
]
CARD_TYPES = [
    "maestro",
    "mastercard",
    "visa16",
    "visa13",
    "visa19",
    "amex",
    "discover",
    "diners",
    "jcb15",
    "jcb16",
]
KINDS = ("email", "ipv4", "ipv6", "iban", "card", "phone")
PLACEHOLDER = {
    "email": "<email-pii>",
    "ipv4": "<ip-pii>",
    "ipv6": "<ip-pii>",
    "iban": "<iban-pii>",
    "card": "<card-pii>",
    "phone": "<phone-pii>",
}
# The redactor's kind for each planted type.
REDACTOR_KIND = {"email": "email", "ipv4": "ip", "ipv6": "ip", "iban": "iban"}
REDACTOR_KIND |= {"card": "card", "phone": "phone"}

# Sentence templates per language and type; {v} is the value.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        "email": ["Write to {v} for details.", "Contact: {v}", "Questions ({v}) are welcome."],
        "ip": ["The request came from {v} at night.", "Server {v}, port 443, refused it."],
        "iban": ["Please pay to IBAN {v} by Friday.", "Account: {v}. Thank you!"],
        "card": ["The card {v} was charged twice.", "Card number: {v}, expires soon."],
        "phone": ["Call us on {v} today.", "Phone: {v}", "For bookings ring {v}, ask for Sam."],
    },
    "de": {
        "email": ["Schreiben Sie an {v}, wir antworten.", "E-Mail: {v}"],
        "ip": ["Die Anfrage kam von {v} mitten in der Nacht.", "Gesperrt wurde {v}."],
        "iban": ["Bitte überweisen Sie auf {v} bis Freitag.", "IBAN: {v}, BIC folgt."],
        "card": ["Die Karte {v} wurde zweimal belastet.", "Kartennummer {v}."],
        "phone": ["Rufen Sie uns an unter {v}.", "Tel.: {v}", "Telefon {v} (werktags)."],
    },
    "fr": {
        "email": ["Écrivez à {v} pour en savoir plus.", "Courriel : {v}"],
        "ip": ["La requête venait de {v} pendant la nuit.", "L'adresse {v} a été bloquée."],
        "iban": ["Virement sur l'IBAN {v} avant vendredi.", "Compte : {v}."],
        "card": ["La carte {v} a été débitée deux fois.", "Numéro de carte : {v}."],
        "phone": ["Appelez le {v} pour réserver.", "Tél. : {v}", "Standard : {v}, 9h-18h."],
    },
    "es": {
        "email": ["Escriba a {v} para más información.", "Correo: {v}"],
        "ip": ["La petición llegó desde {v} de madrugada.", "Se bloqueó la IP {v}."],
        "iban": ["Transfiera a la cuenta {v} antes del viernes.", "IBAN: {v}."],
        "card": ["La tarjeta {v} se cobró dos veces.", "Número de tarjeta: {v}."],
        "phone": ["Llame al {v} para reservar.", "Teléfono: {v}", "Tel. {v} (laborables)."],
    },
    "it": {
        "email": ["Scrivete a {v} per informazioni.", "Email: {v}"],
        "ip": ["La richiesta è arrivata da {v} di notte.", "L'indirizzo {v} è bloccato."],
        "iban": ["Bonifico sull'IBAN {v} entro venerdì.", "Conto: {v}."],
        "card": ["La carta {v} è stata addebitata due volte.", "Numero carta: {v}."],
        "phone": ["Chiamate il {v} per prenotare.", "Tel. {v}", "Telefono: {v}, ore 9-18."],
    },
    "nl": {
        "email": ["Mail naar {v} voor meer informatie.", "E-mail: {v}"],
        "ip": ["Het verzoek kwam van {v} midden in de nacht.", "Het adres {v} is geblokkeerd."],
        "iban": ["Maak het bedrag over op {v} voor vrijdag.", "Rekening: {v}."],
        "card": ["De kaart {v} is twee keer belast.", "Kaartnummer: {v}."],
        "phone": ["Bel ons op {v} voor een afspraak.", "Tel.: {v}", "Telefoon {v} (werkdagen)."],
    },
    "pl": {
        "email": ["Napisz na {v}, odpowiemy.", "E-mail: {v}"],
        "ip": ["Żądanie przyszło z {v} w nocy.", "Adres {v} został zablokowany."],
        "iban": ["Prosimy o przelew na {v} do piątku.", "Konto: {v}."],
        "card": ["Karta {v} została obciążona dwa razy.", "Numer karty: {v}."],
        "phone": ["Zadzwoń pod numer {v} jeszcze dziś.", "Tel. {v}", "Telefon: {v} (pn-pt)."],
    },
    "pt": {
        "email": ["Escreva para {v} para mais informações.", "E-mail: {v}"],
        "ip": ["A requisição veio de {v} de madrugada.", "O endereço {v} foi bloqueado."],
        "iban": ["Transfira para o IBAN {v} até sexta.", "Conta: {v}."],
        "card": ["O cartão {v} foi cobrado duas vezes.", "Número do cartão: {v}."],
        "phone": ["Ligue para {v} e agende.", "Tel.: {v}", "Telefone: {v} (dias úteis)."],
    },
    "ja": {
        "email": ["詳しくは{v}までご連絡ください。", "メール：{v}"],
        "ip": ["アクセス元は{v}でした。", "IPアドレス {v} を遮断しました。"],
        "iban": ["振込先IBAN：{v}", "口座 {v} にお振り込みください。"],
        "card": ["カード番号 {v} が二重に請求されました。", "カード：{v}"],
        "phone": ["お問い合わせは{v}まで。", "電話：{v}", "TEL {v}（平日のみ）"],
    },
    "zh": {
        "email": ["详情请联系{v}。", "邮箱：{v}"],
        "ip": ["请求来自{v}。", "已封禁 IP {v} 。"],
        "iban": ["请汇款至IBAN {v}。", "账户：{v}"],
        "card": ["卡号 {v} 被重复扣款。", "银行卡：{v}"],
        "phone": ["咨询电话：{v}", "请拨打{v}联系我们。", "手机 {v}（工作日）"],
    },
}


@dataclass
class Item:
    kind: str  # one of KINDS
    value: str  # as planted
    sentence: str
    locale: str
    form: str = ""  # how it was written (phones, cards, IBANs)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self._fakers: dict[str, Faker] = {}

    def faker(self, locale: str) -> Faker:
        if locale not in self._fakers:
            fake = Faker(locale)
            fake.seed_instance(self.seed * 1000 + len(self._fakers))
            self._fakers[locale] = fake
        return self._fakers[locale]

    def sentence(self, locale: str, kind: str, value: str) -> str:
        lang = LOCALES.get(locale, ("", "en"))[1]
        group = "ip" if kind in ("ipv4", "ipv6") else kind
        return self.rng.choice(TEMPLATES[lang][group]).format(v=value)

    # ------------------------------------------------------------------ planted values

    def email(self, fake: Faker) -> str:
        make = self.rng.choice(
            [fake.email, fake.free_email, fake.company_email, fake.ascii_safe_email]
        )
        value = make()
        if self.rng.random() < 0.15:  # a tag, a subdomain
            user, domain = value.split("@")
            value = f"{user}+news@mail.{domain}" if self.rng.random() < 0.5 else value
        return value

    def ipv4(self, fake: Faker) -> str:
        r = self.rng.random()
        if r < 0.4:
            return fake.ipv4_public()
        if r < 0.7:
            return fake.ipv4_private()
        if r < 0.9:
            return fake.ipv4()
        return fake.ipv4(network=True)

    def ipv6(self, fake: Faker) -> str:
        address = ipaddress.IPv6Address(fake.ipv6())
        r = self.rng.random()
        if r < 0.3:
            return address.exploded
        if r < 0.55:
            return str(address).upper() if self.rng.random() < 0.3 else str(address)
        # Compressed forms real text is full of: documentation, link-local, runs of zeros.
        prefix = self.rng.choice(["2001:db8", "fe80", "2a00:1450:4001", "2606:4700", "fd12:3456"])
        tail = ":".join(f"{self.rng.randrange(1, 0xFFFF):x}" for _ in range(self.rng.randint(1, 3)))
        return str(ipaddress.IPv6Address(f"{prefix}::{tail}"))

    def iban(self) -> tuple[str, str]:
        iban = self.faker(self.rng.choice(IBAN_LOCALES)).iban()
        form = self.rng.choice(["compact", "spaces", "hyphens"])
        groups = [iban[i : i + 4] for i in range(0, len(iban), 4)]
        return {"compact": iban, "spaces": " ".join(groups), "hyphens": "-".join(groups)}[
            form
        ], form

    def card_digits(self) -> str:
        fake = self.faker("en_US")
        while True:
            digits = fake.credit_card_number(card_type=self.rng.choice(CARD_TYPES))
            # Faker's Maestro list has '0604', which no issuer uses (major industry
            # identifier 0 is not a card network); heed does not treat it as a card.
            if not digits.startswith("0604"):
                return digits

    def card(self) -> tuple[str, str]:
        digits = self.card_digits()
        return self.format_card(digits)

    def format_card(self, digits: str) -> tuple[str, str]:
        form = self.rng.choice(["compact", "spaces", "hyphens"])
        if form == "compact":
            return digits, form
        n = len(digits)
        if n == 15:
            sizes = [4, 6, 5]
        elif n == 14:
            sizes = [4, 6, 4]
        else:
            sizes = [4] * (n // 4) + ([n % 4] if n % 4 else [])
        parts, at = [], 0
        for size in sizes:
            parts.append(digits[at : at + size])
            at += size
        return (" " if form == "spaces" else "-").join(parts), form

    def phone(self, locale: str) -> tuple[str, str, int]:
        """A phone number that is valid in the locale's region: Faker's own format two times
        in three, else phonenumbers' national or international format. Also returns how many
        Faker numbers were drawn that no numbering plan accepts (they are no phone numbers)."""
        region = LOCALES[locale][0]
        fake = self.faker(locale)
        invalid = 0
        while True:
            raw = fake.phone_number()
            try:
                parsed = phonenumbers.parse(raw, region)
                valid = phonenumbers.is_valid_number(parsed)
            except phonenumbers.NumberParseException:
                valid = False
            if valid:
                break
            invalid += 1
        r = self.rng.random()
        if r < 0.67:
            return raw, "faker", invalid
        fmt = (
            phonenumbers.PhoneNumberFormat.NATIONAL
            if r < 0.82
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL
            if r < 0.90
            else phonenumbers.PhoneNumberFormat.E164
            if r < 0.95
            else phonenumbers.PhoneNumberFormat.RFC3966
        )
        parsed.extension = None
        value = phonenumbers.format_number(parsed, fmt)
        if fmt == phonenumbers.PhoneNumberFormat.RFC3966:
            value = value.removeprefix("tel:")  # '+49-30-901820'
        return value, fmt_name(fmt), invalid

    def planted(self, per_kind: int) -> tuple[list[Item], dict[str, int]]:
        """`per_kind` items of each type, locales in turn; and the Faker phone numbers per
        locale that were drawn but are valid in no plan (skipped)."""
        items: list[Item] = []
        skipped: dict[str, int] = dict.fromkeys(LOCALES, 0)
        locales = list(LOCALES)
        for i in range(per_kind):
            locale = locales[i % len(locales)]
            fake = self.faker(locale)
            values = {
                "email": (self.email(fake), ""),
                "ipv4": (self.ipv4(fake), ""),
                "ipv6": (self.ipv6(fake), ""),
                "iban": self.iban(),
                "card": self.card(),
            }
            phone, form, invalid = self.phone(locale)
            skipped[locale] += invalid
            values["phone"] = (phone, form)
            for kind, (value, form) in values.items():
                items.append(Item(kind, value, self.sentence(locale, kind, value), locale, form))
        return items, skipped

    # ------------------------------------------------------------------ look-alikes

    def lookalikes(self, n: int) -> list[tuple[str, str]]:
        """`n` (category, sentence) pairs, the categories in turn."""
        makers = [
            ("version", self.version),
            ("date", self.date),
            ("isbn", self.isbn),
            ("order", self.order),
            ("bad_iban", self.bad_iban),
            ("bad_card", self.bad_card),
            ("time", self.time),
            ("price", self.price),
            ("number", self.number),
        ]
        return [(makers[i % len(makers)][0], makers[i % len(makers)][1]()) for i in range(n)]

    def version(self) -> str:
        rng = self.rng
        parts = [str(rng.randint(0, 12)), *(str(rng.randint(0, 40)) for _ in range(3))]
        v = ".".join(parts)
        return rng.choice(
            [
                f"Update to version {v} before Monday.",
                f"Released v{v} with security fixes.",
                f"Version {v} (stable) is out.",
                f"Firmware {v} fixes the Wi-Fi bug.",
                f"The build {v} failed on Windows.",
                f"Neue Version {v} verfügbar.",
                f"La versión {v} ya está disponible.",
                f"Nowa wersja {v} jest dostępna.",
                f"Requires {v}.{rng.randint(1, 9)} or later.",
                f"Tested on {v}-beta and {v}-rc1.",
                f"See the changelog for release {v}.",
                f"バージョン{v}を公開しました。",
            ]
        )

    def date(self) -> str:
        rng = self.rng
        y, m, d = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
        hh, mm = rng.randint(0, 23), rng.randint(0, 59)
        return rng.choice(
            [
                f"Published on {y}-{m:02d}-{d:02d}.",
                f"Updated {y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}.",
                f"Am {d:02d}.{m:02d}.{y} um {hh}.{mm:02d} Uhr.",
                f"Le {d:02d}/{m:02d}/{y}, à {hh}h{mm:02d}.",
                f"Posted {m}/{d}/{y} by the editor.",
                f"Fecha: {d}-{m}-{y}.",
                f"Dal {d:02d}.{m:02d}.{y} al {d:02d}.{m:02d}.{y + 1}.",
                f"Logged {y}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}:{rng.randint(0, 59):02d}.",
                f"{y}年{m}月{d}日に公開",
                f"Between {d:02d}.{m:02d}.{y} and {y + 1}-{m:02d}-{d:02d} the site was down.",
            ]
        )

    def isbn(self) -> str:
        rng = self.rng
        body = "978" + "".join(str(rng.randint(0, 9)) for _ in range(9))
        check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
        isbn13 = body + str(check)
        hyphenated = f"{isbn13[:3]}-{isbn13[3]}-{isbn13[4:6]}-{isbn13[6:12]}-{isbn13[12]}"
        b10 = "".join(str(rng.randint(0, 9)) for _ in range(9))
        c10 = (11 - sum(int(c) * (10 - i) for i, c in enumerate(b10)) % 11) % 11
        isbn10 = f"{b10[0]}-{b10[1:4]}-{b10[4:9]}-{'X' if c10 == 10 else c10}"
        return rng.choice(
            [
                f"ISBN {hyphenated}, 320 pages.",
                f"ISBN-13: {isbn13}",
                f"ISBN {isbn10} (paperback).",
                f"Smith, J. (2019). Title. Publisher. {hyphenated}.",
                f"Order the book ({hyphenated}) online.",
            ]
        )

    def order(self) -> str:
        rng = self.rng
        n = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(7, 12)))
        n = str(rng.randint(1, 9)) + n[1:]
        spaced = " ".join(n[i : i + 4] for i in range(0, len(n), 4))
        year = rng.randint(2015, 2030)
        return rng.choice(
            [
                f"Order #{n} has shipped.",
                f"Your order no. {n} is confirmed.",
                f"Invoice INV-{year}-{n[:6]} is attached.",
                f"Bestellnummer {spaced} – vielen Dank!",
                f"Rechnungsnummer: {n}",
                f"Numéro de commande : {n}.",
                f"Número de pedido {n}.",
                f"Ordine n. {n} spedito.",
                f"Factuur {n} is betaald.",
                f"Zamówienie nr {n} zostało wysłane.",
                f"Reference: {n}",
                f"PO {n} approved.",
                f"注文番号：{n}",
                f"Tracking number 1Z{rng.randint(100, 999)}AA{n}.",
                f"Ticket ID {n} was closed.",
            ]
        )

    def bad_iban(self) -> str:
        iban = self.faker(self.rng.choice(IBAN_LOCALES)).iban()
        check = int(iban[2:4])
        iban = iban[:2] + f"{(check + self.rng.randint(1, 50)) % 97 + 2:02d}"[-2:] + iban[4:]
        value, _ = self.format_iban(iban)
        return self.rng.choice(
            [f"IBAN {value} (typo?).", f"Pay to {value}, then tell us.", f"Konto: {value}."]
        )

    def format_iban(self, iban: str) -> tuple[str, str]:
        form = self.rng.choice(["compact", "spaces", "hyphens"])
        groups = [iban[i : i + 4] for i in range(0, len(iban), 4)]
        return {"compact": iban, "spaces": " ".join(groups), "hyphens": "-".join(groups)}[
            form
        ], form

    def bad_card(self) -> str:
        digits = self.card_digits()
        digits = digits[:-1] + str((int(digits[-1]) + self.rng.randint(1, 9)) % 10)
        value, _ = self.format_card(digits)
        return self.rng.choice(
            [f"The card {value} was declined.", f"Kartennummer {value} ungültig.", f"{value}"]
        )

    def time(self) -> str:
        rng = self.rng
        hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        return rng.choice(
            [
                f"Doors open at {hh:02d}:{mm:02d}.",
                f"Kick-off {hh:02d}:{mm:02d}:{ss:02d} CET.",
                f"From {hh}:{mm:02d} to {(hh + 2) % 24}:{mm:02d} daily.",
                f"Ab {hh}.{mm:02d} Uhr geöffnet.",
                f"Lap 1:{mm:02d}.{ss:03d}, best {hh:02d}:{mm:02d}:{ss:02d}.{ss * 7:03d}.",
                f"De {hh}h{mm:02d} à {(hh + 1) % 24}h{mm:02d}.",
            ]
        )

    def price(self) -> str:
        rng = self.rng
        big = rng.randint(1_000_000, 99_999_999)
        cents = rng.randint(0, 99)
        de = f"{big:,}".replace(",", ".")
        fr = f"{big:,}".replace(",", " ")
        return rng.choice(
            [
                f"Now only ${big:,}.{cents:02d}!",
                f"Preis: {de},{cents:02d} €",
                f"Prix : {fr} € HT.",
                f"Cena {fr} zł brutto.",
                f"Valor: R$ {de},{cents:02d}",
                f"Budget of EUR {de} approved.",
                f"Total ¥{big:,}",
                f"Revenue rose to {de} euros ({rng.randint(1, 99)}.{cents} %).",
                f"Cost: {big} USD",
            ]
        )

    def number(self) -> str:
        rng = self.rng
        a, b = rng.randint(10, 99), rng.randint(1000, 9999)
        return rng.choice(
            [
                f"Population: {rng.randint(1_000_000, 9_999_999):,} ({rng.randint(1990, 2024)}).",
                f"Coordinates {a}.{b}, {rng.randint(1, 99)}.{b}.",
                f"Score {rng.randint(0, 5)}-{rng.randint(0, 5)} after {a} minutes.",
                f"Sizes 36-38-40-42, prices from {a},99.",
                f"Chapter {a % 20}.{rng.randint(1, 20)}.{rng.randint(1, 20)}, page {b}.",
                f"Between {rng.randint(1990, 2010)} and {rng.randint(2011, 2024)} it grew {a}%.",
            ]
        )


def fmt_name(fmt: int) -> str:
    return {
        phonenumbers.PhoneNumberFormat.NATIONAL: "national",
        phonenumbers.PhoneNumberFormat.INTERNATIONAL: "international",
        phonenumbers.PhoneNumberFormat.E164: "e164",
        phonenumbers.PhoneNumberFormat.RFC3966: "rfc3966",
    }[fmt]

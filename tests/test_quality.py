"""datatrove's quality filters through the adapter, unchanged, on real text."""

from __future__ import annotations

import inspect
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from conftest import REPO, make_doc, run_heed

from heed.curation.document import Document, Status
from heed.curation.registry import load_object
from heed.curation.stage import RunContext
from heed.filters.quality import (
    C4Quality,
    DatatroveFilter,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
)

CONTEXT = RunContext(crawl_root="", crawl="")
PROSE = (
    "The city council met on Tuesday evening to discuss the new budget. Several members raised "
    "concerns about the cost of repairing the old bridge over the river. The mayor said that the "
    "work would start in the spring and should be finished before the end of the year. Residents "
    "who attended the meeting asked for more information about the detours during construction. "
    "A second meeting is planned for next month, when the final plans will be presented.\n"
    "Local businesses near the bridge have welcomed the decision. They hope that the repairs will "
    "bring more visitors to the old town once the work is done. The council also approved money "
    "for new street lights and a small park near the school."
)


def doc(text: str, language: str | None = "eng_Latn") -> Document:
    return make_doc(text, language=language)


def judged(stage, docs: list[Document]) -> list[Document]:
    stage.setup(CONTEXT)
    stage(docs)
    return docs


def test_gopher_repetition_drops_repeated_lines_with_datatroves_reason() -> None:
    prose, repeated = judged(GopherRepetition(), [doc(PROSE), doc("Buy now!\n" * 60)])
    assert prose.alive and prose.scores["gopher_repetition_pass"] == 1
    assert prose.scores["gopher_repetition_reason"] is None
    assert repeated.status is Status.DROPPED and repeated.stage == "gopher_repetition"
    assert repeated.reason == repeated.scores["gopher_repetition_reason"] == "dup_line_frac"
    assert repeated.scores["gopher_repetition_pass"] == 0


def test_c4_and_fineweb_pass_prose_and_drop_fragments() -> None:
    fragments = "click here\nmenu\nlogin\nhome\nabout us\ncontact\n" * 3
    for stage in (C4Quality(), FineWebQuality()):
        prose, junk = judged(stage, [doc(PROSE), doc(fragments)])
        assert prose.alive, (stage.name, prose.reason)
        assert junk.status is Status.DROPPED and junk.reason == junk.scores[f"{stage.name}_reason"]


def test_any_datatrove_filter_by_path_with_options() -> None:
    stage = DatatroveFilter(
        datatrove_filter="datatrove.pipeline.filters:C4QualityFilter",
        options={"min_num_sentences": 50},
    )
    (prose,) = judged(stage, [doc(PROSE)])
    assert (prose.reason, prose.scores["datatrove_pass"]) == ("too_few_sentences", 0)


def test_a_language_without_a_tokenizer_is_left_unjudged() -> None:
    japanese = doc("今日は良い天気です。" * 30, language="jpn_Jpan")
    english = doc("Buy now!\n" * 60)
    judged(GopherRepetition(), [japanese, english])
    assert japanese.alive and japanese.scores["gopher_repetition_pass"] is None
    assert english.reason == "dup_line_frac"


GERMAN = (
    "Der Gemeinderat hat am Dienstagabend über den neuen Haushalt beraten. Mehrere Mitglieder "
    "äußerten Bedenken wegen der Kosten für die Reparatur der alten Brücke über den Fluss. "
    "Die Bürgermeisterin sagte, dass die Arbeiten im Frühjahr beginnen und vor dem Ende des "
    "Jahres abgeschlossen sein sollen. Anwohner, die an der Sitzung teilnahmen, baten um mehr "
    "Informationen über die Umleitungen während der Bauzeit. Eine zweite Sitzung ist für den "
    "nächsten Monat geplant, wenn die endgültigen Pläne vorgestellt werden."
)


def test_gopher_quality_judges_each_language_by_its_own_stop_words() -> None:
    (ours,) = judged(GopherQuality(), [doc(GERMAN, language="deu_Latn")])
    assert ours.alive and ours.scores["gopher_quality_pass"] == 1
    # datatrove's own default: English stop words, which a German page hardly contains.
    default = DatatroveFilter(
        datatrove_filter="datatrove.pipeline.filters:GopherQualityFilter",
        options={"stop_words": ["the", "be", "to", "of", "and", "that", "have", "with"]},
    )
    (theirs,) = judged(default, [doc(GERMAN, language="deu_Latn")])
    assert theirs.reason == "gopher_enough_stop_words"


# --- shared tokenization: the same verdicts as datatrove's filters, for a quarter of the work

QUALITY = (GopherRepetition, GopherQuality, C4Quality, FineWebQuality)
CHINESE = "市议会周二晚上开会讨论了新的预算。几位议员对修复河上旧桥的费用表示担忧。\n" * 4


def direct_verdict(stage: DatatroveFilter, doc: Document) -> tuple[int | None, str | None]:
    """datatrove's filter as datatrove builds it (language as a label), called directly."""
    from datatrove.data import Document as DatatroveDocument

    stage.setup(CONTEXT)
    try:
        instance = stage._class(**stage._kwargs(doc.language))
        verdict = instance.filter(DatatroveDocument(text=doc.text, id=doc.record_id))
    except (LookupError, ImportError):
        return None, None
    passed, reason = (verdict, None) if isinstance(verdict, bool) else verdict
    return int(bool(passed)), None if passed else reason


def varied_docs() -> list[Document]:
    """Pages that pass and pages that fail each filter, in several scripts."""
    texts = [
        (PROSE, "eng_Latn"),
        ("Buy now!\n" * 60, "eng_Latn"),
        ("click here\nmenu\nlogin\nhome\nabout us\ncontact\n" * 3, "eng_Latn"),
        (PROSE.replace(". ", "... "), "eng_Latn"),
        (PROSE + "\nThe script said function() { return 1; } in the end.", "eng_Latn"),
        (" ".join(["alpha beta gamma delta"] * 80), "eng_Latn"),
        ("Short page. Only two lines.", "eng_Latn"),
        (GERMAN, "deu_Latn"),
        (GERMAN + "\n" + GERMAN, "deu_Latn"),
        ("Le conseil municipal s'est réuni mardi soir. " * 12, "fra_Latn"),
        ("Городской совет собрался во вторник вечером, чтобы обсудить бюджет. " * 10, "rus_Cyrl"),
        (CHINESE, "cmn_Hani"),
    ]
    return [doc(text, language=language) for text, language in texts]


def chain_verdicts(shared: bool, docs: list[Document]) -> list[tuple]:
    stages = [cls(shared_tokenization=shared) for cls in QUALITY]
    verdicts = []
    for stage in stages:
        stage.setup(CONTEXT)
        for scores in stage.score(docs):
            verdicts.append((stage.name, scores[stage.pass_column], scores[stage.reason_column]))
    return verdicts


def test_shared_tokenization_gives_datatroves_own_verdicts() -> None:
    docs = varied_docs()
    shared = chain_verdicts(True, docs)
    plain = chain_verdicts(False, docs)
    direct = [
        (cls.name, *direct_verdict(cls(), d)) for cls in QUALITY for d in docs
    ]  # the adapter's kwargs, datatrove's filter, nothing shared
    assert shared == plain == direct
    reasons = {reason for _, _, reason in shared if reason}
    assert {"dup_line_frac", "too_few_sentences", "curly_bracket"} <= reasons, reasons


def test_shared_tokenization_on_the_samples_documents(local_run) -> None:
    """The sample's kept pages (every 5th: datatrove without the memo is slow), in the
    languages the sample has, judged identically with and without sharing."""
    import pyarrow.dataset as ds

    rows = ds.dataset(local_run / "documents").to_table(columns=["text", "language"]).to_pylist()
    docs = [doc(row["text"], language=row["language"]) for row in rows[::5]]
    assert len({d.language for d in docs}) >= 12
    shared = chain_verdicts(True, docs)
    assert shared == chain_verdicts(False, docs)
    assert sum(passed is not None for _, passed, _ in shared) > len(docs)


def test_each_text_is_tokenized_once_for_the_three_word_filters(monkeypatch) -> None:
    from heed.filters import quality

    calls: list[str] = []
    real = quality.SharedTokenizer.inner.fget

    class Counting:
        def __init__(self, inner) -> None:
            self.inner = inner

        def word_tokenize(self, text: str) -> list[str]:
            calls.append(text)
            return self.inner.word_tokenize(text)

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

    monkeypatch.setattr(quality.SharedTokenizer, "inner", property(lambda s: Counting(real(s))))
    quality.MEMO.keep_only([])  # nothing remembered from earlier tests
    docs = [doc(PROSE), doc(GERMAN, language="deu_Latn"), doc(PROSE + "\nMore news today.")]
    chain_verdicts(True, docs)
    assert sorted(calls) == sorted(d.text for d in docs)


# --- per-language settings

C4_UNSPACED = {"filter_no_terminal_punct": False, "min_words_per_line": -1, "min_num_sentences": -1}


def test_a_language_with_an_override_is_judged_by_it_and_others_are_not() -> None:
    stage = C4Quality(
        options_by_language={"cmn_Hani": C4_UNSPACED, "deu_Latn": {"min_num_sentences": 50}}
    )
    chinese, german, english = judged(
        stage, [doc(CHINESE, language="cmn_Hani"), doc(GERMAN, language="deu_Latn"), doc(PROSE)]
    )
    assert chinese.alive and chinese.scores["c4_quality_pass"] == 1
    assert german.reason == "too_few_sentences"  # its own, stricter rule
    assert english.alive  # the defaults
    # Without the override, C4 finds no sentence in Chinese ('。' is not a C4 sentence end).
    (default,) = judged(C4Quality(), [doc(CHINESE, language="cmn_Hani")])
    assert default.reason == "too_few_sentences"


def test_the_sample_config_sets_options_per_language() -> None:
    from heed.curation.config import PipelineConfig

    stages = {s.name: s for s in PipelineConfig.load().build_stages()}
    assert {"gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"} <= set(stages)
    c4 = stages["c4_quality"]
    for language in ("cmn_Hani", "jpn_Jpan", "tha_Thai", "hin_Deva"):
        assert c4._kwargs(language)["min_num_sentences"] == -1, language
    assert c4._kwargs("eng_Latn")["language"] == "eng_Latn"
    assert "min_num_sentences" not in c4._kwargs("eng_Latn")  # datatrove's default
    assert stages["gopher_quality"]._kwargs("deu_Latn")["max_avg_word_length"] == 15
    c4.setup(CONTEXT)
    hindi = "नगर परिषद ने मंगलवार शाम को नए बजट पर चर्चा की। कई सदस्यों ने पुल की मरम्मत पर चिंता जताई।\n"
    pages = [doc(CHINESE, language="cmn_Hani"), doc(hindi * 4, language="hin_Deva")]
    c4(pages)
    assert [p.scores["c4_quality_pass"] for p in pages] == [1, 1]


# --- the four filters in the pipeline


def datatrove_reasons(stage: DatatroveFilter) -> re.Pattern[str]:
    """Every reason the datatrove filter's own code can give for a drop, as one pattern."""
    source = inspect.getsource(load_object(stage.default_filter).filter)
    literals = re.findall(r'return False, (f?)"([^"]+)"', source)
    assert literals
    alternatives = [
        re.sub(r"\\\{[^}]*\\\}", r"\\d+", re.escape(text)) if f else re.escape(text)
        for f, text in literals
    ]
    return re.compile("|".join(alternatives))


def audit_rows(out: Path) -> list[dict]:
    return pq.read_table(out / "audit").to_pylist()


def check_columns_and_reasons(rows: list[dict]) -> None:
    for cls in QUALITY:
        stage = cls()
        passes = [row[stage.pass_column] for row in rows]
        assert any(p is not None for p in passes), stage.name
        pattern = datatrove_reasons(stage)
        for row in rows:
            if row[stage.pass_column] == 0:
                assert pattern.fullmatch(row[stage.reason_column]), row[stage.reason_column]
            if row["stage"] == stage.name:
                assert row["reason"] == row[stage.reason_column], row["url"]
                assert row[stage.pass_column] == 0


def test_each_quality_filter_runs_in_the_sample_pipeline(local_run: Path) -> None:
    rows = audit_rows(local_run)
    check_columns_and_reasons(rows)
    reached = [row for row in rows if row["pii_email"] is not None]
    for cls in QUALITY:
        judged_rows = [row for row in reached if row[f"{cls.name}_pass"] is not None]
        assert len(judged_rows) >= len(reached) / 2, cls.name
    # C4 judges the Chinese, Japanese and Hindi pages by their own rules: none dropped as a
    # whole language for having no '.' sentences.
    for language in ("cmn_Hani", "jpn_Jpan", "hin_Deva"):
        pages = [row for row in reached if row["language"] == language]
        assert pages and all(row["c4_quality_pass"] == 1 for row in pages), language


def test_quality_drops_carry_datatroves_reasons(tmp_path: Path) -> None:
    """Stricter thresholds on one shard, so that each filter drops pages: the audit's reasons
    are datatrove's own and the summary counts them."""
    config = tmp_path / "strict.toml"
    config.write_text(
        f'name = "strict"\ncrawl_root = "{REPO / "sample"}"\ncrawl = "CC-MAIN-SAMPLE"\n'
        'stages = ["extract", "language", "gopher_repetition", "gopher_quality", '
        '"c4_quality", "fineweb_quality"]\n'
        "[stage.gopher_repetition]\noptions = { top_n_grams = [[2, 0.015]] }\n"
        "[stage.gopher_quality]\noptions = { min_doc_words = 200 }\n"
        "[stage.c4_quality]\noptions = { min_num_sentences = 14 }\n"
        "[stage.fineweb_quality]\noptions = { new_line_ratio = 0.025 }\n"
    )
    out = tmp_path / "out"
    proc = run_heed(
        "corpus", str(config), "--executor", "local", "--shards", "1", "--out", str(out)
    )
    rows = audit_rows(out)
    check_columns_and_reasons(rows)
    dropped = Counter((row["stage"], row["reason"]) for row in rows if row["status"] == "dropped")
    for cls in QUALITY:
        assert any(stage == cls.name for stage, _ in dropped), (cls.name, dropped)
    summary = proc.stdout + proc.stderr
    for stage, reason in dropped:
        assert f"dropped: {reason}" in summary, (stage, reason)

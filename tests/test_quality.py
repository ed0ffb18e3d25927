"""datatrove's quality filters through the adapter, unchanged, on real text."""

from __future__ import annotations

from conftest import make_doc

from curation.document import Document, Status
from curation.stage import RunContext
from filters.quality import (
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


def test_gopher_quality_judges_each_language_by_its_own_stop_words() -> None:
    german = (
        "Der Gemeinderat hat am Dienstagabend über den neuen Haushalt beraten. Mehrere Mitglieder "
        "äußerten Bedenken wegen der Kosten für die Reparatur der alten Brücke über den Fluss. "
        "Die Bürgermeisterin sagte, dass die Arbeiten im Frühjahr beginnen und vor dem Ende des "
        "Jahres abgeschlossen sein sollen. Anwohner, die an der Sitzung teilnahmen, baten um mehr "
        "Informationen über die Umleitungen während der Bauzeit. Eine zweite Sitzung ist für den "
        "nächsten Monat geplant, wenn die endgültigen Pläne vorgestellt werden."
    )
    (ours,) = judged(GopherQuality(), [doc(german, language="deu_Latn")])
    assert ours.alive and ours.scores["gopher_quality_pass"] == 1
    # datatrove's own default: English stop words, which a German page hardly contains.
    default = DatatroveFilter(
        datatrove_filter="datatrove.pipeline.filters:GopherQualityFilter",
        options={"stop_words": ["the", "be", "to", "of", "and", "that", "have", "with"]},
    )
    (theirs,) = judged(default, [doc(german, language="deu_Latn")])
    assert theirs.reason == "gopher_enough_stop_words"

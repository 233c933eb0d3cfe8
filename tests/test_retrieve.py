"""Hybrid retrieval, follow-up condensing and the LangChain retriever."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from conftest import SEED_FILES, FakeReader, HashEmbeddings, file_text
from qa_bot.config import Settings
from qa_bot.corpus import chunk, load_article
from qa_bot.retrieve import (
    completed,
    condense,
    insisted,
    leans_on_conversation,
    normalize_history,
    pointed,
    points_back,
    question_parts,
)

NPT_HISTORY = [
    ("Which conference will Vietnam chair?",
     "Vietnam will serve as President of the Review Conference of the Treaty on the "
     "Non-Proliferation of Nuclear Weapons (NPT) [1]."),
]


def test_history_as_pairs_and_messages_agree() -> None:
    messages = [
        {"role": "user", "content": NPT_HISTORY[0][0]},
        {"role": "assistant", "content": NPT_HISTORY[0][1]},
    ]
    assert normalize_history(messages) == normalize_history(NPT_HISTORY) == NPT_HISTORY
    assert normalize_history([["q", "a"]]) == [("q", "a")]
    assert normalize_history(None) == []


def test_history_pending_user_turn_kept() -> None:
    assert normalize_history([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]) == [
        ("a", ""), ("b", "")
    ]


def test_history_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        normalize_history(["just a string"])


@pytest.mark.parametrize(
    ("question", "leans"),
    [("When will it take place?", "pronoun"), ("And the budget?", "ellipsis"), ("What about Laos?", "ellipsis"),
     ("Why?", "ellipsis"), ("What position does that official hold?", "pronoun"),
     ("What is the population of Hanoi?", None), ("Who founded the company that built the bridge?", None),
     ("Who heads Vietnam's Permanent Mission to the UN in Geneva?", None)],
)
def test_leans_on_conversation(question: str, leans: str | None) -> None:
    assert leans_on_conversation(question) == leans


def test_condense_adds_the_earlier_turn() -> None:
    query = condense("When will it take place?", NPT_HISTORY)
    assert query != "When will it take place?"
    assert query.startswith("When will it take place?")
    assert NPT_HISTORY[0][0] in query
    assert "NPT" in query and "[1]" not in query


BRIDGE = [("How much did the Portmere bridge cost?",
           "48 million euros [1]\n\nThe bridge, which cost 48 million euros, was opened in 2024 by Mayor Helena "
           "Varga. [1]")]


@pytest.mark.parametrize(("question", "back"), [
    ("Who opened it?", True), ("What did that official say?", True), ("How old is he?", True),
    ("And in 2020?", False), ("Why?", False), ("What about Laos?", False), ("Who opened the bridge?", False),
])
def test_points_back(question: str, back: bool) -> None:
    assert points_back(question) is back


def test_the_reader_reads_a_follow_up_with_the_names_it_may_point_at_not_the_last_question() -> None:
    # the last answer's lead first, then the last question's names; never the last question's 'how much'
    assert pointed("Who opened it?", BRIDGE) == "Who opened it? (portmere)"
    assert pointed("What did he say?", [("Who chairs the port board?", "Anna Berg [1]\n\nThe board ...")]) == (
        "What did he say? (anna; berg)")
    assert pointed("Who opened it?", []) == "Who opened it?"


def test_a_follow_up_insists_on_its_own_and_the_last_questions_numbers_not_the_last_answers() -> None:
    assert insisted("Where was it held?", BRIDGE) == "Where was it held? How much did the Portmere bridge cost?"
    assert "2024" not in insisted("Where was it held?", BRIDGE)
    assert insisted("Who opened the bridge?", BRIDGE) == "Who opened the bridge?"


@pytest.mark.parametrize(("question", "parts"), [
    ("Who opened the bridge, and how much did it cost?", ["Who opened the bridge", "how much did it cost?"]),
    ("Who won the race? When was it held?", ["Who won the race", "When was it held?"]),
    ("Which firm built it and in what year did it open?", ["Which firm built it", "in what year did it open?"]),
    ("How old was she when she won the title?", ["How old was she when she won the title?"]),
    ("What is the name and rank of the officer?", ["What is the name and rank of the officer?"]),
    ("Who scored, and why?", ["Who scored", "why?"]),
    ("Who won, and when?", ["Who won", "when?"]),
    ("Who opened it, how much did it cost, and when did work begin?",
     ["Who opened it", "how much did it cost", "when did work begin?"]),
    ("What did she win, when she was 16?", ["What did she win, when she was 16?"]),
    # a bare question word sharing the next part's verb is one question
    ("Where and when was he born?", ["Where and when was he born?"]),
    ("In which year and in what city was he born?", ["In which year and in what city was he born?"]),
])
def test_question_parts(question: str, parts: list[str]) -> None:
    # a new part only where a question word begins a clause after 'and' or after a question's end
    assert question_parts(question) == parts


def test_a_later_part_with_no_word_of_its_own_asks_about_the_first_parts_subject() -> None:
    assert completed("when?", "Where was the accord signed") == "when was the accord signed?"
    assert completed("why?", "In which year did the port close") == "why did the port close?"
    assert completed("how much did it cost", "Who opened the bridge") == "how much did it cost"


def test_condense_leaves_standalone_questions() -> None:
    q = "Who heads Vietnam's Permanent Mission to the UN in Geneva?"
    assert condense(q, NPT_HISTORY) == q
    assert condense("What is the population of Hanoi?", NPT_HISTORY) == "What is the population of Hanoi?"
    assert condense("When will it take place?", []) == "When will it take place?"


def test_search_finds_the_passage_of_a_quoted_sentence(fake_bot) -> None:  # type: ignore[no-untyped-def]
    article = load_article(SEED_FILES[1])
    target = next(p for p in chunk(article) if p.kind == "body" and len(p.sentences) >= 3)
    sentence = target.sentence_texts()[1]
    found = fake_bot.retrieve(sentence, k=3)
    assert 1 <= len(found) <= 3
    assert any(p.source_id == article.source_id and sentence in p.text for p in found)
    assert len({p.id for p in found}) == len(found)
    for p in found:
        assert file_text(p.source_id)[p.start : p.end] == p.text


def test_sentence_search_off_leaves_the_sentence_index_alone(fake_store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """QA_BOT_SENTENCE_SEARCH=0: passages only (the sentence vectors' index is never loaded), and a
    quoted sentence still finds its passage through the lexical side and the passage vectors."""
    from qa_bot.pipeline import QABot

    settings, embeddings = fake_store
    assert Settings.from_env(env={"QA_BOT_SENTENCE_SEARCH": "0"}).sentence_search is False
    bot = QABot(settings.replace(sentence_search=False), embeddings=embeddings, reader=FakeReader())
    bot.ensure_store()
    monkeypatch.setattr(bot.store.sentences, "query", lambda *a, **k: pytest.fail("sentences queried"))
    article = load_article(SEED_FILES[2])
    target = next(p for p in chunk(article) if p.kind == "body" and len(p.sentences) >= 3)
    sentence = target.sentence_texts()[1]
    found = bot.retriever(k=3).invoke(sentence)
    assert any(d.metadata["source_id"] == article.source_id and sentence in d.page_content for d in found)
    assert bot.ask(sentence).citations


def test_retriever_is_a_langchain_retriever(fake_bot) -> None:  # type: ignore[no-untyped-def]
    retriever = fake_bot.retriever(k=4)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Non-Proliferation Treaty review conference president")
    assert 1 <= len(docs) <= 4
    for doc in docs:
        assert isinstance(doc, Document)
        meta = doc.metadata
        assert {"source_id", "title", "start", "end", "kind", "score"} <= set(meta)
        assert file_text(meta["source_id"])[meta["start"] : meta["end"]] == doc.page_content


def test_new_articles_searchable_after_ingest(settings: Settings, tmp_path: Path) -> None:
    from qa_bot.pipeline import QABot

    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "one.txt").write_text("Ducks swim in the pond every morning. They like bread.\n")
    bot = QABot(settings, embeddings=HashEmbeddings(), reader=FakeReader())
    bot.ingest([folder])
    assert bot.retrieve("ducks pond", k=1)[0].source_id == "one.txt"
    (folder / "two.txt").write_text("Zebras graze on the savanna in Kenya. Lions watch them.\n")
    bot.ingest([folder])
    assert bot.retrieve("zebras savanna Kenya", k=1)[0].source_id == "two.txt"


def test_a_follow_up_borrows_names_whole_and_nothing_from_a_decline() -> None:
    # names never run across a marker or a paragraph break of the last answer
    answer = ("Dainius Kreivys [1]\n\nLithuania's minister Dainius Kreivys opened it. [1] Staff Writer [2] "
              "Brandt said so.")
    query = condense("Who chaired it?", [("Who opened the summit?", answer)])
    assert "\n" not in query and "Kreivys Lithuania" not in query and "Writer Brandt" not in query
    assert "Dainius Kreivys" in query
    # a declined answer names only the closest articles' titles: the follow-up borrows none of them
    declined = [("How many trams are there?",
                 "The articles do not answer this question. The closest articles are: City Budget Of 2025 (a.txt).")]
    assert condense("What did they say after the ruling?", declined) == (
        "What did they say after the ruling? (How many trams are there?)")
    assert pointed("What did they say?", declined) == "What did they say?"

"""Publication dates: stored with every passage, carried to citations, and a filter on the search."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FakeReader, HashEmbeddings, make_settings
from qa_bot.errors import InvalidQuestionError
from qa_bot.ingest import ingest
from qa_bot.pipeline import QABot
from qa_bot.store import open_store

ARTICLES = {
    "january.txt": "Harbour bridge opens to traffic\n\nPublished: 10 January 2026\n\n"
                   "The new harbour bridge opened to traffic on Saturday after four years of work. "
                   "The harbour bridge cost 300 million dollars, the transport ministry said.\n",
    "february.txt": "Harbour bridge closes for repairs\n\nHAIPHONG, February 5, 2026 (VNA) – The harbour bridge "
                    "closed for repairs on Thursday. Engineers found cracks in the harbour bridge deck, the city "
                    "said, and the harbour bridge will reopen in May.\n",
    "undated.txt": "Harbour bridge history\n\nThe harbour bridge was first planned in 1998. The harbour bridge "
                   "plan was dropped twice before work began.\n",
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> QABot:
    """Three articles, two dated (a dated first line, a dateline), one not, in a real Chroma store."""
    folder = tmp_path_factory.mktemp("dated")
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = make_settings(folder / "store", embedding_model="fake-hash")
    embeddings = HashEmbeddings()
    ingest([folder], settings=settings, embeddings=embeddings)
    return QABot(settings, embeddings=embeddings, reader=FakeReader())


def test_dates_are_stored_with_every_passage(bot: QABot) -> None:
    got = open_store(bot.settings).passages.get(include=["metadatas"])
    dates = {m["source_id"]: (m["published"], m["published_day"]) for m in got["metadatas"]}
    assert dates == {"january.txt": ("2026-01-10", 20260110), "february.txt": ("2026-02-05", 20260205),
                     "undated.txt": ("", 0)}


def test_without_a_filter_every_article_is_searched(bot: QABot) -> None:
    found = bot.retrieve("When did the harbour bridge open?", k=10)
    assert {p.source_id for p in found} == set(ARTICLES)
    assert {p.published for p in found if p.source_id == "january.txt"} == {"2026-01-10"}


def test_since_and_until_narrow_the_search(bot: QABot) -> None:
    later = bot.retrieve("When did the harbour bridge open?", k=10, since="2026-02-01")
    assert later and {p.source_id for p in later} == {"february.txt"}
    earlier = bot.retrieve("When did the harbour bridge open?", k=10, until="31 January 2026")
    assert earlier and {p.source_id for p in earlier} == {"january.txt"}
    both = bot.retrieve("harbour bridge", k=10, since="2026-01-01", until="2026-12-31")
    assert {p.source_id for p in both} == {"january.txt", "february.txt"}
    assert bot.retrieve("harbour bridge", k=10, since="2027-01-01") == []


def test_answers_carry_their_dates(bot: QABot) -> None:
    answer = bot.ask("How much did the harbour bridge cost?", until="2026-01-31")
    assert not answer.abstained and answer.citations
    assert all(c.published == "2026-01-10" for c in answer.citations)
    assert answer.as_of == "2026-01-10"
    assert answer.to_dict()["citations"][0]["published"] == "2026-01-10"


def test_a_range_no_article_falls_in_says_so(bot: QABot) -> None:
    answer = bot.ask("How much did the harbour bridge cost?", since="2027-01-01")
    assert answer.abstained and not answer.citations
    assert any("no article in the store was published in that date range" in w and "without a date" in w
               for w in answer.warnings), answer.warnings


def test_a_decline_under_a_date_range_names_the_range(bot: QABot) -> None:
    # the answer may stand in an article outside the range: the decline says what was searched
    strict = QABot(bot.settings.replace(reader_threshold=100.0), embeddings=bot.embeddings, reader=FakeReader())
    answer = strict.ask("When was the harbour bridge first planned?", since="2026-01-01", until="2026-01-31")
    assert answer.abstained
    assert "only articles published from 1 January 2026 until 31 January 2026 were searched" in answer.warnings
    assert not any("were searched" in w for w in strict.ask("When was the harbour bridge first planned?").warnings)


def test_bad_dates_are_clear_errors(bot: QABot) -> None:
    with pytest.raises(InvalidQuestionError, match="since must be a date"):
        bot.ask("harbour bridge", since="yesterday")
    with pytest.raises(InvalidQuestionError, match="empty"):
        bot.retrieve("harbour bridge", since="2026-03-01", until="2026-01-01")


def test_a_retriever_with_dates(bot: QABot) -> None:
    docs = bot.retriever(k=5, since="2026-02-01").invoke("harbour bridge repairs")
    assert docs and {d.metadata["published"] for d in docs} == {"2026-02-05"}


def test_undated_articles_stay_searchable_without_a_filter(bot: QABot, tmp_path: Path) -> None:
    assert any(p.source_id == "undated.txt" for p in bot.retrieve("When was the harbour bridge planned?", k=10))

"""The page's API endpoint through gradio_client, the upload checks, and serve()'s host guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port, serve_page
from qa_bot.config import Settings
from qa_bot.errors import ConfigError

QUESTION = "Who is Vietnam's Permanent Representative to the United Nations?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """The page served in-process on a free loopback port, over a store built from seeds/."""
    with serve_page(tmp_path_factory.mktemp("web") / "store") as (url, _bot, settings):
        yield url, settings


@pytest.fixture(scope="module")
def client(served: tuple[str, Settings]) -> Any:
    """A gradio_client on the served page."""
    from gradio_client import Client

    return Client(served[0], verbose=False)


@pytest.mark.integration
@pytest.mark.slow
def test_ask_endpoint_returns_offset_exact_citations(
    client: Any, served: tuple[str, Settings]
) -> None:
    """/ask returns Answer.to_dict() whose quotes are exact slices of the article files."""
    _, settings = served
    result = client.predict(QUESTION, "extractive", 5, api_name="/ask")
    assert isinstance(result, dict)
    assert result["question"] == QUESTION
    assert not result["abstained"]
    assert result["citations"]
    assert "[1]" in result["text"]
    for c in result["citations"]:
        text = (settings.seeds_dir / c["source_id"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]
        assert c["passage_start"] <= c["start"] <= c["end"] <= c["passage_end"]


@pytest.mark.integration
@pytest.mark.slow
def test_ask_endpoint_reports_bad_input_as_error(client: Any) -> None:
    """An empty question comes back as an error message, not a server failure."""
    result = client.predict("   ", "extractive", 5, api_name="/ask")
    assert "empty" in result["error"]


@pytest.mark.integration
@pytest.mark.slow
def test_ask_endpoint_abstains(client: Any) -> None:
    """A question the articles do not answer abstains and names the closest articles."""
    result = client.predict("Who won the 2022 FIFA World Cup?", "extractive", 5, api_name="/ask")
    assert result["abstained"]
    assert result["citations"] == []


def test_serve_refuses_public_host_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host other machines can reach needs QA_BOT_USERNAME/PASSWORD or no_auth=True."""
    from qa_bot import web

    monkeypatch.delenv("QA_BOT_USERNAME", raising=False)
    monkeypatch.delenv("QA_BOT_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="QA_BOT_USERNAME"):
        web.serve(Settings(host="0.0.0.0", port=free_port()))
    assert web._auth(Settings(host="0.0.0.0"), no_auth=True) is None
    assert web._auth(Settings(host="127.0.0.1"), no_auth=False) is None
    monkeypatch.setenv("QA_BOT_USERNAME", "reader")
    monkeypatch.setenv("QA_BOT_PASSWORD", "s3cret")
    assert web._auth(Settings(host="0.0.0.0"), no_auth=False) == ("reader", "s3cret")


def test_upload_checks(tmp_path: Path) -> None:
    """Uploads need a plain, visible .txt/.md name, a size under the limit, and no clash with seeds."""
    from qa_bot import web

    settings = Settings(store_dir=tmp_path / "store", seeds_dir=Path("seeds"), max_file_bytes=100)
    ok = tmp_path / "a.txt"
    ok.write_text("Title\n\nSome text.", encoding="utf-8")
    big = tmp_path / "big.txt"
    big.write_text("x" * 200, encoding="utf-8")
    assert web.check_upload(ok, "story.txt", settings) is None
    assert web.check_upload(ok, "story.md", settings) is None
    assert web.check_upload(ok, "story.pdf", settings) is None
    assert web.check_upload(ok, "story.html", settings) is None
    assert "only .txt, .md, .html" in (web.check_upload(ok, "story.docx", settings) or "")
    assert web.check_upload(ok, ".hidden.txt", settings)
    assert web.check_upload(ok, "../evil.txt", settings)
    assert web.check_upload(ok, "a\x00b.txt", settings)
    assert web.check_upload(ok, "café-résumé.md", settings) is None  # letters of any script
    assert web.check_upload(ok, "Hà Nội 2026.txt", settings) is None
    for name in ("समाचार.txt", "ข่าว.txt", "שָׁלוֹם.txt", "ক্রিকেট.txt"):  # scripts whose letters carry marks
        assert web.check_upload(ok, name, settings) is None, name
    assert web.check_upload(ok, "\u0301accent.txt", settings)  # a mark cannot begin a name
    assert web.check_upload(ok, "a\u200bb.txt", settings) and web.check_upload(ok, "a\u00a0b.txt", settings)
    decomposed = type("Upload", (), {"name": str(ok), "orig_name": "Ha\u0300 No\u0302\u0323i.txt"})()
    assert web._upload_name(decomposed)[1] == "Hà Nội.txt"  # one spelling of each name
    assert web.check_upload(ok, "evil\u202etxt.md", settings)  # a right-to-left override hides the real name
    assert "limit" in (web.check_upload(big, "big.txt", settings) or "")
    seed = sorted(Path("seeds").glob("*.txt"))[0].name
    assert "bundled" in (web.check_upload(ok, seed, settings) or "")


def test_rendering_escapes_article_text() -> None:
    """Article and question text never becomes markup."""
    from qa_bot import web
    from qa_bot.types import Answer

    answer = Answer(question="q", text="<img src=x onerror=alert(1)> **bold** [1]")
    shown = web.render_answer(answer, 0)
    assert "<img" not in shown and "&lt;img" in shown
    assert 'href="#qa-cite-0-1"' in shown
    follow = Answer(question="and his age?", text="x [1]", query="and his age? (who is the envoy)")
    assert "Searched for: and his age? (who is the envoy)" in web.render_answer(follow, 1)
    assert "Searched for" not in web.render_answer(answer, 0)
    abstained = Answer(question="q", text="no", abstained=True, closest=("<b>T</b> (x.txt)",))
    assert "qa-abstain" in web.render_answer(abstained, 0)
    assert "<b>T</b>" not in web.render_answer(abstained, 0)


def test_removed_sentences_are_listed_in_a_note_the_user_can_open() -> None:
    from qa_bot.types import Answer
    from qa_bot.web import render_answer

    answer = Answer(question="q", text="Kept [1]", backend="openai", warnings=(
        "removed from the openai draft: \u201cIt cost 9 dollars.\u201d (numbers not in the quotes: 9)",
        "weak support"))
    html = render_answer(answer, 0)
    assert "<details" in html and "numbers not in the quotes: 9" in html
    assert html.count("qa-note") == 2  # the other warning stays a plain note


def test_an_article_changed_since_the_answer_never_marks_other_words(tmp_path: Path) -> None:
    """A citation opened after its article was updated marks its quote where it now stands, or nothing,
    and says so; it never marks whatever now stands at the old offsets."""
    from qa_bot import web

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    article = seeds / "court.txt"
    article.write_text("The firm has about 48,000 active drivers in the region.\n", encoding="utf-8")
    text = article.read_text(encoding="utf-8")
    quote = "about 48,000 active drivers"
    start = text.index(quote)
    cite = {"marker": 1, "source_id": "court.txt", "title": "Court", "quote": quote, "start": start,
            "end": start + len(quote), "passage_start": 0, "passage_end": len(text)}
    articles = web.Articles(Settings(store_dir=tmp_path / "store", seeds_dir=seeds))
    assert f"<mark>{quote}</mark>" in web.render_article(cite, articles)
    assert "changed" not in web.render_article(cite, articles)

    article.write_text("UPDATED: a line was added.\n" + text, encoding="utf-8")  # the quote moved
    shown = web.render_article(cite, articles)
    assert f"<mark>{quote}</mark>" in shown and "has changed since this answer" in shown
    assert "UPDATED" not in shown.split('<span class="qa-passage">', 1)[1]  # only the quote is tinted

    article.write_text(text.replace("48,000", "52,000"), encoding="utf-8")  # the quote is gone
    shown = web.render_article(cite, articles)
    assert "<mark>" not in shown and "no longer holds the quoted words" in shown


def test_example_questions_about_the_seeds_show_only_over_the_seeds(fake_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Over other articles the bundled seeds' examples would mislead (one is answered from whatever is there)."""
    from conftest import FakeReader
    from qa_bot import web
    from qa_bot.pipeline import QABot

    settings, embeddings = fake_store

    def labels(seeds: Path) -> set[str]:
        app = web.build_app(QABot(settings.replace(seeds_dir=seeds), embeddings=embeddings, reader=FakeReader()))
        return {str(c.get("props", {}).get("label")) for c in app.config["components"]}

    assert "Example questions" in labels(settings.seeds_dir)
    assert "Example questions" not in labels(tmp_path)

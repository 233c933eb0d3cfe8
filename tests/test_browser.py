"""The chat page in a real headless Chromium: answer, sources, article view, abstention, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import serve_page

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path("test-artifacts/screenshots")
QUESTION = "Who is Vietnam's Permanent Representative to the United Nations?"
ABSTAIN_QUESTION = "Who won the 2022 FIFA World Cup?"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"
    ),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The page served in-process on a free loopback port, over a store built from seeds/."""
    pytest.importorskip("playwright.sync_api")
    with serve_page(tmp_path_factory.mktemp("browser") / "store") as (url, bot, _settings):
        yield url, bot


@pytest.fixture(scope="module")
def page(served: tuple[str, Any]) -> Iterator[Any]:
    """One headless Chromium page on the app."""
    from playwright.sync_api import sync_playwright

    url, _ = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        pg.goto(url)
        pg.wait_for_selector("#qa-question textarea")
        yield pg
        browser.close()


def _ask(page: Any, question: str) -> None:
    page.fill("#qa-question textarea", question)
    page.click("#qa-ask")


def _assistant_count(page: Any) -> int:
    return int(page.locator("#qa-chat .bot").count())


def test_answer_sources_and_article(page: Any, served: tuple[str, Any]) -> None:
    """An answer has a [1] marker, the panel shows the quote, a click opens the article at it."""
    _, bot = served
    expected = bot.ask(QUESTION)
    assert expected.citations, "the library itself should answer this question"
    quote = expected.citations[0].quote

    _ask(page, QUESTION)
    page.wait_for_selector("#qa-chat a.qa-marker")
    page.wait_for_selector("#qa-sources .qa-source")
    page.wait_for_timeout(500)  # let the last streamed sentence settle
    answer_text = page.locator("#qa-chat .bot").last.inner_text()
    assert "[1]" in answer_text
    panel = page.locator("#qa-sources")
    assert quote in panel.inner_text()
    assert quote in panel.locator("mark").first.inner_text()
    page.screenshot(path=str(SHOTS / "answer.png"), full_page=True)
    # a screen reader hears the messages' words, never their tags, and the question box has a name
    page.wait_for_function("![...document.querySelectorAll('#qa-chat [aria-label]')]"
                           ".some(el => el.getAttribute('aria-label').includes('<div'))")
    labels = page.eval_on_selector_all("#qa-chat [aria-label*='message']", "els => els.map(e => e.ariaLabel)")
    assert labels and any("[1]" in label for label in labels), labels
    assert page.get_by_role("textbox", name="Question").count() == 1

    page.locator("#qa-sources a.qa-source").first.click()
    mark = page.locator("#qa-article mark")
    mark.wait_for()
    assert mark.inner_text() == quote
    page.wait_for_timeout(600)
    assert mark.is_visible()
    page.screenshot(path=str(SHOTS / "article.png"), full_page=True)

    # a marker in the chat opens its source too
    last = expected.citations[-1]
    page.locator(f'#qa-chat a.qa-marker[href$="-{last.marker}"]').last.click()
    page.wait_for_function(
        "q => (document.querySelector('#qa-article mark') || {}).innerText === q", arg=last.quote
    )
    assert f"[{last.marker}]" in page.locator("#qa-article .qa-article-title").inner_text()


def test_abstention_looks_different(page: Any) -> None:
    """A question the articles do not answer gets the abstention notice, naming close articles."""
    _ask(page, ABSTAIN_QUESTION)
    notice = page.locator("#qa-chat .qa-abstain")
    notice.wait_for()
    assert "Not in the articles" in notice.inner_text()
    assert page.locator("#qa-chat .bot").last.locator(".qa-abstain").count() == 1
    page.screenshot(path=str(SHOTS / "abstain.png"), full_page=True)


def test_empty_question_is_a_chat_message(page: Any) -> None:
    """An empty question shows an error in the chat, never a traceback."""
    before = page.locator("#qa-chat .qa-error").count()
    page.fill("#qa-question textarea", "   ")
    page.click("#qa-ask")
    page.wait_for_function(f"document.querySelectorAll('#qa-chat .qa-error').length > {before}")
    chat = page.locator("#qa-chat").inner_text()
    assert re.search(r"empty", chat)
    assert "Traceback" not in chat and "Error:" not in page.locator("body").inner_text()
    page.screenshot(path=str(SHOTS / "empty.png"), full_page=True)


def test_a_refused_question_stays_in_the_box_to_be_mended(page: Any) -> None:
    """A question over the length limit is refused in the chat and stays in the box, shown cut with '…'."""
    before = page.locator("#qa-chat .qa-error").count()
    long = "Who opened the harbour bridge? " * 80  # about 2,500 characters
    page.fill("#qa-question textarea", long)
    page.click("#qa-ask")
    page.wait_for_function(f"document.querySelectorAll('#qa-chat .qa-error').length > {before}")
    assert "the limit is" in page.locator("#qa-chat .qa-error").last.inner_text()
    page.wait_for_function("document.querySelector('#qa-question textarea').value.length > 2000")
    assert page.locator("#qa-question textarea").input_value() == long
    assert "…" in page.locator("#qa-chat .user").last.inner_text()


def test_the_chats_own_clear_icon_forgets_the_conversation_and_an_error_shows_no_old_sources(page: Any) -> None:
    """The bin icon Gradio puts on the chat does what "Clear chat" does: the next follow-up borrows nothing
    and the sources panel is empty; an error beside an earlier answer does not show that answer's sources."""
    before = _assistant_count(page)
    _ask(page, "Which conference will Vietnam preside over?")
    page.wait_for_function(f"document.querySelectorAll('#qa-chat .bot .qa-answer').length > 0 && "
                           f"document.querySelectorAll('#qa-chat .bot').length > {before}")
    page.locator("#qa-sources .qa-source").first.wait_for()
    page.click("#qa-chat button[aria-label='Clear']")
    page.wait_for_function("document.querySelectorAll('#qa-chat .bot').length === 0")
    page.wait_for_function("!document.querySelector('#qa-sources .qa-source')")
    _ask(page, "When will it take place?")
    page.wait_for_function("document.querySelectorAll('#qa-chat .bot .qa-answer, #qa-chat .bot .qa-abstain')"
                           ".length === 1")
    page.locator("#qa-sources .qa-source").first.wait_for()  # the answer is final (its sources are shown)
    assert "Which conference" not in page.locator("#qa-chat").inner_text()  # nothing borrowed from it
    _ask(page, QUESTION)
    # its final answer (sources are shown only then): a click while one is pending is ignored by Gradio
    page.wait_for_function("(document.querySelector('#qa-sources') || {innerText: ''}).innerText"
                           ".includes('Permanent Representative')")
    page.fill("#qa-question textarea", "   ")
    page.click("#qa-ask")
    page.wait_for_function("!document.querySelector('#qa-sources .qa-source')")


def test_a_message_with_a_less_than_sign_keeps_the_page_alive(page: Any) -> None:
    """A message whose words hold '<' is labelled once by its words, not again and again (the page froze)."""
    _ask(page, "Did Vietnam send fewer than 5 < 6 delegations?")
    page.wait_for_function("[...document.querySelectorAll('#qa-chat [aria-label*=message]')]"
                           ".some(el => el.ariaLabel.includes('5 < 6'))", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#qa-chat .bot .qa-answer, #qa-chat .bot .qa-abstain')"
                           ".length > 0")
    assert page.evaluate("1 + 1") == 2
    labels = page.eval_on_selector_all("#qa-chat [aria-label*='message']", "els => els.map(e => e.ariaLabel)")
    assert labels and not [label for label in labels if label.endswith(": ") or "<div" in label], labels

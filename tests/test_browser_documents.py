"""In a real headless Chromium: add a link (served by a loopback server) and a PDF on the page, then ask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import serve_page
from pages import loopback_server, respond, seed_page, text_pdf
from qa_bot.documents import text_path
from qa_bot.fetch import link_name
from test_browser import ARGS, CHROMIUM, SHOTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"),
]

LINK_ARTICLE = (
    "Danang opens the Lien Chieu container terminal\n\n"
    "The Lien Chieu container terminal in Danang was opened on Thursday by port director Nguyen Van Hai. "
    "The terminal can receive container ships of up to 100,000 tonnes, the port authority said. "
    "Its first berth cost 3.4 trillion dong and took four years to build.\n\n"
    "Shipping lines from Singapore and Busan have already booked weekly calls at the new terminal, "
    "according to the city's transport department.\n"
)
PDF_PARAGRAPHS = [
    "Hue hosts an international heritage conference",
    "The international heritage conference in Hue gathered 300 delegates from 25 countries this week. "
    "It was opened by Deputy Minister of Culture Tran Thi Lan, who called the former imperial capital a "
    "laboratory for living heritage.",
    "Delegates visited the restored Kien Trung Palace, which reopened to visitors after a seven-year restoration "
    "that cost 120 billion dong.",
]
FLIP_ARTICLE = (
    "Can Tho opens a floating market museum\n\n"
    "A museum of the Cai Rang floating market opened in Can Tho on Saturday, the city's culture department said. "
    "It shows 40 wooden boats and the poles traders hang their goods from to tell buyers what they sell.\n"
)
MENUS = ("<html><head><title>Home</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav>"
         "<footer>© 2026 Ledger</footer></body></html>")
FLIP: dict[str, bytes] = {}  # what /world/flip answers now: a page that changes between fetches
LINK_QUESTION = "Who opened the Lien Chieu container terminal?"
PDF_QUESTION = "How many delegates did the heritage conference in Hue gather?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, str, Path]]:
    """The page over a seeds store that may fetch loopback links, a loopback news site, and a PDF file."""
    pytest.importorskip("playwright.sync_api")
    folder = tmp_path_factory.mktemp("browser-docs")
    source = folder / "lien-chieu.txt"
    source.write_text(LINK_ARTICLE, encoding="utf-8")
    page = seed_page(source, 20)  # published 2026-03-20, wrapped in menus, banners and comments
    pdf = folder / "hue-heritage.pdf"
    pdf.write_bytes(text_pdf(PDF_PARAGRAPHS, title="Hue hosts an international heritage conference",
                             created="2026-02-14"))
    flip = folder / "can-tho.txt"
    flip.write_text(FLIP_ARTICLE, encoding="utf-8")
    FLIP["good"] = FLIP["page"] = seed_page(flip, 21).html.encode()
    routes = {"/world/lien-chieu": respond(200, page.html.encode()),
              "/world/flip": lambda handler: respond(200, FLIP["page"])(handler)}
    with loopback_server(routes) as base, serve_page(
        folder / "store", fetch_allow_private=True, fetch_timeout=30.0
    ) as (url, bot, _settings):
        yield url, bot, f"{base}/world/lien-chieu", pdf


@pytest.fixture(scope="module")
def browser_page(served: tuple[str, Any, str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1200})
        pg.set_default_timeout(90_000)
        pg.goto(served[0])
        pg.wait_for_selector("#qa-question textarea")
        yield pg
        browser.close()


def _open_add_articles(page: Any) -> None:
    """Open the "Add articles" panel unless it is open already: each test opens what it needs."""
    if not page.locator("#qa-links textarea").is_visible():
        page.locator("button:has-text('Add articles')").click()
    page.locator("#qa-links textarea").wait_for(state="visible")


def _sources_after(page: Any, question: str, quote: str) -> str:
    """Ask on the page; the sources panel once it shows the quote the library gives."""
    page.fill("#qa-question textarea", question)
    page.click("#qa-ask")
    page.wait_for_function("q => (document.querySelector('#qa-sources') || {}).innerText?.includes(q)", arg=quote)
    page.wait_for_timeout(500)  # the last streamed sentence settles
    return str(page.locator("#qa-sources").inner_text())


def test_add_a_link_and_a_pdf_then_ask_about_them(browser_page: Any, served: tuple[str, Any, str, Path]) -> None:
    page = browser_page
    _, bot, link, pdf = served
    _open_add_articles(page)
    page.fill("#qa-links textarea", link)
    page.set_input_files("#qa-upload input[type=file]", str(pdf))
    page.wait_for_selector("#qa-upload :text('hue-heritage.pdf')")  # the upload reached the server
    page.click("#qa-add")
    report = page.locator("#qa-upload-report")
    page.wait_for_function(
        "() => (document.querySelector('#qa-upload-report') || {}).innerText?.split('added, searchable').length > 2")
    text = report.inner_text()
    assert "hue-heritage.pdf: added" in text.replace("`", "") and link in text
    page.screenshot(path=str(SHOTS / "documents-added.png"), full_page=True)

    expected = bot.ask(LINK_QUESTION)
    assert expected.citations and expected.citations[0].source_id.endswith(".html")
    assert expected.as_of == "2026-03-20" and expected.citations[0].url.startswith("https://ledger.example.com/")
    panel = _sources_after(page, LINK_QUESTION, expected.citations[0].quote)
    assert "Nguyen Van Hai" in page.locator("#qa-chat .bot").last.inner_text()
    assert expected.citations[0].quote in panel
    assert "20 March 2026" in panel and "ledger.example.com" in panel
    assert "As of 20 March 2026" in page.locator("#qa-chat .bot").last.inner_text()
    page.locator("#qa-sources a.qa-source").first.click()
    page.locator("#qa-article mark").wait_for()
    assert page.locator("#qa-article mark").inner_text() == expected.citations[0].quote
    assert page.locator("#qa-article a.qa-link").get_attribute("href") == expected.citations[0].url
    page.screenshot(path=str(SHOTS / "documents-link-answer.png"), full_page=True)

    expected = bot.ask(PDF_QUESTION)
    assert expected.citations and expected.citations[0].source_id == "hue-heritage.pdf"
    panel = _sources_after(page, PDF_QUESTION, expected.citations[0].quote)
    assert "300" in page.locator("#qa-chat .bot").last.inner_text()
    assert expected.citations[0].quote in panel and "14 February 2026" in panel and "hue-heritage.pdf" in panel
    page.screenshot(path=str(SHOTS / "documents-pdf-answer.png"), full_page=True)


def test_a_bad_link_or_file_is_one_line_on_the_page(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    _open_add_articles(page)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    page.fill("#qa-links textarea", "http://127.0.0.1:9/nothing-listens-here\nftp://example.com/a.html")
    page.set_input_files("#qa-upload input[type=file]", str(binary))
    page.wait_for_selector("#qa-upload :text('binary.txt')")
    page.click("#qa-add")
    page.wait_for_function(
        "() => (document.querySelector('#qa-upload-report') || {}).innerText?.includes('only http://')")
    text = page.locator("#qa-upload-report").inner_text()
    assert "only http:// and https://" in text and "could not be fetched" in text
    # every refused item has its own line, a file as a link
    assert "binary.txt: not added: " in text.replace("`", "") and "binary file" in text, text
    assert "Traceback" not in page.locator("body").inner_text()
    # what was added (or refused) is cleared, so the next "Add" does not send it again
    page.wait_for_function("() => !document.querySelector('#qa-links textarea').value")
    page.wait_for_function("() => !document.querySelector('#qa-upload').innerText.includes('binary.txt')")


def test_a_failed_refetch_on_the_page_keeps_the_article(browser_page: Any, served: tuple[str, Any, str, Path]) -> None:
    page = browser_page
    _, bot, link, _ = served
    flip = link.rsplit("/world/", 1)[0] + "/world/flip"
    name = link_name(flip)
    saved = bot.settings.uploads / name
    _open_add_articles(page)
    page.set_input_files("#qa-upload input[type=file]", [])
    FLIP["page"] = FLIP["good"]
    page.fill("#qa-links textarea", flip)
    page.click("#qa-add")
    # The saved name is only in the report once the work is done (the progress line shows the link).
    page.wait_for_function("n => (document.querySelector('#qa-upload-report') || {}).innerText"
                           "?.includes(n + '): added, searchable')", arg=name)
    kept, text = saved.read_bytes(), text_path(saved).read_bytes()
    passages = sorted(bot.store.passages.get(where={"source_id": name}, include=[])["ids"])
    assert passages

    FLIP["page"] = MENUS.encode()  # the same link now gives only menus
    page.fill("#qa-links textarea", flip)
    page.click("#qa-add")
    page.wait_for_function(
        "() => (document.querySelector('#qa-upload-report') || {}).innerText?.includes('no article text')")
    report = page.locator("#qa-upload-report").inner_text()
    assert "no article text found in this page" in report and "Traceback" not in report
    assert saved.read_bytes() == kept and text_path(saved).read_bytes() == text
    assert sorted(bot.store.passages.get(where={"source_id": name}, include=[])["ids"]) == passages
    assert not [p for p in bot.settings.uploads.iterdir() if p.name.startswith(".")]  # no staged file left

"""Saved web pages and PDFs as articles: real trafilatura and pypdf, offsets into the kept text."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from conftest import SEED_FILES
from pages import encrypted, measure, seed_page, text_pdf
from qa_bot.corpus import chunk, classify, discover, load_article, split_sentences
from qa_bot.documents import dateline, display_date, is_sidecar, parse_day, text_path
from qa_bot.errors import ArticleError, InvalidQuestionError

ARTIFACTS = Path("test-artifacts")


def _save(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_saved_pages_keep_every_body_sentence_and_no_furniture(tmp_path: Path) -> None:
    """Each seed as a saved page with menus, a cookie banner, comments and 'read more' lists: the article
    text holds every body sentence and none of the furniture."""
    kept_total = body_total = leaked_total = furniture_total = 0
    report = []
    for i, seed in enumerate(SEED_FILES):
        page = seed_page(seed, i)
        article = load_article(_save(tmp_path, page.name, page.html))
        kept, leaked, lost, leaks = measure(article.text, page)
        kept_total += round(kept * len(page.body))
        body_total += len(page.body)
        leaked_total += len(leaks)
        furniture_total += len(page.furniture)
        report.append({"page": page.name, "body_sentences": len(page.body), "kept": kept,
                       "furniture_lines": len(page.furniture), "leaked": leaked, "lost": lost, "leaks": leaks})
        assert not lost, f"{page.name}: body sentences lost: {lost[:3]}"
        assert not leaks, f"{page.name}: furniture leaked: {leaks[:3]}"
    ARTIFACTS.mkdir(exist_ok=True)
    summary = {"body_sentences": body_total, "kept": kept_total / body_total,
               "furniture_lines": furniture_total, "leaked": leaked_total / furniture_total, "pages": report}
    (ARTIFACTS / "saved-pages.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"\nsaved pages: {kept_total}/{body_total} body sentences kept, "
          f"{leaked_total}/{furniture_total} furniture lines leaked")


def test_page_metadata_title_author_site_date_link(tmp_path: Path) -> None:
    """Title, author, site, publication date and the page's own link come from the page."""
    page = seed_page(SEED_FILES[0], 0)
    article = load_article(_save(tmp_path, page.name, page.html))
    assert article.source_id == page.name
    assert article.title == page.title
    assert article.author == page.author
    assert article.outlet == "The Daily Ledger"
    assert article.published == page.published
    assert article.url == page.url
    passages = chunk(article)
    assert passages and all(p.published == page.published and p.url == page.url for p in passages)


def test_page_text_is_kept_beside_it_and_offsets_count_it(tmp_path: Path) -> None:
    """The extracted text is written beside the page; every passage and sentence is a slice of that file."""
    page = seed_page(SEED_FILES[1], 1)
    path = _save(tmp_path, page.name, page.html)
    article = load_article(path)
    sidecar = text_path(path)
    assert sidecar == tmp_path / (page.name + ".txt") and is_sidecar(sidecar)
    with open(sidecar, encoding="utf-8") as handle:
        stored = handle.read()
    assert stored == article.text
    for p in chunk(article):
        assert stored[p.start : p.end] == p.text
        assert all(stored[s:e] == p.text[s - p.start : e - p.start] for s, e in p.sentences)
    # Reading it again changes nothing: same text, same digest, the kept text not rewritten.
    before = sidecar.stat().st_mtime_ns
    os.utime(sidecar, ns=(before - 10**9, before - 10**9))
    again = load_article(path)
    assert again.digest == article.digest
    assert sidecar.stat().st_mtime_ns == before - 10**9


def test_a_folder_lists_pages_and_pdfs_but_not_their_kept_text(tmp_path: Path) -> None:
    page = seed_page(SEED_FILES[0], 0)
    html = _save(tmp_path, "story.html", page.html)
    load_article(html)
    _save(tmp_path, "notes.txt", "A note of my own.")
    found, errors = discover([tmp_path])
    assert sorted(p.name for p in found) == ["notes.txt", "story.html"]
    assert not errors


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("menus.html", "<html><head><title>Home</title></head><body><nav><ul><li><a href='/'>Home</a></li>"
         "<li><a href='/w'>World</a></li></ul></nav><footer>© 2026</footer></body></html>", "no article text"),
        ("blank.htm", "<html><body>   </body></html>", "no article text"),
        ("fake.pdf", "This is not a PDF at all.", "not a PDF"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "not a readable PDF"),
        ("empty.html", "", "empty"),
    ],
)
def test_bad_pages_and_pdfs_are_one_clear_message(tmp_path: Path, name: str, data: str | bytes,
                                                 message: str) -> None:
    with pytest.raises(ArticleError, match=message) as caught:
        load_article(_save(tmp_path, name, data))
    assert "\n" not in str(caught.value) and name in str(caught.value)


def _pdf_paragraphs() -> tuple[list[str], list[str]]:
    """The first seed's title and body paragraphs, and its body sentences."""
    text = SEED_FILES[0].read_text(encoding="utf-8")
    blocks = classify(text)
    paragraphs = [text[b.start : b.end] for b in blocks if b.kind in ("title", "body")][:12]
    sentences = [text[s:e] for b in blocks if b.kind == "body" and text[b.start : b.end] in paragraphs
                 for s, e in split_sentences(text, b.start, b.end)]
    return paragraphs, sentences


def test_pdf_text_layer_becomes_paragraphs_with_its_date(tmp_path: Path) -> None:
    """A PDF's wrapped lines are joined back into paragraphs: every sentence reads whole, at its offsets."""
    paragraphs, sentences = _pdf_paragraphs()
    pdf = text_pdf(paragraphs, title="Spreading the spirit", author="Mai Anh", created="2026-01-12")
    article = load_article(_save(tmp_path, "report.pdf", pdf))
    flat = " ".join(article.text.split())
    lost = [s for s in sentences if s not in article.text]
    assert not [s for s in sentences if " ".join(s.split()) not in flat]
    assert len(lost) <= len(sentences) // 10, f"sentences broken across lines: {lost[:3]}"
    assert article.title == "Spreading the spirit" and article.author == "Mai Anh"
    assert article.published == "2026-01-12"
    with open(text_path(tmp_path / "report.pdf"), encoding="utf-8") as handle:
        stored = handle.read()
    assert all(stored[p.start : p.end] == p.text for p in chunk(article))


def test_pdf_without_text_layer_is_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no text layer"):
        load_article(_save(tmp_path, "scan.pdf", text_pdf([])))
    assert not text_path(tmp_path / "scan.pdf").exists()


def test_encrypted_pdf_is_a_clear_message(tmp_path: Path) -> None:
    locked = encrypted(text_pdf(["A secret report. It says things."]))
    with pytest.raises(ArticleError, match="encrypted"):
        load_article(_save(tmp_path, "locked.pdf", locked))


def test_dateline_finds_the_date_a_text_states_at_its_top() -> None:
    assert dateline("Jan 22, 2021 ... Super Bowl LV will be played in Tampa Bay.") == "2021-01-22"
    assert dateline("Title\n\nPublished: 19 January 2026\n\nBody.") == "2026-01-19"
    assert dateline("---\ndate: 2026-02-03\n---\nText") == "2026-02-03"
    assert dateline("HANOI, January 19, 2026 (VNA) – The Congress opened.") == "2026-01-19"
    assert dateline("Monday, March 2, 2026\nHeadline") == "2026-03-02"
    # a short label and the date alone on its line: a section, a byline
    assert dateline("Bees count to four\n\nScience | 2 July 2025\n\nBody.") == "2025-07-02"
    assert dateline("By Jo Smith · 3 May 2024\nBody.") == "2024-05-03"
    assert dateline("Science | 2 July 2025 was a day of rain.") == ""
    assert dateline("By Jo Smith | July 2, 2025 | 10:30 AM\nBody.") == "2025-07-02"
    assert dateline("By Jo Smith · 2 July 2025 · 5 min read\nBody.") == "2025-07-02"
    # an event's date under a label is no publication date
    assert dateline("Deadline for entries | 30 September 2026\nBody.") == ""
    assert dateline("Tickets on sale until / 31 December 2026\nBody.") == ""
    # Dates inside the story, or past the top lines, are not publication dates.
    assert dateline("The Congress, held in November 2025, decided.") == ""
    assert dateline("Photo taken on July 8, 2025. (Source: VNA)") == ""
    assert dateline("a\nb\nc\nd\ne\nf\nJanuary 19, 2026") == ""
    assert dateline("February 30, 2026 - nothing") == ""


def test_date_filters_parse_or_refuse() -> None:
    assert parse_day("2026-01-31") == "2026-01-31"
    assert parse_day(" 31 January 2026 ") == "2026-01-31"
    assert parse_day(date(2025, 6, 1)) == "2025-06-01"
    assert parse_day("") is None and parse_day(None) is None
    with pytest.raises(InvalidQuestionError, match="since must be a date"):
        parse_day("last week", "since")
    with pytest.raises(InvalidQuestionError):
        parse_day("2026-13-01")
    assert display_date("2026-01-19") == "19 January 2026"

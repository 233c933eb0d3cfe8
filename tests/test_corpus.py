"""Articles: kinds, title and outlet, sentences, and spans that are exact offsets into the file."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from conftest import SEED_FILES, file_text
from qa_bot.corpus import (
    chunk,
    classify,
    detect_outlet,
    discover,
    load_article,
    passage_id,
    read_text,
    split_sentences,
)
from qa_bot.errors import ArticleError

ARTICLE = """Vietnam opens new deep-water port in Hai Phong

WVR - The new port opened on Monday after three years of work. Mr. Nguyen Van An said it cost \
1.5 billion USD. Dr. Tran agreed with him.
The harbour seen from the air (Photo: VNA)
|
| |
Top
Investment
Officials expect 2 million containers a year by 2030. The U.S. Embassy sent a delegation.
Related news
Hanoi hosts regional trade fair
Ministers meet in Da Nang to discuss...
"""


def write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8", newline="")
    return path


def kinds_of(text: str) -> dict[str, str]:
    return {text[b.start : b.end]: b.kind for b in classify(text)}


def test_kinds_are_marked() -> None:
    kinds = kinds_of(ARTICLE)
    assert kinds["Vietnam opens new deep-water port in Hai Phong"] == "title"
    assert kinds["The harbour seen from the air (Photo: VNA)"] == "caption"
    assert kinds["Investment"] == "heading"
    assert kinds["Top"] == "meta"
    assert kinds["Related news"] == "related"
    assert kinds["Hanoi hosts regional trade fair"] == "related"
    assert kinds["Ministers meet in Da Nang to discuss..."] == "related"
    assert kinds[
        "Officials expect 2 million containers a year by 2030. The U.S. Embassy sent a delegation."
    ] == "body"


def test_pipe_debris_not_indexed(tmp_path: Path) -> None:
    assert not any(ARTICLE[b.start : b.end].strip()[:1] == "|" for b in classify(ARTICLE))
    article = load_article(write(tmp_path, "a.txt", ARTICLE))
    assert all(p.text.strip("| ") for p in chunk(article))
    assert not any(p.text.startswith("|") for p in chunk(article))


def test_title_and_outlet_with_headline(tmp_path: Path) -> None:
    article = load_article(write(tmp_path, "port.txt", ARTICLE))
    assert article.title == "Vietnam opens new deep-water port in Hai Phong"
    assert article.outlet == "WVR"


def test_title_and_outlet_without_headline(tmp_path: Path) -> None:
    text = ("Hanoi (VNA) – The Ministry of Foreign Affairs held a conference on February 7, reported by "
            "the Vietnam News Agency (VNA) on the same day. It lasted two days.\n")
    article = load_article(write(tmp_path, "vna.txt", text))
    assert article.outlet == "Vietnam News Agency (VNA)"
    assert article.title.startswith("The Ministry of Foreign Affairs held a conference")
    assert "Hanoi (VNA)" not in article.title
    assert article.title.endswith("…")


def test_markdown_front_matter_is_data_not_text(tmp_path: Path) -> None:
    text = ('---\ntitle: "Norvale Foods profit jumps 18%"\ndate: 2025-11-06\n---\n\n'
            "AMSTERDAM - Norvale Foods said on Thursday that its profit rose by 18 percent.\n")
    article = load_article(write(tmp_path, "norvale.md", text))
    assert article.title == "Norvale Foods profit jumps 18%"
    assert article.published == "2025-11-06"
    kinds = {text[b.start : b.end]: b.kind for b in classify(text)}
    assert "date: 2025-11-06" not in kinds and 'title: "Norvale Foods profit jumps 18%"' not in kinds  # not indexed
    assert kinds["AMSTERDAM - Norvale Foods said on Thursday that its profit rose by 18 percent."] == "body"

    # one reading of front matter for the title, the date and the text: a rule atop the text is no front
    # matter, a byte-order mark before it changes nothing, a date further down still counts
    rule = "---\n\nThe mayor cut the ribbon on Friday.\n\n---\n\nMore text followed.\n"
    assert [b.kind for b in classify(rule)] == ["body", "body"]
    marked = "\ufeff---\ntitle: Marked\nauthor: Jo\nsection: City\ntags: a\nlang: en\ndate: 2026-02-03\n---\nText.\n"
    article = load_article(write(tmp_path, "marked.md", marked))
    assert article.title == "Marked" and article.published == "2026-02-03"


def test_a_byline_or_a_byte_order_mark_is_no_part_of_the_title(tmp_path: Path) -> None:
    byline = ("By Jo Smith and Ana Lee · July 2, 2025 · 5 min read\n\nHarbour ferry to run all year\n\n"
              "The ferry will run in winter too. It costs 3 euros.\n")
    article = load_article(write(tmp_path, "ferry.txt", byline))
    assert article.title == "Harbour ferry to run all year" and article.published == "2025-07-02"
    marked = load_article(write(tmp_path, "bom.txt", "\ufeffHarbour ferry to run\n\nThe ferry will run. More.\n"))
    assert marked.title == "Harbour ferry to run"


def test_outlet_abbreviation_only_when_not_spelled_out() -> None:
    text = "Hanoi (VNA) – Officials met today. Nothing else was said.\n"
    assert detect_outlet(text, classify(text)) == "VNA"
    assert detect_outlet("Plain text without dateline. Another one.\n", classify("Plain text. More.\n")) == ""


def test_short_file_without_title_falls_back_to_first_words(tmp_path: Path) -> None:
    article = load_article(write(tmp_path, "tiny.txt", "Prices rose sharply in March.\n"))
    assert article.title == "Prices rose sharply in March."


def test_sentence_split_respects_abbreviations() -> None:
    text = ("Mr. Nguyen met Dr. Smith at 9 a.m. on Jan. 5 in the U.S. capital. They talked for an hour! "
            "Was it useful? Yes, said Prof. Le.")
    got = [text[s:e] for s, e in split_sentences(text, 0, len(text))]
    assert got == [
        "Mr. Nguyen met Dr. Smith at 9 a.m. on Jan. 5 in the U.S. capital.",
        "They talked for an hour!",
        "Was it useful?",
        "Yes, said Prof. Le.",
    ]


def test_sentence_split_decimal_and_quotes() -> None:
    text = 'Growth was 6.5 percent. "It is good," he said. The end.'
    got = [text[s:e] for s, e in split_sentences(text, 0, len(text))]
    assert got == ["Growth was 6.5 percent.", '"It is good," he said.', "The end."]


def test_sentence_spans_stay_inside_the_segment() -> None:
    text = "xx First one. Second one. yy"
    spans = split_sentences(text, 3, 25)
    assert spans == [(3, 13), (14, 25)]


def test_crlf_offsets_match_text_mode_read(tmp_path: Path) -> None:
    path = write(tmp_path, "crlf.txt", ARTICLE.replace("\n", "\r\n").encode("utf-8"))
    article = load_article(path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert article.text == text
    passages = chunk(article)
    assert passages
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert "\r" not in p.text
        for (s, e), sentence in zip(p.sentences, p.sentence_texts(), strict=True):
            assert text[s:e] == sentence


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_every_seed_span_is_verbatim(path: Path) -> None:
    article = load_article(path)
    text = file_text(path.name)
    passages = chunk(article)
    assert len(passages) > 5
    assert any(p.kind == "body" for p in passages)
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert p.id == passage_id(p.source_id, p.start, p.end, p.text)
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end
            assert text[s:e] == text[s:e].strip()


def test_passage_ids_unique_and_stable() -> None:
    article = load_article(SEED_FILES[0])
    first = [p.id for p in chunk(article)]
    assert len(first) == len(set(first))
    assert first == [p.id for p in chunk(load_article(SEED_FILES[0]))]


def test_window_overlap() -> None:
    article = load_article(SEED_FILES[1])
    body = [p for p in chunk(article, size=4, overlap=1) if p.kind == "body"]
    assert all(len(p.sentences) <= 4 for p in body)
    shared = sum(1 for a, b in pairwise(body) if a.sentences[-1] == b.sentences[0])
    assert shared > 0


# ------------------------------------------------------------------ bad input


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="empty"):
        load_article(write(tmp_path, "empty.txt", ""))
    with pytest.raises(ArticleError, match="empty"):
        load_article(write(tmp_path, "blank.txt", "  \n\n | \n"))


def test_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="binary"):
        load_article(write(tmp_path, "bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20))


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_text("A story in UTF-16.\n", encoding="utf-16")
    with pytest.raises(ArticleError, match="UTF-16 text; save it as UTF-8"):
        read_text(path)


def test_non_utf8_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="UTF-8"):
        load_article(write(tmp_path, "latin.txt", "Caf\u00e9 au lait, na\u00efve.".encode("latin-1")))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no such file"):
        read_text(tmp_path / "nope.txt")


def test_oversize_file(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "Words here. " * 200)
    with pytest.raises(ArticleError, match="over the limit"):
        load_article(path, max_bytes=100)


def test_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"\.txt"):
        load_article(write(tmp_path, "a.docx", "Some text here."))


def test_discover_reports_empty_folder_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write(tmp_path, "ok.txt", "Fine text.")
    (tmp_path / ".hidden").mkdir()
    write(tmp_path / ".hidden", "secret.txt", "Hidden text.")
    found, errors = discover([tmp_path / "empty", tmp_path / "missing", tmp_path])
    assert found == [tmp_path / "ok.txt"]
    assert any("empty" in e and "no .txt" in e for e in errors)
    assert any("missing" in e and "no such file" in e for e in errors)

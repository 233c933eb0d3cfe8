"""Files of every supported kind -> article text and what is known about it (title, site, date, link).

Text files are their own article text. A saved web page or a PDF is converted once: its text is kept
beside it as ``<name>.txt`` (the sidecar), and every offset and quote refers to that text, so
``open(text_path(file), encoding="utf-8").read()[start:end] == quote`` holds for every format.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qa_bot.errors import ArticleError, InvalidQuestionError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
PAGE_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
CONVERTED = PAGE_SUFFIXES + PDF_SUFFIXES
SUFFIXES = TEXT_SUFFIXES + CONVERTED
SIDECAR = ".txt"
KINDS = ".txt, .md, .html, .htm or .pdf"

_WORD = re.compile(r"[^\W_]", re.UNICODE)
_SAVED_FROM = re.compile(rb"<!--\s*saved from url=\(\d+\)(https?://[^\s>]+?)\s*-->", re.IGNORECASE)
_MONTHS = {
    name: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")], 1)
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE = re.compile(
    r"(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})"
    r"|" + _MONTH + r"\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{4})"
    r"|(?P<d3>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH.replace("month", "month3") + r",?\s+(?P<y3>\d{4}))\b",
    re.IGNORECASE,
)
# A date that opens a line ('Jan 22, 2021 ...', 'Published: 19 January 2026', 'date: 2026-01-19'),
# or sits in a dateline before its dash ('HANOI, January 19, 2026 (VNA) – ...').
_LEAD = re.compile(
    r"^\W{0,3}(?:(?:published|posted|updated|date|dated)(?:\s+on)?\s*:?\s*)?"
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?$",
    re.IGNORECASE,
)
_DASH_SOON = re.compile(r"^[^.!?]{0,25}?\s[–—-]\s")
_BYLINE = re.compile(r"^(?:by\s+[^|·•:]{2,40}?|[A-Z][\w&-]*)\s*[|·•]\s*$", re.IGNORECASE)
# What may follow the date on a byline: a time ('10:30 AM GMT'), a reading time ('5 min read').
_BYLINE_END = re.compile(r"^\s*(?:[|·•]\s*(?:\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?"
                         r"|\d+\s*min(?:ute)?s?\s+read)\s*)*$", re.IGNORECASE)


@dataclass(frozen=True)
class Document:
    """One file as article text, with what the file itself says about the article."""

    text: str
    title: str = ""
    author: str = ""
    site: str = ""
    published: str = ""  # ISO date (YYYY-MM-DD), "" when unknown
    url: str = ""


def text_path(path: Path) -> Path:
    """The file whose text the offsets count: the file itself, or the sidecar of a page or PDF."""
    return path.with_name(path.name + SIDECAR) if path.suffix.lower() in CONVERTED else path


def is_sidecar(path: Path) -> bool:
    """Whether a .txt file is the kept text of a page or PDF lying beside it (not an article of its own)."""
    if path.suffix.lower() != SIDECAR:
        return False
    original = path.with_name(path.name[: -len(SIDECAR)])
    return original.suffix.lower() in CONVERTED and original.is_file()


def _make_date(year: str, month: int, day: str) -> str:
    try:
        return date(int(year), month, int(day)).isoformat()
    except ValueError:
        return ""


def _parse(m: re.Match[str]) -> str:
    if m.group("y1"):
        return _make_date(m.group("y1"), int(m.group("m1")), m.group("d1"))
    if m.group("y2"):
        return _make_date(m.group("y2"), _MONTHS[m.group("month").lower()], m.group("d2"))
    return _make_date(m.group("y3"), _MONTHS[m.group("month3").lower()], m.group("d3"))


# Front matter atop a Markdown file: '---', then only 'key: value' lines (or indented or blank ones), then
# '---' or '...'; a byte-order mark may come first.
_FRONT_MATTER = re.compile(r"\ufeff?---[ \t]*\n((?:[ \t]*[A-Za-z][\w-]*[ \t]*:.*\n|[ \t]+.*\n|[ \t]*\n){1,60}?)"
                           r"(?:---|\.\.\.)[ \t]*(?:\n|$)")


def front_matter(text: str) -> tuple[int, dict[str, str]]:
    """Where a Markdown file's front matter ends (0 when it has none) and its fields, keys lowercased
    ('title', 'date', …), values unquoted."""
    m = _FRONT_MATTER.match(text)
    fields = {k.lower(): v.strip().strip("\"'").strip() for k, v in
              re.findall(r"^[ \t]*([A-Za-z][\w-]*)[ \t]*:[ \t]*(.*)$", m.group(1), re.MULTILINE)} if m else {}
    return (m.end(), fields) if m and fields else (0, {})


def dateline(text: str, lines: int = 5) -> str:
    """The publication date a text states at its top (its front matter's date, a dated first line or a
    dateline), else ""."""
    end, fields = front_matter(text)
    for key in ("date", "published", "pubdate", "publication_date"):
        m = _DATE.fullmatch(fields.get(key, "").split("T")[0].strip())
        found = _parse(m) if m else ""
        if found:
            return found
    seen = 0
    for line in text[end:].split("\n"):
        line = line.strip()
        if not line:
            continue
        seen += 1
        if seen > lines:
            break
        for m in _DATE.finditer(line[:200]):
            before, after = line[: m.start()], line[m.end() :]
            # A dateline ('HANOI, January 19, 2026 (VNA) – …'), or a byline or one-word section and the date
            # on its line ('By Jo Smith · 2 July 2025 · 5 min read', 'Science | 2 July 2025'), never an
            # event's date ('Deadline for entries | 30 September 2026').
            short = len(before) < 40 and not re.search(r"[.!?]", before)
            dated_line = short and (_DASH_SOON.match(after) or (_BYLINE.match(before) and _BYLINE_END.match(after)))
            if _LEAD.match(before) or dated_line:
                found = _parse(m)
                if found:
                    return found
    return ""


def parse_day(value: object, name: str = "date") -> str | None:
    """A date filter as ISO 'YYYY-MM-DD' (from a date, or text such as '2026-01-31', '31 January 2026'),
    None when empty; InvalidQuestionError when it is not a date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        m = _DATE.fullmatch(value.strip())
        found = _parse(m) if m else ""
        if found:
            return found
    raise InvalidQuestionError(f"{name} must be a date such as 2026-01-31, got {str(value)[:40]!r}")


def _iso(value: object) -> str:
    """An ISO date string from an extractor, or ""."""
    try:
        return date.fromisoformat(str(value)[:10]).isoformat() if value else ""
    except ValueError:
        return ""


def display_date(iso: str) -> str:
    """'2026-01-19' -> '19 January 2026' (unchanged when it is not an ISO date)."""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day.strftime('%B')} {day.year}"


def _clean(text: str) -> str:
    """Extracted text as it will read back from its sidecar: newlines only, no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def extract_page(raw: bytes, name: str, url: str = "") -> Document:
    """A saved web page's article (main text, title, author, site, date, link) without its furniture."""
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    saved_from = _SAVED_FROM.search(raw[:4096])
    url = url or (saved_from.group(1).decode("ascii", "replace") if saved_from else "")
    try:
        tree = load_html(raw)
        if tree is None:
            raise ArticleError(f"{name}: no article text found in this page")
        # Captions are part of the article as its readers (and scraped .txt copies) have it: who is in the
        # photo, where and when. The extractor drops every <figure>, so a caption is read as a paragraph.
        for element in tree.iter("figure", "figcaption"):
            element.tag = "div" if element.tag == "figure" else "p"
        found = bare_extraction(
            tree, url=url or None, with_metadata=True, include_comments=False, include_tables=True,
            include_images=False, include_links=False, as_dict=True,
        )
    except ArticleError:
        raise
    except Exception as exc:  # lxml and the extractor fail in many ways on broken markup
        raise ArticleError(f"{name}: the page could not be read as HTML ({type(exc).__name__})") from exc
    info: dict[str, Any] = found if isinstance(found, dict) else {}

    def field(key: str) -> str:
        return " ".join(str(info.get(key) or "").split())

    body = str(info.get("text") or "")
    if not _has_prose(body):  # what is left of a home page or an index is menus and labels, not sentences
        raise ArticleError(f"{name}: no article text found in this page")
    title = field("title")
    text = body.strip()
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    link = field("url") or url
    return Document(
        text=_clean(text),
        title=title,
        author=field("author"),
        site=field("sitename"),
        published=_iso(info.get("date")),
        url=link if re.match(r"https?://", link) else "",
    )


def _has_prose(text: str) -> bool:
    """Whether some line reads as a sentence: eight words or more, ending like one."""
    return any(len(line.split()) >= 8 and line.rstrip().endswith((".", "!", "?", "…", '"', "'", "”", "’", ")"))
               for line in text.split("\n"))


def _reflow(page: str) -> list[str]:
    """A PDF page's lines joined into paragraphs: a line shorter than most ends its paragraph."""
    lines = [line.strip() for line in page.split("\n")]
    widths = [len(line) for line in lines if line]
    if not widths:
        return []
    full = statistics.quantiles(widths, n=10)[-1] if len(widths) > 1 else widths[0]
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        current = line if not current else current + ("" if current.endswith("-") else " ") + line
        if len(line) < 0.75 * full:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def extract_pdf(raw: bytes, name: str) -> Document:
    """A PDF's text layer as paragraphs, with its title, author and date; clear errors when it has none."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # only an owner password: readable by anyone
            except Exception:  # a cipher pypdf cannot open without an extra package
                opened = False
            if not opened:
                raise ArticleError(f"{name}: the PDF is encrypted with a password; save an unprotected copy first")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except ArticleError:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on damaged files
        raise ArticleError(f"{name}: not a readable PDF ({type(exc).__name__})") from exc
    paragraphs = [p for page in pages for p in _reflow(page)]
    text = _clean("\n\n".join(paragraphs)) if paragraphs else ""
    if not _WORD.search(text):
        raise ArticleError(f"{name}: the PDF has no text layer (a scan or images only); run OCR on it first")
    title = " ".join(str(info.title or "").split()) if info else ""
    if re.search(r"\.(docx?|pdf|indd|pptx?)$|^untitled", title, re.IGNORECASE):
        title = ""
    created = info.creation_date if info else None
    return Document(
        text=text,
        title=title,
        author=" ".join(str(info.author or "").split()) if info else "",
        published=dateline(text) or (created.date().isoformat() if isinstance(created, datetime) else ""),
    )


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, or ArticleError when it is missing, not a file, empty or too large."""
    if not path.exists():
        raise ArticleError(f"{path}: no such file")
    if not path.is_file():
        raise ArticleError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise ArticleError(f"{path.name}: {size:,} bytes is over the limit of {max_bytes:,} bytes")
    if size == 0:
        raise ArticleError(f"{path.name}: empty, no text to index")
    return path.read_bytes()


def convert(path: Path, max_bytes: int = 5_000_000) -> Document:
    """Extract a saved page or a PDF and keep its text beside it (rewritten only when it changed)."""
    raw = read_bytes(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix in PAGE_SUFFIXES:
        doc = extract_page(raw, path.name)
    elif suffix in PDF_SUFFIXES:
        if not raw.lstrip()[:5] == b"%PDF-":
            raise ArticleError(f"{path.name}: not a PDF file")
        doc = extract_pdf(raw, path.name)
    else:
        raise ArticleError(f"{path.name}: only {KINDS} files are read")
    sidecar = text_path(path)
    data = doc.text.encode("utf-8")
    try:
        if not sidecar.is_file() or sidecar.read_bytes() != data:
            sidecar.write_bytes(data)
    except OSError as exc:
        raise ArticleError(f"{path.name}: cannot keep its text beside it in {sidecar} ({exc.strerror})") from exc
    return doc

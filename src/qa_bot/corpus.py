"""Read scraped articles, mark their parts by kind and cut passages at exact character offsets.

Nothing here rewrites text: every span is (start, end) into the text exactly as
``open(path, encoding="utf-8").read()`` returns it, so ``text[start:end]`` is the quote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from qa_bot.documents import CONVERTED, KINDS, Document, convert, dateline, front_matter, is_sidecar, read_bytes
from qa_bot.documents import SUFFIXES as SUFFIXES
from qa_bot.errors import ArticleError
from qa_bot.types import Passage

# How much each kind of passage counts in ranking: scraped debris ranks below body text.
KIND_WEIGHT = {
    "body": 1.0,
    "title": 0.9,
    "heading": 0.5,
    "caption": 0.55,
    "related": 0.4,
    "meta": 0.2,
}

_RELATED_MARKERS = re.compile(
    r"^\s*(related news|related articles?|related stories|related|see more|read more|"
    r"more news|more stories|you may also like|recommended|tags?:?)\s*:?\s*$",
    re.IGNORECASE,
)
_CAPTION = re.compile(
    r"(\((?:photo|source|image|credit)s?\s*:[^)]*\)\s*$)|(\bphotos?\s*:\s*[\w .&/-]{1,40}$)"
    r"|(^!\[[^\]]*\]\([^)]*\))|(\s\|\s*$)",
    re.IGNORECASE,
)
_META = re.compile(r"^\s*(top|back to top|translated by .{1,60}|[A-Z]{2,6}(/[A-Z]{2,6})+|share|print)\s*$",
                   re.IGNORECASE)
_DATELINE = re.compile(
    r"^\s*(?:(?P<place>[A-Z][\w .'-]{0,40}?)\s*\((?P<paren>[A-Z][A-Za-z&]{1,12})\)|(?P<bare>[A-Z][A-Z&]{1,9}))"
    r"\s*[–—-]\s+"
)
_WORD = re.compile(r"[^\W_]", re.UNICODE)

# Sentence ends: . ! ? (and closing quotes/brackets) followed by space and a likely sentence start.
_SENT_END = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9À-Ỹ])")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "st", "no", "nos", "vs", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "gen", "col", "lt", "sen", "rep", "gov",
    "inc", "ltd", "co", "corp", "jr", "sr", "fig", "art", "para", "e.g", "i.e", "etc", "u.s",
    "u.n", "u.k", "approx", "dept", "est", "min", "max", "vol", "pp", "ph.d",
}


@dataclass(frozen=True)
class Article:
    """One article file as text, with what was derived from it."""

    source_id: str
    path: Path
    text: str
    title: str
    outlet: str
    digest: str
    published: str = ""  # ISO date: from the page, the dateline or the PDF; "" when unknown
    url: str = ""  # the page's own link, when it has one
    author: str = ""


@dataclass(frozen=True)
class Block:
    """A line (paragraph) of the article and the kind of content it holds."""

    start: int
    end: int
    kind: str


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # control characters other than tab and newline


def read_text(path: Path, max_bytes: int = 5_000_000) -> str:
    """The file's text exactly as open(path, encoding='utf-8').read() gives it, or ArticleError."""
    name = path.name
    raw = read_bytes(path, max_bytes)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ArticleError(f"{name}: UTF-16 text; save it as UTF-8 and add it again")
    if b"\x00" in raw[:8192]:
        raise ArticleError(f"{name}: looks like a binary file, not text")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"{name}: not UTF-8 text (bad byte at position {exc.start})") from exc
    # Universal newlines, exactly as text-mode open() does.
    text = decoded.replace("\r\n", "\n").replace("\r", "\n")
    if not _WORD.search(text):
        raise ArticleError(f"{name}: empty, no text to index")
    controls = len(_CONTROL.findall(text))
    if controls > max(8, len(text) // 100):
        raise ArticleError(f"{name}: looks like a binary file, not text")
    return text


def iter_lines(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the non-blank lines, with surrounding white space trimmed."""
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            yield pos + lead, pos + lead + len(stripped)
        pos += len(line) + 1


def _headline_like(line: str) -> bool:
    return len(line) <= 250 and not line.rstrip().endswith((".", "?", "!", ":", ",", ";"))


def _is_teaser(line: str) -> bool:
    return line.rstrip().endswith(("...", "…"))


def classify(text: str) -> list[Block]:
    """Mark each line as body, title, heading, caption, related or meta; debris lines are left out."""
    spans = list(iter_lines(text))
    lines = [text[s:e] for s, e in spans]
    kinds = ["body"] * len(lines)

    # Lines without a letter or digit (table debris such as '|') are not indexed at all.
    keep = [bool(_WORD.search(line)) for line in lines]

    # Front matter ('---', 'title: …', 'date: …', '---' atop a Markdown file) is data about the article,
    # read by documents.front_matter, never indexed as its text.
    matter = front_matter(text)[0]
    after = sum(1 for s, _ in spans if s < matter)
    kinds[:after] = ["meta"] * after
    keep[:after] = [False] * after

    # Headline: the longest of the short lines before the first paragraph.
    top = after
    while top < len(lines) and top - after < 3 and _headline_like(lines[top]) and not _DATELINE.match(lines[top]):
        top += 1
    for i in range(after, top):
        kinds[i] = "heading"
    # (a byline or a dated line, 'By Jo Smith · 2 July 2025 · 5 min read', is no headline)
    named = [i for i in range(after, top) if not dateline(lines[i], lines=1)]
    if named:
        best = max(named, key=lambda i: len(lines[i]))
        kinds[best] = "title"
    heads = {lines[i].strip().lower() for i in range(after, top)}

    # Related-story lists: after a marker line, or a trailing run of teasers with their headlines.
    related_from = len(lines)
    for i, line in enumerate(lines):
        if i >= top and _RELATED_MARKERS.match(line):
            related_from = i
            break
    teaser_idx = [i for i, line in enumerate(lines) if _is_teaser(line)]
    if teaser_idx:
        first = None
        for i in teaser_idx:
            if all(_is_teaser(lines[j]) or _headline_like(lines[j]) for j in range(i, len(lines))):
                first = i
                break
        if first is not None:
            j = first
            while j - 1 >= top and _headline_like(lines[j - 1]) and not _is_teaser(lines[j - 1]):
                j -= 1
            related_from = min(related_from, j)
    for i in range(related_from, len(lines)):
        kinds[i] = "related"

    for i, line in enumerate(lines):
        if i < top or i >= related_from:
            continue
        if line.strip().lower() in heads or (i + 1 < len(lines) and lines[i + 1] == line):
            kinds[i] = "heading"
        elif _CAPTION.search(line):
            kinds[i] = "caption"
        elif _META.match(line):
            kinds[i] = "meta"
        elif len(line) < 40 and _headline_like(line) and i + 1 < len(lines) and kinds[i] == "body":
            # A short line with no sentence end inside the body: a crosshead.
            kinds[i] = "heading"
        if line.lstrip().startswith("#"):
            kinds[i] = "heading" if i else "title"
    return [Block(s, e, k) for (s, e), k, ok in zip(spans, kinds, keep, strict=True) if ok]


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], trimmed, never crossing the span."""
    segment = text[start:end]
    cuts: list[int] = []
    for m in _SENT_END.finditer(segment):
        before = segment[: m.start(1)]
        word = re.search(r"([\w.]+)$", before)
        token = word.group(1).lower() if word else ""
        if token.rstrip(".") in _ABBREV or re.fullmatch(r"[a-z]", token):
            continue
        cuts.append(m.end(1))
    spans: list[tuple[int, int]] = []
    prev = 0
    for cut in [*cuts, len(segment)]:
        piece = segment[prev:cut]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            s = start + prev + lead
            spans.append((s, s + len(stripped)))
        prev = cut
    return spans


def detect_outlet(text: str, blocks: list[Block]) -> str:
    """The outlet named by a dateline such as 'WVR - ' or 'Hanoi (VNA) –', expanded when the text spells it out."""
    for block in blocks[:6]:
        if block.kind not in ("body", "title"):
            continue
        m = _DATELINE.match(text[block.start : block.end])
        if m:
            abbr = m.group("paren") or m.group("bare")
            rest = text[block.start + m.end() :]
            full = re.search(r"((?:[A-Z][\w&]*\s+){2,6})\(" + re.escape(abbr) + r"\)", rest)
            return f"{full.group(1).strip()} ({abbr})" if full else abbr
    return ""


def derive_title(text: str, blocks: list[Block], fallback: str) -> str:
    """The front matter's title, the headline line, or the first words of the first paragraph."""
    named = front_matter(text)[1].get("title", "")
    if named:
        return named
    for block in blocks:
        if block.kind == "title":
            return text[block.start : block.end].lstrip("\ufeff# ").strip()
    for block in blocks:
        if block.kind == "body":
            line = text[block.start : block.end]
            m = _DATELINE.match(line)
            if m:
                line = line[m.end() :]
            words = line.split()
            short = " ".join(words[:14])
            return short + ("…" if len(words) > 14 else "")
    return fallback


def load_article(path: Path, max_bytes: int = 5_000_000) -> Article:
    """Read one file into an Article (ArticleError when it cannot be used); a saved page or a PDF is
    read through its extracted text, kept beside it, which its offsets count."""
    if path.suffix.lower() not in SUFFIXES:
        raise ArticleError(f"{path.name}: only {KINDS} files are read")
    doc = convert(path, max_bytes) if path.suffix.lower() in CONVERTED else Document(read_text(path, max_bytes))
    text = doc.text
    blocks = classify(text)
    if not blocks:
        raise ArticleError(f"{path.name}: no text to index")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Article(
        source_id=path.name,
        path=path,
        text=text,
        title=doc.title or derive_title(text, blocks, path.stem),
        outlet=doc.site or detect_outlet(text, blocks),
        digest=digest,
        published=doc.published or dateline(text),
        url=doc.url,
        author=doc.author,
    )


def passage_id(source_id: str, start: int, end: int, text: str) -> str:
    """Content-hash id: the same passage of the same file always gets the same id."""
    h = hashlib.sha256(f"{source_id}\x00{start}\x00{end}\x00{text}".encode())
    return h.hexdigest()[:32]


def sentence_id(source_id: str, start: int, end: int, text: str) -> str:
    """Content-hash id of one sentence span."""
    return "s" + passage_id(source_id, start, end, text)[:31]


def _windows(
    sentences: list[tuple[int, int]], size: int, overlap: int, max_chars: int
) -> Iterator[list[tuple[int, int]]]:
    i = 0
    while i < len(sentences):
        window = [sentences[i]]
        j = i + 1
        while j < len(sentences) and len(window) < size and sentences[j][1] - window[0][0] <= max_chars:
            window.append(sentences[j])
            j += 1
        yield window
        if j >= len(sentences):
            break
        i = max(i + 1, j - overlap)


def chunk(article: Article, size: int = 4, overlap: int = 1, max_chars: int = 1500) -> list[Passage]:
    """Sentence-window passages over runs of body text; other kinds one passage per line."""
    text = article.text
    blocks = classify(text)
    passages: list[Passage] = []

    def emit(kind: str, sents: list[tuple[int, int]]) -> None:
        start, end = sents[0][0], sents[-1][1]
        body = text[start:end]
        passages.append(
            Passage(
                text=body,
                source_id=article.source_id,
                title=article.title,
                start=start,
                end=end,
                outlet=article.outlet,
                kind=kind,
                id=passage_id(article.source_id, start, end, body),
                sentences=tuple(sents),
                published=article.published,
                url=article.url,
            )
        )

    run: list[tuple[int, int]] = []

    def flush() -> None:
        for window in _windows(run, size, overlap, max_chars):
            emit("body", window)
        run.clear()

    for block in blocks:
        if block.kind == "body":
            run.extend(split_sentences(text, block.start, block.end))
            continue
        flush()
        if block.kind == "related":
            emit("related", [(block.start, block.end)])
        else:
            emit(block.kind, split_sentences(text, block.start, block.end) or [(block.start, block.end)])
    flush()
    return passages


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Article files under the given paths (folders recursively), and a message per unusable path."""
    found: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUFFIXES and not is_sidecar(p) and not any(
                    part.startswith(".") for part in p.relative_to(path).parts
                )
            )
            if not files:
                errors.append(f"{path}: no {KINDS} files in this folder")
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            errors.append(f"{path}: no such file or folder")
    return found, errors

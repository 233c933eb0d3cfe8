"""Test material built from the seeds: saved news pages with real furniture, text PDFs, a loopback server."""

from __future__ import annotations

import contextlib
import html
import http.server
import re
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from qa_bot.corpus import classify, derive_title, split_sentences

SITE = "The Daily Ledger"
# Page furniture, each line distinctive enough to be found if it leaks into the extracted text.
MENU = ["Home", "World", "Politics", "Business", "Technology", "Opinion", "Sport", "Culture", "Podcasts",
        "Subscribe", "Sign in"]
BANNER = [
    "We use cookies and similar technologies to improve your experience, measure traffic and show personalised ads.",
    "By clicking Accept all you agree to the storing of cookies on your device.",
    "Manage preferences",
    "Accept all cookies",
]
NEWSLETTER = "Get the morning briefing: the five stories you need, in your inbox every weekday at 7am."
COMMENTS = [
    "Great article, but the author forgot to mention the trade figures from last quarter entirely.",
    "I have been following this for years and nothing ever changes, mark my words on that.",
    "Does anyone know where the full resolution text can be downloaded as a single file?",
]
FOOTER = ["© 2026 The Daily Ledger Media Group. All rights reserved.", "Privacy policy", "Terms of use",
          "Contact the newsroom", "Advertise with us"]
SHARE = ["Share on Facebook", "Share on X", "Copy link"]
FURNITURE_TEASERS = [
    "Markets close higher as investors weigh the latest central bank signals",
    "Ten years on, the bridge that changed a province's economy",
    "Opinion: why regional trade rules deserve a second look this year",
]


@dataclass(frozen=True)
class SavedPage:
    """A saved news page built around one seed, with what it must and must not yield."""

    name: str
    html: str
    title: str
    author: str
    published: str
    url: str
    body: list[str]  # every body sentence of the seed
    furniture: list[str]  # every line of furniture around it


def seed_page(seed: Path, index: int = 0) -> SavedPage:
    """A saved web page as a reader would keep it: the seed's article wrapped in menus, a cookie banner,
    share buttons, comments, a newsletter box and 'read more' lists (the seed's own and the site's)."""
    text = seed.read_text(encoding="utf-8")
    blocks = classify(text)
    title = derive_title(text, blocks, seed.stem)
    published = (date(2026, 1, 19) + timedelta(days=3 * index)).isoformat()
    author = ["Minh Anh", "Hoang Lan", "Tran Quoc Bao", "Le Thu Ha", "Pham Van Duc"][index % 5]
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
    url = f"https://ledger.example.com/world/{slug}"
    body: list[str] = []
    related: list[str] = []
    parts: list[str] = []
    for b in blocks:
        line = text[b.start : b.end]
        if b.kind == "title":
            continue
        if b.kind == "related":
            related.append(line)
        elif b.kind == "body":
            body.extend(text[s:e] for s, e in split_sentences(text, b.start, b.end))
            parts.append(f"<p>{html.escape(line)}</p>")
        elif b.kind == "heading":
            parts.append(f"<h2>{html.escape(line.lstrip('# '))}</h2>")
        elif b.kind == "caption":
            parts.append(f'<figure><img src="/img/{len(parts)}.jpg" alt=""><figcaption>{html.escape(line)}'
                         "</figcaption></figure>")
        else:
            parts.append(f"<p>{html.escape(line)}</p>")
    esc = html.escape
    menu = "".join(f'<li><a href="/{m.lower().replace(" ", "-")}">{esc(m)}</a></li>' for m in MENU)
    banner = (f'<div id="cookie-banner" class="cookie-consent" role="dialog">'
              f'<p>{esc(BANNER[0])} {esc(BANNER[1])}</p>'
              f'<button class="btn">{esc(BANNER[2])}</button>'
              f'<button class="btn primary">{esc(BANNER[3])}</button></div>')
    share = "".join(f'<li><a href="#" class="share">{esc(s)}</a></li>' for s in SHARE)
    comments = "".join(
        f'<div class="comment"><p class="comment-author">reader{i}</p><p class="comment-body">{esc(c)}</p>'
        f'<a class="reply" href="#">Reply</a></div>' for i, c in enumerate(COMMENTS)
    )
    teasers = related + FURNITURE_TEASERS
    more = "".join(f'<li><a href="/world/story-{i}">{esc(t)}</a></li>' for i, t in enumerate(teasers))
    footer = "".join(f'<li><a href="/about/{i}">{esc(f)}</a></li>' for i, f in enumerate(FOOTER))
    page = f"""<!DOCTYPE html>
<!-- saved from url=({len(url):04d}){url} -->
<html lang="en"><head>
<meta charset="utf-8">
<title>{esc(title)} | {SITE}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(title)}">
<meta property="og:site_name" content="{SITE}">
<meta property="og:url" content="{url}">
<meta name="author" content="{author}">
<meta property="article:published_time" content="{published}T08:30:00+07:00">
<link rel="canonical" href="{url}">
<link rel="stylesheet" href="/static/site.css">
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
</head><body>
{banner}
<header class="site-header"><a class="logo" href="/">{SITE}</a>
<nav class="main-nav" aria-label="Main"><ul>{menu}</ul></nav></header>
<div class="breadcrumbs"><a href="/">Home</a> › <a href="/world">World</a></div>
<main id="content">
<article class="article">
<h1 class="headline">{esc(title)}</h1>
<div class="byline">By <a rel="author" href="/authors/{author.lower().replace(' ', '-')}">{author}</a>
 · <time datetime="{published}T08:30:00+07:00">{published}</time></div>
<ul class="share-buttons">{share}</ul>
<div class="article-body">
{chr(10).join(parts)}
</div>
</article>
<aside class="newsletter"><h3>Newsletter</h3><p>{esc(NEWSLETTER)}</p><form><input type="email">
<button>Sign up</button></form></aside>
<section id="comments" class="comments"><h3>Comments (3)</h3>{comments}</section>
<aside class="related-stories"><h3>Read more</h3><ul>{more}</ul></aside>
</main>
<footer class="site-footer"><ul>{footer}</ul></footer>
<script src="/static/app.js"></script>
</body></html>
"""
    furniture = [*MENU, *BANNER, NEWSLETTER, *COMMENTS, *FOOTER, *SHARE, *teasers]
    return SavedPage(seed.name.replace(".txt", ".html"), page, title, author, published, url, body, furniture)


def measure(extracted: str, page: SavedPage) -> tuple[float, float, list[str], list[str]]:
    """(share of body sentences kept, share of furniture lines leaked, sentences lost, lines leaked)."""
    flat = " ".join(extracted.split())
    lines = {" ".join(line.split()) for line in extracted.split("\n")}
    lost = [s for s in page.body if " ".join(s.split()) not in flat]
    leaked = [f for f in page.furniture if f in lines or (len(f) >= 25 and f in flat)]
    return 1 - len(lost) / len(page.body), len(leaked) / len(page.furniture), lost, leaked


def _pdf_string(text: str) -> str:
    data = text.encode("cp1252", "replace").decode("latin-1")
    return data.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(paragraphs: list[str], *, title: str = "", author: str = "", created: str = "",
             width: int = 90, lines_per_page: int = 46) -> bytes:
    """A small PDF with a real text layer (Helvetica, paragraphs wrapped to lines), written by hand."""
    lines: list[str] = []
    for para in paragraphs:
        lines.extend(textwrap.wrap(para, width) or [""])
        lines.append("")
    pages = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)] or [[]]
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs.
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    info = [f"/Producer ({_pdf_string('qa_bot tests')})"]
    if title:
        info.append(f"/Title ({_pdf_string(title)})")
    if author:
        info.append(f"/Author ({_pdf_string(author)})")
    if created:
        info.append(f"/CreationDate (D:{created.replace('-', '')}093000Z)")
    objects.append(("<< " + " ".join(info) + " >>").encode("latin-1"))
    for i, page_lines in enumerate(pages):
        ops = ["BT", "/F1 10 Tf", "13 TL", "56 760 Td"]
        for line in page_lines:
            ops.append(f"({_pdf_string(line)}) Tj T*" if line else "T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {6 + 2 * i} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypted(pdf: bytes, password: str = "secret") -> bytes:
    """The PDF locked with a user password (RC4, which pypdf writes without extra packages)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


def respond(status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None, delay: float = 0.0, length: bool = True) -> Route:
    """A route answering with this status, body and headers (after a delay)."""

    def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
        if delay:
            time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(body)

    return handle


def stream_forever(handler: http.server.BaseHTTPRequestHandler) -> None:
    """A body with no declared length that never ends (until the client hangs up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    with contextlib.suppress(OSError):
        for _ in range(100_000):
            handler.wfile.write(b"<p>" + b"x" * 65_536 + b"</p>")


def drip(every: float = 0.25, count: int = 24, declared: bool = False) -> Route:
    """A page that arrives one byte at a time, a byte every `every` seconds (with or without a length)."""

    def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        if declared:
            handler.send_header("Content-Length", str(count))
        handler.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(count):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(every)

    return handle


@contextlib.contextmanager
def loopback_server(routes: dict[str, Route]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering the routes (404 elsewhere); yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?")[0])
            (route or respond(404, b"<h1>Not found</h1>"))(self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

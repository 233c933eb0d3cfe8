"""Links: fetched from a real loopback HTTP server, saved as pages, ingested into a real Chroma store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import SEED_FILES, HashEmbeddings, make_settings
from pages import loopback_server, respond, seed_page, stream_forever, text_pdf
from qa_bot.cli import build_parser
from qa_bot.config import Settings
from qa_bot.documents import text_path
from qa_bot.errors import FetchError, NothingToIngestError
from qa_bot.fetch import fetch, link_name
from qa_bot.ingest import ingest
from qa_bot.store import open_store

PAGE = seed_page(SEED_FILES[2], 2)
OTHER = seed_page(SEED_FILES[3], 3)
MENUS = ("<html><head><title>Home</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav>"
         "<footer>© 2026 Ledger</footer></body></html>")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A loopback server with a good page and every kind of bad answer."""
    routes = {
        "/news/story.html": respond(200, PAGE.html.encode()),
        "/news/other.html": respond(200, OTHER.html.encode()),
        "/news/report.pdf": respond(200, text_pdf(["A report on the port. It opened in March 2026 at a cost of "
                                                   "two billion dollars, the minister said."]),
                                    content_type="application/pdf"),
        "/slow.html": respond(200, PAGE.html.encode(), delay=3.0),
        "/loop": respond(302, b"", headers={"Location": "/loop"}),
        "/hop": respond(301, b"", headers={"Location": "/news/story.html"}),
        "/to-file": respond(302, b"", headers={"Location": "file:///etc/passwd"}),
        "/data.json": respond(200, b'{"a": 1}', content_type="application/json"),
        "/declared-huge.html": respond(200, b"<p>small</p>", headers={"Content-Length": "999999999"}, length=False),
        "/endless.html": stream_forever,
        "/menus.html": respond(200, MENUS.encode()),
        "/error": respond(500, b"<h1>oops</h1>"),
    }
    with loopback_server(routes) as base:
        yield base


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A store that may reach the loopback server: the local-network setting is on."""
    return make_settings(tmp_path / "store", embedding_model="fake-hash", fetch_allow_private=True,
                         fetch_timeout=1.0, max_file_bytes=1_000_000)


def test_a_link_becomes_a_saved_page_with_its_date_and_link(server: str, settings: Settings) -> None:
    url = f"{server}/news/story.html"
    summary = ingest([url], settings=settings, embeddings=HashEmbeddings())
    name = link_name(url)
    assert summary.files_added == (name,) and not summary.errors
    saved = settings.uploads / name
    assert saved.is_file() and text_path(saved).is_file()
    assert saved.read_bytes().startswith(f"<!-- saved from url=({len(url):04d}){url} -->".encode())
    store = open_store(settings)
    got = store.passages.get(where={"source_id": name}, include=["documents", "metadatas"])
    text = text_path(saved).read_text(encoding="utf-8")
    assert got["ids"]
    for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
        assert meta["published"] == PAGE.published and meta["url"] == PAGE.url
        assert text[int(meta["start"]) : int(meta["end"])] == doc

    # Again: nothing to do. The same page under another link, or a redirect to it: not ingested twice.
    again = ingest([url], settings=settings, embeddings=HashEmbeddings())
    assert again.unchanged == summary.passages and again.added == 0 and not again.errors
    copies = ingest([f"{url}?utm_source=mail", f"{server}/hop"], settings=settings, embeddings=HashEmbeddings())
    assert copies.files == 0 and len(copies.errors) == 2
    assert all("already in the store as " + name in e for e in copies.errors)
    assert sorted(p.name for p in settings.uploads.iterdir()) == [name, name + ".txt"]


def test_bad_links_are_one_line_each_and_the_rest_is_ingested(server: str, settings: Settings) -> None:
    bad = {
        f"{server}/missing.html": "404",
        f"{server}/error": "500",
        f"{server}/slow.html": "no answer within 1 s",
        f"{server}/loop": "redirect",
        f"{server}/to-file": "not http(s)",
        f"{server}/data.json": "application/json, not a web page",
        f"{server}/declared-huge.html": "over the limit",
        f"{server}/endless.html": "over the limit",
        f"{server}/menus.html": "no article text",
        "ftp://example.com/story.html": "only http:// and https://",
        "file:///etc/passwd": "only http:// and https://",
        "http://no-such-host.invalid/story.html": "cannot be found",
    }
    good = [f"{server}/news/other.html", f"{server}/news/report.pdf"]
    summary = ingest([*bad, *good], settings=settings, embeddings=HashEmbeddings())
    assert sorted(summary.files_added) == sorted([link_name(good[0]), link_name(good[1], ".pdf")])
    assert len(summary.errors) == len(bad)
    for url, reason in bad.items():
        lines = [e for e in summary.errors if e.startswith(url + ": ")]
        assert len(lines) == 1, (url, summary.errors)
        assert reason in lines[0] and "\n" not in lines[0] and "Traceback" not in lines[0]
    # Nothing is left behind of a link that could not be used.
    kept = [link_name(good[0]), link_name(good[1], ".pdf")]
    assert sorted(p.name for p in settings.uploads.iterdir()) == sorted([*kept, *(name + ".txt" for name in kept)])


def test_only_bad_links_is_nothing_to_ingest(server: str, settings: Settings) -> None:
    with pytest.raises(NothingToIngestError, match="404"):
        ingest([f"{server}/missing.html"], settings=settings, embeddings=HashEmbeddings())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "192.168.0.10", "172.16.5.4",
                                  "169.254.169.254", "100.64.0.1", "0.0.0.0", "[::ffff:127.0.0.1]", "[fd00::1]"])
def test_local_and_private_addresses_are_refused_without_the_setting(server: str, host: str) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match="local or a private network"):
        fetch(f"http://{host}:{port}/news/story.html", timeout=1.0, allow_private=False)


def test_the_setting_lets_a_loopback_link_through(server: str) -> None:
    env = Settings.from_env(env={"QA_BOT_FETCH_ALLOW_PRIVATE": "1", "QA_BOT_FETCH_TIMEOUT": "2.5"})
    assert env.fetch_allow_private and env.fetch_timeout == 2.5
    assert not Settings.from_env(env={}).fetch_allow_private
    page = fetch(f"{server}/news/story.html", timeout=2.0, allow_private=env.fetch_allow_private)
    assert page.suffix == ".html" and PAGE.title.encode() in page.body


def test_the_cli_takes_links_as_they_are() -> None:
    args = build_parser().parse_args(["ingest", "https://example.com/a/b.html", "seeds"])
    assert args.paths == ["https://example.com/a/b.html", "seeds"]

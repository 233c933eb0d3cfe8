"""Links: fetched from a real loopback HTTP server, saved as pages, ingested into a real Chroma store."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import SEED_FILES, HashEmbeddings, make_settings
from pages import drip, loopback_server, respond, seed_page, stream_forever, text_pdf
from qa_bot import fetch as fetch_module
from qa_bot.cli import build_parser
from qa_bot.config import Settings
from qa_bot.documents import text_path
from qa_bot.errors import FetchError, NothingToIngestError
from qa_bot.fetch import _address_allowed, fetch, link_name, wire_url
from qa_bot.ingest import ingest
from qa_bot.store import open_store

PAGE = seed_page(SEED_FILES[2], 2)
OTHER = seed_page(SEED_FILES[3], 3)
THIRD = seed_page(SEED_FILES[4], 4)
MENUS = ("<html><head><title>Home</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav>"
         "<footer>© 2026 Ledger</footer></body></html>")
FLIP = {"page": PAGE.html.encode()}  # what /flip.html answers now: a page that changes between fetches
VN_PATH = "/tin-tức/bài.html"


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
        "/flip.html": lambda handler: respond(200, FLIP["page"])(handler),
        "/drip.html": drip(),
        "/drip-declared.html": drip(declared=True),
        "/tin-t%E1%BB%A9c/b%C3%A0i.html": respond(200, OTHER.html.encode()),
        # A Location with raw UTF-8 bytes, as some servers send it.
        "/to-vn": respond(302, b"", headers={"Location": VN_PATH.encode().decode("latin-1")}),
    }
    with loopback_server(routes) as base:
        yield base


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A store that may reach the loopback server: the local-network setting is on."""
    return make_settings(tmp_path / "store", embedding_model="fake-hash", fetch_allow_private=True,
                         fetch_timeout=1.0, max_file_bytes=1_000_000)


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real DNS (a machine without a network may wait for the resolver's timeout): an IP literal
    resolves as itself, any name is not found at once."""

    def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)

    monkeypatch.setattr(fetch_module, "_resolve", resolve)


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


def test_bad_links_are_one_line_each_and_the_rest_is_ingested(server: str, settings: Settings, no_dns: None) -> None:
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
        f"{server}/drip.html": "longer than 1 s",
        "http://[oops/x": "not a valid link",
        "ftp://example.com/story.html": "only http:// and https://",
        "file:///etc/passwd": "only http:// and https://",
        "http://no-such-host.invalid/story.html": "cannot be found",
    }
    good = [f"{server}/tin-tức/bài.html", f"{server}/news/report.pdf"]
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


def test_a_failed_refetch_keeps_the_article_in_the_store(server: str, settings: Settings) -> None:
    url = f"{server}/flip.html"
    name = link_name(url)
    saved = settings.uploads / name
    FLIP["page"] = PAGE.html.encode()
    try:
        assert ingest([url], settings=settings, embeddings=HashEmbeddings()).files_added == (name,)
        page, text = saved.read_bytes(), text_path(saved).read_bytes()
        store = open_store(settings)
        passages = sorted(store.passages.get(where={"source_id": name}, include=[])["ids"])
        assert passages

        def unchanged() -> None:
            assert saved.read_bytes() == page and text_path(saved).read_bytes() == text
            assert sorted(store.passages.get(where={"source_id": name}, include=[])["ids"]) == passages
            assert store.sources.get(ids=[name], include=[])["ids"] == [name]
            assert not [p for p in settings.uploads.iterdir() if p.name.startswith(".")]  # no staging left

        # The page now gives no article: the link alone is nothing to ingest, the stored article stays.
        FLIP["page"] = MENUS.encode()
        with pytest.raises(NothingToIngestError, match="no article text"):
            ingest([url], settings=settings, embeddings=HashEmbeddings())
        unchanged()
        # With another link: one line for the failed one, the other is added, the stored article stays.
        other = f"{server}/news/other.html"
        summary = ingest([url, other], settings=settings, embeddings=HashEmbeddings())
        assert summary.files_added == (link_name(other),)
        assert len(summary.errors) == 1 and summary.errors[0].startswith(url + ": ")
        assert "no article text" in summary.errors[0] and "\n" not in summary.errors[0]
        unchanged()

        # A page that changed and still reads: it replaces the stored one.
        FLIP["page"] = THIRD.html.encode()
        summary = ingest([url], settings=settings, embeddings=HashEmbeddings())
        assert summary.files_changed == (name,) and not summary.errors
        assert THIRD.title.encode() in saved.read_bytes() and text_path(saved).read_bytes() != text
        assert not [p for p in settings.uploads.iterdir() if p.name.startswith(".")]
    finally:
        FLIP["page"] = PAGE.html.encode()


@pytest.mark.parametrize("path", ["/drip.html", "/drip-declared.html"])
def test_a_page_dripping_in_is_cut_at_the_timeout(server: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than 1 s"):
        fetch(f"{server}{path}", timeout=1.0, allow_private=True)
    assert time.monotonic() - started < 1.6


def test_links_with_non_ascii_paths_and_hosts(server: str) -> None:
    page = fetch(f"{server}{VN_PATH}", timeout=2.0, allow_private=True)
    assert page.url == f"{server}/tin-t%E1%BB%A9c/b%C3%A0i.html" and OTHER.title.encode() in page.body
    hopped = fetch(f"{server}/to-vn", timeout=2.0, allow_private=True)  # a redirect with a raw UTF-8 target
    assert hopped.url == page.url and hopped.body == page.body
    assert wire_url("http://Bücher.example:8080/ä b?q=ö&x=%20#part") == (
        "http://xn--bcher-kva.example:8080/%C3%A4%20b?q=%C3%B6&x=%20")
    assert wire_url("http://b%C3%BCcher.example/x") == "http://xn--bcher-kva.example/x"
    for bad in ["http://[oops/x", "http://example.com:99999/", "http://%ff/"]:
        with pytest.raises(FetchError, match="not a valid link"):
            fetch(bad, timeout=1.0)


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::808:808",  # NAT64
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:1::",  # 6to4
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:808:808:8000:63bf:3fff:fdd2",  # Teredo
    "::7f00:1", "::a00:1", "::c0a8:1", "::1", "::",  # IPv4-compatible
    "::ffff:127.0.0.1", "127.0.0.1", "10.0.0.1", "fd00::1",
])
def test_ipv4_inside_ipv6_is_checked(address: str) -> None:
    assert not _address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
                                     "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert _address_allowed(ipaddress.ip_address(address))

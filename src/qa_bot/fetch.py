"""Links -> saved web pages: http(s) only, a timeout, a size cap, few redirects, no local network unless allowed.

Each connection resolves its host once, checks every address it resolves to, and connects to the
checked address itself, so a redirect or a second DNS answer cannot lead to the local network.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qa_bot.config import Settings
from qa_bot.documents import text_path
from qa_bot.errors import FetchError

MAX_REDIRECTS = 5
CHUNK = 65_536
USER_AGENT = "Mozilla/5.0 (compatible; qa-bot/0.1; saves one article page)"
ACCEPTED = {"text/html": ".html", "application/xhtml+xml": ".html", "application/pdf": ".pdf"}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class Fetched:
    """One page as the server sent it."""

    url: str  # where it was found, after redirects
    body: bytes
    suffix: str  # .html or .pdf


def is_link(value: object) -> bool:
    """Whether an ingest argument is a link (any scheme://) rather than a file path."""
    return isinstance(value, str) and bool(_SCHEME.match(value.strip()))


def _address_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _connect(host: str, port: int, timeout: float | None, allow_private: bool) -> socket.socket:
    """A socket to the host, connected to an address checked to be public (unless allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"the host {host} cannot be found") from exc
    addresses = [(info[0], info[4]) for info in infos]
    if not allow_private:
        for _, sockaddr in addresses:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if not _address_allowed(ip):
                raise FetchError(
                    f"{host} is on the local or a private network ({ip}); links there are refused "
                    "unless QA_BOT_FETCH_ALLOW_PRIVATE=1"
                )
    last: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot connect to {host}")


def _opener(allow_private: bool) -> urllib.request.OpenerDirector:
    """urllib with no proxies, every connection guarded, and redirects only to http(s), at most MAX_REDIRECTS."""

    class GuardedHTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = _connect(self.host, self.port, self.timeout, allow_private)

    class GuardedHTTPS(http.client.HTTPSConnection):
        def connect(self) -> None:
            sock = _connect(self.host, self.port, self.timeout, allow_private)
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(GuardedHTTP, req)  # type: ignore[arg-type, no-any-return]

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(GuardedHTTPS, req, context=ssl.create_default_context())  # type: ignore[arg-type, no-any-return]

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise FetchError(f"it redirects to {newurl[:80]}, which is not an http(s) link")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), HTTPHandler(), HTTPSHandler(), Redirects())


def fetch(url: str, *, timeout: float = 15.0, max_bytes: int = 5_000_000, allow_private: bool = False) -> Fetched:
    """The page at an http(s) link, or FetchError with one clear reason."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url[:200]}: only http:// and https:// links can be added")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                                                   "Accept": "text/html,application/xhtml+xml,application/pdf"})
    deadline = time.monotonic() + timeout
    try:
        with _opener(allow_private).open(request, timeout=timeout) as response:
            kind = response.headers.get_content_type()
            if kind not in ACCEPTED:
                raise FetchError(f"the link gives {kind}, not a web page")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"the page is {int(declared):,} bytes, over the limit of {max_bytes:,} bytes")
            body = bytearray()
            while chunk := response.read(CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"the page is over the limit of {max_bytes:,} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"the page took longer than {timeout:g} s to arrive")
            return Fetched(response.geturl(), bytes(body), ACCEPTED[kind])
    except FetchError as exc:
        raise FetchError(f"{url[:200]}: {exc}") from None
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400 and "not allowed" in str(exc.reason):
            reason = "it redirects to a link that is not http(s)"
        elif 300 <= exc.code < 400:
            reason = f"too many redirects (more than {MAX_REDIRECTS}, or a redirect loop)"
        else:
            reason = f"the server answered {exc.code} {exc.reason}"
        raise FetchError(f"{url[:200]}: {reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(cause, FetchError):
            raise FetchError(f"{url[:200]}: {cause}") from None
        if isinstance(cause, (TimeoutError, socket.timeout)):
            raise FetchError(f"{url[:200]}: no answer within {timeout:g} s") from None
        if isinstance(cause, ssl.SSLError):
            raise FetchError(f"{url[:200]}: the secure connection failed ({cause.reason or cause})") from None
        detail = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        raise FetchError(f"{url[:200]}: the page could not be fetched ({detail})") from None


def link_name(url: str, suffix: str = ".html") -> str:
    """A plain, stable file name for a link: the same link always gets the same file."""
    parts = urlsplit(url.strip())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or 'page'}{parts.path}").strip("-")[:80].rstrip("-")
    return f"{slug or 'page'}-{hashlib.sha256(url.strip().encode('utf-8')).hexdigest()[:8]}{suffix}"


def save(url: str, folder: Path, settings: Settings) -> Path:
    """Fetch a link and keep it in the folder as a saved page (with its link, the way browsers save one)."""
    fetched = fetch(url, timeout=settings.fetch_timeout, max_bytes=settings.max_file_bytes,
                    allow_private=settings.fetch_allow_private)
    body = fetched.body
    if fetched.suffix == ".html":
        final = fetched.url.replace("-->", "")
        body = f"<!-- saved from url=({len(final):04d}){final} -->\n".encode() + body
    target = folder / link_name(url, fetched.suffix)
    folder.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_bytes() != body:
        target.write_bytes(body)
    return target


def save_links(urls: Iterable[str], settings: Settings) -> tuple[dict[Path, str], list[str]]:
    """Each link saved into the uploads folder (saved file -> link), and one line for each that could not be."""
    saved: dict[Path, str] = {}
    errors: list[str] = []
    for url in urls:
        try:
            saved[save(url, settings.uploads, settings)] = url
        except FetchError as exc:
            errors.append(str(exc))
    return saved, errors


def forget(path: Path) -> None:
    """Remove a saved page and its kept text (a link that turned out unusable or a copy)."""
    for p in (path, text_path(path)):
        p.unlink(missing_ok=True)

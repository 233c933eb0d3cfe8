"""Links -> saved web pages: http(s) only, a timeout, a size cap, few redirects, no local network unless allowed.

Each connection resolves its host once, checks every address it resolves to (and the IPv4 address an
IPv6 one carries: mapped, NAT64, 6to4, Teredo, IPv4-compatible), and connects to the checked address
itself, so a redirect or a second DNS answer cannot lead to the local network. The timeout is for the
whole fetch: at the deadline the fetch's sockets are shut, however slowly the server sends.

A fetched page is kept under a staging folder (``.fetching-*``, hidden from folder ingests) with its
final name; ``commit`` moves it (and its kept text) into place once it was read, ``discard`` drops it,
so a failed re-fetch never touches the page and text an article in the store was read from.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ipaddress
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from qa_bot.config import Settings
from qa_bot.documents import text_path
from qa_bot.errors import FetchError

MAX_REDIRECTS = 5
CHUNK = 65_536
USER_AGENT = "Mozilla/5.0 (compatible; qa-bot/0.1; saves one article page)"
ACCEPTED = {"text/html": ".html", "application/xhtml+xml": ".html", "application/pdf": ".pdf"}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
STAGING = ".fetching-"  # prefix of the staging folders inside the uploads folder
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use NAT64: a local network
_PATH_SAFE = "/%:@!$&'()*+,;=~"


@dataclass(frozen=True)
class Fetched:
    """One page as the server sent it."""

    url: str  # where it was found, after redirects
    body: bytes
    suffix: str  # .html or .pdf


def is_link(value: object) -> bool:
    """Whether an ingest argument is a link (any scheme://) rather than a file path."""
    return isinstance(value, str) and bool(_SCHEME.match(value.strip()))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: NAT64, 6to4, Teredo (server and client), IPv4-compatible."""
    found: list[ipaddress.IPv4Address] = []
    if ip in _NAT64 or ip.packed[:12] == bytes(12):  # NAT64 well-known prefix, or ::a.b.c.d (and :: and ::1)
        found.append(ipaddress.IPv4Address(ip.packed[12:]))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def _address_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a connection to this address is to the public internet (the IPv4 inside an IPv6 one too)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address itself
            return _address_allowed(ip.ipv4_mapped)
        if ip in _NAT64_LOCAL or not all(_address_allowed(v4) for v4 in _embedded_ipv4(ip)):
            return False
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """The host's addresses (the one place a fetch asks DNS; tests replace it)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Deadline:
    """The time limit of a whole fetch: at the deadline every socket of the fetch is shut down, so a read
    that is still waiting (for a server sending a byte now and then) returns at once."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _connect(host: str, port: int, timeout: float | None, allow_private: bool, deadline: _Deadline) -> socket.socket:
    """A socket to the host, connected to an address checked to be public (unless allowed)."""
    try:
        infos = _resolve(host, port)
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
        left = deadline.left()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(min(timeout, left) if timeout is not None else left)
        deadline.watch(sock)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot connect to {host}")


def _opener(allow_private: bool, deadline: _Deadline) -> urllib.request.OpenerDirector:
    """urllib with no proxies, every connection guarded and under the deadline, and redirects only to
    http(s), at most MAX_REDIRECTS."""

    class GuardedHTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = _connect(self.host, self.port, self.timeout, allow_private, deadline)

    class GuardedHTTPS(http.client.HTTPSConnection):
        def connect(self) -> None:
            sock = _connect(self.host, self.port, self.timeout, allow_private, deadline)
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
            deadline.watch(self.sock)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(GuardedHTTP, req)  # type: ignore[arg-type, no-any-return]

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(GuardedHTTPS, req, context=ssl.create_default_context())  # type: ignore[arg-type, no-any-return]

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            try:
                address = wire_url(newurl)
            except FetchError as exc:
                raise FetchError(f"it redirects to {newurl[:80]}, which is {exc}") from None
            if urlsplit(address).scheme.lower() not in ("http", "https"):
                raise FetchError(f"it redirects to {newurl[:80]}, which is not an http(s) link")
            return super().redirect_request(req, fp, code, msg, headers, address)

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), HTTPHandler(), HTTPSHandler(), Redirects())


def wire_url(url: str) -> str:
    """The link as it is sent: the host in IDNA (xn--), path and query percent-encoded as UTF-8 (what is
    encoded already stays), no fragment; FetchError when it is not a valid link."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname or ""
        if ":" not in host:  # a name or IPv4; an IPv6 literal is checked by urlsplit
            host = unquote(host, errors="strict")
            host = host if host.isascii() else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise FetchError(f"not a valid link ({exc})") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = quote(parts.netloc.rsplit("@", 1)[0], safe=_PATH_SAFE.replace("/", "")) + "@" + netloc
    path = quote(parts.path, safe=_PATH_SAFE)
    query = quote(parts.query, safe=_PATH_SAFE + "?")
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def fetch(url: str, *, timeout: float = 15.0, max_bytes: int = 5_000_000, allow_private: bool = False) -> Fetched:
    """The page at an http(s) link, or FetchError with one clear reason."""
    url = url.strip()
    try:
        address = wire_url(url)
    except FetchError as exc:
        raise FetchError(f"{url[:200]}: {exc}") from None
    parts = urlsplit(address)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url[:200]}: only http:// and https:// links can be added")
    request = urllib.request.Request(address, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                                                       "Accept": "text/html,application/xhtml+xml,application/pdf"})
    deadline = _Deadline(timeout)
    answered = False
    try:
        with _opener(allow_private, deadline).open(request, timeout=timeout) as response:
            answered = True
            kind = response.headers.get_content_type()
            if kind not in ACCEPTED:
                raise FetchError(f"the link gives {kind}, not a web page")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"the page is {int(declared):,} bytes, over the limit of {max_bytes:,} bytes")
            body = bytearray()
            while chunk := response.read1(CHUNK):  # what has arrived, not a wait for a full chunk
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"the page is over the limit of {max_bytes:,} bytes")
                if deadline.expired:
                    break
            if deadline.expired:  # the sockets were shut: what was read may be cut short
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
        if answered and (deadline.expired or isinstance(cause, (TimeoutError, socket.timeout))):
            raise FetchError(f"{url[:200]}: the page took longer than {timeout:g} s to arrive") from None
        if deadline.expired or isinstance(cause, (TimeoutError, socket.timeout)):
            raise FetchError(f"{url[:200]}: no answer within {timeout:g} s") from None
        if isinstance(cause, ssl.SSLError):
            raise FetchError(f"{url[:200]}: the secure connection failed ({cause.reason or cause})") from None
        detail = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        raise FetchError(f"{url[:200]}: the page could not be fetched ({detail})") from None
    finally:
        deadline.cancel()


def link_name(url: str, suffix: str = ".html") -> str:
    """A plain, stable file name for a link: the same link always gets the same file."""
    parts = urlsplit(url.strip())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or 'page'}{parts.path}").strip("-")[:80].rstrip("-")
    return f"{slug or 'page'}-{hashlib.sha256(url.strip().encode('utf-8')).hexdigest()[:8]}{suffix}"


def stage(folder: Path) -> Path:
    """A new staging folder inside the folder: a file put there under its final name is only a candidate
    until `commit` moves it into the folder (a folder ingest never reads it: its name starts with a dot)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))


def staged_target(path: Path) -> Path | None:
    """Where a staged file goes once it was read, or None for a file that is not staged."""
    return path.parent.parent / path.name if path.parent.name.startswith(STAGING) else None


def commit(path: Path) -> Path:
    """Move a staged file and its kept text into place (replacing the earlier ones); the file's real path."""
    target = staged_target(path)
    if target is None:
        return path
    for source, final in ((path, target), (text_path(path), text_path(target))):
        if not source.is_file():
            continue  # a .txt file is its own text: moved already
        if final.is_file() and final.read_bytes() == source.read_bytes():
            source.unlink()  # unchanged: the kept file stays as it is
        else:
            os.replace(source, final)
    discard(path)
    return target


def discard(path: Path) -> None:
    """Drop a staged file, its kept text and its staging folder; a file that is not staged is left alone
    (it may be what an article in the store was read from)."""
    if staged_target(path) is None:
        return
    for p in (path, text_path(path)):
        p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def save(url: str, folder: Path, settings: Settings) -> Path:
    """Fetch a link and stage it for the folder as a saved page (with its link, the way browsers save one):
    the staged file has its final name; `commit` it once it was read, `discard` it otherwise."""
    fetched = fetch(url, timeout=settings.fetch_timeout, max_bytes=settings.max_file_bytes,
                    allow_private=settings.fetch_allow_private)
    body = fetched.body
    if fetched.suffix == ".html":
        final = fetched.url.replace("-->", "")
        body = f"<!-- saved from url=({len(final):04d}){final} -->\n".encode() + body
    target = stage(folder) / link_name(url, fetched.suffix)
    target.write_bytes(body)
    return target


def save_links(urls: Iterable[str], settings: Settings) -> tuple[dict[Path, str], list[str]]:
    """Each link staged for the uploads folder (staged file -> link), and one line for each that could not be."""
    saved: dict[Path, str] = {}
    errors: list[str] = []
    for url in urls:
        try:
            saved[save(url, settings.uploads, settings)] = url
        except FetchError as exc:
            errors.append(str(exc))
    return saved, errors

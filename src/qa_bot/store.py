"""Open the Chroma store, embedded on disk or a Chroma server, with telemetry off."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from qa_bot.config import Settings
from qa_bot.embeddings import offline_environment
from qa_bot.errors import StoreError

log = logging.getLogger(__name__)
_locks: dict[str, threading.Lock] = {}
# Backends whose vectors may share a store. torch and onnx (fp32) give the same vectors (cosine 1.00000
# on every seed passage and sentence); onnx-int8 does not (mean 0.993, worst 0.958), so a store built
# with one family refuses the other instead of mixing them. Stores with no backend recorded are torch.
VECTOR_FAMILY = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


@dataclass
class Store:
    """The three collections of one store: passages, their sentences, and one record per article."""

    client: Any
    name: str
    embedding_model: str
    location: str
    lock_path: Path | None = None
    index_dir: Path | None = None  # the lexical index of this store (lexindex.py)
    embedding_backend: str = "torch"  # how the vectors are made (config.EMBEDDING_BACKENDS)
    _handles: dict[str, Any] = field(default_factory=dict, repr=False)

    def _collection(self, suffix: str) -> Any:
        # Handles are cached: get_or_create_collection is a round trip on every call.
        cached = self._handles.get(suffix)
        if cached is not None:
            return cached
        try:
            handle = self.client.get_or_create_collection(
                f"{self.name}_{suffix}", metadata=self._identity()
            )
        except Exception as exc:
            raise StoreError(f"cannot open the store at {self.location}: {exc}") from exc
        self._handles[suffix] = handle
        return handle

    @property
    def passages(self) -> Any:
        """Passage texts, their vectors and metadata."""
        return self._collection("passages")

    @property
    def sentences(self) -> Any:
        """Sentence vectors, for quoting single sentences without embedding at question time."""
        return self._collection("sentences")

    @property
    def sources(self) -> Any:
        """One record per article: its digest, written last, so a record means complete."""
        return self._collection("sources")

    def _identity(self) -> dict[str, str]:
        return {"embedding_model": self.embedding_model, "embedding_backend": self.embedding_backend}

    def check_model(self) -> None:
        """Refuse to mix vectors of two embedding models, or of two backends whose vectors differ."""
        meta = self.passages.metadata or {}
        built = meta.get("embedding_model")
        if built and built != self.embedding_model:
            raise StoreError(
                f"the store at {self.location} was built with embedding model {built!r}, "
                f"not {self.embedding_model!r}: run 'qa-bot ingest --rebuild'"
            )
        backend = str(meta.get("embedding_backend") or "torch")
        if VECTOR_FAMILY.get(backend, backend) != VECTOR_FAMILY.get(self.embedding_backend, self.embedding_backend):
            raise StoreError(
                f"the store at {self.location} was built with the {backend} embedding backend, whose vectors "
                f"differ from {self.embedding_backend}'s: run 'qa-bot ingest --rebuild' to build it with "
                f"{self.embedding_backend}, or set QA_BOT_EMBEDDING_BACKEND={backend}"
            )

    def version(self) -> str:
        """Changes whenever an ingest writes something; readers reload their caches on change."""
        try:
            current = self.client.get_collection(f"{self.name}_passages")
        except Exception as exc:
            self._handles.clear()
            raise StoreError(f"the store at {self.location} is not readable: {exc}") from exc
        cached = self._handles.get("passages")
        if cached is not None and cached.id != current.id:
            self._handles.clear()  # another process rebuilt the store: old handles point at nothing
        meta = current.metadata or {}
        return str(meta.get("version", "0")) + f"@{current.id}"

    def bump_version(self) -> None:
        """Mark a finished write."""
        self.passages.modify(
            metadata={**self._identity(), "version": f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"}
        )

    def count(self) -> int:
        """Number of passages (0 for a missing or empty store)."""
        try:
            return int(self.passages.count())
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"the store at {self.location} is not readable: {exc}") from exc

    def reset(self) -> None:
        """Drop every collection of this store."""
        self._handles.clear()
        for suffix in ("passages", "sentences", "sources"):
            with contextlib.suppress(Exception):
                self.client.delete_collection(f"{self.name}_{suffix}")

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time: a thread lock, plus a file lock for embedded stores."""
        lock = _locks.setdefault(self.location, threading.Lock())
        with lock:
            if self.lock_path is None:
                yield
                return
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.lock_path, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


def _client_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _forget_client(path: Path) -> None:
    """Drop chromadb's per-process cache of a client that failed to open (it caches broken ones too)."""
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        system = SharedSystemClient._identifier_to_system.pop(str(path), None)
        if system is not None:
            with contextlib.suppress(Exception):
                system.stop()


def set_aside(path: Path) -> Path | None:
    """Move a broken embedded store's Chroma files to <dir>.broken-<time>; None if it is not a Chroma store.

    Only chroma.sqlite3 and Chroma's UUID-named segment folders move; anything else (uploads, the
    lock, files a user put there) stays, and nothing is deleted.
    """
    if not (path / "chroma.sqlite3").is_file():
        return None
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
    aside.mkdir(parents=True)
    for item in path.iterdir():
        is_segment = item.is_dir() and len(item.name) == 36 and item.name.count("-") == 4
        if item.name.startswith("chroma.sqlite3") or is_segment:
            item.rename(aside / item.name)
    return aside


def open_store(settings: Settings, *, rebuild: bool = False) -> Store:
    """The store named by the settings: a Chroma server when QA_BOT_CHROMA_URL is set, else on disk.

    With rebuild, an embedded store that cannot be opened is set aside and a fresh one started.
    """
    offline_environment()
    import chromadb

    if settings.chroma_url:
        url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
        host = url.hostname or "127.0.0.1"
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=host, port=port, ssl=url.scheme == "https", settings=_client_settings()
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {type(exc).__name__}: {exc}"
            ) from exc
        return Store(client, settings.collection, settings.embedding_model, settings.chroma_url,
                     index_dir=settings.lexical_dir, embedding_backend=settings.embedding_backend)

    path = Path(settings.store_dir)
    if path.exists() and not path.is_dir():
        raise StoreError(f"the store path {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=_client_settings())
    except Exception as exc:
        _forget_client(path)
        aside = set_aside(path) if rebuild else None
        if aside is not None:
            log.warning("the store at %s could not be opened (%s); moved it to %s and starting afresh",
                        path, exc, aside)
            return open_store(settings)
        raise StoreError(
            f"cannot open the store at {path} ({type(exc).__name__}: {exc}); "
            "run 'qa-bot ingest --rebuild' to build it again"
        ) from exc
    return Store(client, settings.collection, settings.embedding_model, str(path.resolve()),
                 lock_path=path / ".ingest.lock", index_dir=settings.lexical_dir,
                 embedding_backend=settings.embedding_backend)

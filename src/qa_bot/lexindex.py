"""The lexical side on disk: a bm25s index beside the store, written at ingest, memory-mapped by readers.

A folder holds one built index per store version and a `current` symlink that names the live one; a
new index is written whole under a temporary name and the link is swapped atomically, so a reader
sees either the old index or the new one, never half of one. Readers open it in milliseconds and
share its pages through the OS page cache; no reader holds the corpus's passages in memory.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa_bot.lexical import LEXICAL_VERSION, terms
from qa_bot.store import Store

log = logging.getLogger(__name__)
FORMAT = 1
K1, B = 1.2, 0.75
CURRENT = "current"
_FILES = ("ids.npy", "source.npy", "start.npy", "end.npy", "day.npy")  # day.npy: absent in early builds


@dataclass(frozen=True)
class Row:
    """One passage as the index needs it."""

    id: str
    source_id: str
    start: int
    end: int
    terms: Sequence[str]
    day: int = 0  # publication day as YYYYMMDD, 0 when unknown


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over the passages, and where each passage sits (article, offsets), by position."""

    version: str
    bm25: Any  # bm25s.BM25; None for an empty index
    ids: np.ndarray
    source: np.ndarray
    start: np.ndarray
    end: np.ndarray
    day: np.ndarray
    sources: tuple[str, ...]
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def id_at(self, pos: int) -> str:
        """The passage id at a position."""
        return str(self.ids[pos])

    def scores(self, query_terms: Sequence[str], since: int = 0, until: int = 0) -> np.ndarray:
        """BM25 score of every passage, by position; with since/until (YYYYMMDD), 0 outside that range
        (and for undated passages)."""
        wanted = list(dict.fromkeys(query_terms)) if self.bm25 is not None else []
        if not wanted:
            return np.zeros(len(self), dtype=np.float32)
        scores = np.asarray(self.bm25.get_scores(wanted), dtype=np.float32)
        if since or until:
            day = np.asarray(self.day)
            keep = (day > 0) & (day >= since) & ((day <= until) if until else True)
            scores = np.where(keep, scores, 0.0).astype(np.float32)
        return scores

    def best(self, scores: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The n best passages by these scores, as (passage id, score), score > 0 only."""
        n = min(n, len(scores))
        if n <= 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.id_at(int(i)), float(scores[i])) for i in best if scores[i] > 0]

    def _range(self, source_id: str) -> tuple[int, int]:
        code = _code(self.sources, source_id)
        if code < 0:
            return 0, 0
        return (int(np.searchsorted(self.source, code, side="left")),
                int(np.searchsorted(self.source, code, side="right")))

    def containing(self, source_id: str, start: int, end: int) -> list[str]:
        """Ids of the passages that hold the sentence at these offsets of this article."""
        lo, hi = self._range(source_id)
        hit = np.nonzero((self.start[lo:hi] <= start) & (self.end[lo:hi] >= end))[0]
        return [self.id_at(lo + int(i)) for i in hit]

    def before(self, source_id: str, offset: int) -> list[str]:
        """Ids of the article's passages that begin before this offset, in the article's order."""
        lo, hi = self._range(source_id)  # rows are in (article, start) order
        return [self.id_at(i) for i in range(lo, lo + int(np.count_nonzero(self.start[lo:hi] < offset)))]

    def position(self, passage_id: str, source_id: str, start: int, end: int) -> int:
        """Where a passage sits in the index; -1 if it is not there."""
        lo, hi = self._range(source_id)
        for i in np.nonzero((self.start[lo:hi] == start) & (self.end[lo:hi] == end))[0]:
            if self.id_at(lo + int(i)) == passage_id:
                return lo + int(i)
        return -1


def _code(sources: Sequence[str], source_id: str) -> int:
    i = bisect.bisect_left(sources, source_id)
    return i if i < len(sources) and sources[i] == source_id else -1


def build(rows: Iterable[Row], version: str) -> LexicalIndex:
    """An index over the rows, in memory; passages ordered by article and offset."""
    import bm25s

    ordered = sorted(rows, key=lambda r: (r.source_id, r.start, r.end, r.id))
    sources = tuple(sorted({r.source_id for r in ordered}))
    code = {s: i for i, s in enumerate(sources)}
    bm25 = None
    if any(r.terms for r in ordered):  # bm25s needs a vocabulary
        bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
        with _quiet():  # bm25s sets its own logger to DEBUG ('Building index from tokens')
            bm25.index([list(r.terms) for r in ordered], show_progress=False)
    return LexicalIndex(
        version=version,
        bm25=bm25,
        ids=np.array([r.id for r in ordered], dtype=np.str_) if ordered else np.array([], dtype="<U1"),
        source=np.array([code[r.source_id] for r in ordered], dtype=np.int32),
        start=np.array([r.start for r in ordered], dtype=np.int32),
        end=np.array([r.end for r in ordered], dtype=np.int32),
        day=np.array([r.day for r in ordered], dtype=np.int32),
        sources=sources,
    )


def store_rows(store: Store, batch: int = 5000) -> Iterator[Row]:
    """Every passage of the store as a row, read in batches; terms recomputed where stored ones are stale.

    Each passage also carries its article's title words (a contextual header), so a question naming
    the article's subject is decided by its other words among that article's passages.
    """
    titles: dict[str, list[str]] = {}
    offset = 0
    while True:
        got = store.passages.get(include=["metadatas"], limit=batch, offset=offset)
        ids = got["ids"]
        if not ids:
            return
        stale = [pid for pid, meta in zip(ids, got["metadatas"], strict=True)
                 if (meta or {}).get("terms_version") != LEXICAL_VERSION]
        texts: dict[str, str] = {}
        if stale:
            docs = store.passages.get(ids=stale, include=["documents"])
            texts = dict(zip(docs["ids"], (d or "" for d in docs["documents"]), strict=True))
        for pid, meta in zip(ids, got["metadatas"], strict=True):
            meta = meta or {}
            own = terms(texts[pid]) if pid in texts else str(meta.get("terms", "")).split()
            title = str(meta.get("title", ""))
            header = titles.setdefault(title, terms(title))
            yield Row(pid, str(meta.get("source_id", "")), int(meta.get("start", 0)),  # type: ignore[arg-type]
                      int(meta.get("end", 0)),  # type: ignore[arg-type]
                      own + [t for t in header if t not in own], int(meta.get("published_day", 0) or 0))  # type: ignore[arg-type]
        offset += len(ids)


def write(folder: Path, index: LexicalIndex) -> Path:
    """Save the index under a new name, then point `current` at it; one writer at a time (a file lock,
    for processes sharing the folder), and the build it replaces is kept for readers still opening it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _write(folder, index)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(folder: Path, index: LexicalIndex) -> Path:
    previous = os.readlink(folder / CURRENT) if (folder / CURRENT).is_symlink() else None
    name = f"build-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{name}.tmp"
    tmp.mkdir()
    try:
        if index.bm25 is not None:
            index.bm25.save(str(tmp / "bm25"), show_progress=False)
        for filename, array in zip(_FILES, (index.ids, index.source, index.start, index.end, index.day), strict=True):
            np.save(tmp / filename, array, allow_pickle=False)
        meta = {"format": FORMAT, "lexical_version": LEXICAL_VERSION, "version": index.version,
                "passages": len(index), "sources": list(index.sources)}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        for path in tmp.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        tmp.rename(folder / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link = folder / f".{CURRENT}-{uuid.uuid4().hex[:8]}"
    link.symlink_to(name)
    os.replace(link, folder / CURRENT)  # atomic: readers see the old build or the new one
    for old in folder.iterdir():
        # Readers that mapped an old build keep their pages after the unlink; the one just replaced stays
        # for readers that resolved `current` a moment ago.
        if old.name in (name, CURRENT, previous, ".lock"):
            continue
        if old.name.startswith(("build-", ".build-")):
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.startswith(f".{CURRENT}-") and old.is_symlink():
            old.unlink()
    return folder / name


def built_version(folder: Path) -> str | None:
    """The store version the live build was made for, read from its small meta file; None if none."""
    try:
        meta = json.loads((folder / CURRENT / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("lexical_version") != LEXICAL_VERSION:
        return None
    return str(meta.get("version"))


def open_index(folder: Path) -> LexicalIndex | None:
    """The live build, memory-mapped; None when there is none, or it is of another format."""
    import bm25s

    try:
        target = (folder / CURRENT).resolve(strict=True)
        meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("lexical_version") != LEXICAL_VERSION:
            return None
        arrays = [np.load(target / f, mmap_mode="r", allow_pickle=False) for f in _FILES[:4]]
        day = target / _FILES[4]
        arrays.append(np.load(day, mmap_mode="r", allow_pickle=False) if day.exists()
                      else np.zeros(len(arrays[0]), dtype=np.int32))
        bm25 = None
        if (target / "bm25").is_dir():
            with _quiet():
                bm25 = bm25s.BM25.load(str(target / "bm25"), mmap=True, show_progress=False)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("the lexical index in %s cannot be read (%s)", folder, exc)
        return None
    ids, source, start, end, day = arrays
    return LexicalIndex(str(meta["version"]), bm25, ids, source, start, end, day, tuple(meta["sources"]), target)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    level = logging.getLogger("bm25s").level
    logging.getLogger("bm25s").setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.getLogger("bm25s").setLevel(level)


def rebuild(store: Store, folder: Path) -> LexicalIndex:
    """Build the index from the store's passages and make it the live one."""
    version = store.version()  # taken first: a write during the read leaves the build marked older
    index = build(store_rows(store), version)
    write(folder, index)
    return index

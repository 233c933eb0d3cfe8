"""Hybrid retrieval: dense search in Chroma (passages and their sentences) plus BM25, fused by normalised
score, deduplicated, debris ranked down."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa_bot.cite import MARKER
from qa_bot.corpus import KIND_WEIGHT, sentence_id
from qa_bot.lexical import BM25, LEXICAL_VERSION, STOPWORDS, fold, terms, tokens
from qa_bot.store import Store
from qa_bot.types import Passage

log = logging.getLogger(__name__)
LEXICAL_WEIGHT = 0.6
History = Sequence[Any]


@dataclass
class Snapshot:
    """Everything retrieval keeps in memory for one version of the store."""

    version: str
    passages: list[Passage]
    position: dict[str, int]
    bm25: BM25
    by_sentence: dict[tuple[str, int, int], list[int]]


class Index:
    """A cached view of the store that reloads when an ingest changes the store's version."""

    def __init__(self, store: Store, embeddings: Embeddings, check_every: float = 1.0) -> None:
        self.store = store
        self.embeddings = embeddings
        self.check_every = check_every
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}

    def invalidate(self) -> None:
        """Force a version check on the next use."""
        self._checked = 0.0

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloaded if the store changed."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked < self.check_every:
            return snap
        with self._lock:
            version = self.store.version()
            self._checked = time.monotonic()
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._load(version)
            return self._snapshot

    def _load(self, version: str) -> Snapshot:
        started = time.perf_counter()
        got = self.store.passages.get(include=["documents", "metadatas"])
        passages: list[Passage] = []
        docs_terms: list[list[str]] = []
        title_terms: dict[str, list[str]] = {}
        for pid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            meta = meta or {}
            sents = tuple(
                (int(a), int(b))
                for a, b in (pair.split(",") for pair in str(meta.get("sents", "")).split(";") if pair)
            )
            passages.append(
                Passage(
                    text=text or "",
                    source_id=str(meta.get("source_id", "")),
                    title=str(meta.get("title", "")),
                    start=int(meta.get("start", 0)),  # type: ignore[arg-type]
                    end=int(meta.get("end", 0)),  # type: ignore[arg-type]
                    outlet=str(meta.get("outlet", "")),
                    kind=str(meta.get("kind", "body")),
                    id=pid,
                    sentences=sents,
                )
            )
            stored = meta.get("terms")
            current = isinstance(stored, str) and meta.get("terms_version") == LEXICAL_VERSION
            own = str(stored).split() if current else terms(text or "")
            # Contextual header: every passage also carries its article's title words, so a question
            # naming the article's subject ('what did Deputy FM Cuong say about partners') is decided
            # by its other words among that article's passages, not by whichever passage repeats the name.
            docs_terms.append(own + [t for t in title_terms.setdefault(passages[-1].title, terms(passages[-1].title))
                                     if t not in own])
        order = sorted(range(len(passages)), key=lambda i: (passages[i].source_id, passages[i].start))
        passages = [passages[i] for i in order]
        docs_terms = [docs_terms[i] for i in order]
        by_sentence: dict[tuple[str, int, int], list[int]] = {}
        for i, p in enumerate(passages):
            for s, e in p.sentences:
                by_sentence.setdefault((p.source_id, s, e), []).append(i)
        snap = Snapshot(
            version, passages, {p.id: i for i, p in enumerate(passages)}, BM25(docs_terms), by_sentence,
        )
        log.info("loaded %d passages in %.2fs", len(passages), time.perf_counter() - started)
        return snap

    def sentence_vectors(self, passages: Sequence[Passage]) -> dict[tuple[str, int, int], np.ndarray]:
        """Stored vectors of the passages' sentences, keyed (source_id, start, end); cached."""
        wanted: dict[str, tuple[str, int, int]] = {}
        for p in passages:
            for s, e in p.sentences:
                text = p.text[s - p.start : e - p.start]
                wanted[sentence_id(p.source_id, s, e, text)] = (p.source_id, s, e)
        missing = [sid for sid in wanted if sid not in self._vectors]
        if missing:
            got = self.store.sentences.get(ids=missing, include=["embeddings"])
            for sid, emb in zip(got["ids"], got["embeddings"], strict=True):
                self._vectors[sid] = np.asarray(emb, dtype=np.float32)
            if len(self._vectors) > 500_000:
                self._vectors.clear()
        return {key: self._vectors[sid] for sid, key in wanted.items() if sid in self._vectors}


@dataclass(frozen=True)
class Retrieval:
    """What one search found, with what later stages reuse."""

    query: str
    passages: list[Passage]
    query_vector: np.ndarray
    bm25: BM25


def _near_duplicate(a: set[str], b: set[str]) -> bool:
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= 0.85


def search(
    index: Index,
    query: str,
    k: int = 5,
    *,
    candidates: int = 50,
    mmr: bool = False,
    mmr_lambda: float = 0.7,
    sentence_level: bool = True,
) -> Retrieval:
    """Top-k passages for the query: dense and BM25 scores, each normalised, fused convexly."""
    snap = index.snapshot()
    qv = np.asarray(index.embeddings.embed_query(query), dtype=np.float32)
    if not snap.passages:
        return Retrieval(query, [], qv, snap.bm25)
    n = min(max(candidates, 4 * k), len(snap.passages))
    dense = index.store.passages.query(
        query_embeddings=[qv.tolist()], n_results=n, include=["distances", "embeddings"]
    )
    dense_ids: list[str] = dense["ids"][0]
    vectors = {pid: np.asarray(v, dtype=np.float32) for pid, v in zip(dense_ids, dense["embeddings"][0], strict=True)}

    lex = snap.bm25.scores(terms(query))
    lex_order = [int(i) for i in np.argsort(-lex, kind="stable")[:n] if lex[i] > 0]

    # Convex fusion of normalised scores; measured on the question set it beats rank fusion here
    # (names, numbers and dates make the lexical side strong, the dense side carries paraphrases).
    cos = {snap.position[pid]: 1.0 - d / 2.0 for pid, d in zip(dense_ids, dense["distances"][0], strict=True)
           if pid in snap.position}
    if sentence_level:
        # Small-to-big: a passage is also as close as its closest sentence. A paraphrase of one
        # sentence is diluted in the mean vector of four.
        near = index.store.sentences.query(
            query_embeddings=[qv.tolist()], n_results=min(n, len(snap.by_sentence)) or 1,
            include=["metadatas", "distances"],
        )
        for meta, d in zip(near["metadatas"][0], near["distances"][0], strict=True):
            key = (str(meta.get("source_id", "")), int(meta.get("start", 0)), int(meta.get("end", 0)))  # type: ignore[arg-type, union-attr]
            for pos in snap.by_sentence.get(key, ()):
                cos[pos] = max(cos.get(pos, -1.0), 1.0 - d / 2.0)
    cands = set(cos) | set(lex_order)
    lo, hi = (min(cos.values()), max(cos.values())) if cos else (0.0, 1.0)
    top_lex = float(lex.max()) or 1.0
    fused: dict[int, float] = {}
    for pos in cands:
        dn = (cos.get(pos, lo) - lo) / ((hi - lo) or 1.0)
        fused[pos] = (LEXICAL_WEIGHT * float(lex[pos]) / top_lex + (1 - LEXICAL_WEIGHT) * dn) * KIND_WEIGHT.get(
            snap.passages[pos].kind, 0.5
        )
    ranked = sorted(fused, key=lambda pos: -fused[pos])

    missing = [snap.passages[pos].id for pos in ranked[: 3 * k] if snap.passages[pos].id not in vectors]
    if missing:
        got = index.store.passages.get(ids=missing, include=["embeddings"])
        for pid, v in zip(got["ids"], got["embeddings"], strict=True):
            vectors[pid] = np.asarray(v, dtype=np.float32)

    chosen: list[int] = []
    seen_terms: list[set[str]] = []
    pool = ranked[: max(3 * k, 10)]
    if mmr:
        pool = _mmr(pool, snap, vectors, qv, k * 2, mmr_lambda)
    for pos in pool:
        p = snap.passages[pos]
        words = set(terms(p.text))
        if any(_near_duplicate(words, other) for other in seen_terms):
            continue
        chosen.append(pos)
        seen_terms.append(words)
        if len(chosen) == k:
            break
    out = []
    for pos in chosen:
        p = snap.passages[pos]
        v = vectors.get(p.id)
        score = float(np.dot(qv, v)) if v is not None else 0.0
        out.append(replace(p, score=round(score, 4)))
    return Retrieval(query, out, qv, snap.bm25)


def _mmr(
    pool: list[int], snap: Snapshot, vectors: dict[str, np.ndarray], qv: np.ndarray, n: int, lam: float
) -> list[int]:
    """Maximal marginal relevance over the fused pool: relevant, but not all saying the same."""
    picked: list[int] = []
    rest = [pos for pos in pool if snap.passages[pos].id in vectors]
    while rest and len(picked) < n:
        def gain(pos: int) -> float:
            v = vectors[snap.passages[pos].id]
            sim = max((float(np.dot(v, vectors[snap.passages[q].id])) for q in picked), default=0.0)
            return lam * float(np.dot(qv, v)) - (1 - lam) * sim

        best = max(rest, key=gain)
        picked.append(best)
        rest.remove(best)
    return picked


# ---------------------------------------------------------------- follow-up questions

# Words that point back at the conversation: a question holding one may not stand on its own.
_PRONOUNS = frozenset("it its they them their theirs he him his she her hers".split())
# 'that official', 'this decision', 'those countries': a demonstrative before a noun, not 'that' as a conjunction.
_POINTER = re.compile(r"\b(?:this|these|those|that)\s+(?!is\b|was\b|are\b|were\b|has\b|had\b|will\b|can\b|the\b|a\b)"
                      r"[a-z][\w-]*\s*(?:[?.!,]|$|\s+(?:hold|say|do|did|mean|take|have|had|is|was|are|were|come|go))",
                      re.IGNORECASE)
_OPENERS = re.compile(r"^\s*(and|also|what about|how about|so|but|then|why|how come)\b", re.IGNORECASE)


def normalize_history(history: History | None) -> list[tuple[str, str]]:
    """(user, assistant) pairs from either pairs or chat messages ({'role', 'content'})."""
    if not history:
        return []
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for item in history:
        if isinstance(item, dict):
            role, content = item.get("role"), item.get("content")
            if not isinstance(content, str):
                content = str(content) if content is not None else ""
            if role == "user":
                if pending is not None:
                    pairs.append((pending, ""))
                pending = content
            elif role == "assistant":
                pairs.append((pending or "", content))
                pending = None
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            user, assistant = item
            pairs.append((str(user or ""), str(assistant or "")))
        else:
            raise ValueError("history items must be (user, assistant) pairs or {'role', 'content'} dicts")
    if pending is not None:
        pairs.append((pending, ""))
    return pairs


def leans_on_conversation(question: str) -> str | None:
    """'ellipsis' for a question that cannot stand alone ('And in 2020?', 'What about Laos?', 'Why?'),
    'pronoun' for one that may point back ('When will it take place?', 'that official'), else None."""
    words = tokens(question)
    content = [w for w in words if w not in STOPWORDS]
    if _OPENERS.match(question) or len(content) <= 1:
        return "ellipsis"
    if _PRONOUNS & set(words) or _POINTER.search(question):
        return "pronoun"
    return None


def _key_phrases(text: str, limit: int = 8) -> list[str]:
    """Capitalised names and numbers from an earlier answer, the words a follow-up points at."""
    text = MARKER.sub(" ", text)
    found: list[str] = []
    for m in re.finditer(r"(?:[A-Z][\w’'-]*\.?(?:\s+(?:of|the|for|on|and|to)\s+|\s+)?)+[A-Z][\w’'-]*"
                         r"|\b\d[\d,.–-]*\d\b|\([A-Z]{2,}\)", text):
        phrase = m.group(0).strip(" .")
        if fold(phrase) in STOPWORDS or len(phrase) < 3:
            continue
        if phrase not in found:
            found.append(phrase)
        if len(found) >= limit:
            break
    return found


def condense(question: str, history: History | None) -> str:
    """A standalone search query for a follow-up, built from the conversation without any LLM."""
    pairs = normalize_history(history)
    if not pairs or not leans_on_conversation(question):
        return question
    last_user, last_answer = pairs[-1]
    context = [last_user.strip()] if last_user.strip() else []
    phrases = [p for p in _key_phrases(last_answer) if fold(p) not in fold(" ".join(context))]
    context.extend(phrases[:6])
    if not context:
        return question
    return f"{question.strip()} ({'; '.join(context)})"


class QARetriever(BaseRetriever):
    """The hybrid search as a LangChain retriever, so it composes with any LangChain chain."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: Any
    k: int = 5
    mmr: bool = False

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        found = search(self.index, query, self.k, mmr=self.mmr)
        return [
            Document(
                page_content=p.text,
                id=p.id,
                metadata={
                    "source_id": p.source_id, "title": p.title, "outlet": p.outlet, "kind": p.kind,
                    "start": p.start, "end": p.end, "score": p.score,
                },
            )
            for p in found.passages
        ]

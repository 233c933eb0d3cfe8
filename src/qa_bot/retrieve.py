"""Hybrid retrieval: dense search in Chroma (passages and their sentences) plus BM25, fused by normalised
score, deduplicated, debris ranked down."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot import lexindex
from qa_bot.cite import MARKER
from qa_bot.corpus import KIND_WEIGHT, sentence_id
from qa_bot.lexical import STOPWORDS, fold, terms, tokens
from qa_bot.lexindex import LexicalIndex
from qa_bot.store import Store
from qa_bot.types import NO_ANSWER, Passage

log = logging.getLogger(__name__)
LEXICAL_WEIGHT = 0.6
History = Sequence[Any]


@dataclass(frozen=True)
class Snapshot:
    """What retrieval uses of one version of the store: its version and its lexical index (mapped, not loaded)."""

    version: str  # the store's version and the index's: either changing makes a new snapshot
    lexical: LexicalIndex
    size: int  # passages in the store


def passage_from(pid: str, text: str | None, meta: dict[str, Any] | None) -> Passage:
    """A passage from its stored record."""
    meta = meta or {}
    sents = tuple(
        (int(a), int(b)) for a, b in (pair.split(",") for pair in str(meta.get("sents", "")).split(";") if pair)
    )
    return Passage(
        text=text or "",
        source_id=str(meta.get("source_id", "")),
        title=str(meta.get("title", "")),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        outlet=str(meta.get("outlet", "")),
        kind=str(meta.get("kind", "body")),
        id=pid,
        sentences=sents,
        published=str(meta.get("published", "")),
        url=str(meta.get("url", "")),
    )


class _LRU(OrderedDict[str, Any]):
    """A bounded cache, safe across the page's threads: the least recently used entries go first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_fresh(self, key: str) -> Any:
        with self.lock:
            value = self.get(key)
            if value is not None:
                self.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)

    def drop_all(self) -> None:
        with self.lock:
            self.clear()


ARTICLE_BEFORE_PASSAGES = 64  # how much of an article before a quote the claim check reads for names


class Index:
    """The store as retrieval reads it: passages and vectors fetched on demand into bounded caches, the
    lexical index memory-mapped, and both reopened when an ingest changes the store's version."""

    def __init__(self, store: Store, embeddings: Embeddings, check_every: float = 1.0,
                 cache_size: int = 4096) -> None:
        self.store = store
        self.embeddings = embeddings
        self.check_every = check_every
        self._snapshot: Snapshot | None = None
        self._key: tuple[str, str | None] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._passages = _LRU(cache_size)
        self._vectors = _LRU(cache_size * 8)

    def invalidate(self) -> None:
        """Force a version check on the next use."""
        self._checked = 0.0

    def snapshot(self) -> Snapshot:
        """The current snapshot, reopened if the store or its index changed."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked < self.check_every:
            return snap
        with self._lock:
            version = self.store.version()
            folder = self.store.index_dir
            built = lexindex.built_version(folder) if folder is not None else None
            self._checked = time.monotonic()
            if self._snapshot is None or self._key != (version, built):
                self._snapshot = Snapshot(f"{version}|{built}", self._open(folder, version, built),
                                          self.store.count())
                self._key = (version, built)
                self._passages.drop_all()
            return self._snapshot

    def _open(self, folder: Path | None, version: str, built: str | None) -> LexicalIndex:
        started = time.perf_counter()
        lexical = lexindex.open_index(folder) if folder is not None and built is not None else None
        if lexical is None and folder is not None and built is not None:
            lexical = lexindex.open_index(folder)  # once more: a writer may have swapped builds just then
        if lexical is None:
            # No index on disk (a store from before it, or no index folder): built here, in memory.
            log.warning("no lexical index for the store at %s: building one in memory "
                        "(run 'qa-bot index --rebuild' to keep one on disk)", self.store.location)
            lexical = lexindex.build(lexindex.store_rows(self.store), version)
        elif built != version:
            log.info("the lexical index is older than the store (an ingest is running, or was stopped): "
                     "using it until it is rebuilt")
        log.info("opened the lexical index (%d passages) in %.3fs", len(lexical), time.perf_counter() - started)
        return lexical

    def passages(self, ids: Sequence[str]) -> dict[str, Passage]:
        """Passages by id, from the cache or the store; ids the store no longer has are left out."""
        out: dict[str, Passage] = {}
        missing = []
        for pid in dict.fromkeys(ids):
            entry = self._passages.get_fresh(pid)
            if entry is None:
                missing.append(pid)
            else:
                out[pid] = entry[0]
        if missing:
            got = self.store.passages.get(ids=missing, include=["documents", "metadatas", "embeddings"])
            for pid, text, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"],
                                            strict=True):
                out[pid] = passage_from(pid, text, meta)
                self.remember(out[pid], emb)
        return out

    def remember(self, passage: Passage, vector: Any) -> None:
        """Cache a passage fetched by a query, with its vector."""
        self._passages.put(passage.id, (passage, np.asarray(vector, dtype=np.float32)))

    def passage_vector(self, pid: str) -> np.ndarray | None:
        """A cached passage's vector."""
        entry = self._passages.get(pid)
        return entry[1] if entry is not None else None

    def article_before(self, source_id: str, offset: int, limit: int = ARTICLE_BEFORE_PASSAGES) -> str:
        """The article's text before an offset, from its first ``limit`` passages (overlapping windows
        joined by line breaks: for finding names, not for quoting); "" when the store cannot say. Read
        without vectors and past the caches, which stay retrieval's."""
        ids = self.snapshot().lexical.before(source_id, offset)[:limit]
        if not ids:
            return ""
        try:
            got = self.store.passages.get(ids=ids, include=["documents", "metadatas"])
        except Exception as exc:  # the check goes on without it: a name then needs its quote's context
            log.warning("cannot read article %s before offset %d: %s", source_id, offset, exc)
            return ""
        found = {pid: passage_from(pid, text, meta)
                 for pid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}
        return "\n".join(found[i].text[: max(0, offset - found[i].start)] for i in ids if i in found)

    def sentence_vectors(self, passages: Sequence[Passage]) -> dict[tuple[str, int, int], np.ndarray]:
        """Stored vectors of the passages' sentences, keyed (source_id, start, end); cached."""
        wanted: dict[str, tuple[str, int, int]] = {}
        for p in passages:
            for s, e in p.sentences:
                text = p.text[s - p.start : e - p.start]
                wanted[sentence_id(p.source_id, s, e, text)] = (p.source_id, s, e)
        found = {sid: v for sid in wanted if (v := self._vectors.get_fresh(sid)) is not None}
        missing = [sid for sid in wanted if sid not in found]
        if missing:
            got = self.store.sentences.get(ids=missing, include=["embeddings"])
            for sid, emb in zip(got["ids"], got["embeddings"], strict=True):
                found[sid] = np.asarray(emb, dtype=np.float32)
                self._vectors.put(sid, found[sid])
        return {key: found[sid] for sid, key in wanted.items() if sid in found}


@dataclass(frozen=True)
class Retrieval:
    """What one search found, with what later stages reuse."""

    query: str
    passages: list[Passage]
    query_vector: np.ndarray


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
    since: str | None = None,
    until: str | None = None,
) -> Retrieval:
    """Top-k passages for the query: dense and BM25 scores, each normalised, fused convexly; with
    since/until (ISO dates), only passages of articles published in that range."""
    snap = index.snapshot()
    qv = np.asarray(index.embeddings.embed_query(query), dtype=np.float32)
    if not snap.size:
        return Retrieval(query, [], qv)
    n = min(max(candidates, 4 * k), snap.size)
    dense = index.store.passages.query(
        query_embeddings=[qv.tolist()], n_results=n, include=["documents", "metadatas", "distances", "embeddings"],
        where=_date_where(since, until),
    )
    cos: dict[str, float] = {}
    for pid, text, meta, d, emb in zip(dense["ids"][0], dense["documents"][0], dense["metadatas"][0],
                                       dense["distances"][0], dense["embeddings"][0], strict=True):
        index.remember(passage_from(pid, text, meta), emb)
        cos[pid] = 1.0 - d / 2.0

    lexical = snap.lexical
    lex_scores = lexical.scores(terms(query), _day(since), _day(until))
    lex_top = lexical.best(lex_scores, n)

    # Convex fusion of normalised scores; measured on the question set it beats rank fusion here
    # (names, numbers and dates make the lexical side strong, the dense side carries paraphrases).
    if sentence_level:
        # Small-to-big: a passage is also as close as its closest sentence. A paraphrase of one
        # sentence is diluted in the mean vector of four.
        near = index.store.sentences.query(
            query_embeddings=[qv.tolist()], n_results=n, include=["metadatas", "distances"],
        )
        for meta, d in zip(near["metadatas"][0], near["distances"][0], strict=True):
            meta = meta or {}
            for pid in snap.lexical.containing(str(meta.get("source_id", "")), int(meta.get("start", 0)),  # type: ignore[arg-type]
                                               int(meta.get("end", 0))):  # type: ignore[arg-type]
                cos[pid] = max(cos.get(pid, -1.0), 1.0 - d / 2.0)
    found = index.passages(list(cos) + [pid for pid, _ in lex_top])
    if since or until:
        found = {pid: p for pid, p in found.items() if _published_in(p, since, until)}
    cos = {pid: c for pid, c in cos.items() if pid in found}
    lo, hi = (min(cos.values()), max(cos.values())) if cos else (0.0, 1.0)
    top_lex = (lex_top[0][1] if lex_top else 0.0) or 1.0
    fused: dict[str, float] = {}
    for pid, p in found.items():
        dn = (cos.get(pid, lo) - lo) / ((hi - lo) or 1.0)
        pos = lexical.position(pid, p.source_id, p.start, p.end)
        lex = float(lex_scores[pos]) if pos >= 0 else 0.0
        fused[pid] = (LEXICAL_WEIGHT * lex / top_lex + (1 - LEXICAL_WEIGHT) * dn) * KIND_WEIGHT.get(
            p.kind, 0.5
        )
    # Ties go to article order, as before: the same answer whichever side found the passage first.
    ranked = sorted(fused, key=lambda pid: (-fused[pid], found[pid].source_id, found[pid].start))
    vectors = {pid: v for pid in ranked[: max(3 * k, 10)] if (v := index.passage_vector(pid)) is not None}

    chosen: list[str] = []
    seen_terms: list[set[str]] = []
    pool = ranked[: max(3 * k, 10)]
    if mmr:
        pool = _mmr(pool, vectors, qv, k * 2, mmr_lambda)
    for pid in pool:
        words = set(terms(found[pid].text))
        if any(_near_duplicate(words, other) for other in seen_terms):
            continue
        chosen.append(pid)
        seen_terms.append(words)
        if len(chosen) == k:
            break
    out = []
    for pid in chosen:
        v = vectors.get(pid)
        score = float(np.dot(qv, v)) if v is not None else 0.0
        out.append(replace(found[pid], score=round(score, 4)))
    return Retrieval(query, out, qv)


# ---------------------------------------------------------------- date filter


def _day(date: str | None) -> int:
    """An ISO date as YYYYMMDD (0 for none)."""
    return int(date.replace("-", "")) if date else 0


def _date_where(since: str | None, until: str | None) -> dict[str, Any] | None:
    """The Chroma filter on a passage's publication day (YYYYMMDD; 0 when unknown, never in a range)."""
    if not since and not until:
        return None
    bounds: list[dict[str, Any]] = [{"published_day": {"$gte": int(since.replace("-", "")) if since else 1}}]
    if until:
        bounds.append({"published_day": {"$lte": int(until.replace("-", ""))}})
    return bounds[0] if len(bounds) == 1 else {"$and": bounds}


def _published_in(p: Passage, since: str | None, until: str | None) -> bool:
    """Whether a passage's article was published in the range (an undated one never is)."""
    return bool(p.published) and (not since or p.published >= since) and (not until or p.published <= until)


def _mmr(pool: list[str], vectors: dict[str, np.ndarray], qv: np.ndarray, n: int, lam: float) -> list[str]:
    """Maximal marginal relevance over the fused pool: relevant, but not all saying the same."""
    picked: list[str] = []
    rest = [pid for pid in pool if pid in vectors]
    while rest and len(picked) < n:
        def gain(pid: str) -> float:
            v = vectors[pid]
            sim = max((float(np.dot(v, vectors[q])) for q in picked), default=0.0)
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


def declined(answer: str) -> bool:
    """Is this earlier answer's text a decline (it names only the closest articles)?"""
    return answer.lstrip().startswith(NO_ANSWER)


def _key_phrases(text: str, limit: int = 8) -> list[str]:
    """Capitalised names and numbers from an earlier answer, the words a follow-up points at."""
    if declined(text):
        return []  # a decline names only the closest articles' titles, which the follow-up never meant
    text = MARKER.sub("\n", text)  # a name never runs across a marker, a line or a paragraph
    found: list[str] = []
    for m in re.finditer(r"(?:[A-Z][\w’'-]*\.?(?:[ \t]+(?:of|the|for|on|and|to)[ \t]+|[ \t]+)?)+[A-Z][\w’'-]*"
                         r"|\b\d[\d,.–-]*\d\b|\([A-Z]{2,}\)", text):
        phrase = m.group(0).strip(" .")
        if fold(phrase) in STOPWORDS or len(phrase) < 3:
            continue
        if phrase not in found:
            found.append(phrase)
        if len(found) >= limit:
            break
    return found


def points_back(question: str) -> bool:
    """A whole question of its own with a word that points back ('Who opened it?', 'that official'), as
    against an ellipsis that only makes sense with the last question ('And in 2020?', 'Why?')."""
    return not _OPENERS.match(question) and bool(_PRONOUNS & set(tokens(question)) or _POINTER.search(question))


def _own_words(question: str) -> list[str]:
    """The words a question says of its own: no function word, pronoun, nor 'much' and 'many', which only
    ask how much ('How much did it cost?' has one: 'cost')."""
    return [w for w in tokens(question) if w not in STOPWORDS and w not in _PRONOUNS and w not in ("much", "many")]


def needs_conversation(question: str) -> bool:
    """A question that means nothing without an earlier one: no word to search for ('When was that?'), or
    one that points back with at most one word of its own and no name or number ('Who opened it?', 'How
    old is he?', 'What did she say about prices?'), which in a library of many articles could be about
    anyone. 'What did she say about Portmere?' and 'What did he do in 2020?' stand."""
    own = _own_words(question)
    named = re.search(r"\d", question) or re.search(r"\b[A-Z]", question.strip()[1:])
    return not own or (points_back(question) and len(own) <= 1 and not named)


# A question that asks for several things: '..., and when is it held?', '...? Who chairs it?', and a list
# of them, 'Who opened it, how much did it cost, and when …?'. Only where a question word begins a new clause
# after 'and', a question's end, or a comma in such a list, so 'What did she win when she was 16?' is one.
_PREPOSITION = r"(?:(?:in|on|at|by|for|from|to|with|since|until)\s+)?"
_QWORD = rf"{_PREPOSITION}(?:who|whom|whose|what|when|where|which|why|how)\b"
_PART_BREAK = re.compile(rf"(?:,?\s+and\s+|[?;]\s+)(?={_QWORD})", re.IGNORECASE)
_LISTED = re.compile(rf",\s+(?={_QWORD})", re.IGNORECASE)
# What a part asks with: a question word and, after which, what, whose or how, the word it asks of ('which
# year', 'how much'). Alone, it shares its verb with the next part ('Where and when was he born?').
_ASK = rf"{_PREPOSITION}(?:who|whom|when|where|why|(?:which|what|whose|how)(?:\s+\w+)?)"
_BARE = re.compile(_ASK, re.IGNORECASE)
_ASKING = re.compile(rf"^\s*{_ASK}\b\s*", re.IGNORECASE)


def completed(part: str, first: str) -> str:
    """A later part with no word of its own asked of what the first part asks about ('when?' after 'Where
    was the accord signed' -> 'when was the accord signed?'); any other part as it is."""
    if _own_words(part) or not _ASKING.match(first):
        return part
    return f"{part.strip().rstrip('?')} {_ASKING.sub('', first, count=1).rstrip('?')}?"


def question_parts(question: str) -> list[str]:
    """The questions a question asks, in order ('Which conference will it chair, and when is it held?' ->
    ['Which conference will it chair', 'when is it held?']); one part for most questions, and for one
    whose first part is a bare question word sharing the next part's verb ('Where and when was he born?')."""
    parts = [p.strip(" ,;") for p in _PART_BREAK.split(question.strip())]
    if len(parts) > 1:  # a list of questions: 'Who opened it, how much did it cost, and when did work begin?'
        parts = [q.strip(" ,") for p in parts for q in _LISTED.split(p)]
    parts = [p for p in parts if p]
    if len(parts) < 2 or any(_BARE.fullmatch(p) for p in parts[:-1]):
        return [question]
    return parts


def pointed(question: str, history: History | None) -> str:
    """What the reader reads for a question that points back: the question, then the names of the last
    exchange it may point at, from the last question and the last answer's lead ('Who opened it?
    (portmere)'), never the last question itself, whose own 'how much' the reader would answer instead."""
    pairs = normalize_history(history)
    if not pairs:
        return question
    last_user, last_answer = pairs[-1]
    lead = "" if declined(last_answer) else MARKER.split(last_answer.strip(), maxsplit=1)[0]
    lead = lead.split("\n")[0]
    words = [fold(w) for w in re.findall(r"\b[A-Z][\w’'-]+", f"{lead} {last_user}")]
    names = [w for w in dict.fromkeys(words) if w not in STOPWORDS and w not in tokens(question)][:8]
    return f"{question.strip()} ({'; '.join(names)})" if names else question


def insisted(question: str, history: History | None) -> str:
    """The words whose years and numbers an answer must say: the question and, for a follow-up, the question
    it leans on, never the numbers of an earlier answer's quotes."""
    pairs = normalize_history(history)
    if not pairs or not leans_on_conversation(question):
        return question
    return f"{question.strip()} {pairs[-1][0].strip()}"


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

"""ask() = condense -> retrieve -> answer -> verify, built once per process and reused."""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

from qa_bot import engines
from qa_bot.cite import compose, verify
from qa_bot.config import Settings
from qa_bot.engines.extractive import WEAK_SCORE, Selection, select
from qa_bot.errors import BackendError, InvalidQuestionError, StoreError
from qa_bot.evidence import Evidence, head_terms, query_terms, score_sentences
from qa_bot.ingest import Progress, ingest
from qa_bot.lexical import fold, tokens
from qa_bot.multihop import decompose, points_back, resolve_parts
from qa_bot.prompts import load_prompts
from qa_bot.retrieve import (
    History,
    Index,
    QARetriever,
    Retrieval,
    condense,
    normalize_history,
    search_parts,
)
from qa_bot.store import Store, open_store
from qa_bot.types import Answer, Citation, IngestSummary, Passage

log = logging.getLogger(__name__)
NOT_IN_SOURCES = "NOT IN SOURCES"


def clean_question(question: object, max_chars: int) -> str:
    """The question without control characters or lone surrogates; InvalidQuestionError if unusable."""
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text")
    text = question.encode("utf-8", "replace").decode("utf-8")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not re.search(r"\w", text):
        raise InvalidQuestionError("the question is empty: type a question about the articles")
    if len(text) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,}. Ask a shorter question."
        )
    return text


class QABot:
    """The whole product as a library object: one per store, holding the model and caches."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: Embeddings | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        if embeddings is None:
            from qa_bot.embeddings import load_embeddings

            embeddings = load_embeddings(self.settings.embedding_model)
        self.embeddings = embeddings
        self._store = store
        self._index: Index | None = None
        self._lock = threading.RLock()
        self.prompts = load_prompts()

    # ------------------------------------------------------------------ store

    @property
    def store(self) -> Store:
        """The store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings)
            return self._store

    @property
    def index(self) -> Index:
        """The in-memory retrieval view of the store."""
        with self._lock:
            if self._index is None:
                self._index = Index(self.store, self.embeddings)
            return self._index

    def reopen(self) -> None:
        """Drop the store handle and caches (after the store folder was replaced or repaired)."""
        with self._lock:
            self._store = None
            self._index = None

    def ensure_store(self) -> None:
        """Build the store from seeds/ when it is missing or empty, so the first question just works."""
        with self._lock:
            try:
                count = self.store.count()
                self.store.check_model()
            except StoreError:
                self.reopen()
                raise
            if count == 0:
                log.warning("the store at %s is empty: building it from %s first", self.store.location,
                            self.settings.seeds_dir)
                self.ingest([self.settings.seeds_dir])

    def ingest(
        self, paths: Iterable[str | Path] | None = None, *, prune: bool = False, rebuild: bool = False,
        progress: Progress | None = None,
    ) -> IngestSummary:
        """Ingest into this bot's store; new passages are searchable at once."""
        if rebuild:
            with self._lock:
                if self._store is None:  # a corrupted embedded store is set aside, not a dead end
                    self._store = open_store(self.settings, rebuild=True)
        summary = ingest(paths, settings=self.settings, store=self.store, embeddings=self.embeddings,
                         prune=prune, rebuild=rebuild, progress=progress)
        self.index.invalidate()
        return summary

    # -------------------------------------------------------------- retrieval

    def retriever(self, k: int | None = None) -> QARetriever:
        """The hybrid search as a LangChain BaseRetriever."""
        self.ensure_store()
        return QARetriever(index=self.index, k=k or self.settings.k)

    def _search(self, query: str, k: int, question: str | None = None) -> Retrieval:
        self.ensure_store()
        return search_parts(self.index, query, decompose(question or query), k)

    def _search_and_score(
        self, query: str, k: int, question: str, found: Retrieval | None = None
    ) -> tuple[Retrieval, list[Evidence], dict]:  # type: ignore[type-arg]
        """Search (unless already searched), score the sentences; a part pointing back at an earlier answer
        is searched again with it."""
        found = found or self._search(query, k, question)
        ranked, vectors = self._evidence(question, found)
        if _two_hop(found):
            resolved = resolve_parts(found.parts, ranked, question)
            if list(resolved) != list(found.parts):
                bridges = "".join(r[len(p):] for r, p in zip(resolved, found.parts, strict=True))
                found = search_parts(self.index, query + bridges, resolved, k)
                ranked, vectors = self._evidence(question, found)
        return found, ranked, vectors

    def retrieve(self, question: str, k: int | None = None, history: History | None = None) -> list[Passage]:
        """Passages for a question (follow-ups resolved with the history first)."""
        text = clean_question(question, self.settings.max_question_chars)
        query, k = condense(text, history), k or self.settings.k
        found = self._search(query, k, text)
        # Sentences are scored only when a part needs an earlier part's answer to be searched.
        return (self._search_and_score(query, k, text, found)[0] if _two_hop(found) else found).passages

    # ----------------------------------------------------------------- answer

    def _evidence(self, question: str, found: Retrieval) -> tuple[list[Evidence], dict]:  # type: ignore[type-arg]
        vectors = self.index.sentence_vectors(found.passages)
        ranked = score_sentences(question, found.query, found.passages, found.query_vector, vectors, found.bm25)
        return ranked, vectors

    def _abstain(self, question: str, query: str, found: Retrieval, backend: str, support: float,
                 warnings: tuple[str, ...], timings: dict[str, float]) -> Answer:
        closest = tuple(dict.fromkeys(f"{p.title} ({p.source_id})" for p in found.passages if p.kind != "related"))[:3]
        text = "The articles do not answer this question."
        if closest:
            text += " The closest articles are: " + "; ".join(closest) + "."
        return Answer(question=question, text=text, abstained=True, backend=backend, query=query,
                      warnings=warnings, closest=closest, timings=timings, support=round(support, 4))

    def select(self, question: str, query: str, found: Retrieval, ranked: list[Evidence]) -> Selection:
        """The extractive engine's choice of sentences for a searched and scored question."""
        unknown = [t for t in tokens(question) if t[0].isdigit() and t not in found.bm25.postings]
        spelled = self.index.snapshot().acronyms
        unknown += [a for a in re.findall(r"\b[A-Z]{2,}\b", question)
                    if fold(a) not in found.bm25.postings and fold(a) not in spelled]
        return select(question, ranked, q_terms=query_terms(query), idf=found.bm25.idf_of, unknown=unknown,
                      parts=found.parts, head=head_terms(question))

    def _extractive(self, question: str, query: str, found: Retrieval, ranked: list[Evidence],
                    backend: str, warnings: tuple[str, ...], timings: dict[str, float]) -> Answer:
        started = time.perf_counter()
        chosen = self.select(question, query, found, ranked)
        timings["generate"] = timings.get("generate", 0.0) + time.perf_counter() - started
        if chosen.abstained:
            return self._abstain(question, query, found, backend, chosen.support, warnings, timings)
        text, cites = compose(chosen.evidence)
        if chosen.support < WEAK_SCORE:
            warnings = (*warnings, "weak support: these quotes are the closest the articles come; "
                        "they may not answer the question directly")
        return Answer(question=question, text=text, citations=cites, backend=backend, query=query,
                      warnings=warnings, timings=timings, support=round(chosen.support, 4))

    def _chain(self, model: BaseChatModel) -> Runnable:  # type: ignore[type-arg]
        prompt = ChatPromptTemplate.from_messages(
            [("system", self.prompts.system), ("human", self.prompts.answer)]
        )
        return prompt | model | StrOutputParser()

    @staticmethod
    def _sources_block(passages: list[Passage]) -> str:
        return "\n\n".join(f"[{i}] ({p.title}) {p.text}" for i, p in enumerate(passages, 1))

    def ask(
        self, question: str, history: History | None = None, *, backend: str | None = None, k: int | None = None
    ) -> Answer:
        """Answer a question with verbatim citations, or abstain when the articles do not say."""
        final: Answer | None = None
        for event in self.stream(question, history, backend=backend, k=k):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(
        self, question: str, history: History | None = None, *, backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Partial texts while an LLM drafts (unverified), then the final verified Answer."""
        text = clean_question(question, self.settings.max_question_chars)
        pairs = normalize_history(history)
        name = backend or self.settings.backend
        k = k or self.settings.k
        timings: dict[str, float] = {}
        started = time.perf_counter()
        query = condense(text, pairs)
        found, ranked, vectors = self._search_and_score(query, k, text)
        query = found.query  # with any earlier answer a two-hop part was searched with: shown as 'searched for'
        timings["retrieve"] = time.perf_counter() - started
        if name == engines.EXTRACTIVE:
            answer = self._extractive(text, query, found, ranked, name, (), timings)
            yield replace(answer, timings={k: round(v, 5) for k, v in timings.items()})
            return

        warnings: tuple[str, ...] = ()
        draft = ""
        try:
            model = engines.chat_model(name, self.settings)
            started = time.perf_counter()
            chain = self._chain(model)
            inputs = {"sources": self._sources_block(found.passages), "question": text}
            for piece in chain.stream(inputs):
                draft += piece
                yield draft
            timings["generate"] = time.perf_counter() - started
        except BackendError as exc:
            warnings = (f"the {name} engine is not available ({exc}); showing the extractive answer",)
        except Exception as exc:  # any provider failure: connection, timeout, HTTP error, bad output
            log.warning("engine %s failed: %s: %s", name, type(exc).__name__, exc)
            warnings = (f"the {name} engine failed ({type(exc).__name__}); showing the extractive answer",)
        if warnings:
            answer = self._extractive(text, query, found, ranked, f"extractive (fallback from {name})",
                                      warnings, timings)
            yield replace(answer, timings={k: round(v, 5) for k, v in timings.items()})
            return

        started = time.perf_counter()
        by_passage: dict[str, list[Evidence]] = {}
        for ev in ranked:
            by_passage.setdefault(ev.passage.id, []).append(ev)
        sources = [by_passage.get(p.id, []) for p in found.passages]
        if not draft.strip() or NOT_IN_SOURCES.lower() in draft.lower():
            answer_text, cites, dropped = "", tuple[Citation, ...](), []
        else:
            answer_text, cites, checked = verify(draft, sources, vectors, self.embeddings, ranked[:12])
            dropped = [c for c in checked if not c.kept]
        timings["verify"] = time.perf_counter() - started
        if dropped:
            warnings += (f"{len(dropped)} unsupported sentence(s) of the {name} draft were removed",)
        if not cites:
            reason = "declined" if NOT_IN_SOURCES.lower() in draft.lower() else "had no supported sentence"
            answer = self._extractive(text, query, found, ranked, f"extractive (fallback from {name})",
                                      (*warnings, f"the {name} draft {reason}; showing the extractive answer"),
                                      timings)
            yield replace(answer, timings={k: round(v, 5) for k, v in timings.items()})
            return
        best = ranked[0].score if ranked else 0.0
        yield Answer(question=text, text=answer_text, citations=cites, backend=name, query=query,
                     warnings=warnings, timings={k: round(v, 5) for k, v in timings.items()},
                     support=round(best, 4))


def _two_hop(found: Retrieval) -> bool:
    """Does a part of the searched question point back at an earlier part's answer?"""
    return any(points_back(part, earlier) for earlier, part in zip(found.parts, found.parts[1:], strict=False))


_bots: dict[Settings, QABot] = {}
_bots_lock = threading.Lock()


def get_bot(settings: Settings | None = None) -> QABot:
    """The process-wide bot for these settings (models and store opened once)."""
    settings = settings or Settings.from_env()
    with _bots_lock:
        bot = _bots.get(settings)
        if bot is None:
            bot = _bots[settings] = QABot(settings)
        return bot


def ask(
    question: str, history: History | None = None, *, backend: str | None = None, k: int | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer a question about the articles; see Answer for what comes back."""
    return get_bot(settings).ask(question, history, backend=backend, k=k)


def retrieve(
    question: str, k: int = 5, history: History | None = None, *, settings: Settings | None = None
) -> list[Passage]:
    """The passages a question retrieves, best first."""
    return get_bot(settings).retrieve(question, k, history)

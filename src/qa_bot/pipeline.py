"""ask() = condense -> retrieve -> answer -> verify, built once per process and reused."""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot import engines
from qa_bot.cite import Judge, compose, finished, missing_names, source_header, split_claims, verify
from qa_bot.config import Settings
from qa_bot.documents import display_date, parse_day
from qa_bot.engines.extractive import Selection, read_in_stages, rerank, select, support
from qa_bot.errors import BackendError, InvalidQuestionError, StoreError
from qa_bot.evidence import Evidence, answer_sentence, missing_specifics, sentences
from qa_bot.ingest import Progress, ingest
from qa_bot.loaded import Loaded
from qa_bot.prompts import load_prompts
from qa_bot.reader import Calibration, Reader, Reading
from qa_bot.retrieve import (
    History,
    Index,
    Retrieval,
    completed,
    condense,
    insisted,
    leans_on_conversation,
    needs_conversation,
    normalize_history,
    pointed,
    points_back,
    question_parts,
    search,
)
from qa_bot.store import Store, open_store
from qa_bot.types import NO_ANSWER, Answer, Citation, IngestSummary, Passage

if TYPE_CHECKING:  # LangChain's chat and runnable machinery is imported when a model answers (about 0.4 s)
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from qa_bot.retriever import QARetriever

log = logging.getLogger(__name__)
NOT_IN_SOURCES = "NOT IN SOURCES"
REMOVED = "removed from the"  # starts the warning for each sentence of an LLM draft that was removed


# Markup pasted with a question: HTML tags ('<script>…</script> Who fined Alder?', '<b>Who</b>') and
# Markdown emphasis ('**Who** is the _mayor_?'); the words inside are kept, and '<Enter>', 'List<String>',
# '2 < 3', '__init__' are left as they are.
_TAG = re.compile(r"</?(?:a|abbr|b|big|blockquote|br|button|code|del|div|em|embed|font|form|h[1-6]|hr|i|iframe|"
                  r"img|input|ins|li|link|mark|meta|object|ol|p|pre|q|s|script|small|span|strike|strong|style|"
                  r"sub|sup|svg|table|tbody|td|textarea|th|thead|tr|tt|u|ul|video)\b[^<>]{0,500}>", re.IGNORECASE)
_CODE = re.compile(r"<(script|style)\b[^<>]{0,500}>.{0,2000}?</\1\s*>", re.IGNORECASE)  # taken out whole
_EMPHASIS = re.compile(r"(?<!\w)(\*{1,3}|_|`)(?=[^\s*_`])([^*_`\n]{1,200}?)(?<=\S)\1(?!\w)")


def clean_question(question: object, max_chars: int) -> str:
    """The question without control characters, lone surrogates or pasted markup (HTML tags, Markdown
    emphasis); InvalidQuestionError if unusable. The length is checked first, on the text as given."""
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text")
    text = question.encode("utf-8", "replace").decode("utf-8")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,}. Ask a shorter question."
        )
    text = re.sub(r"\s+", " ", _EMPHASIS.sub(r"\2", _TAG.sub(" ", _CODE.sub(" ", text)))).strip()
    if not text:
        raise InvalidQuestionError("the question is empty: type a question about the articles")
    if not re.search(r"\w", text):
        raise InvalidQuestionError("the question has no words, only punctuation: type a question about the articles")
    return text


@dataclass(frozen=True)
class Read:
    """One question searched and read: the reranked passages with the reader's findings."""

    query: str
    found: Retrieval
    ranked: list[tuple[Passage, Reading]]
    insists: str = ""  # the words whose years and numbers the answer must say (never_says); default: query
    question: str = ""  # the question as asked, whose names the answer must say (never_says); default: query


class QABot:
    """The whole product as a library object: one per store, holding the models and caches."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: Embeddings | None = None,
        store: Store | None = None,
        reader: Reader | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        if embeddings is None:
            from qa_bot.embeddings import load_embeddings

            embeddings = load_embeddings(self.settings.embedding_model, self.settings.embedding_backend,
                                         self.settings.embedding_cache)
        self.embeddings = embeddings
        self._reader = reader
        self._judge = judge
        self._store = store
        self._index: Index | None = None
        self._lock = threading.RLock()
        self._recent: dict[tuple[object, ...], Read] = {}
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

    @property
    def reader(self) -> Reader:
        """The trained evidence reader, loaded on first use (ModelError names `make train` if missing)."""
        with self._lock:
            if self._reader is None:
                from qa_bot.reader import load_reader

                settings = self.settings
                self._reader = load_reader(settings.reader_model, settings.reader_backend, settings.embedding_cache)
            return self._reader

    @property
    def judge(self) -> Judge | None:
        """The trained claim checker for language models' drafts, when one is configured
        (QA_BOT_CLAIM_MODEL; experimental, off by default: README, *The claim check*)."""
        with self._lock:
            if self._judge is None and self.settings.claim_model is not None:
                from qa_bot.claimcheck import load_claim_checker

                self._judge = load_claim_checker(self.settings.claim_model)
            return self._judge

    @property
    def calibration(self) -> Calibration:
        """How the reader's scores are used: its own calibration, the threshold overridden by the setting."""
        own = getattr(self.reader, "calibration", None)
        if not isinstance(own, Calibration):  # a reader without a calibration file (fakes in tests)
            own = Calibration(threshold=float(getattr(self.reader, "threshold", 0.0)))
        if self.settings.reader_threshold is not None:
            own = replace(own, threshold=self.settings.reader_threshold)
        return own

    @property
    def threshold(self) -> float:
        """Abstain under this reader score: the setting, else the reader's own calibration."""
        return self.calibration.threshold

    def warm_up(self) -> None:
        """Pay the one-time costs before the first question: the reader, the index, first-call kernels."""
        self.index.snapshot()
        self.embeddings.embed_query("warm-up")
        self.reader.read("warm-up", ["A warm-up passage."])
        if self.settings.backend != "extractive" and (judge := self.judge) is not None:
            judge([("A warm-up passage.", "A warm-up claim.")])

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

    def retriever(self, k: int | None = None, *, since: object = None, until: object = None) -> QARetriever:
        """The hybrid search as a LangChain BaseRetriever (since/until: only articles published then)."""
        from qa_bot.retriever import QARetriever

        _check_k(k)
        self.ensure_store()
        since_day, until_day = _date_range(since, until)
        return QARetriever(index=self.index, k=k or self.settings.k, since=since_day, until=until_day,
                           sentence_level=self.settings.sentence_search)

    def _read(self, question: str, query: str, since: str | None = None, until: str | None = None,
              read_as: str | None = None, insists: str = "") -> Read:
        """Search about `candidates` passages for the query, then let the reader rerank them, reading them
        for `read_as` (default: the query)."""
        found = search(self.index, query, self.settings.candidates, since=since, until=until,
                       sentence_level=self.settings.sentence_search)
        windows = self._windows(found) if self.settings.reader_window else [(p.start, p.text) for p in found.passages]
        readings = self.read_candidates(read_as or query, [text for _, text in windows])
        # Spans are read inside each window; the Reading is given relative to its passage.
        readings = [r if not r.has_span else replace(r, start=r.start + w - p.start, end=r.end + w - p.start)
                    for r, (w, _), p in zip(readings, windows, found.passages, strict=True)]
        return Read(query, found, rerank(found.passages, readings, self.calibration.retrieval_weight), insists,
                    question)

    def read_candidates(self, query: str, texts: list[str]) -> list[Reading]:
        """The reader's Reading of each candidate (retrieval's order), in stages when the setting or the
        reader's calibration says so (engines.extractive.read_in_stages), never fewer than the k shown."""
        return read_in_stages(self.reader, query, texts, self.calibration, self.settings.reader_first,
                              at_least=self.settings.k)

    def _windows(self, found: Retrieval) -> list[tuple[int, str]]:
        """For each passage, the run of `reader_window` sentences closest to the query (stored sentence
        vectors), so the reader reads less: (absolute start, text)."""
        vectors = self.index.sentence_vectors(found.passages)
        size = self.settings.reader_window
        out = []
        for p in found.passages:
            sims = [float(np.dot(found.query_vector, vectors[(p.source_id, s, e)]))
                    if (p.source_id, s, e) in vectors else -1.0 for s, e in p.sentences]
            if len(sims) <= size:
                out.append((p.start, p.text))
                continue
            best = max(range(len(sims) - size + 1), key=lambda i: sum(sims[i : i + size]))
            a, b = p.sentences[best][0], p.sentences[best + size - 1][1]
            out.append((a, p.text[a - p.start : b - p.start]))
        return out

    def _understand(self, text: str, pairs: list[tuple[str, str]], since: str | None = None,
                    until: str | None = None) -> Read:
        """_understand_uncached, remembered for the last questions (retrieve() then ask() reads once)."""
        self.ensure_store()
        key = (text, tuple(pairs), self.settings.candidates, self.index.snapshot().version, since, until)
        with self._lock:
            hit = self._recent.get(key)
        if hit is not None:
            return hit
        read = self._understand_uncached(text, pairs, since, until)
        with self._lock:
            self._recent[key] = read
            while len(self._recent) > 64:
                self._recent.pop(next(iter(self._recent)))
        return read

    def _understand_uncached(self, text: str, pairs: list[tuple[str, str]], since: str | None = None,
                             until: str | None = None) -> Read:
        """A question that stands on its own is searched as it is. One that cannot (an ellipsis: 'And in
        2020?') borrows from the conversation. One with a pronoun ('When will it take place?', 'that
        official') is read alone first and borrows only when alone it finds no answer: measured on the
        outside corpora asked as one conversation, standalone questions kept their answers 98.1% of the
        time this way and 93.7% when every pronoun question borrowed. A borrowing question is searched with
        the conversation, but read (pointed) for the names it may point at, not for the last question, and
        only its own years and numbers and the last question's must stand in the answer (insisted)."""
        query = condense(text, pairs)
        if query == text:
            return self._read(text, text, since, until)
        if leans_on_conversation(text) == "pronoun":
            alone = self._read(text, text, since, until)
            if support(alone.ranked) >= self.threshold:
                return alone
        return self._read(text, query, since, until, read_as=pointed(text, pairs) if points_back(text) else None,
                          insists=insisted(text, pairs))

    def retrieve(self, question: str, k: int | None = None, history: History | None = None, *,
                 since: object = None, until: object = None) -> list[Passage]:
        """Passages for a question, reranked by the reader (follow-ups resolved with the history first);
        since/until (dates) keep only articles published in that range."""
        text = clean_question(question, self.settings.max_question_chars)
        _check_k(k)
        read = self._understand(text, normalize_history(history), *_date_range(since, until))
        return _top(read.ranked, k or self.settings.k)

    # ----------------------------------------------------------------- answer

    def _abstain(self, question: str, query: str, passages: list[Passage], backend: str, support: float,
                 warnings: tuple[str, ...], timings: dict[str, float]) -> Answer:
        closest = tuple(dict.fromkeys(f"{p.title} ({p.source_id})" for p in passages if p.kind != "related"))[:3]
        text = NO_ANSWER
        if closest:
            text += " The closest articles are: " + "; ".join(closest) + "."
        return Answer(question=question, text=text, abstained=True, backend=backend, query=query,
                      warnings=warnings, closest=closest, timings=timings, support=round(support, 4))

    def select(self, read: Read) -> Selection:
        """The extractive engine's choice for a searched and read question."""
        calibration = self.calibration
        chosen = select(read.ranked, calibration.threshold, margin=calibration.runner_up_margin)
        if chosen.abstained:
            return chosen
        lost = never_says(read, chosen.evidence[0].passage.source_id, {e.passage.source_id for e in chosen.evidence})
        if lost:
            return Selection((), True, chosen.support, f"the answering article never says {', '.join(lost)}")
        return chosen

    def _extractive(self, question: str, read: Read, backend: str, warnings: tuple[str, ...],
                    timings: dict[str, float]) -> Answer:
        started = time.perf_counter()
        chosen = self.select(read)
        timings["generate"] = timings.get("generate", 0.0) + time.perf_counter() - started
        passages = _top(read.ranked, self.settings.k)
        if chosen.abstained:
            return self._abstain(question, read.query, passages, backend, chosen.support,
                                 (*warnings, chosen.reason) if chosen.reason else warnings, timings)
        lead, evidence, unanswered = self._lead(read, chosen.evidence)
        text, cites = compose(evidence)
        if lead:
            text = f"{lead}\n\n{text}"
        warnings = (*warnings, *(f"the articles do not answer: {part}" for part in unanswered))
        return Answer(question=question, text=text, citations=cites, backend=backend, query=read.query,
                      warnings=warnings, timings=timings, support=round(chosen.support, 4), as_of=cites[0].published)

    def _lead(self, read: Read, evidence: tuple[Evidence, ...]) -> tuple[str, tuple[Evidence, ...], list[str]]:
        """The line an extractive answer leads with, the sentences to quote in order, and the parts of the
        question no passage answers. The line is the exact answer span and its marker ('Do Hung Viet [1]'),
        or '' when the span is most of its sentence. A question in several parts ('Which conference will it
        chair, and when is it held?') has each part read on its own against the passages shown and the
        quoted ones: a later part that points back ('when is it held?') with the first part's names and
        answer, one with no word of its own ('when?') asked of the first part's subject (completed). Each
        part's answer is the best span above the threshold in an article that says what the part insists on
        (years, numbers, names: never_says), so the line answers every part in order, each answer with the
        marker of the quote that holds it ('11th NPT Review Conference [1]; late April [2]'). Those
        sentences are quoted first, each with its own answer marked, and a quoted sentence overlapping one
        of them is left out. A part with no such answer is named; when no part has one, there is no line."""
        first = evidence[0]
        lead = " ".join(first.answer.split()) if len(first.answer.strip()) < 0.8 * len(first.text) else ""
        parts = question_parts(read.question or read.query)
        if len(parts) == 1:
            return (f"{lead} [1]" if lead else ""), evidence, []
        passages = list(dict.fromkeys([*(p for p, _ in read.ranked[: self.settings.k]),
                                       *(e.passage for e in evidence)]))
        answers: list[Evidence] = []
        unanswered = []
        for i, part in enumerate(parts):
            asked = completed(part, parts[0]) if i else part
            leans = i > 0 and asked == part and points_back(part)
            if leans:
                asked = pointed(part, [(parts[0], answers[0].answer if answers else "")])
            # The part's years, numbers and names (and the first part's, for one that leans on it) must
            # stand in the article its answer comes from, as for a whole question (never_says).
            insists = f"{asked} {parts[0]}" if leans else asked
            readings = self.reader.read(asked, [p.text for p in passages])
            scored = sorted(((p, r) for p, r in zip(passages, readings, strict=True)
                             if r.has_span and r.score >= self.calibration.threshold),
                            key=lambda pr: pr[1].score, reverse=True)
            best = next(((p, r) for p, r in scored if not self._never_said(insists, p, passages)), None)
            if best is None:
                unanswered.append(part)
                continue
            found = answer_sentence(*best)
            span = found.answer.strip()
            repeated = any(_within(span, a.answer) or _within(a.answer, span) for a in answers)
            if span and len(span) < 0.8 * len(found.text) and not repeated:
                answers.append(found)
        if not answers:  # no part answered on its own: no line pretends to answer them
            return "", evidence, unanswered
        # Each answering sentence once, where it first answers; then the other quoted sentences as ranked,
        # less those that overlap one already quoted (the same words twice).
        leading: dict[tuple[str, int, int], Evidence] = {}
        for a in answers:
            leading.setdefault(a.key, a)
        quoted = list(leading.values())
        for e in evidence:
            if not any(q.passage.source_id == e.passage.source_id and q.start < e.end and e.start < q.end
                       for q in quoted):
                quoted.append(e)
        keys = list(leading)
        line = "; ".join(f"{' '.join(a.answer.split())} [{keys.index(a.key) + 1}]" for a in answers)
        return line, tuple(quoted), unanswered

    @staticmethod
    def _never_said(insists: str, passage: Passage, passages: list[Passage]) -> list[str]:
        """The years, numbers and names a (part of a) question insists on that the passage's article never
        says in the passages read (never_says, for one part)."""
        same = [_said(p) for p in passages if p.source_id == passage.source_id]
        return missing_specifics(insists, same) + missing_names(insists, same, [p.text for p in passages])

    def _chain(self, model: BaseChatModel) -> Runnable:  # type: ignore[type-arg]
        """The prompt and the model; its stream is message chunks, whose metadata say why it stopped."""
        from langchain_core.prompts import ChatPromptTemplate

        prompt = ChatPromptTemplate.from_messages(
            [("system", self.prompts.system), ("human", self.prompts.answer)]
        )
        return prompt | model

    @staticmethod
    def _sources_block(passages: list[Passage]) -> str:
        # A dated source says so, so the model can answer 'as of' its date.
        return "\n\n".join(
            f"[{i}] ({p.title}{', published ' + display_date(p.published) if p.published else ''}) {p.text}"
            for i, p in enumerate(passages, 1)
        )

    def ask(
        self, question: str, history: History | None = None, *, backend: str | None = None, k: int | None = None,
        since: object = None, until: object = None,
    ) -> Answer:
        """Answer a question with verbatim citations, or abstain when the articles do not say; since/until
        (dates) search only articles published in that range."""
        final: Answer | None = None
        for event in self.stream(question, history, backend=backend, k=k, since=since, until=until):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(
        self, question: str, history: History | None = None, *, backend: str | None = None, k: int | None = None,
        since: object = None, until: object = None,
    ) -> Iterator[str | Answer]:
        """Partial texts while an LLM drafts (unverified), then the final verified Answer."""
        text = clean_question(question, self.settings.max_question_chars)
        pairs = normalize_history(history)
        dates = _date_range(since, until)
        name = engines.check_name(backend or self.settings.backend)
        _check_k(k)
        wanted = self.settings.replace(k=k, candidates=max(k, self.settings.candidates)) if k else self.settings
        bot = self if wanted == self.settings else _with_settings(self, wanted)
        timings: dict[str, float] = {}
        if not pairs and needs_conversation(text):
            # 'When was that?', 'Who opened it?' with no conversation: nothing to point back to.
            why = "the question points back to an earlier one and there is none: ask it in full"
            yield self._abstain(text, text, [], name, 0.0, (why,), timings)
            return
        started = time.perf_counter()
        read = bot._understand(text, pairs, *dates)
        timings["retrieve"] = time.perf_counter() - started
        if not read.ranked and any(dates):
            # Nothing in that range: say why, rather than that the articles do not answer.
            why = "no article in the store was published in that date range (articles without a date are left out " \
                  "while a range is set)"
            answer = bot._abstain(text, read.query, [], name, 0.0, (why,), timings)
            yield replace(answer, timings={k: round(v, 5) for k, v in timings.items()})
            return
        # A decline under a date range says the range: the answer may stand in an article outside it.
        ranged = (f"only articles published {_range_text(*dates)} were searched",) if any(dates) else ()

        def said_range(event: str | Answer) -> str | Answer:
            if isinstance(event, Answer) and event.abstained and ranged:
                return replace(event, warnings=(*event.warnings, *ranged))
            return event

        if name == engines.EXTRACTIVE:
            answer = bot._extractive(text, read, name, (), timings)
            yield said_range(replace(answer, timings={k: round(v, 5) for k, v in timings.items()}))
            return
        # The model reads the question as the conversation makes it: a follow-up that retrieval read
        # alone ('When will it take place?') still reaches the model with what it leans on.
        asked = condense(text, pairs) if read.query == text and leans_on_conversation(text) else read.query
        yield from map(said_range, bot._generate(text, read, name, timings, asked))

    def _generate(self, text: str, read: Read, name: str, timings: dict[str, float],
                  asked: str | None = None) -> Iterator[str | Answer]:
        """An LLM engine's answer: drafted from the reranked passages, then every sentence checked."""
        passages = _top(read.ranked, self.settings.k)
        warnings: tuple[str, ...] = ()
        notes: tuple[str, ...] = ()  # about the draft, beside the check's own
        draft = ""
        try:
            model = engines.chat_model(name, self.settings)
            started = time.perf_counter()
            chain = self._chain(model)
            inputs = {"sources": self._sources_block(passages), "question": asked or read.query}
            stopped = ""
            for chunk in chain.stream(inputs):
                draft += chunk.content if isinstance(chunk.content, str) else chunk.text
                meta = chunk.response_metadata
                stopped = str(meta.get("finish_reason") or meta.get("stop_reason") or meta.get("done_reason")
                              or stopped)
                yield draft
            timings["generate"] = time.perf_counter() - started
            if stopped.lower() in ("length", "max_tokens"):  # OpenAI, llama.cpp; Anthropic, Gemini
                # Cut at the engine's token limit: its unfinished last sentence is no answer ('… would bid
                # for at least [1]'), whatever it quotes.
                draft, cut = finished(draft)
                if cut:
                    notes = (f"the {name} engine stopped at its length limit (QA_BOT_LLM_MAX_TOKENS); its "
                             f"unfinished last sentence was left out: \u201c{cut}\u201d",)
        except BackendError as exc:
            warnings = (f"the {name} engine is not available ({exc}); showing the extractive answer",)
        except Exception as exc:  # any provider failure: connection, timeout, HTTP error, bad output
            log.warning("engine %s failed: %s: %s", name, type(exc).__name__, exc)
            warnings = (f"the {name} engine failed ({type(exc).__name__}); showing the extractive answer",)
        if not warnings and not draft.strip():
            warnings = (*notes, f"the {name} engine returned nothing whole; showing the extractive answer")
        if warnings:
            answer = self._extractive(text, read, f"extractive (fallback from {name})", warnings, timings)
            yield replace(answer, timings={k: round(v, 5) for k, v in timings.items()})
            return
        warnings = notes

        started = time.perf_counter()
        best = support(read.ranked) if read.ranked else 0.0
        scores = {p.id: r.score for p, r in read.ranked}
        sources = [sentences(p, scores.get(p.id, 0.0)) for p in passages]
        pool = [ev for group in sources for ev in group]
        # The model declines when it says so instead of answering; a phrase inside an answer is not a decline.
        declined = not [c for c, _ in split_claims(draft) if NOT_IN_SOURCES.lower() not in c.lower()]
        if declined:
            answer_text, cites, dropped = "", tuple[Citation, ...](), []
        else:
            vectors = self.index.sentence_vectors(passages)
            answer_text, cites, checked = verify(draft, sources, vectors, self.embeddings, pool, self.judge,
                                                 self.index.article_before)
            dropped = [c for c in checked if not c.kept]
        timings["verify"] = time.perf_counter() - started
        if dropped:
            warnings += tuple(f"{REMOVED} {name} draft: \u201c{c.text}\u201d ({c.reason})" for c in dropped)
        if not cites:
            # The model declined, or nothing it wrote is supported: the answer declines too, never an
            # extractive answer to what the model refused.
            reason = "the model found no answer in the sources" if declined else (
                "no sentence of the model's draft is supported by the sources")
            answer = self._abstain(text, read.query, passages, name, best, (*warnings, reason), timings)
            yield replace(answer, timings={k: round(v, 5) for k, v in timings.items()})
            return
        yield Answer(question=text, text=answer_text, citations=cites, backend=name, query=read.query,
                     warnings=warnings, timings={k: round(v, 5) for k, v in timings.items()},
                     support=round(best, 4), as_of=cites[0].published)


def _range_text(first: str | None, last: str | None) -> str:
    """'from 1 March 2026 until 31 March 2026', 'from 1 March 2026', 'until 31 March 2026'."""
    return " ".join(f"{word} {display_date(day)}" for word, day in (("from", first), ("until", last)) if day)


def _date_range(since: object, until: object) -> tuple[str | None, str | None]:
    """since/until as ISO days; InvalidQuestionError when one is not a date or the range is empty."""
    first, last = parse_day(since, "since"), parse_day(until, "until")
    if first and last and first > last:
        raise InvalidQuestionError(f"the date range is empty: since {first} is after until {last}")
    return first, last


def never_says(read: Read, source_id: str, quoted: set[str] | None = None) -> list[str]:
    """The years and numbers the question insists on that the article answering it never says, and the
    names that none of the articles quoted says (in their read passages or titles; cite.missing_names):
    the engine declines then. Measured on the dev halves: names declined 12 more of squad2's 150
    unanswerable questions and 1 more of rgb's 9, for no answerable one wrongly declined there and one
    more of the seed development set's 54 (a paraphrase: 'the Swiss city' for Geneva)."""
    asked = read.insists or read.query
    # An article says what its title and its publication date say ('the summit' in an article of 2025).
    same = [_said(p) for p, _ in read.ranked if p.source_id == source_id]
    quoted_texts = [_said(p) for p, _ in read.ranked if p.source_id in (quoted or {source_id})]
    return missing_specifics(asked, same) + missing_names(read.question or read.query, quoted_texts,
                                                          [p.text for p, _ in read.ranked])


def _said(p: Passage) -> str:
    """A passage's words with its article's title and publication date."""
    return f"{p.text}\n{source_header(p)}"


def _within(words: str, text: str) -> bool:
    """Do these words stand whole inside the text ('50' in 'nearly 50', not '6 million' in '5.6 million')?"""
    return re.search(rf"(?<!\S){re.escape(words)}(?!\S)", text) is not None


def _check_k(k: object) -> None:
    """A k given by a caller is a whole number of at least 1 (None: the settings' k)."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise InvalidQuestionError(f"k must be a whole number of at least 1, not {k!r}")


def _top(ranked: list[tuple[Passage, Reading]], k: int) -> list[Passage]:
    """The k best passages after reranking, each scored by the reader."""
    return [replace(p, score=round(r.score, 4)) for p, r in ranked[:k]]


def _with_settings(bot: QABot, settings: Settings) -> QABot:
    """The same bot (models, store, caches shared) with other per-call settings such as k."""
    other = QABot.__new__(QABot)
    other.__dict__.update(bot.__dict__)
    other.settings = settings
    return other


_bots: Loaded[Settings, QABot] = Loaded()


def get_bot(settings: Settings | None = None) -> QABot:
    """The process-wide bot for these settings (models and store opened once)."""
    chosen = settings or Settings.from_env()
    return _bots.get(chosen, lambda: QABot(chosen))


def ask(
    question: str, history: History | None = None, *, backend: str | None = None, k: int | None = None,
    settings: Settings | None = None, since: object = None, until: object = None,
) -> Answer:
    """Answer a question about the articles (since/until: only those published in that range); see Answer."""
    return get_bot(settings).ask(question, history, backend=backend, k=k, since=since, until=until)


def retrieve(
    question: str, k: int = 5, history: History | None = None, *, settings: Settings | None = None,
    since: object = None, until: object = None,
) -> list[Passage]:
    """The passages a question retrieves, best first (since/until: only those published in that range)."""
    return get_bot(settings).retrieve(question, k, history, since=since, until=until)

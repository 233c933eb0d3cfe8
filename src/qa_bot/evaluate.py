"""The evaluation over eval/questions.jsonl: retrieval, answers, citations, latency, a gate.

Metric functions are pure and small so tests can check them on hand-made cases; ``evaluate_engine``
runs them over the pipeline's own retrieval and answers; ``main`` is what ``qa-bot eval`` calls.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from qa_bot.cite import MARKER
from qa_bot.config import Settings
from qa_bot.corpus import discover
from qa_bot.documents import text_path
from qa_bot.errors import ConfigError
from qa_bot.types import Answer, Citation, Passage

TYPES = ("single", "list", "multi", "paraphrase", "followup", "unanswerable")
STAGES = ("retrieve", "generate", "verify", "total")
THRESHOLDS = Path("eval/thresholds.json")

# Metrics in the order of the summary table; larger is better except where named in LOWER_IS_BETTER.
METRICS = (
    "hit_at_k",
    "mrr",
    "ndcg_at_k",
    "fact_accuracy",
    "abstention_precision",
    "abstention_recall",
    "false_abstention_rate",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "answer_leads",
    "conversation_consistency",
)
LOWER_IS_BETTER = frozenset({"false_abstention_rate"})

Span = tuple[str, int, int]  # (source_id, start, end): a [start, end) character span of one article

_MARKERS = re.compile(f"(?:{MARKER.pattern})+")  # a run of answer markers
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "how",
        "than",
        "then",
        "also",
        "into",
        "over",
        "under",
        "about",
        "after",
        "before",
        "not",
        "no",
        "but",
        "their",
        "they",
        "he",
        "she",
        "his",
        "her",
        "them",
        "we",
        "our",
        "you",
        "your",
        "will",
        "would",
        "can",
        "could",
        "may",
        "might",
        "said",
        "says",
    ]
)


# ------------------------------------------------------------------ questions and evidence


def load_questions(path: Path) -> list[dict[str, Any]]:
    """The question set, one JSON object a line; ConfigError names the bad line."""
    if not path.is_file():
        raise ConfigError(f"no question file at {path}")
    out: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        for key in ("id", "question", "type", "answerable"):
            if key not in item:
                raise ConfigError(f"{path}:{number}: missing {key!r}")
        item.setdefault("history", [])
        item.setdefault("gold_sources", [])
        item.setdefault("evidence", [])
        item.setdefault("facts", [])
        out.append(item)
    if not out:
        raise ConfigError(f"{path} holds no questions")
    return out


class Texts:
    """Article texts read once, exactly as open(path, encoding='utf-8').read() returns them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, str | None] = {}
        self._canonical: dict[str, str] | None = None

    def canonical(self, source_id: str) -> str:
        """The name an article's text goes by: the first, by name, of the folder's articles holding exactly
        that text. Ingest stores one copy of a text under one of its names, so evidence, retrieved passages
        and citations are compared by this name: evidence written for either copy counts in the one stored,
        at the same offsets."""
        if self._canonical is None:
            first: dict[str, str] = {}
            self._canonical = {}
            for path in discover([self.folder])[0] if self.folder.is_dir() else []:
                try:
                    text = self.get(path.name)
                except (OSError, UnicodeDecodeError):  # ingest reports such a file; it holds no evidence
                    continue
                if text:
                    self._canonical[path.name] = first.setdefault(text, path.name)
        return self._canonical.get(source_id, source_id)

    def get(self, source_id: str) -> str | None:
        """The text of a file in the folder, or None when the name is not a plain file there."""
        if source_id not in self._cache:
            path = text_path(self.folder / source_id)  # a page's or PDF's kept text
            ok = bool(source_id) and Path(source_id).name == source_id and path.is_file()
            self._cache[source_id] = path.open(encoding="utf-8").read() if ok else None
        return self._cache[source_id]


def evidence_spans(question: Mapping[str, Any], texts: Texts) -> tuple[list[Span], list[str]]:
    """Where each evidence phrase sits in its article (first occurrence), by the article's canonical name
    (Texts.canonical: a phrase written for two copies of one text is one span); phrases not found."""
    spans: list[Span] = []
    missing: list[str] = []
    for ev in question.get("evidence", []):
        text = texts.get(ev["source_id"])
        at = text.find(ev["text"]) if text is not None and ev["text"] else -1
        if at < 0:
            missing.append(
                f"{question.get('id')}: evidence not in {ev['source_id']}: {ev['text'][:60]!r}"
            )
        else:
            spans.append((texts.canonical(ev["source_id"]), at, at + len(ev["text"])))
    return list(dict.fromkeys(spans)), missing


def spans_of(passages: Iterable[Passage], texts: Texts) -> list[Span]:
    """Retrieved passages as spans, by their articles' canonical names (Texts.canonical)."""
    return [(texts.canonical(p.source_id), p.start, p.end) for p in passages]


# ------------------------------------------------------------------ retrieval metrics


def overlaps(a: Span, b: Span) -> bool:
    """Same article and the [start, end) spans share at least one character."""
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def relevance(retrieved: Sequence[Span], gold: Sequence[Span]) -> list[bool]:
    """For each retrieved span (best first): does it overlap any evidence span?"""
    return [any(overlaps(r, g) for g in gold) for r in retrieved]


def hit_at_k(rels: Sequence[bool], k: int | None = None) -> float:
    """1.0 when any of the first k retrieved is relevant."""
    return 1.0 if any(rels[:k] if k else rels) else 0.0


def reciprocal_rank(rels: Sequence[bool], k: int | None = None) -> float:
    """1/rank of the first relevant passage, 0.0 when none is."""
    for rank, rel in enumerate(rels[:k] if k else rels, 1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[Span], gold: Sequence[Span], k: int | None = None) -> float:
    """Binary nDCG where a passage gains only for evidence no earlier passage covered (so <= 1).

    The ideal ranking puts one passage per evidence phrase first: IDCG over min(#evidence, k) ranks.
    """
    ranked = list(retrieved[:k] if k else retrieved)
    if not gold:
        return 0.0
    covered: set[int] = set()
    dcg = 0.0
    for rank, span in enumerate(ranked):
        new = {i for i, g in enumerate(gold) if i not in covered and overlaps(span, g)}
        if new:
            covered |= new
            dcg += 1.0 / math.log2(rank + 2)
    ideal = sum(
        1.0 / math.log2(rank + 2) for rank in range(min(len(gold), len(ranked) or (k or 0)))
    )
    return dcg / ideal if ideal else 0.0


# ------------------------------------------------------------------ answer metrics


def missing_facts(text: str, facts: Sequence[Sequence[str]]) -> list[list[str]]:
    """Fact groups none of whose alternatives occur (case-insensitively) in the text."""
    low = text.lower()
    return [list(group) for group in facts if not any(alt.lower() in low for alt in group)]


def facts_ok(text: str, facts: Sequence[Sequence[str]]) -> bool:
    """Every fact group has at least one alternative in the text."""
    return not missing_facts(text, facts)


_PUNCT = re.compile(r"[^\w\s]")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def squad_normal(text: str) -> str:
    """SQuAD's answer normalisation (its official evaluation script): lower case, no punctuation, no
    articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub("", text.lower())).split())


def leads_with(text: str, facts: Sequence[Sequence[str]], max_words: int = 15) -> bool:
    """Do the words before the first marker (at most max_words) hold every fact group? Compared as SQuAD
    compares answers (squad_normal), so "Phagpa lama" holds "the Phagpa lama" and "$250,000" "$250,000."."""
    marker = MARKER.search(text)
    head = text[: marker.start()] if marker else text
    words = head.split()
    padded = f" {squad_normal(head)} "
    return (bool(facts) and len(words) <= max_words
            and all(any(f" {squad_normal(alt)} " in padded for alt in group) for group in facts))


def sample(questions: Sequence[dict[str, Any]], n: int | None, part: str = "all") -> list[dict[str, Any]]:
    """A fixed subset: questions of one half ('dev' or 'report', by a hash of the id), then up to n/2
    answerable and n/2 unanswerable (by the same hash order), so a gate sample keeps both kinds."""
    def h(q: Mapping[str, Any]) -> str:
        return hashlib.sha256(str(q["id"]).encode()).hexdigest()

    chosen = [q for q in questions if part == "all" or (int(h(q)[0], 16) < 8) == (part == "dev")]
    if n is None:
        return chosen
    ordered = sorted(chosen, key=h)
    yes = [q for q in ordered if q["answerable"]]
    no = [q for q in ordered if not q["answerable"]]
    take_no = min(len(no), n // 2)
    keep = {id(q) for q in yes[: n - take_no] + no[:take_no]}
    return [q for q in chosen if id(q) in keep]


def abstention_scores(rows: Sequence[tuple[bool, bool]]) -> dict[str, float | None]:
    """From (answerable, abstained) pairs: abstention precision/recall, false-abstention rate."""
    abstained = [a for a in rows if a[1]]
    unanswerable = [a for a in rows if not a[0]]
    answerable = [a for a in rows if a[0]]
    right = sum(1 for ans, abst in rows if abst and not ans)
    return {
        # Nothing abstained means no wrong abstention: precision 1.0 (recall shows what was missed).
        "abstention_precision": right / len(abstained) if abstained else (1.0 if rows else None),
        "abstention_recall": right / len(unanswerable) if unanswerable else None,
        "false_abstention_rate": sum(1 for _, abst in answerable if abst) / len(answerable)
        if answerable
        else None,
    }


# ------------------------------------------------------------------ citation metrics


def citation_problem(citation: Citation, texts: Texts) -> str | None:
    """Why a citation is not verbatim at its offsets in a seeds file (None when it is)."""
    text = texts.get(citation.source_id)
    if text is None:
        return f"[{citation.marker}] {citation.source_id!r} is not a file in {texts.folder}"
    if not 0 <= citation.start < citation.end <= len(text):
        where = f"{citation.start}-{citation.end}"
        return f"[{citation.marker}] offsets {where} outside {citation.source_id}"
    if text[citation.start : citation.end] != citation.quote:
        where = f"{citation.source_id}[{citation.start}:{citation.end}]"
        return f"[{citation.marker}] quote differs from {where}"
    return None


def citation_relevant(
    citation: Citation,
    gold_sources: Iterable[str],
    gold: Sequence[Span],
    facts: Sequence[Sequence[str]],
) -> bool:
    """A quote from a gold article that overlaps an evidence span or contains a fact alternative."""
    if citation.source_id not in set(gold_sources):
        return False
    if any(overlaps((citation.source_id, citation.start, citation.end), g) for g in gold):
        return True
    low = citation.quote.lower()
    return any(alt.lower() in low for group in facts for alt in group)


def answer_sentences(text: str) -> list[tuple[str, list[int]]]:
    """The answer cut after each run of [n] markers: (sentence, markers); unmarked tail: []."""
    out: list[tuple[str, list[int]]] = []
    pos = 0
    for m in _MARKERS.finditer(text):
        chunk = text[pos : m.start()].strip(" \t\n.;,")
        nums = [int(n) for n in re.findall(r"\d+", m.group(0))]
        if _TOKEN.search(chunk):
            out.append((chunk, nums))
        elif out:
            out[-1][1].extend(nums)
        pos = m.end()
    tail = text[pos:].strip(" \t\n.;,")
    if _TOKEN.search(tail):
        out.append((tail, []))
    return out


def _content(text: str) -> list[str]:
    return [
        t for t in _TOKEN.findall(text.lower()) if t.isdigit() or (len(t) > 2 and t not in _STOP)
    ]


def supports(quote: str, sentence: str, min_overlap: float = 0.5) -> bool:
    """A lexical stand-in for entailment: the quote has every number and most content words."""
    words = _content(sentence)
    if not words:
        return True
    have = set(_content(quote))
    if any(w not in have for w in words if any(ch.isdigit() for ch in w)):
        return False
    return sum(1 for w in words if w in have) / len(words) >= min_overlap


def citation_recall(
    text: str, citations: Sequence[Citation], valid: Callable[[Citation], bool]
) -> tuple[int, int]:
    """(sentences with at least one valid supporting citation, sentences) for one answer."""
    by_marker = {c.marker: c for c in citations}
    sentences = answer_sentences(text)
    good = 0
    for sentence, markers in sentences:
        cited = [by_marker[m] for m in markers if m in by_marker]
        if any(valid(c) and supports(c.quote, sentence) for c in cited):
            good += 1
    return good, len(sentences)


# ------------------------------------------------------------------ aggregation


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Record:
    """What one question produced and how it scored."""

    id: str
    type: str
    answerable: bool
    question: str
    answer: str = ""
    backend: str = ""
    abstained: bool = False
    support: float = 0.0  # the engine's support for its answer (the reader's score): thresholds can be swept
    error: str = ""
    retrieved: list[Span] = field(default_factory=list)
    rels: list[bool] = field(default_factory=list)
    hit: float | None = None
    rr: float | None = None
    ndcg: float | None = None
    facts_ok: bool | None = None
    missing: list[list[str]] = field(default_factory=list)
    citations: int = 0
    invalid: list[str] = field(default_factory=list)
    relevant_citations: int = 0
    sentences: int = 0
    supported_sentences: int = 0
    lead_ok: bool | None = None
    same_in_conversation: bool | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (retrieved spans as lists)."""
        out = dict(self.__dict__)
        out["retrieved"] = [list(s) for s in self.retrieved]
        return out


def aggregate(
    records: Sequence[Record], citations: bool = True, answers: bool = True
) -> dict[str, float | None]:
    """The headline metrics over a set of records (None where nothing could be measured)."""
    answerable = [r for r in records if r.answerable]
    scored = [r for r in answerable if r.hit is not None]
    out: dict[str, float | None] = {
        "hit_at_k": _mean([r.hit for r in scored if r.hit is not None]),
        "mrr": _mean([r.rr for r in scored if r.rr is not None]),
        "ndcg_at_k": _mean([r.ndcg for r in scored if r.ndcg is not None]),
    }
    if answers:
        out["fact_accuracy"] = _mean([1.0 if r.facts_ok else 0.0 for r in answerable])
        out["answer_leads"] = _mean([1.0 if r.lead_ok else 0.0 for r in answerable])
        out.update(abstention_scores([(r.answerable, r.abstained) for r in records]))
    else:
        out.update(
            dict.fromkeys(
                (
                    "fact_accuracy",
                    "answer_leads",
                    "abstention_precision",
                    "abstention_recall",
                    "false_abstention_rate",
                )
            )
        )
    if citations:
        total = sum(r.citations for r in records)
        out["citation_validity"] = _ratio(total - sum(len(r.invalid) for r in records), total)
        out["citation_precision"] = _ratio(
            sum(r.relevant_citations for r in answerable), sum(r.citations for r in answerable)
        )
        out["citation_recall"] = _ratio(
            sum(r.supported_sentences for r in records), sum(r.sentences for r in records)
        )
    else:
        out.update(dict.fromkeys(("citation_validity", "citation_precision", "citation_recall")))
    talked = [r.same_in_conversation for r in records if r.same_in_conversation is not None]
    if talked:
        out["conversation_consistency"] = _mean([1.0 if t else 0.0 for t in talked])
    return out


def latency(records: Sequence[Record]) -> dict[str, dict[str, float | None]]:
    """p50/p95 seconds per stage that any answer timed, and of the whole ask."""
    out: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        values = [r.timings[stage] for r in records if stage in r.timings]
        if values:
            out[stage] = {
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
                "n": float(len(values)),
            }
    return out


def summarize(
    name: str,
    records: Sequence[Record],
    k: int,
    citations: bool = True,
    answers: bool = True,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """One engine's report section: metrics, per-type breakdown, latency and per-question rows."""
    by_type = {}
    for kind in TYPES:
        subset = [r for r in records if r.type == kind]
        if subset:
            by_type[kind] = {"n": len(subset), **aggregate(subset, citations, answers)}
    return {
        "name": name,
        "k": k,
        "n": len(records),
        "metrics": aggregate(records, citations, answers),
        "by_type": by_type,
        "latency": latency(records),
        "notes": list(notes),
        "questions": [r.to_dict() for r in records],
    }


# ------------------------------------------------------------------ running the pipeline


class Bot(Protocol):
    """What the evaluation needs of a QABot (fakes in tests implement just this)."""

    def retrieve(
        self, question: str, k: int | None = None, history: Any = None
    ) -> list[Passage]: ...

    def ask(
        self,
        question: str,
        history: Any = None,
        *,
        backend: str | None = None,
        k: int | None = None,
    ) -> Answer: ...


def score_answer(
    record: Record, question: Mapping[str, Any], answer: Answer, gold: Sequence[Span], texts: Texts
) -> None:
    """Fill the answer and citation fields of a record from an Answer."""
    record.answer = answer.text
    record.backend = answer.backend
    record.abstained = answer.abstained
    record.support = answer.support
    record.warnings = list(answer.warnings)
    record.timings.update({k: float(v) for k, v in answer.timings.items()})
    if question["answerable"]:
        record.missing = [] if answer.abstained else missing_facts(answer.text, question["facts"])
        record.facts_ok = not answer.abstained and not record.missing
        record.lead_ok = not answer.abstained and leads_with(answer.text, question["facts"])
    problems = {c.marker: citation_problem(c, texts) for c in answer.citations}
    record.citations = len(answer.citations)
    record.invalid = [p for p in problems.values() if p]
    if question["answerable"]:
        golds = {texts.canonical(sid) for sid in question["gold_sources"]}
        record.relevant_citations = sum(
            1
            for c in answer.citations
            if not problems[c.marker]
            and citation_relevant(replace(c, source_id=texts.canonical(c.source_id)), golds, gold, question["facts"])
        )
    if not answer.abstained:
        record.supported_sentences, record.sentences = citation_recall(
            answer.text, answer.citations, lambda c: not problems.get(c.marker)
        )


def score_retrieval(
    record: Record, retrieved: Sequence[Span], gold: Sequence[Span], k: int
) -> None:
    """Fill the retrieval fields of a record (answerable questions with located evidence only)."""
    record.retrieved = list(retrieved)
    if record.answerable and gold:
        record.rels = relevance(retrieved, gold)
        record.hit = hit_at_k(record.rels, k)
        record.rr = reciprocal_rank(record.rels, k)
        record.ndcg = ndcg_at_k(retrieved, gold, k)


def _bar(items: Sequence[Any], desc: str) -> Iterable[Any]:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="q", file=sys.stderr, leave=False)


def evaluate_engine(
    bot: Bot,
    questions: Sequence[Mapping[str, Any]],
    texts: Texts,
    *,
    backend: str,
    k: int,
    progress: bool = True,
    conversation: bool = False,
) -> list[Record]:
    """Every question through bot.retrieve (for retrieval metrics) and bot.ask (for the rest). With
    conversation, a question without history of its own is asked again after the previous question
    and its answer, as one long chat: a standalone question must keep its answer."""
    records = []
    previous: tuple[str, str] | None = None
    for q in _bar(questions, f"eval {backend}") if progress else questions:
        record = Record(
            id=q["id"], type=q["type"], answerable=bool(q["answerable"]), question=q["question"]
        )
        gold, _ = evidence_spans(q, texts)
        history = q.get("history") or None
        try:
            passages = bot.retrieve(q["question"], k, history)
            score_retrieval(record, spans_of(passages, texts), gold, k)
            started = time.perf_counter()
            answer = bot.ask(q["question"], history, backend=backend, k=k)
            record.timings["total"] = time.perf_counter() - started
            score_answer(record, q, answer, gold, texts)
            if conversation and not history:
                if previous is not None:
                    again = bot.ask(q["question"], [previous], backend=backend, k=k)
                    record.same_in_conversation = (again.text == answer.text)
                previous = (q["question"], answer.text)
        except Exception as exc:  # one broken question must not hide the other 67
            record.error = f"{type(exc).__name__}: {exc}"
            if record.answerable:
                record.facts_ok = False
        records.append(record)
    return records


# ------------------------------------------------------------------ gate


def load_thresholds(path: Path) -> dict[str, Any]:
    """eval/thresholds.json: {"engine", "floors": {metric: min}, "ceilings": {metric: max}}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no thresholds file at {path}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def check_gate(metrics: Mapping[str, float | None], thresholds: Mapping[str, Any]) -> list[str]:
    """One line per metric under its floor or over its ceiling (or not measured at all)."""
    failures = []
    for name, floor in thresholds.get("floors", {}).items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name}: not measured (floor {floor})")
        elif value < float(floor) - 1e-9:
            failures.append(f"{name}: {value:.4f} is below its floor {float(floor):.4f}")
    for name, ceiling in thresholds.get("ceilings", {}).items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name}: not measured (ceiling {ceiling})")
        elif value > float(ceiling) + 1e-9:
            failures.append(f"{name}: {value:.4f} is above its ceiling {float(ceiling):.4f}")
    return failures


# ------------------------------------------------------------------ reports


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_table(sections: Sequence[Mapping[str, Any]]) -> str:
    """Metrics (rows) by engine (columns) as a Markdown table; also fine on a terminal."""
    names = [f"{s['name']} (k={s['k']})" for s in sections]
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in METRICS:
        label = metric.replace("_at_k", "@k") + (
            " (lower is better)" if metric in LOWER_IS_BETTER else ""
        )
        lines.append(
            f"| {label} | " + " | ".join(_fmt(s["metrics"].get(metric)) for s in sections) + " |"
        )
    for stage in STAGES:
        cells = []
        for s in sections:
            lat = s["latency"].get(stage)
            cells.append(f"{lat['p50']:.3f} / {lat['p95']:.3f}" if lat else "n/a")
        if any(c != "n/a" for c in cells):
            lines.append(f"| {stage} s p50 / p95 | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _type_table(section: Mapping[str, Any]) -> str:
    cols = (
        "n",
        "hit_at_k",
        "mrr",
        "ndcg_at_k",
        "fact_accuracy",
        "false_abstention_rate",
        "abstention_recall",
        "citation_precision",
        "citation_recall",
    )
    lines = ["| type | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for kind, row in section["by_type"].items():
        cells = [str(row["n"])] + [_fmt(row.get(c)) for c in cols[1:]]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _failures(section: Mapping[str, Any]) -> list[str]:
    lines = []
    for q in section["questions"]:
        why = []
        if q["error"]:
            why.append(f"error {q['error']}")
        if q["hit"] == 0.0:
            why.append("retrieval miss")
        if q["answerable"] and q["abstained"]:
            why.append("abstained on an answerable question")
        elif q["answerable"] and q["facts_ok"] is False and not q["error"]:
            why.append("missing " + "; ".join("/".join(g) for g in q["missing"]))
        if not q["answerable"] and not q["abstained"] and not q["error"] and q["answer"]:
            why.append("answered an unanswerable question")
        if q["invalid"]:
            why.append("invalid citations: " + "; ".join(q["invalid"]))
        if why:
            lines.append(f"- {q['id']} ({q['type']}): " + ", ".join(why))
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    """report.md: the table, per-type breakdowns, failing questions, notes and the gate."""
    sections = report["engines"]
    parts = [
        "# qa_bot evaluation",
        "",
        f"{report['n']} questions from `{report['questions']}` "
        f"({report['answerable']} answerable), "
        f"articles in `{report['seeds_dir']}`, generated {report['generated']}.",
        "",
        summary_table(sections),
        "",
        "Retrieval: a passage is relevant when it comes from the evidence's article and its "
        "[start, end) span overlaps the evidence phrase; hit@k, MRR and nDCG@k are over "
        "answerable questions. Fact accuracy: "
        "all fact groups in the answer text (an abstention scores 0). Citation validity: quote == "
        "file_text[start:end] for a file in the seeds folder. Citation precision: cited quotes "
        "(answerable questions) from a gold article that overlap evidence or contain a fact. "
        "Citation recall: answer sentences (cut at markers) with at least one valid citation "
        "whose quote holds every number and half "
        "the content words of the sentence.",
    ]
    if report.get("evidence_missing"):
        parts += [
            "",
            "**Evidence phrases not found in their articles:**",
            *[f"- {m}" for m in report["evidence_missing"]],
        ]
    for section in sections:
        parts += ["", f"## {section['name']}", "", _type_table(section)]
        if section["notes"]:
            parts += ["", *[f"- note: {n}" for n in section["notes"]]]
        failing = _failures(section)
        parts += ["", f"### Questions that failed ({len(failing)})", "", *(failing or ["none"])]
    gate = report.get("gate")
    if gate:
        parts += [
            "",
            "## Gate",
            "",
            f"thresholds: `{gate['file']}` for engine {gate['engine']}: "
            + ("**passed**" if gate["passed"] else "**FAILED**"),
            *[f"- {f}" for f in gate["failures"]],
        ]
    return "\n".join(parts) + "\n"


def render_plot(report: Mapping[str, Any], path: Path) -> None:
    """report.png: metric bars per engine, and p50/p95 latency per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = report["engines"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [2.2, 1]})
    width = 0.8 / max(len(sections), 1)
    for i, s in enumerate(sections):
        values = [s["metrics"].get(m) for m in METRICS]
        xs = [j + i * width for j in range(len(METRICS))]
        ax1.bar(xs, [v if v is not None else 0.0 for v in values], width, label=s["name"])
        for x, v in zip(xs, values, strict=True):
            ax1.text(
                x,
                (v or 0.0) + 0.01,
                "n/a" if v is None else f"{v:.2f}",
                ha="center",
                fontsize=7,
                rotation=90,
            )
    ax1.set_xticks([j + width * (len(sections) - 1) / 2 for j in range(len(METRICS))])
    ax1.set_xticklabels([m.replace("_", " ") for m in METRICS], rotation=30, ha="right", fontsize=8)
    ax1.set_ylim(0, 1.15)
    ax1.set_title(f"Metrics over {report['n']} questions")
    ax1.legend(fontsize=8)
    stages = [st for st in STAGES if any(st in s["latency"] for s in sections)]
    for i, s in enumerate(sections):
        for j, stage in enumerate(stages):
            lat = s["latency"].get(stage)
            if not lat:
                continue
            x = j + i * width
            ax2.bar(x, lat["p95"], width, color=f"C{i}", alpha=0.35)
            ax2.bar(x, lat["p50"], width, color=f"C{i}", label=s["name"] if j == 0 else None)
    ax2.set_xticks([j + width * (len(sections) - 1) / 2 for j in range(len(stages))])
    ax2.set_xticklabels(stages)
    ax2.set_yscale("log")
    ax2.set_ylabel("seconds (solid p50, light p95)")
    ax2.set_title("Latency per stage")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(report: Mapping[str, Any], out: Path) -> None:
    """report.md, report.json and report.png in the out folder."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    render_plot(report, out / "report.png")


# ------------------------------------------------------------------ entry point


def corpus_settings(settings: Settings, corpus: Path, store: Path | None = None) -> Settings:
    """Settings for evaluating over any folder of articles: a store of its own (kept between runs,
    under .cache/ unless --store), and the folder as the articles citations are checked against."""
    if not corpus.is_dir():
        raise ConfigError(f"no corpus folder at {corpus}")
    if (corpus / "articles").is_dir():
        corpus = corpus / "articles"
    digest = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:10]
    # One store per embedding backend: their vectors are compared, never mixed (store.VECTOR_FAMILY).
    name = f"{corpus.resolve().name}-{digest}-{settings.embedding_backend}"
    store = store or Path(".cache") / "eval-stores" / name
    return settings.replace(store_dir=store, seeds_dir=corpus, upload_dir=store / "uploads")


def main(args: argparse.Namespace) -> int:
    """qa-bot eval: run the questions, write the reports; with --gate return 1 on a regression."""
    from qa_bot.pipeline import QABot

    settings = Settings.from_env(
        store_dir=getattr(args, "store", None),
        backend=getattr(args, "backend", None),
        k=getattr(args, "k", None),
    )
    corpus = getattr(args, "corpus", None)
    if corpus is not None:
        settings = corpus_settings(settings, Path(corpus), getattr(args, "store", None))
    backend, k = settings.backend, settings.k
    files = args.questions if isinstance(args.questions, (list, tuple)) else [args.questions]
    if not files or files == [None]:
        default = Path(corpus) / "questions.jsonl" if corpus is not None else Path("eval/questions.jsonl")
        files = [default]
    questions = [q for path in files for q in load_questions(Path(path))]
    questions = sample(questions, getattr(args, "sample", None), getattr(args, "part", "all") or "all")
    if len({q["id"] for q in questions}) != len(questions):
        raise ConfigError("question ids repeat across the question files")
    bot = QABot(settings)
    if corpus is not None:
        summary = bot.ingest([Path(corpus)])
        print(f"corpus {corpus}: {summary.line()}", file=sys.stderr)
    bot.ensure_store()
    # Read after ingest, which writes the kept text of pages and PDFs that evidence offsets count in.
    texts = Texts(settings.seeds_dir)
    missing = [m for q in questions for m in evidence_spans(q, texts)[1]]
    for message in missing:
        print(f"warning: {message}", file=sys.stderr)
    started = time.perf_counter()
    records = evaluate_engine(bot, questions, texts, backend=backend, k=k,
                              conversation=bool(getattr(args, "conversation", False)))
    notes = (
        [
            f"{sum(1 for r in records if r.backend and r.backend != backend)} answers fell back "
            "to another "
            f"engine"
        ]
        if any(r.backend and r.backend != backend for r in records)
        else []
    )
    sections = [summarize(backend, records, k, notes=notes)]
    seconds = {backend: round(time.perf_counter() - started, 2)}

    if getattr(args, "baseline", False):
        from qa_bot.baseline import BASELINE_K, run_baseline

        started = time.perf_counter()
        base_records, answered, base_notes = run_baseline(
            questions, settings, texts, embeddings=bot.embeddings
        )
        sections.append(
            summarize(
                "baseline",
                base_records,
                BASELINE_K,
                citations=False,
                answers=answered,
                notes=base_notes,
            )
        )
        seconds["baseline"] = round(time.perf_counter() - started, 2)

    report: dict[str, Any] = {
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "questions": ", ".join(str(path) for path in files),
        "seeds_dir": str(settings.seeds_dir),
        "sample": getattr(args, "sample", None),
        "part": getattr(args, "part", "all"),
        "n": len(questions),
        "answerable": sum(1 for q in questions if q["answerable"]),
        "evidence_missing": missing,
        "seconds": seconds,
        "engines": sections,
    }
    code = 0
    if getattr(args, "gate", False):
        path = Path(getattr(args, "thresholds", None) or THRESHOLDS)
        thresholds = load_thresholds(path)
        engine = thresholds.get("engine", "extractive")
        failures = check_gate(sections[0]["metrics"], thresholds)
        if engine != backend:
            failures.insert(0, f"the thresholds are for the {engine} engine, not {backend}")
        report["gate"] = {
            "file": str(path),
            "engine": engine,
            "passed": not failures,
            "failures": failures,
        }
        code = 1 if failures else 0

    write_reports(report, Path(args.out))
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(summary_table(sections))
        print(f"\nreports: {Path(args.out) / 'report.md'}, report.json, report.png")
    gate = report.get("gate")
    if gate:
        if gate["passed"]:
            print(f"gate passed ({gate['file']})", file=sys.stderr)
        else:
            print(f"gate FAILED ({gate['file']}):", file=sys.stderr)
            for line in gate["failures"]:
                print(f"  - {line}", file=sys.stderr)
    return code

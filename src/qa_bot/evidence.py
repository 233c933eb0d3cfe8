"""Score single sentences of retrieved passages as evidence for a question (no generation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from qa_bot.corpus import KIND_WEIGHT
from qa_bot.lexical import BM25, STOPWORDS, fold, stem, terms, tokens
from qa_bot.types import Passage

# Words that say what is asked, not about what: they do not count toward coverage.
QUESTION_WORDS = frozenset(
    stem(w)
    for w in """what which who whom whose when where why how many much name names list mention mentioned
    describe explain article articles according did does do kind kinds type sort example give
    according ones""".split()
)
_MONTHS = "january february march april may june july august september october november december"
_DATE = re.compile(
    r"\b(?:" + "|".join(_MONTHS.split()) + r")\b|\b(?:19|20)\d\d\b|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:"
    + "|".join(_MONTHS.split()) + r")\b|\b(?:this|next|last)\s+(?:year|month|week)\b|\bby\s+(?:19|20)\d\d",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|double|twice|thrice)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z’'-]+(?:\s+[A-Z][a-z’'-]+)+")


class Want(Enum):
    """The kind of answer a question asks for."""

    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    ANY = "any"


def wanted(question: str) -> Want:
    """What the question asks for, from its wh-words."""
    q = fold(question)
    if re.search(r"\bhow (many|much|large|big|long)\b|\bwhat (number|percentage|share|amount|figure)\b"
                 r"|\bworth\b", q):
        return Want.NUMBER
    if re.search(r"\bwhen\b|\bwhat (date|year|month|day|time)\b|\bwhich (date|year|month|day)\b", q):
        return Want.DATE
    if re.search(r"^\s*who\b|\bwho (is|was|are|were|heads|leads|chairs|said|serves)\b|\bwhose\b|\bwhom\b", q):
        return Want.PERSON
    return Want.ANY


_ORDINAL_OR_YEAR = re.compile(r"\b\d+(?:st|nd|rd|th)\b|\b(?:19|20)\d\d\b(?:\s*[–-]\s*(?:19|20)?\d\d\b)?")


def _novel(found: list[str], question: str) -> bool:
    q = fold(question)
    return any(fold(item).strip() not in q for item in found if item.strip())


def has_kind(text: str, want: Want, question: str = "") -> bool:
    """Does the sentence hold the kind of thing asked for, and one the question does not already name?"""
    if want is Want.NUMBER:
        cardinal = _ORDINAL_OR_YEAR.sub(" ", text)
        return _novel([m.group(0) for m in _NUMBER.finditer(cardinal)], question)
    if want is Want.DATE:
        return _novel([m.group(0) for m in _DATE.finditer(text)], question)
    if want is Want.PERSON:
        return _novel([m.group(0) for m in _NAME.finditer(text)], question)
    return True


@dataclass(frozen=True)
class Evidence:
    """One sentence of one retrieved passage, scored for the question."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float
    dense: float
    coverage: float
    fits: bool

    @property
    def key(self) -> tuple[str, int, int]:
        """Identity of the sentence in the corpus."""
        return (self.passage.source_id, self.start, self.end)


def query_terms(query: str) -> list[str]:
    """Content terms of a question."""
    return [t for t in dict.fromkeys(terms(query)) if t not in QUESTION_WORDS]


def coverage(q_terms: list[str], sentence_terms: set[str], bm25: BM25) -> float:
    """IDF-weighted share of the question's content terms present in the sentence."""
    if not q_terms:
        return 0.0
    total = sum(bm25.idf_of(t) for t in q_terms)
    have = sum(bm25.idf_of(t) for t in q_terms if t in sentence_terms)
    return have / total if total else 0.0


def score_sentences(
    question: str,
    query: str,
    passages: list[Passage],
    query_vector: np.ndarray,
    sentence_vectors: dict[tuple[str, int, int], np.ndarray],
    bm25: BM25,
) -> list[Evidence]:
    """Every distinct sentence of the passages, best first."""
    want = wanted(question)
    q_terms = query_terms(query)
    seen: set[tuple[str, int, int]] = set()
    out: list[Evidence] = []
    for rank, p in enumerate(passages):
        passage_terms = set(terms(p.text))
        for s, e in p.sentences:
            key = (p.source_id, s, e)
            if key in seen:
                continue
            seen.add(key)
            text = p.text[s - p.start : e - p.start]
            vec = sentence_vectors.get(key)
            dense = float(np.dot(query_vector, vec)) if vec is not None else 0.0
            own = set(terms(text))
            cov = coverage(q_terms, own, bm25)
            ctx = coverage(q_terms, passage_terms, bm25)
            fits = has_kind(text, want, question)
            score = (0.45 * dense + 0.4 * cov + 0.15 * ctx + (0.05 if fits else -0.05)) * (
                0.5 + 0.5 * KIND_WEIGHT.get(p.kind, 0.5)
            ) - 0.01 * rank
            out.append(Evidence(p, s, e, text, round(score, 4), round(dense, 4), round(cov, 4), fits))
    out.sort(key=lambda ev: -ev.score)
    return out


def numbers_in(text: str) -> set[str]:
    """Numbers as written, separators dropped ('1,588' -> '1588')."""
    return {t for t in tokens(text) if t[0].isdigit()}


def names_in(text: str) -> set[str]:
    """Folded capitalised words that are not the first word of the text nor stop words."""
    words = re.findall(r"\b[A-Z][\w’'-]+", text)
    first = re.match(r"\W*([A-Z][\w’'-]+)", text)
    out = {fold(w).replace("’", "'").split("'")[0] for w in words}
    if first:
        out.discard(fold(first.group(1)))
    return {w for w in out if w not in STOPWORDS and len(w) > 1}

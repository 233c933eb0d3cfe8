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
    for w in (
        "what which who whom whose when where why how many much name names list mention mentioned "
        "describe explain article articles according did does do kind kinds type sort example give ones"
    ).split()
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
    PLACE = "place"
    ANY = "any"


def wanted(question: str) -> Want:
    """What the question asks for, from its wh-words (classic answer-type detection)."""
    q = fold(question)
    if re.search(r"\bhow (many|much|large|big|long)\b|\bworth\b"
                 r"|\bwhat\b[^?]{0,40}\b(number|percentage|share|amount|figure|rate|budget|cost|price|total|sum)\b", q):
        return Want.NUMBER
    if re.search(r"\bwhen\b|\bwhat (date|year|month|day|time)\b|\bwhich (date|year|month|day)\b|\bon what date\b", q):
        return Want.DATE
    if re.search(r"^\s*(according to \w+, )?who\b"
                 r"|\bwho (is|was|are|were|heads|leads|chairs|chaired|said|serves|served)\b"
                 r"|^\s*whose\b|\bwhom\b|\bname of the\b", q):
        return Want.PERSON
    if re.search(r"\b(in|at) which (city|country|capital|town|place)\b|\bwhere (is|was|will|did|does|do)\b", q):
        return Want.PLACE
    return Want.ANY


# People in news copy come with a title before the name or an office after it.
_TITLES = (
    r"(?:Ambassador|President|Minister|Secretary|General|Chairman|Chairwoman|Chair|Director|Head|Deputy|"
    r"Premier|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Professor|Prof\.?|Envoy|Counsellor|Member|Governor|Mayor|Senator|"
    r"Representative|Chief|Commissioner|Spokesperson|Spokesman|Uncle|King|Queen|Prince|Pope)"
)
_CAP = r"[A-Z][a-zà-ỹ’'-]+"
_PERSON = re.compile(
    rf"\b{_TITLES}(?:[- ]{_CAP})*\s+(?P<a>{_CAP}(?:\s+{_CAP}){{1,4}})"
    rf"|(?P<b>{_CAP}(?:\s+{_CAP}){{1,4}}),\s+(?:the\s+|a\s+)?{_TITLES}"
)
_PLACE = re.compile(rf"\b(?:in|at|from)\s+(?:the\s+)?(?P<p>{_CAP}(?:\s+{_CAP})*)")
_MONTH_DAY = re.compile(r"\b(?:" + "|".join(_MONTHS.split()) + r")\s+\d{1,2}\b", re.IGNORECASE)


def counted_noun(question: str) -> list[str]:
    """The stems of what 'how many X' counts (the words after 'how many')."""
    m = re.search(r"\bhow many\s+((?:[\w’'-]+\s+){0,2}[\w’'-]+)", fold(question))
    if not m:
        return []
    words = [w for w in terms(m.group(1)) if w not in QUESTION_WORDS]
    return words[:3]


_ORDINAL_OR_YEAR = re.compile(r"\b\d+(?:st|nd|rd|th)\b|\b(?:19|20)\d\d\b(?:\s*[–-]\s*(?:19|20)?\d\d\b)?")


def _novel(found: list[str], question: str) -> bool:
    q = fold(question)
    return any(fold(item).strip() not in q for item in found if item.strip())


def has_kind(text: str, want: Want, question: str = "") -> bool:
    """Does the sentence hold the kind of thing asked for, and one the question does not already name?"""
    if want is Want.NUMBER:
        cardinal = _MONTH_DAY.sub(" ", _ORDINAL_OR_YEAR.sub(" ", text))
        nouns = counted_noun(question)
        if nouns:
            # 'How many delegates' wants a number standing before delegates, not any number.
            words = re.findall(r"[\w.,’'-]+", cardinal)
            for i, word in enumerate(words):
                if _NUMBER.fullmatch(word.strip(".,")) or re.fullmatch(r"\d[\d,.]*", word.strip(".,")):
                    window = set(terms(" ".join(words[i + 1 : i + 5])))
                    if window & set(nouns) and fold(word.strip(".,")) not in fold(question):
                        return True
            return False
        q = fold(question)
        if re.search(r"\b(rate|percentage|percent|share)\b", q):
            return bool(re.search(r"\d\s*(%|percent|per cent)|\b\w+-digit\b", cardinal))
        if re.search(r"\b(budget|cost|price|sum|worth|fund|funds|money|spent|donat\w*|how much)\b", q):
            return bool(re.search(r"USD|US\$|\$|€|£|VND|\bdong\b|\beuros?\b|\bdollars?\b|\bfrancs?\b", cardinal))
        return _novel([m.group(0) for m in _NUMBER.finditer(cardinal)], question)
    if want is Want.DATE:
        return _novel([m.group(0) for m in _DATE.finditer(text)], question)
    if want is Want.PERSON:
        return _novel([m.group("a") or m.group("b") for m in _PERSON.finditer(text)], question)
    if want is Want.PLACE:
        return _novel([m.group("p") for m in _PLACE.finditer(text)], question)
    return True


FOCUS_SHARE = 0.4


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
    focus: bool = True
    terms: frozenset[str] = frozenset()

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
    own_terms = query_terms(question)
    # The question's names and numbers that the collection knows at all: a typed answer must come
    # from a passage holding most of them, by weight ('Ambassador to Japan' is not answered by a
    # Geneva passage; 'the UN in Geneva' is, though the passage spells out United Nations).
    marked = {stem(w) for w in names_in(question)} | {t for t in tokens(question) if t[0].isdigit()}
    known = [t for t in own_terms if t in marked and bm25.postings.get(t) is not None]
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
            # A follow-up's own words count as much as the conversation it was resolved with.
            cov = max(coverage(q_terms, own, bm25), coverage(own_terms, own, bm25)) if own_terms else coverage(
                q_terms, own, bm25)
            ctx = coverage(q_terms, passage_terms, bm25)
            fits = has_kind(text, want, question)
            score = (0.45 * dense + 0.4 * cov + 0.15 * ctx + (0.05 if fits else -0.05)) * (
                0.5 + 0.5 * KIND_WEIGHT.get(p.kind, 0.5)
            ) - 0.01 * rank
            if text.rstrip("\"'”’) ").endswith("?"):
                score *= 0.6  # an interviewer's question is not evidence
            focus = not known or coverage(known, passage_terms, bm25) >= FOCUS_SHARE
            out.append(Evidence(p, s, e, text, round(score, 4), round(dense, 4), round(cov, 4), fits, focus,
                                frozenset(own)))
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

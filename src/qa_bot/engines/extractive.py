"""The default engine: answer with the best sentences of the articles themselves, never generated text."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa_bot.evidence import (
    NEAR_SHARE,
    Evidence,
    Want,
    has_kind,
    head_terms,
    people,
    people_asked,
    query_terms,
    wanted,
)
from qa_bot.multihop import split_bridge

# Abstention thresholds, calibrated on eval/questions.jsonl (see eval/calibrate.py and the README).
# Measured there: no threshold on these scores separates on-topic unanswerable questions from
# paraphrased answerable ones (a bi-encoder cannot read that closely), so the abstention floor is
# set where false abstentions stay under 5%; answers between MIN_SCORE and WEAK_SCORE carry a
# visible "weak support" warning instead.
MIN_COVERAGE = 0.0
MIN_SCORE = 0.25
WEAK_SCORE = 0.55
HEAD_BOOST = 2.5
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})  # '13th' is the terms '13' and 'th'; 'th' says nothing
_LIST = re.compile(r"\b(which|what) (are|were)\b|\blist\b|\bname (the|all|some)\b|\bwhat \w+s\b", re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    """Sentences chosen to answer, or the reason to abstain."""

    evidence: tuple[Evidence, ...]
    abstained: bool
    support: float


def repeats(ev: Evidence, chosen: Sequence[Evidence]) -> bool:
    """Is the sentence mostly contained in one already chosen? Articles repeat their lede and captions."""
    words = ev.terms
    return any(len(words & c.terms) / min(len(words) or 1, len(c.terms) or 1) > 0.8 for c in chosen)


def supported(best: Evidence) -> bool:
    """Is the best sentence good enough evidence to answer at all?"""
    return best.coverage >= MIN_COVERAGE and best.score >= MIN_SCORE


def select(
    question: str, ranked: list[Evidence], max_sentences: int = 3, ratio: float = 0.75,
    q_terms: Sequence[str] = (), idf: Callable[[str], float] | None = None, unknown: Sequence[str] = (),
    parts: Sequence[str] = (), head: Sequence[str] = (),
) -> Selection:
    """The best sentence, plus runners-up that are nearly as good or cover what it leaves out."""
    if not ranked:
        return Selection((), True, 0.0)
    if unknown:
        # The question presupposes a number ('the 11th conference') or names a body ('GDP', 'FIFA')
        # that the articles never mention.
        return Selection((), True, ranked[0].score)
    # A question that asks for a number, date, name or place is answered only by a sentence holding
    # one the question does not already contain, in a passage that mentions the question's focus.
    # A multi-part question is typed part by part, below.
    typed = not parts and wanted(question) is not Want.ANY
    pool = [ev for ev in ranked if ev.fits and ev.focus and ev.near >= NEAR_SHARE] if typed else ranked
    if not pool:
        return Selection((), True, ranked[0].score)
    best = pool[0]
    if not supported(best):
        return Selection((), True, best.score)
    base = idf or (lambda _t: 1.0)
    chosen = _runners_up(question, ranked, best, typed, base, q_terms, set(head), max_sentences, ratio)
    _add_people(question, ranked, best, chosen)
    for resolved in parts:
        _add_part(resolved, ranked, best, chosen, base)
    chosen.sort(key=lambda ev: (ev.passage.source_id != best.passage.source_id, ev.passage.source_id, ev.start))
    return Selection(tuple(chosen), False, best.score)


def _weighted(idf: Callable[[str], float], head: set[str]) -> Callable[[str], float]:
    """Term weights: IDF, and more for what the question asks for ('which resolution')."""
    return lambda term: idf(term) * (HEAD_BOOST if term in head else 1.0)


def _runners_up(
    question: str, ranked: list[Evidence], best: Evidence, typed: bool, idf: Callable[[str], float],
    q_terms: Sequence[str], head: set[str], max_sentences: int, ratio: float,
) -> list[Evidence]:
    """The best sentence and those nearly as good, or covering question words it leaves out."""
    listing = bool(_LIST.search(question))
    limit = max_sentences + 1 if listing else max_sentences
    weight = _weighted(idf, head)
    total = sum(weight(t) for t in q_terms) or 1.0
    uncovered = {t for t in q_terms if t not in best.terms}
    chosen = [best]
    seen = set(best.terms)
    for ev in ranked[1:20]:
        if len(chosen) >= limit or ev.score < 0.5 * best.score:
            break
        words = set(ev.terms)
        if repeats(ev, chosen) or (words and len(words & seen) / len(words) > 0.7):
            continue
        gain = sum(weight(t) for t in uncovered & words) / total
        # One name, date or number was asked for: a second one only confuses.
        close = ev.score >= ratio * best.score and ev.coverage >= 0.5 * best.coverage and (listing or not typed)
        if not (close or gain >= 0.2):
            continue
        chosen.append(ev)
        seen |= words
        uncovered -= words
    return chosen


def _add_people(question: str, ranked: list[Evidence], best: Evidence, chosen: list[Evidence]) -> None:
    """'Which two ambassadors...' is answered by sentences naming two of them."""
    need = people_asked(question)
    if not need:
        return
    named = set().union(*(people(c.text, question) for c in chosen))
    for ev in ranked[:25]:
        if len(named) >= need:
            break
        new = people(ev.text, question) - named
        if new and ev.score >= 0.4 * best.score and ev not in chosen:
            chosen.append(ev)
            named |= new


def _add_part(
    resolved: str, ranked: list[Evidence], best: Evidence, chosen: list[Evidence], idf: Callable[[str], float]
) -> None:
    """The sentence that best answers one part of a multi-part question, of the kind that part asks for
    ('..., and on what date...' wants a date). A part carrying an earlier part's answer ('that official'
    -> 'Nguyen Manh Cuong') is answered only by a sentence about that answer."""
    part_text, bridge = split_bridge(resolved)
    part = query_terms(part_text)
    want = wanted(part_text)
    weight = _weighted(idf, set(head_terms(part_text)))
    total = sum(weight(t) for t in part) or 1.0
    about = set(query_terms(bridge)) - set(part) - _ORDINAL_SUFFIXES

    def cover(ev: Evidence) -> float:
        if about and not about & ev.terms:
            return 0.0
        return sum(weight(t) for t in part if t in ev.terms) / total

    def answers(ev: Evidence) -> bool:
        return want is Want.ANY or has_kind(ev.text, want, part_text)

    if any(cover(c) >= 0.6 and answers(c) for c in chosen):
        return
    candidates = [ev for ev in ranked[:25]
                  if ev.score >= 0.4 * best.score and answers(ev) and not repeats(ev, chosen)]
    if not candidates:
        return
    pick = max(candidates, key=lambda ev: cover(ev) + 0.5 * ev.score)
    # A sentence about the earlier answer needs less of the part's own words to be its answer.
    if cover(pick) >= (0.1 if about else 0.4):
        chosen.append(pick)

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
    listing = bool(_LIST.search(question))
    limit = max_sentences + 1 if listing else max_sentences
    base = idf or (lambda _t: 1.0)
    wanted_kind = set(head)

    def weight(term: str) -> float:
        # What the question asks for ('which resolution') counts more than where it is said.
        return base(term) * (HEAD_BOOST if term in wanted_kind else 1.0)

    uncovered = {t for t in q_terms if t not in best.terms}
    chosen = [best]
    seen = set(best.terms)
    for ev in ranked[1:20]:
        if len(chosen) >= limit or ev.score < 0.5 * best.score:
            break
        words = set(ev.terms)
        if repeats(ev, chosen):
            continue
        if words and len(words & seen) / len(words) > 0.7:
            continue
        total = sum(weight(t) for t in q_terms) or 1.0
        gain = sum(weight(t) for t in uncovered & words) / total
        close = ev.score >= ratio * best.score and ev.coverage >= 0.5 * best.coverage
        if typed and not listing:
            close = False  # one name, date or number was asked for: a second one only confuses
        if not (close or gain >= 0.2):
            continue
        chosen.append(ev)
        seen |= words
        uncovered -= words
    # 'Which two ambassadors...' is answered by sentences naming two of them.
    need = people_asked(question)
    named = set().union(*(people(c.text, question) for c in chosen)) if need else set()
    for ev in ranked[:25]:
        if len(named) >= need:
            break
        new = people(ev.text, question) - named
        if new and ev.score >= 0.4 * best.score and ev not in chosen:
            chosen.append(ev)
            named |= new
    # A multi-part question gets the sentence that best answers each part it asked, of the kind
    # that part asks for ('..., and on what date...' wants a date).
    # A part carrying an earlier part's answer ('that official' -> 'Nguyen Manh Cuong') is answered
    # only by a sentence about that answer.
    for resolved in parts:
        part_text, bridge = split_bridge(resolved)
        part = query_terms(part_text)
        part_want = wanted(part_text)
        part_head = set(head_terms(part_text))

        def part_weight(term: str, part_head: set[str] = part_head) -> float:
            return base(term) * (HEAD_BOOST if term in part_head else 1.0)

        part_total = sum(part_weight(t) for t in part) or 1.0
        about = set(query_terms(bridge)) - set(part) - _ORDINAL_SUFFIXES

        def part_cover(ev: Evidence, part: Sequence[str] = part, part_total: float = part_total,
                       about: set[str] = about, part_weight: Callable[[str], float] = part_weight) -> float:
            if about and not about & ev.terms:
                return 0.0
            return sum(part_weight(t) for t in part if t in ev.terms) / part_total

        def answers(ev: Evidence, part_text: str = part_text, part_want: Want = part_want) -> bool:
            return part_want is Want.ANY or has_kind(ev.text, part_want, part_text)

        if any(part_cover(c) >= 0.6 and answers(c) for c in chosen):
            continue
        candidates = [ev for ev in ranked[:25] if ev.score >= 0.4 * best.score and answers(ev)
                      and not repeats(ev, chosen)]
        if not candidates:
            continue
        pick = max(candidates, key=lambda ev: part_cover(ev) + 0.5 * ev.score)
        # A sentence about the earlier answer needs less of the part's own words to be its answer.
        if part_cover(pick) >= (0.1 if about else 0.4):
            chosen.append(pick)
    chosen.sort(key=lambda ev: (ev.passage.source_id != best.passage.source_id, ev.passage.source_id, ev.start))
    return Selection(tuple(chosen), False, best.score)

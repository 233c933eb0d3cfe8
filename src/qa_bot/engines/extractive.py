"""The default engine: answer with the best sentences of the articles themselves, never generated text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa_bot.evidence import Evidence, Want, wanted
from qa_bot.lexical import terms

# Abstention thresholds, calibrated on eval/questions.jsonl (see eval/calibrate.py and the README).
# Measured there: no threshold on these scores separates on-topic unanswerable questions from
# paraphrased answerable ones (a bi-encoder cannot read that closely), so the abstention floor is
# set where false abstentions stay under 5%; answers between MIN_SCORE and WEAK_SCORE carry a
# visible "weak support" warning instead.
MIN_COVERAGE = 0.0
MIN_SCORE = 0.3
WEAK_SCORE = 0.55
_LIST = re.compile(r"\b(which|what) (are|were)\b|\blist\b|\bname (the|all|some)\b|\bwhat \w+s\b", re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    """Sentences chosen to answer, or the reason to abstain."""

    evidence: tuple[Evidence, ...]
    abstained: bool
    support: float


def supported(best: Evidence) -> bool:
    """Is the best sentence good enough evidence to answer at all?"""
    return best.coverage >= MIN_COVERAGE and best.score >= MIN_SCORE


def select(question: str, ranked: list[Evidence], max_sentences: int = 4, ratio: float = 0.75) -> Selection:
    """The best sentence, plus close runners-up that add something, or an abstention."""
    if not ranked:
        return Selection((), True, 0.0)
    # A question that asks for a number, date or name is answered only by a sentence holding one
    # the question does not already contain.
    typed = wanted(question) is not Want.ANY
    pool = [ev for ev in ranked if ev.fits] if typed else ranked
    if not pool:
        return Selection((), True, ranked[0].score)
    best = pool[0]
    if not supported(best):
        return Selection((), True, best.score)
    limit = max_sentences + 1 if _LIST.search(question) else max_sentences
    chosen = [best]
    seen = set(terms(best.text))
    for ev in ranked[1:]:
        if len(chosen) >= limit or ev.score < ratio * best.score:
            break
        words = set(terms(ev.text))
        if words and len(words & seen) / len(words) > 0.7:
            continue
        if ev.coverage < 0.5 * best.coverage:
            continue
        chosen.append(ev)
        seen |= words
    chosen.sort(key=lambda ev: (ev.passage.source_id != best.passage.source_id, ev.passage.source_id, ev.start))
    return Selection(tuple(chosen), False, best.score)

"""The default engine: answer with the best sentences of the articles themselves, never generated text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa_bot.evidence import Evidence, Want, wanted
from qa_bot.lexical import terms

# Abstention thresholds, calibrated on eval/questions.jsonl (see eval/calibrate.py and the README).
MIN_COVERAGE = 0.5
MIN_SCORE = 0.42
_LIST = re.compile(r"\b(which|what) (are|were)\b|\blist\b|\bname (the|all|some)\b|\bwhat \w+s\b", re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    """Sentences chosen to answer, or the reason to abstain."""

    evidence: tuple[Evidence, ...]
    abstained: bool
    support: float


def supported(best: Evidence, question: str) -> bool:
    """Is the best sentence good enough evidence to answer at all?"""
    if best.coverage < MIN_COVERAGE or best.score < MIN_SCORE:
        return False
    return not (wanted(question) is not Want.ANY and not best.fits)


def select(question: str, ranked: list[Evidence], max_sentences: int = 3) -> Selection:
    """The best sentence, plus close runners-up that add something, or an abstention."""
    if not ranked:
        return Selection((), True, 0.0)
    best = ranked[0]
    if not supported(best, question):
        return Selection((), True, best.score)
    limit = max_sentences + 1 if _LIST.search(question) else max_sentences
    chosen = [best]
    seen = set(terms(best.text))
    for ev in ranked[1:]:
        if len(chosen) >= limit or ev.score < 0.85 * best.score:
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

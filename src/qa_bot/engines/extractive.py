"""The default engine: the trained reader picks the passage and the exact answer; the answer quotes the
sentence that holds it, verbatim. Nothing is generated, and where the reader finds no answer it declines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa_bot.evidence import Evidence, answer_sentence
from qa_bot.lexical import STOPWORDS
from qa_bot.reader import NO_SPAN, Calibration, Reader, Reading
from qa_bot.types import Passage

MAX_SENTENCES = 4
MAX_ADDED_WORDS = 2  # content words a sentence may add to a chosen one and still repeat it ("officials said")
DEFAULT_CALIBRATION = Calibration()


@dataclass(frozen=True)
class Selection:
    """Sentences chosen to answer, or the reason to abstain."""

    evidence: tuple[Evidence, ...]
    abstained: bool
    support: float
    reason: str = ""


def rank_key(score: float, rank: int, weight: float) -> tuple[float, int]:
    """Sort key of a passage in the rerank: the reader's score less weight * ln(1 + retrieval rank), ties
    to retrieval's order."""
    return -(score - weight * math.log1p(rank)), rank


def rerank(passages: Sequence[Passage], readings: Sequence[Reading],
           weight: float = DEFAULT_CALIBRATION.retrieval_weight) -> list[tuple[Passage, Reading]]:
    """Passages (in retrieval's order) reordered by rank_key."""
    pairs = list(zip(passages, readings, strict=True))
    order = sorted(range(len(pairs)), key=lambda i: rank_key(pairs[i][1].score, i, weight))
    return [pairs[i] for i in order]


def sure_enough(head: Sequence[float], calibration: Calibration) -> bool:
    """May the reader stop after the first len(head) candidates (their scores, in retrieval's order)?

    An unread candidate at retrieval rank r >= len(head) could be ranked first only with a score above the
    best rank key read plus weight * ln(1 + r), at least that key plus weight * ln(1 + len(head)). Stop when
    that bound reaches the calibration's stop_score (a score few passages reach, set on held-out data by
    train/calibrate.py) and the best score read already clears the threshold (a decline needs them all)."""
    if not head:
        return False
    weight = calibration.retrieval_weight
    best_key = max(score - weight * math.log1p(i) for i, score in enumerate(head))
    return max(head) >= calibration.threshold and best_key + weight * math.log1p(len(head)) >= calibration.stop_score


def read_in_stages(reader: Reader, question: str, contexts: Sequence[str], calibration: Calibration,
                   first: int | None = None, at_least: int = 0) -> list[Reading]:
    """The reader's Reading of each context (in retrieval's order): the first `first` (default the
    calibration's read_first; 0 reads all; never fewer than at_least, say the sources shown), then the
    rest unless sure_enough. Contexts left unread get Reading(NO_SPAN), ranked after every read one, in
    retrieval's order; so the best score (support) and the runner-up passages quoted are those of the read
    ones, and a candidate among the unread that only the runner-up margin would have quoted is not."""
    first = calibration.read_first if first is None else first
    first = max(first, at_least) if first > 0 else 0
    if first <= 0 or len(contexts) <= first:
        return reader.read(question, contexts)
    head = reader.read(question, contexts[:first])
    if sure_enough([r.score for r in head], calibration):
        return head + [Reading(NO_SPAN)] * (len(contexts) - first)
    return head + reader.read(question, contexts[first:])


def support(ranked: Sequence[tuple[Passage, Reading]]) -> float:
    """The reader's best score over the candidates: what abstention is decided on."""
    return max((reading.score for _, reading in ranked), default=float("-inf"))


def _repeats(ev: Evidence, chosen: Sequence[Evidence]) -> bool:
    """Adds little to one sentence already chosen (articles repeat their lede and captions): over 80% of its
    words are in it, or it holds over 80% of that sentence's words and at most two content words more
    ("..., officials said"). A longer sentence that holds a chosen headline's words and more content (the
    lede that says who and when) is no repeat."""
    words = ev.terms
    for c in chosen:
        shared = len(words & c.terms)
        if c.key == ev.key or shared / max(1, len(words)) > 0.8:
            return True
        if shared / max(1, len(c.terms)) > 0.8 and len(words - c.terms - STOPWORDS) <= MAX_ADDED_WORDS:
            return True
    return False


def select(ranked: Sequence[tuple[Passage, Reading]], threshold: float,
           max_sentences: int = MAX_SENTENCES, margin: float = DEFAULT_CALIBRATION.runner_up_margin) -> Selection:
    """Abstain when the reader's best score over the candidates is under threshold; else quote the first
    passage of the ranking (its own score may be lower), and passages within margin of that best score."""
    if not ranked:
        return Selection((), True, 0.0, "nothing was retrieved")
    best_passage, best = ranked[0]
    best_score = support(ranked)
    if best_score < threshold or not best.has_span:
        return Selection((), True, best_score, "the reader found no answer in the retrieved passages")
    chosen = [answer_sentence(best_passage, best)]
    for passage, reading in ranked[1:]:
        if len(chosen) >= max_sentences:
            break
        if not reading.has_span or reading.score < max(threshold, best_score - margin):
            continue
        ev = answer_sentence(passage, reading)
        if not _repeats(ev, chosen):
            chosen.append(ev)
    return Selection(tuple(chosen), False, best_score)

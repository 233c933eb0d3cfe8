"""The default engine: the trained reader picks the passage and the exact answer; the answer quotes the
sentence that holds it, verbatim. Nothing is generated, and where the reader finds no answer it declines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa_bot.evidence import Evidence, answer_sentence
from qa_bot.reader import Calibration, Reading
from qa_bot.types import Passage

MAX_SENTENCES = 4
DEFAULT = Calibration()


@dataclass(frozen=True)
class Selection:
    """Sentences chosen to answer, or the reason to abstain."""

    evidence: tuple[Evidence, ...]
    abstained: bool
    support: float
    reason: str = ""


def rerank(passages: Sequence[Passage], readings: Sequence[Reading],
           weight: float = DEFAULT.retrieval_weight) -> list[tuple[Passage, Reading]]:
    """Passages (in retrieval's order) reordered by the reader's score, less weight * ln(1 + retrieval rank)."""
    pairs = list(zip(passages, readings, strict=True))
    order = sorted(range(len(pairs)), key=lambda i: (-(pairs[i][1].score - weight * math.log1p(i)), i))
    return [pairs[i] for i in order]


def _repeats(ev: Evidence, chosen: Sequence[Evidence]) -> bool:
    """Mostly the same words as a sentence already chosen (articles repeat their lede and captions)."""
    words = ev.terms
    return any(c.key == ev.key or len(words & c.terms) / max(1, min(len(words), len(c.terms))) > 0.8
               for c in chosen)


def select(ranked: Sequence[tuple[Passage, Reading]], threshold: float,
           max_sentences: int = MAX_SENTENCES, margin: float = DEFAULT.runner_up_margin) -> Selection:
    """The first passage's answer sentence, plus those of passages nearly as good as the reader's best.

    The reader decides whether the passages answer at all: its best score over all of them, against the
    threshold. The ranking (reader and retrieval together) decides which passage answers first."""
    if not ranked:
        return Selection((), True, 0.0, "nothing was retrieved")
    best_passage, best = ranked[0]
    support = max(reading.score for _, reading in ranked)
    if support < threshold or not best.has_span:
        return Selection((), True, support, "the reader found no answer in the retrieved passages")
    chosen = [answer_sentence(best_passage, best)]
    for passage, reading in ranked[1:]:
        if len(chosen) >= max_sentences:
            break
        if reading.score < max(threshold, support - margin):
            continue
        ev = answer_sentence(passage, reading)
        if not _repeats(ev, chosen):
            chosen.append(ev)
    return Selection(tuple(chosen), False, support)

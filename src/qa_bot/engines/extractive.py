"""The default engine: the trained reader picks the passage and the exact answer; the answer quotes the
sentence that holds it, verbatim. Nothing is generated, and where the reader finds no answer it declines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa_bot.evidence import Evidence, answer_sentence
from qa_bot.reader import Reading
from qa_bot.types import Passage

# Runners-up: passages whose reader score is within this margin (logits) of the best also answer,
# for lists and facts spread over articles; a single fact is given once. Set on the seed sets (lists
# and multi-fact questions: 3.0 and 4 sentences answer 0.60 of the held-out seed questions, 1.5 and 3
# answered 0.49); it cannot lower fact accuracy elsewhere, only lengthen answers.
RUNNER_UP_MARGIN = 3.0
MAX_SENTENCES = 4
# Agreement with retrieval: a passage retrieval ranked low needs a higher reader score to come first
# (measured on the squad2 dev half: top-1 0.53 reader alone, 0.56 retrieval alone, 0.60 together).
RETRIEVAL_WEIGHT = 0.5


@dataclass(frozen=True)
class Selection:
    """Sentences chosen to answer, or the reason to abstain."""

    evidence: tuple[Evidence, ...]
    abstained: bool
    support: float
    reason: str = ""


def rerank(passages: Sequence[Passage], readings: Sequence[Reading],
           weight: float = RETRIEVAL_WEIGHT) -> list[tuple[Passage, Reading]]:
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
           max_sentences: int = MAX_SENTENCES, margin: float = RUNNER_UP_MARGIN) -> Selection:
    """The best passage's answer sentence, plus those of passages nearly as good; abstain under threshold."""
    if not ranked:
        return Selection((), True, 0.0, "nothing was retrieved")
    best_passage, best = ranked[0]
    if best.score < threshold or not best.has_span:
        return Selection((), True, best.score, "the reader found no answer in the retrieved passages")
    chosen = [answer_sentence(best_passage, best)]
    for passage, reading in ranked[1:]:
        if len(chosen) >= max_sentences or reading.score < max(threshold, best.score - margin):
            break
        ev = answer_sentence(passage, reading)
        if not _repeats(ev, chosen):
            chosen.append(ev)
    return Selection(tuple(chosen), False, best.score)

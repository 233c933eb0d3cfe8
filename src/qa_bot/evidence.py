"""Sentences of retrieved passages as evidence, scored by the trained reader (no hand-written answer rules)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa_bot.lexical import STOPWORDS, fold, tokens
from qa_bot.reader import Reading
from qa_bot.types import Passage


@dataclass(frozen=True)
class Evidence:
    """One sentence of one passage, with the reader's score for its passage and, where the answer
    span lies in this sentence, that span (absolute offsets)."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float
    answer_start: int = -1
    answer_end: int = -1

    @property
    def key(self) -> tuple[str, int, int]:
        """Identity of the sentence in the corpus."""
        return (self.passage.source_id, self.start, self.end)

    @property
    def answer(self) -> str:
        """The exact answer span, or '' when this sentence holds none."""
        if self.answer_start < 0:
            return ""
        p = self.passage
        return p.text[self.answer_start - p.start : self.answer_end - p.start]

    @property
    def terms(self) -> frozenset[str]:
        """Folded word tokens (for repeat detection)."""
        return frozenset(tokens(self.text))


def sentences(passage: Passage, score: float = 0.0) -> list[Evidence]:
    """Every sentence of a passage as evidence with the passage's score."""
    return [Evidence(passage, s, e, passage.text[s - passage.start : e - passage.start], score)
            for s, e in passage.sentences]


def answer_sentence(passage: Passage, reading: Reading) -> Evidence:
    """The sentence of the passage that holds the reader's span (the sentences it crosses, if several)."""
    if not reading.has_span or not passage.sentences:
        first = passage.sentences[0] if passage.sentences else (passage.start, passage.end)
        return Evidence(passage, first[0], first[1], passage.text[first[0] - passage.start : first[1] - passage.start],
                        reading.score)
    a, b = passage.start + reading.start, passage.start + reading.end
    inside = [(s, e) for s, e in passage.sentences if s < b and a < e] or [
        min(passage.sentences, key=lambda se: abs(se[0] - a))]
    s, e = inside[0][0], inside[-1][1]
    a, b = max(a, s), min(b, e)
    text = passage.text[s - passage.start : e - passage.start]
    a0, b0 = complete_span(text, a - s, b - s)
    return Evidence(passage, s, e, text, reading.score, s + a0, s + b0)


# Particles inside multi-word names ('Red Cross Society of China', 'Ludwig van Beethoven').
_NAME_PARTICLES = frozenset({"of", "de", "da", "del", "du", "van", "von"})
_WORD = re.compile(r" ([\w'’.-]*\w)")


def complete_span(text: str, a: int, b: int, max_words: int = 4) -> tuple[int, int]:
    """The span [a, b) of text grown to whole words, and a name it ends inside to its end: 'Anthonio' in
    'captain Anthonio Colve took over' becomes 'Anthonio Colve' (the reader often stops a name early)."""
    while 0 < a < len(text) and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while 0 < b < len(text) and text[b - 1].isalnum() and text[b].isalnum():
        b += 1
    words = re.findall(r"[\w'’-]+", text[a:b])
    if not words or not words[-1][0].isupper():
        return a, b
    added = 0
    while added < max_words and (m := _WORD.match(text, b)):
        word = m.group(1)
        if word[0].isupper():
            b, added = m.end(), added + 1
        elif word in _NAME_PARTICLES and (n := _WORD.match(text, m.end())) and n.group(1)[0].isupper():
            b, added = n.end(), added + 2
        else:
            break
    return a, b


def missing_specifics(question: str, texts: Sequence[str]) -> list[str]:
    """Numbers the question insists on that none of the texts contains ('the 2021 final', 'the 13th congress').

    Numbers only: names are paraphrased too often in news ('Hanoi' for Vietnam's government, 'the Swiss
    city' for Geneva) to be demanded verbatim; measured on the seeds' paraphrase questions."""
    have = set()
    for text in texts:
        have |= set(tokens(text)) | ordinals_in(text)
    return sorted(w for w in numbers_in(question) | ordinals_in(question) if w not in have)


_ORDINAL = re.compile(r"\b(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[- ])?"
                      r"(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
                      r"(?:thir|four|fif|six|seven|eigh|nine)teenth|(?:twen|thir|for|fif|six|seven|eigh|nine)tieth)\b",
                      re.IGNORECASE)


def ordinals_in(text: str) -> set[str]:
    """The numbers of ordinals written in words, from 'second' on ('the fourth-quarter profit' -> '4',
    'twenty-first' -> '21'), as numbers_in gives '4th'; 'first' says too little to be insisted on."""
    from text_to_num import alpha2digit

    found = set()
    for m in _ORDINAL.finditer(text):
        digits = re.match(r"\d+", str(alpha2digit(m.group(0).replace("-", " "), "en")))
        if digits:
            found.add(digits.group(0))
    return found


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

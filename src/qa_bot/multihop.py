"""Two-hop questions: a later part points at the answer of an earlier one ('..., and what position
does that official hold?'). The earlier part is answered from the evidence first, and its answer (a
name, an ordinal) is put into the later part before that part is searched: the bridge entity of
multi-hop QA, found without an LLM."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa_bot.evidence import Evidence, Want, candidates, head_terms, query_terms, wanted
from qa_bot.lexical import fold, terms

# 'that official', 'the same congress': the part needs what an earlier part found. 'He' or 'she'
# does too after a 'who' part; a bare 'it' mostly points at something the question itself names.
_POINTER = re.compile(r"\b(?:that|this|the same|the said)\s+(?!is\b|was\b|are\b|were\b|has\b|had\b)[a-z][\w-]*",
                      re.IGNORECASE)
_PERSON_POINTER = re.compile(r"\b(?:he|she|him|her|his)\b", re.IGNORECASE)
# Names with any leading ordinal ('13th National Party Congress'), and standalone ordinals.
_PHRASE = re.compile(
    r"(?:\b\d+(?:st|nd|rd|th)\s+)?(?:[A-Z][\w’'-]*\s+(?:(?:of|for|on|and)\s+(?:the\s+)?)?)*[A-Z][\w’'-]*"
    r"|\b\d+(?:st|nd|rd|th)\b"
)


_SPLIT = re.compile(
    r"(?:,|;)?\s+and\s+(?=(?:(?:on|in|at|by|for|from|to|with|since|until)\s+)?(?:which|what|who|whom|when|where|how|why)\b)"
    r"|;\s+",
    re.IGNORECASE,
)
# 'Khoi commented on a presentation. Who delivered it, and ...?': a statement setting the scene.
_PREAMBLE = re.compile(
    r"^(?P<pre>.*?[a-z]{2,}[.!])\s+(?P<ask>(?:Which|What|Who|Whom|Whose|When|Where|How|Why|In|On|At|From)\b.*)$",
    re.DOTALL,
)


def decompose(question: str) -> list[str]:
    """The parts of a multi-part question ('Which X did A say, and which Y does B want?').

    A leading statement goes with the first part and with every part that does not point back to an
    earlier one (those get the earlier answer instead, in resolve_parts).
    """
    m = _PREAMBLE.match(question.strip())
    preamble, asked = (m.group("pre"), m.group("ask")) if m else ("", question)
    parts = [p.strip(" ,;?") for p in _SPLIT.split(asked)]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return []
    if preamble:
        parts = [f"{preamble} {p}" if i == 0 or not points_back(p, parts[i - 1]) else p for i, p in enumerate(parts)]
    parts = [p for p in parts if len(terms(p)) >= 2]
    return parts if len(parts) > 1 else []


def points_back(part: str, earlier: str = "") -> bool:
    """Does this part lean on what an earlier part found ('that official', or 'he' after a 'who')?"""
    return bool(_POINTER.search(part)) or (bool(earlier) and wanted(earlier) is Want.PERSON
                                           and bool(_PERSON_POINTER.search(part)))


def split_bridge(part: str) -> tuple[str, str]:
    """A resolved part and the earlier answer it carries: ('what position does that official hold', 'Cuong')."""
    m = re.match(r"^(.*) \(([^()]*)\)$", part, re.DOTALL)
    return (m.group(1), m.group(2)) if m else (part, "")


def answer_phrases(part: str, ranked: Sequence[Evidence], question: str, limit: int = 1) -> list[str]:
    """What the evidence says answers this part: the names or ordinals it adds to the question."""
    want = wanted(part)
    part_terms = set(query_terms(part))
    head = set(head_terms(part))
    best: tuple[float, Evidence] | None = None
    for ev in ranked[:15]:
        if want is not Want.ANY and not candidates(ev.text, want, part):
            continue
        overlap = len(part_terms & ev.terms) / (len(part_terms) or 1)
        score = overlap + ev.score + (0.3 if head & ev.terms else 0.0)
        if best is None or score > best[0]:
            best = (score, ev)
    if best is None:
        return []
    ev = best[1]
    q = fold(question)
    if want is not Want.ANY:
        found = [ev.text[s:e] for s, e in candidates(ev.text, want, part)]
    else:
        found = [m.group(0) for m in _PHRASE.finditer(ev.text)]
        # A phrase naming the kind of thing asked for ('...Congress' for 'which Congress') first.
        found.sort(key=lambda ph: not (head & set(terms(ph))))
    asked = set(terms(question))
    out: list[str] = []
    for phrase in found:
        phrase = re.sub(r"^(?:The|A|An|In|On|At|By|For|From|As)\s+", "", phrase.strip(" ,.;:"))
        words = terms(phrase)
        # Not something the question already names, in its words or in others' ('the Foreign
        # Ministry's emulation congress' for 'The Ministry of Foreign Affairs' Patriotic Emulation Congress').
        if not words or fold(phrase) in q or len(set(words) & asked) / len(set(words)) >= 0.6:
            continue
        if phrase not in out:
            out.append(phrase)
        if len(out) >= limit:
            break
    return out


def resolve_parts(parts: Sequence[str], ranked: Sequence[Evidence], question: str) -> list[str]:
    """The parts, each later part that points back carrying the earlier part's answer."""
    out = list(parts)
    for i in range(1, len(parts)):
        if not points_back(parts[i], parts[i - 1]):
            continue
        phrases = answer_phrases(parts[i - 1], ranked, question)
        if phrases:
            out[i] = f"{parts[i]} ({'; '.join(phrases)})"
    return out

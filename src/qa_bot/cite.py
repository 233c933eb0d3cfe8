"""Markers -> citations, cut from the source by offsets; LLM sentences checked against their quotes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot.corpus import split_sentences
from qa_bot.evidence import Evidence, names_in, numbers_in
from qa_bot.lexical import tokens
from qa_bot.types import Citation

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
MIN_SIMILARITY = 0.55
RELATED_MARGIN = 0.15  # another quote lends a number or name only if it is this close to the claim


def citation(marker: int, ev: Evidence) -> Citation:
    """A citation whose quote is the article text at the sentence's offsets."""
    p = ev.passage
    return Citation(
        marker=marker,
        source_id=p.source_id,
        title=p.title,
        quote=p.text[ev.start - p.start : ev.end - p.start],
        start=ev.start,
        end=ev.end,
        score=round(max(ev.score, 0.0), 4),
        outlet=p.outlet,
        passage_start=p.start,
        passage_end=p.end,
        answer_start=ev.answer_start,
        answer_end=ev.answer_end,
        published=p.published,
        url=p.url,
    )


def compose(evidence: Sequence[Evidence]) -> tuple[str, tuple[Citation, ...]]:
    """Answer text from verbatim sentences, one marker each, and their citations."""
    parts = []
    cites: list[Citation] = []
    for ev in evidence:
        marker = len(cites) + 1
        cites.append(citation(marker, ev))
        parts.append(f"{ev.text} [{marker}]")
    return " ".join(parts), tuple(cites)


@dataclass(frozen=True)
class Checked:
    """One sentence of a draft with the verdict on it."""

    text: str
    kept: bool
    reason: str
    evidence: tuple[Evidence, ...] = ()


_MARKER_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")


def split_claims(draft: str) -> list[tuple[str, list[int]]]:
    """Sentences of a draft with the source numbers their markers name; cut with the article sentence
    splitter, so '5.6 million' and 'No. 59' stay whole."""
    flat = _MARKER_AFTER_STOP.sub(r"\2\1", draft.replace("\n", " "))  # 'x. [1]' -> 'x [1].'
    out: list[tuple[str, list[int]]] = []
    for s, e in split_sentences(flat, 0, len(flat)):
        chunk = flat[s:e]
        nums = [int(n) for g in MARKER.findall(chunk) for n in re.split(r"[,;]\s*", g) if n.strip()]
        text = MARKER.sub("", chunk).strip()
        if re.search(r"\w", text):
            out.append((text, nums))
    return out


def spelled_numbers(text: str) -> str:
    """Numbers written in words as digits ('two times' -> '2 times', 'twenty-one' -> '21'), by text2num."""
    try:
        from text_to_num import alpha2digit
    except ImportError:  # pragma: no cover - declared dependency
        return text
    return str(alpha2digit(text, "en", threshold=1))


def claim_numbers(text: str) -> set[str]:
    """The numbers a text states, however written."""
    return numbers_in(spelled_numbers(text))


def claim_names(text: str) -> set[str]:
    """Tokens of the names a text states ('Non-Proliferation' -> 'non', 'proliferation')."""
    return {t for name in names_in(text) for t in tokens(name)}


def check_claim(
    text: str, cited: Sequence[Evidence], vector: np.ndarray, vectors: dict[tuple[str, int, int], np.ndarray]
) -> Checked:
    """Keep a sentence only if its numbers and names are in the quotes and its meaning is close."""
    if not cited:
        return Checked(text, False, "cites nothing")

    def sim_of(ev: Evidence) -> float:
        return float(np.dot(vector, vectors[ev.key])) if ev.key in vectors else -1.0

    ordered = sorted(cited, key=sim_of, reverse=True)
    best = ordered[0]
    sim = sim_of(best)
    # The closest quote, plus only those other cited quotes that hold a name or number it lacks and
    # are themselves about the claim: a number from an unrelated sentence of the passage does not count.
    quotes = [best]
    needed_numbers = claim_numbers(text) - claim_numbers(best.text)
    # A name said earlier in the cited passage counts: 'According to Dang Minh Khoi, ...' when the quote says 'He'.
    before = best.passage.text[: best.end - best.passage.start]
    needed_names = claim_names(text) - set(tokens(before))
    for ev in ordered[1:]:
        if not (needed_numbers or needed_names):
            break
        if sim_of(ev) < MIN_SIMILARITY - RELATED_MARGIN:
            continue
        adds_numbers = needed_numbers & claim_numbers(ev.text)
        adds_names = needed_names & set(tokens(ev.passage.text[: ev.end - ev.passage.start]))
        if adds_numbers or adds_names:
            quotes.append(ev)
            needed_numbers -= adds_numbers
            needed_names -= adds_names
    if needed_numbers:
        return Checked(text, False, f"numbers not in the quotes: {', '.join(sorted(needed_numbers))}")
    if needed_names:
        return Checked(text, False, f"names not in the quotes: {', '.join(sorted(needed_names))}")
    if sim < MIN_SIMILARITY:
        return Checked(text, False, f"meaning too far from the quote (similarity {sim:.2f})")
    return Checked(text, True, "", tuple(quotes))


def verify(
    draft: str,
    sources: Sequence[Sequence[Evidence]],
    vectors: dict[tuple[str, int, int], np.ndarray],
    embeddings: Embeddings,
    fallback_pool: Sequence[Evidence] = (),
) -> tuple[str, tuple[Citation, ...], list[Checked]]:
    """Keep only supported sentences of an LLM draft; markers renumbered, quotes cut by offsets.

    ``sources[i]`` holds the sentences of source [i+1] shown to the model. A sentence without a
    valid marker is checked against the whole pool and kept only if some sentence supports it.
    """
    claims = split_claims(draft)
    if not claims:
        return "", (), []
    claim_vectors = np.asarray(embeddings.embed_documents([c for c, _ in claims]), dtype=np.float32)
    checked: list[Checked] = []
    for (text, nums), vec in zip(claims, claim_vectors, strict=True):
        cited = [ev for n in nums if 1 <= n <= len(sources) for ev in sources[n - 1]]
        verdict = check_claim(text, cited, vec, vectors)
        if not verdict.kept and not nums and fallback_pool:
            verdict = check_claim(text, list(fallback_pool), vec, vectors)
        checked.append(verdict)
    parts: list[str] = []
    cites: list[Citation] = []
    index: dict[tuple[str, int, int], int] = {}
    for verdict in checked:
        if not verdict.kept:
            continue
        markers = []
        for ev in verdict.evidence:
            if ev.key not in index:
                index[ev.key] = len(cites) + 1
                cites.append(citation(index[ev.key], ev))
            markers.append(index[ev.key])
        parts.append(verdict.text + " " + "".join(f"[{m}]" for m in markers))
    return " ".join(parts), tuple(cites), checked

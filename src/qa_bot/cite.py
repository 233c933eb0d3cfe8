"""Markers -> citations, cut from the source by offsets; LLM sentences checked against their quotes."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot.corpus import split_sentences
from qa_bot.documents import display_date
from qa_bot.evidence import Evidence, names_in, numbers_in
from qa_bot.lexical import STOPWORDS, fold, stem, tokens
from qa_bot.types import Citation, Passage

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
MIN_SIMILARITY = 0.50  # calibrated on the claim fixtures of the dev question set (eval/questions.jsonl)
CLAUSE_SIMILARITY = 0.70  # the same fixtures: the highest gain in kept sentences that removes no fewer errors
RELATED_MARGIN = 0.15  # another quote lends a number or name only if it is this close to the claim
_NAME_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")

Earlier = Callable[[str, int], str]  # (source_id, offset) -> the article's text before that offset


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
    too_far: bool = False  # removed only because its meaning looked too far from the quotes (similarity)


_MARKER_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")


def finished(draft: str) -> tuple[str, str]:
    """A draft cut short, up to the end of its last whole sentence (markers kept; sentences cut as the
    articles' are, so '5.6', 'Mr.' and 'U.S.' end none), and the unfinished rest."""
    flat = _MARKER_AFTER_STOP.sub(r"\2\1", draft)  # 'x. [1]' -> 'x [1].', as the claim check reads it
    spans = split_sentences(flat, 0, len(flat))
    if not spans or re.search(r"[.!?\u2026][\"'\u201d\u2019)\]]*$", flat[spans[-1][0] : spans[-1][1]]):
        return draft, ""
    start = spans[-1][0]
    rest = " ".join(MARKER.sub("", flat[start:]).split())
    return (flat[:start].rstrip(), rest) if re.search(r"\w", rest) else (draft, "")


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


# text2num writes '6 million' as '6 1000000': a number followed by a power of ten is one number.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")  # '1,588' -> '1588'; 'In 2019, 1,000' keeps its comma
_SCALED = re.compile(r"\b(\d+(?:\.\d+)?) (1(?:000)+)\b")


def _scaled(m: re.Match[str]) -> str:
    value = float(m.group(1)) * int(m.group(2))
    return str(int(value)) if value.is_integer() else str(value)


def spelled_numbers(text: str) -> str:
    """Numbers as digits, however written ('two times' -> '2 times', 'six million' and '6 million' ->
    '6000000'), by text2num."""
    try:
        from text_to_num import alpha2digit
    except ImportError:  # pragma: no cover - declared dependency
        return text
    return _SCALED.sub(_scaled, str(alpha2digit(_THOUSANDS.sub("", text), "en", threshold=1)))


def claim_numbers(text: str) -> set[str]:
    """The numbers a text states, however written."""
    return numbers_in(spelled_numbers(text))


def claim_names(text: str) -> set[str]:
    """Tokens of the names a text states ('Non-Proliferation' -> 'non', 'proliferation')."""
    return {t for name in names_in(text) for t in _words(name)}


def _words(text: str) -> set[str]:
    """Folded tokens, with the word after an apostrophe kept too ("d'Affaires" -> 'd', 'affaires')."""
    return set(tokens(text)) | set(tokens(re.sub(r"['’]", " ", text)))


def _initials(text: str) -> set[str]:
    """Initials of each run of capitalised words, small words skipped ('United Nations Security Council'
    -> 'unsc'), so an acronym the source spells out is found in it."""
    out = set()
    for run in re.findall(r"[A-Z][\w-]*(?:\s+(?:[a-z]{1,3}\s+)?[A-Z][\w-]*)*", text):
        out.add("".join(w[0] for w in run.split() if w[0].isupper()).lower())
    return out


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _name_found(name: str, words: AbstractSet[str], names: AbstractSet[str], initials: AbstractSet[str],
                acronym: bool = False) -> bool:
    """A name token of a claim stands in the source: as a word, as a form of one of the source's names
    ('Chinese' and 'China', 'Lao' and 'Laos'), or, for an acronym, as the initials of a spelled-out name
    ('UN')."""
    if name in words:
        return True
    if acronym and any(name in run for run in initials):
        return True
    for w in names:
        short, long = sorted((len(w), len(name)))
        if short >= 3 and (w.startswith(name) or name.startswith(w)) and short >= 0.75 * long:
            return True
        if _common_prefix(w, name) >= max(4, short - 1):
            return True
    return False


def _one_edit(a: str, b: str) -> bool:
    """One letter wrong, missing, added, or two neighbours swapped ('Tuscon' for 'Tucson')."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    i = _common_prefix(a, b)
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :])
    short, long = sorted((a, b), key=len)
    return short[i:] == long[i + 1 :]


_QUESTION_WORD = re.compile(r"\b(?:who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
_LOWER_WORD = re.compile(r"(?<![.!?]\s)\b[a-z][a-z'’-]+")


def _close_together(parts: Sequence[str], words: Sequence[str]) -> bool:
    """Do all these words stand within a few words of one another (the phrase's length and two more)?"""
    size = len(parts) + 2
    wanted = set(parts)
    return any(wanted <= set(words[i : i + size]) for i, w in enumerate(words) if w in wanted)


def missing_names(question: str, texts: Sequence[str], seen: Sequence[str]) -> list[str]:
    """Names the question insists on that none of the texts states: as the word, a form of one of its names
    ('Chinese', 'China'), an acronym's spelled-out name, or misspelt by one letter (users misspell names).
    A capitalised word the seen texts also write in lowercase is a common noun ('Committee', 'Final'), not
    a name; and a question in several parts (two question words) demands none, its answer may quote one.
    Nor does one written in capitals or title case ('Who Won The Final?'), whose capitals say nothing. An
    acronym is demanded only when the seen texts write it ('CEO' may be 'chief executive'), and a name
    written joined or by its initials counts ('Ha Noi' for 'Hanoi', 'Ho Chi Minh City' for 'HCM City')."""
    later = question.split()[1:]
    shouting = sum(c.isupper() for c in question) > 0.6 * max(1, sum(c.isalpha() for c in question))
    if len(_QUESTION_WORD.findall(question)) > 1 or shouting or any(
            w[:1].isupper() and fold(w) in STOPWORDS for w in later):
        return []
    common = {w for text in seen for w in _LOWER_WORD.findall(text)}
    words, names, initials = _context("\n".join(texts))
    written = _context("\n".join(seen))[0]
    acronyms = {w.lower() for w in re.findall(r"\b[A-Z]{2,}\b", question)}
    joined = set()
    for run in _NAME_RUN.findall(question):
        parts = [t for w in run.split() for t in tokens(w)]
        for a, b in itertools.combinations(range(len(parts) + 1), 2):
            if b - a > 1 and ("".join(parts[a:b]) in words or "".join(p[0] for p in parts[a:b]) in words):
                joined |= set(parts[a:b])
    missing = sorted(n for n in claim_names(question) - common - (acronyms - written) - joined
                     if not _name_found(n, words, names, initials, n in acronyms)
                     and not (len(n) >= 5 and any(_one_edit(n, w) for w in words)))
    # A name of common words ('World Cup', 'Supreme Court') is a name when the seen texts never write it
    # in lowercase as one phrase: then a quoted text must say its words close together, in any order or
    # case ('the final of the World Cup' says 'World Cup Final', 'the minister of finance' says 'Finance
    # Minister'; 'the world of work changed, and the cup' says no 'World Cup').
    seen_text = "\n".join(seen)
    for run in _NAME_RUN.findall(" ".join(later)):
        for is_common, group in itertools.groupby(run.split(), key=lambda w: set(tokens(w)) <= common):
            phrase = " ".join(group)
            parts = tokens(phrase)
            if (is_common and len(parts) > 1 and not re.search(rf"\b{' '.join(parts)}\b", seen_text)
                    and not any(_close_together(parts, tokens(text)) for text in texts)):
                missing.append(phrase)
    return missing


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# '3 in 1', '24/7', a term '2023-2025', a date 'July 8, 2025' or '8 July 2025': labels, never counts
_LABEL = re.compile(rf"\b\d+ in \d+\b|\b\d+/\d+\b|\b[12]\d{{3}}\s?[-–]\s?[12]\d{{3}}\b"
                    rf"|\b{_MONTH} \d{{1,2}},? \d{{4}}\b|\b\d{{1,2}} {_MONTH},? \d{{4}}\b")


def _unbound_numbers(claim: str, quotes: Sequence[str]) -> set[str]:
    """Numbers of the claim that the quotes hold, but for another thing: the word after the number in the
    claim is in a quote, yet never within three words after that number ('49 speeches' where the quote
    says '49 bills ... 150 speeches')."""
    said = [t for t in tokens(spelled_numbers(claim)) if t not in STOPWORDS]
    heard = [[t for t in tokens(spelled_numbers(q)) if t not in STOPWORDS] for q in quotes]
    # A label or a date the quote writes the same way ('3 in 1', 'July 8, 2025') names rather than counts.
    named = {tokens(run)[-1] for run in _LABEL.findall(claim) if any(run in q for q in quotes)}
    out = set()
    for i, tok in enumerate(said[:-1]):
        if not tok[0].isdigit() or said[i + 1][0].isdigit() or tok in named:
            continue
        noun = stem(said[i + 1])
        stems = [[stem(t) for t in q] for q in heard]
        if not any(noun in q for q in stems):
            continue  # the thing counted is paraphrased: nothing to bind to
        bound = any(q[j] == tok and noun in stems[n][j + 1 : j + 4] for n, q in enumerate(heard) for j in range(len(q)))
        if not bound:
            out.add(tok)
    return out


_JOINING = r"(?:and|but|while|which|whereas|after|before)\s+"
_CLAUSE = re.compile(rf"\s*[,;:\u2013\u2014]\s+(?:{_JOINING})?|\s+{_JOINING}", re.IGNORECASE)
MAX_CLAUSES = 12  # of one sentence: its pieces are embedded beside the claim


def _clauses(sentence: str) -> list[str]:
    """The sentence's clauses, cut at punctuation and joining words, and each run of two neighbouring
    ones, as they stand in it (pieces of two words or more, at most MAX_CLAUSES of them); none for a
    sentence of one clause."""
    cuts = [0, *(x for m in _CLAUSE.finditer(sentence) for x in (m.start(), m.end())), len(sentence)]
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=True) if len(sentence[a:b].split()) >= 2]
    if len(spans) < 2:
        return []
    spans = spans[:MAX_CLAUSES]
    return [sentence[a:b] for a, b in spans] + [sentence[a:d] for (a, _), (_, d) in itertools.pairwise(spans)]


def source_header(p: Passage) -> str:
    """What the model is shown beside a source: its article's title and publication date."""
    return f"{p.title}\n{display_date(p.published) if p.published else ''}"


def _credited(ev: Evidence, shown: str) -> str:
    """Where a name of a claim citing this quote counts: the article's title and date, the cited passage up
    to the end of the quote, and what the model was shown of the same article."""
    return source_header(ev.passage) + "\n" + ev.passage.text[: ev.end - ev.passage.start] + "\n" + shown


def _said_before(name: str, ev: Evidence, acronyms: set[str], shown: str = "") -> bool:
    """A name counts if the title or the cited passage up to the quote states it ('According to Dang Minh
    Khoi, ...' when the quote says 'He'), or what the model was shown of the same article does."""
    words, names, initials = _context(_credited(ev, shown))
    return _name_found(name, words, names, initials, name in acronyms)


def _named_in_full(missing: set[str], claim: str, ev: Evidence, shown: str, earlier: Callable[[], str]) -> set[str]:
    """Name words of the claim that the article gave in full before the quote, where the source calls the
    person by the name's last word: 'Ambassador Dang Minh Khoi' early in an article, 'According to Khoi'
    in the cited passage. The last word must stand as a name (capitalised, the very word) where names
    are credited (the title, the passage up to the quote, what the model was shown of the article), and
    a run of the claim's capitalised words ending with it and holding the missing word must stand in one
    sentence of the article before the quote. So never 'Nguyen Van An' on the strength of the word 'an'
    nor 'Chinh' of 'China', nor 'Dang' on the strength of 'Minh'. A source that calls the person by a
    title ('the ambassador said') credits a name the article gave before the quote, in one sentence,
    after that very word, capitalised ('Ambassador Dang Minh Khoi'; never 'the company Anna Berg founded'
    for 'the company said'). ``earlier`` is read
    only when needed: for a last word the source gives, or a name missing in full."""
    credited = _credited(ev, shown)
    heads = _context(credited)[1]
    runs, titled = [], []
    for run in _NAME_RUN.findall(claim):
        words = [t for w in run.split() for t in tokens(w)]
        if len(words) > 1 and words[-1] in heads and words[-1] not in missing and set(words) & missing:
            runs.append(words)
        elif len(words) > 1 and words[-1] in missing:
            titled.append(words)
    if not (runs or titled):
        return set()
    before = earlier()
    sentences = [f" {' '.join(tokens(piece))} " for piece in _SENTENCE_BREAK.split(before)]
    out: set[str] = set()
    for words in runs:
        for start in range(len(words) - 1):
            window = words[start:]
            if set(window) & missing and any(f" {' '.join(window)} " in s for s in sentences):
                out |= set(window) & missing
                break
    if titled:
        # 'Ambassador Dang Minh Khoi' before the quote, 'the ambassador' where names are credited; the title
        # capitalised, as titles before names are ('the company Anna Berg founded' names no title).
        said = f" {' '.join(tokens(credited))} "
        raw = _SENTENCE_BREAK.split(before)
        for words in titled:
            for start in range(len(words) - 1):
                name = r"\s+".join(re.escape(w) for w in words[start:])
                found = {m.group(1).lower() for s in raw for m in re.finditer(rf"\b([A-Z][a-z]+)\s+(?i:{name})\b", s)}
                if any(f" the {title} " in said for title in found - STOPWORDS):
                    out |= set(words[start:]) & missing
                    break
    return out


@functools.lru_cache(maxsize=256)
def _context(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """A source text's words, name words and initials, read once however many names are checked in it."""
    names = frozenset(t for n in names_in(text) for t in _words(n) if t not in STOPWORDS)
    return frozenset(_words(text)), names, frozenset(_initials(text))


def _shown_by_article(sources: Sequence[Sequence[Evidence]]) -> dict[str, str]:
    """The text of every source shown to the model, joined per article."""
    out: dict[str, dict[tuple[int, int], str]] = {}
    for group in sources:
        for ev in group:
            out.setdefault(ev.passage.source_id, {})[(ev.start, ev.end)] = ev.text
    return {sid: "\n".join(texts[k] for k in sorted(texts)) for sid, texts in out.items()}


def check_claim(
    text: str, cited: Sequence[Evidence], vector: np.ndarray, vectors: dict[tuple[str, int, int], np.ndarray],
    shown: dict[str, str] | None = None, earlier: Earlier | None = None,
    clauses: Callable[[list[str]], np.ndarray] | None = None,
) -> Checked:
    """Keep a sentence only if its numbers and names are in the quotes and its meaning is close: to a quote,
    or (with ``clauses``, which embeds texts) to one clause of a quote or two neighbouring ones."""
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
    # The article's title and publication date (shown to the model beside the source) count for the
    # numbers they state ('… fined, the paper reported on 12 September 2025').
    needed_numbers = claim_numbers(text) - claim_numbers(best.text) - claim_numbers(source_header(best.passage))
    acronyms = {w.lower() for w in re.findall(r"\b[A-Z]{2,6}\b", text)}
    shown = shown or {}
    shown_best = shown.get(best.passage.source_id, "")
    needed_names = {n for n in claim_names(text) if not _said_before(n, best, acronyms, shown_best)}
    if needed_names and earlier is not None:
        needed_names -= _named_in_full(needed_names, text, best, shown_best,
                                       lambda: earlier(best.passage.source_id, best.start))
    for ev in ordered[1:]:
        if not (needed_numbers or needed_names):
            break
        if sim_of(ev) < MIN_SIMILARITY - RELATED_MARGIN:
            continue
        adds_numbers = needed_numbers & claim_numbers(ev.text)
        adds_names = {n for n in needed_names if _said_before(n, ev, acronyms, shown.get(ev.passage.source_id, ""))}
        if adds_numbers or adds_names:
            quotes.append(ev)
            needed_numbers -= adds_numbers
            needed_names -= adds_names
    if needed_numbers:
        return Checked(text, False, f"numbers not in the quotes: {', '.join(sorted(needed_numbers))}")
    if needed_names:
        return Checked(text, False, f"names not in the quotes: {', '.join(sorted(needed_names))}")
    unbound = _unbound_numbers(text, [q.text for q in quotes] + [source_header(best.passage)])
    if unbound:
        return Checked(text, False, f"numbers the quotes give for something else: {', '.join(sorted(unbound))}")
    if sim < MIN_SIMILARITY and clauses is not None:
        # A claim that says one clause of a long sentence: as close as a claim to a whole sentence.
        parts = [c for q in quotes for c in _clauses(q.text)]
        if parts and float(np.max(clauses(parts) @ vector)) >= CLAUSE_SIMILARITY:
            return Checked(text, True, "", tuple(quotes))
    if sim < MIN_SIMILARITY:
        # The quotes go with it: the claim checker may still find them to support the sentence.
        return Checked(text, False, f"meaning too far from the quote (similarity {sim:.2f})", tuple(quotes),
                       too_far=True)
    return Checked(text, True, "", tuple(quotes))


class Judge(Protocol):
    """Scores (quote, claim) pairs; a claim is supported above ``threshold``, and a claim whose meaning
    looked too far from its quote by similarity is kept at or above ``rescue``."""

    threshold: float
    rescue: float

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


def _judged(checked: list[Checked], judge: Judge) -> list[Checked]:
    """The claim checker's verdict on sentences whose names and numbers passed: kept ones it does not
    find supported are removed; ones removed only for similarity that it finds supported are kept."""
    todo = [i for i, c in enumerate(checked) if c.evidence and (c.kept or c.too_far)]
    if not todo:
        return checked
    scores = judge([(" ".join(ev.text for ev in checked[i].evidence), checked[i].text) for i in todo])
    out = list(checked)
    for i, score in zip(todo, scores, strict=True):
        c = checked[i]
        if c.kept and score < judge.threshold:
            out[i] = replace(c, kept=False, reason=f"the quotes do not say this (claim check {score:.1f})")
        elif not c.kept and score >= judge.rescue:
            out[i] = replace(c, kept=True, reason="", too_far=False)
    return out


def _without_repeats(checked: list[Checked]) -> list[Checked]:
    """A kept sentence the draft already said (small models loop: 'The line cost … The line cost …') is
    removed as a repeat."""
    said: set[str] = set()
    out = []
    for c in checked:
        key = " ".join(c.text.casefold().split())
        if c.kept and key in said:
            c = replace(c, kept=False, reason="a repeat of an earlier sentence")
        elif c.kept:
            said.add(key)
        out.append(c)
    return out


def fragment(text: str) -> bool:
    """Not a sentence: brackets or quotes left open ('(14th National Party Congress: Spreading the spirit
    of ... and deep'), or a single word."""
    if text.count("(") != text.count(")") or text.count("\u201c") != text.count("\u201d") or text.count('"') % 2:
        return True
    return len(re.findall(r"[^\W\d_][\w'’-]*", text)) < 2


def verify(
    draft: str,
    sources: Sequence[Sequence[Evidence]],
    vectors: dict[tuple[str, int, int], np.ndarray],
    embeddings: Embeddings,
    fallback_pool: Sequence[Evidence] = (),
    judge: Judge | None = None,
    earlier: Earlier | None = None,
) -> tuple[str, tuple[Citation, ...], list[Checked]]:
    """Keep only supported sentences of an LLM draft; markers renumbered, quotes cut by offsets.

    ``sources[i]`` holds the sentences of source [i+1] shown to the model. A sentence without a
    valid marker is checked against the whole pool and kept only if some sentence supports it.
    With a judge (the trained claim checker), a sentence whose names and numbers stand in its quotes is
    kept or removed by what the judge reads in the quotes, not by vector similarity alone. With
    ``earlier`` (an article's text before an offset), a name given in part near the quote counts in full
    when the article named it so before ('Khoi' after 'Ambassador Dang Minh Khoi').
    """
    claims = split_claims(draft)
    if not claims:
        return "", (), []
    claim_vectors = np.asarray(embeddings.embed_documents([c for c, _ in claims]), dtype=np.float32)
    shown = _shown_by_article(sources)
    if earlier is not None:
        earlier = functools.lru_cache(maxsize=None)(earlier)  # once per article and offset in one draft

    def clauses(parts: list[str]) -> np.ndarray:
        return np.asarray(embeddings.embed_documents(parts), dtype=np.float32)

    checked: list[Checked] = []
    for (text, nums), vec in zip(claims, claim_vectors, strict=True):
        if fragment(text):
            checked.append(Checked(text, False, "a fragment, not a sentence"))
            continue
        cited = [ev for n in nums if 1 <= n <= len(sources) for ev in sources[n - 1]]
        verdict = check_claim(text, cited, vec, vectors, shown, earlier, clauses)
        if not verdict.kept and not nums and fallback_pool:
            verdict = check_claim(text, list(fallback_pool), vec, vectors, shown, earlier, clauses)
        checked.append(verdict)
    if judge is not None:
        checked = _judged(checked, judge)
    checked = _without_repeats(checked)
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

"""Score single sentences of retrieved passages as evidence for a question (no generation)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from qa_bot.corpus import KIND_WEIGHT
from qa_bot.lexical import BM25, STOPWORDS, fold, stem, terms, tokens
from qa_bot.types import Passage

# Words that say what is asked, not about what: they do not count toward coverage.
QUESTION_WORDS = frozenset(
    stem(w)
    for w in (
        "what which who whom whose when where why how many much name names list mention mentioned "
        "describe explain article articles according did does do kind kinds type sort example give ones"
    ).split()
)
_MONTHS = "january february march april may june july august september october november december"
_DATE = re.compile(
    r"\b(?:" + "|".join(_MONTHS.split()) + r")\b|\b(?:19|20)\d\d\b|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:"
    + "|".join(_MONTHS.split()) + r")\b|\b(?:this|next|last)\s+(?:year|month|week)\b|\bby\s+(?:19|20)\d\d",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|double|twice|thrice)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z’'-]+(?:\s+[A-Z][a-z’'-]+)+")


class Want(Enum):
    """The kind of answer a question asks for."""

    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    DURATION = "duration"
    TITLE = "title"
    ANY = "any"


def wanted(question: str) -> Want:
    """What the question asks for, from its wh-words (classic answer-type detection)."""
    q = fold(question)
    if re.search(r"\bhow long\b|\b(what|which) (time ?frame|time horizon|horizon|period of time|length of time)\b"
                 r"|\bfor how many (years|months|decades)\b|\bover (what|which) (period|span|timeframe)\b", q):
        return Want.DURATION
    if re.search(r"\bhow (many|much|large|big)\b|\bworth\b"
                 r"|\bwhat\b[^?]{0,40}\b(number|percentage|share|amount|figure|rate|budget|cost|price|total|sum)\b", q):
        return Want.NUMBER
    if re.search(r"\bwhen\b|\b(what|which) (dates?|years?|months?|days?|time)\b|\bon what date\b", q):
        return Want.DATE
    if re.search(r"\b(title|titles|theme|slogan|motto)s? (of|for)\b"
                 r"|\bwhat (was|were|is|are) (it|they) (called|titled)\b"
                 r"|\bname of the (?:[\w-]+ ){0,2}(report|resolution|document|book|programme|program|campaign|"
                 r"presentation|project|initiative|exhibition|seminar|agreement|strategy|plan)\b", q):
        return Want.TITLE
    if re.search(r"(^|[.!?]\s+)(according to \w+, )?who\b"
                 r"|\bwho (is|was|are|were|heads|leads|chairs|chaired|said|serves|served)\b"
                 r"|^\s*whose\b|\bwhom\b|\bname of the (?:[\w-]+ ){0,5}?(?:" + _PEOPLE.pattern + ")", q):
        return Want.PERSON
    if re.search(r"\b(which|what) (city|country|capital|town|place|nation)\b|\bwhere (is|was|will|did|does|do)\b", q):
        return Want.PLACE
    return Want.ANY


# People in news copy come with a title before the name or an office after it.
_TITLES = (
    r"(?:Ambassador|President|Prime Minister|Minister|Secretary|General|Chairman|Chairwoman|Chair|Director|Head|Deputy|"
    r"Premier|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Professor|Prof\.?|Envoy|Counsellor|Member|Governor|Mayor|Senator|"
    r"Representative|Chief|Commissioner|Spokesperson|Spokesman|Uncle|King|Queen|Prince|Pope)"
)
_CAP = r"[A-Z][a-zà-ỹ’'-]+"
_PERSON = re.compile(
    rf"\b{_TITLES}(?:[- ]{_CAP})*?(?:\s+of\s+(?:the\s+)?{_CAP}(?:\s+{_CAP})*?)?\s+(?P<a>{_CAP}(?:\s+{_CAP}){{1,4}})"
    rf"|(?P<b>{_CAP}(?:\s+{_CAP}){{1,4}}),\s+(?:the\s+|a\s+)?{_TITLES}"
)
_PLACE = re.compile(rf"\b(?P<by>in|at|from|of)\s+(?:the\s+)?(?P<p>{_CAP}(?:\s+{_CAP})*)")
_DAY_MONTH = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:" + "|".join(_MONTHS.split()) + r")\b", re.IGNORECASE)
_MONTH_DAY = re.compile(r"\b(?:" + "|".join(_MONTHS.split()) + r")\s+\d{1,2}\b", re.IGNORECASE)


_AUX = frozenset("did does do is are was were has have had will would can could should may might".split())


def _leading_phrase(text: str, limit: int) -> list[str]:
    """The first words of a folded text, up to the first small word or auxiliary: the noun phrase."""
    phrase: list[str] = []
    for word in re.findall(r"[\w’'-]+", text)[:limit]:
        if word in STOPWORDS or word in _AUX:
            break
        phrase.append(word)
    return phrase


def counted(question: str) -> tuple[str, tuple[str, ...]]:
    """What 'how many X' counts: the stem of its head noun and of the words before it.

    'How many foreign delegations attended...' counts 'delegation', qualified by 'foreign'.
    """
    m = re.search(r"\bhow many\s+(.*)", fold(question))
    phrase = _leading_phrase(m.group(1), 4) if m else []
    if not phrase:
        return "", ()
    plural = [i for i, w in enumerate(phrase) if re.search(r"[^su]s$|ies$", w) or w == "people"]
    head = plural[0] if plural else 0
    return stem(phrase[head]), tuple(stem(w) for w in phrase[:head])


def head_terms(question: str) -> list[str]:
    """The stems of the noun phrase a 'which/what X' question asks for ('Which Politburo resolution on...').

    That phrase names the kind of answer wanted; the rest of the question only says where to find it.
    """
    m = re.search(r"\b(?:which|what)\s+(?:(?:kind|kinds|type|types|sort|sorts|form|forms) of\s+)?(.*)", fold(question))
    if not m:
        return []
    return [t for t in terms(" ".join(_leading_phrase(m.group(1), 5))) if t not in QUESTION_WORDS]


_ORDINAL_OR_YEAR = re.compile(r"\b\d+(?:st|nd|rd|th)\b|\b(?:19|20)\d\d\b(?:\s*[–-]\s*(?:19|20)?\d\d\b)?")
# Names of bodies are not places: 'at the United Nations' does not say in which city.
_ORG_WORD = re.compile(
    r"\b(?:Nations|Council|Organi[sz]ation|Committee|Conference|Forum|Party|Ministry|Assembly|Union|Bank|Fund|"
    r"Agency|Mission|Treaty|Summit|Office|Congress|Group|Association|Court|Commission|Programme|Program|"
    r"Secretariat|Department|Institute|University|Company|Corporation|Session|Meeting|Resolution|Report)\b"
)
_DURATION = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"several|a few|many|a|an)(?:\s*(?:to|-|–|or|and)\s*(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"fifteen|twenty|thirty))?[\s-]+(?:years?|months?|decades?|weeks?|days?)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(r"USD|US\$|\$|€|£|VND|\bdong\b|\beuros?\b|\bdollars?\b|\bfrancs?\b")
_ONCE = {"once": "1", "twice": "2", "thrice": "3"}


def _mask(pattern: re.Pattern[str], text: str) -> str:
    """The text with the pattern's matches blanked out, offsets unchanged."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _is_new(item: str, question: str) -> bool:
    """Not already in the question, as whole words ('2' is new to a question saying '2025')."""
    item = fold(item).strip()
    return bool(item) and not re.search(r"(?<!\w)" + re.escape(item) + r"(?!\w)", fold(question))


def _has_term(term: str, own: set[str], text: str) -> bool:
    """The term, a longer or shorter form of it ('Vietnamese' for 'Vietnam'), or its acronym spelled out."""
    if term in own or _acronym_in(term, text):
        return True
    prefix = term[: max(6, len(term) - 3)]
    return len(term) >= 6 and any(t.startswith(prefix) or (len(t) >= 6 and term.startswith(t)) for t in own)


def _deadline_asked(question: str) -> bool:
    return bool(re.search(r"\bby when\b|\bdeadline\b|\btarget\b|\bgoal\b|\baim\b|\bvision\b|\buntil\b",
                          fold(question)))


def candidates(text: str, want: Want, question: str = "") -> list[tuple[int, int]]:
    """Spans of the sentence holding the kind of thing asked for, and one the question does not already name."""
    if want is Want.NUMBER:
        cardinal = _mask(_MONTH_DAY, _mask(_ORDINAL_OR_YEAR, text))
        head, modifiers = counted(question)
        if head:
            # 'How many foreign delegations' wants a number standing before 'delegations', in a
            # sentence that also says 'foreign': not any number, nor delegations of another kind.
            own = set(terms(text)) | acronyms(text)
            if not all(_has_term(m, own, text) for m in modifiers):
                return []
            words = list(re.finditer(r"[\w.,’'-]+", cardinal))
            out = []
            for i, m in enumerate(words):
                word = m.group(0).strip(".,")
                if not (_NUMBER.fullmatch(word) or re.fullmatch(r"\d[\d,.]*", word)) or not _is_new(word, question):
                    continue
                after: list[str] = []  # the noun phrase after the number: up to the first small word
                for w in words[i + 1 : i + 5]:
                    if fold(w.group(0).strip(".,")) in STOPWORDS:
                        break
                    after.append(w.group(0))
                    if w.group(0)[-1] in ".,":
                        break
                window = terms(" ".join(after))
                if head in window or (head == stem("times") and fold(word) in _ONCE):
                    out.append((m.start(), m.end()))
            return out
        q = fold(question)
        if re.search(r"\b(rate|percentage|percent|share)\b", q):
            return [m.span() for m in re.finditer(r"[\d.,]+\s*(?:%|percent|per cent)|\b\w+-digit\b", cardinal)]
        if re.search(r"\b(budget|cost|price|sum|worth|fund|funds|money|spent|donat\w*|how much)\b", q):
            return [m.span() for m in _MONEY.finditer(cardinal)]
        return [m.span() for m in _NUMBER.finditer(cardinal) if _is_new(m.group(0), question)]
    if want is Want.DURATION:
        return [m.span() for m in _DURATION.finditer(text) if _is_new(m.group(0), question)]
    if want is Want.DATE:
        deadline = _deadline_asked(question)
        found = [m.span() for m in _DATE.finditer(text)
                 if _is_new(m.group(0), question) and (deadline or not fold(m.group(0)).startswith("by "))]
        if re.search(r"\b(what|which) (date|day)\b", fold(question)):
            # 'On what date' is not answered by 'later this year': a day of a month is.
            days = [m.span() for m in _MONTH_DAY.finditer(text)] + [m.span() for m in _DAY_MONTH.finditer(text)]
            found = [(s, e) for s, e in found if any(ds <= e and s <= de for ds, de in days)]
        return found
    if want is Want.PERSON:
        found = []
        for m in _PERSON.finditer(text):
            (start, end), name = (m.span("a"), m.group("a")) if m.group("a") else (m.span("b"), m.group("b"))
            bodies = list(_ORG_WORD.finditer(name))
            if bodies:
                # 'Vice President of the European Investment Bank Anna Berg': the name is what follows the body.
                start += bodies[-1].end() + 1
                name = text[start:end]
                if len(name.split()) < 2:
                    continue
            if _is_new(name, question):
                found.append((start, end))
        place = _locate(text, _role(question))
        if place is not None:
            # 'the name of the Prime Minister of Singapore': in a sentence that mentions that office, the
            # answer is the name standing next to it, not another name further on.
            at, end = place
            found = [(s, e) for s, e in found if -40 <= s - end <= 3 or 0 <= at - e <= 40]
        return found
    if want is Want.TITLE:
        quoted = [m.span(1) if m.group(1) else m.span(2) for m in _QUOTED.finditer(text)
                  if _is_new(m.group(1) or m.group(2), question)]
        named = [m.span() for m in _TITLED.finditer(text) if _is_new(m.group(0), question)
                 and len(m.group(0).split()) >= 3 and m.start() > 0 and not _ORG_WORD.search(m.group(0))]
        return quoted + named
    if want is Want.PLACE:
        # 'of' names a country only as 'the Prime Minister of Singapore' does, for a 'which country' question.
        countries = bool(re.search(r"\b(country|nation)", fold(question)))
        return [m.span("p") for m in _PLACE.finditer(text)
                if _is_new(m.group("p"), question) and not _ORG_WORD.search(m.group("p"))
                and (m.group("by") != "of" or countries)]
    return [(0, len(text))]


def people(text: str, question: str = "") -> set[str]:
    """Names of people in the text (by title or office) that the question does not already give."""
    return {fold(text[s:e]) for s, e in candidates(text, Want.PERSON, question)}


_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "both": 2}
_PEOPLE = re.compile(r"(?:ambassador|leader|official|minister|diplomat|envoy|people|person|figure|delegate|speaker|"
                     r"representative|chair|head|president|secretar|politician|individual)")


def people_asked(question: str) -> int:
    """How many people 'Which two ambassadors...' asks for (0 when it asks for no set number of people)."""
    m = re.search(r"\b(?:which|what|name|who were the|who are the)\s+(two|three|four|five|both)((?:\s+[\w-]+){1,3})",
                  fold(question))
    return _NUMBERS[m.group(1)] if m and any(_PEOPLE.match(w) for w in m.group(2).split()) else 0


_QUOTED = re.compile(r"[“\"«]([^”\"»]{8,})[”\"»]|(?<!\w)['‘]([^'’]{8,}?)['’](?!\w)")
_TITLED = re.compile(r"[A-Z][\w’'-]*(?:,?\s+(?:(?:of|and|for|to|on|in|the|a)\s+)*[A-Z][\w’'-]*)+")


def _role(question: str) -> str:
    """The office a person question describes: 'the Prime Minister of Singapore' in 'the name of the Prime Minister
    of Singapore with whom...'; empty when it names none."""
    m = re.search(r"\b(?:name of|who (?:is|was|are|were)) the ((?:[\w’'-]+\s+){0,5}?[\w’'-]+)"
                  r"(?=\s+(?:with|who|whom|that|which|at|in|during|when)\b|\s*[,?]|$)", fold(question))
    if not m or (not _PEOPLE.search(m.group(1)) and not re.search(r"minister|secretary|general|director", m.group(1))):
        return ""
    return m.group(1)


def _locate(text: str, role: str) -> tuple[int, int] | None:
    """Where the text names the office, in any word order ('Vice President of the European Investment Bank'
    for 'European Investment Bank Vice President'): the shortest span holding all its words."""
    wanted_terms = set(terms(role))
    if not wanted_terms:
        return None
    words = [(m.start(), m.end(), t) for m in re.finditer(r"[\w’'-]+", text) for t in terms(m.group(0))[:1]]
    best: tuple[int, int] | None = None
    for i, (start, _, _) in enumerate(words):
        missing = set(wanted_terms)
        for _, end, term in words[i:]:
            missing.discard(term)
            if not missing:
                if end - start <= len(role) + 40 and (best is None or end - start < best[1] - best[0]):
                    best = (start, end)
                break
    return best


def has_kind(text: str, want: Want, question: str = "") -> bool:
    """Does the sentence hold the kind of thing asked for, and one the question does not already name?"""
    return bool(candidates(text, want, question))


def _acronym_in(term: str, text: str) -> bool:
    """Is 'un' spelled out in the text ('United Nations', or 'UN' inside 'United Nations Security Council')?"""
    return len(term) >= 2 and term.isalpha() and any(term in initials for initials in acronyms(text))


FOCUS_SHARE = 0.4
# A sentence whose subject points back ('These are...', 'This shows...') leans on the one before it.
_ANAPHORIC = re.compile(
    r"^\W*(?:These|Those|Such|This)\b(?!\s+(?:year|month|week|morning|afternoon|evening|time)\b)"
    r"|^\W*(?:They|It)\s+(?:are|were|is|was|will|would|have|has|had|include|includes|reflect|reflects|show|shows|"
    r"demonstrate|demonstrates|mean|means|marks?|represents?|remains?|also|all)\b"
    r"|^\W*(?:For example|For instance|Specifically|Namely),"
    r"|^[^,.]{3,60},\s+(?:they|he|she|it|this|these)\s+(?:are|is|was|were|will|would|have|has|had|also|must|should)\b"
)
# Share of the question (by IDF) that must sit within reach of a typed candidate answer.
NEAR_SHARE = 0.05


@dataclass(frozen=True)
class Evidence:
    """One sentence of one retrieved passage, scored for the question."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float
    dense: float
    coverage: float
    fits: bool
    focus: bool = True
    terms: frozenset[str] = frozenset()
    near: float = 1.0

    @property
    def key(self) -> tuple[str, int, int]:
        """Identity of the sentence in the corpus."""
        return (self.passage.source_id, self.start, self.end)


def query_terms(query: str) -> list[str]:
    """Content terms of a question."""
    return [t for t in dict.fromkeys(terms(query)) if t not in QUESTION_WORDS]


def coverage(q_terms: list[str], sentence_terms: set[str], bm25: BM25) -> float:
    """IDF-weighted share of the question's content terms present in the sentence."""
    if not q_terms:
        return 0.0
    total = sum(bm25.idf_of(t) for t in q_terms)
    have = sum(bm25.idf_of(t) for t in q_terms if t in sentence_terms)
    return have / total if total else 0.0


_ORDINAL = re.compile(r"\b\d+(?:st|nd|rd|th)\b")


def near_coverage(
    text: str, spans: list[tuple[int, int]], q_terms: list[str], bm25: BM25, reach: int = 80, question: str = ""
) -> float:
    """How much of the question sits close to a candidate answer (classic answer-proximity in QA).

    A date forty words away from what was asked about answers something else.
    """
    best = 0.0
    asked = set(_ORDINAL.findall(question)) if question else set()
    for s, e in spans:
        nearby = text[max(0, s - reach) : e + reach]
        told = set(_ORDINAL.findall(nearby))
        if asked and told and not asked & told:
            continue  # the theme of the 14th Congress does not answer for the 13th
        best = max(best, coverage(q_terms, set(terms(nearby)), bm25))
    return best


def score_sentences(
    question: str,
    query: str,
    passages: list[Passage],
    query_vector: np.ndarray,
    sentence_vectors: dict[tuple[str, int, int], np.ndarray],
    bm25: BM25,
) -> list[Evidence]:
    """Every distinct sentence of the passages, best first."""
    want = wanted(question)
    q_terms = query_terms(query)
    own_terms = query_terms(question)
    # The question's names and numbers that the collection knows at all: a typed answer must come
    # from a passage holding most of them, by weight ('Ambassador to Japan' is not answered by a
    # Geneva passage; 'the UN in Geneva' is, though the passage spells out United Nations).
    marked = {stem(w) for w in names_in(question)} | {t for t in tokens(question) if t[0].isdigit()}
    known = [t for t in own_terms if t in marked and bm25.postings.get(t) is not None]
    # A name, date, place, span or count must stand near what was asked about; an amount or a rate
    # carries its own unit ('USD', '%') and is often worded far from the question ('growth' for 'expansion').
    proximal = want in (Want.DATE, Want.PERSON, Want.PLACE, Want.DURATION, Want.TITLE) or bool(counted(question)[0])
    asked_names = question_names(question)
    # Names the question gives to say whose words it means ('in Mai Phan Dung's retrospective') are
    # usually said once per article, not in the sentence that answers: half credit to every sentence
    # of an article that names them.
    said = [(set(terms(p.text)), set(terms(p.title))) for p in passages]
    named: dict[str, set[str]] = {}
    for p, (body, title) in zip(passages, said, strict=True):
        named.setdefault(p.source_id, set()).update(t for t in known if t in body or t in title)
    seen: set[tuple[str, int, int]] = set()
    out: list[Evidence] = []
    for rank, (p, (passage_terms, title_terms)) in enumerate(zip(passages, said, strict=True)):
        # The article's title speaks for all its passages; 'UN' is in a passage saying 'United Nations'.
        about = passage_terms | title_terms | {t for t in known if _acronym_in(t, p.text)}
        focus = not known or coverage(known, about, bm25) >= FOCUS_SHARE
        for j, (s, e) in enumerate(p.sentences):
            key = (p.source_id, s, e)
            vec = sentence_vectors.get(key)
            dense = float(np.dot(query_vector, vec)) if vec is not None else 0.0
            if j and _ANAPHORIC.match(p.text[s - p.start : e - p.start]):
                # 'These are key areas of focus' says nothing without the sentence before it:
                # the two are one piece of evidence, quoted together.
                s0 = p.sentences[j - 1][0]
                if "\n" not in p.text[s0 - p.start : s - p.start].strip():
                    prev = sentence_vectors.get((p.source_id, s0, p.sentences[j - 1][1]))
                    if prev is not None:
                        dense = max(dense, float(np.dot(query_vector, prev)))
                    s, key = s0, (p.source_id, s0, e)
            if key in seen:
                continue
            seen.add(key)
            text = p.text[s - p.start : e - p.start]
            own = set(terms(text)) | acronyms(text)
            # A follow-up's own words count as much as the conversation it was resolved with.
            cov = max(coverage(q_terms, own, bm25), coverage(own_terms, own, bm25)) if own_terms else coverage(
                q_terms, own, bm25)
            elsewhere = named.get(p.source_id, set()) - own
            if elsewhere:
                cov = min(1.0, cov + 0.5 * coverage(own_terms or q_terms, elsewhere, bm25))
            ctx = coverage(q_terms, passage_terms, bm25)
            spans = candidates(text, want, question)
            fits = bool(spans)
            near = max(near_coverage(text, spans, own_terms, bm25, question=question),
                       near_coverage(text, spans, q_terms, bm25, question=question)) if fits and proximal else 1.0
            if fits and not proximal and want is Want.NUMBER and asked_names:
                # An amount or a rate carries its unit, but its sentence must still name someone the question
                # names: 'how much did the WHO give' is not answered by what the diaspora gave.
                near = 1.0 if asked_names & set(tokens(text)) else 0.0
            score = (0.45 * dense + 0.4 * cov + 0.15 * ctx + (0.05 if fits else -0.05)) * (
                0.5 + 0.5 * KIND_WEIGHT.get(p.kind, 0.5)
            ) - 0.01 * rank
            if text.rstrip("\"'”’) ").endswith("?"):
                score *= 0.6  # an interviewer's question is not evidence
            out.append(Evidence(p, s, e, text, round(score, 4), round(dense, 4), round(cov, 4), fits, focus,
                                frozenset(own), round(near, 4)))
    out.sort(key=lambda ev: -ev.score)
    return out


def question_names(question: str) -> set[str]:
    """Folded names in a question: capitalised words after the first, and acronyms even when they
    spell a small word ('WHO', 'US')."""
    caps = {fold(w) for w in re.findall(r"\b[A-Z]{2,}\b", question)}
    return names_in(question) | caps


@functools.lru_cache(maxsize=20_000)
def acronyms(text: str) -> frozenset[str]:
    """Initials of the capitalised names in the text ('United Nations' -> 'un'), so a question saying
    'UN' covers a sentence that spells it out."""
    out = set()
    for run in _CAPITAL_RUN.finditer(text):
        words = re.findall(r"[A-Z][\w’'-]*", run.group(0))
        if len(words) >= 2:
            out.add("".join(w[0] for w in words).lower())
    return frozenset(out)


_CAPITAL_RUN = re.compile(r"(?:[A-Z][\w’'-]*(?:\s+(?:of|the|for|on|and)\s+|\s+)?)+")


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

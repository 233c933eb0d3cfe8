"""Words for the lexical side: a tokenizer that keeps names, numbers and dates (BM25 over them: lexindex.py)."""

from __future__ import annotations

import functools
import re
import unicodedata

STOPWORDS = frozenset(
    (
    "a about above after again against all also am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for from "
    "further had has have having he her here hers herself him himself his how i if in into is "
    "it its itself just me more most my myself no nor not now of off on once only or other our "
    "ours ourselves out over own same she should so some such than that the their theirs them "
    "themselves then there these they this those through to too under until up very was we were "
    "what when where which while who whom why will with would you your yours yourself "
    "yourselves s t don shall may might must said says say tell told according per via whose "
    "whats"
).split()
)
# Bump when tokens()/stem() change: stored index terms of another version are recomputed at load.
LEXICAL_VERSION = 5
_TOKEN = re.compile(r"\d[\d,.]*\d|\d|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase without accents, so 'Chí' matches 'Chi'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("đ", "d")


# British and American spellings meet ('specialised' and 'specialized', 'defence' and 'defense').
_SPELLING = (
    (re.compile(r"(?<=\w{3})is(e|es|ed|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"(?<=\w{2})ys(e|es|ed|ing)$"), r"yz\1"),
    (re.compile(r"(?<=\w{3})our(s|ed|ing|able|ite|ites)?$"), r"or\1"),
    (re.compile(r"(?<=[ef])ence(s)?$"), r"ense\1"),
    (re.compile(r"(?<=\w{3})tre(s)?$"), r"ter\1"),
    (re.compile(r"(?<=\w{4})mme(s)?$"), r"m\1"),
)


def americanize(word: str) -> str:
    """One spelling for words English writes two ways; applied to questions and articles alike."""
    for pattern, repl in _SPELLING:
        word = pattern.sub(repl, word, count=1)
    return word


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'elections' with 'election'. Cached: vocabularies are small."""
    if word.isdigit() or len(word) <= 3:
        return word
    word = americanize(word)
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            word = word[: len(word) - len(suffix)] + keep
            break
    # 'conclude' and 'concluded' both become 'conclud'.
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def tokens(text: str) -> list[str]:
    """Raw folded tokens; numbers lose their thousands separators ('1,588' -> '1588')."""
    out: list[str] = []
    for tok in _TOKEN.findall(fold(text)):
        if tok[0].isdigit():
            tok = tok.replace(",", "")
            tok = tok.rstrip(".")
        else:
            tok = tok.replace("’", "'").split("'")[0]
        if tok:
            out.append(tok)
    return out


def terms(text: str) -> list[str]:
    """Index terms: folded, stemmed tokens without stop words."""
    return list(_terms(text))


@functools.lru_cache(maxsize=20_000)
def _terms(text: str) -> tuple[str, ...]:
    # The same passages and sentences are read for question after question: cached by text.
    return tuple(stem(t) for t in tokens(text) if t not in STOPWORDS)

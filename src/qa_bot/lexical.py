"""Words for the lexical side: a tokenizer that keeps names, numbers and dates, and BM25 over it."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

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


class BM25:
    """Okapi BM25 over an inverted index; scoring touches only the documents that hold query terms."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        self.avgdl = float(lengths.mean()) if self.n else 0.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        norm = self.k1 * (1 - self.b + self.b * lengths / (self.avgdl or 1.0))
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.idf: dict[str, float] = {}
        for term, (ids, tfs) in postings.items():
            idx = np.array(ids, dtype=np.int64)
            freq = np.array(tfs, dtype=np.float32)
            self.postings[term] = (idx, freq * (self.k1 + 1) / (freq + norm[idx]))
            df = len(ids)
            self.idf[term] = math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query terms."""
        out = np.zeros(self.n, dtype=np.float32)
        for term in set(query):
            hit = self.postings.get(term)
            if hit is not None:
                idx, weight = hit
                out[idx] += self.idf[term] * weight
        return out

    def idf_of(self, term: str) -> float:
        """Inverse document frequency; unseen terms get the highest."""
        return self.idf.get(term, math.log(1 + (self.n + 0.5) / 0.5))

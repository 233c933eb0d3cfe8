"""Training and calibration examples for the evidence reader, made from SQuAD 1.1 train.

Each example is a question and a context of 1-4 consecutive sentences (cut with the project's own
sentence splitter, so training sees what the engine sees), with the answer span inside the context,
or no span (SQuAD 2.0 style: the [CLS] token) when the context does not answer. Negatives are the
unanswerable questions users ask:
- ``same``: other sentences of the answer's own paragraph (topical, same words nearby);
- ``other``: the paragraph of the same article that shares most words with the question;
- ``changed``: the question with one specific changed (a year, number or name swapped for another of
  the same kind from the same article) against the very context that answered the original;
- ``written``: questions written to look answerable (train/data/written/, README there).
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qa_bot.corpus import split_sentences

WRITTEN = Path(__file__).parent / "data" / "written"
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
# A run of capitalised words not at the start of the question: a name the question insists on.
_NAME = re.compile(r"(?<=\w )(?:[A-Z][\w'’.-]+)(?: (?:of |the |de )?[A-Z][\w'’.-]+)*")
_STOP = frozenset("the a an of in on at to for by and or is was were are be been what which who whom whose when "
                  "where why how did does do with from as that this it its his her their".split())


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def _window(spans: list[tuple[int, int]], first: int, last: int, rng: random.Random) -> tuple[int, int]:
    """A window of 1-4 sentences holding sentences first..last, at a random place around them."""
    n = len(spans)
    size = min(n, max(last - first + 1, rng.choice((1, 2, 2, 3, 3, 4))))
    lo_min, lo_max = max(0, last - size + 1), min(first, n - size)
    lo = rng.randint(lo_min, max(lo_min, lo_max))
    return lo, min(n - 1, max(last, lo + size - 1))


def _cut(context: str, spans: list[tuple[int, int]], lo: int, hi: int) -> tuple[str, int]:
    return context[spans[lo][0] : spans[hi][1]], spans[lo][0]


def _changed(question: str, article_text: str, context: str, rng: random.Random) -> str | None:
    """The question with one year, number or name replaced by another of the article's, absent from context."""
    numbers = [m for m in _NUMBER.finditer(question)]
    names = [m for m in _NAME.finditer(question)]
    if numbers and (not names or rng.random() < 0.6):
        m = rng.choice(numbers)
        pool = [n for n in set(_NUMBER.findall(article_text)) if n not in context and len(n) == len(m.group(0))]
        if not pool:
            value = m.group(0)
            if not value.isdigit():
                return None
            pool = [str(int(value) + d) for d in (-3, -2, -1, 1, 2, 3) if str(int(value) + d) not in context]
        if not pool:
            return None
        return question[: m.start()] + rng.choice(pool) + question[m.end() :]
    if names:
        m = rng.choice(names)
        pool = [n for n in set(_NAME.findall(article_text)) if n not in context and n != m.group(0)
                and len(n.split()) == len(m.group(0).split())]
        if not pool:
            return None
        return question[: m.start()] + rng.choice(pool) + question[m.end() :]
    return None


def examples(articles: list[dict[str, Any]], seed: int, per_question: float = 1.0) -> Iterator[dict[str, Any]]:
    """Positive and negative examples for the articles' questions; per_question < 1 samples questions."""
    rng = random.Random(seed)
    for article in articles:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        para_spans = [split_sentences(c, 0, len(c)) for c in paragraphs]
        para_words = [_words(c) for c in paragraphs]
        article_text = "\n".join(paragraphs)
        for pi, para in enumerate(article["paragraphs"]):
            context, spans = para["context"], para_spans[pi]
            if not spans:
                continue
            for qa in para["qas"]:
                if rng.random() > per_question:
                    continue
                question = qa["question"].strip()
                answer = qa["answers"][0]
                a_start, a_text = answer["answer_start"], answer["text"]
                a_end = a_start + len(a_text)
                if context[a_start:a_end] != a_text:
                    continue
                first = next((i for i, (s, e) in enumerate(spans) if s <= a_start < e), None)
                last = next((i for i, (s, e) in enumerate(spans) if s < a_end <= e), None)
                if first is None or last is None or last - first > 3:
                    continue
                lo, hi = _window(spans, first, last, rng)
                text, offset = _cut(context, spans, lo, hi)
                yield {"question": question, "context": text, "answer_start": a_start - offset,
                       "answer_text": a_text, "kind": "positive", "title": article["title"]}
                # Other sentences of the same paragraph.
                rest = [i for i in range(len(spans)) if i < first or i > last]
                if rest and rng.random() < 0.7:
                    i = rng.choice(rest)
                    j = min(len(spans) - 1, i + rng.randint(0, 2))
                    j = first - 1 if i < first <= j else j
                    neg, _ = _cut(context, spans, i, j)
                    if a_text.lower() not in neg.lower():
                        yield {"question": question, "context": neg, "answer_start": -1, "answer_text": "",
                               "kind": "same", "title": article["title"]}
                # The most similar other paragraph of the article.
                q_words = _words(question)
                others = [k for k in range(len(paragraphs)) if k != pi and a_text.lower() not in paragraphs[k].lower()]
                if others and rng.random() < 0.7:
                    k = max(others, key=lambda k: len(q_words & para_words[k]) + rng.random())
                    sp = para_spans[k]
                    if sp:
                        # the window of that paragraph that shares most words with the question
                        i = max(range(len(sp)), key=lambda x: len(q_words & _words(paragraphs[k][sp[x][0]:sp[x][1]])))
                        j = min(len(sp) - 1, i + rng.randint(0, 2))
                        neg, _ = _cut(paragraphs[k], sp, i, j)
                        yield {"question": question, "context": neg, "answer_start": -1, "answer_text": "",
                               "kind": "other", "title": article["title"]}
                # One specific of the question changed.
                if rng.random() < 0.6:
                    changed = _changed(question, article_text, text, rng)
                    if changed and changed != question:
                        yield {"question": changed, "context": text, "answer_start": -1, "answer_text": "",
                               "kind": "changed", "title": article["title"]}


def load_written(names: list[str]) -> list[dict[str, Any]]:
    """The rows of train/data/written/unanswerable-<name>.jsonl for each name (missing files give none)."""
    rows = []
    for name in names:
        path = WRITTEN / f"unanswerable-{name}.jsonl"
        if path.exists():
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def written(articles: list[dict[str, Any]], rows: list[dict[str, Any]], seed: int) -> Iterator[dict[str, Any]]:
    """Written unanswerable (and answerable) questions, each against a window of its paragraph."""
    rng = random.Random(seed)
    contexts = {f"{a['title']}#{i}": p["context"] for a in articles for i, p in enumerate(a["paragraphs"])}
    for row in rows:
        context = contexts.get(row["paragraph_id"])
        if context is None:
            continue
        spans = split_sentences(context, 0, len(context))
        title = row["paragraph_id"].rsplit("#", 1)[0]
        if row.get("how") == "answerable":
            a_text = row.get("answer") or ""
            a_start = context.find(a_text)
            if not a_text or a_start < 0:
                continue
            first = next((i for i, (s, e) in enumerate(spans) if s <= a_start < e), 0)
            last = next((i for i, (s, e) in enumerate(spans) if s < a_start + len(a_text) <= e), first)
            lo, hi = _window(spans, first, last, rng)
            text, offset = _cut(context, spans, lo, hi)
            yield {"question": row["question"], "context": text, "answer_start": a_start - offset,
                   "answer_text": a_text, "kind": "written-answerable", "title": title}
            continue
        plausible = row.get("plausible_answer") or ""
        at = context.find(plausible) if plausible else -1
        first = next((i for i, (s, e) in enumerate(spans) if s <= at < e), rng.randrange(len(spans)))
        lo, hi = _window(spans, first, first, rng)
        text, _ = _cut(context, spans, lo, hi)
        yield {"question": row["question"], "context": text, "answer_start": -1, "answer_text": "",
               "kind": f"written-{row.get('how', 'unanswerable')}", "title": title}

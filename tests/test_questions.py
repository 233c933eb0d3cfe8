"""The evaluation question sets are well formed and their evidence is verbatim in the articles.

questions.jsonl is the development set (thresholds calibrated on it); holdout.jsonl, test.jsonl and
final.jsonl were written later by others who had not seen the engine, to measure how far its rules
generalise (see eval/README.md for what each was used for).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# file -> the least number of questions it must hold
SETS = {"questions.jsonl": 60, "holdout.jsonl": 36, "test.jsonl": 30, "final.jsonl": 30}
SEEDS = ROOT / "seeds"
TYPES = {"single", "list", "multi", "paraphrase", "followup", "unanswerable"}


def _questions(name: str) -> list[dict]:
    lines = (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


BY_SET = {name: _questions(name) for name in SETS}
QS = [q for qs in BY_SET.values() for q in qs]


@pytest.mark.parametrize("name", SETS)
def test_file_parses_and_is_big_enough(name: str) -> None:
    qs = BY_SET[name]
    assert len(qs) >= SETS[name]
    assert sum(1 for q in qs if not q["answerable"]) >= 6


def test_ids_unique_and_keys_present() -> None:
    keys = {"id", "question", "type", "answerable", "history", "gold_sources", "evidence", "facts"}
    for q in QS:
        assert keys <= set(q), q.get("id")
    ids = Counter(q["id"] for q in QS)
    assert not [i for i, n in ids.items() if n > 1]


def test_sets_ask_different_questions() -> None:
    texts = Counter(q["question"].strip().lower() for q in QS)
    assert not [t for t, n in texts.items() if n > 1]


@pytest.mark.parametrize("name", SETS)
def test_every_type_present(name: str) -> None:
    assert {q["type"] for q in BY_SET[name]} == TYPES


@pytest.mark.parametrize("q", [q for q in QS if q["answerable"]], ids=lambda q: q["id"])
def test_answerable_question_has_evidence_in_its_gold_article(q: dict) -> None:
    assert q["evidence"] and q["facts"] and q["gold_sources"]
    for ev in q["evidence"]:
        assert ev["source_id"] in q["gold_sources"]
        text = (SEEDS / ev["source_id"]).open(encoding="utf-8").read()
        assert ev["text"] in text, (
            f"{q['id']}: {ev['text'][:60]!r} not verbatim in {ev['source_id']}"
        )
    evidence = " ".join(ev["text"] for ev in q["evidence"]).lower()
    for group in q["facts"]:
        assert group and all(isinstance(alt, str) and alt for alt in group)
        # The engine quotes the articles: a fact is gradable only if the articles word it that way.
        assert any(alt.lower() in evidence for alt in group), f"{q['id']}: none of {group} in its evidence"


@pytest.mark.parametrize("q", QS, ids=lambda q: q["id"])
def test_shape_by_type(q: dict) -> None:
    assert q["answerable"] == (q["type"] != "unanswerable")
    if not q["answerable"]:
        assert not q["evidence"] and not q["facts"]
    if q["type"] == "followup":
        assert q["history"] and all(len(turn) == 2 for turn in q["history"])
    for source in q["gold_sources"]:
        assert (SEEDS / source).is_file()

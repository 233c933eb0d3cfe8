"""The evaluation question set is well formed and its evidence is verbatim in the articles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
SEEDS = ROOT / "seeds"
TYPES = {"single", "list", "multi", "paraphrase", "followup", "unanswerable"}


def _questions() -> list[dict]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


QS = _questions()


def test_file_parses_and_is_big_enough() -> None:
    assert len(QS) >= 60
    assert sum(1 for q in QS if not q["answerable"]) >= 12


def test_ids_unique_and_keys_present() -> None:
    keys = {"id", "question", "type", "answerable", "history", "gold_sources", "evidence", "facts"}
    for q in QS:
        assert keys <= set(q), q.get("id")
    ids = Counter(q["id"] for q in QS)
    assert not [i for i, n in ids.items() if n > 1]


def test_every_type_present() -> None:
    assert {q["type"] for q in QS} == TYPES


@pytest.mark.parametrize("q", [q for q in QS if q["answerable"]], ids=lambda q: q["id"])
def test_answerable_question_has_evidence_in_its_gold_article(q: dict) -> None:
    assert q["evidence"] and q["facts"] and q["gold_sources"]
    for ev in q["evidence"]:
        assert ev["source_id"] in q["gold_sources"]
        text = (SEEDS / ev["source_id"]).open(encoding="utf-8").read()
        assert ev["text"] in text, (
            f"{q['id']}: {ev['text'][:60]!r} not verbatim in {ev['source_id']}"
        )
    for group in q["facts"]:
        assert group and all(isinstance(alt, str) and alt for alt in group)


@pytest.mark.parametrize("q", QS, ids=lambda q: q["id"])
def test_shape_by_type(q: dict) -> None:
    assert q["answerable"] == (q["type"] != "unanswerable")
    if not q["answerable"]:
        assert not q["evidence"] and not q["facts"]
    if q["type"] == "followup":
        assert q["history"] and all(len(turn) == 2 for turn in q["history"])
    for source in q["gold_sources"]:
        assert (SEEDS / source).is_file()

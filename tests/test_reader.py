"""The trained evidence reader on general text (none of it from an eval set), and its failure modes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa_bot.errors import ModelError
from qa_bot.reader import DEFAULT_READER, Reading, TrainedReader, _decode


def test_decode_prefers_a_span_over_no_answer_only_when_it_scores_higher() -> None:
    start = np.array([0.0, 5.0, 0.0, 0.0], dtype=np.float32)
    end = np.array([0.0, 0.0, 4.0, 0.0], dtype=np.float32)
    ctx = np.array([False, True, True, True])
    offsets = np.array([[0, 0], [0, 5], [6, 10], [11, 15]])
    reading = _decode(start, end, ctx, offsets)
    assert (reading.start, reading.end) == (0, 10) and reading.score == pytest.approx(9.0)
    start[0], end[0] = 6.0, 6.0  # no answer scores 12 > 9
    assert _decode(start, end, ctx, offsets).score < 0


def test_missing_model_names_make_train(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="make train"):
        TrainedReader(tmp_path / "nowhere")


def test_corrupt_model_names_make_train(tmp_path: Path) -> None:
    broken = tmp_path / "reader"
    shutil.copytree(DEFAULT_READER, broken)
    (broken / "model.safetensors").write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="make train"):
        TrainedReader(broken)


@pytest.fixture(scope="module")
def reader() -> TrainedReader:
    return TrainedReader()


@pytest.mark.integration
@pytest.mark.xfail(strict=True, reason="known flaw of the torch backend: int8 activations are scaled per "
                   "batch, so a passage's score moves with its batch (TrainedReader; the onnx-int8 backend "
                   "reads one at a time)")
def test_a_passages_score_does_not_depend_on_what_it_is_read_with(reader: TrainedReader) -> None:
    """A passage's score should be its own, whatever else is read beside it."""
    question = "When was the battle fought?"
    contexts = ["The English army met the French near Agincourt. The battle was fought in 1415 on a muddy field.",
                "Engineers finished the bridge after six years. It cost ¥3 billion and carries four lanes.",
                "The weather was mild for most of the week. " * 12]
    together = reader.read(question, contexts)
    assert together == [reader.read(question, [c])[0] for c in contexts]
    assert together[:2] == reader.read(question, contexts[:2])


def span(reader: TrainedReader, question: str, context: str) -> tuple[str, Reading]:
    found = reader.read(question, [context])[0]
    return context[found.start : found.end], found


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "context", "answer"),
    [
        ("Who founded the company?",
         "The company was founded by Bill Gates and Paul Allen in a garage. It later moved to Redmond.",
         "Bill Gates"),
        ("When was the battle fought?",
         "The English army met the French near Agincourt. The battle was fought in 1415 on a muddy field.",
         "1415"),
        ("How much did the bridge cost?",
         "Engineers finished the bridge after six years. It cost ¥3 billion and carries four lanes.",
         "¥3 billion"),
        ("Where was the treaty signed?",
         "After two years of talks, the treaty was signed in Lisbon by the leaders of 27 states.",
         "Lisbon"),
    ],
)
def test_finds_the_answer_span_in_plain_text(reader: TrainedReader, question: str, context: str,
                                             answer: str) -> None:
    text, found = span(reader, question, context)
    assert answer in text and len(text) < 40
    assert found.score > reader.threshold


@pytest.mark.integration
def test_ranks_the_answering_context_first_and_declines_where_none_answers(reader: TrainedReader) -> None:
    question = "Who designed the cathedral's dome?"
    contexts = [
        "The cathedral stands on the main square. Tourists visit it in summer.",
        "Its dome was designed by Filippo Brunelleschi and finished in 1436.",
        "The city has a population of about 380,000 people.",
    ]
    found = reader.read(question, contexts)
    assert max(range(3), key=lambda i: found[i].score) == 1
    assert "Brunelleschi" in contexts[1][found[1].start : found[1].end]
    unanswerable = reader.read("Who designed the cathedral's organ?", [contexts[0], contexts[2]])
    assert all(r.score < reader.threshold for r in unanswerable)

"""A tiny smoke run of the reader's training code (the real run is `make train`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def smoke_train(script: str, out: Path) -> None:
    """Run a training script of train/ for two steps into `out`; it must succeed."""
    env = {**os.environ, "SMOKE_STEPS": "2", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "train" / script), "--smoke", "--out", str(out)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_training_smoke_run_writes_a_loadable_reader(tmp_path: Path) -> None:
    out = tmp_path / "reader"
    smoke_train("train_reader.py", out)
    from qa_bot.reader import TrainedReader

    reader = TrainedReader(out)
    found = reader.read("Who wrote it?", ["It was written by Jane Austen.", ""])
    assert len(found) == 2
    assert (out / "training.json").is_file()
    assert (out / "model.safetensors").stat().st_size < 50_000_000


def test_training_pairs_hold_their_answers_and_leave_eval_articles_out() -> None:
    sys.path.insert(0, str(ROOT / "train"))
    from pairs import examples
    from split import EVAL_TITLES, articles, role

    assert all(role(t) == "eval" for t in EVAL_TITLES)
    arts = articles("train")
    assert not {a["title"] for a in arts} & EVAL_TITLES
    rows = list(examples(arts[:2], seed=1))
    kinds = {r["kind"] for r in rows}
    assert {"positive", "same", "other"} <= kinds
    for r in rows:
        if r["answer_start"] >= 0:
            assert r["context"][r["answer_start"] : r["answer_start"] + len(r["answer_text"])] == r["answer_text"]
        else:
            assert r["kind"] != "positive"


@pytest.mark.slow
def test_claim_checker_smoke_run_writes_a_loadable_checker(tmp_path: Path) -> None:
    out = tmp_path / "checker"
    smoke_train("train_claims.py", out)
    from qa_bot.claimcheck import ClaimChecker

    checker = ClaimChecker(out)
    scores = checker([("The council approved the plan.", "The plan was approved."),
                      ("The council approved the plan.", "The plan was rejected.")])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert (out / "model.safetensors").stat().st_size < 50_000_000


def test_written_claims_are_verbatim_and_labelled() -> None:
    sys.path.insert(0, str(ROOT / "train"))
    from train_claims import CLAIMS, HELD_OUT, SYMMETRIC, load, pairs, training_files

    letters = "abcdefghijklmn"
    for letter in letters:  # every file loads whole: each written claim verbatim in its paragraph
        lines = (CLAIMS / f"claims-{letter}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(load(letter)) == len([line for line in lines if line.strip()]) > 0, letter
    rows = load(letters)
    assert all(r["supported"] == (r["how"] == "paraphrase") and r["claim"] != r["evidence"] for r in rows)
    trained = training_files()
    assert not set(trained) & set(HELD_OUT) and set(trained) | set(HELD_OUT) == set(letters)
    with pytest.raises(SystemExit):
        training_files(HELD_OUT[0])
    made = pairs(rows, seed=1)
    assert {k for *_, k in made} >= {"paraphrase", "relation", "relation-mirrored", "other-sentence"}
    assert all(label == 0.0 for _, _, label, kind in made if kind != "paraphrase")
    symmetric = {(r["evidence"], r["claim"]) for r in rows if r["how"] == "relation" and r.get("kind") in SYMMETRIC}
    mirrored = [(q, c) for q, c, _, kind in made if kind == "relation-mirrored"]
    assert len(mirrored) == len(symmetric) and all((c, q) in symmetric for q, c in mirrored)
    assert not any(kind == "relation-mirrored" for *_, kind in pairs(rows, seed=1, mirror=False))


def test_missing_claim_checker_names_make_train(tmp_path: Path) -> None:
    from qa_bot.claimcheck import ClaimChecker
    from qa_bot.errors import ModelError

    with pytest.raises(ModelError, match="make train"):
        ClaimChecker(tmp_path / "nothing-here")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match="make train"):
        ClaimChecker(tmp_path / "broken")


def test_written_news_articles_hold_their_answers_and_give_every_kind_of_example() -> None:
    sys.path.insert(0, str(ROOT / "train"))
    from pairs import examples, written
    from split import news

    train_arts, train_unanswerable = news("train")
    calibrate_arts, _ = news("calibrate")
    assert train_arts and calibrate_arts
    assert not {a["title"] for a in train_arts} & {a["title"] for a in calibrate_arts}
    for art in train_arts:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answer = qa["answers"][0]
                assert para["context"][answer["answer_start"] :].startswith(answer["text"])
    rows = list(examples(train_arts, seed=1)) + list(written(train_arts, train_unanswerable, seed=1))
    assert {"positive", "same", "other", "written-near-twin"} <= {r["kind"] for r in rows}
    for r in rows:
        if r["answer_start"] < 0:  # a written unanswerable question gets no span
            assert r["kind"] != "positive"


def _calibration_rows(seed: int, informative_retrieval: bool, scale: float = 1.0) -> list[dict[str, object]]:
    """Synthetic calibration rows: 20 read passages a question; the right one scores higher on average,
    and (informative_retrieval) retrieval usually ranks it first."""
    import random

    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for n in range(400):
        answerable = n % 3 != 0
        right_at = min(int(rng.expovariate(1.0)), 19) if informative_retrieval else rng.randrange(20)
        passages = []
        for rank in range(20):
            right = answerable and rank == right_at
            passages.append([scale * (rng.gauss(2.0 if right else -1.0, 1.5) - 0.2 * rank), rank, right, False])
        rows.append({"answerable": answerable, "source": "squad", "passages": passages})
    return rows


def test_calibration_chooses_weight_and_threshold_on_the_readers_own_scores() -> None:
    sys.path.insert(0, str(ROOT / "train"))
    from calibrate import MAX_FALSE_DECLINE, choose, declined, top

    informative = choose(_calibration_rows(1, informative_retrieval=True))
    blind = choose(_calibration_rows(1, informative_retrieval=False))
    assert informative["retrieval_weight"] > blind["retrieval_weight"]
    assert informative["false_decline"] <= MAX_FALSE_DECLINE
    assert informative["declined_unanswerable"] > informative["false_decline"]
    assert choose(_calibration_rows(1, informative_retrieval=True), weight=0.5)["retrieval_weight"] == 0.5
    # The same reader with scores twice as wide: half the slope, about twice the threshold.
    wide_rows = _calibration_rows(1, informative_retrieval=True, scale=2.0)
    wide = choose(wide_rows)
    assert wide["slope"] == pytest.approx(informative["slope"] / 2, rel=0.02)
    assert abs(wide["threshold"] - 2 * informative["threshold"]) <= 0.5
    tops = [top(r, wide["retrieval_weight"]) for r in wide_rows]
    assert declined(tops, wide["threshold"], answerable=True) == pytest.approx(wide["false_decline"], abs=1e-4)
    # An article that never says what the question insists on declines whatever the score.
    lost = [{**r, "passages": [[*p[:3], True] for p in r["passages"]]} for r in wide_rows]
    assert declined([top(r, 0.5) for r in lost], -99.0, answerable=False) == 1.0

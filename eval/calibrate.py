"""Sweep the extractive engine's abstention thresholds over eval/questions.jsonl (prints a table).

Usage: .venv/bin/python eval/calibrate.py [--questions eval/questions.jsonl [more.jsonl ...]] [--top 15]

Retrieval and sentence scoring run once per question; only select() is re-run per grid point, with
MIN_COVERAGE / MIN_SCORE of qa_bot.engines.extractive patched for the call and restored after.
It changes nothing on disk: copy a chosen pair into engines/extractive.py by hand.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from qa_bot.cite import compose
from qa_bot.engines import extractive
from qa_bot.evaluate import facts_ok, load_questions
from qa_bot.pipeline import QABot, clean_question
from qa_bot.retrieve import condense, normalize_history

COVERAGES = [0.0, 0.1, 0.2, 0.3]
SCORES = [0.15, 0.18, 0.2, 0.22, 0.25, 0.28, 0.3, 0.35, 0.4]


def main() -> int:
    """Print abstention recall, false-abstention rate and fact accuracy per threshold pair."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, nargs="+", default=[Path("eval/questions.jsonl")])
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    bot = QABot()
    bot.ensure_store()
    questions = [q for path in args.questions for q in load_questions(path)]
    prepared = []
    for q in questions:
        text = clean_question(q["question"], bot.settings.max_question_chars)
        query = condense(text, normalize_history(q["history"] or None))
        found, ranked, _ = bot._search_and_score(query, bot.settings.k, text)
        prepared.append((q, text, query, found, ranked))

    saved = extractive.MIN_COVERAGE, extractive.MIN_SCORE
    rows = []
    try:
        grid = itertools.product(sorted({*COVERAGES, saved[0]}), sorted({*SCORES, saved[1]}))
        for cov, score in grid:
            extractive.MIN_COVERAGE, extractive.MIN_SCORE = cov, score
            right_abst = false_abst = correct = 0
            for q, text, query, found, ranked in prepared:
                chosen = bot.select(text, query, found, ranked)
                if q["answerable"]:
                    false_abst += chosen.abstained
                    if not chosen.abstained:
                        correct += facts_ok(compose(chosen.evidence)[0], q["facts"])
                else:
                    right_abst += chosen.abstained
            n_ans = sum(1 for q in questions if q["answerable"])
            n_un = len(questions) - n_ans
            rows.append((cov, score, right_abst / n_un, false_abst / n_ans, correct / n_ans))
    finally:
        extractive.MIN_COVERAGE, extractive.MIN_SCORE = saved

    rows.sort(key=lambda r: (r[4] + r[2] - r[3]), reverse=True)
    print(f"current: MIN_COVERAGE={saved[0]} MIN_SCORE={saved[1]}")
    print("coverage  score  abst_recall  false_abst  fact_acc")
    for cov, score, rec, fa, acc in rows[: args.top]:
        mark = " <- current" if (cov, score) == saved else ""
        print(f"{cov:8.2f}  {score:5.2f}  {rec:11.3f}  {fa:10.3f}  {acc:8.3f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

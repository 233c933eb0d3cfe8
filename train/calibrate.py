"""Calibrate the reader's abstention threshold on data it never trained on, through the real pipeline.

The calibration corpus is the SQuAD 1.1 train articles that train/split.py sets aside for calibration
(never trained on), one file each, with a fixed sample of their questions and the unanswerable (and
answerable) questions helpers wrote for them (train/data/written/, calibrate-*), and with --news the
news articles helpers wrote for calibration with their questions (train/data/news/news-calibrate-*).
Every question is asked with abstention off, and every passage the reader read is kept (its score,
retrieval's rank, whether its sentence holds the answer), so the choice can be made again from the rows
(--rows) without asking. The threshold chosen is the one that declines the most unanswerable questions
while wrongly declining at most MAX_FALSE_DECLINE of the answerable ones whose first passage is right.
With --sweep-weight the retrieval weight of the engine's rerank is chosen here too (the one that puts a
right passage first most often) and written beside the threshold; by default the engine's stays.

    python train/calibrate.py [--model models/evidence-reader] [--answerable 400] [--news] [--sweep-weight] [--stages]
    python train/calibrate.py --news --sweep-weight --backend torch
    python train/calibrate.py --rows .cache/calibration/rows-onnx-int8.jsonl --no-write --sweep-weight

The backend is the engine's default (onnx-int8) unless --backend says otherwise. Writes
<model>/calibration-<backend>.json (calibration.json for torch, and the file any backend without its own
falls back to: their scores differ) and prints the sweep. With --stages it also chooses when the reader
may stop reading candidates (engines.extractive.read_in_stages): the fewest candidates read while no
question gets another passage ranked first and at most MAX_STAGE_LOSS of the answerable ones lose a
right passage shown or quoted.
The outside-dev corpora are not used here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pairs import load_written
from split import articles, news

from qa_bot.config import READER_BACKENDS, Settings
from qa_bot.engines.extractive import MAX_SENTENCES, rank_key, sure_enough
from qa_bot.reader import DEFAULT_READER, NO_SPAN, Calibration

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / ".cache" / "calibration"
MAX_FALSE_DECLINE = 0.08


def safe(title: str) -> str:
    return re.sub(r"[^\w.-]+", "_", title) + ".txt"


def _write_articles(arts: list[dict[str, Any]], folder: Path,
                    source: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each article as a text file (title, then one paragraph a line); its answerable questions in the project
    format (tagged with `source`), and which file each paragraph (`<title>#<index>`) went to."""
    questions, files = [], {}
    for a in arts:
        name = safe(a["title"])
        (folder / name).write_text(a["title"].replace("_", " ") + "\n\n" +
                                   "\n\n".join(p["context"] for p in a["paragraphs"]) + "\n", encoding="utf-8")
        for i, p in enumerate(a["paragraphs"]):
            files[f"{a['title']}#{i}"] = name
            for qa in p["qas"]:
                ans = qa["answers"][0]["text"]
                questions.append({"id": qa["id"], "question": qa["question"], "type": "single", "answerable": True,
                                  "gold_sources": [name], "evidence": [{"source_id": name, "text": ans}],
                                  "facts": [[a_["text"] for a_ in qa["answers"]]], "how": "answerable",
                                  "source": source})
    return questions, files


def _written_questions(rows: list[dict[str, Any]], files: dict[str, str], source: str) -> list[dict[str, Any]]:
    """Written questions (train/data/written/ layout) in the project format."""
    out = []
    for n, row in enumerate(rows):
        name = files[row["paragraph_id"]]
        q = {"id": f"{source}-{n}", "question": row["question"], "type": "single", "how": row["how"],
             "answerable": row["how"] == "answerable", "gold_sources": [], "evidence": [], "facts": [],
             "source": source}
        if q["answerable"]:
            q.update(gold_sources=[name], evidence=[{"source_id": name, "text": row["answer"]}],
                     facts=[[row["answer"]]])
        out.append(q)
    return out


class Top(NamedTuple):
    """One question as the engine decides it at some retrieval weight."""

    row: dict[str, Any]
    support: float  # the reader's best score over the passages
    right: bool  # the passage ranked first holds the answer
    lost: bool  # its article never says a year or number the question insists on


def declined(tops: list[Top], threshold: float, answerable: bool) -> float:
    """The share declined at this threshold among the answerable questions whose first passage is right
    (answerable=True), or among the unanswerable ones: under the threshold, or lost."""
    group = [t for t in tops if (t.row["answerable"] and t.right if answerable else not t.row["answerable"])]
    return sum(1 for t in group if t.lost or t.support < threshold) / max(1, len(group))


def curve(tops: list[Top]) -> list[tuple[float, float, float]]:
    """(threshold, right answers declined, unanswerable declined) at every threshold tried."""
    return [(t, declined(tops, t, answerable=True), declined(tops, t, answerable=False)) for t in THRESHOLDS]


WEIGHTS = [x / 8 for x in range(0, 33)]  # retrieval weights tried by --sweep-weight: 0 to 4
THRESHOLDS = [x / 4 for x in range(-24, 33)]  # thresholds tried: -6 to 8


def top(row: dict[str, Any], weight: float) -> Top:
    """As the engine decides at this retrieval weight: the reader's best score over the passages, and for
    the passage its rerank puts first, whether it holds the answer and whether its article lacks specifics."""
    if not row["passages"]:
        return Top(row, -99.0, False, False)
    _, _, right, lost = min(row["passages"], key=lambda p: rank_key(p[0], p[1], weight))
    return Top(row, max(p[0] for p in row["passages"]), bool(right), bool(lost))


def choose(rows: list[dict[str, Any]], weight: float | None = None,
           max_false_decline: float = MAX_FALSE_DECLINE) -> dict[str, Any]:
    """From every question's read passages: the retrieval weight (given, or the one that puts a right
    passage first most often); at it, the threshold that declines the most unanswerable questions while
    wrongly declining at most max_false_decline of those whose first passage is right; and the slope of a
    logistic fit of 'first passage right' on the best score, the reader's scale (for comparing readers)."""
    from sklearn.linear_model import LogisticRegression

    answerable = [r for r in rows if r["answerable"]]
    if weight is None:
        weight = max(WEIGHTS, key=lambda w: (sum(top(r, w).right for r in answerable), -w))
    tops = [top(r, weight) for r in rows]
    allowed = [point for point in curve(tops) if point[1] <= max_false_decline]
    if not allowed:
        raise SystemExit(f"no threshold declines at most {max_false_decline} of the right answers")
    best = max(allowed, key=lambda point: (point[2] - point[1], -point[0]))
    fit = LogisticRegression(C=1e6).fit(np.array([[t.support] for t in tops]), np.array([t.right for t in tops]))
    return {"threshold": best[0], "false_decline": round(best[1], 4), "declined_unanswerable": round(best[2], 4),
            "retrieval_weight": weight, "slope": round(float(fit.coef_[0][0]), 4),
            "first_right": round(sum(t.right for t in tops if t.row["answerable"]) / max(1, len(answerable)), 4)}


SHOWN = Settings().k  # the sources shown
STAGE_FIRSTS = list(range(SHOWN, 11))  # candidates read first, tried by choose_stages (never fewer than shown)
STOP_SCORES = [x / 2 for x in range(0, 21)]  # stop scores tried: 0 to 10
MAX_STAGE_LOSS = 0.005  # of the answerable questions, at most this share may lose a right passage shown


def _shown(passages: list[list[Any]], calibration: Calibration) -> tuple[int, bool, bool]:
    """The retrieval rank of the passage ranked first; is a right passage among the sources shown, and among
    the passages the answer quotes (the first, and runners-up within the margin; repeats not removed)?"""
    ranked = sorted(passages, key=lambda p: rank_key(p[0], p[1], calibration.retrieval_weight))
    floor = max(calibration.threshold, max(p[0] for p in passages) - calibration.runner_up_margin)
    said = [ranked[0], *[p for p in ranked[1:] if p[0] >= floor][: MAX_SENTENCES - 1]]
    return int(ranked[0][1]), any(p[2] for p in ranked[:SHOWN]), any(p[2] for p in said)


def stages(rows: list[dict[str, Any]], calibration: Calibration) -> tuple[float, list[int]]:
    """As engines.extractive.read_in_stages decides (sure_enough): the share of candidates read, how many
    questions get another passage ranked first, and how many answerable ones lose a right passage from the
    sources shown and from the passages quoted."""
    first = calibration.read_first
    read = total = 0
    change = [0, 0, 0]
    for row in rows:
        passages = row["passages"]
        total += len(passages)
        head = sorted((p for p in passages if p[1] < first), key=lambda p: p[1])
        stop = len(passages) > first and sure_enough([p[0] for p in head], calibration)
        read += first if stop else len(passages)
        if stop:
            cut = head + [[NO_SPAN, p[1], False, p[3]] for p in passages if p[1] >= first]
            now, full = _shown(cut, calibration), _shown(passages, calibration)
            change[0] += now[0] != full[0]
            if row["answerable"]:
                change[1] += full[1] and not now[1]
                change[2] += full[2] and not now[2]
    return read / max(1, total), change


def choose_stages(rows: list[dict[str, Any]], weight: float, threshold: float,
                  max_loss: float = MAX_STAGE_LOSS) -> dict[str, Any]:
    """The read_first and stop_score that read the fewest candidates while no question gets another passage
    ranked first and at most max_loss of the answerable ones lose a right passage from the top 5 or from
    the passages quoted."""
    answerable = max(1, sum(1 for r in rows if r["answerable"]))
    best: tuple[float, int, float, list[int]] = (1.0, 0, 0.0, [0, 0, 0])
    for first in STAGE_FIRSTS:
        for stop_score in STOP_SCORES:
            calibration = Calibration(threshold=threshold, retrieval_weight=weight, read_first=first,
                                      stop_score=stop_score)
            share, change = stages(rows, calibration)
            if change[0] == 0 and max(change[1:]) <= max_loss * answerable and share < best[0]:
                best = (share, first, stop_score, change)
    share, first, stop_score, change = best
    return {"read_first": first, "stop_score": stop_score, "read_share": round(share, 4),
            "stage_change": dict(zip(("first_changed", "right_lost_from_top5", "right_lost_from_quotes"), change,
                                     strict=True)),
            "max_stage_loss": max_loss}


def build_corpus(n_answerable: int, seed: int = 5, with_news: bool = False) -> tuple[Path, Path]:
    """The calibration articles as text files and a question file in the project format: a fixed sample of
    the SQuAD articles' questions, the questions written for them, and (with_news) the written news
    articles of train/data/news/news-calibrate-*.jsonl with all their questions."""
    folder = CORPUS / "articles"
    shutil.rmtree(folder, ignore_errors=True)  # the rows of other backends stay
    folder.mkdir(parents=True)
    questions, files = _write_articles(articles("calibrate"), folder, "squad")
    rng = random.Random(seed)
    rng.shuffle(questions)
    questions = questions[:n_answerable]
    for path in sorted((ROOT / "train" / "data" / "written").glob("unanswerable-calibrate-*.jsonl")):
        rows = load_written([path.stem.removeprefix("unanswerable-")])
        questions += _written_questions(rows, files, f"squad-{path.stem}")
    if with_news:
        news_arts, unanswerable = news("calibrate")
        news_questions, news_files = _write_articles(news_arts, folder, "news")
        questions += news_questions + _written_questions(unanswerable, news_files, "news")
    qfile = CORPUS / "questions.jsonl"
    qfile.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return folder, qfile


def ask_all(model: Path, n_answerable: int, with_news: bool,
            backend: str = Settings.reader_backend) -> list[dict[str, Any]]:
    """Every calibration question asked through the real pipeline with abstention off: one row each."""
    from qa_bot.evaluate import corpus_settings, facts_ok, load_questions
    from qa_bot.evidence import answer_sentence
    from qa_bot.pipeline import QABot, never_says

    folder, qfile = build_corpus(n_answerable, with_news=with_news)
    # Abstention off and every candidate read (no early stop), so the rows hold every passage's score.
    settings = corpus_settings(Settings.from_env(reader_model=model, reader_threshold=-1000.0, reader_first=0,
                                                 reader_backend=backend), folder)
    bot = QABot(settings)
    bot.ingest([folder])
    rows = []
    started = time.time()
    for q in load_questions(qfile):
        read = bot._understand(q["question"], [])
        order = {p.id: i for i, p in enumerate(read.found.passages)}
        lost = {sid: bool(never_says(read, sid)) for sid in {p.source_id for p, _ in read.ranked}}
        # Every passage the reader read: its score, retrieval's rank, whether its answer sentence holds
        # the answer, whether its article never says a number the question insists on; so the weight
        # and the threshold can be chosen (again) without asking.
        passages = [[round(r.score, 4), order[p.id],
                     bool(q["answerable"] and r.has_span and facts_ok(answer_sentence(p, r).text, q["facts"])),
                     lost[p.source_id]]
                    for p, r in read.ranked]
        rows.append({"answerable": q["answerable"], "how": q.get("how", ""), "source": q["source"], "backend": backend,
                     "question": q["question"], "passages": passages})
    print(f"{len(rows)} questions in {time.time() - started:.0f}s", file=sys.stderr)
    return rows


def rows_path(model: Path, backend: str) -> Path:
    """Where a calibration run keeps its rows: rows-<backend>.jsonl for the shipped reader, and another
    reader's beside them, never over them (rows-<backend>-<folder>-<hash of its path>.jsonl)."""
    folder = model.resolve()
    if folder == DEFAULT_READER.resolve():
        return CORPUS / f"rows-{backend}.jsonl"
    return CORPUS / f"rows-{backend}-{folder.name}-{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=DEFAULT_READER)
    ap.add_argument("--answerable", type=int, default=400)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--news", action="store_true",
                    help="also the written news articles kept for calibration (train/data/news/news-calibrate-*)")
    ap.add_argument("--sweep-weight", action="store_true",
                    help="also choose the retrieval weight here (default: the engine's, 0.5; README, *Models*)")
    ap.add_argument("--rows", type=Path,
                    help="choose again from the rows of an earlier run (rows_path), without asking")
    ap.add_argument("--backend", default=Settings.reader_backend, choices=READER_BACKENDS,
                    help="the reader backend whose scores are calibrated: torch writes calibration.json, another "
                         "calibration-<backend>.json")
    ap.add_argument("--stages", action="store_true",
                    help="also choose when the reader may stop reading candidates (read_first, stop_score)")
    args = ap.parse_args()
    if args.rows:
        rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
        # rows of session 8-10 runs name no backend: torch's
        if (theirs := {r.get("backend", "torch") for r in rows}) != {args.backend}:
            raise SystemExit(f"{args.rows} holds {', '.join(sorted(theirs))} scores, not {args.backend}'s: "
                             f"pass --backend")
    else:
        rows = ask_all(args.model, args.answerable, args.news, args.backend)
        path = rows_path(args.model, args.backend)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"rows kept in {path}", file=sys.stderr)
    chosen = choose(rows, None if args.sweep_weight else Calibration().retrieval_weight)
    weight, threshold = chosen["retrieval_weight"], chosen["threshold"]
    if not args.sweep_weight:
        del chosen["retrieval_weight"]  # the engine's default stays the reader's
    print(f"retrieval weight {weight}: a right passage first for {chosen['first_right']:.3f} of the answerable")
    if args.stages:
        chosen |= choose_stages(rows, weight, threshold)
        print(f"read {chosen['read_first']} candidates first, stop at {chosen['stop_score']}: "
              f"{chosen['read_share']:.3f} of the candidates read; {chosen['stage_change']}")
    print("threshold  false-decline(right answers)  declined-unanswerable")
    tops = [top(r, weight) for r in rows]
    for t, fd, dn in curve(tops):
        print(f"{t:9.2f}  {fd:28.3f}  {dn:21.3f}")
    by_source = {}
    for source in ("squad", "news"):
        mine = [t for t in tops if t.row["source"].startswith(source)]
        if mine:
            by_source[source] = {"false_decline": round(declined(mine, threshold, answerable=True), 4),
                                 "declined_unanswerable": round(declined(mine, threshold, answerable=False), 4),
                                 "answered_right": sum(1 for t in mine if t.row["answerable"] and t.right),
                                 "unanswerable": sum(1 for t in mine if not t.row["answerable"])}
    result = {**chosen, "answerable": sum(1 for r in rows if r["answerable"]),
              "unanswerable": sum(1 for r in rows if not r["answerable"]), "by_source": by_source,
              "data": "SQuAD 1.1 train, calibration articles (train/split.py) + train/data/written/*calibrate*"
                      + (" + train/data/news/news-calibrate-*" if any(r["source"] == "news" for r in rows) else ""),
              "max_false_decline": MAX_FALSE_DECLINE, "backend": args.backend}
    print(json.dumps(result, indent=2))
    if not args.no_write:
        name = "calibration.json" if args.backend == "torch" else f"calibration-{args.backend}.json"
        (args.model / name).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

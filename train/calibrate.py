"""Calibrate the reader's abstention threshold on data it never trained on, through the real pipeline.

The calibration corpus is the SQuAD 1.1 train articles that train/split.py sets aside for calibration
(never trained on), one file each, with a fixed sample of their questions and the unanswerable (and
answerable) questions helpers wrote for them (train/data/written/, calibrate-*), and with --news the
news articles helpers wrote for calibration with their questions (train/data/news/news-calibrate-*).
Every question is asked with abstention off; the threshold chosen is the one that declines the most
unanswerable questions while wrongly declining at most MAX_FALSE_DECLINE of the answerable ones that the
engine answers right.

    python train/calibrate.py [--model models/evidence-reader] [--answerable 400] [--news]

Writes <model>/calibration.json and prints the sweep. The outside-dev corpora are not used here.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from pairs import load_written
from split import articles, news

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


def declined(rows: list[dict[str, Any]], threshold: float) -> float:
    """The share of rows the engine declines at this threshold (abstention for other reasons, such as
    specifics missing, is fixed; the threshold decides the rest)."""
    return sum(1 for r in rows if r["abstained"] or r["score"] < threshold) / max(1, len(rows))


def build_corpus(n_answerable: int, seed: int = 5, with_news: bool = False) -> tuple[Path, Path]:
    """The calibration articles as text files and a question file in the project format: a fixed sample of
    the SQuAD articles' questions, the questions written for them, and (with_news) the written news
    articles of train/data/news/news-calibrate-*.jsonl with all their questions."""
    folder = CORPUS / "articles"
    shutil.rmtree(CORPUS, ignore_errors=True)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "evidence-reader")
    ap.add_argument("--answerable", type=int, default=400)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--news", action="store_true",
                    help="also the written news articles kept for calibration (train/data/news/news-calibrate-*)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from qa_bot.config import Settings
    from qa_bot.evaluate import corpus_settings, facts_ok, load_questions
    from qa_bot.pipeline import QABot

    folder, qfile = build_corpus(args.answerable, with_news=args.news)
    settings = corpus_settings(Settings.from_env(reader_model=args.model, reader_threshold=-1000.0), folder)
    bot = QABot(settings)
    bot.ingest([folder])
    rows = []
    started = time.time()
    for q in load_questions(qfile):
        answer = bot.ask(q["question"])
        read = bot._understand(q["question"], [])
        scores = [r.score for _, r in read.ranked]
        best_id = read.ranked[0][0].id if read.ranked else ""
        rank = next((i for i, p in enumerate(read.found.passages) if p.id == best_id), -1)
        rows.append({"answerable": q["answerable"], "how": q.get("how", ""), "source": q["source"],
                     "score": answer.support,
                     "abstained": answer.abstained, "right": q["answerable"] and facts_ok(answer.text, q["facts"]),
                     "second": scores[1] if len(scores) > 1 else -99.0, "positive": sum(1 for x in scores if x > 0),
                     "retrieval_rank": rank, "question": q["question"]})
    (CORPUS / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} questions in {time.time() - started:.0f}s", file=sys.stderr)
    yes = [r for r in rows if r["answerable"] and r["right"]]
    no = [r for r in rows if not r["answerable"]]
    print("threshold  false-decline(right answers)  declined-unanswerable")
    best = None
    for t in [x / 4 for x in range(-24, 33)]:
        fd, dn = declined(yes, t), declined(no, t)
        print(f"{t:9.2f}  {fd:28.3f}  {dn:21.3f}")
        if fd <= MAX_FALSE_DECLINE and (best is None or dn - fd > best[2] - best[1]):
            best = (t, fd, dn)
    assert best is not None
    by_source = {}
    for source in ("squad", "news"):
        yes_s = [r for r in yes if r["source"].startswith(source)]
        no_s = [r for r in no if r["source"].startswith(source)]
        if yes_s or no_s:
            by_source[source] = {"false_decline": round(declined(yes_s, best[0]), 4),
                                 "declined_unanswerable": round(declined(no_s, best[0]), 4),
                                 "answered_right": len(yes_s), "unanswerable": len(no_s)}
    right = sum(1 for r in rows if r["answerable"] and r["right"]) / max(1, sum(1 for r in rows if r["answerable"]))
    result = {"threshold": best[0], "false_decline": round(best[1], 4), "declined_unanswerable": round(best[2], 4),
              "answerable": sum(1 for r in rows if r["answerable"]), "unanswerable": len(no),
              "answered_right_without_abstention": round(right, 4),
              "by_source": by_source,
              "data": "SQuAD 1.1 train, calibration articles (train/split.py) + train/data/written/*calibrate*"
                      + (" + train/data/news/news-calibrate-*" if args.news else ""),
              "max_false_decline": MAX_FALSE_DECLINE}
    print(json.dumps(result, indent=2))
    if not args.no_write:
        (args.model / "calibration.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

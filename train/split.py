"""Which SQuAD 1.1 train articles the evidence model trains on, which calibrate it, which are left out."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SQUAD = DATA / "squad-v1.1-train.json.gz"
# News articles written for the project, with their questions (train/data/news/README.md): the role is in
# the file's name (news-train-*.jsonl, news-calibrate-*.jsonl).
NEWS = DATA / "news"
# The ten articles of ../shared/data/outside-dev/squad2 (evaluation): never trained or calibrated on.
EVAL_TITLES = frozenset({
    "Beyoncé", "Frédéric_Chopin", "Sino-Tibetan_relations_during_the_Ming_dynasty", "IPod",
    "The_Legend_of_Zelda:_Twilight_Princess", "Spectre_(2015_film)", "2008_Sichuan_earthquake",
    "New_York_City", "To_Kill_a_Mockingbird", "Solar_energy",
})
CALIBRATION_SHARE = 0.06


def role(title: str) -> str:
    """'eval', 'calibrate' or 'train', fixed by a hash of the title (not by anything the model did)."""
    if title in EVAL_TITLES:
        return "eval"
    h = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "calibrate" if h < CALIBRATION_SHARE else "train"


def articles(which: str) -> list[dict[str, Any]]:
    """The SQuAD articles of one role."""
    with gzip.open(SQUAD, "rt", encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    return [a for a in data if role(a["title"]) == which]


def news(which: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The written news articles of one role, in SQuAD's layout (their answerable questions as `qas`), and
    their unanswerable questions as rows of the written format (`paragraph_id` = `<title>#<index>`)."""
    arts: list[dict[str, Any]] = []
    unanswerable: list[dict[str, Any]] = []
    for path in sorted(NEWS.glob(f"news-{which}-*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            art = json.loads(line)
            title = art["title"]
            paragraphs: list[dict[str, Any]] = [{"context": c, "qas": []} for c in art["paragraphs"]]
            for k, q in enumerate(art["questions"]):
                para = paragraphs[q["paragraph"]]
                if q["how"] == "answerable":
                    at = para["context"].find(q["answer"])
                    if at < 0:  # the files are checked when written; a span that moved is left out
                        continue
                    para["qas"].append({"id": f"{path.stem}-{n}-{k}", "question": q["question"],
                                        "answers": [{"text": q["answer"], "answer_start": at}]})
                else:
                    unanswerable.append({"paragraph_id": f"{title}#{q['paragraph']}", "question": q["question"],
                                         "plausible_answer": q.get("plausible_answer", ""), "how": q["how"]})
            arts.append({"title": title, "paragraphs": paragraphs})
    return arts, unanswerable

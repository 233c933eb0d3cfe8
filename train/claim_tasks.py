"""Draw the paragraphs the session-10 helpers wrote claims for (train/data/claims/tasks-i ... tasks-n).

One paragraph of 350-900 characters from each SQuAD 1.1 training article (train/split.py) not used by an
earlier claims or written-questions file, and the paragraphs of 200 characters or more of the news articles
written for training (train/data/news/news-train-*), both shuffled with seed 909; each file takes the next
40 SQuAD and 16 news paragraphs.

    python train/claim_tasks.py --out /tmp/tasks      # writes tasks-i.jsonl ... tasks-n.jsonl there
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from split import DATA, articles, news

LETTERS = "ijklmn"
EARLIER = ("claims/tasks-[a-h].jsonl", "written/*.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    used = {json.loads(line).get("paragraph_id") for pattern in EARLIER for path in sorted(DATA.glob(pattern))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    rng = random.Random(909)
    squad = []
    for a in articles("train"):
        fits = [(i, p["context"]) for i, p in enumerate(a["paragraphs"])
                if f"{a['title']}#{i}" not in used and 350 <= len(p["context"]) <= 900]
        if fits:
            i, context = rng.choice(fits)
            squad.append({"paragraph_id": f"{a['title']}#{i}", "title": a["title"], "context": context})
    rng.shuffle(squad)
    written = [{"paragraph_id": f"{a['title']}#{i}", "title": a["title"], "context": p["context"]}
               for a in news("train")[0] for i, p in enumerate(a["paragraphs"]) if len(p["context"]) >= 200]
    rng.shuffle(written)
    args.out.mkdir(parents=True, exist_ok=True)
    for k, letter in enumerate(LETTERS):
        rows = squad[k * 40 : (k + 1) * 40] + written[k * 16 : (k + 1) * 16]
        (args.out / f"tasks-{letter}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Calibrate the claim checker's two thresholds on the development part of the strong-answer fixtures.

The fixtures (tests/fixtures/strong_answers.jsonl, README there) hold a strong model's correct sentences
about the seed articles and the same sentences with one planted error each, with the quotes that
support them. Only the `questions` set (development) is read here; `holdout`, `test` and `final` are the
report part (benchmarks/claims.py), never used to set anything.

Each sentence is scored against the seed sentences that hold its quotes, as the pipeline shows them.
  threshold: the highest cut that keeps at least KEEP of the correct sentences;
  rescue:    the lowest cut above which no planted error scores (a sentence whose vector similarity
             looked too far is kept only when the checker is at least this sure).

    python train/calibrate_claims.py [--model .cache/claim-checker]

Writes <model>/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FIXTURES = ROOT / "tests" / "fixtures" / "strong_answers.jsonl"
KEEP = 0.97


def sentence_pairs(sets: set[str]) -> list[tuple[str, str, bool, str]]:
    """(premise, claim, supported, kind) for the fixtures of the given sets."""
    from qa_bot.corpus import load_article, split_sentences

    articles = [load_article(p) for p in sorted((ROOT / "seeds").glob("*.txt"))]
    spans = [(a.text, split_sentences(a.text, 0, len(a.text))) for a in articles]

    def premise(quotes: list[str]) -> str:
        found: list[str] = []
        for quote in quotes:
            for text, sents in spans:
                at = text.find(quote)
                if at >= 0:
                    found += [text[s:e] for s, e in sents if s < at + len(quote) and at < e and text[s:e] not in found]
                    break
        return " ".join(found)

    out = []
    for line in FIXTURES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["set"] not in sets:
            continue
        for s in row.get("sentences", []):
            out.append((premise(s["quotes"]), s["text"], True, "correct"))
        for p in row.get("planted", []):
            out.append((premise(p["quotes"]), p["text"], False, p["kind"]))
    return [p for p in out if p[0]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=ROOT / ".cache" / "claim-checker")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from qa_bot.claimcheck import ClaimChecker

    checker = ClaimChecker(args.model)
    pairs = sentence_pairs({"questions"})
    scores = checker([(p, c) for p, c, _, _ in pairs])
    good = sorted(s for s, (_, _, ok, _) in zip(scores, pairs, strict=True) if ok)
    bad = sorted(s for s, (_, _, ok, _) in zip(scores, pairs, strict=True) if not ok)
    threshold = good[int((1 - KEEP) * len(good))]
    rescue = max(bad) + 1e-3
    by_kind: dict[str, list[bool]] = {}
    for s, (*_, kind) in zip(scores, pairs, strict=True):
        by_kind.setdefault(kind, []).append(s >= threshold)
    result = {"threshold": round(threshold, 3), "rescue": round(rescue, 3), "keep": KEEP,
              "correct": len(good), "planted": len(bad),
              "kept_at_threshold": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_kind.items())},
              "data": "tests/fixtures/strong_answers.jsonl, set 'questions' (development) only"}
    print(json.dumps(result, indent=2))
    if not args.no_write:
        (args.model / "calibration.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""How well a trained claim checker separates the strong-answer fixtures' correct sentences from each kind of
planted error: ROC AUC of its score, each sentence against the seed sentences that hold its quotes.

    .venv/bin/python benchmarks/claim_checker_auc.py .cache/claim-checker

Prints one line for the dev part (set `questions`) and one for the report part (`holdout`, `test`,
`final`): the AUC over all sentences, then correct sentences against each kind of error alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "train"))

from calibrate_claims import sentence_pairs  # noqa: E402

from qa_bot.claimcheck import ClaimChecker  # noqa: E402

PARTS = {"dev": {"questions"}, "report": {"holdout", "test", "final"}}
KINDS = ("relation", "number", "date", "name", "unsupported")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trained claim checker folder")
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    checker = ClaimChecker(args.model)
    for part, sets in PARTS.items():
        pairs = sentence_pairs(sets)
        scores = checker([(premise, claim) for premise, claim, _, _ in pairs])
        labels = [ok for _, _, ok, _ in pairs]
        row = [f"{part}: all {roc_auc_score(labels, scores):.3f}"]
        for kind in KINDS:
            mine = [(ok, s) for (_, _, ok, k), s in zip(pairs, scores, strict=True) if k in ("correct", kind)]
            if any(not ok for ok, _ in mine):
                row.append(f"{kind} {roc_auc_score([ok for ok, _ in mine], [s for _, s in mine]):.3f}")
        print(" ".join(row))


if __name__ == "__main__":
    main()

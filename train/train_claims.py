"""Train the claim checker: does a quoted passage support a sentence a model wrote from it?

A sentence-transformers CrossEncoder (one logit, binary cross-entropy, CrossEncoderTrainer), started from
the evidence reader's encoder (reading comprehension, trained here), fine-tuned on claims written for
SQuAD 1.1 train paragraphs (train/data/claims/, README there): faithful paraphrases against their
evidence (supported), the same with one error each (a changed relation, number, date or name, or a
detail the evidence does not state), and every supported claim against another sentence of its
paragraph (not supported).

    python train/train_claims.py --out .cache/claim-checker
    python train/train_claims.py --smoke      # a few steps, for CI
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CLAIMS = Path(__file__).parent / "data" / "claims"
MAX_LENGTH = 160
HELD_OUT = "hn"  # the files kept for measuring the trained model, never trained on
# Changed relations that are false read either way round (the kinds of claims-i on; README there).
SYMMETRIC = frozenset({"antonym", "swap", "negation", "order", "status"})


def training_files(only: str = "") -> str:
    """The letters of the claim files to train on: `only`'s, or every file there but the held-out ones."""
    if set(only) & set(HELD_OUT):
        raise SystemExit(f"files {HELD_OUT} are held out for measuring: never train on them")
    return only or "".join(sorted({p.stem.split("-")[1] for p in CLAIMS.glob("claims-*.jsonl")} - set(HELD_OUT)))


def load(letters: str) -> list[dict[str, Any]]:
    """Written claims of the given files, each with its paragraph."""
    rows = []
    for letter in letters:
        tasks = CLAIMS / f"tasks-{letter}.jsonl"
        claims = CLAIMS / f"claims-{letter}.jsonl"
        if not claims.exists():
            continue
        context = {json.loads(line)["paragraph_id"]: json.loads(line)["context"]
                   for line in tasks.read_text(encoding="utf-8").splitlines() if line.strip()}
        for line in claims.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["paragraph_id"] in context and row["evidence"] in context[row["paragraph_id"]]:
                    rows.append({**row, "context": context[row["paragraph_id"]]})
    return rows


def pairs(rows: list[dict[str, Any]], seed: int, mirror: bool = True) -> list[tuple[str, str, float, str]]:
    """(evidence, claim, label, kind): the written pairs, plus each supported claim against another
    sentence of its paragraph; with mirror, each changed relation of a kind that contradicts both ways
    (SYMMETRIC) also read the other way round, the changed sentence as the quote and the evidence as the
    claim. A change that only strengthens ('often' -> 'always', 'may' -> 'will') is not mirrored: read the
    other way, the quote would support the claim."""
    from qa_bot.corpus import split_sentences

    rng = random.Random(seed)
    out = []
    for r in rows:
        out.append((r["evidence"], r["claim"], 1.0 if r["supported"] else 0.0, r["how"]))
        if mirror and r["how"] == "relation" and r.get("kind") in SYMMETRIC:
            out.append((r["claim"], r["evidence"], 0.0, "relation-mirrored"))
        if r["supported"]:
            ctx = r["context"]
            others = [ctx[s:e] for s, e in split_sentences(ctx, 0, len(ctx))
                      if ctx[s:e] not in r["evidence"] and r["evidence"] not in ctx[s:e]]
            if others:
                out.append((rng.choice(others), r["claim"], 0.0, "other-sentence"))
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--init", default=str(ROOT / "models" / "evidence-reader"),
                    help="encoder to start from (default: the evidence reader)")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "claim-checker"))
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--no-mirror", action="store_true", help="do not add the changed relations read the other way")
    ap.add_argument("--only", default="",
                    help="train on these claim files only (letters; default all but the held out)")
    ap.add_argument("--smoke", action="store_true", help="a few steps on a few pairs (CI)")
    args = ap.parse_args()

    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from sklearn.metrics import roc_auc_score

    torch.manual_seed(args.seed)
    started = time.time()
    letters = training_files(args.only)
    train = pairs(load(letters), args.seed, mirror=not args.no_mirror)
    held = pairs(load(HELD_OUT), args.seed + 1, mirror=False)
    if args.smoke:
        train, held = train[:64], held[:32]
    kinds: dict[str, int] = {}
    for *_, kind in train:
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"{len(train)} training pairs {kinds}; {len(held)} held out", flush=True)
    model = CrossEncoder(args.init, num_labels=1, max_length=MAX_LENGTH, local_files_only=True,
                         model_kwargs={"dtype": torch.float32})
    data = Dataset.from_dict({"evidence": [p[0] for p in train], "claim": [p[1] for p in train],
                              "label": [p[2] for p in train]})
    out = Path(args.out)
    targs = CrossEncoderTrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch,
        learning_rate=args.lr, warmup_steps=0.1, weight_decay=0.01, logging_steps=20, save_strategy="no",
        report_to=[], use_cpu=True, seed=args.seed, bf16=not args.smoke,
        max_steps=int(os.environ.get("SMOKE_STEPS", "2")) if args.smoke else -1,
    )
    trainer = CrossEncoderTrainer(model=model, args=targs, train_dataset=data, loss=BinaryCrossEntropyLoss(model))
    trainer.train()
    scores = (model.predict([(p[0], p[1]) for p in held], batch_size=64, activation_fn=torch.nn.Identity())
              if held else [])
    by_kind: dict[str, list[float]] = {}
    for p, s in zip(held, scores, strict=True):
        by_kind.setdefault(p[3], []).append(float(s))

    def auc_of(kinds_read: set[str] | None = None) -> float:
        """AUC over the held-out pairs (of these kinds only); nan when one label is missing."""
        got = [(p[2], float(s)) for p, s in zip(held, scores, strict=True) if kinds_read is None or p[3] in kinds_read]
        ys = [y for y, _ in got]
        return roc_auc_score(ys, [s for _, s in got]) if 0 < sum(ys) < len(ys) else float("nan")

    auc, rel_auc = auc_of(), auc_of({"paraphrase", "relation"})
    model.model.to(torch.float16)
    card = out / "README.md"  # the project's model card, not the library's generated one
    kept_card = card.read_text(encoding="utf-8") if card.is_file() else None
    model.save_pretrained(str(out))
    if kept_card is not None:
        card.write_text(kept_card, encoding="utf-8")
    meta = {"init": args.init, "files": letters, "mirror": not args.no_mirror, "pairs": len(train),
            "kinds": kinds, "held_out_files": HELD_OUT, "held_out": len(held),
            "held_out_auc": round(auc, 4), "held_out_auc_relation": round(rel_auc, 4),
            "held_out_median_logit": {k: round(float(sorted(v)[len(v) // 2]), 3) for k, v in by_kind.items()},
            "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "max_length": MAX_LENGTH, "seed": args.seed,
            "seconds": round(time.time() - started)}
    (out / "training.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta), flush=True)


if __name__ == "__main__":
    main()

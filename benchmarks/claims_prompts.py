"""The real prompts the pipeline sends to an LLM engine, for the questions of the seed question sets.

    .venv/bin/python benchmarks/claims_prompts.py                      # all four sets -> .cache/claims/prompts/
    .venv/bin/python benchmarks/claims_prompts.py --ids q001,h013 --print

Same path as QABot.stream/_generate with an LLM backend: clean_question, normalize_history, the bot's
_understand (condense -> search -> reader rerank), the top k reranked passages, QABot._sources_block,
and the system + answer prompt templates filled exactly as the chain fills them. A temp store is
built from seeds/. Writes one file per question (<set>/<id>.txt: the system and human messages) and
prompts.jsonl (id, set, question, history, query, sources [{n, source_id, title, text}]) so that the
fixture's quotes can be checked against what the model was shown (tests/fixtures/strong_answers.jsonl
was written by reading these files).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa_bot.config import Settings
from qa_bot.pipeline import QABot, _top, clean_question
from qa_bot.retrieve import normalize_history

ROOT = Path(__file__).resolve().parent.parent
SETS = {"questions": "eval/questions.jsonl", "holdout": "eval/holdout.jsonl", "test": "eval/test.jsonl",
        "final": "eval/final.jsonl"}


def load_sets(root: Path = ROOT) -> list[dict[str, object]]:
    """Every question of the four seed sets, with its set name."""
    rows = []
    for name, rel in SETS.items():
        for line in (root / rel).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["set"] = name
                rows.append(row)
    return rows


def build_prompt(bot: QABot, question: str, history: object) -> dict[str, object]:
    """The messages QABot._generate would send for this question, and the numbered sources in them."""
    text = clean_question(question, bot.settings.max_question_chars)
    read = bot._understand(text, normalize_history(history))  # type: ignore[arg-type]
    passages = _top(read.ranked, bot.settings.k)
    sources = bot._sources_block(passages)
    human = bot.prompts.answer.format(sources=sources, question=read.query)
    return {
        "query": read.query,
        "system": bot.prompts.system,
        "human": human,
        "sources": [{"n": i, "source_id": p.source_id, "title": p.title, "text": p.text}
                    for i, p in enumerate(passages, 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "claims" / "prompts")
    parser.add_argument("--ids", default="", help="comma-separated question ids (default: all)")
    parser.add_argument("--print", action="store_true", help="also print the prompts")
    args = parser.parse_args()

    wanted = {i for i in args.ids.split(",") if i}
    rows = [r for r in load_sets() if not wanted or r["id"] in wanted]
    tmp = Path(tempfile.mkdtemp(prefix="claims-prompts-"))
    try:
        settings = Settings.from_env(env={}, store_dir=tmp / "store", seeds_dir=ROOT / "seeds")
        bot = QABot(settings)
        bot.ensure_store()
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "prompts.jsonl", "w", encoding="utf-8") as out:
            for row in rows:
                prompt = build_prompt(bot, str(row["question"]), row.get("history") or [])
                record = {"id": row["id"], "set": row["set"], "question": row["question"],
                          "history": row.get("history") or [], "answerable": row["answerable"], **prompt}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                folder = args.out / str(row["set"])
                folder.mkdir(exist_ok=True)
                body = f"=== system\n{prompt['system']}\n\n=== human\n{prompt['human']}\n"
                (folder / f"{row['id']}.txt").write_text(body, encoding="utf-8")
                if args.print:
                    print(f"##### {row['id']} ({row['set']})\n{body}")
        print(f"{len(rows)} prompts written to {args.out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

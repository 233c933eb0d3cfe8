# ruff: noqa: E501
"""Warm QABot.ask() latency (extractive engine) against a bare Chroma similarity_search, same run.

    .venv/bin/python benchmarks/ask.py                 # 3 measured passes over eval/questions.jsonl
    .venv/bin/python benchmarks/ask.py --passes 5 --profile

A temp store is built from seeds/ (QABot(settings).ensure_store()). One warm-up pass runs every
question through both paths first. Then, per question and interleaved (the order alternates per
question and pass: ABAB / BABA), it times

  ask     bot.ask(question, history)                     (condense -> hybrid search -> reader rerank -> select)
  sim     langchain_chroma.Chroma(...).similarity_search(question, k=5) over the same store's
          "<collection>_passages" collection with the same embeddings (embed query + ANN query)

and prints p50/p95 of both, the ratio ask_p50 / sim_p50 (target: within 10x), the median of each
Answer.timings stage, a finer per-stage breakdown measured by calling the pipeline's pieces
directly, and (with --profile, to stderr) a cProfile top-15 of one warm pass.
Times are never asserted on: the machine is shared; compare the ratios.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa_bot.cite import compose
from qa_bot.config import READER_BACKENDS, Settings
from qa_bot.engines.extractive import rerank
from qa_bot.lexical import terms
from qa_bot.pipeline import QABot, Read, clean_question
from qa_bot.retrieve import condense, normalize_history, search

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    i = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[i]


def load_questions(path: Path) -> list[tuple[str, list]]:  # type: ignore[type-arg]
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append((row["question"], row.get("history") or []))
    return out


def stage_breakdown(
    bot: QABot, questions: list[tuple[str, list]], passes: int
) -> dict[str, list[float]]:  # type: ignore[type-arg]
    """Time the pipeline's pieces one by one (same calls ask() makes, extractive path)."""
    idx = bot.index
    st: dict[str, list[float]] = {}

    def add(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        st.setdefault(name, []).append((t1 - t0) * 1000)
        return t1

    for _ in range(passes):
        for question, history in questions:
            t = time.perf_counter()
            text = clean_question(question, bot.settings.max_question_chars)
            query = condense(text, normalize_history(history))
            t = add("clean+condense", t)
            qv = idx.embeddings.embed_query(query)
            t = add("  embed_query (inside search)", t)
            idx.store.passages.query(
                query_embeddings=[qv],
                n_results=min(50, idx.snapshot().size),
                include=["distances", "embeddings"],
            )
            t = add("  chroma query n=50 +embeddings (inside search)", t)
            idx.snapshot().lexical.scores(terms(query))
            t = add("  bm25 scores (inside search)", t)
            found = search(idx, query, bot.settings.candidates)
            t = add("search() total (candidates)", t)
            readings = bot.read_candidates(query, [p.text for p in found.passages])
            t = add("reader (candidates)", t)
            chosen = bot.select(Read(query, found, rerank(found.passages, readings, bot.calibration.retrieval_weight)))
            t = add("select", t)
            if not chosen.abstained:
                compose(chosen.evidence)
            add("compose", t)
    return st


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--questions", default=str(ROOT / "eval" / "questions.jsonl"))
    ap.add_argument("--seeds", default=str(ROOT / "seeds"))
    ap.add_argument(
        "--passes", type=int, default=3, help="measured passes over the questions (after 1 warm-up)"
    )
    ap.add_argument(
        "--profile", action="store_true", help="cProfile top-15 of one warm ask pass, to stderr"
    )
    ap.add_argument("--candidates", type=int, default=20, help="passages the reader reads (QA_BOT_CANDIDATES)")
    ap.add_argument("--window", type=int, default=0, help="sentences read per passage (QA_BOT_READER_WINDOW)")
    ap.add_argument("--reader-backend", default=Settings.reader_backend, choices=READER_BACKENDS,
                    help="QA_BOT_READER_BACKEND")
    ap.add_argument("--first", type=int, default=None,
                    help="candidates read before the reader may stop (QA_BOT_READER_FIRST; 0 reads all; "
                         "default the reader's calibration)")
    args = ap.parse_args(argv)

    questions = load_questions(Path(args.questions))
    tmp = Path(tempfile.mkdtemp(prefix="qa_bot_bench_ask_"))
    try:
        settings = Settings.from_env(env={}, store_dir=tmp / "store", seeds_dir=Path(args.seeds),
                                     candidates=args.candidates, reader_window=args.window,
                                     reader_first=args.first, reader_backend=args.reader_backend)
        bot = QABot(settings)
        t0 = time.perf_counter()
        bot.ensure_store()
        print(
            f"# store built from {args.seeds}: {bot.store.count()} passages in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
            flush=True,
        )

        from langchain_chroma import Chroma

        chroma = Chroma(
            client=bot.store.client,
            collection_name=f"{settings.collection}_passages",
            embedding_function=bot.embeddings,
        )

        def ask(q: str, h: list) -> object:  # type: ignore[type-arg]
            bot._recent.clear()  # no remembered reading: every ask searches and reads again
            return bot.ask(q, h)

        def sim(q: str) -> object:
            return chroma.similarity_search(q, k=5)

        # Warm-up pass: model, snapshot/BM25 load, sentence-vector cache, Chroma caches.
        for q, h in questions:
            ask(q, h)
            sim(q)

        ask_ms: list[float] = []
        sim_ms: list[float] = []
        stages: dict[str, list[float]] = {}
        per_pair_ratio: list[float] = []
        flip = False
        for _ in range(args.passes):
            for q, h in questions:
                flip = not flip
                order = ("ask", "sim") if flip else ("sim", "ask")
                got: dict[str, float] = {}
                for which in order:
                    t = time.perf_counter()
                    if which == "ask":
                        answer = ask(q, h)
                    else:
                        sim(q)
                    got[which] = (time.perf_counter() - t) * 1000
                ask_ms.append(got["ask"])
                sim_ms.append(got["sim"])
                per_pair_ratio.append(got["ask"] / got["sim"])
                timings = answer.timings  # type: ignore[attr-defined]
                for name, v in timings.items():
                    stages.setdefault(name, []).append(v * 1000)
                stages.setdefault("(ask - sum of timings)", []).append(
                    got["ask"] - 1000 * sum(timings.values())
                )

        a50, a95, s50, s95 = pct(ask_ms, 50), pct(ask_ms, 95), pct(sim_ms, 50), pct(sim_ms, 95)
        print(
            f"store: {bot.store.count()} passages from {len(list(Path(args.seeds).glob('*')))} seed files; "
            f"{len(questions)} questions x {args.passes} passes = {len(ask_ms)} interleaved pairs (after 1 warm-up pass)"
        )
        print()
        print(f"{'path':<34} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
        print("-" * 61)
        print(
            f"{'QABot.ask() extractive':<34} {a50:>8.2f} {a95:>8.2f} {statistics.fmean(ask_ms):>8.2f}"
        )
        print(
            f"{'Chroma.similarity_search k=5':<34} {s50:>8.2f} {s95:>8.2f} {statistics.fmean(sim_ms):>8.2f}"
        )
        print()
        verdict = "within" if a50 / s50 <= 10.0 else "OVER"
        print(
            f"ratio ask_p50 / similarity_search_p50 = {a50 / s50:.2f}x  ({verdict} the 10x target); "
            f"median of per-pair ratios = {statistics.median(per_pair_ratio):.2f}x"
        )
        print()
        print("Answer.timings per stage (ms, over the measured asks):")
        print(f"  {'stage':<40} {'p50':>8} {'p95':>8}")
        for name, vals in stages.items():
            print(f"  {name:<40} {pct(vals, 50):>8.2f} {pct(vals, 95):>8.2f}")
        print()

        fine = stage_breakdown(bot, questions, 1)
        print(
            "finer breakdown (ms; each piece called directly, one pass; indented = parts of search()):"
        )
        print(f"  {'piece':<48} {'p50':>8} {'p95':>8}")
        for name, vals in fine.items():
            print(f"  {name:<48} {pct(vals, 50):>8.2f} {pct(vals, 95):>8.2f}")

        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for q, h in questions:
                ask(q, h)
            prof.disable()
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            out.write(
                f"\n=== cProfile: one warm ask() pass over {len(questions)} questions, by cumulative ===\n"
            )
            stats.sort_stats("cumulative").print_stats(15)
            out.write("\n=== same pass, by own (tottime) ===\n")
            stats.sort_stats("tottime").print_stats(15)
            print(out.getvalue(), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# ruff: noqa: E501
"""Scale: what a corpus of 10k and 100k passages costs, and 1M extrapolated from the measured per-passage costs.

    .venv/bin/python benchmarks/scale.py                          # 10k and 100k passages
    .venv/bin/python benchmarks/scale.py --sizes 10000 --keep /tmp/scale   # keep the stores for a re-run

For every size, the five seed articles plus synthetic news-like articles (benchmarks/ingest.py's
generator) are ingested into a fresh on-disk store with the configured embedding backend. Then:

  ingest p/s     passages per second of the ingest, beside raw encode p/s: the same backend encoding the
                 distinct sentence spans the ingest encodes (timed on a sample, scaled; the ceiling)
  re-ingest s    a second ingest of the unchanged folder (must write nothing: store version and index kept)
  index MB       the lexical index on disk; store MB, the whole store folder
  cold s         a fresh process: start -> first answer (imports, models, opening the store and index); the
                 median of --cold-runs fresh processes, all of them listed (the machine is shared and noisy)
  warm ask p50   QABot.ask() over the seed question set, beside a bare Chroma similarity_search p50, in the
                 same fresh process, interleaved; the ratio is the figure to compare across sizes
  RSS MB         that process's peak resident memory after the warm questions

Times are never asserted on: the machine is shared. Compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import random  # noqa: E402

from ingest import make_corpus  # noqa: E402

from qa_bot.config import Settings  # noqa: E402
from qa_bot.corpus import chunk, load_article  # noqa: E402
from qa_bot.embeddings import load_embeddings  # noqa: E402
from qa_bot.ingest import ingest  # noqa: E402
from qa_bot.lexindex import built_version  # noqa: E402
from qa_bot.store import open_store  # noqa: E402

# The fresh process: cold first answer, then warm ask() beside a bare similarity_search, then peak RSS.
PROBE = r"""
import json, os, resource, statistics, sys, time
t0 = time.perf_counter()
from qa_bot.config import Settings
from qa_bot.pipeline import QABot
settings = Settings.from_env(store_dir=sys.argv[1])
questions = [json.loads(l)["question"] for l in open(sys.argv[2]) if l.strip()][: int(sys.argv[3])]
bot = QABot(settings)
first = bot.ask(questions[0])
cold = time.perf_counter() - t0
rss_cold = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if sys.argv[4:] == ["cold"]:
    print(json.dumps({"cold_s": cold}))
    raise SystemExit(0)
from langchain_chroma import Chroma
chroma = Chroma(client=bot.store.client, collection_name=f"{settings.collection}_passages", embedding_function=bot.embeddings)
for q in questions:  # warm-up
    bot.ask(q); chroma.similarity_search(q, k=5)
ask, sim = [], []
for i, q in enumerate(questions * 2):
    order = ("ask", "sim") if i % 2 else ("sim", "ask")
    for which in order:
        t = time.perf_counter()
        if which == "ask":
            bot._recent.clear(); bot.ask(q)
        else:
            chroma.similarity_search(q, k=5)
        (ask if which == "ask" else sim).append(time.perf_counter() - t)
print(json.dumps({"cold_s": cold, "first_answer": first.text[:80], "rss_cold_mb": rss_cold,
                  "ask_p50_ms": 1000 * statistics.median(ask), "sim_p50_ms": 1000 * statistics.median(sim),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


Row = dict[str, Any]  # one size's measured figures


def du_mb(path: Path) -> float:
    """Bytes on disk under a folder, in MB (symlinks not followed)."""
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total / 1e6


def measure(size: int, work: Path, questions: Path, n_questions: int, sample: int,
            cold_runs: int = 5) -> Row:
    corpus = work / f"corpus_{size}"
    store_dir = work / f"store_{size}"
    if not corpus.exists():
        make_corpus(corpus, max(0, size - 163))
        for path in (ROOT / "seeds").glob("*.txt"):
            shutil.copyfile(path, corpus / path.name)
        sentences = sorted({a.text[s:e] for a in map(load_article, sorted(corpus.glob("*.txt")))
                            for p in chunk(a) for s, e in p.sentences})
        picked = random.Random(3).sample(sentences, min(sample, len(sentences)))
        (work / f"sentences_{size}.json").write_text(json.dumps([*picked, str(len(sentences))]))
    texts = json.loads((work / f"sentences_{size}.json").read_text())
    n_sentences, texts = int(texts[-1]), texts[:-1]
    settings = Settings.from_env(store_dir=store_dir)
    embeddings = load_embeddings(settings.embedding_model)
    embeddings.embed_documents(["warm-up"] * 8)
    t = time.perf_counter()
    embeddings.embed_documents(texts)
    encode_s = (time.perf_counter() - t) * n_sentences / len(texts)
    reused = store_dir.exists()
    t = time.perf_counter()
    first = ingest([corpus], settings=settings, embeddings=embeddings)
    ingest_s = time.perf_counter() - t
    store = open_store(settings)
    version = store.version()
    t = time.perf_counter()
    again = ingest([corpus], settings=settings, embeddings=embeddings)
    reingest_s = time.perf_counter() - t
    clean = (again.added, again.replaced, again.removed) == (0, 0, 0) and not again.reindexed and store.version() == version
    assert built_version(settings.lexical_dir) == store.version(), "the index is not of the store's version"
    env = {**os.environ, "QA_BOT_STORE_DIR": str(store_dir)}
    probe = subprocess.run([sys.executable, "-c", PROBE, str(store_dir), str(questions), str(n_questions)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
    if probe.returncode:
        raise SystemExit(probe.stderr[-3000:])
    got = json.loads(probe.stdout.strip().splitlines()[-1])
    colds = [got["cold_s"]]
    for _ in range(cold_runs - 1):
        again_cold = subprocess.run([sys.executable, "-c", PROBE, str(store_dir), str(questions), "1", "cold"],
                                    capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=True)
        colds.append(json.loads(again_cold.stdout.strip().splitlines()[-1])["cold_s"])
    got["cold_s"], got["cold_runs_s"] = statistics.median(colds), [round(c, 2) for c in colds]
    return {
        "passages": first.passages, "sentences": n_sentences, "ingest_s": ingest_s, "ingest_reused_store": reused,
        "ingest_pps": first.passages / ingest_s, "encode_pps": first.passages / encode_s,
        "reingest_s": reingest_s, "reingest_clean": clean,
        "index_mb": du_mb(settings.lexical_dir), "store_mb": du_mb(store_dir), **got,
    }


def extrapolate(rows: list[Row], target: int = 1_000_000) -> list[str]:
    """Linear in passages from the two largest sizes measured (cost = a + b * passages), arithmetic shown."""
    if len(rows) < 2:
        return ["(1M: needs two sizes)"]
    lo, hi = rows[-2], rows[-1]
    lines = [f"1M passages, extrapolated linearly from {lo['passages']} and {hi['passages']} measured passages:"]
    for key, unit in (("cold_s", "s"), ("rss_mb", "MB"), ("index_mb", "MB"), ("store_mb", "MB"), ("reingest_s", "s"),
                      ("ask_p50_ms", "ms")):
        x0, x1 = float(lo["passages"]), float(hi["passages"])
        y0, y1 = float(lo[key]), float(hi[key])
        slope = (y1 - y0) / (x1 - x0)
        value = y1 + slope * (target - x1)
        lines.append(f"  {key:<11} = {y1:.2f} + ({y1:.2f} - {y0:.2f}) / ({x1:.0f} - {x0:.0f}) x ({target} - {x1:.0f})"
                     f" = {value:.1f} {unit}")
    if hi["ingest_reused_store"]:  # a reused store was only checked, not ingested: no ingest figure
        lines.append("  ingest_s    = not measured (the store was reused; run without --keep's stores to time it)")
        return lines
    per = float(hi["ingest_s"]) / float(hi["passages"])
    lines.append(f"  ingest_s    = {float(hi['ingest_s']):.1f} s / {hi['passages']} x {target} = {per * target / 3600:.2f} h "
                 f"(ingest is linear: every passage is encoded once)")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--questions", default=str(ROOT / "eval" / "questions.jsonl"))
    ap.add_argument("--n-questions", type=int, default=20)
    ap.add_argument("--encode-sample", type=int, default=2000, help="sentences timed for the raw encode ceiling")
    ap.add_argument("--cold-runs", type=int, default=5, help="fresh processes timed to the first answer (median)")
    ap.add_argument("--keep", default=None, help="work folder to keep (and reuse on a later run)")
    args = ap.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qa_bot_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for size in sorted(int(s) for s in args.sizes.split(",")):
            print(f"# size {size} ...", file=sys.stderr, flush=True)
            row = measure(size, work, Path(args.questions), args.n_questions, args.encode_sample, args.cold_runs)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    backend = Settings.from_env()
    print(f"embedding model {backend.embedding_model} ({backend.embedding_backend}); {args.n_questions} seed questions; one run, shared 2-core machine")
    head = (f"{'passages':>9} {'ingest p/s':>10} {'encode p/s':>10} {'re-ingest s':>11} {'writes':>6} {'index MB':>8} "
            f"{'store MB':>8} {'cold s':>6} {'ask p50 ms':>10} {'sim p50 ms':>10} {'ratio':>6} {'RSS MB':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        ingest_pps = "reused" if r["ingest_reused_store"] else f"{float(r['ingest_pps']):.1f}"
        print(f"{r['passages']:>9} {ingest_pps:>10} {float(r['encode_pps']):>10.1f} {float(r['reingest_s']):>11.2f} "
              f"{'none' if r['reingest_clean'] else 'SOME':>6} {float(r['index_mb']):>8.1f} {float(r['store_mb']):>8.1f} "
              f"{float(r['cold_s']):>6.2f} {float(r['ask_p50_ms']):>10.1f} {float(r['sim_p50_ms']):>10.1f} "
              f"{float(r['ask_p50_ms']) / float(r['sim_p50_ms']):>6.1f} {float(r['rss_mb']):>7.0f}")
    print()
    for line in extrapolate(rows):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

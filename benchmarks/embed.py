"""Embedding backends compared in one run: raw encode passages/s, ingest passages/s, and closeness to torch.

    .venv/bin/python benchmarks/embed.py                                  # seeds + 2,000 synthetic passages
    .venv/bin/python benchmarks/embed.py --synthetic 3000 --ingest 10000  # the issue #13 target size
    .venv/bin/python benchmarks/embed.py --backends torch,onnx-int8 --repeats 3

For each backend (qa_bot.embeddings.load_embeddings(backend=...), the ONNX ones exported once into
--cache), interleaved with the order rotated every repeat, it times:

  encode seeds      embed_documents(<the seed passages>) and (<their distinct sentences>)
  encode synthetic  embed_documents(<N synthetic passages>) from benchmarks/ingest.py's generator
  ingest            qa_bot.ingest.ingest(<M synthetic passages>) into a fresh on-disk store, with
                    settings.embedding_backend set to the backend (ingest encodes each sentence once)

and the cosine of each backend's vectors against torch's on the same texts (min, 1st percentile,
mean). Medians of repeats; compare the ratios, never absolute times (the machine is shared).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
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

import numpy as np

from qa_bot.config import EMBEDDING_BACKENDS, Settings
from qa_bot.corpus import chunk, load_article
from qa_bot.embeddings import load_embeddings
from qa_bot.ingest import ingest

ROOT = Path(__file__).resolve().parents[1]


def _bench_ingest_module():  # type: ignore[no-untyped-def]
    """benchmarks/ingest.py (not a package) for its synthetic corpus generator."""
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "benchmarks" / "ingest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_texts() -> tuple[list[str], list[str]]:
    """The seed passages and their distinct sentences, as ingest cuts them."""
    passages: list[str] = []
    sentences: dict[str, None] = {}
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        article = load_article(path)
        for p in chunk(article, 4, 1):
            passages.append(p.text)
            sentences.update({article.text[s:e]: None for s, e in p.sentences})
    return passages, list(sentences)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default=",".join(EMBEDDING_BACKENDS))
    ap.add_argument("--synthetic", type=int, default=2000, help="synthetic passages to raw-encode (0: none)")
    ap.add_argument("--ingest", type=int, default=2000, help="synthetic passages to ingest (0: no ingest)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--cache", default=".cache/embeddings", help="where the ONNX exports are kept")
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "torch" not in backends:
        backends.insert(0, "torch")  # the reference for cosines and ratios

    bench = _bench_ingest_module()
    work = Path(tempfile.mkdtemp(prefix="qa_bot_bench_embed_"))
    try:
        texts: dict[str, list[str]] = {}
        texts["seed passages"], texts["seed sentences"] = seed_texts()
        if args.synthetic:
            texts["synthetic passages"] = bench.make_corpus(work / "synthetic", args.synthetic)[2][: args.synthetic]
        corpus, n_ingest = None, 0
        if args.ingest:
            corpus = work / "ingest"
            files, n_ingest, _, sents = bench.make_corpus(corpus, args.ingest)
            print(f"# ingest corpus: {files} files, {n_ingest} passages, {len(sents)} sentences", file=sys.stderr)

        models = {}
        for b in backends:
            t0 = time.perf_counter()
            models[b] = load_embeddings(backend=b, cache_dir=Path(args.cache))
            models[b].embed_documents(["warm-up sentence for the model."] * 8)
            print(f"# {b}: loaded (export included when first) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

        times: dict[tuple[str, str], list[float]] = {}
        vectors: dict[tuple[str, str], np.ndarray] = {}
        for r in range(args.repeats):
            order = backends[r % len(backends):] + backends[: r % len(backends)]
            for name, data in texts.items():
                for b in order:
                    t0 = time.perf_counter()
                    out = models[b].embed_documents(data)
                    times.setdefault((b, name), []).append(time.perf_counter() - t0)
                    vectors[(b, name)] = np.asarray(out, dtype=np.float32)
                    print(f"#   {r + 1}: {b:9} {name}: {len(data) / times[(b, name)][-1]:.1f}/s", file=sys.stderr)
            if corpus is not None:
                for b in order:
                    store = Path(tempfile.mkdtemp(prefix=f"store_{b}_", dir=work))
                    settings = Settings.from_env(env={}, store_dir=store, embedding_backend=b)
                    t0 = time.perf_counter()
                    summary = ingest([corpus], settings=settings, embeddings=models[b])
                    times.setdefault((b, "ingest"), []).append(time.perf_counter() - t0)
                    print(f"#   {r + 1}: {b:9} ingest {summary.passages} passages: "
                          f"{summary.passages / times[(b, 'ingest')][-1]:.1f}/s", file=sys.stderr)
                    shutil.rmtree(store, ignore_errors=True)

        rows = [(name, len(data)) for name, data in texts.items()]
        if corpus is not None:
            rows.append(("ingest", n_ingest))
        print(f"cpus {os.cpu_count()}, torch threads {__import__('torch').get_num_threads()}, "
              f"repeats {args.repeats} (medians, order rotated)")
        head = f"{'texts':<20} {'n':>6} " + " ".join(f"{b + ' /s':>14} {'x torch':>7}" for b in backends)
        print(head)
        print("-" * len(head))
        for name, n in rows:
            rates = {b: n / statistics.median(times[(b, name)]) for b in backends}
            print(f"{name:<20} {n:>6} " + " ".join(f"{rates[b]:>14.1f} {rates[b] / rates['torch']:>7.2f}"
                                                for b in backends))
        print()
        print("cosine to torch's vectors of the same texts: min / 1st percentile / mean")
        for name in texts:
            cells = []
            for b in backends[1:] if backends[0] == "torch" else backends:
                cos = (vectors[(b, name)] * vectors[("torch", name)]).sum(axis=1)
                cells.append(f"{b}: {cos.min():.5f} / {np.percentile(cos, 1):.5f} / {cos.mean():.5f}")
            print(f"  {name:<20} " + "   ".join(cells))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

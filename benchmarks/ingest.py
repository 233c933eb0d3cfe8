"""Ingest throughput (passages/s) against the raw encode ceiling of the same model, same texts.

    .venv/bin/python benchmarks/ingest.py                       # sizes 1000,10000,100000 (ETA-guarded)
    .venv/bin/python benchmarks/ingest.py --sizes 1000,10000 --repeats 3

For every size: synthetic news-like articles are written as .txt files into a temp folder, sized
(with the real qa_bot.corpus.chunk) so that they yield about that many passages. Then, in the same
run and interleaved (the order rotates each repeat), it measures:

  ingest      qa_bot.ingest.ingest(folder, settings=Settings.from_env(env={}, store_dir=<fresh tmp>))
              with the real bundled embeddings and an on-disk Chroma
  enc-pass    embeddings.embed_documents(<passage texts>) at batch 64 (the classic RAG ceiling)
  enc-sent    embeddings.embed_documents(<distinct sentence spans>) at batch 64: the texts qa_bot's
              ingest actually encodes (it embeds each sentence once and averages them per passage)
  re-ingest   a second ingest of the unchanged folder into the last store (must write nothing)

Medians over the repeats are printed. Times are never asserted on: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa_bot.config import Settings
from qa_bot.corpus import chunk, load_article, sentence_id
from qa_bot.embeddings import load_embeddings
from qa_bot.ingest import ingest
from qa_bot.store import open_store

BATCH = 64

# ----------------------------------------------------------------------------- synthetic corpus

FIRST = [
    "Nguyen",
    "Tran",
    "Le",
    "Pham",
    "Hoang",
    "Maria",
    "James",
    "Anna",
    "David",
    "Sarah",
    "Ahmed",
    "Li",
    "Wei",
    "Elena",
    "Carlos",
    "Fatima",
    "Kenji",
    "Olga",
]
LAST = [
    "Van",
    "Dung",
    "Minh",
    "Thanh",
    "Smith",
    "Garcia",
    "Kim",
    "Okafor",
    "Rossi",
    "Muller",
    "Haddad",
    "Tanaka",
    "Novak",
    "Silva",
    "Chen",
    "Dubois",
    "Johansson",
    "Patel",
]
ORGS = [
    "the Ministry of Finance",
    "the World Bank",
    "the central bank",
    "the provincial People's Committee",
    "the United Nations Development Programme",
    "the Asian Development Bank",
    "the trade union",
    "the national statistics office",
    "the Ministry of Health",
    "the port authority",
    "the city council",
    "the European Commission",
    "the Ministry of Industry and Trade",
    "the electricity company",
]
PLACES = [
    "Hanoi",
    "Geneva",
    "Jakarta",
    "Nairobi",
    "Lisbon",
    "Da",
    "Nang",
    "Bangkok",
    "Toronto",
    "Lagos",
    "Hamburg",
    "Manila",
    "Lima",
    "Osaka",
    "Seoul",
    "Cairo",
    "Madrid",
]
TOPICS = [
    "renewable energy",
    "rice exports",
    "public health",
    "digital transformation",
    "road safety",
    "flood prevention",
    "vocational training",
    "tourism recovery",
    "semiconductor supply chains",
    "coastal erosion",
    "rural broadband",
    "climate adaptation",
    "food safety",
    "port logistics",
    "primary education",
    "urban housing",
    "water supply",
    "customs reform",
]
VERBS = [
    "approved",
    "announced",
    "proposed",
    "signed",
    "reviewed",
    "launched",
    "postponed",
    "expanded",
    "criticised",
    "welcomed",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
OUTLETS = [("VNA", "Vietnam News Agency"), ("WVR", ""), ("AFP", ""), ("Reuters", "")]
TEMPLATES = [
    "{name} said on {month} {day} that {org} had {verb} a plan worth {amount} million USD for {topic} in {place}.",
    "According to {org}, {topic} spending rose by {pct} percent in the first {n} months of {year}.",
    "The project, which covers {n} districts around {place}, is expected to benefit about {count} households.",
    "{name}, who heads the {topic} programme at {org}, told reporters that the target for {year} remains unchanged.",
    "Officials in {place} {verb} new rules on {topic} after a review that lasted {n} months.",
    "More than {count} people took part in the meeting, which was chaired by {name} of {org}.",
    "Critics argued that the {amount} million USD budget for {topic} was too small to meet demand in {place}.",
    '"We will keep working with our partners on {topic}," {name} said, adding that talks would resume in {month}.',
    "Figures from {org} show that {pct} percent of firms in {place} reported higher orders in {year}.",
    "The agreement was {verb} by {n} countries and will take effect on {month} {day}, {year}.",
    "Earlier this year, {org} warned that delays in {topic} could cost {place} up to {amount} million USD.",
    "In {place}, {name} inspected {n} sites and {verb} the progress made on {topic}.",
]


def _sentence(rng: random.Random) -> str:
    return rng.choice(TEMPLATES).format(
        name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        org=rng.choice(ORGS),
        verb=rng.choice(VERBS),
        topic=rng.choice(TOPICS),
        place=rng.choice(PLACES),
        month=rng.choice(MONTHS),
        day=rng.randint(1, 28),
        year=rng.randint(2018, 2026),
        amount=rng.choice([1.5, 12, 35, 120, 275, 480, 1200]),
        pct=rng.randint(2, 75),
        n=rng.randint(2, 40),
        count=f"{rng.randint(1, 900) * 100:,}",
    )


def _article(rng: random.Random) -> str:
    abbr, full = rng.choice(OUTLETS)
    title = f"{rng.choice(PLACES)} {rng.choice(VERBS)} new push on {rng.choice(TOPICS)}"
    paragraphs = []
    for i in range(rng.randint(6, 12)):
        body = " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
        if i == 0:
            body = f"{rng.choice(PLACES)} ({abbr}) – {body}" if full else f"{abbr} - {body}"
        paragraphs.append(body)
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def make_corpus(folder: Path, target: int, seed: int = 7) -> tuple[int, int, list[str], list[str]]:
    """Write articles until the real chunker yields >= target passages.

    Returns (files, passages, passage texts, distinct sentence-span texts as ingest encodes them).
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    passages = 0
    files = 0
    passage_texts: list[str] = []
    sentences: dict[str, str] = {}
    settings = Settings.from_env(env={})
    while passages < target:
        path = folder / f"{files:06d}_synthetic.txt"
        path.write_text(_article(rng), encoding="utf-8")
        article = load_article(path)
        cut = chunk(article, settings.passage_sentences, settings.passage_overlap)
        for p in cut:
            passage_texts.append(p.text)
            for s, e in p.sentences:
                sentences[sentence_id(p.source_id, s, e, article.text[s:e])] = article.text[s:e]
        passages += len(cut)
        files += 1
    return files, passages, passage_texts, list(sentences.values())


# ----------------------------------------------------------------------------- measurements


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_size(
    target: int, repeats: int, work: Path, embeddings: object, ceiling_sample: int | None = None
) -> dict[str, object]:
    corpus = work / f"corpus_{target}"
    files, n_pass, pass_texts, sent_texts = make_corpus(corpus, target)
    # Encode time is linear in the number of texts (fixed batch size), so for a large corpus the two
    # ceilings can be timed on a random sample of the same texts and scaled up; the row says so.
    scale_pass = scale_sent = 1.0
    sent_total = len(sent_texts)
    if ceiling_sample and n_pass > ceiling_sample:
        rng = random.Random(11)
        n_sent = max(1, round(len(sent_texts) * ceiling_sample / n_pass))
        scale_pass, scale_sent = len(pass_texts) / ceiling_sample, len(sent_texts) / n_sent
        pass_texts = rng.sample(pass_texts, ceiling_sample)
        sent_texts = rng.sample(sent_texts, n_sent)
    print(
        f"# size {target}: {files} files -> {n_pass} passages, {len(sent_texts)} distinct sentence spans",
        file=sys.stderr,
        flush=True,
    )
    times: dict[str, list[float]] = {"ingest": [], "enc_pass": [], "enc_sent": []}
    last_store: Path | None = None
    summary = None

    def do_ingest() -> None:
        nonlocal last_store, summary
        if last_store is not None:
            shutil.rmtree(last_store, ignore_errors=True)
        last_store = Path(tempfile.mkdtemp(prefix="store_", dir=work))
        settings = Settings.from_env(env={}, store_dir=last_store)
        dt, summary = _timed(lambda: ingest([corpus], settings=settings, embeddings=embeddings))
        times["ingest"].append(dt)

    def do_enc_pass() -> None:
        dt = _timed(lambda: embeddings.embed_documents(pass_texts))[0]  # type: ignore[attr-defined]
        times["enc_pass"].append(dt * scale_pass)

    def do_enc_sent() -> None:
        dt = _timed(lambda: embeddings.embed_documents(sent_texts))[0]  # type: ignore[attr-defined]
        times["enc_sent"].append(dt * scale_sent)

    steps = [do_ingest, do_enc_pass, do_enc_sent]
    for r in range(repeats):
        order = (
            steps[r % 3 :] + steps[: r % 3]
        )  # rotate: ABC, BCA, CAB, ... so no step always runs first
        for step in order:
            step()
        print(
            f"#   repeat {r + 1}/{repeats}: ingest {times['ingest'][-1]:.1f}s, "
            f"enc-pass {times['enc_pass'][-1]:.1f}s, enc-sent {times['enc_sent'][-1]:.1f}s",
            file=sys.stderr,
            flush=True,
        )

    # Re-ingest the unchanged corpus into the last store: must add/replace/remove nothing.
    assert last_store is not None
    settings = Settings.from_env(env={}, store_dir=last_store)
    store = open_store(settings)
    before_version, before_count = store.version(), store.count()
    re_times = []
    for _ in range(max(1, min(repeats, 3))):
        dt, again = _timed(lambda: ingest([corpus], settings=settings, embeddings=embeddings))
        re_times.append(dt)
    wrote_nothing = (
        again.added == 0
        and again.replaced == 0
        and again.removed == 0  # type: ignore[attr-defined]
        and store.version() == before_version
        and store.count() == before_count
    )
    shutil.rmtree(last_store, ignore_errors=True)
    shutil.rmtree(corpus, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "passages": n_pass,
        "files": files,
        "sentences": sent_total,
        "ceiling_sampled": ceiling_sample if scale_pass != 1.0 else None,
        "repeats": repeats,
        "ingest_s": med["ingest"],
        "enc_pass_s": med["enc_pass"],
        "enc_sent_s": med["enc_sent"],
        "reingest_s": statistics.median(re_times),
        "reingest_clean": wrote_nothing,
        "added": summary.added if summary else 0,  # type: ignore[attr-defined]
        "extrapolated": False,
    }


def print_table(rows: list[dict[str, object]]) -> None:
    head = (
        f"{'passages':>9} {'sents':>7} {'ingest s':>9} {'ingest p/s':>10} {'enc-pass p/s':>12} "
        f"{'ingest/enc-pass':>15} {'enc-sent s':>10} {'ingest/enc-sent t':>17} {'re-ingest s':>11} "
        f"{'re-ingest writes':>16}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        n = float(r["passages"])  # type: ignore[arg-type]
        ing, ep, es = float(r["ingest_s"]), float(r["enc_pass_s"]), float(r["enc_sent_s"])  # type: ignore[arg-type]
        mark = " (EXTRAPOLATED)" if r["extrapolated"] else ""
        if r.get("ceiling_sampled"):
            mark += f" (ceilings timed on {r['ceiling_sampled']} sampled passages, scaled)"
        clean = "n/a" if r["extrapolated"] else ("none (ok)" if r["reingest_clean"] else "WROTE!")
        re_s = "n/a" if r["extrapolated"] else f"{float(r['reingest_s']):.2f}"  # type: ignore[arg-type]
        print(
            f"{int(n):>9} {int(r['sentences']):>7} {ing:>9.1f} {n / ing:>10.1f} {n / ep:>12.1f} "  # type: ignore[call-overload]
            f"{(n / ing) / (n / ep):>15.2f} {es:>10.1f} {ing / es:>17.2f} {re_s:>11} {clean:>16}{mark}"
        )
    print()
    print(
        "ingest/enc-pass  = ingest passages/s / raw encode of the passage texts (batch 64); can exceed 1.0"
    )
    print(
        "                   because ingest encodes sentences once and averages them, never whole passages."
    )
    print(
        "ingest/enc-sent t = ingest seconds / seconds to raw-encode the same distinct sentence spans:"
    )
    print("                   1.00 would mean Chroma writes, chunking, hashing etc. cost nothing.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes", default="1000,10000,100000", help="target passage counts, comma separated"
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="repeats per size (default: 3 up to 2,000 passages, else 1)",
    )
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=25.0,
        help="skip (and extrapolate) a size whose estimated time exceeds this",
    )
    ap.add_argument("--force", action="store_true", help="run every size whatever its ETA")
    ap.add_argument(
        "--ceiling-sample",
        type=int,
        default=None,
        help="time the encode ceilings on a random sample of this many passages (scaled up linearly)",
    )
    ap.add_argument("--workdir", default=None, help="temp parent folder (default: system temp)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    embeddings = load_embeddings()
    embeddings.embed_documents(["warm-up sentence for the model."] * 8)  # type: ignore[attr-defined]
    rows: list[dict[str, object]] = []
    work = Path(tempfile.mkdtemp(prefix="qa_bot_bench_ingest_", dir=args.workdir))
    try:
        for size in sorted(sizes):
            repeats = args.repeats or (3 if size <= 2000 else 1)
            if rows:
                ref = rows[-1]
                per = (
                    float(ref["ingest_s"])
                    + float(ref["enc_pass_s"])
                    + float(ref["enc_sent_s"])  # type: ignore[arg-type]
                    + float(ref["reingest_s"])
                ) / float(ref["passages"])  # type: ignore[arg-type]
                eta = per * size * repeats / 60
                print(
                    f"# ETA for {size} passages x {repeats} repeat(s): ~{eta:.1f} min "
                    f"(linear from {ref['passages']})",
                    file=sys.stderr,
                    flush=True,
                )
                if eta > args.max_minutes and not args.force:
                    scale = size / float(ref["passages"])  # type: ignore[arg-type]
                    rows.append(
                        {
                            **ref,
                            "passages": size,
                            "sentences": int(float(ref["sentences"]) * scale),  # type: ignore[arg-type]
                            "ingest_s": float(ref["ingest_s"]) * scale,
                            "enc_pass_s": float(ref["enc_pass_s"]) * scale,  # type: ignore[arg-type]
                            "enc_sent_s": float(ref["enc_sent_s"]) * scale,
                            "extrapolated": True,  # type: ignore[arg-type]
                        }
                    )
                    print(
                        f"# {size}: over --max-minutes {args.max_minutes}; row is a LINEAR EXTRAPOLATION. "
                        f"Measure it with: nohup .venv/bin/python benchmarks/ingest.py --sizes {size} --force "
                        f"> bench_ingest_{size}.log 2>&1 &",
                        file=sys.stderr,
                        flush=True,
                    )
                    continue
            rows.append(run_size(size, repeats, work, embeddings, args.ceiling_sample))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"model: bundled all-MiniLM-L6-v2, encode batch {BATCH}, torch threads "
        f"{__import__('torch').get_num_threads()}, cpus {os.cpu_count()}; medians of repeats (order rotated)"
    )
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

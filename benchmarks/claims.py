# ruff: noqa: E501
"""The claim check (cite.verify) measured with strong-model answers served by a real loopback OpenAI server.

    .venv/bin/python benchmarks/claims.py                  # both modes (streaming and not), prints the figures
    .venv/bin/python benchmarks/claims.py --modes stream --ids q002,f005 --verbose
    .venv/bin/python benchmarks/claims.py --json .cache/claims/report.json

The answers are tests/fixtures/strong_answers.jsonl (see tests/fixtures/README.md): for questions of the
four seed question sets, correct answers written by a strong model from the real prompts, each correct
answer again with one planted error (number, date, name, relation, or a claim not in the sources), and
model declines (NOT IN SOURCES) for unanswerable questions. Sentences are stored without markers, with
the verbatim quotes that support them: at serving time the reply function reads the numbered sources of
the actual request and writes the marker [n] of the source holding each quote, so the fixture survives
retrieval changes. A quote in none of the request's sources makes that served answer "not servable": it
is listed, and left out of every figure.

Each answer goes through tests/openai_server.FakeOpenAIServer (127.0.0.1, ephemeral port) and the real
pipeline: QABot(settings with backend="openai", openai_base_url=<the server>).ask(question, history), the
chat model being the one engines.chat_model builds for "openai" (langchain_openai.ChatOpenAI), once as
built (the pipeline streams: stream=true requests) and once with disable_streaming=True (stream=false).
A temp store is built from seeds/ with the real embedding model and the trained reader.

Figures: correct sentences kept; planted sentences removed, overall and by kind (and "strict": only where
the same sentence written correctly was kept); model declines that decline; quotes verbatim
(article[start:end] == quote); and Answer.timings["verify"] p50 for drafts of three sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from openai_server import FakeOpenAIServer  # noqa: E402
from qa_bot import engines  # noqa: E402
from qa_bot.cite import split_claims  # noqa: E402
from qa_bot.config import READER_BACKENDS, Settings  # noqa: E402
from qa_bot.pipeline import NOT_IN_SOURCES, REMOVED, QABot  # noqa: E402
from qa_bot.types import Answer  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "strong_answers.jsonl"
KINDS = ("number", "date", "name", "relation", "unsupported")
MODES = ("stream", "nostream")
TARGETS = {"kept": 0.95, "removed": 0.90, "removed_kind": 0.80, "declines": 0.95, "verbatim": 1.0}


# ------------------------------------------------------------------ fixture


@dataclass(frozen=True)
class Sentence:
    """One sentence of a served answer, without its marker, and the quotes that support it."""

    text: str
    quotes: tuple[str, ...]
    kind: str = "correct"  # or the planted error's kind


@dataclass(frozen=True)
class Case:
    """One question of the fixture: a correct answer with its planted variants, or a decline."""

    id: str
    set: str
    question: str
    history: list[Any]
    answerable: bool
    decline: bool
    style: str
    sentences: tuple[Sentence, ...]
    planted: tuple[tuple[int, Sentence], ...]


@dataclass(frozen=True)
class Variant:
    """What the fake model replies for one request: a case's answer, correct or with one planted error."""

    case: Case
    name: str  # "correct", "decline", or "<kind>#<n>"
    sentences: tuple[Sentence, ...]
    planted_at: int = -1  # index of the planted sentence in .sentences

    @property
    def kind(self) -> str:
        return self.sentences[self.planted_at].kind if self.planted_at >= 0 else self.name


def load_cases(path: Path = FIXTURE) -> list[Case]:
    """The fixture's cases, in file order."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        sentences = tuple(Sentence(s["text"], tuple(s["quotes"])) for s in row.get("sentences", []))
        planted = tuple((p["index"], Sentence(p["text"], tuple(p["quotes"]), p["kind"])) for p in row.get("planted", []))
        cases.append(Case(row["id"], row["set"], row["question"], row.get("history") or [], row["answerable"],
                          bool(row.get("decline")), row.get("style", "inline"), sentences, planted))
    return cases


def variants(case: Case) -> list[Variant]:
    """The correct answer and one variant per planted error (replacing its sentence, or appended)."""
    if case.decline:
        return [Variant(case, "decline", ())]
    out = [Variant(case, "correct", case.sentences)]
    for n, (index, wrong) in enumerate(case.planted):
        sentences = list(case.sentences)
        if index < len(sentences):
            sentences[index] = wrong
        else:
            sentences.append(wrong)
            index = len(sentences) - 1
        out.append(Variant(case, f"{wrong.kind}#{n}", tuple(sentences), index))
    return out


# ------------------------------------------------------------------ serving


def request_sources(body: dict[str, Any]) -> dict[int, str]:
    """The numbered sources of a chat request, as QABot._sources_block wrote them: '[n] (title) text'."""
    human = next((m["content"] for m in reversed(body.get("messages") or []) if m.get("role") == "user"), "")
    block = human.split("Sources:\n", 1)[1] if "Sources:\n" in human else human
    block = block.rsplit("\n\nQuestion: ", 1)[0]
    out: dict[int, str] = {}
    n, pos = 1, 0 if block.startswith("[1] (") else -1
    while pos >= 0:
        nxt = block.find(f"\n\n[{n + 1}] (", pos)
        out[n] = block[pos : nxt if nxt >= 0 else len(block)]
        pos, n = (nxt + 2, n + 1) if nxt >= 0 else (-1, n)
    return out


def markers_for(sentence: Sentence, sources: dict[int, str]) -> tuple[list[int], list[str]]:
    """The source numbers holding the sentence's quotes, and the quotes found in none."""
    found, missing = [], []
    for quote in sentence.quotes:
        n = next((i for i, text in sources.items() if quote in text), None)
        if n is None:
            missing.append(quote)
        elif n not in found:
            found.append(n)
    return found, missing


def render(sentence: Sentence, numbers: Sequence[int], style: str) -> str:
    """A sentence with its marker the way models write them: 'text [1].', 'text. [1, 2]'."""
    text = sentence.text.strip()
    if not numbers:
        return text
    stop = text[-1] if text[-1] in ".!?" else ""
    body = text[: -1] if stop else text
    if style == "after_stop":
        return f"{body}{stop} [{', '.join(map(str, numbers))}]"
    return f"{body} {''.join(f'[{n}]' for n in numbers)}{stop}"


@dataclass
class Served:
    """What the reply function sent for one request."""

    draft: str = ""
    missing: list[str] = field(default_factory=list)
    stream: bool | None = None
    rendered: list[str] = field(default_factory=list)  # each sentence with its markers


def reply_for(variant: Variant, served: Served):  # type: ignore[no-untyped-def]
    """The FakeOpenAIServer reply callable for a variant: markers from the request's own sources."""

    def reply(body: dict[str, Any]) -> str:
        served.stream = bool(body.get("stream"))
        if variant.case.decline:
            served.draft = NOT_IN_SOURCES
            return served.draft
        sources = request_sources(body)
        parts = []
        for sentence in variant.sentences:
            numbers, missing = markers_for(sentence, sources)
            served.missing += missing
            parts.append(render(sentence, numbers, variant.case.style))
        served.rendered = parts
        served.draft = ("\n" if variant.case.style == "lines" else " ").join(parts)
        return served.draft

    return reply


# ------------------------------------------------------------------ running


@dataclass
class Outcome:
    """One variant served in one mode and answered by the pipeline."""

    case: str
    set: str
    variant: str
    kind: str
    mode: str
    servable: bool
    draft: str
    answer: str
    abstained: bool
    rendered: list[str]  # each served sentence with its markers
    kept: list[bool]  # per served sentence
    reasons: list[str]  # per served sentence: why it was removed ('' when kept)
    planted_at: int
    pieces: list[int]  # claims the pipeline cut each sentence into
    sentences: int
    verify: float | None
    encode: float | None  # the same draft's claims encoded alone, right after (three-sentence drafts only)
    citations: int
    verbatim: int
    missing: list[str]
    stream_sent: bool | None


def _removed_reasons(answer: Answer) -> dict[str, str]:
    """Removed claim text -> reason, from the answer's warnings."""
    out = {}
    for w in answer.warnings:
        m = re.match(re.escape(REMOVED) + r" .*? draft: \u201c(.*)\u201d \((.*)\)$", w, re.S)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def verbatim_count(answer: Answer, folder: Path) -> int:
    """Citations whose quote is exactly the article text at [start:end]."""
    good = 0
    for c in answer.citations:
        path = folder / c.source_id
        if path.is_file() and path.read_text(encoding="utf-8")[c.start : c.end] == c.quote:  # = open().read()
            good += 1
    return good


def judge(variant: Variant, mode: str, served: Served, answer: Answer, seeds: Path) -> Outcome:
    """Which served sentences the pipeline kept, read from the final answer."""
    reasons_by_claim = _removed_reasons(answer)
    kept, reasons, pieces = [], [], []
    text = " ".join(answer.text.split())
    for rendered in served.rendered:
        claims = [c for c, _ in split_claims(rendered)]
        pieces.append(len(claims))
        ok = not answer.abstained and all(" ".join(c.split()) in text for c in claims)
        kept.append(ok)
        why = "" if ok else "; ".join(reasons_by_claim.get(c, "") for c in claims).strip("; ")
        if not ok and not why:
            why = "answer declined" if answer.abstained else "not in the answer"
        reasons.append(why)
    return Outcome(
        case=variant.case.id, set=variant.case.set, variant=variant.name, kind=variant.kind, mode=mode,
        servable=not served.missing, draft=served.draft, answer=answer.text, abstained=answer.abstained,
        rendered=list(served.rendered), kept=kept, reasons=reasons, planted_at=variant.planted_at, pieces=pieces, sentences=len(variant.sentences),
        verify=answer.timings.get("verify"), encode=None, citations=len(answer.citations),
        verbatim=verbatim_count(answer, seeds), missing=list(served.missing), stream_sent=served.stream,
    )


def openai_settings(base: Settings, base_url: str) -> Settings:
    """The bot's settings pointed at the loopback server, backend openai."""
    return base.replace(backend="openai", openai_base_url=base_url, openai_api_key="sk-fixture",
                        openai_model="strong-fixture", llm_timeout=30.0, llm_max_tokens=512)


def use_mode(settings: Settings, mode: str) -> None:
    """Register the chat model engines.chat_model would build for 'openai', streaming or not."""
    model = engines.FACTORIES["openai"](settings)
    if mode == "nostream":
        model = model.model_copy(update={"disable_streaming": True})
    engines.register("openai", model, settings)


def run(bot: QABot, cases: Sequence[Case], modes: Sequence[str] = MODES, seeds: Path | None = None,
        progress: bool = False) -> list[Outcome]:
    """Serve every variant of every case in every mode through the loopback server and the pipeline."""
    seeds = seeds or bot.settings.seeds_dir
    outcomes = []
    with FakeOpenAIServer(model="strong-fixture") as server:
        settings = openai_settings(bot.settings, server.base_url)
        openai_bot = QABot.__new__(QABot)  # the same bot (store, models, caches) with the openai settings
        openai_bot.__dict__.update(bot.__dict__)
        openai_bot.settings = settings
        started = time.perf_counter()
        for i, case in enumerate(cases, 1):
            for mode in modes:
                use_mode(settings, mode)
                for variant in variants(case):
                    served = Served()
                    server.reply = reply_for(variant, served)
                    answer = openai_bot.ask(case.question, history=case.history or None)
                    outcome = judge(variant, mode, served, answer, Path(seeds))
                    if len(variant.sentences) == 3:  # a baseline in the same moment: load changes both alike
                        t0 = time.perf_counter()
                        openai_bot.embeddings.embed_documents([c for c, _ in split_claims(served.draft)])
                        outcome.encode = time.perf_counter() - t0
                    outcomes.append(outcome)
            if progress:
                print(f"  [{i}/{len(cases)}] {case.id} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return outcomes


# ------------------------------------------------------------------ figures


def share(good: int, total: int) -> float | None:
    return round(good / total, 4) if total else None


def p50(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 5) if values else None


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The harness's figures from the outcomes (not-servable outcomes left out, and listed)."""
    ok = [o for o in outcomes if o.servable]
    correct = [o for o in ok if o.variant == "correct"]
    planted = [o for o in ok if o.planted_at >= 0]
    declines = [o for o in ok if o.variant == "decline"]
    kept_correct = {(o.case, o.mode): o.kept for o in correct}

    kept = sum(sum(o.kept) for o in correct)
    total = sum(len(o.kept) for o in correct)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # removed, total, strict removed, strict total
    for o in planted:
        removed = not o.kept[o.planted_at]
        row = by_kind[o.kind]
        row[0] += removed
        row[1] += 1
        base = kept_correct.get((o.case, o.mode))
        index = o.planted_at
        if base is not None and index < len(base) and base[index]:
            row[2] += removed
            row[3] += 1
    removed_all = sum(r[0] for r in by_kind.values())
    planted_all = sum(r[1] for r in by_kind.values())
    # The other (correct) sentences of the planted variants.
    collateral = [k for o in planted for j, k in enumerate(o.kept) if j != o.planted_at]
    three = [o.verify for o in ok if o.sentences == 3 and o.variant != "decline" and o.verify is not None]
    cites = sum(o.citations for o in outcomes)
    modes = sorted({o.mode for o in outcomes})
    same: dict[tuple[str, str], set[tuple[str, bool]]] = defaultdict(set)
    for o in ok:
        same[(o.case, o.variant)].add((o.answer, o.abstained))
    return {
        "served": len(outcomes),
        "not_servable": sorted({f"{o.case}/{o.variant}" for o in outcomes if not o.servable}),
        "modes": modes,
        "stream_flags": dict(Counter(f"{o.mode}:{o.stream_sent}" for o in outcomes)),
        "kept": share(kept, total), "kept_n": [kept, total],
        "kept_by_mode": {m: share(sum(sum(o.kept) for o in correct if o.mode == m),
                                  sum(len(o.kept) for o in correct if o.mode == m)) for m in modes},
        "correct_answers_declined": share(sum(o.abstained for o in correct), len(correct)),
        "removed": share(removed_all, planted_all), "removed_n": [removed_all, planted_all],
        "removed_by_kind": {k: share(by_kind[k][0], by_kind[k][1]) for k in KINDS if by_kind[k][1]},
        "removed_by_kind_n": {k: by_kind[k][:2] for k in KINDS if by_kind[k][1]},
        "removed_strict": share(sum(r[2] for r in by_kind.values()), sum(r[3] for r in by_kind.values())),
        "removed_strict_by_kind": {k: share(by_kind[k][2], by_kind[k][3]) for k in KINDS if by_kind[k][3]},
        "collateral_kept": share(sum(collateral), len(collateral)),
        "declines": share(sum(o.abstained for o in declines), len(declines)), "declines_n": [sum(o.abstained for o in declines), len(declines)],
        "verbatim": share(sum(o.verbatim for o in outcomes), cites) if cites else 1.0, "citations": cites,
        "verify_p50_3": p50(three), "verify_n_3": len(three),
        "encode_p50_3": p50([o.encode for o in ok if o.sentences == 3 and o.encode is not None
                             and o.variant != "decline"]),
        "verify_p50_3_by_mode": {m: p50([o.verify for o in ok if o.mode == m and o.sentences == 3
                                          and o.variant != "decline" and o.verify is not None]) for m in modes},
        "verify_p50_all": p50([o.verify for o in ok if o.verify is not None and o.variant != "decline"]),
        "split_sentences": sum(1 for o in correct for n in o.pieces if n > 1),
        "modes_disagree": sorted(f"{c}/{v}" for (c, v), answers in same.items() if len(answers) > 1),
    }


def report(fig: dict[str, Any]) -> str:
    """The figures beside their targets."""
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    def mark(v: float | None, target: float) -> str:
        return "" if v is None else ("ok" if v >= target else "UNDER")

    lines = [
        f"served answers: {fig['served']} ({', '.join(fig['modes'])}); requests by stream flag: {fig['stream_flags']}",
        f"not servable (a quote in none of the request's sources; left out): {len(fig['not_servable'])} {fig['not_servable']}",
        "",
        f"{'figure':<44} {'measured':>10} {'target':>8}",
        f"{'correct sentences kept':<44} {pct(fig['kept']):>10} {'>= 95%':>8}  {mark(fig['kept'], TARGETS['kept'])} ({fig['kept_n'][0]}/{fig['kept_n'][1]}; by mode {fig['kept_by_mode']})",
        f"{'planted errors removed':<44} {pct(fig['removed']):>10} {'>= 90%':>8}  {mark(fig['removed'], TARGETS['removed'])} ({fig['removed_n'][0]}/{fig['removed_n'][1]})",
    ]
    for k, v in fig["removed_by_kind"].items():
        n = fig["removed_by_kind_n"][k]
        lines.append(f"{'  removed: ' + k:<44} {pct(v):>10} {'>= 80%':>8}  {mark(v, TARGETS['removed_kind'])} ({n[0]}/{n[1]})")
    lines += [
        f"{'  removed where the correct one was kept':<44} {pct(fig['removed_strict']):>10} {'':>8}  {json.dumps(fig['removed_strict_by_kind'])}",
        f"{'model declines -> answer declines':<44} {pct(fig['declines']):>10} {'>= 95%':>8}  {mark(fig['declines'], TARGETS['declines'])} ({fig['declines_n'][0]}/{fig['declines_n'][1]})",
        f"{'quotes verbatim':<44} {pct(fig['verbatim']):>10} {'100%':>8}  {mark(fig['verbatim'], TARGETS['verbatim'])} ({fig['citations']} citations)",
        f"{'verify p50, three-sentence drafts':<44} {1000 * (fig['verify_p50_3'] or 0):>8.1f}ms {'':>8}  (n={fig['verify_n_3']}; by mode, s: {fig['verify_p50_3_by_mode']}; all drafts {fig['verify_p50_all']})",
        f"{'  baseline: encoding the same 3 claims alone':<44} {1000 * (fig['encode_p50_3'] or 0):>8.1f}ms {'':>8}  (interleaved; the machine is shared: read the ratio, not the times)",
        "",
        f"correct answers that declined entirely: {pct(fig['correct_answers_declined'])}; correct sentences of planted variants kept: {pct(fig['collateral_kept'])}",
        f"correct sentences the pipeline cut into several claims: {fig['split_sentences']}; streaming and non-streaming answers differ for: {fig['modes_disagree'] or 'none'}",
    ]
    return "\n".join(lines)


def failures(outcomes: Sequence[Outcome], mode: str | None = None) -> str:
    """Correct sentences removed and planted errors kept, with the pipeline's reason."""
    mode = mode or (outcomes[0].mode if outcomes else "stream")
    lines = ["", f"correct sentences removed ({mode}):"]
    for o in outcomes:
        if o.mode == mode and o.servable and o.variant == "correct":
            for j, k in enumerate(o.kept):
                if not k:
                    lines.append(f"  {o.case}[{j}] ({o.reasons[j]}): {o.rendered[j]}")
    lines.append(f"planted errors kept ({mode}):")
    for o in outcomes:
        if o.mode == mode and o.servable and o.planted_at >= 0 and o.kept[o.planted_at]:
            lines.append(f"  {o.case} {o.variant}: {o.rendered[o.planted_at]}")
    lines.append(f"declines that did not decline ({mode}):")
    lines += [f"  {o.case}: {o.answer}" for o in outcomes if o.mode == mode and o.variant == "decline" and not o.abstained]
    return "\n".join(lines)


@contextmanager
def seed_bot(claim_model: Path | None = None, reader_backend: str = Settings.reader_backend) -> Iterator[QABot]:
    """A QABot over a temp store built from seeds/ (real embeddings, trained reader on reader_backend; with
    claim_model, the trained claim checker judges the drafts too)."""
    tmp = Path(tempfile.mkdtemp(prefix="claims-"))
    try:
        settings = Settings.from_env(env={}, store_dir=tmp / "store", seeds_dir=ROOT / "seeds",
                                     claim_model=claim_model, reader_backend=reader_backend)
        bot = QABot(settings)
        bot.ensure_store()
        yield bot
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES), help="stream, nostream or both (default)")
    parser.add_argument("--ids", default="", help="comma-separated case ids (default: all)")
    parser.add_argument("--sets", default="", help="comma-separated question sets, e.g. 'questions' (the dev part) "
                        "or 'holdout,test,final' (the report part)")
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--json", type=Path, help="write the figures and every outcome here")
    parser.add_argument("--verbose", action="store_true", help="list removed correct sentences and kept errors")
    parser.add_argument("--claim-model", type=Path, help="a trained claim checker to judge the drafts too "
                        "(QA_BOT_CLAIM_MODEL; default: none, the rules alone)")
    parser.add_argument("--reader-backend", default=Settings.reader_backend, choices=READER_BACKENDS,
                        help="QA_BOT_READER_BACKEND: the reader that chooses the sources")
    args = parser.parse_args()

    wanted = {i for i in args.ids.split(",") if i}
    sets = {i for i in args.sets.split(",") if i}
    cases = [c for c in load_cases(args.fixture) if (not wanted or c.id in wanted) and (not sets or c.set in sets)]
    modes = [m for m in args.modes.split(",") if m]
    with seed_bot(args.claim_model, args.reader_backend) as bot:
        started = time.perf_counter()
        outcomes = run(bot, cases, modes, progress=True)
        elapsed = time.perf_counter() - started
    fig = figures(outcomes)
    print(report(fig))
    print(f"\n{len(cases)} cases in {elapsed:.0f} s")
    if args.verbose:
        for mode in modes:
            print(failures(outcomes, mode))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"figures": fig, "outcomes": [asdict(o) for o in outcomes]}, indent=1,
                                        ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Thin command line over the library: ingest | ask | stats | index | serve | eval."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa_bot.config import Settings
from qa_bot.errors import QABotError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        store_dir=getattr(args, "store", None),
        backend=getattr(args, "backend", None),
        k=getattr(args, "k", None),
    )


def _progress_bar(desc: str) -> Any:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int, message: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=message or desc, unit="sent", file=sys.stderr, leave=False)
        bar["bar"].n = done
        bar["bar"].refresh()

    def close() -> None:
        if "bar" in bar:
            bar["bar"].close()

    update.close = close  # type: ignore[attr-defined]
    return update


def cmd_ingest(args: argparse.Namespace) -> int:
    from qa_bot.pipeline import QABot

    settings = _settings(args)
    progress = _progress_bar("ingest")
    try:
        summary = QABot(settings).ingest(args.paths or None, prune=args.prune, rebuild=args.rebuild,
                                         progress=progress)
    finally:
        progress.close()
    for message in summary.errors:
        print(f"skipped: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(summary.line())
    # Like a refused question, an item skipped for what it is (empty, binary, a name clash) is bad input;
    # the others are in the store.
    return EXIT_USAGE if summary.errors else EXIT_OK


def format_answer(answer: Any) -> str:
    """The answer, then its numbered quotes with title and source."""
    from qa_bot.documents import display_date, text_path

    lines = [answer.text]
    if getattr(answer, "as_of", ""):
        lines.append(f"(as of {display_date(answer.as_of)}, the date of [1])")
    if answer.query and answer.query != answer.question:
        lines.append(f"(searched for: {answer.query})")
    for warning in answer.warnings:
        lines.append(f"note: {warning}")
    if answer.citations:
        lines.append("")
    for c in answer.citations:
        lines.append(f"[{c.marker}] \u201c{c.quote}\u201d")
        outlet = f", {c.outlet}" if c.outlet else ""
        dated = f", {display_date(c.published)}" if c.published else ""
        # A page's or PDF's offsets count in its kept text beside it (story.html.txt), not in the file.
        counted = text_path(Path(c.source_id)).name
        where = f"characters {c.start}-{c.end}" + (f" of {counted}" if counted != c.source_id else "")
        lines.append(f"    \u2014 {c.title}{outlet}{dated} ({c.source_id}, {where})")
        if c.url:
            lines.append(f"      {c.url}")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa_bot.pipeline import QABot, clean_question

    settings = _settings(args)
    clean_question(args.question, settings.max_question_chars)  # fail fast, before loading the model
    answer = QABot(settings).ask(args.question, backend=args.backend, k=args.k, since=args.since, until=args.until)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_answer(answer))
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from qa_bot.store import open_store

    settings = _settings(args)
    store = open_store(settings)
    info = {
        "articles": int(store.sources.count()),
        "passages": store.count(),
        "sentences": int(store.sentences.count()),
        "embedding_model": settings.embedding_model,
        "store": store.location,
        "server_mode": bool(settings.chroma_url),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:16} {value}")
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    from qa_bot.ingest import sync_index
    from qa_bot.lexindex import built_version
    from qa_bot.store import open_store

    settings = _settings(args)
    store = open_store(settings)
    folder = settings.lexical_dir
    if args.rebuild:
        with store.write_lock():
            sync_index(store, force=True)
    built, current = built_version(folder), store.version()
    state = "current" if built == current else ("missing" if built is None else "out of date")
    if args.json:
        print(json.dumps({"index": str(folder), "state": state, "index_version": built, "store_version": current}))
    else:
        print(f"lexical index {folder}: {state}" + ("" if state == "current" else
                                                     " (run 'qa-bot index --rebuild')"))
    return EXIT_OK if state == "current" else EXIT_FAIL


def cmd_serve(args: argparse.Namespace) -> int:
    from qa_bot.web import serve

    settings = Settings.from_env(store_dir=args.store, host=args.host, port=args.port)
    serve(settings, no_auth=args.no_auth)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from qa_bot.evaluate import main as eval_main

    return int(eval_main(args))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="qa-bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add or update articles in the store")
    p.add_argument("paths", nargs="*", help="files, folders or http(s) links to pages (default: seeds/); "
                   ".txt, .md, .html, .htm and .pdf")
    p.add_argument("--store", type=Path, help="store folder (QA_BOT_STORE_DIR)")
    p.add_argument("--prune", action="store_true",
                   help="remove stored articles that are not among the files read from these paths")
    p.add_argument("--rebuild", action="store_true", help="start from an empty store")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--backend", help="extractive | local | openai | provider:model")
    p.add_argument("--k", type=int, help="passages, after reranking, that a language model reads (the extractive "
                   "engine quotes from every candidate it read)")
    p.add_argument("--since", help="only articles published on or after this date (2026-01-31)")
    p.add_argument("--until", help="only articles published on or before this date")
    p.add_argument("--store", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("stats", help="what the store holds")
    p.add_argument("--store", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("index", help="check the lexical index, or rebuild it from the store's passages")
    p.add_argument("--rebuild", action="store_true", help="rebuild it (server mode: into QA_BOT_INDEX_DIR)")
    p.add_argument("--store", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("serve", help="start the chat page")
    p.add_argument("--host", help="default 127.0.0.1 (QA_BOT_HOST)")
    p.add_argument("--port", type=int, help="default 7860 (QA_BOT_PORT)")
    p.add_argument("--store", type=Path)
    p.add_argument("--no-auth", action="store_true", help="allow a non-loopback host without a password")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="run the evaluation question set")
    p.add_argument("--backend", default=None)
    p.add_argument("--k", type=int, default=None)
    p.add_argument("--questions", type=Path, nargs="+", default=None,
                   help="one or more question files, evaluated as one set (default eval/questions.jsonl, "
                   "or the corpus folder's questions.jsonl)")
    p.add_argument("--store", type=Path)
    p.add_argument("--corpus", type=Path, help="a folder of articles: ingested into a store of its own, asked there")
    p.add_argument("--sample", type=int, help="a fixed sample of n questions (half unanswerable where there are)")
    p.add_argument("--part", choices=("all", "dev", "report"), default="all",
                   help="the half of the questions to use (by a hash of the id; eval/README.md)")
    p.add_argument("--conversation", action="store_true",
                   help="also ask each question after the previous one, as one chat: does it keep its answer?")
    p.add_argument("--json", action="store_true")
    p.add_argument("--baseline", action="store_true", help="also run the LangChain tutorial pipeline")
    p.add_argument("--gate", action="store_true", help="exit 1 when a metric is under its floor (or over its ceiling)")
    p.add_argument("--thresholds", type=Path, help="the floors and ceilings for --gate (default eval/thresholds.json)")
    p.add_argument("--out", type=Path, default=Path("eval"), help="where reports are written")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: library errors become one clean line and an exit code, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ValueError as exc:  # bad input: InvalidQuestionError, ArticleError, ConfigError ...
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except QABotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

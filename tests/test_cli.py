"""The command line, run as a real subprocess: clean messages, exit codes, valid JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS, file_text, make_settings
from qa_bot.cli import build_parser, format_answer
from qa_bot.ingest import ingest
from qa_bot.types import Answer, Citation

QUESTION = "How many delegates attended the 14th National Party Congress?"


def qa_bot_command() -> list[str]:
    exe = Path(sys.executable).with_name("qa-bot")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "qa_bot.cli"]


@pytest.fixture(scope="module")
def runs(  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory, real_embeddings
) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """Every CLI call of this module, started together (each loads the model once) on built stores."""
    base = tmp_path_factory.mktemp("cli")
    read_store, write_store = base / "read", base / "write"
    for store in (read_store, write_store):
        ingest([SEEDS], settings=make_settings(store), embeddings=real_embeddings)
    calls = {
        "ask_json": (read_store, ["ask", QUESTION, "--json"]),
        "stats": (read_store, ["stats", "--json"]),
        "ingest": (write_store, ["ingest", str(SEEDS)]),
        "missing": (base / "empty", ["ingest", str(base / "no-such-file.txt")]),
    }
    procs = {}
    for name, (store, args) in calls.items():
        env = {**os.environ, "QA_BOT_STORE_DIR": str(store), "HF_HUB_OFFLINE": "1",
               "ANONYMIZED_TELEMETRY": "False", "QA_BOT_BACKEND": "extractive"}
        procs[name] = subprocess.Popen(
            [*qa_bot_command(), *args], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    yield done


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_empty_question_exits_2_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "QA_BOT_STORE_DIR": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([*qa_bot_command(), "ask", "  "], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == ["error: the question is empty: type a question about the articles"]
    no_traceback(result)


def test_ask_json_is_valid(runs) -> None:  # type: ignore[no-untyped-def]
    result = runs["ask_json"]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == QUESTION
    assert {"text", "citations", "abstained", "backend", "query"} <= set(data)
    for c in data["citations"]:
        assert file_text(c["source_id"])[c["start"] : c["end"]] == c["quote"]
    no_traceback(result)


def test_stats_json(runs) -> None:  # type: ignore[no-untyped-def]
    result = runs["stats"]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["articles"] == len(list(SEEDS.glob("*.txt")))
    assert data["passages"] > 100 and data["sentences"] > data["passages"]
    assert data["server_mode"] is False


def test_ingest_prints_summary_line(runs) -> None:  # type: ignore[no-untyped-def]
    result = runs["ingest"]
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith(f"{len(list(SEEDS.glob('*.txt')))} files, ")
    assert "0 added, 0 replaced" in line and "0 removed" in line


def test_missing_path_gives_a_message(runs) -> None:  # type: ignore[no-untyped-def]
    result = runs["missing"]
    assert result.returncode == 2
    assert "no-such-file.txt" in result.stderr and "no such file" in result.stderr
    no_traceback(result)


def test_parser_knows_every_command() -> None:
    parser = build_parser()
    for argv in (["ingest", "--prune"], ["ask", "q", "--json"], ["stats"], ["serve", "--port", "1"],
                 ["eval", "--gate"]):
        assert parser.parse_args(argv).command == argv[0]
    with pytest.raises(SystemExit):
        parser.parse_args(["ask", "q", "--k", "many"])


def test_format_answer_lists_citations() -> None:
    cite = Citation(marker=1, source_id="a.txt", title="T", quote="Q.", start=3, end=5, score=0.5, outlet="O")
    text = format_answer(Answer(question="q?", text="Q. [1]", citations=(cite,), query="q? (x)"))
    assert "searched for: q? (x)" in text
    assert "[1] \u201cQ.\u201d" in text and "a.txt, characters 3-5" in text
    # a page's offsets count in its kept text, and the line says which file that is
    page = Citation(marker=1, source_id="story.html", title="T", quote="Q.", start=3, end=5, score=0.5)
    assert "story.html, characters 3-5 of story.html.txt" in format_answer(
        Answer(question="q?", text="Q. [1]", citations=(page,)))


def test_an_ingest_that_skips_an_item_exits_2_and_keeps_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text("Harbour bridge opens\n\nThe harbour bridge opened on Friday.\n", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    env = {**os.environ, "QA_BOT_STORE_DIR": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([*qa_bot_command(), "ingest", str(folder)], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=180)
    assert result.returncode == 2, result.stderr
    assert "skipped:" in result.stderr and "empty.txt" in result.stderr
    assert result.stdout.startswith("1 file, ") and "1 item skipped" in result.stdout
    no_traceback(result)

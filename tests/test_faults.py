"""Fault injection: a failing API, a deleted/corrupted store, killed ingests, a Chroma server going away."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, SEED_FILES, SEEDS, file_text, free_port, make_settings, start_chroma
from openai_server import FakeOpenAIServer
from qa_bot.errors import StoreError
from qa_bot.pipeline import QABot
from qa_bot.types import Answer

BIN = Path(sys.executable).parent
QUESTION = "Who heads Vietnam's Permanent Mission to the UN in Geneva?"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def assert_cited(answer: Answer, folder: Path = SEEDS) -> None:
    assert answer.citations, answer
    for c in answer.citations:
        assert file_text(c.source_id, folder)[c.start : c.end] == c.quote


# ------------------------------------------------------------------ API backend faults


@pytest.mark.parametrize("mode", ["refused", "slow", "error500", "malformed", "empty"])
def test_openai_fault_falls_back(real_store, real_embeddings, mode: str) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(mode="ok" if mode == "refused" else mode, delay=4.0) as fake:
        base = f"http://127.0.0.1:{free_port()}/v1" if mode == "refused" else fake.base_url
        settings = real_store[0].replace(backend="openai", openai_base_url=base, llm_timeout=1.0)
        bot = QABot(settings, embeddings=real_embeddings)
        bot.ask(QUESTION, backend="extractive")  # warm: store opened, index loaded
        started = time.perf_counter()
        answer = bot.ask(QUESTION)
        elapsed = time.perf_counter() - started
    assert "fallback" in answer.backend
    assert answer.warnings
    assert_cited(answer)
    assert elapsed < 8, f"{mode}: took {elapsed:.1f}s with a 1s timeout"
    if mode != "refused":
        assert fake.requests, "the fake server was never called"


# ------------------------------------------------------------------ store faults


def test_store_deleted_between_runs_is_rebuilt(tmp_path: Path, real_embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "store")
    first = QABot(settings, embeddings=real_embeddings)
    assert_cited(first.ask(QUESTION))  # builds from seeds on first use
    before = first.store.count()
    shutil.rmtree(tmp_path / "store")
    # The next run: a new bot on the same path finds it missing and builds it again, or says so clearly.
    second = QABot(settings, embeddings=real_embeddings)
    try:
        assert_cited(second.ask(QUESTION))
    except StoreError as exc:
        assert "store" in str(exc)
        second.reopen()
        second.ingest(rebuild=True)
        assert_cited(second.ask(QUESTION))
    assert second.store.count() == before


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "qa-bot"), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**ENV, "QA_BOT_SEEDS_DIR": str(SEEDS)})


def test_corrupted_store_then_cli_rebuild(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = _cli("ingest", "--store", str(store))
    assert done.returncode == 0, done.stderr
    (store / "chroma.sqlite3").write_bytes(os.urandom(4096) + b"garbage" * 1000)

    broken = _cli("ask", "--store", str(store), QUESTION)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Traceback" not in broken.stderr
    assert "qa-bot ingest --rebuild" in broken.stderr

    fixed = _cli("ingest", "--store", str(store), "--rebuild")
    assert fixed.returncode == 0, fixed.stderr
    assert "Traceback" not in fixed.stderr
    ok = _cli("ask", "--store", str(store), "--json", QUESTION)
    assert ok.returncode == 0, ok.stderr
    assert '"citations": [' in ok.stdout and '"quote"' in ok.stdout
    # The broken folder was kept aside, not deleted.
    assert list(tmp_path.glob("store.broken-*"))


def test_rebuild_refuses_to_touch_a_folder_that_is_not_a_store(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    (folder / "precious.txt").write_text("keep me")
    done = _cli("ingest", "--store", str(folder), "--rebuild")
    assert (folder / "precious.txt").read_text() == "keep me"
    assert "Traceback" not in done.stderr


_INGEST_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.conftest import HashEmbeddings, make_settings
    from qa_bot.ingest import ingest
    settings = make_settings(Path(sys.argv[1]), embedding_model="fake-hash")
    ingest([Path(sys.argv[2])], settings=settings, embeddings=HashEmbeddings())
""")


COPIES, KILLS = 12, 8


def _store_ids(store_dir: Path) -> dict[str, list[str]]:
    from qa_bot.store import open_store

    store = open_store(make_settings(store_dir, embedding_model="fake-hash"))
    return {name: getattr(store, name).get(include=[])["ids"] for name in ("passages", "sentences", "sources")}


def test_ingest_killed_repeatedly_converges(tmp_path: Path) -> None:
    """SIGKILL an ingest 8 times in a row at random points, each run resuming the last one's work."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for copy in range(COPIES):
        for path in SEED_FILES:
            # Each copy differs by a line: the same text under a new name is not ingested twice.
            text = path.read_text(encoding="utf-8") + f"\nCopy number {copy} of this article.\n"
            (articles / f"c{copy:02d}_{path.name}").write_text(text, encoding="utf-8")

    def run(store: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", _INGEST_SCRIPT, str(store), str(articles)],
                                cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(store: Path) -> float:
        started = time.perf_counter()
        proc = run(store)
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""
        return time.perf_counter() - started

    duration = finish(tmp_path / "clean")
    startup = finish(tmp_path / "clean")  # nothing to do: the cost of starting up
    expected = _store_ids(tmp_path / "clean")
    assert len(expected["sources"]) == COPIES * len(SEED_FILES)

    rng = random.Random(20261122)
    victim = tmp_path / "victim"
    kills = 0
    for _ in range(KILLS):
        proc = run(victim)
        # early in the work window, so each run leaves work for the next one to resume and be killed in
        time.sleep(rng.uniform(startup * 0.8, startup + (duration - startup) * 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        got = _store_ids(victim) if (victim / "chroma.sqlite3").exists() else {}
        for name, ids in got.items():
            assert len(ids) == len(set(ids)), f"duplicate {name} after a kill"
    finish(victim)
    got = _store_ids(victim)
    for name, ids in expected.items():
        assert len(got[name]) == len(set(got[name])), f"duplicate {name}"
        assert set(got[name]) == set(ids), f"{name} differ after {kills} kills"
    assert kills >= 2, f"only {kills} of {KILLS} runs were killed mid-ingest (ingest took {duration:.1f}s)"


def test_chroma_server_goes_away_and_comes_back(tmp_path: Path, real_embeddings) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    data = tmp_path / "chroma-data"

    def start() -> subprocess.Popen[bytes]:
        return start_chroma(data, port)

    server = start()
    try:
        settings = make_settings(tmp_path / "unused", chroma_url=f"http://127.0.0.1:{port}")
        bot = QABot(settings, embeddings=real_embeddings)
        bot.ingest()
        assert_cited(bot.ask(QUESTION))

        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        started = time.perf_counter()
        with pytest.raises(StoreError) as caught:
            bot.ask(QUESTION)
        assert time.perf_counter() - started < 10, "asking a dead server hung"
        assert "store" in str(caught.value).lower() or "chroma" in str(caught.value).lower()

        server = start()
        assert_cited(bot.ask(QUESTION))  # recovers by itself once the server is back
    finally:
        server.kill()
        server.wait(timeout=10)


# ------------------------------------------------------------------ concurrency


def test_concurrent_asks_match_sequential(real_bot) -> None:  # type: ignore[no-untyped-def]
    import json

    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line]
    questions = [r["question"] for r in rows if not r.get("history")][:24]

    def key(a: Answer) -> tuple[object, ...]:
        return (a.text, a.abstained, tuple((c.source_id, c.start, c.end, c.quote) for c in a.citations))

    sequential = [key(real_bot.ask(q)) for q in questions]
    def worker(q: str) -> tuple[object, ...]:
        return key(real_bot.ask(q))

    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(worker, questions * 2))
    assert parallel == sequential * 2

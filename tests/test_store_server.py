"""Server mode: the same ingest and answers against a real `chroma run` server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS, file_text, free_port, make_settings, start_chroma, stop
from qa_bot import lexindex
from qa_bot.config import Settings
from qa_bot.errors import StoreError
from qa_bot.ingest import ingest
from qa_bot.pipeline import QABot
from qa_bot.store import open_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = start_chroma(path, port, log=path.parent / "chroma-server.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server_settings(chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("unused") / "store", chroma_url=chroma_url,
                         index_dir=tmp_path_factory.mktemp("shared-volume"))


def test_ingest_and_ask_through_the_server(server_settings: Settings, real_embeddings) -> None:  # type: ignore[no-untyped-def]
    first = ingest([SEEDS], settings=server_settings, embeddings=real_embeddings)
    assert first.added == first.passages > 100
    assert not server_settings.store_dir.exists(), "server mode must not write a local store"
    store = open_store(server_settings)
    assert store.count() == first.passages
    assert store.location == server_settings.chroma_url

    bot = QABot(server_settings, embeddings=real_embeddings)
    answer = bot.ask("How many delegates attended the 14th National Party Congress?")
    assert not answer.abstained and answer.citations
    for c in answer.citations:
        assert file_text(c.source_id)[c.start : c.end] == c.quote

    again = ingest([SEEDS], settings=server_settings, embeddings=real_embeddings)
    assert (again.added, again.replaced, again.removed) == (0, 0, 0)
    assert open_store(server_settings).count() == first.passages


def test_unreachable_server_is_store_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "store", chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="cannot reach"):
        open_store(settings)


def test_another_app_rebuilds_the_index_from_the_server(  # type: ignore[no-untyped-def]
    server_settings: Settings, real_embeddings, tmp_path: Path
) -> None:
    """An app process with an empty index volume: `qa-bot index` says so, `--rebuild` fetches it from the server."""
    ingest([SEEDS], settings=server_settings, embeddings=real_embeddings)
    volume = tmp_path / "other-volume"
    env = {**os.environ, "QA_BOT_CHROMA_URL": server_settings.chroma_url or "", "QA_BOT_INDEX_DIR": str(volume),
           "QA_BOT_STORE_DIR": str(tmp_path / "unused"), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "qa_bot.cli", "index"]
    missing = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert missing.returncode == 1 and "missing" in missing.stdout
    built = subprocess.run([*cli, "--rebuild"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    assert "current" in built.stdout
    theirs = lexindex.open_index(volume / server_settings.collection)
    ours = lexindex.open_index(server_settings.lexical_dir)
    assert theirs is not None and ours is not None
    assert theirs.version == ours.version == open_store(server_settings).version()
    assert [theirs.id_at(i) for i in range(len(theirs))] == [ours.id_at(i) for i in range(len(ours))]
    query = ["deleg", "congress"]
    assert (theirs.scores(query) == ours.scores(query)).all()

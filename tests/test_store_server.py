"""Server mode: the same ingest and answers against a real `chroma run` server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import SEEDS, file_text, make_settings
from qa_bot.config import Settings
from qa_bot.errors import StoreError
from qa_bot.ingest import ingest
from qa_bot.pipeline import QABot
from qa_bot.store import open_store

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma command is not installed")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path.parent / "chroma-server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "chroma run exited"
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the chroma server did not answer its heartbeat"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def server_settings(chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("unused") / "store", chroma_url=chroma_url)


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

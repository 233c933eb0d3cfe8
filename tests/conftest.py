"""Shared fixtures: fast fakes for unit tests, one real model and one real store per session."""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from qa_bot.config import Settings
from qa_bot.reader import Reading

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class HashEmbeddings(Embeddings):
    """Hashed bag of words, normalised: texts sharing words are close, identical texts score 1.0."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in _WORD.findall(text.lower()):
            h = zlib.crc32(word.encode("utf-8"))
            vec[h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        self.calls += 1
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Same space as the documents."""
        return self._vector(text)


class CachedEmbeddings(Embeddings):
    """The real model behind a per-session cache: identical vectors, each text encoded only once."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self._docs: dict[str, list[float]] = {}
        self._queries: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of documents, computed for the texts not seen before."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._docs))
        if todo:
            for text, vec in zip(todo, self.inner.embed_documents(todo), strict=True):
                self._docs[text] = vec
        return [self._docs[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Vector of a query."""
        if text not in self._queries:
            self._queries[text] = self.inner.embed_query(text)
        return self._queries[text]


class FakeReader:
    """A lexical stand-in for the trained reader: a context scores by the share of the question's words
    it holds (minus one half, so a context with under half of them 'has no answer'); the span is the
    first capitalised run or number of its best sentence that the question does not contain."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, question: str, contexts: list[str]) -> list[Reading]:
        """One Reading per context."""
        self.calls += 1
        asked = {w for w in _WORD.findall(question.lower()) if len(w) > 3}
        out = []
        for context in contexts:
            have = {w for w in _WORD.findall(context.lower())}
            share = len(asked & have) / (len(asked) or 1)
            span = next((m for m in re.finditer(r"[A-Z][\w-]+(?: [A-Z][\w-]+)*|\d[\d,.]*", context)
                         if m.group(0).lower() not in question.lower()), None)
            out.append(Reading(round(4 * (share - 0.5), 4), span.start() if span else -1, span.end() if span else -1))
        return out


class PassJudge:
    """A stand-in for the trained claim checker that lets the rule-based check decide alone."""

    threshold = float("-inf")
    rescue = float("inf")

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [0.0 for _ in pairs]


@pytest.fixture
def fake_reader() -> FakeReader:
    """The lexical fake reader."""
    return FakeReader()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model hub and no telemetry in any test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")


def make_settings(store_dir: Path, **changes: object) -> Settings:
    """Settings that ignore the caller's QA_BOT_* environment."""
    return Settings.from_env(env={}, store_dir=store_dir, seeds_dir=SEEDS, **changes)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an empty store in a temporary folder."""
    return make_settings(tmp_path / "store", embedding_model="fake-hash")


@pytest.fixture
def fake_embeddings() -> HashEmbeddings:
    """Fast embeddings with meaningful similarity."""
    return HashEmbeddings()


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of the seed articles."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for path in SEED_FILES:
        shutil.copyfile(path, folder / path.name)
        (folder / path.name).chmod(0o644)
    return folder


@pytest.fixture(scope="session")
def fake_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, HashEmbeddings]:
    """The seeds ingested once with the hashing embeddings (no model load)."""
    from qa_bot.ingest import ingest

    settings = make_settings(tmp_path_factory.mktemp("fake") / "store", embedding_model="fake-hash")
    embeddings = HashEmbeddings()
    ingest([SEEDS], settings=settings, embeddings=embeddings)
    return settings, embeddings


@pytest.fixture(scope="session")
def fake_bot(fake_store: tuple[Settings, HashEmbeddings]):  # type: ignore[no-untyped-def]
    """A QABot on the fake store."""
    from qa_bot.pipeline import QABot

    settings, embeddings = fake_store
    return QABot(settings, embeddings=embeddings, reader=FakeReader(), judge=PassJudge())


@pytest.fixture(scope="session")
def real_model() -> Embeddings:
    """The bundled all-MiniLM-L6-v2, loaded once per session."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from qa_bot.embeddings import load_embeddings

    return load_embeddings()


@pytest.fixture(scope="session")
def real_embeddings(real_model: Embeddings) -> CachedEmbeddings:
    """The real model with a session cache, so every store built from the seeds encodes them once."""
    return CachedEmbeddings(real_model)


@pytest.fixture(scope="session")
def real_store(
    tmp_path_factory: pytest.TempPathFactory, real_embeddings: CachedEmbeddings
) -> tuple[Settings, float]:
    """The seeds ingested once into a real Chroma store with the real model; (settings, seconds)."""
    from qa_bot.ingest import ingest

    settings = make_settings(tmp_path_factory.mktemp("real") / "store")
    started = time.perf_counter()
    summary = ingest([SEEDS], settings=settings, embeddings=real_embeddings)
    assert summary.added > 0 and not summary.errors
    return settings, time.perf_counter() - started


@pytest.fixture(scope="session")
def real_bot(real_store: tuple[Settings, float], real_embeddings: CachedEmbeddings) -> Iterator[object]:
    """A QABot over the real store."""
    from qa_bot.pipeline import QABot

    yield QABot(real_store[0], embeddings=real_embeddings)


def file_text(source_id: str, folder: Path = SEEDS) -> str:
    """An article exactly as open().read() returns it."""
    with open(folder / source_id, encoding="utf-8") as handle:
        return handle.read()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_chroma(path: Path, port: int, log: Path | None = None, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """`chroma run` on loopback, returned once its heartbeat answers (skips if not installed)."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma command is not installed")
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError("chroma run exited")
        with contextlib.suppress(OSError), urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1
        ) as response:
            if response.status == 200:
                return proc
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the chroma server did not answer its heartbeat")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def serve_page(store: Path, **changes: Any) -> Iterator[tuple[str, object, Settings]]:
    """The chat page served in-process on a free loopback port over a store built from seeds/."""
    from qa_bot import web
    from qa_bot.pipeline import QABot

    settings = Settings(store_dir=store, seeds_dir=SEEDS, host="127.0.0.1", port=free_port(), **changes)
    bot = QABot(settings)
    bot.ensure_store()
    app = web.build_app(bot)
    url = web.launch(app, settings, block=False)
    try:
        yield url, bot, settings
    finally:
        app.close()

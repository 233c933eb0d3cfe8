"""The openai engine against a real OpenAI-compatible HTTP server on loopback, and the engine factory."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from conftest import file_text
from openai_server import FakeOpenAIServer
from qa_bot import engines
from qa_bot.config import Settings
from qa_bot.errors import BackendError, ConfigError, InvalidQuestionError
from qa_bot.pipeline import QABot
from qa_bot.types import Answer

QUESTION = "When will the NPT Review Conference that Vietnam chairs take place?"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(delay=4.0) as fake:
        yield fake


def openai_bot(fake_bot: QABot, base_url: str) -> QABot:
    settings = fake_bot.settings.replace(
        openai_base_url=base_url, openai_api_key="sk-test", backend="openai", llm_timeout=1.0
    )
    return QABot(settings, embeddings=fake_bot.embeddings, store=fake_bot.store, reader=fake_bot.reader)


def assert_fallback(answer: Answer) -> None:
    assert answer.backend.startswith("extractive") and "fallback" in answer.backend
    assert any("openai" in w for w in answer.warnings)
    for c in answer.citations:
        assert file_text(c.source_id)[c.start : c.end] == c.quote


def test_good_reply_is_kept(fake_bot: QABot, server: FakeOpenAIServer) -> None:
    sentence = fake_bot.retrieve(QUESTION)[0].sentence_texts()[0]
    server.reply = f"{sentence} [1]"
    answer = openai_bot(fake_bot, server.base_url).ask(QUESTION)
    assert answer.backend == "openai"
    assert not answer.warnings
    assert answer.citations and answer.citations[0].quote == sentence
    assert file_text(answer.citations[0].source_id)[answer.citations[0].start : answer.citations[0].end] == sentence
    body = server.requests[-1]
    assert body["stream"] is True
    prompt = " ".join(m["content"] for m in body["messages"])
    assert QUESTION in prompt and sentence in prompt
    assert server.auth_headers[-1] == "Bearer sk-test"


def test_a_reply_cut_at_the_token_limit_loses_its_last_sentence(fake_bot: QABot, server: FakeOpenAIServer) -> None:
    # the server stops at max_tokens (finish_reason 'length'), mid-sentence: that fragment quotes its
    # source word for word, yet it is no answer
    first, second = fake_bot.retrieve(QUESTION)[0].sentence_texts()[:2]
    words = len(f"{first} [1]".split(" "))
    server.reply = f"{first} [1] {second} [1]"
    bot = openai_bot(fake_bot, server.base_url)
    bot = QABot(bot.settings.replace(llm_max_tokens=words + 3), embeddings=bot.embeddings, store=bot.store,
                reader=bot.reader)
    answer = bot.ask(QUESTION)
    assert server.requests[-1]["max_completion_tokens"] == words + 3
    assert answer.backend == "openai" and answer.text.startswith(first)
    assert " ".join(second.split(" ")[:3]) not in answer.text
    assert any("length limit" in w and "unfinished last sentence" in w for w in answer.warnings), answer.warnings


def test_connection_refused_falls_back(fake_bot: QABot) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = openai_bot(fake_bot, f"http://127.0.0.1:{port}/v1").ask(QUESTION)
    assert_fallback(answer)


@pytest.mark.parametrize("mode", ["error500", "malformed", "empty"])
def test_bad_server_replies_fall_back(fake_bot: QABot, server: FakeOpenAIServer, mode: str) -> None:
    server.mode = mode
    answer = openai_bot(fake_bot, server.base_url).ask(QUESTION)
    assert_fallback(answer)
    assert len(server.requests) == 1


def test_slow_server_times_out_and_falls_back(fake_bot: QABot, server: FakeOpenAIServer) -> None:
    server.mode = "slow"
    started = time.perf_counter()
    answer = openai_bot(fake_bot, server.base_url).ask(QUESTION)
    elapsed = time.perf_counter() - started
    assert_fallback(answer)
    assert elapsed < 3.5, f"llm_timeout=1 s was not honoured ({elapsed:.1f}s)"


def test_unknown_engine_is_bad_input() -> None:
    with pytest.raises(ConfigError, match="unknown answer engine"):
        engines.chat_model("no-such-engine", Settings.from_env(env={}))


@pytest.mark.parametrize("name", ["no-such-engine", "nonsens", ":model", "provider:"])
def test_unknown_engine_in_ask_is_refused_before_any_work(fake_bot: QABot, name: str) -> None:
    # a misspelt engine is bad input (one line, exit 2 in the CLI), not an engine failure to fall back from
    with pytest.raises(ConfigError, match="unknown answer engine"):
        fake_bot.ask(QUESTION, backend=name)
    with pytest.raises(InvalidQuestionError, match="at least 1"):
        fake_bot.ask(QUESTION, k=0)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_is_checked_by_every_entry_point(fake_bot: QABot, k: object) -> None:
    # retrieve() and retriever() once took k=0 for "the default" and returned 5 passages
    with pytest.raises(InvalidQuestionError, match="at least 1"):
        fake_bot.retrieve(QUESTION, k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuestionError, match="at least 1"):
        fake_bot.retriever(k=k)  # type: ignore[arg-type]


def test_openai_not_configured() -> None:
    settings = Settings.from_env(env={})
    assert engines.availability(settings)["openai"]
    assert engines.availability(settings)["extractive"] == ""
    with pytest.raises(BackendError, match="QA_BOT_OPENAI_BASE_URL"):
        engines.chat_model("openai", settings)
    configured = settings.replace(openai_base_url="http://127.0.0.1:9/v1")
    assert engines.availability(configured)["openai"] == ""


def test_names_and_register(fake_bot: QABot) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    assert engines.names()[0] == "extractive" and "openai" in engines.names()
    model = FakeListChatModel(responses=["x"])
    engines.register("my-engine", model, fake_bot.settings)
    assert engines.chat_model("my-engine", fake_bot.settings) is model

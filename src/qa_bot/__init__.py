"""qa_bot: answers about news articles, every claim with a verbatim quote at exact offsets."""

from __future__ import annotations

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
from qa_bot.ingest import ingest
from qa_bot.pipeline import QABot, ask, retrieve
from qa_bot.types import Answer, Citation, IngestSummary, Passage

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


"""One small error hierarchy: callers catch QABotError, bad input is also a ValueError."""

from __future__ import annotations


class QABotError(Exception):
    """Base class of every error qa_bot raises on purpose."""


class InvalidQuestionError(QABotError, ValueError):
    """The question is empty, too long or otherwise unusable."""


class ArticleError(QABotError, ValueError):
    """An article file cannot be read as text (missing, binary, not UTF-8, too large, empty)."""


class FetchError(ArticleError):
    """A link cannot be saved as a web page (refused address, HTTP error, timeout, too large, not a page)."""


class NothingToIngestError(QABotError, ValueError):
    """No file at all could be read from the paths given; ``errors`` holds one message per item."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])


class StoreError(QABotError):
    """The vector store is missing, corrupted or unreachable."""


class BackendError(QABotError):
    """An answer engine is unknown, not installed, or failed."""


class ConfigError(QABotError, ValueError):
    """A setting has a value that cannot work."""


class ModelError(QABotError):
    """A trained model the project ships is missing or cannot be loaded."""

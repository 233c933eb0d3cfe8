"""Frozen value types that cross module boundaries and turn into JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# How every declined answer begins; a follow-up borrows nothing from it (retrieve.condense).
NO_ANSWER = "The articles do not answer this question."


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Passage:
    """A span of an article: file_text[start:end] == text; sentences are absolute spans."""

    text: str
    source_id: str
    title: str
    start: int
    end: int
    score: float = 0.0
    outlet: str = ""
    kind: str = "body"
    id: str = ""
    sentences: tuple[tuple[int, int], ...] = ()
    published: str = ""  # the article's publication date (ISO), "" when unknown
    url: str = ""  # the article's own link, when it has one

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _jsonable(self)  # type: ignore[no-any-return]

    def sentence_texts(self) -> list[str]:
        """The passage's sentences, cut by offsets."""
        return [self.text[s - self.start : e - self.start] for s, e in self.sentences]


@dataclass(frozen=True)
class Citation:
    """A verbatim quote: open(article).read()[start:end] == quote."""

    marker: int
    source_id: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    outlet: str = ""
    passage_start: int = 0
    passage_end: int = 0
    answer_start: int = -1  # the exact answer inside the quote (absolute offsets), -1 when none
    answer_end: int = -1
    published: str = ""  # the article's publication date (ISO), "" when unknown
    url: str = ""  # the article's own link, when it has one

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _jsonable(self)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Answer:
    """What ask() returns: text with [n] markers, one Citation per marker used."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    backend: str = "extractive"
    query: str = ""
    warnings: tuple[str, ...] = ()
    closest: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    support: float = 0.0
    as_of: str = ""  # publication date (ISO) of the article the answer leads with: true 'as of' that day

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _jsonable(self)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest run did."""

    files: int = 0
    passages: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    seconds: float = 0.0
    errors: tuple[str, ...] = ()
    files_added: tuple[str, ...] = ()
    files_changed: tuple[str, ...] = ()
    files_removed: tuple[str, ...] = ()
    reindexed: bool = False  # the lexical index was rebuilt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _jsonable(self)  # type: ignore[no-any-return]

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        def count(n: int, noun: str) -> str:
            return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

        return (
            f"{count(self.files, 'file')}, {count(self.passages, 'passage')}: {self.added} added, "
            f"{self.replaced} replaced, {self.unchanged} unchanged, {self.removed} removed "
            f"in {self.seconds:.2f}s" + (f"; {count(len(self.errors), 'item')} skipped" if self.errors else "")
        )

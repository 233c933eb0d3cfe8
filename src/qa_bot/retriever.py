"""The hybrid search as a LangChain retriever, so it composes with any LangChain chain.

Its own module: LangChain's runnable machinery (and langsmith with it) costs about 0.4 s to import, which
answering a question does not need; it is imported when a retriever is asked for.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa_bot.retrieve import search


class QARetriever(BaseRetriever):
    """The hybrid search as a LangChain retriever, so it composes with any LangChain chain."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: Any
    k: int = 5
    mmr: bool = False
    since: str | None = None  # ISO dates: only articles published in this range
    until: str | None = None
    sentence_level: bool = True  # also search single sentences' vectors

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        found = search(self.index, query, self.k, mmr=self.mmr, since=self.since, until=self.until,
                       sentence_level=self.sentence_level)
        return [
            Document(
                page_content=p.text,
                id=p.id,
                metadata={
                    "source_id": p.source_id, "title": p.title, "outlet": p.outlet, "kind": p.kind,
                    "start": p.start, "end": p.end, "score": p.score, "published": p.published, "url": p.url,
                },
            )
            for p in found.passages
        ]

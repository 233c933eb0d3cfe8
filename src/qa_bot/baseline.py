"""The yardstick: LangChain's RAG tutorial pipeline (1000/200 chunks, Chroma, k=4, its prompt).

Nothing here is tuned for the question set: it is what a reader of the tutorial would build over
the same articles, with the same bundled embeddings and local model, so qa_bot's numbers have a
reference.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from qa_bot.config import Settings
from qa_bot.evaluate import Record, Texts, evidence_spans, missing_facts, score_retrieval

log = logging.getLogger(__name__)

BASELINE_K = 4
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
# The tutorial's RAG prompt (rlm/rag-prompt), word for word.
RAG_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know. "
    "Use three sentences "
    "maximum and keep the answer concise.\nQuestion: {question} \nContext: {context} \nAnswer:"
)
ABSTAIN_PHRASES = ("don't know", "do not know", "don’t know")


def load_documents(folder: Path) -> list[Document]:
    """One Document per .txt article, its text exactly as open().read() gives it."""
    return [
        Document(page_content=path.open(encoding="utf-8").read(), metadata={"source": path.name})
        for path in sorted(folder.glob("*.txt"))
    ]


def split(documents: Sequence[Document]) -> list[Document]:
    """The tutorial's splitter; start_index in the metadata locates each chunk in its article."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    return splitter.split_documents(list(documents))


def abstained(text: str) -> bool:
    """The tutorial's prompt asks the model to say it doesn't know."""
    low = text.lower()
    return any(p in low for p in ABSTAIN_PHRASES)


def _local_model(settings: Settings) -> tuple[BaseChatModel | None, str]:
    from qa_bot import engines

    try:
        return engines.chat_model("local", settings), ""
    except (
        Exception
    ) as exc:  # BackendError when not installed; anything else from a broken model file
        return None, f"the local model is not available ({exc}): answers are n/a, retrieval only"


def run_baseline(
    questions: Sequence[Mapping[str, Any]],
    settings: Settings,
    texts: Texts,
    *,
    embeddings: Embeddings | None = None,
    model: BaseChatModel | None = None,
    answers: bool = True,
    progress: bool = True,
) -> tuple[list[Record], bool, list[str]]:
    """(records, whether answers were produced, notes) for the tutorial pipeline over the seeds."""
    from langchain_chroma import Chroma

    if embeddings is None:
        from qa_bot.embeddings import load_embeddings

        embeddings = load_embeddings(settings.embedding_model, settings.embedding_backend, settings.embedding_cache)
    notes = [
        f"LangChain RAG tutorial: RecursiveCharacterTextSplitter({CHUNK_SIZE}/{CHUNK_OVERLAP}), "
        f"Chroma, similarity_search k={BASELINE_K}, the tutorial prompt; same embeddings "
        f"({settings.embedding_model})",
        "citations n/a: the tutorial pipeline gives none",
        'abstention = the answer says "don\'t know"; '
        "follow-ups get the last question only (no history)",
    ]
    unavailable = "" if answers else "retrieval only: answers were not asked for"
    if model is None and answers:
        model, unavailable = _local_model(settings)
    if unavailable:
        notes.append(unavailable)
    chain = (
        (ChatPromptTemplate.from_template(RAG_PROMPT) | model | StrOutputParser())
        if model
        else None
    )

    chunks = split(load_documents(texts.folder))
    folder = tempfile.mkdtemp(prefix="qa_bot_baseline_")
    try:
        store = Chroma(
            collection_name="rag_tutorial", embedding_function=embeddings, persist_directory=folder
        )
        store.add_documents(chunks)
        records = _run(questions, store, chain, texts, progress)
        failed = sum(1 for r in records if r.error)
        if chain is not None and failed == len(records):
            notes.append(f"every answer failed ({records[0].error}): answers are n/a")
            chain = None
        elif failed:
            notes.append(f"{failed} answers failed and count as wrong")
        try:
            store.delete_collection()
        except Exception:  # cleanup only
            log.debug("could not delete the baseline collection", exc_info=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return records, chain is not None, notes


def _items(questions: Sequence[Mapping[str, Any]], progress: bool) -> Iterable[Mapping[str, Any]]:
    if not progress:
        return questions
    from tqdm import tqdm

    return tqdm(questions, desc="eval baseline", unit="q", file=sys.stderr, leave=False)


def _run(
    questions: Sequence[Mapping[str, Any]], store: Any, chain: Any, texts: Texts, progress: bool
) -> list[Record]:
    records = []
    for q in _items(questions, progress):
        record = Record(
            id=q["id"],
            type=q["type"],
            answerable=bool(q["answerable"]),
            question=q["question"],
            backend="baseline",
        )
        gold, _ = evidence_spans(q, texts)
        started = time.perf_counter()
        docs = store.similarity_search(q["question"], k=BASELINE_K)
        record.timings["retrieve"] = time.perf_counter() - started
        spans = [
            (
                texts.canonical(d.metadata["source"]),
                int(d.metadata["start_index"]),
                int(d.metadata["start_index"]) + len(d.page_content),
            )
            for d in docs
        ]
        score_retrieval(record, spans, gold, BASELINE_K)
        if chain is not None:
            try:
                began = time.perf_counter()
                text = chain.invoke(
                    {
                        "question": q["question"],
                        "context": "\n\n".join(d.page_content for d in docs),
                    }
                )
                record.timings["generate"] = time.perf_counter() - began
                record.timings["total"] = time.perf_counter() - started
                record.answer = str(text).strip()
                record.abstained = abstained(record.answer)
                if record.answerable:
                    record.missing = (
                        [] if record.abstained else missing_facts(record.answer, q["facts"])
                    )
                    record.facts_ok = not record.abstained and not record.missing
            except Exception as exc:  # a model failure on one question must not stop the run
                record.error = f"{type(exc).__name__}: {exc}"
                record.facts_ok = False if record.answerable else None
        records.append(record)
    return records

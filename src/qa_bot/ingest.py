"""Articles -> passages + sentence vectors -> Chroma; idempotent by content hash, crash-safe by order.

Order of writes per article: sentences, passages, deletion of stale ones, and last the article's
record with its digest. A record whose digest matches the file means the article is complete; a
process killed anywhere before that leaves work the next ingest finds and finishes.

The store's version changes before the first write and after the last, and the lexical index is
built for the final version: an index whose version is not the store's is out of date, and the next
ingest (even of unchanged files) rebuilds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot import lexindex
from qa_bot.config import Settings
from qa_bot.corpus import Article, chunk, discover, load_article, sentence_id
from qa_bot.errors import ArticleError, NothingToIngestError
from qa_bot.fetch import commit, discard, is_link, save_links, staged_target
from qa_bot.lexical import LEXICAL_VERSION, terms
from qa_bot.store import Store, open_store
from qa_bot.types import IngestSummary, Passage

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
EMBED_BATCH = 256


@dataclass
class _Plan:
    article: Article
    passages: list[Passage]  # empty for an unchanged article: it is not chunked again
    status: str  # "new" | "changed" | "unchanged"
    recorded: int = 0  # an unchanged article not chunked again: its passage count, from its record
    add: list[Passage] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    sentences: dict[str, tuple[int, int]] = field(default_factory=dict)
    stale_sentences: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many passages the article has."""
        return len(self.passages) if self.passages else self.recorded


T = TypeVar("T")


def _batched(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _passage_metadata(p: Passage) -> dict[str, str | int | float | bool]:
    return {
        "source_id": p.source_id,
        "title": p.title,
        "outlet": p.outlet,
        "kind": p.kind,
        "start": p.start,
        "end": p.end,
        "sents": ";".join(f"{s},{e}" for s, e in p.sentences),
        "terms": " ".join(terms(p.text)),
        "terms_version": LEXICAL_VERSION,
        "published": p.published,
        "published_day": int(p.published.replace("-", "")) if p.published else 0,  # for date filters in Chroma
        "url": p.url,
    }


def _existing_by_source(collection: object, source_ids: Sequence[str]) -> dict[str, set[str]]:
    """Ids per article, read in a few calls for many articles at once."""
    out: dict[str, set[str]] = {sid: set() for sid in source_ids}
    for batch in _batched(list(source_ids), 200):
        got = collection.get(where={"source_id": {"$in": list(batch)}}, include=["metadatas"])  # type: ignore[attr-defined]
        for pid, meta in zip(got["ids"], got["metadatas"], strict=True):
            out.setdefault(str((meta or {}).get("source_id")), set()).add(pid)
    return out


def _plans(store: Store, articles: list[Article], chunker: Callable[[Article], list[Passage]]) -> list[_Plan]:
    """What each article needs, with the store read in batches rather than per file. Only articles whose
    text changed are chunked: an unchanged one (same digest as its record) is counted from its record."""
    records: dict[str, dict[str, object]] = {}
    for batch in _batched([a.source_id for a in articles], 500):
        got = store.sources.get(ids=list(batch), include=["metadatas"])
        records.update({sid: meta or {} for sid, meta in zip(got["ids"], got["metadatas"], strict=True)})
    plans: dict[str, _Plan] = {}
    pending: list[tuple[Article, list[Passage]]] = []
    for a in articles:
        record = records.get(a.source_id, {})
        count, unchanged = record.get("passages"), record.get("digest") == a.digest
        if unchanged and isinstance(count, int):
            plans[a.source_id] = _Plan(a, [], "unchanged", count)
        elif unchanged:  # a record from before passage counts were kept
            plans[a.source_id] = _Plan(a, chunker(a), "unchanged")
        else:
            pending.append((a, chunker(a)))
    pending_ids = [a.source_id for a, _ in pending]
    old_passages = _existing_by_source(store.passages, pending_ids)
    old_sentences = _existing_by_source(store.sentences, pending_ids)
    for article, passages in pending:
        existing = old_passages.get(article.source_id, set())
        plan = _Plan(article, passages, "changed" if article.source_id in records or existing else "new")
        plan.add = [p for p in passages if p.id not in existing]
        plan.stale = sorted(existing - {p.id for p in passages})
        text = article.text
        for p in passages:
            for s, e in p.sentences:
                plan.sentences[sentence_id(p.source_id, s, e, text[s:e])] = (s, e)
        plan.stale_sentences = sorted(old_sentences.get(article.source_id, set()) - set(plan.sentences))
        plans[article.source_id] = plan
    return [plans[a.source_id] for a in articles]


def _sentence_vectors(
    store: Store, embeddings: Embeddings, plans: list[_Plan], progress: Progress | None
) -> dict[str, np.ndarray]:
    """Vectors of every sentence the new passages need: read back when stored, else embedded."""
    needed: dict[str, tuple[_Plan, int, int]] = {}
    for plan in plans:
        for p in plan.add:
            for s, e in p.sentences:
                sid = sentence_id(p.source_id, s, e, plan.article.text[s:e])
                needed[sid] = (plan, s, e)
    vectors: dict[str, np.ndarray] = {}
    ids = list(needed)
    for chunk_ids in _batched(ids, 5000):
        got = store.sentences.get(ids=list(chunk_ids), include=["embeddings"])
        for sid, emb in zip(got["ids"], got["embeddings"], strict=True):
            vectors[sid] = np.asarray(emb, dtype=np.float32)
    missing = [sid for sid in ids if sid not in vectors]
    # Longest first so each batch pads little; the model sorts within a call too.
    missing.sort(key=lambda sid: needed[sid][2] - needed[sid][1], reverse=True)
    done = 0
    for batch in _batched(missing, EMBED_BATCH):
        texts = [needed[sid][0].article.text[needed[sid][1] : needed[sid][2]] for sid in batch]
        embs = embeddings.embed_documents(texts)
        new_ids: list[str] = []
        new_embs: list[list[float]] = []
        new_meta: list[dict[str, str | int]] = []
        for sid, emb in zip(batch, embs, strict=True):
            plan, s, e = needed[sid]  # type: ignore[index]
            vectors[sid] = np.asarray(emb, dtype=np.float32)  # type: ignore[index]
            new_ids.append(sid)
            new_embs.append(emb)
            new_meta.append({"source_id": plan.article.source_id, "start": s, "end": e})
        # No documents: sentence text is cut from its passage by offsets, and Chroma would index it.
        store.sentences.upsert(ids=new_ids, embeddings=new_embs, metadatas=new_meta)
        done += len(batch)
        if progress:
            progress(done, len(missing), "embedding sentences")
    return vectors


def passage_vector(sentence_vectors: Sequence[np.ndarray]) -> list[float]:
    """A passage's vector: the normalised mean of its sentences' vectors (no second encode).

    Measured on eval/questions.jsonl, fused with BM25 it retrieves as well as encoding the passage
    text again (and better than adding the headline), at about half the ingest cost.
    """
    mean = np.mean(np.stack(sentence_vectors), axis=0)
    norm = float(np.linalg.norm(mean)) or 1.0
    return (mean / norm).astype(np.float32).tolist()  # type: ignore[no-any-return]


def ingest_articles(
    articles: list[Article],
    store: Store,
    embeddings: Embeddings,
    *,
    settings: Settings,
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    errors: Sequence[str] = (),
    keep: AbstractSet[str] = frozenset(),
) -> IngestSummary:
    """Bring the store to exactly these articles' passages (and, with prune, nothing else but the stored
    articles named in keep: files that are there but could not be read this time)."""
    started = time.perf_counter()
    with store.write_lock():
        if rebuild:
            store.reset()
        else:
            store.check_model()
        plans = _plans(store, articles, lambda a: chunk(a, settings.passage_sentences, settings.passage_overlap))
        work = [p for p in plans if p.status != "unchanged"]
        removed = 0
        wrote = False
        if work:
            store.bump_version()  # from here until the index is rebuilt, the index is marked out of date
            # One order for all articles: sentences, passages, deletions, and the records last.
            vectors = _sentence_vectors(store, embeddings, work, progress)
            adds = [(plan, p) for plan in work for p in plan.add]
            for batch in _batched(adds, 1000):
                store.passages.upsert(
                    ids=[p.id for _, p in batch],
                    documents=[p.text for _, p in batch],
                    metadatas=[_passage_metadata(p) for _, p in batch],  # type: ignore[misc]
                    embeddings=[
                        passage_vector(
                            [vectors[sentence_id(p.source_id, s, e, plan.article.text[s:e])] for s, e in p.sentences]
                        )
                        for plan, p in batch
                    ],
                )
            stale = [pid for plan in work for pid in plan.stale]
            for ids in _batched(stale, 5000):
                store.passages.delete(ids=list(ids))
            removed += len(stale)
            stale_sentences = [sid for plan in work for sid in plan.stale_sentences]
            for ids in _batched(stale_sentences, 5000):
                store.sentences.delete(ids=list(ids))
            for batch_plans in _batched(work, 500):
                store.sources.upsert(
                    ids=[plan.article.source_id for plan in batch_plans],
                    embeddings=[[0.0] for _ in batch_plans],
                    documents=[plan.article.title for plan in batch_plans],
                    metadatas=[{
                        "digest": plan.article.digest,
                        "title": plan.article.title,
                        "outlet": plan.article.outlet,
                        "path": str(plan.article.path.resolve()),
                        "passages": len(plan.passages),
                    } for plan in batch_plans],
                )
            wrote = True
        gone: list[str] = []
        if prune:
            kept = {a.source_id for a in articles} | set(keep)
            records = store.sources.get(include=[])
            gone = [sid for sid in records["ids"] if sid not in kept]
            errors = [*errors, *(f"{sid}: could not be read this time, so its stored article is kept"
                                 for sid in sorted(set(keep) & set(records["ids"])))]
            if gone:
                if not wrote:
                    store.bump_version()
                passages = sorted(pid for ids in _existing_by_source(store.passages, gone).values() for pid in ids)
                sentences = sorted(sid for ids in _existing_by_source(store.sentences, gone).values() for sid in ids)
                for ids in _batched(passages, 5000):
                    store.passages.delete(ids=list(ids))
                for ids in _batched(sentences, 5000):
                    store.sentences.delete(ids=list(ids))
                store.sources.delete(ids=gone)
                removed += len(passages)
                wrote = True
        if wrote:
            store.bump_version()
        indexed = sync_index(store)
    return IngestSummary(
        files=len(articles),
        passages=sum(p.count for p in plans),
        added=sum(len(p.add) for p in plans if p.status == "new"),
        replaced=sum(len(p.add) for p in plans if p.status == "changed"),
        unchanged=sum(p.count - len(p.add) for p in plans),
        removed=removed,
        seconds=time.perf_counter() - started,
        errors=tuple(errors),
        files_added=tuple(p.article.source_id for p in plans if p.status == "new"),
        files_changed=tuple(p.article.source_id for p in plans if p.status == "changed"),
        files_removed=tuple(gone),
        reindexed=indexed,
    )


def sync_index(store: Store, *, force: bool = False) -> bool:
    """Rebuild the store's lexical index when it is missing or not of the store's version; True if rebuilt."""
    if store.index_dir is None:
        return False
    if not force and lexindex.built_version(store.index_dir) == store.version():
        return False
    started = time.perf_counter()
    index = lexindex.rebuild(store, store.index_dir)
    log.info("lexical index: %d passages in %.2fs", len(index), time.perf_counter() - started)
    return True


def read_articles(paths: Iterable[Path], max_bytes: int) -> tuple[list[Article], list[str], set[str]]:
    """Every readable article under the paths, a clear message for each one that is not, and the names
    of the files found that could not be read (with prune, their stored articles stay)."""
    files, errors = discover(paths)
    articles: dict[str, Article] = {}
    unread: set[str] = set()
    for path in files:
        try:
            article = load_article(path, max_bytes)
        except ArticleError as exc:
            errors.append(str(exc))
            unread.add(path.name)
            continue
        if article.source_id in articles:
            errors.append(f"{path}: a file named {article.source_id} was read already; this one is skipped")
            continue
        articles[article.source_id] = article
    return list(articles.values()), errors, unread


def _skip_copies(store: Store, articles: list[Article], prune: bool) -> tuple[list[Article], list[str]]:
    """Articles without those whose exact text is already stored (or read just before) under another
    name or link, and without a different text under the name of a stored article whose file is elsewhere
    and still there (a clash of names, not an update). A file already in the store under its own name, from
    the same place or from a place that is gone, is kept: it may be an update."""
    holders: dict[str, set[str]] = {}
    stored: dict[str, dict[str, object]] = {}
    for batch in _batched(articles, 200):
        got = store.sources.get(where={"digest": {"$in": sorted({a.digest for a in batch})}}, include=["metadatas"])
        for sid, meta in zip(got["ids"], got["metadatas"], strict=True):
            holders.setdefault(str((meta or {}).get("digest")), set()).add(sid)
        got = store.sources.get(ids=[a.source_id for a in batch], include=["metadatas"])
        stored.update({sid: dict(meta or {}) for sid, meta in zip(got["ids"], got["metadatas"], strict=True)})
    names = {a.source_id for a in articles}
    kept: list[Article] = []
    errors: list[str] = []
    for article in articles:
        others = sorted(sid for sid in holders.get(article.digest, set()) - {article.source_id}
                        if not prune or sid in names)
        if others and article.source_id not in stored:
            errors.append(f"{article.path}: the same text is already in the store as {others[0]}; not added twice")
            continue
        record = stored.get(article.source_id)
        if not prune and record is not None and _name_clash(article, record):
            errors.append(f"{article.path}: a different article named {article.source_id} is already in the store "
                          f"(from {record.get('path')}); rename this file to add it, or change that one")
            continue
        kept.append(article)
        holders.setdefault(article.digest, set()).add(article.source_id)
    return kept, errors


def _name_clash(article: Article, record: dict[str, object]) -> bool:
    """Is the stored article of this name another file, still on disk, with another text? Its path is
    compared as stored (absolute since session 14; an older, relative one says nothing) and its text by
    the stored digest, so the other file is never read (nor its kept text rewritten). An upload or a
    fetched page is compared by the place it is about to take. With prune the store becomes exactly the
    files read, so the other one would go anyway: no clash then (the caller skips the check)."""
    stored_path = str(record.get("path") or "")
    other = Path(stored_path)
    if not stored_path or not other.is_absolute() or record.get("digest") == article.digest:
        return False
    here = staged_target(article.path) or article.path
    try:
        return other.is_file() and other.resolve() != here.resolve()
    except OSError:
        return False


def _by_link(message: str, saved: dict[Path, str]) -> str:
    """A message about a saved page, told about the link the reader gave."""
    for path, url in saved.items():
        for name in (str(path), path.name):
            if message.startswith(name + ": "):
                return f"{url}: {message[len(name) + 2 :]}"
    return message


def ingest(
    paths: Iterable[str | Path] | None = None,
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    embeddings: Embeddings | None = None,
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest article files, folders or http(s) links (default: the seeds folder) and return what was done.
    A link is saved as a web page in the uploads folder first; each item that fails is one line in errors."""
    settings = settings or Settings.from_env()
    given = list(paths) if paths else [settings.seeds_dir]
    saved, errors = save_links([str(p).strip() for p in given if is_link(p)], settings)
    targets = [Path(p) for p in given if not is_link(p)] + list(saved)
    staged = [p for p in targets if staged_target(p) is not None]  # fetched links (and a page's uploads)
    try:
        articles, read_errors, unread = read_articles(targets, settings.max_file_bytes) if targets else ([], [], set())
        errors += [_by_link(e, saved) for e in read_errors]
        if not articles:
            raise NothingToIngestError("nothing could be read: " + "; ".join(errors or ["no files"]), errors)
        store = store or open_store(settings)
        if not rebuild:
            articles, copies = _skip_copies(store, articles, prune)
            errors += [_by_link(e, saved) for e in copies]
        # A staged file that was read (and is not a copy) takes its place; one that could not be used is
        # dropped, and the file of that name (an article in the store may have been read from it) stays.
        articles = [replace(a, path=commit(a.path)) if staged_target(a.path) else a for a in articles]
    finally:
        for path in staged:
            discard(path)
    for message in errors:
        log.warning("skipped %s", message)
    if not articles:
        with store.write_lock():
            reindexed = sync_index(store)  # nothing to write, but an out-of-date index is still repaired
        return IngestSummary(errors=tuple(errors), reindexed=reindexed)
    if embeddings is None:
        from qa_bot.embeddings import load_embeddings

        embeddings = load_embeddings(settings.embedding_model, settings.embedding_backend, settings.embedding_cache)
    return ingest_articles(
        articles, store, embeddings, settings=settings, prune=prune, rebuild=rebuild,
        progress=progress, errors=errors, keep=unread,
    )

"""The persisted lexical index: BM25 as the formula says, built at ingest, in step with the store, atomic."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import HashEmbeddings
from qa_bot import lexindex
from qa_bot.config import Settings
from qa_bot.ingest import ingest
from qa_bot.lexical import terms
from qa_bot.lexindex import Row
from qa_bot.retrieve import Index, search
from qa_bot.store import open_store

DOCS = [
    ("b", "a1", 0, 30, "the congress met in Hanoi"),
    ("a", "a1", 31, 70, "the congress elected 1588 delegates"),
    ("c", "a2", 0, 25, "weather in Hanoi was mild"),
]


def rows() -> list[Row]:
    return [Row(pid, src, s, e, terms(text)) for pid, src, s, e, text in DOCS]


def okapi(docs: list[list[str]], query: list[str], k1: float = lexindex.K1, b: float = lexindex.B) -> np.ndarray:
    """BM25 as Lucene writes it (its idf, no (k1 + 1) factor), to check the library against."""
    avgdl = sum(map(len, docs)) / len(docs)
    out = np.zeros(len(docs))
    for term in set(query):
        df = sum(term in d for d in docs)
        if not df:
            continue
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = Counter(d)[term]
            out[i] += idf * tf / (tf + k1 * (1 - b + b * len(d) / avgdl)) if tf else 0.0
    return out


def test_scores_are_okapi_bm25_and_rank_the_rare_term_first() -> None:
    index = lexindex.build(rows(), "v1")
    query = terms("how many delegates at the congress")
    ordered = [r.terms for r in sorted(rows(), key=lambda r: (r.source_id, r.start))]
    assert np.allclose(index.scores(query), okapi([list(t) for t in ordered], query), atol=1e-5)
    best = index.best(index.scores(query), 3)
    assert best[0][0] == "a"
    assert "c" not in {pid for pid, _ in best}, "a passage with no query term is not a lexical hit"


def test_positions_follow_articles_and_offsets() -> None:
    index = lexindex.build(rows(), "v1")
    assert index.containing("a1", 40, 60) == ["a"]
    assert index.containing("a1", 0, 70) == []
    assert index.containing("zz", 0, 1) == []
    assert index.position("c", "a2", 0, 25) >= 0
    assert index.position("c", "a2", 0, 24) == -1
    assert index.before("a1", 40) == ["b", "a"] and index.before("a1", 31) == ["b"] and index.before("zz", 9) == []


def test_article_before_an_offset_is_read_from_the_store(settings: Settings, seeds_copy: Path,
                                                         fake_embeddings: HashEmbeddings) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    article = next(p for p in sorted(seeds_copy.iterdir()) if p.suffix == ".txt")
    text = article.read_text(encoding="utf-8")
    index = Index(open_store(settings), fake_embeddings)
    offset = len(text) // 2
    before = index.article_before(article.name, offset)
    sentence = next(s for s in text[:offset].split("\n") if len(s) > 40)
    assert sentence[:40] in before
    after = text[offset : offset + 40]
    assert after not in before or after in text[:offset], "nothing from the offset on"
    assert index.article_before(article.name, 0) == "" and index.article_before("no-such.txt", offset) == ""
    assert len(index._passages) == 0, "read past retrieval's caches"


def test_empty_index_answers_nothing(tmp_path: Path) -> None:
    index = lexindex.build([], "v0")
    assert len(index) == 0 and index.best(index.scores(["x"]), 5) == []
    lexindex.write(tmp_path, index)
    opened = lexindex.open_index(tmp_path)
    assert opened is not None and len(opened) == 0


def test_written_index_reopens_mapped_and_a_new_build_replaces_it_whole(tmp_path: Path) -> None:
    lexindex.write(tmp_path, lexindex.build(rows(), "v1"))
    first = lexindex.open_index(tmp_path)
    assert first is not None and first.version == "v1"
    assert isinstance(first.source, np.memmap)
    before = first.scores(terms("delegates"))
    lexindex.write(tmp_path, lexindex.build(rows()[:2], "v2"))
    assert lexindex.built_version(tmp_path) == "v2"
    assert (first.scores(terms("delegates")) == before).all(), "a reader keeps its mapped build"
    lexindex.write(tmp_path, lexindex.build(rows()[:2], "v3"))
    builds = [p for p in tmp_path.iterdir() if p.name.startswith("build-")]
    assert len(builds) == 2, "older builds are removed; the one just replaced stays for readers opening it"
    assert (first.scores(terms("delegates")) == before).all(), "a reader keeps its mapped build"
    second = lexindex.open_index(tmp_path)
    assert second is not None and len(second) == 2


def test_unfinished_build_is_never_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lexindex.write(tmp_path, lexindex.build(rows(), "v1"))

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(OSError):
        lexindex.write(tmp_path, lexindex.build(rows(), "v2"))
    assert lexindex.built_version(tmp_path) == "v1"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_ingest_keeps_the_index_in_step_with_the_store(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    first = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    store = open_store(settings)
    assert first.reindexed and lexindex.built_version(settings.lexical_dir) == store.version()
    index = lexindex.open_index(settings.lexical_dir)
    assert index is not None
    assert {index.id_at(i) for i in range(len(index))} == set(store.passages.get(include=[])["ids"])

    again = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    assert not again.reindexed, "unchanged files write nothing, the index neither"

    # A write the index has not seen (an ingest stopped after the store changed): the next run,
    # with nothing else to do, rebuilds the index.
    store.bump_version()
    assert lexindex.built_version(settings.lexical_dir) != store.version()
    healed = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    assert (healed.added, healed.replaced, healed.removed) == (0, 0, 0)
    assert healed.reindexed and lexindex.built_version(settings.lexical_dir) == store.version()

    victim = sorted(seeds_copy.iterdir())[0]
    victim.unlink()
    pruned = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings, prune=True)
    assert pruned.removed and pruned.reindexed
    index = lexindex.open_index(settings.lexical_dir)
    assert index is not None and victim.name not in index.sources


def test_search_without_an_index_on_disk_builds_one_in_memory(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    store = open_store(settings)
    on_disk = search(Index(store, fake_embeddings), "How many delegates attended the congress?", 5)
    for path in settings.lexical_dir.iterdir():
        if path.is_symlink():
            path.unlink()
    assert lexindex.built_version(settings.lexical_dir) is None
    in_memory = search(Index(store, fake_embeddings), "How many delegates attended the congress?", 5)
    assert [p.id for p in in_memory.passages] == [p.id for p in on_disk.passages]


def test_reader_caches_stay_bounded(settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    index = Index(open_store(settings), fake_embeddings, cache_size=8)
    for question in ("delegates", "Geneva mission", "foreign policy", "Laos visit", "economy growth"):
        found = search(index, question, 5, candidates=20)
        assert found.passages
        index.sentence_vectors(found.passages)
    assert len(index._passages) <= 8 and len(index._vectors) <= 64


def test_date_range_leaves_out_other_days_and_undated_passages() -> None:
    dated = [Row("a", "s1", 0, 9, ["vote"], 20260110), Row("b", "s2", 0, 9, ["vote"], 20260301),
             Row("c", "s3", 0, 9, ["vote"], 0)]
    index = lexindex.build(dated, "v1")
    assert (index.scores(["vote"]) > 0).sum() == 3
    kept = [pid for pid, _ in index.best(index.scores(["vote"], since=20260201), 3)]
    assert kept == ["b"]
    kept = [pid for pid, _ in index.best(index.scores(["vote"], until=20260201), 3)]
    assert kept == ["a"]

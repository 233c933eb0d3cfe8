"""Ingest: idempotent by content hash, replaces only what changed, survives bad files and a kill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SEED_FILES, SEEDS, HashEmbeddings, make_settings
from qa_bot import lexindex
from qa_bot.config import Settings
from qa_bot.corpus import chunk, load_article
from qa_bot.errors import NothingToIngestError
from qa_bot.ingest import ingest
from qa_bot.store import open_store


def stored(settings: Settings) -> dict[str, dict[str, object]]:
    """Passage id -> metadata, as the store holds them."""
    got = open_store(settings).passages.get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"], strict=True))


def expected_ids(folder: Path, settings: Settings) -> set[str]:
    """The ids a clean ingest of the folder must write (ids are content hashes)."""
    return {
        p.id
        for path in sorted(folder.glob("*.txt"))
        for p in chunk(load_article(path), settings.passage_sentences, settings.passage_overlap)
    }


def test_first_ingest_writes_every_passage(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    summary = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    ids = expected_ids(seeds_copy, settings)
    assert summary.files == len(SEED_FILES)
    assert summary.added == summary.passages == len(ids)
    assert (summary.replaced, summary.removed, summary.errors) == (0, 0, ())
    assert set(stored(settings)) == ids
    assert open_store(settings).sources.count() == len(SEED_FILES)
    assert "added" in summary.line() and str(summary.passages) in summary.line()


def test_second_ingest_writes_nothing(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    store = open_store(settings)
    count, version, sentences = store.count(), store.version(), store.sentences.count()
    calls = fake_embeddings.calls
    again = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    assert (again.added, again.replaced, again.removed) == (0, 0, 0)
    assert again.unchanged == again.passages == count
    assert fake_embeddings.calls == calls, "nothing may be embedded again"
    assert store.count() == count and store.sentences.count() == sentences
    assert store.version() == version


def test_only_changed_files_are_chunked_again(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-ingest reads every file but chunks only those whose text changed; the counts stay exact."""
    ingest_module = sys.modules["qa_bot.ingest"]  # the package exports the function under the same name
    first = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    chunked: list[str] = []

    def spy(article, *args, **kwargs):  # type: ignore[no-untyped-def]
        chunked.append(article.source_id)
        return chunk(article, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "chunk", spy)
    again = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    assert chunked == []
    assert (again.passages, again.unchanged) == (first.passages, first.passages)
    target = seeds_copy / SEED_FILES[0].name
    target.write_text(target.read_text(encoding="utf-8") + "\nOne more closing sentence here.\n", encoding="utf-8")
    changed = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    assert chunked == [SEED_FILES[0].name]
    assert changed.passages == len(expected_ids(seeds_copy, settings))


def test_modified_file_replaces_only_its_passages(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    before = stored(settings)
    target = SEED_FILES[2].name
    path = seeds_copy / target
    path.write_text(path.read_text(encoding="utf-8") + "\nA new closing paragraph was added today.\n",
                    encoding="utf-8")
    summary = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    after = stored(settings)
    assert summary.files_changed == (target,)
    assert summary.added == 0 and summary.replaced >= 1
    others_before = {i for i, m in before.items() if m["source_id"] != target}
    others_after = {i for i, m in after.items() if m["source_id"] != target}
    assert others_before == others_after
    assert set(after) == expected_ids(seeds_copy, settings)
    assert any("A new closing paragraph" in str(d) for d in
               open_store(settings).passages.get(where={"source_id": target})["documents"])


def test_another_file_of_the_same_name_never_replaces_a_stored_article(
    settings: Settings, tmp_path: Path, fake_embeddings: HashEmbeddings
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "bridge.txt").write_text("The Kellan bridge will close in April for repairs costing 2 million.\n",
                                      encoding="utf-8")
    (second / "bridge.txt").write_text("Portmere opened its swing bridge on Thursday before 3,000 people.\n",
                                       encoding="utf-8")
    ingest([first], settings=settings, embeddings=fake_embeddings)
    before = stored(settings)
    clash = ingest([second], settings=settings, embeddings=fake_embeddings)
    assert clash.replaced == 0 and clash.added == 0 and clash.removed == 0
    assert any("a different article named bridge.txt" in e and "rename" in e for e in clash.errors), clash.errors
    assert stored(settings) == before
    # refused the same way when given by a relative path from elsewhere (paths are stored absolute)
    here = Path.cwd()
    try:
        os.chdir(tmp_path)
        assert any("a different article named" in e for e in ingest([Path("b")], settings=settings,
                                                                     embeddings=fake_embeddings).errors)
    finally:
        os.chdir(here)
    assert stored(settings) == before
    # with prune the store becomes exactly what was read: the other file's article is replaced, never lost
    (first / "port.txt").write_text("The port reopened on Monday after the storm.\n", encoding="utf-8")
    ingest([first], settings=settings, embeddings=fake_embeddings)
    shutil.copy(first / "port.txt", second / "port.txt")
    pruned = ingest([second], settings=settings, embeddings=fake_embeddings, prune=True)
    assert pruned.files_changed == ("bridge.txt",) and not pruned.errors
    assert {m["source_id"] for m in stored(settings).values()} == {"bridge.txt", "port.txt"}
    ingest([first], settings=settings, embeddings=fake_embeddings, prune=True)
    (second / "port.txt").unlink()
    # an edit in place is an update, and so is a new version whose old file is gone
    (first / "bridge.txt").write_text("The Kellan bridge will close in May for repairs costing 3 million.\n",
                                      encoding="utf-8")
    edited = ingest([first], settings=settings, embeddings=fake_embeddings)
    assert edited.files_changed == ("bridge.txt",) and not edited.errors
    shutil.rmtree(first)
    moved = ingest([second], settings=settings, embeddings=fake_embeddings)
    assert moved.files_changed == ("bridge.txt",) and not moved.errors


def test_prune_removes_gone_files(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    gone = SEED_FILES[0].name
    (seeds_copy / gone).unlink()
    kept = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    assert kept.removed == 0
    assert any(m["source_id"] == gone for m in stored(settings).values())
    pruned = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings, prune=True)
    assert pruned.files_removed == (gone,) and pruned.removed > 0
    assert set(stored(settings)) == expected_ids(seeds_copy, settings)
    store = open_store(settings)
    assert gone not in store.sources.get(include=[])["ids"]
    assert not store.sentences.get(where={"source_id": gone}, include=[])["ids"]


def test_prune_keeps_an_article_whose_file_is_there_but_unreadable(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    # a file saved again as UTF-16 (or emptied by mistake) is skipped; prune must not take its article too
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    spoilt, emptied = SEED_FILES[0].name, SEED_FILES[1].name
    (seeds_copy / spoilt).write_text((seeds_copy / spoilt).read_text(encoding="utf-8"), encoding="utf-16")
    (seeds_copy / emptied).write_text("", encoding="utf-8")
    before = set(stored(settings))
    pruned = ingest([seeds_copy], settings=settings, embeddings=fake_embeddings, prune=True)
    assert pruned.files_removed == () and pruned.removed == 0
    assert set(stored(settings)) == before
    assert any(spoilt in e and "stored article is kept" in e for e in pruned.errors), pruned.errors
    assert any(emptied in e and "stored article is kept" in e for e in pruned.errors), pruned.errors


def test_rebuild_starts_from_empty(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    extra = seeds_copy.parent / "extra"
    extra.mkdir()
    shutil.copyfile(SEED_FILES[3], extra / "only.txt")
    summary = ingest([extra], settings=settings, embeddings=fake_embeddings, rebuild=True)
    assert summary.added == summary.passages
    assert {m["source_id"] for m in stored(settings).values()} == {"only.txt"}
    assert set(stored(settings)) == expected_ids(extra, settings)


def test_no_duplicate_spans(settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings) -> None:
    for _ in range(2):
        ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    ingest([seeds_copy / SEED_FILES[1].name, seeds_copy], settings=settings, embeddings=fake_embeddings)
    spans = [(m["source_id"], m["start"], m["end"]) for m in stored(settings).values()]
    assert len(spans) == len(set(spans)) == len(expected_ids(seeds_copy, settings))


def test_bad_files_reported_and_good_ones_ingested(
    settings: Settings, tmp_path: Path, fake_embeddings: HashEmbeddings
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copyfile(SEED_FILES[3], folder / "good.txt")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    (folder / "latin.txt").write_bytes("Élection à Hà Nội".encode("latin-1", "replace"))
    (folder / "huge.txt").write_text("Words. " * 2000)
    small = settings.replace(max_file_bytes=8000)
    summary = ingest([folder, tmp_path / "missing.txt"], settings=small, embeddings=fake_embeddings)
    assert summary.files == 1
    assert {m["source_id"] for m in stored(small).values()} == {"good.txt"}
    errors = " | ".join(summary.errors)
    assert len(summary.errors) == 5, errors
    for name, reason in [("empty.txt", "empty"), ("binary.txt", "binary"), ("latin.txt", "UTF-8"),
                         ("huge.txt", "over the limit"), ("missing.txt", "no such file")]:
        assert any(name in e and reason in e for e in summary.errors), (name, errors)


def test_nothing_readable_raises(settings: Settings, tmp_path: Path, fake_embeddings: HashEmbeddings) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    (folder / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(NothingToIngestError, match="empty"):
        ingest([folder], settings=settings, embeddings=fake_embeddings)
    with pytest.raises(NothingToIngestError, match="no such file"):
        ingest([tmp_path / "missing"], settings=settings, embeddings=fake_embeddings)
    with pytest.raises(ValueError):
        ingest([tmp_path / "nothing-here"], settings=settings, embeddings=fake_embeddings)


def test_store_records_model_and_refuses_another(
    settings: Settings, seeds_copy: Path, fake_embeddings: HashEmbeddings
) -> None:
    from qa_bot.errors import StoreError

    ingest([seeds_copy], settings=settings, embeddings=fake_embeddings)
    other = settings.replace(embedding_model="another-model")
    with pytest.raises(StoreError, match="--rebuild"):
        ingest([seeds_copy], settings=other, embeddings=fake_embeddings)
    summary = ingest([seeds_copy], settings=other, embeddings=fake_embeddings, rebuild=True)
    assert summary.added == summary.passages


# ------------------------------------------------------------------ crash recovery


@pytest.mark.integration
@pytest.mark.slow
def test_killed_ingest_recovers(
    tmp_path: Path, real_store: tuple[Settings, float], real_embeddings: object
) -> None:
    """SIGKILL a CLI ingest part-way; the next ingest must end with exactly a clean ingest's ids."""
    copies = 2
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(copies):
        for path in SEED_FILES:
            # Each copy differs by a line: the same text under a new name is (rightly) not ingested twice.
            (folder / f"c{n}_{path.name}").write_text(path.read_text(encoding="utf-8") + f"\nCopy {n}.\n",
                                                      encoding="utf-8")
    store_dir = tmp_path / "store"
    env = {**os.environ, "QA_BOT_STORE_DIR": str(store_dir), "HF_HUB_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa_bot.cli", "ingest", str(folder)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (store_dir / "chroma.sqlite3").exists():
            assert proc.poll() is None, "ingest ended before the store was created"
            assert time.monotonic() < deadline, "the store never appeared"
            time.sleep(0.05)
        # ~40% of the expected embedding time (the session store's build time times the copies).
        time.sleep(0.3 * copies * min(max(real_store[1], 5.0), 30.0))
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    settings = make_settings(store_dir)
    summary = ingest([folder], settings=settings, embeddings=real_embeddings)  # type: ignore[arg-type]
    ids = set(stored(settings))
    clean = make_settings(tmp_path / "clean")
    ingest([folder], settings=clean, embeddings=real_embeddings)  # type: ignore[arg-type]
    assert ids == set(stored(clean)) == expected_ids(folder, settings)
    store = open_store(settings)
    assert store.count() == open_store(clean).count() == len(ids)
    assert store.sources.count() == copies * len(SEED_FILES)
    assert store.sentences.count() == open_store(clean).sentences.count()
    again = ingest([folder], settings=settings, embeddings=real_embeddings)  # type: ignore[arg-type]
    assert (again.added, again.replaced, again.removed) == (0, 0, 0)
    index = lexindex.open_index(settings.lexical_dir)
    assert index is not None and index.version == store.version(), "the lexical index agrees with the store"
    assert {index.id_at(i) for i in range(len(index))} == ids
    assert killed, "the ingest finished before it could be killed: nothing was tested"
    assert summary.files_added or summary.files_changed, "the kill left no work to finish"


def test_seed_folder_is_the_default(settings: Settings, fake_embeddings: HashEmbeddings) -> None:
    summary = ingest(settings=settings, embeddings=fake_embeddings)
    assert summary.files == len(list(SEEDS.glob("*.txt")))

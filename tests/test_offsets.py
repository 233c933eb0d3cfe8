"""The offsets guarantee, end to end: every stored span and every citation is the file's own text."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import ROOT, SEED_FILES, SEEDS, file_text, make_settings
from qa_bot.config import Settings
from qa_bot.corpus import sentence_id
from qa_bot.ingest import ingest
from qa_bot.pipeline import QABot
from qa_bot.store import open_store
from qa_bot.types import Answer

pytestmark = pytest.mark.integration
MARKERS = re.compile(r"\[(\d+)\]")
QUESTIONS = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line]


def test_stored_passages_and_sentences_are_verbatim(real_store: tuple[Settings, float]) -> None:
    store = open_store(real_store[0])
    got = store.passages.get(include=["documents", "metadatas"])
    assert len(got["ids"]) > 100
    assert {m["source_id"] for m in got["metadatas"]} == {p.name for p in SEED_FILES}
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        source = file_text(meta["source_id"])
        assert source[meta["start"] : meta["end"]] == text
        for pair in meta["sents"].split(";"):
            s, e = (int(x) for x in pair.split(","))
            assert meta["start"] <= s < e <= meta["end"]
            assert source[s:e].strip() == source[s:e] != ""
    # Sentence records carry no text (it is cut from the file by offsets); their ids are the
    # content hash of exactly that text, and their spans are exactly the passages' sentences.
    sentences = store.sentences.get(include=["metadatas"])
    assert len(sentences["ids"]) > len(got["ids"])
    stored_spans = set()
    for sid, meta in zip(sentences["ids"], sentences["metadatas"], strict=True):
        s, e = meta["start"], meta["end"]
        assert sid == sentence_id(meta["source_id"], s, e, file_text(meta["source_id"])[s:e])
        stored_spans.add((meta["source_id"], s, e))
    passage_spans = {
        (meta["source_id"], *(int(x) for x in pair.split(",")))
        for meta in got["metadatas"]
        for pair in meta["sents"].split(";")
    }
    assert stored_spans == passage_spans


def test_reingest_writes_nothing_and_is_fast(real_store: tuple[Settings, float], real_embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = real_store[0]
    store = open_store(settings)
    count, version = store.count(), store.version()
    started = time.perf_counter()
    summary = ingest([SEEDS], settings=settings, embeddings=real_embeddings)
    elapsed = time.perf_counter() - started
    assert (summary.added, summary.replaced, summary.removed) == (0, 0, 0)
    assert elapsed < 1.0, f"re-ingest took {elapsed:.2f}s"
    assert store.count() == count and store.version() == version


def test_modified_file_replaces_only_its_passages(tmp_path: Path, real_embeddings) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    settings = make_settings(tmp_path / "store")
    ingest([folder], settings=settings, embeddings=real_embeddings)

    def by_source() -> dict[str, set[str]]:
        got = open_store(settings).passages.get(include=["metadatas"])
        out: dict[str, set[str]] = {}
        for pid, meta in zip(got["ids"], got["metadatas"], strict=True):
            out.setdefault(meta["source_id"], set()).add(pid)
        return out

    before = by_source()
    target = folder / SEED_FILES[3].name
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("Vietnam", "Viet Nam", 1), encoding="utf-8")
    summary = ingest([folder], settings=settings, embeddings=real_embeddings)
    after = by_source()
    assert summary.files_changed == (target.name,) and summary.replaced >= 1
    for name in before:
        if name != target.name:
            assert after[name] == before[name]
    assert after[target.name] != before[target.name]
    bot = QABot(settings, embeddings=real_embeddings)
    for p in bot.retrieve("Viet Nam", k=5):
        assert file_text(p.source_id, folder)[p.start : p.end] == p.text


@pytest.fixture(scope="module")
def answers(real_bot: QABot) -> list[tuple[dict[str, object], Answer]]:
    return [(q, real_bot.ask(str(q["question"]), q["history"])) for q in QUESTIONS]  # type: ignore[arg-type]


def test_every_citation_is_the_file_text(answers: list[tuple[dict[str, object], Answer]]) -> None:
    assert len(answers) == len(QUESTIONS) >= 60
    cited = 0
    for q, answer in answers:
        for c in answer.citations:
            cited += 1
            with open(SEEDS / c.source_id, encoding="utf-8") as handle:
                assert handle.read()[c.start : c.end] == c.quote, q["id"]
            assert c.passage_start <= c.start < c.end <= c.passage_end, q["id"]
    assert cited >= len(QUESTIONS) // 2


def test_markers_match_citations(answers: list[tuple[dict[str, object], Answer]]) -> None:
    for q, answer in answers:
        used = list(dict.fromkeys(int(m) for m in MARKERS.findall(answer.text)))
        assert used == [c.marker for c in answer.citations] == list(range(1, len(answer.citations) + 1)), q["id"]
        assert answer.abstained == (not answer.citations), q["id"]


def test_answers_round_trip_through_json(answers: list[tuple[dict[str, object], Answer]]) -> None:
    for _, answer in answers:
        data = json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))
        assert data["text"] == answer.text
        assert [c["quote"] for c in data["citations"]] == [c.quote for c in answer.citations]
        assert [(c["start"], c["end"]) for c in data["citations"]] == [(c.start, c.end) for c in answer.citations]
        assert data["abstained"] is answer.abstained


def test_follow_ups_borrow_only_what_they_need(answers: list[tuple[dict[str, object], Answer]]) -> None:
    from qa_bot.retrieve import leans_on_conversation

    follow = [(q, a) for q, a in answers if q["type"] == "followup"]
    assert follow
    for q, answer in follow:
        leans = leans_on_conversation(answer.question)
        if leans == "ellipsis":  # cannot stand alone: always searched with the conversation
            assert answer.query != answer.question, q["id"]
        if answer.query != answer.question:  # what was borrowed is shown after the question itself
            assert answer.query.startswith(answer.question + " ("), q["id"]
    standalone = [a for q, a in answers if q["type"] != "followup"]
    assert all(a.query == a.question for a in standalone)

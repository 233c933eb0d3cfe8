"""The evaluation's metric functions on small hand-made cases, and the regression gate."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from qa_bot import evaluate as ev
from qa_bot.types import Answer, Citation, Passage

ARTICLE = (
    "Alpha beta gamma. The delegates numbered 1,588 in total. Hanoi hosted the event in January."
)


@pytest.fixture
def texts(tmp_path: Path) -> ev.Texts:
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    return ev.Texts(tmp_path)


def cite(marker: int, quote: str, start: int | None = None, source: str = "a.txt") -> Citation:
    at = ARTICLE.find(quote) if start is None else start
    return Citation(
        marker=marker,
        source_id=source,
        title="A",
        quote=quote,
        start=at,
        end=at + len(quote),
        score=1.0,
    )


# ------------------------------------------------------------------ retrieval


def test_overlap_is_half_open_and_per_article() -> None:
    assert ev.overlaps(("a", 0, 10), ("a", 9, 20))
    assert not ev.overlaps(("a", 0, 10), ("a", 10, 20))
    assert not ev.overlaps(("a", 0, 10), ("b", 0, 10))


def test_hit_and_mrr() -> None:
    gold = [("a", 100, 120)]
    retrieved = [("a", 0, 50), ("b", 100, 120), ("a", 110, 200), ("a", 90, 105)]
    rels = ev.relevance(retrieved, gold)
    assert rels == [False, False, True, True]
    assert ev.hit_at_k(rels, 3) == 1.0
    assert ev.hit_at_k(rels, 2) == 0.0
    assert ev.reciprocal_rank(rels) == pytest.approx(1 / 3)
    assert ev.reciprocal_rank(rels, 2) == 0.0
    assert ev.reciprocal_rank([False, False]) == 0.0


def test_ndcg() -> None:
    gold = [("a", 0, 10), ("a", 50, 60)]
    assert ev.ndcg_at_k([("a", 0, 5), ("a", 55, 70)], gold, 5) == pytest.approx(1.0)
    # One of two evidence phrases found, at rank 2.
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ev.ndcg_at_k([("b", 0, 5), ("a", 0, 5)], gold, 5) == pytest.approx(expected)
    # A second passage over the same evidence gains nothing, so nDCG never exceeds 1.
    assert ev.ndcg_at_k([("a", 0, 5), ("a", 2, 8)], [("a", 0, 10)], 5) == pytest.approx(1.0)
    assert ev.ndcg_at_k([("b", 0, 5)], gold, 5) == 0.0


def test_evidence_spans_found_by_find(texts: ev.Texts) -> None:
    q = {
        "id": "x",
        "evidence": [
            {"source_id": "a.txt", "text": "numbered 1,588"},
            {"source_id": "a.txt", "text": "not in the article"},
        ],
    }
    spans, missing = ev.evidence_spans(q, texts)
    start = ARTICLE.find("numbered 1,588")
    assert spans == [("a.txt", start, start + len("numbered 1,588"))]
    assert len(missing) == 1


def test_evidence_in_a_copy_counts_in_the_stored_one(tmp_path: Path) -> None:
    # Ingest stores one copy of a text under one of its names: evidence written for either name, passages
    # retrieved and quotes cited from either, are compared by one name, at the same offsets.
    (tmp_path / "copy.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "other.txt").write_text(ARTICLE + " More.", encoding="utf-8")
    (tmp_path / "photo.txt").write_bytes(b"\xff\xd8\xff\xe0 not text")  # ingest reports it; no crash here
    (tmp_path / "questions.jsonl").write_text('{"id": "x"}\n', encoding="utf-8")  # not an article
    texts = ev.Texts(tmp_path)
    assert texts.canonical("copy.txt") == texts.canonical("a.txt") == "a.txt"
    assert texts.canonical("other.txt") == "other.txt"
    phrase = "numbered 1,588"
    start = ARTICLE.find(phrase)
    q = {"id": "x", "gold_sources": ["copy.txt"], "evidence": [{"source_id": "copy.txt", "text": phrase},
                                                                {"source_id": "a.txt", "text": phrase}]}
    spans, missing = ev.evidence_spans(q, texts)
    assert not missing
    assert spans == [("a.txt", start, start + len(phrase))]  # one span, not one per copy
    retrieved = [Passage(id=n, text="", source_id=n, title="A", start=start, end=start + 5)
                 for n in ("other.txt", "copy.txt")]
    assert ev.relevance(ev.spans_of(retrieved, texts), spans) == [False, True]
    assert ev.ndcg_at_k(ev.spans_of(retrieved[1:], texts), spans, 5) == pytest.approx(1.0)
    quote = cite(1, "The delegates numbered 1,588 in total.", source="copy.txt")
    record = ev.Record(id="x", type="single", answerable=True, question="q")
    answer = Answer(question="q", text="The delegates numbered 1,588 in total. [1]", citations=(quote,), backend="x")
    asked = {**q, "answerable": True, "facts": []}
    ev.score_answer(record, asked, answer, spans, texts)
    assert record.relevant_citations == 1
    elsewhere = cite(1, quote.quote, source="other.txt")
    ev.score_answer(record, asked, replace(answer, citations=(elsewhere,)), spans, texts)
    assert record.relevant_citations == 0


# ------------------------------------------------------------------ answers


def test_facts_case_insensitive_with_alternatives() -> None:
    facts = [["1,588", "1588"], ["Hanoi", "Ha Noi"]]
    assert ev.facts_ok("There were 1588 delegates in HANOI.", facts)
    assert ev.missing_facts("There were 1588 delegates.", facts) == [["Hanoi", "Ha Noi"]]


def test_abstention_scores() -> None:
    # (answerable, abstained)
    rows = [
        (False, True),
        (False, False),
        (True, True),
        (True, False),
        (True, False),
        (True, False),
    ]
    out = ev.abstention_scores(rows)
    assert out["abstention_precision"] == pytest.approx(0.5)
    assert out["abstention_recall"] == pytest.approx(0.5)
    assert out["false_abstention_rate"] == pytest.approx(0.25)


# ------------------------------------------------------------------ citations


def test_citation_validity_catches_a_wrong_offset(texts: ev.Texts) -> None:
    good = cite(1, "The delegates numbered 1,588 in total.")
    assert ev.citation_problem(good, texts) is None
    shifted = cite(1, good.quote, start=good.start + 1)
    assert ev.citation_problem(shifted, texts) is not None
    outside = cite(1, good.quote, start=len(ARTICLE) - 3)
    assert ev.citation_problem(outside, texts) is not None
    assert ev.citation_problem(cite(1, good.quote, source="missing.txt"), texts) is not None
    assert ev.citation_problem(cite(1, good.quote, source="../a.txt"), texts) is not None


def test_citation_relevance() -> None:
    gold = [("a.txt", ARTICLE.find("1,588"), ARTICLE.find("1,588") + 5)]
    assert ev.citation_relevant(
        cite(1, "The delegates numbered 1,588 in total."), ["a.txt"], gold, []
    )
    assert ev.citation_relevant(
        cite(1, "Hanoi hosted the event in January."), ["a.txt"], [], [["january"]]
    )
    assert not ev.citation_relevant(cite(1, "Alpha beta gamma."), ["a.txt"], gold, [["1,588"]])
    assert not ev.citation_relevant(
        cite(1, "The delegates numbered 1,588 in total."), ["b.txt"], gold, []
    )


def test_answer_sentences_split_on_markers() -> None:
    text = "First claim [1]. Second claim [2][3]. A tail with no source."
    assert ev.answer_sentences(text) == [
        ("First claim", [1]),
        ("Second claim", [2, 3]),
        ("A tail with no source", []),
    ]
    assert ev.answer_sentences("One [1, 2].") == [("One", [1, 2])]


def test_citation_recall(texts: ev.Texts) -> None:
    c1 = cite(1, "The delegates numbered 1,588 in total.")
    c2 = cite(2, "Hanoi hosted the event in January.")
    valid = lambda c: ev.citation_problem(c, texts) is None  # noqa: E731
    assert ev.citation_recall(f"{c1.quote} [1] {c2.quote} [2]", [c1, c2], valid) == (2, 2)
    # A number the quote does not hold is not supported; a sentence with no marker is not either.
    assert ev.citation_recall(
        "The delegates numbered 1,600 [1]. Unsourced claim.", [c1], valid
    ) == (0, 2)
    bad = cite(1, c1.quote, start=c1.start + 2)
    assert ev.citation_recall(f"{c1.quote} [1]", [bad], valid) == (0, 1)


# ------------------------------------------------------------------ aggregation with a fake bot


class FakeBot:
    """Retrieves the evidence passage for q1 only and answers q1 right, q2 wrong, abstains on q3."""

    def retrieve(
        self, question: str, k: int | None = None, history: object = None
    ) -> list[Passage]:
        start = ARTICLE.find("The delegates")
        hit = Passage(text="", source_id="a.txt", title="A", start=start, end=start + 20)
        miss = Passage(text="", source_id="a.txt", title="A", start=0, end=10)
        return [miss, hit] if "delegates" in question else [miss]

    def ask(
        self,
        question: str,
        history: object = None,
        *,
        backend: str | None = None,
        k: int | None = None,
    ) -> Answer:
        if "delegates" in question:
            c = cite(1, "The delegates numbered 1,588 in total.")
            return Answer(
                question=question, text=f"{c.quote} [1]", citations=(c,), timings={"retrieve": 0.1}
            )
        if "host" in question:
            c = cite(1, "Alpha beta gamma.", start=1)  # wrong offset
            return Answer(
                question=question,
                text="Alpha beta gamma. [1]",
                citations=(c,),
                timings={"retrieve": 0.3},
            )
        return Answer(
            question=question,
            text="The articles do not answer this question.",
            abstained=True,
            timings={"retrieve": 0.2},
        )


def test_evaluate_engine_and_aggregate(texts: ev.Texts) -> None:
    questions = [
        {
            "id": "q1",
            "question": "How many delegates?",
            "type": "single",
            "answerable": True,
            "gold_sources": ["a.txt"],
            "evidence": [{"source_id": "a.txt", "text": "numbered 1,588"}],
            "facts": [["1,588"]],
        },
        {
            "id": "q2",
            "question": "Which city was host?",
            "type": "single",
            "answerable": True,
            "gold_sources": ["a.txt"],
            "evidence": [{"source_id": "a.txt", "text": "Hanoi hosted"}],
            "facts": [["Hanoi"]],
        },
        {
            "id": "q3",
            "question": "Who won the cup?",
            "type": "unanswerable",
            "answerable": False,
            "gold_sources": [],
            "evidence": [],
            "facts": [],
        },
    ]
    records = ev.evaluate_engine(
        FakeBot(), questions, texts, backend="extractive", k=5, progress=False
    )
    m = ev.aggregate(records)
    assert m["hit_at_k"] == pytest.approx(0.5)
    assert m["mrr"] == pytest.approx(0.25)
    assert m["fact_accuracy"] == pytest.approx(0.5)
    assert m["abstention_precision"] == pytest.approx(1.0)
    assert m["abstention_recall"] == pytest.approx(1.0)
    assert m["false_abstention_rate"] == pytest.approx(0.0)
    assert m["citation_validity"] == pytest.approx(0.5)
    assert m["citation_precision"] == pytest.approx(0.5)
    assert m["citation_recall"] == pytest.approx(0.5)
    section = ev.summarize("extractive", records, 5)
    assert set(section["by_type"]) == {"single", "unanswerable"}
    assert section["latency"]["retrieve"]["p50"] == pytest.approx(0.2)
    assert "total" in section["latency"]


def test_percentile() -> None:
    assert ev.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert ev.percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert ev.percentile([], 50) is None


# ------------------------------------------------------------------ gate and reports


def test_gate_fails_under_a_floor_and_over_a_ceiling() -> None:
    thresholds = {
        "floors": {"hit_at_k": 0.9, "citation_validity": 1.0},
        "ceilings": {"false_abstention_rate": 0.2},
    }
    good = {"hit_at_k": 0.95, "citation_validity": 1.0, "false_abstention_rate": 0.1}
    assert ev.check_gate(good, thresholds) == []
    bad = {"hit_at_k": 0.85, "citation_validity": 0.99, "false_abstention_rate": 0.3}
    failures = ev.check_gate(bad, thresholds)
    assert len(failures) == 3
    assert any("hit_at_k" in f and "below" in f for f in failures)
    assert any("false_abstention_rate" in f and "above" in f for f in failures)
    assert ev.check_gate({}, {"floors": {"mrr": 0.5}}) == ["mrr: not measured (floor 0.5)"]


@pytest.mark.parametrize("name", ["thresholds.json", "thresholds-heldout.json", "thresholds-squad2.json",
                                  "thresholds-rgb.json"])
def test_thresholds_file_is_valid_and_only_names_known_metrics(name: str) -> None:
    path = Path(__file__).resolve().parents[1] / "eval" / name
    data = ev.load_thresholds(path)
    assert data["engine"] == "extractive"
    assert "only" in data["_note"] and "raise" in data["_note"]
    named = set(data["floors"]) | set(data["ceilings"])
    assert named <= set(ev.METRICS)
    assert data["floors"]["citation_validity"] == 1.0


def test_reports_are_written(tmp_path: Path, texts: ev.Texts) -> None:
    records = ev.evaluate_engine(
        FakeBot(),
        [
            {
                "id": "q1",
                "question": "How many delegates?",
                "type": "single",
                "answerable": True,
                "gold_sources": ["a.txt"],
                "evidence": [{"source_id": "a.txt", "text": "numbered 1,588"}],
                "facts": [["1,588"]],
            }
        ],
        texts,
        backend="extractive",
        k=5,
        progress=False,
    )
    report = {
        "generated": "now",
        "questions": "q.jsonl",
        "seeds_dir": "seeds",
        "n": 1,
        "answerable": 1,
        "evidence_missing": [],
        "seconds": {},
        "engines": [
            ev.summarize("extractive", records, 5),
            ev.summarize("baseline", records, 4, citations=False, answers=False),
        ],
    }
    ev.write_reports(report, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "report.json").read_text())["n"] == 1
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| hit@k | 1.000 | 1.000 |" in md and "| fact_accuracy | 1.000 | n/a |" in md
    assert (tmp_path / "out" / "report.png").stat().st_size > 1000


def test_leads_with_the_fact_before_the_first_marker() -> None:
    assert ev.leads_with("Bill Gates [1]\n\nIt was founded by Bill Gates [1]", [["Bill Gates"]])
    assert not ev.leads_with("It was founded in a garage [1] by Bill Gates [2]", [["Bill Gates"]])
    long = " ".join(["word"] * 20) + " Bill Gates [1]"
    assert not ev.leads_with(long, [["Bill Gates"]])


def test_leads_are_compared_as_squad_compares_answers() -> None:
    assert ev.leads_with("Phagpa lama [1]", [["the Phagpa lama"]])
    assert ev.leads_with("$250,000 [1]", [["$250,000."]])
    assert ev.leads_with("The iTunes Store, without notice [1]", [["iTunes Store"]])
    assert not ev.leads_with("3,000 [1]", [["Over 3,000"]])  # a word of the answer is missing
    assert not ev.leads_with("Annapolis [1]", [["Anna"]])  # whole words only


def test_sample_is_fixed_halves_are_disjoint_and_keeps_both_kinds() -> None:
    qs = [{"id": f"q{i}", "answerable": i % 5 != 0} for i in range(400)]
    dev, report = ev.sample(qs, None, "dev"), ev.sample(qs, None, "report")
    assert not {q["id"] for q in dev} & {q["id"] for q in report}
    assert len(dev) + len(report) == 400
    picked = ev.sample(qs, 40, "report")
    assert picked == ev.sample(qs, 40, "report") and len(picked) == 40
    assert sum(1 for q in picked if not q["answerable"]) == 20


def test_corpus_settings_give_a_store_of_its_own(tmp_path: Path) -> None:
    from qa_bot.config import Settings
    from qa_bot.errors import ConfigError

    (tmp_path / "c" / "articles").mkdir(parents=True)
    s = ev.corpus_settings(Settings.from_env(env={}), tmp_path / "c")
    assert s.seeds_dir == tmp_path / "c" / "articles" and "eval-stores" in str(s.store_dir)
    with pytest.raises(ConfigError):
        ev.corpus_settings(Settings.from_env(env={}), tmp_path / "missing")

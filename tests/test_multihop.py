"""Multi-part and two-hop questions: splitting, pointing back, and carrying the earlier answer."""

from __future__ import annotations

from qa_bot.engines.extractive import select
from qa_bot.evidence import Evidence
from qa_bot.lexical import terms
from qa_bot.multihop import decompose, points_back, resolve_parts, split_bridge
from qa_bot.types import Passage


def _evidence(text: str, score: float, start: int = 0) -> Evidence:
    passage = Passage(text=text, source_id="a.txt", title="T", start=start, end=start + len(text),
                      sentences=((start, start + len(text)),))
    return Evidence(passage, start, start + len(text), text, score, score, 0.5, True, True,
                    frozenset(terms(text)))


def test_decompose_splits_on_and_with_a_preposition() -> None:
    parts = decompose("Which leaders co-chaired the meeting, and on what date was To Lam re-elected?")
    assert parts == ["Which leaders co-chaired the meeting", "on what date was To Lam re-elected"]


def test_single_question_is_not_split() -> None:
    assert decompose("Who chairs the Council and the Assembly?") == []


def test_leading_statement_goes_with_parts_that_do_not_point_back() -> None:
    parts = decompose("The Mission held a seminar honouring a leader. Who was he, and on what date was the seminar "
                      "held?")
    assert parts[0].startswith("The Mission held a seminar") and parts[0].endswith("Who was he")
    assert parts[1].startswith("The Mission held a seminar") and parts[1].endswith("on what date was the seminar held")


def test_pointing_part_gets_no_statement() -> None:
    parts = decompose("Khoi praised a presentation at the Congress. Who delivered it, and what position does that "
                      "official hold?")
    assert parts[1] == "what position does that official hold"


def test_points_back() -> None:
    assert points_back("what position does that official hold")
    assert points_back("what vision had that Congress set")
    assert points_back("where was he born", "Who delivered the speech")
    assert not points_back("where was he born", "Which resolution was passed")
    assert not points_back("what role will Vietnam take at the conference")


def test_resolve_parts_carries_the_earlier_answer() -> None:
    ranked = [
        _evidence("The presentation was delivered by Deputy Foreign Minister Nguyen Manh Cuong at the Congress.", 0.7),
        _evidence("The Congress closed on January 23.", 0.3, 200),
    ]
    parts = ["Who delivered the presentation", "what position does that official hold"]
    resolved = resolve_parts(parts, ranked, "Who delivered the presentation, and what position does that official "
                                            "hold?")
    text, bridge = split_bridge(resolved[1])
    assert text == parts[1]
    assert "Nguyen Manh Cuong" in bridge
    assert resolved[0] == parts[0]


def test_resolve_parts_prefers_a_new_name_of_the_kind_asked() -> None:
    ranked = [_evidence("The Emulation Congress said the line set out by the 13th National Party Congress was "
                        "institutionalized.", 0.8)]
    question = "Which Party Congress's line did the Emulation Congress praise, and what vision had that Congress set?"
    resolved = resolve_parts(decompose(question), ranked, question)
    assert split_bridge(resolved[1])[1] == "13th National Party Congress"


def test_bridged_part_is_answered_by_a_sentence_about_the_bridge() -> None:
    first = _evidence("The line set out by the 13th National Party Congress was institutionalized, the Emulation "
                      "Congress said.", 0.8)
    about = _evidence("The 13th Congress set a vision for Vietnam to become a high-income country by 2045.", 0.4, 300)
    other = _evidence("The 14th Congress set a vision of deep integration for Vietnam.", 0.45, 600)
    parts = ["Which Party Congress's line did the Emulation Congress praise",
             "what long-term vision had that Congress set for Vietnam (13th National Party Congress)"]
    chosen = select("Which Party Congress's line did the Emulation Congress praise, and what long-term vision had "
                    "that Congress set for Vietnam?", [first, other, about], parts=parts)
    texts = [ev.text for ev in chosen.evidence]
    assert about.text in texts
    assert other.text not in texts

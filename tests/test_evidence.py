"""Evidence from reader findings, on general text (no question of any eval set)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from qa_bot.engines.extractive import read_in_stages, rerank, select
from qa_bot.errors import ModelError
from qa_bot.evidence import answer_sentence, complete_span, missing_specifics, names_in, numbers_in
from qa_bot.reader import NO_SPAN, Calibration, Reading
from qa_bot.types import Passage

TEXT = "Microsoft was founded in 1975. It was founded by Bill Gates and Paul Allen. Its home is Redmond."


def passage(text: str = TEXT, start: int = 100, source: str = "a.txt") -> Passage:
    sents, pos = [], 0
    for piece in text.split(". "):
        piece = piece.rstrip(".")
        at = text.index(piece, pos)
        stop = 1 if text[at + len(piece) : at + len(piece) + 1] == "." else 0
        sents.append((start + at, start + at + len(piece) + stop))
        pos = at + len(piece)
    return Passage(text=text, source_id=source, title="t", start=start, end=start + len(text),
                   sentences=tuple(sents), id=source + str(start))


def test_answer_sentence_holds_the_span_at_absolute_offsets() -> None:
    p = passage()
    at = TEXT.index("Bill Gates and Paul Allen")
    ev = answer_sentence(p, Reading(3.0, at, at + len("Bill Gates and Paul Allen")))
    assert ev.text == "It was founded by Bill Gates and Paul Allen."
    assert ev.answer == "Bill Gates and Paul Allen"
    assert p.text[ev.start - p.start : ev.end - p.start] == ev.text
    assert ev.answer_start == p.start + at


def _grown(text: str, part: str) -> str:
    a = text.index(part)
    x, y = complete_span(text, a, a + len(part))
    return text[x:y]


def test_a_span_stopped_inside_a_name_or_word_is_completed() -> None:
    assert _grown("It was founded by Bill Gates and Paul Allen.", "Bill") == "Bill Gates"
    assert _grown("The Royal Society of Chemistry gave the prize.", "Royal Society") == "Royal Society of Chemistry"
    assert _grown("Ludwig van Beethoven wrote nine symphonies.", "Ludwig") == "Ludwig van Beethoven"
    assert _grown("It was built in 1415 at last.", "141") == "1415"
    assert _grown("The price rose to ¥3,000 in May.", "3,0") == "3,000"
    # A common noun, a lower-case word after a name, the end of the sentence: nothing is added.
    assert _grown("He met the king of the Franks.", "king") == "king"
    assert _grown("Paul Allen left in 1983.", "Paul Allen") == "Paul Allen"
    assert _grown("It went to Redmond. Later", "Redmond") == "Redmond"
    assert _grown("A B C D E F G H", "A") == "A B C D E"


def test_answer_sentence_leads_with_the_whole_name() -> None:
    p = passage()
    at = TEXT.index("Paul")
    ev = answer_sentence(p, Reading(2.0, at, at + 4))
    assert ev.answer == "Paul Allen"
    assert p.text[ev.answer_start - p.start : ev.answer_end - p.start] == "Paul Allen"


def test_a_span_crossing_two_sentences_quotes_both() -> None:
    p = passage()
    a, b = TEXT.index("1975"), TEXT.index("Bill")
    ev = answer_sentence(p, Reading(1.0, a, b + 4))
    assert ev.text.startswith("Microsoft") and ev.text.endswith("Allen.")


def test_select_declines_under_the_threshold_and_ranks_by_reader() -> None:
    a, b = passage(source="a.txt"), passage("Rain fell in Oslo. Nothing else happened.", source="b.txt")
    ranked = rerank([b, a], [Reading(-2.0, 0, 4), Reading(2.5, TEXT.index("1975"), TEXT.index("1975") + 4)])
    assert ranked[0][0] is a
    chosen = select(ranked, threshold=0.0)
    assert not chosen.abstained and chosen.evidence[0].answer == "1975"
    assert select(ranked, threshold=3.0).abstained


def test_runners_up_within_the_margin_are_added_once() -> None:
    a, b = passage(source="a.txt"), passage(source="b.txt", start=0)
    at = TEXT.index("Redmond")
    ranked = rerank([a, b], [Reading(2.0, at, at + 7), Reading(1.8, at, at + 7)])
    # the same words in another article: quoted once
    assert len(select(ranked, threshold=0.0).evidence) == 1


def test_a_lede_that_restates_the_headline_with_more_is_quoted_too() -> None:
    """A short headline quoted first does not hide the longer sentence that holds its words and more (who,
    when); a shorter sentence whose words are already quoted is still left out."""
    head = passage("Bridge over the Tagus opened", source="a.txt", start=0)
    lede = passage("The bridge over the Tagus was opened on Monday by the mayor Ana Costa. Traffic began at noon",
                   source="a.txt", start=40)
    at, to = lede.text.index("the mayor"), lede.text.index(". T")
    ranked = rerank([head, lede], [Reading(5.9, 0, 6), Reading(6.0, at, to)])  # retrieval's order keeps head first
    assert ranked[0][0] is head
    quoted = [ev.text for ev in select(ranked, threshold=0.0).evidence]
    assert quoted == [head.text, lede.text.split(" Traffic")[0]]
    again = rerank([lede, head], [Reading(6.0, at, to), Reading(5.9, 0, 6)])
    assert [ev.text for ev in select(again, threshold=0.0).evidence] == quoted[1:]
    # the same sentence with a word or two more ("..., the mayor said") repeats it
    short = passage("The bridge opened on Monday", source="b.txt", start=0)
    said = passage("The bridge opened on Monday, the mayor said", source="c.txt", start=0)
    twice = rerank([short, said], [Reading(5.0, 4, 10), Reading(4.9, 4, 10)])
    assert [ev.text for ev in select(twice, threshold=0.0).evidence] == [short.text]


def test_the_retrieval_weight_decides_between_reader_and_retrieval() -> None:
    a, b = passage(source="a.txt"), passage(source="b.txt", start=0)
    at = TEXT.index("1975")
    readings = [Reading(1.0, at, at + 4), Reading(1.5, at, at + 4)]  # retrieval put a first, the reader b
    assert rerank([a, b], readings, weight=0.0)[0][0] is b
    assert rerank([a, b], readings, weight=1.0)[0][0] is a  # 1.5 - ln 2 < 1.0


def test_a_wider_margin_adds_runners_up_a_narrow_one_leaves_out() -> None:
    first, second = passage(source="a.txt"), passage("Rain fell in Oslo. Nothing else happened.", source="b.txt")
    ranked = rerank([first, second], [Reading(3.0, TEXT.index("1975"), TEXT.index("1975") + 4), Reading(1.0, 0, 4)])
    assert len(select(ranked, threshold=0.0, margin=1.0).evidence) == 1
    assert len(select(ranked, threshold=0.0, margin=2.5).evidence) == 2


def test_abstention_rests_on_the_best_score_not_on_the_passage_ranked_first() -> None:
    a, b = passage(source="a.txt"), passage(source="b.txt", start=0)
    at = TEXT.index("1975")
    # retrieval ranked a first; a strong weight keeps it first though the reader scores b higher
    ranked = rerank([a, b], [Reading(0.5, at, at + 4), Reading(2.0, at, at + 4)], weight=3.0)
    assert ranked[0][0] is a
    chosen = select(ranked, threshold=1.0)
    assert not chosen.abstained and chosen.support == 2.0 and chosen.evidence[0].passage is a
    assert select(ranked, threshold=2.5).abstained


def test_a_readers_calibration_file_sets_how_its_scores_are_used(tmp_path: Path) -> None:
    assert Calibration.of(tmp_path) == Calibration()  # none yet: the defaults
    (tmp_path / "calibration.json").write_text(json.dumps({"threshold": -1.3, "retrieval_weight": 2.0,
                                                           "runner_up_margin": 2.5, "slope": 0.25}))
    assert Calibration.of(tmp_path) == Calibration(-1.3, 2.0, 2.5)
    (tmp_path / "calibration.json").write_text(json.dumps({"threshold": -0.25}))  # an older file: the rest default
    assert Calibration.of(tmp_path) == Calibration(threshold=-0.25)
    (tmp_path / "calibration-onnx-int8.json").write_text(json.dumps({"threshold": 0.5, "read_first": 8,
                                                                     "stop_score": 4.0}))
    assert Calibration.of(tmp_path, "onnx-int8") == Calibration(threshold=0.5, read_first=8, stop_score=4.0)
    assert Calibration.of(tmp_path, "torch") == Calibration(threshold=-0.25)  # a backend's own file, else the common
    (tmp_path / "calibration.json").write_text('{"threshold": ')
    with pytest.raises(ModelError, match="make train"):
        Calibration.of(tmp_path)


class Scripted:
    """A reader whose scores are given per context (its text); it records what it was asked to read."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.asked: list[list[str]] = []

    def read(self, question: str, contexts: Sequence[str]) -> list[Reading]:
        self.asked.append(list(contexts))
        return [Reading(self.scores[c], 0, 1) for c in contexts]


STAGED = Calibration(threshold=0.0, retrieval_weight=1.0, read_first=3, stop_score=4.0)


def test_a_sure_answer_among_the_first_candidates_leaves_the_rest_unread() -> None:
    contexts = [f"c{i}" for i in range(8)]
    reader = Scripted({c: 1.0 for c in contexts} | {"c0": 3.5})
    readings = read_in_stages(reader, "q", contexts, STAGED)
    # c0's rank key 3.5 plus ln(1 + 3) reaches 4.0: no unread candidate under a score of 4 can come first
    assert reader.asked == [["c0", "c1", "c2"]]
    assert [r.score for r in readings] == [3.5, 1.0, 1.0] + [NO_SPAN] * 5 and not readings[5].has_span
    ranked = rerank([passage(source=c) for c in contexts], readings, STAGED.retrieval_weight)
    assert [p.source_id for p, _ in ranked][3:] == contexts[3:]  # unread: after the read, in retrieval's order


def test_the_stop_bound_counts_the_rank_of_the_first_unread_candidate() -> None:
    contexts = [f"c{i}" for i in range(8)]
    for best, stops in ((2.7, True), (2.6, False)):  # 2.7 + ln(1 + 3) >= 4.0 > 2.6 + ln 4 (and > 2.7 + ln 3)
        reader = Scripted({c: -1.0 for c in contexts} | {"c0": best})
        read_in_stages(reader, "q", contexts, STAGED)
        assert len(reader.asked) == (1 if stops else 2)
    never = Scripted({c: 9.0 for c in contexts})  # a calibration without a stop score never stops early
    read_in_stages(never, "q", contexts, Calibration(read_first=3))
    assert len(never.asked) == 2


def test_an_unsure_best_or_a_decline_reads_every_candidate() -> None:
    contexts = [f"c{i}" for i in range(8)]
    unsure = Scripted({c: 1.0 for c in contexts} | {"c6": 5.0})
    readings = read_in_stages(unsure, "q", contexts, STAGED)  # 1.0 + ln 4 < 4.0: c6 could still come first
    assert unsure.asked == [contexts[:3], contexts[3:]]
    assert rerank([passage(source=c) for c in contexts], readings, 1.0)[0][0].source_id == "c6"
    # a best score that clears the stop but not the threshold would decline: every candidate is read
    declining = Scripted({c: -1.0 for c in contexts})
    assert len(read_in_stages(declining, "q", contexts, replace(STAGED, threshold=-0.5, stop_score=0.0))) == 8
    assert len(declining.asked) == 2


def test_reading_in_stages_off_or_too_few_candidates_reads_once() -> None:
    contexts = [f"c{i}" for i in range(5)]
    scores = {c: 9.0 for c in contexts}
    for calibration, first, n in ((STAGED, 0, 5), (Calibration(), None, 5), (STAGED, 5, 5), (STAGED, None, 3)):
        reader = Scripted(scores)
        assert len(read_in_stages(reader, "q", contexts[:n], calibration, first)) == n
        assert reader.asked == [contexts[:n]]


def test_stopping_early_never_changes_the_passage_ranked_first_when_no_score_passes_the_stop() -> None:
    rng = random.Random(7)
    stopped = 0
    for _ in range(500):
        n = rng.randint(4, 20)
        contexts = [f"c{i}" for i in range(n)]
        scores = {c: rng.uniform(-6.0, STAGED.stop_score) for c in contexts}
        staged = read_in_stages(Scripted(scores), "q", contexts, STAGED)
        full = Scripted(scores).read("q", contexts)
        passages = [passage(source=c) for c in contexts]
        stopped += staged[-1].score == NO_SPAN
        ranked, every = rerank(passages, staged, 1.0), rerank(passages, full, 1.0)
        assert ranked[0][0].source_id == every[0][0].source_id
        assert select(ranked, 0.0).abstained == select(every, 0.0).abstained
    assert stopped > 50  # the rule did stop early, often


def test_specifics_the_question_insists_on() -> None:
    assert missing_specifics("What happened at Agincourt in 1415?", ["The battle of Agincourt was in 1415."]) == []
    assert missing_specifics("Who won the 2021 final?", ["The 2020 final was won by Italy."]) == ["2021"]
    assert missing_specifics("What did the 13th congress decide?", ["The 14th congress decided."]) == ["13"]
    # ordinals in words, from 'second' on, are numbers too, however the article writes them
    assert missing_specifics("What was the fourth-quarter profit?", ["Third-quarter profit rose."]) == ["4"]
    assert missing_specifics("What was the fourth-quarter profit?", ["Its 4th-quarter profit rose."]) == []
    assert missing_specifics("Who made the thirty-fourth film?", ["The twenty-fourth film was made."]) == ["34"]
    assert missing_specifics("Who made the first film?", ["The opening film was made."]) == []
    # names are not demanded verbatim: news paraphrases them
    assert missing_specifics("What did the Swiss city give?", ["Geneva gave 5 francs."]) == []


def test_numbers_and_names() -> None:
    assert numbers_in("It cost ¥3,500 in 1415") == {"3500", "1415"}
    assert names_in("Who founded it? It was founded by Bill Gates") == {"bill", "gates"}

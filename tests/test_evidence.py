"""Answer-type checks on single sentences: what counts as a number, date, name or place for a question."""

from __future__ import annotations

import numpy as np
import pytest

from qa_bot.evidence import (
    _ANAPHORIC,
    Want,
    acronyms,
    candidates,
    counted,
    has_kind,
    head_terms,
    near_coverage,
    people_asked,
    question_names,
    score_sentences,
    wanted,
)
from qa_bot.lexical import BM25, terms
from qa_bot.types import Passage


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("How many delegates attended?", Want.NUMBER),
        ("How much was the project worth?", Want.NUMBER),
        ("When did the Congress conclude?", Want.DATE),
        ("Who heads the Mission in Geneva?", Want.PERSON),
        ("In which city did the ambassador brief the media?", Want.PLACE),
        ("Over what time horizon did the Congress look ahead?", Want.DURATION),
        ("How long will the strategy last?", Want.DURATION),
        ("Which direction did the Congress set for diplomacy?", Want.ANY),
    ],
)
def test_wanted(question: str, want: Want) -> None:
    assert wanted(question) is want


def test_counted_noun_is_the_head_with_its_qualifiers() -> None:
    assert counted("How many foreign delegations attended the session?") == (terms("delegations")[0],
                                                                               (terms("foreign")[0],))
    assert counted("How many votes did Vietnam receive?") == (terms("votes")[0], ())
    assert counted("Who chaired it?") == ("", ())


def test_count_must_stand_before_the_counted_noun() -> None:
    q = "How many delegates attended the Congress?"
    assert has_kind("She was one of 1,588 delegates at the Congress.", Want.NUMBER, q)
    assert not has_kind("The Congress met for 7 days with many delegates.", Want.NUMBER, q)


def test_count_of_another_kind_of_thing_is_no_answer() -> None:
    q = "How many foreign delegations attended the opening session?"
    assert not has_kind("Nearly 50 delegations from Vietnam attended meetings in Geneva.", Want.NUMBER, q)
    assert has_kind("Some 20 foreign delegations attended the opening session.", Want.NUMBER, q)


def test_a_number_inside_a_year_of_the_question_is_still_new() -> None:
    q = "How many photo exhibitions did the Mission organise in 2025?"
    assert has_kind("In 2025, the Mission organized 2 photo exhibitions on the country.", Want.NUMBER, q)


def test_twice_counts_times() -> None:
    assert has_kind("Vietnam has twice served on the Council.", Want.NUMBER, "How many times has Vietnam served?")


def test_acronym_qualifier_found_spelled_out() -> None:
    q = "How many UN member states voted?"
    assert has_kind("All 193 United Nations member states voted.", Want.NUMBER, q)


def test_bodies_are_not_places() -> None:
    q = "In which city will the conference be held?"
    assert not has_kind("Vietnam will chair the conference at the United Nations in 2026.", Want.PLACE, q)
    assert has_kind("The conference will be held in New York next spring.", Want.PLACE, q)


def test_deadline_year_does_not_answer_when_something_happened() -> None:
    sentence = "The Politburo's Resolution 59 aims at deeper integration by 2030."
    assert not has_kind(sentence, Want.DATE, "When did the Politburo issue Resolution 59?")
    assert has_kind(sentence, Want.DATE, "By when does Resolution 59 set its target?")


def test_duration_needs_a_span_of_time() -> None:
    q = "Over what time horizon were the challenges assessed?"
    assert has_kind("It assessed the challenges of the next five to ten years.", Want.DURATION, q)
    assert not has_kind("It assessed the challenges in 2026.", Want.DURATION, q)


def test_names_already_in_the_question_are_not_answers() -> None:
    q = "Who said Ambassador Do Hung Viet was right?"
    assert not has_kind("Ambassador Do Hung Viet spoke in New York.", Want.PERSON, q)
    assert has_kind("Ambassador Dang Minh Khoi agreed with him.", Want.PERSON, q)


def test_answer_far_from_what_was_asked_is_not_near() -> None:
    docs = [terms(t) for t in ("water summit conference", "april conference", "congress hanoi", "other text")]
    bm25 = BM25(docs)
    q_terms = terms("date Water Summit take place")
    far = ("The Water Summit and debates on artificial intelligence, science, technology, innovation, digital "
           "transformation, climate and the oceans will also matter a great deal, officials said on April 3.")
    close = "The Water Summit will take place on April 3."
    want = Want.DATE
    question = "On what date will the Water Summit take place?"
    assert near_coverage(close, candidates(close, want, question), q_terms, bm25) > near_coverage(
        far, candidates(far, want, question), q_terms, bm25)
    assert near_coverage(far, candidates(far, want, question), q_terms, bm25) == 0.0


def test_head_terms_name_the_kind_of_answer() -> None:
    assert head_terms("Which Politburo resolution on integration did Khoi highlight?") == terms("Politburo resolution")
    assert head_terms("What kind of potential partners did he name?") == terms("potential partners")
    assert head_terms("Who chaired it?") == []


def test_people_asked() -> None:
    assert people_asked("Which two Vietnamese ambassadors told the agency this?") == 2
    assert people_asked("Which two resolutions were adopted?") == 0
    assert people_asked("Which ambassadors spoke?") == 0


def _passage(text: str) -> Passage:
    spans, start = [], 0
    for sentence in text.split("|"):
        spans.append((start, start + len(sentence)))
        start += len(sentence)
    return Passage(text=text.replace("|", ""), source_id="a.txt", title="T", start=0, end=start,
                   sentences=tuple(spans))


def test_pointing_sentence_is_quoted_with_the_one_before() -> None:
    text = ("There will be forums such as the Water Summit and debates on artificial intelligence. |"
            "These are key areas of focus for Vietnam.")
    p = _passage(text)
    text = p.text
    bm25 = BM25([terms(text), terms("other words"), terms("more other words")])
    ranked = score_sentences("Which events are key areas of focus?", "Which events are key areas of focus?", [p],
                             np.zeros(3, dtype=np.float32), {}, bm25)
    joined = [ev for ev in ranked if ev.text.endswith("focus for Vietnam.")]
    assert joined and joined[0].start == 0 and "Water Summit" in joined[0].text
    assert text[joined[0].start : joined[0].end] == joined[0].text


def test_person_next_to_the_office_asked_about() -> None:
    q = "What is the name of the Prime Minister of Singapore with whom To Lam held talks?"
    listed = ("To Lam held talks with the President of China, Prime Minister of Singapore, and Foreign Minister "
              "Le Hoai Trung visited China.")
    assert not has_kind(listed, Want.PERSON, q)
    assert has_kind("To Lam held talks with Prime Minister of Singapore Lawrence Wong.", Want.PERSON, q)
    assert has_kind("To Lam held talks with Lawrence Wong, Prime Minister of Singapore.", Want.PERSON, q)


def test_bodies_are_not_people() -> None:
    q = "Who visited Vietnam?"
    assert not has_kind("Visits by the Director-General of the World Intellectual Property Organization.", Want.PERSON,
                        q)


def test_titles_are_quoted_or_capitalised_names_of_things() -> None:
    q = "What were the titles of the two resolutions adopted at the session?"
    assert wanted(q) is Want.TITLE
    assert not has_kind("The session adopted two Resolutions drafted by Vietnam.", Want.TITLE, q)
    assert not has_kind("Vietnam sits on the United Nations Human Rights Council.", Want.TITLE, q)
    assert has_kind("It adopted “Promoting the Rights of Persons with Disabilities” unanimously.", Want.TITLE, q)


def test_acronyms_of_spelled_out_names() -> None:
    assert {"un", "wto"} <= acronyms("the United Nations and the World Trade Organization met")
    assert "un" not in acronyms("Vietnam and Laos met in Hanoi")


def test_single_quoted_title() -> None:
    q = "What was the name of the photo exhibition staged in Geneva?"
    assert wanted(q) is Want.TITLE
    assert has_kind("Photo exhibition 'Vietnam – Identity, Humanity, and Integration' in Geneva.", Want.TITLE, q)
    assert not has_kind("Vietnam's Mission held it in Geneva's centre.", Want.TITLE, q)


def test_another_congress_is_no_answer() -> None:
    q = "What was the theme of the 13th National Party Congress?"
    bm25 = BM25([terms("theme congress"), terms("national party"), terms("other")])
    sentence = 'The 14th National Party Congress, with the theme "Unite to achieve the goals by 2030", opened.'
    spans = candidates(sentence, Want.TITLE, q)
    assert spans
    assert near_coverage(sentence, spans, terms(q), bm25, question=q) == 0.0
    same = sentence.replace("14th", "13th")
    assert near_coverage(same, candidates(same, Want.TITLE, q), terms(q), bm25, question=q) > 0.3


def test_which_years_and_which_country() -> None:
    assert wanted("In which years did Vietnam serve on the Council?") is Want.DATE
    q = "Which country's prime minister did To Lam call?"
    assert wanted(q) is Want.PLACE
    assert has_kind("To Lam called the Prime Minister of Singapore.", Want.PLACE, q)
    city = "In which city will the conference be held?"
    assert not has_kind("Vietnam chairs the Review Conference of Nuclear Weapons States.", Want.PLACE, city)


@pytest.mark.parametrize(
    "sentence",
    ["This constructive approach helps Vietnam.", "Operating on the frontlines, they are expected to report.",
     "For example, a conference on health will be held.", "These are key areas."],
)
def test_pointing_openers(sentence: str) -> None:
    assert _ANAPHORIC.match(sentence)


@pytest.mark.parametrize("sentence", ["This year, Vietnam chairs the conference.", "Vietnam said this is key."])
def test_not_pointing_openers(sentence: str) -> None:
    assert not _ANAPHORIC.match(sentence)


def test_what_date_wants_a_day() -> None:
    q = "On what date will the conference on health be held?"
    assert not has_kind("Later this year, a conference on health will be held.", Want.DATE, q)
    assert has_kind("The conference on health will be held on September 25 this year.", Want.DATE, q)
    assert has_kind("Later this year, a conference on health will be held.", Want.DATE, "When will it be held?")


def test_office_found_in_any_word_order() -> None:
    q = "What is the name of the European Investment Bank Vice President who visited Vietnam?"
    assert wanted(q) is Want.PERSON
    listed = ("Visits by the Deputy Secretary-General of UNCTAD, Vice President of the European Investment Bank "
              "(EIB), and Director Tran Van Nam of the Institute.")
    assert not has_kind(listed, Want.PERSON, q)
    assert has_kind("Vice President of the European Investment Bank Anna Berg visited.", Want.PERSON, q)


def test_question_names_keep_acronyms_that_spell_small_words() -> None:
    assert {"who", "vietnam"} <= question_names("How much did the WHO give Vietnam?")

"""Property tests: any text at all gives a cited Answer or InvalidQuestionError, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, SEEDS, file_text
from qa_bot.errors import InvalidQuestionError
from qa_bot.pipeline import clean_question
from qa_bot.types import Answer

MAX = 2000
QA_BOT = Path(sys.executable).parent / "qa-bot"

# Every code point family that has broken text pipelines: controls, format chars, surrogates,
# combining marks, right-to-left, CJK, emoji, separators, private use.
WEIRD = st.sampled_from([
    "\x00", "\x07", "\x1b[31m", "\r\n", "\t", "\u2028", "\u2029", "\u200b", "\u200d", "\ufeff",
    "\u202e", "\ud800", "\udfff", "\ud83d", "\u0301", "\u0645\u0631\u062d\u0628\u0627", "\u4e2d\u6587",
    "\U0001f600", "\U0001f1fb\U0001f1f3", "\ue000", "\U0010ffff", "Vi\u1ec7t Nam", "\u00a0", " ",
])
ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None), max_size=60),
    st.lists(st.one_of(WEIRD, st.text(max_size=8)), max_size=20).map("".join),
    st.text(min_size=MAX - 5, max_size=MAX + 50, alphabet="ab \n\u00e9\u4e2d"),
)
QUESTIONISH = st.one_of(
    ANY_TEXT,
    st.tuples(
        st.sampled_from(["Who heads Vietnam's mission in Geneva?", "What is the UNCTAD project worth?",
                         "how many delegates", "Ambassador", "?"]),
        st.lists(WEIRD, max_size=4).map("".join),
    ).map(lambda t: t[1] + t[0] + t[1]),
)


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_clean_question_is_clean_or_refused(text: str) -> None:
    try:
        cleaned = clean_question(text, MAX)
    except InvalidQuestionError as exc:
        assert str(exc)
        return
    assert cleaned == cleaned.strip() and 0 < len(cleaned) <= MAX
    cleaned.encode("utf-8")  # no lone surrogates left
    assert not any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in cleaned)


@pytest.mark.parametrize("value", [None, 3, b"bytes", ["list"], "", "   ", "\x00\x01", "\ud800", "?!", "x" * 5000])
def test_clean_question_refuses_unusable(value: object) -> None:
    with pytest.raises(InvalidQuestionError):
        clean_question(value, MAX)


def _check_answer(answer: Answer) -> None:
    assert isinstance(answer, Answer)
    assert answer.text
    assert answer.abstained or answer.citations
    for c in answer.citations:
        assert file_text(c.source_id)[c.start : c.end] == c.quote
        assert f"[{c.marker}]" in answer.text


@given(QUESTIONISH)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_ask_any_text(real_bot, text: str) -> None:  # type: ignore[no-untyped-def]
    try:
        answer = real_bot.ask(text)
    except InvalidQuestionError:
        return
    _check_answer(answer)


@pytest.mark.parametrize("question", [
    "Who heads Vietnam's Permanent Mission to the UN in Geneva?\x00\ud800",
    "\u202eWho heads the mission?\u202c",
    "\u0645\u0646 \u064a\u0631\u0623\u0633 Vietnam mission \u4e2d\u6587 Geneva \U0001f600",
    "a" * MAX,
])
def test_ask_edge_questions(real_bot, question: str) -> None:  # type: ignore[no-untyped-def]
    _check_answer(real_bot.ask(question))


@pytest.mark.parametrize("question", ["a" * (MAX + 1), "", "\x00\x1b", "\ud800\udfff"])
def test_ask_refuses(real_bot, question: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidQuestionError):
        real_bot.ask(question)


@pytest.mark.parametrize("question", [
    "Who heads Vietnam's mission in Geneva?\x1b[2J\u202e\U0001f600",
    "",
    "x" * (MAX + 10),
    "--json",
    "\u4e2d\u6587\u95ee\u9898",
])
def test_cli_weird_questions(real_store, question: str) -> None:  # type: ignore[no-untyped-def]
    store_dir = real_store[0].store_dir
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "QA_BOT_SEEDS_DIR": str(SEEDS)}
    done = subprocess.run([str(QA_BOT), "ask", "--store", str(store_dir), "--json", "--", question],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr
    if done.returncode == 2:
        assert done.stderr.strip().splitlines()[-1].startswith("error:")

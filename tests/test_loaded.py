"""The process-wide table of built objects (models, bots): built once per key, a failed build kept nowhere."""

from __future__ import annotations

import threading
import time

import pytest

from qa_bot.loaded import Loaded


def test_each_key_is_built_once_even_when_threads_ask_together() -> None:
    table: Loaded[str, object] = Loaded()
    builds: list[str] = []

    def build() -> object:
        builds.append("x")
        time.sleep(0.05)
        return object()

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(table.get("a", build))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(g) for g in got}) == 1
    assert table.get("b", object) is not got[0]


def test_a_failed_build_is_not_kept_and_the_next_call_builds_again() -> None:
    table: Loaded[str, int] = Loaded()

    def broken() -> int:
        raise OSError("model file corrupt")

    with pytest.raises(OSError):
        table.get("m", broken)
    assert table.get("m", lambda: 7) == 7


def test_put_replaces_what_get_returns() -> None:
    table: Loaded[str, int] = Loaded()
    assert table.get("k", lambda: 1) == 1
    table.put("k", 2)
    assert table.get("k", lambda: 3) == 2

"""Things a process builds once per key and then shares: models, chat models, bots."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Loaded(Generic[K, V]):
    """A process-wide table of built objects. One lock: two threads asking for the same key build it once;
    a build that raises keeps nothing, so the next call tries again (a model fixed on disk loads)."""

    def __init__(self) -> None:
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The object for key, built by build() the first time."""
        with self._lock:
            if key not in self._items:
                self._items[key] = build()
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Use this object for key from now on (tests, applications that bring their own)."""
        with self._lock:
            self._items[key] = value

"""A brief, bounded memory of definite "not found" answers (fault catalogue B14, H78, H80).

Only a :class:`~gomodproxy.errors.ModuleNotFound` from the upstreams is remembered, keyed by the
exact request path (never the module alone, so one missing version never hides another), for a
short TTL measured on the monotonic clock, in an LRU of bounded size. Timeouts and 5xx are never
remembered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from gomodproxy.errors import ModuleNotFound

__all__ = ["NegativeCache"]


class NegativeCache:
    """Recent not-found answers by exact path, expiring after ``ttl`` seconds."""

    def __init__(
        self, ttl: float, max_entries: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ModuleNotFound]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> ModuleNotFound | None:
        """The remembered answer for ``key``, or None (expired entries are dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, error = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return error

    def remember(self, key: str, error: ModuleNotFound) -> None:
        """Remember a definite not-found answer for ``key``."""
        if self._ttl <= 0 or self._max <= 0:
            return
        self._entries[key] = (self._clock() + self._ttl, error)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop ``key`` (it was found after all)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop every entry (the settings that decided them changed)."""
        self._entries.clear()

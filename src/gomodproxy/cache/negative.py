"""A brief, bounded memory of definite "not found" answers (fault catalogue B14, H78, H80).

Only a :class:`~gomodproxy.errors.ModuleNotFound` from the upstreams is remembered, keyed by the
exact request path (never the module alone, so one missing version never hides another), for a
short TTL measured on the monotonic clock, in an LRU of bounded size. Timeouts and 5xx are never
remembered.

With shared :class:`~gomodproxy.storage.locks.ExpiringValues` (Redis, for replicas) the
asynchronous methods (:meth:`NegativeCache.lookup`, :meth:`~NegativeCache.record`,
:meth:`~NegativeCache.drop`) also keep each answer there for the same TTL, so a path one replica
found missing is not asked upstream again by the others. The shared side is best effort: when it
is unreachable, each replica remembers on its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from gomodproxy.errors import ModuleNotFound, StorageError
from gomodproxy.storage.locks import ExpiringValues

logger = logging.getLogger(__name__)

__all__ = ["NegativeCache"]


class NegativeCache:
    """Recent not-found answers by exact path, expiring after ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        shared: ExpiringValues | None = None,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._shared = shared
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

    # -- shared with other replicas ------------------------------------------------------------

    async def lookup(self, key: str) -> ModuleNotFound | None:
        """:meth:`get`, then the shared values (another replica's answer)."""
        found = self.get(key)
        if found is not None or self._shared is None or self._ttl <= 0:
            return found
        try:
            value = await self._shared.get(_name(key))
        except StorageError:
            return None
        return _decode(value) if value else None

    async def record(self, key: str, error: ModuleNotFound) -> None:
        """:meth:`remember`, and share the answer."""
        self.remember(key, error)
        if self._shared is None or self._ttl <= 0:
            return
        try:
            await self._shared.put(_name(key), _encode(error), self._ttl)
        except StorageError as exc:
            logger.debug("negative.share_failed key=%s error=%s", key, exc)

    async def drop(self, key: str) -> None:
        """:meth:`forget`, everywhere."""
        self.forget(key)
        if self._shared is None:
            return
        try:
            await self._shared.delete(_name(key))
        except StorageError as exc:
            logger.debug("negative.unshare_failed key=%s error=%s", key, exc)


def _name(key: str) -> str:
    return f"negative:{key}"


def _encode(error: ModuleNotFound) -> bytes:
    doc = {
        "message": str(error),
        "path": error.path,
        "version": error.version,
        "gone": error.status_hint == 410,
    }
    return json.dumps(doc).encode()


def _decode(value: bytes) -> ModuleNotFound | None:
    try:
        doc = json.loads(value)
        return ModuleNotFound(
            str(doc["message"]),
            path=str(doc.get("path", "")),
            version=str(doc.get("version", "")),
            gone=bool(doc.get("gone")),
        )
    except (ValueError, KeyError, TypeError):
        return None  # not ours (or damaged): ask upstream

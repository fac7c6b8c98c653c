"""When each module version was last asked for, kept in the store for eviction (least recently
used first) and ``cache ls``.

A hit must stay cheap, so a serving process writes a version's access record at most once per
``every`` seconds (an hour by default): the hit itself costs one dictionary lookup, and the
write is a small object put in the background (``.gomodproxy/access/<E>/@v/<V>``, its content
the time). Shared by every process using the store, so any replica's hits count. The time is
therefore exact to within ``every``; a version never asked for since it was fetched counts from
its fetch time. A failed write (a read-only or full store) is logged once and retried after
``every``; it never fails the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from gomodproxy.errors import ProxyError
from gomodproxy.module.paths import escape_path, escape_version, unescape_path, unescape_version
from gomodproxy.storage.base import ObjectNotFound, ObjectStore

__all__ = [
    "ACCESS_PREFIX",
    "ACCESS_RECORD_SECONDS",
    "AccessRecorder",
    "access_key",
    "parse_access_key",
    "read_access_times",
]

logger = logging.getLogger(__name__)

#: Where access records live in the store (never served).
ACCESS_PREFIX = ".gomodproxy/access/"
#: How often one process records the access of one version, at most.
ACCESS_RECORD_SECONDS = 3600.0
_TRACKED = 100_000
_PENDING = 64


def access_key(path: str, version: str) -> str:
    """The key of the access record of ``path@version``."""
    return f"{ACCESS_PREFIX}{escape_path(path)}/@v/{escape_version(version)}"


def parse_access_key(key: str) -> tuple[str, str] | None:
    """(path, version) of an access record's key; None for any other key."""
    escaped, sep, name = key.removeprefix(ACCESS_PREFIX).rpartition("/@v/")
    if not key.startswith(ACCESS_PREFIX) or not sep or "/" in name:
        return None
    try:
        return unescape_path(escaped), unescape_version(name)
    except ProxyError:
        return None


async def read_access_times(store: ObjectStore) -> dict[tuple[str, str], float]:
    """Every recorded last access, by (path, version)."""
    out: dict[tuple[str, str], float] = {}
    for key in await store.list(ACCESS_PREFIX):
        target = parse_access_key(key)
        if target is None:
            continue
        try:
            out[target] = float(await store.get(key))
        except ObjectNotFound:
            continue
        except (ValueError, ProxyError):
            logger.warning("access.unreadable key=%s", key)
    return out


class AccessRecorder:
    """Records hits of module versions in the store, at most once per ``every`` seconds per
    version in this process (see the module docstring)."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        every: float = ACCESS_RECORD_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._every = every
        self._clock = clock
        self._recorded: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._pending: set[asyncio.Task[None]] = set()
        self._failing_until = 0.0

    def touch(self, path: str, version: str) -> None:
        """``path@version`` was served: record it unless this process did within ``every``."""
        now = self._clock()
        target = (path, version)
        last = self._recorded.get(target)
        if last is not None and now - last < self._every:
            return
        if now < self._failing_until or len(self._pending) >= _PENDING:
            return  # the store is failing, or busy: a later hit records it
        self._recorded[target] = now
        self._recorded.move_to_end(target)
        while len(self._recorded) > _TRACKED:
            self._recorded.popitem(last=False)
        task = asyncio.create_task(self._write(target, now))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for the records being written."""
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        """Drop the records not written yet (shutdown)."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def _write(self, target: tuple[str, str], now: float) -> None:
        try:
            await self._store.put(access_key(*target), f"{now!r}\n".encode())
        except ProxyError as exc:
            self._recorded.pop(target, None)
            if now >= self._failing_until:
                logger.warning(
                    "access.record_failed module=%s@%s error=%s (retried in %g s)",
                    *target,
                    exc,
                    self._every,
                )
            self._failing_until = now + self._every

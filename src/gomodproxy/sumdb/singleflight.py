"""Share one in-flight computation among concurrent callers asking for the same key.

The checksum-database client reads the same lookup and the same tiles from many concurrent
requests (go.sum lines come in pairs; every lookup re-reads the top tiles); x/mod's client
uses a ``parCache`` for this. Nothing is remembered after completion: results, and failures,
are not cached here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Run at most one ``make()`` per key at a time; concurrent callers await the same task.

    A caller that is cancelled does not cancel the shared task for the others.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[T]] = {}

    async def do(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """The result of the in-flight ``make()`` for ``key``, starting one if there is none."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._run(key, make))
            self._tasks[key] = task
        return await asyncio.shield(task)

    async def _run(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        try:
            return await make()
        finally:
            del self._tasks[key]

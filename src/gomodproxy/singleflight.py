"""Share one in-flight fetch among concurrent requests for the same key.

The fetch runs in a task of its own, detached from the request that started it (fault catalogue
H75): a caller that disconnects or is cancelled does not cancel the fetch for the others, and
the fetch keeps its own deadline. Nothing is remembered after completion: a failure is not
cached here (H76), the next call starts a new fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """At most one ``make()`` per key at a time; concurrent callers await the same task."""

    def __init__(self, *, on_join: Callable[[str], None] | None = None) -> None:
        self._tasks: dict[str, asyncio.Task[T]] = {}
        self._on_join = on_join

    def __len__(self) -> int:
        """The number of fetches in flight."""
        return len(self._tasks)

    def __contains__(self, key: object) -> bool:
        return key in self._tasks

    async def do(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """The result of the in-flight ``make()`` for ``key``, starting one if there is none."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(self._run(make), name=f"singleflight:{key}")
            self._tasks[key] = task
            task.add_done_callback(lambda t: self._finished(key, t))
        elif self._on_join is not None:
            self._on_join(key)
        return await asyncio.shield(task)

    async def cancel_all(self) -> None:
        """Cancel every fetch in flight and wait for them (server shutdown)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _run(make: Callable[[], Awaitable[T]]) -> T:
        return await make()

    def _finished(self, key: str, task: asyncio.Task[T]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        # Retrieve the outcome so a failure nobody waited for is not reported as unretrieved;
        # the waiters (if any) got it through the shield.
        if not task.cancelled() and task.exception() is not None:
            logger.debug("singleflight.failed key=%s error=%s", key, task.exception())

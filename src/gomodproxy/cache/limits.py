"""A bound on concurrent upstream fetches, with a queue timeout (fault catalogue H78).

Requests that would start a fetch wait for a slot; a request that waits longer than the queue
timeout gets 503 instead of piling up. Requests that join a fetch already in flight, and
requests served from the cache, never wait here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from gomodproxy.errors import ProxyError

__all__ = ["FetchLimiter", "Overloaded"]


class Overloaded(ProxyError):
    """Every upstream fetch slot stayed busy for the whole queue timeout: 503, retry later."""

    status_hint = 503

    def __init__(self, slots: int, waited: float) -> None:
        super().__init__(
            f"the proxy is busy: all {slots} upstream fetch slots stayed in use for "
            f"{waited:g}s; retry shortly"
        )
        self.slots = slots


class FetchLimiter:
    """At most ``slots`` fetches at once; waiting longer than ``queue_timeout`` raises."""

    def __init__(self, slots: int, queue_timeout: float) -> None:
        if slots < 1:
            raise ValueError("a fetch limiter needs at least one slot")
        self._slots = slots
        self._timeout = queue_timeout
        self._semaphore = asyncio.Semaphore(slots)
        self._in_use = 0

    @property
    def free(self) -> int:
        """Slots not in use."""
        return self._slots - self._in_use

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one fetch slot for the block."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._semaphore.acquire()
        except TimeoutError:
            raise Overloaded(self._slots, self._timeout) from None
        self._in_use += 1
        try:
            yield
        finally:
            self._in_use -= 1
            self._semaphore.release()

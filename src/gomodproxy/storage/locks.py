"""The locks seam: exclusive locks by key, separate from the object store.

Several fetchers of one file agree through a lock on its key (Go's ``lockVersion`` pattern:
take the lock, look again, fetch only if still missing). Which processes a lock excludes
depends on the implementation: :class:`LocalLocks` only this process (the memory backend, one
process owns the memory), :class:`FileLocks` every process sharing a folder (``flock``); a
Redis lock for several hosts plugs in here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from gomodproxy.storage.base import check_key
from gomodproxy.storage.keyedlock import KeyedLocks

__all__ = ["ExpiringValues", "FileLocks", "LocalLocks", "Locks", "Registers"]

_POLL_MIN = 0.005
_POLL_MAX = 0.1


class Locks(Protocol):
    """Exclusive locks named by storage keys (the key is validated first)."""

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock named ``key`` for the duration of the ``async with`` block."""
        ...


class Registers(Protocol):
    """Small named values replaced by atomic compare-and-swap, shared by several hosts (Redis).

    Without registers, a value kept in the store is swapped under a :class:`Locks` lock.
    """

    async def read(self, name: str) -> bytes | None:
        """The value, or None when none is held."""
        ...

    async def seed(self, name: str, value: bytes) -> None:
        """Set the value only when none is held."""
        ...

    async def compare_and_swap(self, name: str, old: bytes, new: bytes) -> bool:
        """Replace ``old`` by ``new`` atomically (an absent or empty value matches any
        ``old``); False when another value is held."""
        ...


class ExpiringValues(Protocol):
    """Small named values that vanish after a time, shared by several hosts (Redis): what
    replicas remember briefly together (not-found answers). Failures raise StorageError."""

    async def get(self, name: str) -> bytes | None:
        """The value, or None when none is held (or it expired)."""
        ...

    async def put(self, name: str, value: bytes, ttl: float) -> None:
        """Hold ``value`` for ``ttl`` seconds."""
        ...

    async def delete(self, name: str) -> None:
        """Drop the value."""
        ...


class LocalLocks:
    """In-process locks: exclusive among the tasks of this process only."""

    def __init__(self) -> None:
        self._held = KeyedLocks()

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """An exclusive in-process lock named by ``key``."""
        check_key(key)
        async with self._held.hold(key):
            yield


class FileLocks:
    """``flock`` on ``<folder>/<key>.lock``: exclusive across every process using the folder.

    Waiting polls with ``LOCK_NB`` so a waiter stays cancellable (a thread blocked in ``flock``
    could not be cancelled and would take the lock after its waiter was gone); tasks of this
    process queue on an in-process lock first, so they do not poll against each other.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._local = KeyedLocks()

    @property
    def folder(self) -> Path:
        """Where the lock files live."""
        return self._folder

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """An exclusive lock named by ``key``, also excluding other processes."""
        check_key(key)
        async with self._local.hold(key):
            fd = await asyncio.to_thread(self._open, key)
            try:
                delay = _POLL_MIN
                while not try_flock(fd):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _POLL_MAX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    def _open(self, key: str) -> int:
        parts = key.split("/")
        path = self._folder.joinpath(*parts[:-1], parts[-1] + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def try_flock(fd: int) -> bool:
    """Take an exclusive ``flock`` without waiting; False when another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True

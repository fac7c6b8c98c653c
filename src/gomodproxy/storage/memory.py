"""In-memory storage for unit tests and throw-away servers; same contract as the filesystem."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from gomodproxy.storage.base import (
    INTERNAL_PREFIX,
    CorruptObject,
    HashedFile,
    ObjectInfo,
    ObjectNotFound,
    PutSource,
    check_key,
    check_prefix,
)
from gomodproxy.storage.fswrite import sweep_orphans

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """Objects in a dict (use :class:`~gomodproxy.storage.locks.LocalLocks` with it: one process
    owns the memory). Downloads are spooled in a private folder of the system's temporary
    directory, made when first written to."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, ObjectInfo]] = {}
        self._spool = Path(tempfile.gettempdir()) / f"gomodproxy-spool-{secrets.token_hex(6)}"

    @property
    def spool_dir(self) -> Path:
        """A local folder for downloads that are put() afterwards."""
        return self._spool

    def sweep_orphans(self, *, everywhere: bool = False, grace: float = 10.0) -> tuple[int, int]:
        """Remove spool files no live process holds (blocking; see the filesystem backend)."""
        del everywhere  # nothing else is on disk
        return sweep_orphans(self._spool, grace=grace)

    async def get(self, key: str) -> bytes:
        """Return the whole object, checked against its recorded hash."""
        data, info = self._lookup(key)
        _check(data, info)
        return data

    @contextlib.asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[_MemoryReader]:
        """Open the object for streaming."""
        data, info = self._lookup(key)
        yield _MemoryReader(data, info)

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        """Store ``source`` (a Path source is read, then removed; a stream read to its end)."""
        check_key(key)
        if isinstance(source, HashedFile):
            source = source.path
        if isinstance(source, Path):
            data = await asyncio.to_thread(source.read_bytes)
            await asyncio.to_thread(source.unlink)
        elif isinstance(source, bytes):
            data = source
        else:
            data = b"".join([chunk async for chunk in source])
        info = ObjectInfo(
            key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(), mtime=time.time()
        )
        self._objects[key] = (data, info)
        return info

    async def stat(self, key: str) -> ObjectInfo | None:
        """Return the recorded size and hash, or None."""
        check_key(key)
        entry = self._objects.get(key)
        return entry[1] if entry else None

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        return await self.stat(key) is not None

    async def list(self, prefix: str) -> list[str]:
        """Return the sorted keys under ``prefix``; internal keys only for the internal prefix."""
        check_prefix(prefix)
        internal = prefix.startswith(INTERNAL_PREFIX)
        return sorted(
            k
            for k in self._objects
            if k.startswith(prefix) and (internal or not k.startswith(INTERNAL_PREFIX))
        )

    async def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""
        check_key(key)
        return self._objects.pop(key, None) is not None

    def _lookup(self, key: str) -> tuple[bytes, ObjectInfo]:
        check_key(key)
        entry = self._objects.get(key)
        if entry is None:
            raise ObjectNotFound(key)
        return entry


def _check(data: bytes, info: ObjectInfo) -> None:
    if len(data) != info.size or hashlib.sha256(data).hexdigest() != info.sha256:
        raise CorruptObject(info.key, "the data does not match its record")


class _MemoryReader:
    def __init__(self, data: bytes, info: ObjectInfo) -> None:
        self._data = data
        self._info = info

    @property
    def info(self) -> ObjectInfo:
        return self._info

    async def chunks(self, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        _check(self._data, self._info)
        for start in range(0, len(self._data), chunk_size):
            yield self._data[start : start + chunk_size]

    async def read_range(self, start: int, length: int) -> bytes:
        return self._data[start : start + length]

    def checked_fd(self) -> int | None:
        return None  # in memory: nothing to send from a file

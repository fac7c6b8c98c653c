"""The local tier: a bounded LRU disk cache of immutable files in front of a shared store.

With ``--storage s3`` every hit is an S3 request; the local tier keeps the immutable files a
replica served (``.info``, ``.mod`` and ``.zip`` of a version) in a folder of its own, so a hot
file costs no S3 request. Only those keys are kept locally: ``list``, ``@latest`` and internal
keys always go to the shared store (their freshness is the shared store's; a local copy would
outlive their TTL). The folder is a :class:`~gomodproxy.storage.filesystem.FilesystemStorage`,
so every local read is checked against the SHA-256 recorded when it was filled, like any read.

A miss reads the shared store and fills the local copy as the bytes go by (a streamed zip is
teed into a spool file and kept only once the whole object matched its recorded hash). The
folder is kept under ``limit`` bytes by evicting the least recently used files; the order is
this process's (workers sharing the folder each keep their own, which only makes eviction
approximate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path

from gomodproxy.errors import StorageError
from gomodproxy.storage.base import (
    INTERNAL_PREFIX,
    ObjectInfo,
    ObjectNotFound,
    ObjectReader,
    ObjectStore,
    Presigner,
    PutSource,
    check_key,
)
from gomodproxy.storage.filesystem import FilesystemStorage

__all__ = ["TieredStorage", "is_immutable_key"]

logger = logging.getLogger(__name__)

#: Shared records remembered for local copies still to be made (a bound on memory).
_MAX_REMEMBERED = 10_000

# <module>/@v/<version>.{info,mod,zip}; "list" and internal keys never match.
_IMMUTABLE = re.compile(r"[^.].*/@v/[^/]+\.(info|mod|zip)")


def is_immutable_key(key: str) -> bool:
    """Whether ``key`` names a file that never changes once stored (a version's info, go.mod
    or zip)."""
    return not key.startswith(INTERNAL_PREFIX) and _IMMUTABLE.fullmatch(key) is not None


class TieredStorage:
    """An :class:`~gomodproxy.storage.base.ObjectStore`: ``shared`` behind a local LRU tier."""

    def __init__(self, shared: ObjectStore, local: FilesystemStorage, limit: int) -> None:
        if limit <= 0:
            raise ValueError("the local tier needs a positive size limit")
        self._shared = shared
        self._local = local
        self._limit = limit
        self._sizes: OrderedDict[str, int] = OrderedDict()
        #: The shared store's record of objects whose local copy this process made: stat
        #: answers it (the local copy's own record differs in its write time only).
        self._shared_infos: dict[str, ObjectInfo] = {}
        self._total = 0
        self._loaded = False
        self._load_lock = asyncio.Lock()
        #: Reads answered by the local tier / by the shared store (for tests and metrics).
        self.local_hits = 0
        self.shared_reads = 0

    @property
    def shared(self) -> ObjectStore:
        """The shared store behind the tier."""
        return self._shared

    @property
    def spool_dir(self) -> Path:
        """The shared store's spool folder."""
        return self._shared.spool_dir

    def sweep_orphans(self, *, everywhere: bool = False, grace: float = 10.0) -> tuple[int, int]:
        """Sweep both tiers (blocking)."""
        files, freed = self._shared.sweep_orphans(everywhere=everywhere, grace=grace)
        more_files, more_freed = self._local.sweep_orphans(everywhere=everywhere, grace=grace)
        return files + more_files, freed + more_freed

    # -- the LRU bookkeeping -----------------------------------------------------------------

    async def _load(self) -> None:
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            for key in await self._local.list(""):
                info = await self._local.stat(key)
                if info is not None:
                    self._sizes[key] = info.size
                    self._total += info.size
            self._loaded = True
            await self._evict()

    def _touch(self, key: str) -> None:
        if key in self._sizes:
            self._sizes.move_to_end(key)

    async def _admit(self, key: str, size: int) -> None:
        old = self._sizes.pop(key, None)
        if old is not None:
            self._total -= old
        self._sizes[key] = size
        self._total += size
        await self._evict()

    async def _evict(self) -> None:
        while self._total > self._limit and self._sizes:
            key, size = self._sizes.popitem(last=False)
            self._shared_infos.pop(key, None)
            self._total -= size
            with contextlib.suppress(StorageError):
                await self._local.delete(key)

    async def _forget(self, key: str) -> None:
        self._shared_infos.pop(key, None)
        size = self._sizes.pop(key, None)
        if size is not None:
            self._total -= size
        with contextlib.suppress(StorageError):
            await self._local.delete(key)

    # -- reading ---------------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        """The whole object: from the local tier when it holds it, else the shared store (and
        then kept locally when immutable and small enough)."""
        check_key(key)
        if not is_immutable_key(key):
            return await self._shared.get(key)
        await self._load()
        if key in self._sizes:
            with contextlib.suppress(ObjectNotFound, StorageError):
                data = await self._local.get(key)
                self._touch(key)
                self.local_hits += 1
                return data
            await self._forget(key)  # gone or damaged locally: the shared copy decides
        data = await self._shared.get(key)
        self.shared_reads += 1
        if len(data) <= self._limit:
            await self._fill(key, data, self._shared_infos.get(key))
        return data

    async def _fill(
        self, key: str, source: bytes | Path, shared_info: ObjectInfo | None = None
    ) -> None:
        try:
            info = await self._local.put(key, source)
        except StorageError as exc:
            logger.warning("local tier: cannot keep %s: %s", key, exc)
            return
        if shared_info is not None and (shared_info.size, shared_info.sha256) == (
            info.size,
            info.sha256,
        ):
            self._shared_infos[key] = shared_info
        await self._admit(key, info.size)

    @contextlib.asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[ObjectReader]:
        """Open the object: the local copy when there is one, else the shared object, teed
        into the local tier as it is read."""
        check_key(key)
        if not is_immutable_key(key):
            async with self._shared.open(key) as reader:
                yield reader
            return
        await self._load()
        if key in self._sizes:
            stack = contextlib.AsyncExitStack()
            try:
                local = await stack.enter_async_context(self._local.open(key))
            except (ObjectNotFound, StorageError):
                await stack.aclose()
                await self._forget(key)  # gone or damaged locally: the shared copy decides
            else:
                async with stack:
                    self._touch(key)
                    self.local_hits += 1
                    yield local
                return
        async with self._shared.open(key) as reader:
            self.shared_reads += 1
            if reader.info.size > self._limit:
                yield reader
            else:
                yield _TeeReader(self, key, reader)

    async def stat(self, key: str) -> ObjectInfo | None:
        """The recorded size and hash (the local copy's when there is one)."""
        check_key(key)
        if is_immutable_key(key):
            await self._load()
            if key in self._sizes:
                info = await self._local.stat(key)
                if info is not None:
                    return self._shared_infos.get(key, info)
                await self._forget(key)
        return await self._shared.stat(key)

    async def list(self, prefix: str) -> list[str]:
        """Always the shared store's listing."""
        return await self._shared.list(prefix)

    async def presigned_url(self, key: str, expires: float) -> str | None:
        """The shared store's presigned URL (None when it cannot sign or holds nothing)."""
        if isinstance(self._shared, Presigner):
            return await self._shared.presigned_url(key, expires)
        return None

    # -- writing ---------------------------------------------------------------------------

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        """Write to the shared store (the local tier fills on the first read)."""
        check_key(key)
        if is_immutable_key(key):
            await self._load()
            if key in self._sizes:
                await self._forget(key)
        info = await self._shared.put(key, source)
        if is_immutable_key(key):
            # Remembered (boundedly) for the first read that fills the local tier.
            self._shared_infos[key] = info
            if len(self._shared_infos) > _MAX_REMEMBERED:
                del self._shared_infos[next(iter(self._shared_infos))]
        return info

    async def delete(self, key: str) -> bool:
        """Remove from both tiers; the shared store's answer counts."""
        check_key(key)
        if is_immutable_key(key):
            await self._load()
            await self._forget(key)
        return await self._shared.delete(key)


class _TeeReader:
    """A shared reader whose chunks are also written to a spool file, kept locally when the
    whole object was read and matched its hash."""

    def __init__(self, owner: TieredStorage, key: str, inner: ObjectReader) -> None:
        self._owner = owner
        self._key = key
        self._inner = inner

    @property
    def info(self) -> ObjectInfo:
        return self._inner.info

    async def chunks(self, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        local = self._owner._local
        await asyncio.to_thread(local.spool_dir.mkdir, parents=True, exist_ok=True)
        spool = local.spool_dir / f"tier-{secrets.token_hex(8)}.tmp"
        f = await asyncio.to_thread(open, spool, "wb")
        complete = False
        try:
            async for chunk in self._inner.chunks(chunk_size):
                await asyncio.to_thread(f.write, chunk)
                yield chunk
            complete = True  # the inner reader withholds its last chunk until the hash matched
        finally:
            await asyncio.to_thread(f.close)
            if complete:
                await self._owner._fill(self._key, spool, self._inner.info)
            await asyncio.to_thread(_unlink, spool)

    async def read_range(self, start: int, length: int) -> bytes:
        return await self._inner.read_range(start, length)

    def checked_fd(self) -> int | None:
        return self._inner.checked_fd()


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

"""Storage backends behind one Protocol, selected by name from a registry.

``filesystem`` (the default) keeps the go command's ``cache/download`` layout; ``memory`` is for
tests; ``s3`` keeps the same layout in a bucket of an S3-compatible server, shared by several
replicas. A backend is a factory taking :class:`StorageSettings` and returning the object store
with the locks that go with it (:class:`OpenedStorage`). With a Redis URL the locks are Redis
leases and the verifier's tree head a Redis compare-and-swap register, whatever the backend.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from gomodproxy.errors import ConfigError
from gomodproxy.storage.base import (
    INTERNAL_PREFIX,
    CorruptObject,
    InvalidStorageKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectReader,
    ObjectStore,
    PutSource,
    check_key,
    check_prefix,
)
from gomodproxy.storage.filesystem import FilesystemStorage
from gomodproxy.storage.fsformat import upgrade
from gomodproxy.storage.locks import ExpiringValues, FileLocks, LocalLocks, Locks, Registers
from gomodproxy.storage.memory import MemoryStorage

__all__ = [
    "BACKENDS",
    "INTERNAL_PREFIX",
    "CorruptObject",
    "ExpiringValues",
    "FileLocks",
    "FilesystemStorage",
    "InvalidStorageKey",
    "LocalLocks",
    "Locks",
    "MemoryStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectReader",
    "ObjectStore",
    "OpenedStorage",
    "PutSource",
    "Registers",
    "StorageSettings",
    "check_key",
    "check_prefix",
    "open_storage",
]


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """What a backend is built from: its name and the configured cache location (for ``s3``,
    the local spool folder), the bucket settings of ``s3``, and the Redis URL shared by
    replicas ("" for none)."""

    backend: str = "filesystem"
    location: Path = Path(".")
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_region: str = ""
    redis_url: str = ""
    #: Size of the local tier in front of a shared backend, MiB (0: none).
    local_cache_mb: int = 0
    environ: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class OpenedStorage:
    """An object store, the locks that go with it, and the shared compare-and-swap registers
    (None: values are swapped in the store under the locks)."""

    store: ObjectStore
    locks: Locks
    registers: Registers | None = None
    closers: tuple[Callable[[], Awaitable[None]], ...] = field(default=())
    #: Shared short-lived values (not-found answers), None: each process keeps its own.
    expiring: ExpiringValues | None = None

    async def aclose(self) -> None:
        """Close the clients opened with the storage (Redis connections)."""
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()


def _filesystem(settings: StorageSettings) -> OpenedStorage:
    store = FilesystemStorage(settings.location)
    upgrade(store.root)
    return OpenedStorage(store, FileLocks(store.locks_dir))


def _memory(settings: StorageSettings) -> OpenedStorage:
    del settings  # nothing persists
    return OpenedStorage(MemoryStorage(), LocalLocks())


def _s3(settings: StorageSettings) -> OpenedStorage:
    from gomodproxy.storage.awscreds import aws_credentials
    from gomodproxy.storage.s3 import S3Location, S3Storage, open_s3_store

    if not settings.s3_bucket:
        raise ConfigError("--storage s3 needs --s3-bucket (and --s3-endpoint unless on AWS)")
    environ = os.environ if settings.environ is None else settings.environ
    location = S3Location(
        bucket=settings.s3_bucket,
        endpoint=settings.s3_endpoint,
        prefix=settings.s3_prefix,
        region=settings.s3_region,
    )
    credentials = aws_credentials(environ, Path.home())
    if location.region:
        credentials.pop("region", None)
    store = S3Storage(open_s3_store(location, credentials), location, settings.location / "spool")
    return OpenedStorage(store, LocalLocks())


#: Backend name → factory taking the storage settings.
BACKENDS: Mapping[str, Callable[[StorageSettings], OpenedStorage]] = MappingProxyType(
    {"filesystem": _filesystem, "memory": _memory, "s3": _s3}
)


def open_storage(settings: StorageSettings) -> OpenedStorage:
    """Build the configured backend and its locks; ConfigError for an unknown name.

    Blocking (a backend may look at its folder and upgrade its format): run it in a thread.
    """
    try:
        factory = BACKENDS[settings.backend]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(
            f"unknown storage backend {settings.backend!r}; choose one of: {known}"
        ) from None
    opened = factory(settings)
    if settings.local_cache_mb > 0 and settings.backend == "s3":
        from gomodproxy.storage.tiered import TieredStorage

        local = FilesystemStorage(settings.location / "local")
        upgrade(local.root)
        tiered = TieredStorage(opened.store, local, settings.local_cache_mb << 20)
        opened = OpenedStorage(
            tiered, opened.locks, opened.registers, opened.closers, opened.expiring
        )
    if settings.redis_url:
        from gomodproxy.storage.redislocks import (
            RedisExpiringValues,
            RedisLocks,
            RedisRegisters,
            connect_redis,
        )

        client = connect_redis(settings.redis_url)
        opened = OpenedStorage(
            opened.store,
            RedisLocks(client),
            RedisRegisters(client),
            (*opened.closers, client.aclose),
            RedisExpiringValues(client),
        )
    return opened

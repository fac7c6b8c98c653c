"""Storage backends behind one Protocol, selected by name from a registry.

``filesystem`` (the default) keeps the go command's ``cache/download`` layout; ``memory`` is for
tests. A backend is a factory taking :class:`StorageSettings` and returning the object store
with the locks that go with it (:class:`OpenedStorage`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from gomodproxy.storage.locks import FileLocks, LocalLocks, Locks
from gomodproxy.storage.memory import MemoryStorage

__all__ = [
    "BACKENDS",
    "INTERNAL_PREFIX",
    "CorruptObject",
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
    "StorageSettings",
    "check_key",
    "check_prefix",
    "open_storage",
]


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """What a backend is built from: its name and the configured cache location."""

    backend: str = "filesystem"
    location: Path = Path(".")


@dataclass(frozen=True, slots=True)
class OpenedStorage:
    """An object store and the locks that go with it."""

    store: ObjectStore
    locks: Locks


def _filesystem(settings: StorageSettings) -> OpenedStorage:
    store = FilesystemStorage(settings.location)
    upgrade(store.root)
    return OpenedStorage(store, FileLocks(store.locks_dir))


def _memory(settings: StorageSettings) -> OpenedStorage:
    del settings  # nothing persists
    return OpenedStorage(MemoryStorage(), LocalLocks())


#: Backend name → factory taking the storage settings.
BACKENDS: Mapping[str, Callable[[StorageSettings], OpenedStorage]] = MappingProxyType(
    {"filesystem": _filesystem, "memory": _memory}
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
    return factory(settings)

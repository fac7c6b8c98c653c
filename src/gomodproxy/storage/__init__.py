"""Storage backends behind one Protocol, selected by name from a registry.

``filesystem`` (the default) keeps the go command's ``cache/download`` layout; ``memory`` is for
tests. A backend is a factory taking the configured location (the cache folder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    Storage,
    check_key,
    check_prefix,
)
from gomodproxy.storage.filesystem import FilesystemStorage
from gomodproxy.storage.memory import MemoryStorage

__all__ = [
    "BACKENDS",
    "INTERNAL_PREFIX",
    "CorruptObject",
    "FilesystemStorage",
    "InvalidStorageKey",
    "MemoryStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectReader",
    "Storage",
    "check_key",
    "check_prefix",
    "open_storage",
]


def _filesystem(location: Path) -> Storage:
    return FilesystemStorage(location)


def _memory(location: Path) -> Storage:
    del location  # nothing persists
    return MemoryStorage()


#: Backend name → factory taking the configured cache location.
BACKENDS: Mapping[str, Callable[[Path], Storage]] = MappingProxyType(
    {"filesystem": _filesystem, "memory": _memory}
)


def open_storage(name: str, location: Path) -> Storage:
    """Return the backend called ``name`` for ``location``; ConfigError for unknown names."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"unknown storage backend {name!r}; choose one of: {known}") from None
    return factory(location)

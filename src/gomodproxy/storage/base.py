"""The object-store seam: one small Protocol every backend implements, and the key rules.

A key is a ``/``-separated relative name such as ``github.com/!azure/x/@v/v1.0.0.zip``: the
escaped module path and escaped file name of the GOPROXY protocol, so a filesystem backend can lay
objects out exactly like the go command's ``cache/download`` folder. Keys are validated element by
element before any backend sees them (:func:`check_key`): no empty, ``.`` or ``..`` element, no
element starting with ``.`` (backends keep their own bookkeeping under dot-names, so a key can
never reach it), nothing outside ``[a-z0-9._~!@+-]`` (escaped module paths and versions are
lower-case by construction, so two keys never differ only by case and a case-insensitive
filesystem cannot merge them), elements of at most 255 bytes, keys of at most 4096 bytes. The one
exception is the first element ``.gomodproxy``: the namespace for metadata of our own that must
never be served (upstream list answers with their fetch time, for example).

Backends record the SHA-256 and size of every object at write time and check them on read; a
mismatch raises :class:`CorruptObject` and the object is moved out of the way, so the caller can
fetch it again.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from gomodproxy.errors import ModuleNotFound, StorageError

__all__ = [
    "INTERNAL_PREFIX",
    "MAX_ELEMENT_BYTES",
    "MAX_KEY_BYTES",
    "CorruptObject",
    "HashedFile",
    "InvalidStorageKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectReader",
    "ObjectStore",
    "Presigner",
    "PutSource",
    "check_key",
    "check_prefix",
]

#: First key element of our own never-served metadata.
INTERNAL_PREFIX = ".gomodproxy/"
MAX_ELEMENT_BYTES = 255
MAX_KEY_BYTES = 4096

_ELEMENT = re.compile(r"[a-z0-9_~!@+\-][a-z0-9._~!@+\-]*")


class InvalidStorageKey(StorageError):
    """A key breaks the key rules; this is a bug in the caller, answered as not found."""

    status_hint = 404

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"invalid cache key {key!r}: {reason}")
        self.key = key
        self.reason = reason


class ObjectNotFound(ModuleNotFound):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is not in the cache")
        self.key = key


class CorruptObject(StorageError):
    """A stored object no longer matches the SHA-256 and size recorded when it was written.

    The backend has already moved it aside (quarantine); fetching it again is safe.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"cached object {key} is corrupt ({reason}); it was removed, retry")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a backend knows of a stored object: the size and SHA-256 recorded at write time."""

    key: str
    size: int
    sha256: str
    mtime: float

    @property
    def etag(self) -> str:
        """A strong HTTP entity tag derived from the content hash."""
        return f'"sha256-{self.sha256}"'


@runtime_checkable
class ObjectReader(Protocol):
    """An open stored object, read in chunks; the hash is checked when the end is reached."""

    @property
    def info(self) -> ObjectInfo:
        """The recorded size and hash of the object being read."""
        ...

    def chunks(self, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        """Yield the whole object, checked against its recorded hash.

        The last chunk is held back until the hash matches, so wrong bytes are never handed out
        whole: on a mismatch :class:`CorruptObject` is raised instead of the final chunk.
        """
        ...

    async def read_range(self, start: int, length: int) -> bytes:
        """Return ``length`` bytes from ``start`` (the caller has checked the whole object)."""
        ...

    def checked_fd(self) -> int | None:
        """A file descriptor of the object when its bytes were checked recently and may be sent
        as they are (the server's zero-copy path); None when they must go through :meth:`chunks`.

        The descriptor belongs to the reader: use it only while the reader is open.
        """
        ...


@dataclass(frozen=True, slots=True)
class HashedFile:
    """A file to store (consumed like a ``Path``) whose size and SHA-256 its writer computed
    as it wrote it, so a backend need not read it again to record them."""

    path: Path
    size: int
    sha256: str


#: What :meth:`ObjectStore.put` stores: bytes, a file (consumed), or a stream of chunks.
PutSource = bytes | Path | HashedFile | AsyncIterable[bytes]


class ObjectStore(Protocol):
    """The object-store seam. Every method validates its key with :func:`check_key` first.

    Locks are a seam of their own (:class:`~gomodproxy.storage.locks.Locks`).
    """

    async def get(self, key: str) -> bytes:
        """Return the whole object, checked against its recorded hash.

        Raises :class:`ObjectNotFound` or :class:`CorruptObject`.
        """
        ...

    def open(self, key: str) -> AbstractAsyncContextManager[ObjectReader]:
        """Open the object for streaming, its info with it (one call: on a remote store, one
        request). Raises :class:`ObjectNotFound` (or :class:`CorruptObject`) on entry."""
        ...

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        """Store ``source`` under ``key`` atomically: readers see the old object or the new one.

        A ``Path`` source is consumed (moved when possible, else copied and removed); a stream
        is read to its end before anything is visible.
        """
        ...

    async def stat(self, key: str) -> ObjectInfo | None:
        """Return the recorded size and hash, or None when nothing is stored."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Return the sorted keys that start with ``prefix`` ("" or ending in ``/``)."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the object; returns False when there was none."""
        ...

    @property
    def spool_dir(self) -> Path:
        """A local folder for downloads that are put() afterwards (on the same filesystem as
        the objects where the backend is a folder, so the put is a rename)."""
        ...

    def sweep_orphans(self, *, everywhere: bool = False, grace: float = 10.0) -> tuple[int, int]:
        """Remove what dead writers left (blocking: run in a thread); ``everywhere`` also looks
        where older versions left files (once, at start). Returns (files, bytes) removed."""
        ...


@runtime_checkable
class Presigner(Protocol):
    """A store whose objects a client can fetch itself, by a URL of limited life (S3)."""

    async def presigned_url(self, key: str, expires: float) -> str | None:
        """A URL that GETs the stored object without credentials for ``expires`` seconds;
        None when nothing is stored under ``key``."""
        ...


def check_key(key: str) -> str:
    """Validate ``key`` element by element; return it unchanged or raise InvalidStorageKey."""
    if not key:
        raise InvalidStorageKey(key, "empty key")
    raw = key.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidStorageKey(key[:64] + "...", f"longer than {MAX_KEY_BYTES} bytes")
    elements = key.split("/")
    start = 1 if key.startswith(INTERNAL_PREFIX) else 0
    if start and len(elements) < 2:
        raise InvalidStorageKey(key, "internal key without a name")
    for elem in elements[start:]:
        _check_element(key, elem)
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix: "" or a valid key followed by ``/``."""
    if prefix == "":
        return prefix
    if not prefix.endswith("/"):
        raise InvalidStorageKey(prefix, "a listing prefix must end with '/'")
    if prefix == INTERNAL_PREFIX:
        return prefix
    check_key(prefix[:-1])
    return prefix


def _check_element(key: str, elem: str) -> None:
    if elem in ("", ".", ".."):
        raise InvalidStorageKey(key, f"element {elem!r} is not allowed")
    if len(elem.encode("utf-8", "surrogatepass")) > MAX_ELEMENT_BYTES:
        raise InvalidStorageKey(key, f"an element is longer than {MAX_ELEMENT_BYTES} bytes")
    if _ELEMENT.fullmatch(elem) is None:
        raise InvalidStorageKey(
            key,
            f"element {elem!r} must be made of a-z 0-9 . _ ~ ! @ + - and not start with '.'",
        )

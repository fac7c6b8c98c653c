"""The two seams of the checksum-database client: where bytes come from and where state lives.

They mirror x/mod sumdb.ClientOps, split in two small Protocols passed to
:class:`gomodproxy.sumdb.client.SumDBClient` by constructor:

* :class:`SumDBFetcher` reads database paths (``lookup/...``, ``tile/...``) from the network;
  :mod:`gomodproxy.sumdb.fetch` implements it over the upstream transports (HTTP, ``file://``).
* :class:`VerifierState` keeps the remembered signed tree head (``<name>/latest``, written by
  compare-and-swap) and the cache of proven lookups and tiles;
  :mod:`gomodproxy.sumdb.filestate` keeps them where the go command keeps its own, and
  :class:`MemoryVerifierState` keeps them in memory (one-shot probes, tests).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from gomodproxy.errors import SumDBError

__all__ = [
    "MemoryVerifierState",
    "SumDBFetcher",
    "VerifierState",
    "WriteConflict",
]


class WriteConflict(SumDBError):
    """A compare-and-swap write found other content than expected (sumdb.ErrWriteConflict)."""

    def __init__(self, file: str) -> None:
        super().__init__(f"write conflict on {file}: it changed since it was read")
        self.file = file


class SumDBFetcher(Protocol):
    """Reads one path of a checksum database, e.g. ``lookup/rsc.io/quote@v1.5.2``.

    ``path`` has no leading slash; module path and version in it are already !-escaped.
    Raises :class:`~gomodproxy.errors.ModuleNotFound` for 404/410 and
    :class:`~gomodproxy.errors.SumDBError` or :class:`~gomodproxy.errors.UpstreamError` for
    any other failure (never returns an error page as data).
    """

    async def fetch(self, path: str) -> bytes:
        """The body served at ``path``."""
        ...


class VerifierState(Protocol):
    """Storage for the client: configuration (the latest tree head) and a cache.

    ``file`` names are ``<db name>/latest`` for configuration and ``<db name>/lookup/...`` or
    ``<db name>/tile/...`` for the cache, as in x/mod sumdb.ClientOps.
    """

    async def read_config(self, file: str) -> bytes:
        """The configuration file's content; empty bytes when it does not exist or is empty."""
        ...

    async def write_config(self, file: str, old: bytes, new: bytes) -> None:
        """Replace ``old`` by ``new`` atomically; raise :class:`WriteConflict` if it is not
        ``old`` any more. (A stored empty file counts as matching, as in cmd/go.)"""
        ...

    def config_location(self, file: str) -> str:
        """Where the configuration file lives, for error messages that say how to recover."""
        ...

    async def read_cache(self, file: str) -> bytes | None:
        """A cached lookup or tile, or None when absent (an empty file counts as absent)."""
        ...

    async def write_cache(self, file: str, data: bytes) -> None:
        """Store an authenticated lookup or tile."""
        ...


class MemoryVerifierState:
    """A :class:`VerifierState` held in memory, for one-shot probes and tests.

    Configuration writes are compare-and-swap like the on-disk store; nothing survives the
    process.
    """

    def __init__(self, config: dict[str, bytes] | None = None) -> None:
        self.config: dict[str, bytes] = dict(config or {})
        self.cache: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def read_config(self, file: str) -> bytes:
        """The stored configuration, or empty bytes."""
        return self.config.get(file, b"")

    async def write_config(self, file: str, old: bytes, new: bytes) -> None:
        """Compare-and-swap ``old`` for ``new``."""
        async with self._lock:
            current = self.config.get(file, b"")
            if current and current != old:
                raise WriteConflict(file)
            self.config[file] = new

    def config_location(self, file: str) -> str:
        """In-memory configuration has no path; name the key."""
        return f"<memory>/{file}"

    async def read_cache(self, file: str) -> bytes | None:
        """A cached entry, or None (empty counts as absent)."""
        return self.cache.get(file) or None

    async def write_cache(self, file: str, data: bytes) -> None:
        """Store a cache entry."""
        self.cache[file] = data

"""The checksum-database verifier's state kept in an object store (the proxy's, on any backend).

The proxy remembers the newest signed tree head it verified (so a database that forks or rolls
back is caught across restarts, fault catalogue E57) and the lookups and tiles it proved. They
live under internal keys of the proxy's own store, so every proxy sharing the store shares one
remembered head (the download client keeps its state where the go command keeps its own:
:mod:`gomodproxy.sumdb.filestate`):

- ``.gomodproxy/sumdb/config/<name>/latest``: the signed tree head, replaced by
  compare-and-swap under the storage's lock for that key (the lock is what several processes
  on one host agree through: file locks). With shared :class:`~gomodproxy.storage.locks.Registers`
  (Redis, for several hosts) the head lives in a register swapped atomically there, and the
  store keeps a copy that seeds an empty register (a Redis restarted without its data). While
  the registers are unreachable, reading or writing the head raises
  :class:`~gomodproxy.errors.StorageError` (a 503): never a verification against a stale head;
- ``.gomodproxy/sumdb/cache/<name>/lookup/...`` and ``.../tile/...``: authenticated answers.
"""

from __future__ import annotations

from gomodproxy.errors import ProxyError, SumDBError
from gomodproxy.storage.base import ObjectNotFound, ObjectStore, check_key
from gomodproxy.storage.locks import Locks, Registers
from gomodproxy.sumdb.seams import WriteConflict

__all__ = ["PROVEN_PREFIX", "StorageVerifierState"]

_PREFIX = ".gomodproxy/sumdb"
#: Where the default state keeps proven answers: ``PROVEN_PREFIX/<name>/lookup|tile/...``
#: (the relay reads them rather than asking the database again).
PROVEN_PREFIX = f"{_PREFIX}/cache"


class StorageVerifierState:
    """A :class:`~gomodproxy.sumdb.seams.VerifierState` over a storage backend."""

    def __init__(
        self,
        storage: ObjectStore,
        locks: Locks,
        *,
        registers: Registers | None = None,
        prefix: str = _PREFIX,
    ) -> None:
        self._storage = storage
        self._locks = locks
        self._registers = registers
        self._prefix = prefix.rstrip("/")

    def _key(self, kind: str, file: str) -> str:
        key = f"{self._prefix}/{kind}/{file}"
        try:
            return check_key(key)
        except ProxyError as exc:
            raise SumDBError(f"unsafe checksum database file name {file!r}: {exc}") from exc

    async def read_config(self, file: str) -> bytes:
        """The stored configuration, or empty bytes when there is none."""
        key = self._key("config", file)
        if self._registers is not None:
            return await self._read_register(self._registers, key)
        return await self._stored(key)

    async def _stored(self, key: str) -> bytes:
        try:
            return await self._storage.get(key)
        except ObjectNotFound:
            return b""

    async def _read_register(self, registers: Registers, key: str) -> bytes:
        value = await registers.read(key)
        if value is None:
            copy = await self._stored(key)
            if not copy:
                return b""
            await registers.seed(key, copy)
            value = await registers.read(key)
        return value or b""

    async def write_config(self, file: str, old: bytes, new: bytes) -> None:
        """Compare-and-swap ``old`` for ``new`` (in the registers, else under the storage lock
        of the key)."""
        key = self._key("config", file)
        if self._registers is not None:
            await self._read_register(self._registers, key)  # seeds an empty register first
            if not await self._registers.compare_and_swap(key, old, new):
                raise WriteConflict(file)
            await self._storage.put(key, new)  # the copy that seeds a register lost with Redis
            return
        async with self._locks.lock(key):
            try:
                current = await self._storage.get(key)
            except ObjectNotFound:
                current = b""
            if current and current != old:
                raise WriteConflict(file)
            await self._storage.put(key, new)

    def config_location(self, file: str) -> str:
        """The storage key, for messages that say how to recover."""
        return f"storage key {self._key('config', file)}"

    async def read_cache(self, file: str) -> bytes | None:
        """A cached lookup or tile, or None (an empty entry counts as absent)."""
        try:
            return await self._storage.get(self._key("cache", file)) or None
        except ObjectNotFound:
            return None

    async def write_cache(self, file: str, data: bytes) -> None:
        """Store an authenticated lookup or tile."""
        await self._storage.put(self._key("cache", file), data)

"""Locks and compare-and-swap registers shared by several hosts through Redis.

A lock is a lease: ``SET name token NX PX lease`` with a random token, renewed every third of
the lease while the holder runs (a long zip fetch keeps it), released only by its holder (a Lua
compare-and-delete: a holder whose lease expired and was taken over cannot release the new
holder's lock). A holder that dies stops renewing; the lease expires and another replica takes
over. Losing a lease mid-fetch cannot produce a wrong object: what a fetch writes is immutable
and verified before the put, and a put is whole or nothing, so two writers write the same bytes
(docs/design/scale-out-locks.md).

While Redis is unreachable, :meth:`RedisLocks.lock` degrades to an in-process lock (logged):
fetches stay correct, at worst fetched once per replica. The registers (the verifier's tree
head) never degrade: they raise :class:`~gomodproxy.errors.StorageError` (a 503), because a
verification against a stale head is worse than no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gomodproxy.errors import ConfigError, StorageError
from gomodproxy.logthrottle import LogThrottle
from gomodproxy.storage.base import check_key
from gomodproxy.storage.keyedlock import KeyedLocks

__all__ = [
    "RedisExpiringValues",
    "RedisLocks",
    "RedisRegisters",
    "RedisUnavailable",
    "connect_redis",
]

logger = logging.getLogger(__name__)

#: Sent to Redis as the client's library version (read once, at import: the default reads the
#: package metadata from disk on the event loop at every new connection).
_REDIS_PY_VERSION: str = redis.__version__

_POLL_MIN = 0.005
_POLL_MAX = 0.1

# Release only by the holder: delete when the value is still our token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# Renew only by the holder.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# Replace ARGV[1] by ARGV[2]; an absent or empty value matches any ARGV[1] (the first write),
# as the store-kept state does.
_CAS = """
local current = redis.call('GET', KEYS[1])
if current ~= false and current ~= '' and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


class RedisUnavailable(StorageError):
    """Redis cannot be reached (or answered an error): shared state is unknown, retry later."""

    def __init__(self, what: str, exc: BaseException) -> None:
        super().__init__(
            f"Redis is unreachable while {what} ({type(exc).__name__}: {exc}); "
            "retry when it is back (check --redis-url and the Redis server)"
        )


def connect_redis(url: str, *, timeout: float = 5.0) -> aioredis.Redis:
    """A Redis client for ``url`` (no connection is made yet); short timeouts so a dead server
    is noticed in seconds, not minutes."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"--redis-url {url!r} is not a Redis URL; write redis://HOST:PORT/DB "
            "(rediss:// for TLS)"
        )
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        # A pooled connection to a restarted server fails once: one quick retry reconnects.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        # No CLIENT SETINFO: its default reads package metadata from disk on the event loop.
        driver_info=DriverInfo(name="gomodproxy", lib_version=_REDIS_PY_VERSION),
    )
    return client


class RedisLocks:
    """Exclusive leases named by storage keys, shared by every process using one Redis.

    Tasks of this process queue on an in-process lock first, so they do not poll Redis against
    each other.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        namespace: str = "gomodproxy:",
        lease: float = 15.0,
    ) -> None:
        if lease <= 0:
            raise ValueError("the lease must be positive")
        self._redis = client
        self._namespace = namespace
        self._lease_ms = max(1, int(lease * 1000))
        self._local = KeyedLocks()
        self._release: Any = client.register_script(_RELEASE)
        self._renew: Any = client.register_script(_RENEW)
        self._throttle = LogThrottle(logger)
        #: Leases this process lost while holding them (renewal found another token).
        self.lost_leases = 0

    def _name(self, key: str) -> str:
        return f"{self._namespace}lock:{key}"

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Hold the lease named ``key`` for the block (in-process only while Redis is down)."""
        check_key(key)
        name = self._name(key)
        async with self._local.hold(key):
            token = secrets.token_hex(16)
            try:
                await self._acquire(name, token)
            except (RedisError, OSError) as exc:
                self._throttle.log(
                    logging.WARNING,
                    "redis-lock",
                    "Redis unreachable (%s): lock %s held in this process only; "
                    "another replica may fetch the same file",
                    type(exc).__name__,
                    key,
                )
                held = False
            else:
                held = True
            renewer = asyncio.create_task(self._keep(name, token)) if held else None
            try:
                yield
            finally:
                if renewer is not None:
                    renewer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await renewer
                    await asyncio.shield(self._drop(name, token))

    async def _acquire(self, name: str, token: str) -> None:
        delay = _POLL_MIN
        try:
            while not await self._redis.set(name, token, nx=True, px=self._lease_ms):
                await asyncio.sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
        except asyncio.CancelledError:
            # The SET may have reached Redis before the cancellation: give the lease back.
            await asyncio.shield(self._drop(name, token))
            raise

    async def _keep(self, name: str, token: str) -> None:
        interval = self._lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                kept = await self._renew(keys=[name], args=[token, self._lease_ms])
            except (RedisError, OSError) as exc:
                self._throttle.log(
                    logging.WARNING, "redis-renew", "cannot renew lease %s in Redis: %s", name, exc
                )
                continue
            if not kept:
                self.lost_leases += 1
                logger.warning(
                    "lease %s was lost while held (expired and taken over); the work goes on "
                    "and its result is the same verified bytes",
                    name,
                )
                return

    async def _drop(self, name: str, token: str) -> None:
        with contextlib.suppress(RedisError, OSError):  # else the lease expires on its own
            await self._release(keys=[name], args=[token])


class RedisRegisters:
    """Small named values replaced by atomic compare-and-swap in Redis."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "gomodproxy:") -> None:
        self._redis = client
        self._namespace = namespace
        self._cas: Any = client.register_script(_CAS)

    def _name(self, name: str) -> str:
        return f"{self._namespace}register:{name}"

    async def read(self, name: str) -> bytes | None:
        """The value, or None when Redis holds none. Raises :class:`RedisUnavailable`."""
        try:
            value: bytes | str | None = await self._redis.get(self._name(name))
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"reading {name}", exc) from exc
        return value.encode() if isinstance(value, str) else value

    async def seed(self, name: str, value: bytes) -> None:
        """Set the value only when Redis holds none (after a Redis restart without data)."""
        try:
            await self._redis.set(self._name(name), value, nx=True)
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"writing {name}", exc) from exc

    async def compare_and_swap(self, name: str, old: bytes, new: bytes) -> bool:
        """Replace ``old`` by ``new`` atomically (an absent or empty value matches any ``old``);
        False when another value is held."""
        try:
            done = await self._cas(keys=[self._name(name)], args=[old, new])
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"writing {name}", exc) from exc
        return bool(done)


class RedisExpiringValues:
    """Values with a time to live (``SET ... PX``), shared by every replica using one Redis."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "gomodproxy:") -> None:
        self._redis = client
        self._namespace = namespace

    def _name(self, name: str) -> str:
        return f"{self._namespace}expiring:{name}"

    async def get(self, name: str) -> bytes | None:
        """The value, or None. Raises :class:`RedisUnavailable`."""
        try:
            value: bytes | str | None = await self._redis.get(self._name(name))
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"reading {name}", exc) from exc
        return value.encode() if isinstance(value, str) else value

    async def put(self, name: str, value: bytes, ttl: float) -> None:
        """Hold ``value`` for ``ttl`` seconds. Raises :class:`RedisUnavailable`."""
        try:
            await self._redis.set(self._name(name), value, px=max(1, int(ttl * 1000)))
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"writing {name}", exc) from exc

    async def delete(self, name: str) -> None:
        """Drop the value. Raises :class:`RedisUnavailable`."""
        try:
            await self._redis.delete(self._name(name))
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"deleting {name}", exc) from exc

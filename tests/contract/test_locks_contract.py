"""One behaviour spec for every lock implementation (fault catalogue H79), like the storage
contract for every backend: a new lock joins by joining ``LOCKS``. The Redis leases run against
a real redis-server (the session's, each test in a namespace of its own), and have tests of
their own below: expiry after the holder dies, renewal while held, release only by the holder,
and the in-process fallback while Redis is down."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from gomodproxy.storage import FileLocks, LocalLocks, Locks
from gomodproxy.storage.redislocks import RedisLocks, connect_redis
from tests.realservers import RedisServer, running_redis

ZIP_KEY = "example.com/m/@v/v1.0.0.zip"


def _redis_locks(request: pytest.FixtureRequest, folder: Path) -> Locks:
    del folder
    server: RedisServer = request.getfixturevalue("redis_server")
    client = connect_redis(server.url)
    request.node.redis_client = client  # closed by the fixture
    return RedisLocks(client, namespace=f"test-{secrets.token_hex(4)}:")


LOCKS: dict[str, Callable[[pytest.FixtureRequest, Path], Locks]] = {
    "local": lambda request, folder: LocalLocks(),
    "file": lambda request, folder: FileLocks(folder / "locks"),
    "redis": _redis_locks,
}


@pytest_asyncio.fixture(params=sorted(LOCKS))
async def locks(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Locks]:
    yield LOCKS[request.param](request, tmp_path)
    client: aioredis.Redis | None = getattr(request.node, "redis_client", None)
    if client is not None:
        await client.aclose()


@pytest.mark.asyncio
async def test_lock_is_exclusive_per_key(locks: Locks) -> None:
    events: list[str] = []
    release = asyncio.Event()
    holding = asyncio.Event()

    async def first() -> None:
        async with locks.lock(ZIP_KEY):
            events.append("first-in")
            holding.set()
            await release.wait()
            events.append("first-out")

    async def second() -> None:
        async with locks.lock(ZIP_KEY):
            events.append("second-in")

    async def other_key() -> None:
        async with locks.lock("example.com/m/@v/v1.0.0.mod"):
            events.append("other-in")

    t1 = asyncio.create_task(first())
    await holding.wait()
    t2 = asyncio.create_task(second())
    await asyncio.wait_for(other_key(), 5)
    for _ in range(20):
        await asyncio.sleep(0.001)
    assert "second-in" not in events
    release.set()
    await asyncio.wait_for(asyncio.gather(t1, t2), 5)
    assert events == ["first-in", "other-in", "first-out", "second-in"]


@pytest.mark.asyncio
async def test_a_cancelled_lock_waiter_does_not_keep_the_lock(locks: Locks) -> None:
    async with locks.lock(ZIP_KEY):
        waiter = asyncio.create_task(_take_lock(locks))
        await asyncio.sleep(0.02)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    await asyncio.wait_for(_take_lock(locks), 5)


async def _take_lock(locks: Locks) -> None:
    async with locks.lock(ZIP_KEY):
        pass


@pytest.mark.asyncio
async def test_i88_a_lock_of_an_invalid_key_is_refused(locks: Locks) -> None:
    with pytest.raises(Exception, match="invalid cache key"):
        async with locks.lock("../etc/passwd"):
            pass


_LOCK_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from gomodproxy.storage import FileLocks

    async def main() -> None:
        locks = FileLocks(Path(sys.argv[1]))
        async with locks.lock("example.com/m/@v/v1.0.0.zip"):
            print("locked", flush=True)
            sys.stdin.readline()

    asyncio.run(main())
    """
)


@pytest.mark.asyncio
async def test_h79_file_lock_excludes_another_process(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LOCK_HOLDER,
        str(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"locked\n"
    waiter = asyncio.create_task(_take_lock(FileLocks(tmp_path)))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    proc.stdin.write(b"\n")
    await proc.stdin.drain()
    await asyncio.wait_for(waiter, 10)
    await proc.wait()


# -- Redis leases ---------------------------------------------------------------------------

_REDIS_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from gomodproxy.storage.redislocks import RedisLocks, connect_redis

    async def main() -> None:
        locks = RedisLocks(connect_redis(sys.argv[1]), namespace=sys.argv[2], lease=1.0)
        async with locks.lock("example.com/m/@v/v1.0.0.zip"):
            print("locked", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


@pytest_asyncio.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_server.url)
    yield client
    await client.aclose()


@pytest.mark.asyncio
async def test_h79_a_redis_lease_of_a_killed_holder_expires_and_another_takes_over(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    """A replica SIGKILLed while holding a lease stops renewing it: it expires and another
    replica takes the lock (a file lock would be freed by the kernel; a lease by time)."""
    namespace = f"test-{secrets.token_hex(4)}:"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _REDIS_HOLDER,
        redis_server.url,
        namespace,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"locked\n"
    other = RedisLocks(redis_client, namespace=namespace, lease=1.0)
    waiter = asyncio.create_task(_take_lock(other))
    await asyncio.sleep(1.5)  # longer than the lease: the live holder renews it
    assert not waiter.done()
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    await asyncio.wait_for(waiter, 10)


@pytest.mark.asyncio
async def test_a_redis_lease_is_renewed_while_held(redis_client: aioredis.Redis) -> None:
    namespace = f"test-{secrets.token_hex(4)}:"
    first = RedisLocks(redis_client, namespace=namespace, lease=0.6)
    second = RedisLocks(redis_client, namespace=namespace, lease=0.6)
    async with first.lock(ZIP_KEY):
        waiter = asyncio.create_task(_take_lock(second))
        await asyncio.sleep(2.0)  # several leases long
        assert not waiter.done()
        assert first.lost_leases == 0
    await asyncio.wait_for(waiter, 10)


@pytest.mark.asyncio
async def test_a_redis_lease_is_released_only_by_its_holder(redis_client: aioredis.Redis) -> None:
    """A holder whose lease expired and was taken over must not delete the new holder's lease
    when it finishes (compare-and-delete on the random token)."""
    namespace = f"test-{secrets.token_hex(4)}:"
    locks = RedisLocks(redis_client, namespace=namespace, lease=0.6)
    name = f"{namespace}lock:{ZIP_KEY}"
    async with locks.lock(ZIP_KEY):
        assert await redis_client.get(name) is not None
        await redis_client.set(name, b"another-replica", px=60_000)  # expired and taken over
        await asyncio.sleep(0.5)  # a renewal finds the other token
    assert await redis_client.get(name) == b"another-replica"
    assert locks.lost_leases == 1


@pytest.mark.asyncio
async def test_redis_locks_fall_back_to_this_process_while_redis_is_down(tmp_path: Path) -> None:
    """Redis down: fetches go on, locked within the process (at worst one fetch per replica),
    and the shared lease is back when Redis is."""
    with running_redis(tmp_path / "redis") as server:
        client = connect_redis(server.url, timeout=1.0)
        try:
            locks = RedisLocks(client, namespace="down:")
            server.stop()
            holding = asyncio.Event()
            release = asyncio.Event()

            async def holder() -> None:
                async with locks.lock(ZIP_KEY):
                    holding.set()
                    await release.wait()

            task = asyncio.create_task(holder())
            await asyncio.wait_for(holding.wait(), 30)
            second = asyncio.create_task(_take_lock(locks))
            await asyncio.sleep(0.1)
            assert not second.done()  # still exclusive within the process
            release.set()
            await asyncio.wait_for(asyncio.gather(task, second), 10)
            server.start()
            async with locks.lock(ZIP_KEY):
                assert await client.get(f"down:lock:{ZIP_KEY}") is not None
        finally:
            await client.aclose()

"""One behaviour spec for every lock implementation (fault catalogue H79), like the storage
contract for every backend: a new lock (Redis, for several hosts) joins by joining ``LOCKS``."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.storage import FileLocks, LocalLocks, Locks

ZIP_KEY = "example.com/m/@v/v1.0.0.zip"

LOCKS: dict[str, Callable[[Path], Locks]] = {
    "local": lambda folder: LocalLocks(),
    "file": lambda folder: FileLocks(folder / "locks"),
}


@pytest_asyncio.fixture(params=sorted(LOCKS))
async def locks(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Locks]:
    yield LOCKS[request.param](tmp_path)


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

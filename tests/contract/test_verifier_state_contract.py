"""The checksum-database verifier's state over every storage backend (fault catalogue E57).

What a proxy on shared storage relies on: compare-and-swap of the remembered tree head under
the storage lock, authenticated answers kept, and a restarted client (a new process: a new
client and state object over the same storage) still holding the newest head, so a database
that then serves a fork is caught. Every backend runs with store-kept state under its locks, and
the filesystem and S3 backends also with the tree head in a Redis compare-and-swap register
(``+redis``: what replicas on shared storage use); each against real servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.errors import StorageError, SumDBError
from gomodproxy.storage import BACKENDS, OpenedStorage, StorageSettings, open_storage
from gomodproxy.storage.redislocks import connect_redis
from gomodproxy.sumdb.client import ForkDetected, SumDBClient
from gomodproxy.sumdb.seams import WriteConflict
from gomodproxy.sumdb.storestate import StorageVerifierState
from tests.contract.test_storage_contract import storage_settings
from tests.realservers import RedisServer, running_redis
from tests.sumdb_testlog import (
    SAMPLER_ZIP,
    TEST_NAME,
    TEST_VERIFIER_KEY,
    LogFetcher,
    standard_log,
)

LATEST = f"{TEST_NAME}/latest"


VARIANTS = [*sorted(BACKENDS), "filesystem+redis", "s3+redis"]


@pytest_asyncio.fixture(params=VARIANTS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenedStorage]:
    name, _, redis = str(request.param).partition("+")
    settings = storage_settings(request, name, tmp_path)
    if redis:
        server: RedisServer = request.getfixturevalue("redis_server")
        settings = replace(settings, redis_url=server.url)
        await _flush(server)
    opened = await asyncio.to_thread(open_storage, settings)
    yield opened
    await opened.aclose()


async def _flush(server: RedisServer) -> None:
    client = connect_redis(server.url)
    await client.flushdb()
    await client.aclose()


def _state(storage: OpenedStorage) -> StorageVerifierState:
    """A verifier state over the store, its locks and registers (several share them as
    proxies do)."""
    return StorageVerifierState(storage.store, storage.locks, registers=storage.registers)


@pytest.mark.asyncio
async def test_write_config_is_compare_and_swap(storage: OpenedStorage) -> None:
    state = _state(storage)
    assert await state.read_config(LATEST) == b""
    await state.write_config(LATEST, b"", b"one")
    await state.write_config(LATEST, b"one", b"two")
    with pytest.raises(WriteConflict):
        await state.write_config(LATEST, b"one", b"three")
    assert await state.read_config(LATEST) == b"two"
    assert await _state(storage).read_config(LATEST) == b"two"
    assert "latest" in state.config_location(LATEST)


@pytest.mark.asyncio
async def test_e57_concurrent_compare_and_swap_loses_no_update(storage: OpenedStorage) -> None:
    states = [_state(storage) for _ in range(5)]

    async def bump(state: StorageVerifierState, times: int) -> None:
        for _ in range(times):
            while True:
                old = await state.read_config(LATEST)
                try:
                    await state.write_config(LATEST, old, b"%d" % (int(old or b"0") + 1))
                    break
                except WriteConflict:
                    continue

    await asyncio.gather(*(bump(s, 10) for s in states))
    assert await states[0].read_config(LATEST) == b"50"


@pytest.mark.asyncio
async def test_cache_entries_are_kept_and_empty_counts_as_absent(storage: OpenedStorage) -> None:
    state = _state(storage)
    file = f"{TEST_NAME}/tile/2/0/000.p/3"
    assert await state.read_cache(file) is None
    await state.write_cache(file, b"tile bytes")
    assert await _state(storage).read_cache(file) == b"tile bytes"
    await state.write_cache(file, b"")
    assert await state.read_cache(file) is None


@pytest.mark.asyncio
@pytest.mark.parametrize("file", ["../escape", f"{TEST_NAME}/../../x", f"{TEST_NAME}//latest"])
async def test_unsafe_file_names_are_refused(storage: OpenedStorage, file: str) -> None:
    state = _state(storage)
    with pytest.raises(SumDBError, match="unsafe"):
        await state.write_cache(file, b"x")
    with pytest.raises(SumDBError, match="unsafe"):
        await state.read_config(file)


@pytest.mark.asyncio
async def test_e57_a_restarted_client_remembers_the_head_and_catches_a_fork(
    storage: OpenedStorage,
) -> None:
    log = standard_log()
    forked = log.fork()  # the same three records, from here on a history of its own
    log.add_record("example.com/good@v1.0.0", "example.com/good v1.0.0 h1:good=\n")
    forked.add_record("example.com/evil@v1.0.0", "example.com/evil v1.0.0 h1:evil=\n")
    first = SumDBClient(
        TEST_VERIFIER_KEY,
        LogFetcher(log),
        _state(storage),
        tile_height=2,
    )
    assert await first.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]
    good = ["example.com/good v1.0.0 h1:good="]
    assert await first.lookup("example.com/good", "v1.0.0") == good
    assert await _state(storage).read_config(LATEST) == log.sign_tree(4)
    # "Restarted": a new client and state over the same storage, and a database that now
    # serves the other tree of the same size.
    again = SumDBClient(
        TEST_VERIFIER_KEY,
        LogFetcher(forked),
        _state(storage),
        tile_height=2,
    )
    with pytest.raises(ForkDetected):
        await again.lookup("example.com/evil", "v1.0.0")
    # The remembered head is still the last good one.
    assert await _state(storage).read_config(LATEST) == log.sign_tree(4)


# -- the tree head in Redis ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_e57_a_redis_restarted_empty_is_seeded_from_the_store_and_never_moves_back(
    tmp_path: Path,
) -> None:
    """Redis lost its data: the head comes back from the store's copy before any swap, so an
    old head cannot be written over it as if it were the first."""
    with running_redis(tmp_path / "redis") as server:
        settings = StorageSettings("filesystem", tmp_path / "cache", redis_url=server.url)
        opened = await asyncio.to_thread(open_storage, settings)
        try:
            state = _state(opened)
            await state.write_config(LATEST, b"", b"one")
            await state.write_config(LATEST, b"one", b"two")
            server.stop()
            server.start()  # no persistence: Redis is empty again
            assert await _state(opened).read_config(LATEST) == b"two"
            with pytest.raises(WriteConflict):
                await _state(opened).write_config(LATEST, b"one", b"one-fork")
            assert await _state(opened).read_config(LATEST) == b"two"
        finally:
            await opened.aclose()


@pytest.mark.asyncio
async def test_e57_redis_down_means_no_verification_rather_than_a_stale_head(
    tmp_path: Path,
) -> None:
    """While Redis is unreachable the head cannot be read or moved: a StorageError (503), not
    a verification against the store's copy (which another replica may have outrun)."""
    with running_redis(tmp_path / "redis") as server:
        settings = StorageSettings("filesystem", tmp_path / "cache", redis_url=server.url)
        opened = await asyncio.to_thread(open_storage, settings)
        try:
            state = _state(opened)
            await state.write_config(LATEST, b"", b"one")
            server.stop()
            with pytest.raises(StorageError, match="Redis is unreachable") as caught:
                await state.read_config(LATEST)
            assert caught.value.status_hint == 503
            with pytest.raises(StorageError, match="Redis is unreachable"):
                await state.write_config(LATEST, b"one", b"two")
            server.start()
            assert await state.read_config(LATEST) == b"one"  # seeded again from the store
        finally:
            await opened.aclose()

"""The checksum-database verifier's state over every storage backend (fault catalogue E57).

What a proxy on shared storage relies on: compare-and-swap of the remembered tree head under
the storage lock, authenticated answers kept, and a restarted client (a new process: a new
client and state object over the same storage) still holding the newest head, so a database
that then serves a fork is caught.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.errors import SumDBError
from gomodproxy.storage import BACKENDS, OpenedStorage, StorageSettings, open_storage
from gomodproxy.sumdb.client import ForkDetected, SumDBClient
from gomodproxy.sumdb.seams import WriteConflict
from gomodproxy.sumdb.storestate import StorageVerifierState
from tests.sumdb_testlog import (
    SAMPLER_ZIP,
    TEST_NAME,
    TEST_VERIFIER_KEY,
    LogFetcher,
    standard_log,
)

LATEST = f"{TEST_NAME}/latest"


@pytest_asyncio.fixture(params=sorted(BACKENDS))
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenedStorage]:
    name: str = request.param
    yield await asyncio.to_thread(open_storage, StorageSettings(name, tmp_path / "cache"))


def _state(storage: OpenedStorage) -> StorageVerifierState:
    """A verifier state over the store and its locks (several share them as proxies do)."""
    return StorageVerifierState(storage.store, storage.locks)


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

"""The verifier's on-disk state: Go's places, compare-and-swap, atomic writes (items 57, 58)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gomodproxy.errors import SumDBError
from gomodproxy.sumdb.client import CorruptLatest, SumDBClient
from gomodproxy.sumdb.filestate import FileVerifierState
from gomodproxy.sumdb.seams import WriteConflict
from tests.sumdb_testlog import (
    SAMPLER_MOD,
    SAMPLER_ZIP,
    TEST_NAME,
    TEST_VERIFIER_KEY,
    LogFetcher,
    TestLog,
    standard_log,
)

LATEST = f"{TEST_NAME}/latest"


def go_state(tmp_path: Path) -> FileVerifierState:
    return FileVerifierState.go_layout(tmp_path / "gopath", tmp_path / "modcache")


def latest_path(tmp_path: Path) -> Path:
    return tmp_path / "gopath" / "pkg" / "sumdb" / TEST_NAME / "latest"


def all_files(root: Path) -> list[Path]:
    return list(root.rglob("*"))


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name]


@pytest.mark.asyncio
async def test_go_layout_puts_latest_under_gopath_and_cache_under_gomodcache(
    tmp_path: Path,
) -> None:
    state = go_state(tmp_path)
    await state.write_config(LATEST, b"", b"tree\n")
    await state.write_cache(f"{TEST_NAME}/lookup/rsc.io/quote@v1.5.2", b"record")
    await state.write_cache(f"{TEST_NAME}/tile/8/0/000.p/3", b"tile")
    assert latest_path(tmp_path).read_bytes() == b"tree\n"
    cache = tmp_path / "modcache" / "cache" / "download" / "sumdb" / TEST_NAME
    assert (cache / "lookup" / "rsc.io" / "quote@v1.5.2").read_bytes() == b"record"
    assert (cache / "tile" / "8" / "0" / "000.p" / "3").read_bytes() == b"tile"
    assert state.config_location(LATEST) == str(latest_path(tmp_path))
    assert leftovers(tmp_path) == []


@pytest.mark.asyncio
async def test_missing_or_empty_files_count_as_not_present(tmp_path: Path) -> None:
    state = go_state(tmp_path)
    assert await state.read_config(LATEST) == b""
    assert await state.read_cache(f"{TEST_NAME}/lookup/x@v1.0.0") is None
    latest_path(tmp_path).parent.mkdir(parents=True)
    latest_path(tmp_path).write_bytes(b"")
    assert await state.read_config(LATEST) == b""
    cache_file = state.cache_dir / TEST_NAME / "lookup" / "x@v1.0.0"
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"")
    assert await state.read_cache(f"{TEST_NAME}/lookup/x@v1.0.0") is None


@pytest.mark.asyncio
async def test_write_config_is_compare_and_swap(tmp_path: Path) -> None:
    state = go_state(tmp_path)
    await state.write_config(LATEST, b"", b"one")
    await state.write_config(LATEST, b"one", b"two")
    with pytest.raises(WriteConflict):
        await state.write_config(LATEST, b"one", b"three")
    assert await state.read_config(LATEST) == b"two"
    # An empty stored file matches any old content, as in cmd/go WriteConfig.
    latest_path(tmp_path).write_bytes(b"")
    await state.write_config(LATEST, b"whatever", b"four")
    assert await state.read_config(LATEST) == b"four"
    assert leftovers(tmp_path) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "file",
    ["../escape", f"{TEST_NAME}/../../x", "/abs/latest", f"{TEST_NAME}//latest", "a/./b", "a\\b"],
)
async def test_unsafe_file_names_are_refused(tmp_path: Path, file: str) -> None:
    state = go_state(tmp_path)
    with pytest.raises(SumDBError, match="unsafe"):
        await state.write_cache(file, b"x")
    with pytest.raises(SumDBError, match="unsafe"):
        await state.read_config(file)
    assert all_files(tmp_path) == []


@pytest.mark.asyncio
async def test_e57_concurrent_compare_and_swap_loses_no_update(tmp_path: Path) -> None:
    # Separate state objects, as separate processes would have; flock serialises them.
    states = [go_state(tmp_path) for _ in range(6)]

    async def bump(state: FileVerifierState, times: int) -> None:
        for _ in range(times):
            while True:
                old = await state.read_config(LATEST)
                new = b"%d" % (int(old or b"0") + 1)
                try:
                    await state.write_config(LATEST, old, new)
                    break
                except WriteConflict:
                    continue

    await asyncio.gather(*(bump(s, 15) for s in states))
    assert await states[0].read_config(LATEST) == b"90"
    assert leftovers(tmp_path) == []


@pytest.mark.asyncio
async def test_client_state_survives_in_go_places_and_works_offline(tmp_path: Path) -> None:
    log = standard_log()
    first = SumDBClient(
        TEST_VERIFIER_KEY, LogFetcher(log), go_state(tmp_path), tile_height=log.tile_height
    )
    assert await first.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]
    assert latest_path(tmp_path).read_bytes() == log.sign_tree(3)
    cache = tmp_path / "modcache" / "cache" / "download" / "sumdb" / TEST_NAME
    assert (cache / "lookup" / "rsc.io" / "sampler@v1.3.0").read_bytes() == log.remote[
        "lookup/rsc.io/sampler@v1.3.0"
    ]
    assert (cache / "tile" / "2" / "0" / "000.p" / "3").read_bytes() == log.remote[
        "tile/2/0/000.p/3"
    ]

    offline = LogFetcher(log)
    offline.online = False
    second = SumDBClient(TEST_VERIFIER_KEY, offline, go_state(tmp_path), tile_height=2)
    assert await second.lookup("rsc.io/sampler", "v1.3.0/go.mod") == [SAMPLER_MOD]
    assert offline.requests == []


@pytest.mark.asyncio
async def test_e57_two_clients_on_one_disk_state_keep_the_newest_tree(tmp_path: Path) -> None:
    log = TestLog()
    for i in range(40):
        log.add_record(f"example.com/m{i}@v1.0.0", f"example.com/m{i} v1.0.0 h1:{i}=\n")
    # Each lookup answer carries the tree of its own time: sizes 1..40, in any order.
    clients = [
        SumDBClient(TEST_VERIFIER_KEY, LogFetcher(log), go_state(tmp_path), tile_height=2)
        for _ in range(2)
    ]
    await asyncio.gather(
        *(clients[i % 2].lookup(f"example.com/m{i}", "v1.0.0") for i in reversed(range(40))),
        *(clients[(i + 1) % 2].lookup(f"example.com/m{i}", "v1.0.0") for i in range(40)),
    )
    assert latest_path(tmp_path).read_bytes() == log.sign_tree(40)
    assert all(c.latest.n == 40 for c in clients)


def _corrupt(log: TestLog) -> list[tuple[str, bytes]]:
    good = log.sign_tree(1)
    return [
        ("truncated", good[: len(good) - 7]),
        ("garbage", b"\xff\xfe not a note"),
        ("flipped-digit", good.replace(b"\n1\n", b"\n2\n")),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("case", range(3), ids=["truncated", "garbage", "flipped-digit"])
async def test_e58_corrupt_latest_on_disk_is_loud_and_kept(tmp_path: Path, case: int) -> None:
    log = standard_log()
    label, stored = _corrupt(log)[case]
    path = latest_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(stored)
    client = SumDBClient(TEST_VERIFIER_KEY, LogFetcher(log), go_state(tmp_path), tile_height=2)
    with pytest.raises(CorruptLatest) as info:
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert f"remove {path} if you trust the database" in str(info.value), label
    assert path.read_bytes() == stored
    # Following the advice recovers.
    path.unlink()
    assert await client.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]

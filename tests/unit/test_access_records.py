"""Access records: a hit costs a lookup; the store is written at most once per interval."""

from __future__ import annotations

import pytest

from gomodproxy.cache.access import (
    AccessRecorder,
    access_key,
    parse_access_key,
    read_access_times,
)
from gomodproxy.storage import MemoryStorage, ObjectInfo, PutSource


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _CountingStore(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        self.puts += 1
        return await super().put(key, source)


def test_access_keys_round_trip() -> None:
    key = access_key("github.com/Azure/x", "v1.0.0-RC")
    assert key == ".gomodproxy/access/github.com/!azure/x/@v/v1.0.0-!r!c"
    assert parse_access_key(key) == ("github.com/Azure/x", "v1.0.0-RC")
    assert parse_access_key(".gomodproxy/deny/example.com/a/@v/v1.0.0.json") is None


@pytest.mark.asyncio
async def test_a_version_is_recorded_at_most_once_per_interval() -> None:
    store = _CountingStore()
    clock = _Clock()
    recorder = AccessRecorder(store, every=3600.0, clock=clock)
    for _ in range(100):
        recorder.touch("example.com/a", "v1.0.0")
    recorder.touch("example.com/b", "v2.0.0")
    await recorder.flush()
    assert store.puts == 2
    assert await read_access_times(store) == {
        ("example.com/a", "v1.0.0"): 1000.0,
        ("example.com/b", "v2.0.0"): 1000.0,
    }
    clock.now += 3599.0
    recorder.touch("example.com/a", "v1.0.0")
    await recorder.flush()
    assert store.puts == 2
    clock.now += 2.0
    recorder.touch("example.com/a", "v1.0.0")
    await recorder.flush()
    assert store.puts == 3
    assert (await read_access_times(store))[("example.com/a", "v1.0.0")] == 4601.0

"""The prefetcher's bookkeeping, over a source of go.mod files in memory (our own seam,
:class:`~gomodproxy.cache.prefetch.PrefetchSource`): waste, the queue bound, refusals."""

from __future__ import annotations

import pytest

from gomodproxy.cache.prefetch import Headers, Prefetcher, PrefetchOptions
from gomodproxy.protocol.kinds import FileKind

pytestmark = pytest.mark.asyncio

ROOT_MOD = (
    b"module example.com/root\n\ngo 1.16\n\n"
    b"require (\n\texample.com/a v1.0.0\n\texample.com/b v1.0.0\n)\n"
)
LEAF_MOD = b"module example.com/a\n\ngo 1.16\n"


class _Source:
    """Serves every asked go.mod as a leaf module's, counting the requests."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, FileKind]] = []

    async def prefetch_file(
        self, path: str, version: str, kind: FileKind, headers: Headers
    ) -> tuple[bytes, bool] | None:
        self.asked.append((path, version, kind))
        return LEAF_MOD, True

    async def prefetch_zip(self, path: str, version: str, headers: Headers) -> int | None:
        self.asked.append((path, version, FileKind.ZIP))
        return 1000


class _Observer:
    def __init__(self) -> None:
        self.decisions: list[tuple[str, str]] = []
        self.bytes: dict[str, int] = {}

    def prefetch_decision(self, kind: FileKind, decision: str) -> None:
        self.decisions.append((kind.value, decision))

    def prefetch_bytes(self, kind: FileKind, outcome: str, size: int) -> None:
        key = f"{kind.value}/{outcome}"
        self.bytes[key] = self.bytes.get(key, 0) + size


class _Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def _prefetcher(source: _Source, observer: _Observer, clock: _Clock, **options: int) -> Prefetcher:
    return Prefetcher(
        source,
        PrefetchOptions(enabled=True, **options),  # type: ignore[arg-type]
        allowed=lambda path, version: path != "example.com/b",
        observer=observer,
        clock=clock,
    )


async def test_a_prefetched_file_nobody_asks_for_counts_as_wasted_and_leaves_the_budget() -> None:
    source, observer, clock = _Source(), _Observer(), _Clock()
    prefetcher = _prefetcher(source, observer, clock)
    prefetcher.mod_served("example.com/root", "v1.0.0", ROOT_MOD, None)
    await prefetcher.wait_idle()
    assert source.asked == [("example.com/a", "v1.0.0", FileKind.MOD)]
    assert ("mod", "refused") in observer.decisions  # example.com/b: not allowed
    assert prefetcher.outstanding_bytes == len(LEAF_MOD)
    clock.now += 601  # past waste_after; the next decision sweeps
    other = b"module example.com/c\n\nrequire example.com/d v1.0.0\n"
    prefetcher.mod_served("example.com/c", "v1.0.0", other, None)
    await prefetcher.wait_idle()
    assert observer.bytes == {"mod/prefetched": 2 * len(LEAF_MOD), "mod/wasted": len(LEAF_MOD)}
    assert prefetcher.outstanding_bytes == len(LEAF_MOD)  # d's, fetched just now


async def test_a_prefetched_file_a_client_asks_for_counts_as_used() -> None:
    source, observer, clock = _Source(), _Observer(), _Clock()
    prefetcher = _prefetcher(source, observer, clock)
    prefetcher.mod_served("example.com/root", "v1.0.0", ROOT_MOD, None)
    await prefetcher.wait_idle()
    prefetcher.mod_served("example.com/a", "v1.0.0", LEAF_MOD, None)
    assert observer.bytes == {"mod/prefetched": len(LEAF_MOD), "mod/used": len(LEAF_MOD)}
    assert prefetcher.outstanding_bytes == 0


async def test_prefetches_beyond_the_queue_are_dropped() -> None:
    source, observer, clock = _Source(), _Observer(), _Clock()
    prefetcher = _prefetcher(source, observer, clock, queue=0)
    prefetcher.mod_served("example.com/root", "v1.0.0", ROOT_MOD, None)
    await prefetcher.wait_idle()
    assert source.asked == []
    assert ("mod", "queue") in observer.decisions


async def test_zips_wait_for_a_zip_request_and_take_the_newest_asked_version() -> None:
    source, observer, clock = _Source(), _Observer(), _Clock()
    prefetcher = _prefetcher(source, observer, clock)
    for version in ("v1.0.0", "v1.2.0", "v1.1.0"):
        prefetcher.mod_served("example.com/a", version, LEAF_MOD, None)
    await prefetcher.wait_idle()
    assert source.asked == []
    prefetcher.zip_requested("example.com/other", "v1.0.0", None)
    await prefetcher.wait_idle()
    assert sorted(source.asked, key=str) == [
        ("example.com/a", "v1.2.0", FileKind.INFO),
        ("example.com/a", "v1.2.0", FileKind.ZIP),
    ]

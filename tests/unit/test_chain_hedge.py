"""Hedged requests (issue 16 §6): a slow ``|`` entry's small-file request is also sent to the
next entry after ``hedge_after``; the first success wins and the other request is cancelled.

The upstreams are our own ``Fetcher`` seam held by events (no network, no timing): a held
upstream answers only when the test releases it, so "slow" is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from gomodproxy.errors import ProxyError, UpstreamError
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.chain import UpstreamChain
from gomodproxy.upstream.modulefetch import ModuleFetcher, ProxyFetcher

A, B, C = "https://a.test", "https://b.test", "https://c.test"
T = TypeVar("T")


@dataclass
class _Body:
    data: bytes

    @property
    def content_length(self) -> int | None:
        return len(self.data)

    @property
    def content_type(self) -> str | None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.data


@dataclass
class HeldFetcher:
    """Answers ``answer`` (bytes, or an error raised) once ``release`` is set."""

    url: str
    answer: bytes | ProxyError
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0
    cancelled: int = 0

    @property
    def name(self) -> str:
        return self.url

    @contextlib.asynccontextmanager
    async def open(
        self, rel_path: str, kind: FileKind, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[_Body]:
        self.calls += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(self.answer, ProxyError):
            raise self.answer
        yield _Body(self.answer)


@dataclass
class Hedges:
    sent: list[tuple[str, FileKind]] = field(default_factory=list)
    won: list[tuple[str, FileKind]] = field(default_factory=list)

    def hedge_sent(self, upstream: str, kind: FileKind) -> None:
        self.sent.append((upstream, kind))

    def hedge_won(self, upstream: str, kind: FileKind) -> None:
        self.won.append((upstream, kind))


def _chain(
    goproxy: str, *fetchers: HeldFetcher, hedge_after: float | None = 0.01
) -> tuple[UpstreamChain, Hedges]:
    hedges = Hedges()
    seam: dict[str, ModuleFetcher] = {f.url: ProxyFetcher(f) for f in fetchers}
    chain = UpstreamChain(
        parse_goproxy(goproxy), seam, hedge_after=hedge_after, hedge_observer=hedges
    )
    return chain, hedges


async def _bounded(call: Awaitable[T]) -> T:
    """``call``, failing instead of hanging when a held upstream is never released (a chain
    that does not hedge waits for it for ever)."""
    return await asyncio.wait_for(call, 30)


async def _until(condition: object) -> None:
    """Let the event loop run until ``condition()`` holds (bounded in turns, not time)."""
    assert callable(condition)
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    pytest.fail("condition never held (no hedge sent?)")


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["info", "mod", "list", "latest"])
async def test_a_slow_pipe_entry_is_hedged_and_the_hedge_answers(kind: str) -> None:
    slow, fast = HeldFetcher(A, b"from a"), HeldFetcher(B, b"from b")
    fast.release.set()
    chain, hedges = _chain(f"{A}|{B}", slow, fast)
    calls = {
        "info": lambda: chain.info("example.com/m", "v1.0.0"),
        "mod": lambda: chain.mod("example.com/m", "v1.0.0"),
        "list": lambda: chain.list("example.com/m"),
        "latest": lambda: chain.latest("example.com/m"),
    }
    got = await _bounded(calls[kind]())
    assert (got.data, got.upstream) == (b"from b", B)
    assert slow.calls == 1
    assert slow.cancelled == 1  # the slow request was cancelled
    assert hedges.sent == [(B, FileKind(kind))]
    assert hedges.won == [(B, FileKind(kind))]


@pytest.mark.asyncio
async def test_no_hedge_when_the_first_entry_answers_in_time() -> None:
    a, b = HeldFetcher(A, b"from a"), HeldFetcher(B, b"from b")
    a.release.set()
    chain, hedges = _chain(f"{A}|{B}", a, b, hedge_after=30.0)
    assert (await chain.mod("example.com/m", "v1.0.0")).upstream == A
    assert b.calls == 0
    assert hedges.sent == []


@pytest.mark.asyncio
async def test_hedging_is_off_by_default() -> None:
    a, b = HeldFetcher(A, b"from a"), HeldFetcher(B, b"from b")
    chain, hedges = _chain(f"{A}|{B}", a, b, hedge_after=None)
    task = asyncio.create_task(chain.mod("example.com/m", "v1.0.0"))
    await _until(lambda: a.calls == 1)
    for _ in range(50):
        await asyncio.sleep(0.001)
    assert b.calls == 0
    a.release.set()
    assert (await task).upstream == A
    assert hedges.sent == []


@pytest.mark.asyncio
async def test_a_comma_entry_is_never_hedged() -> None:
    """After ``,`` the next entry is asked only on not-found: a hedge could change the answer."""
    a, b = HeldFetcher(A, b"from a"), HeldFetcher(B, b"from b")
    b.release.set()
    chain, hedges = _chain(f"{A},{B}", a, b)
    task = asyncio.create_task(chain.mod("example.com/m", "v1.0.0"))
    await _until(lambda: a.calls == 1)
    for _ in range(50):
        await asyncio.sleep(0.001)
    assert b.calls == 0
    a.release.set()
    assert (await task).upstream == A
    assert hedges.sent == []


@pytest.mark.asyncio
async def test_zips_are_never_hedged() -> None:
    a, b = HeldFetcher(A, b"zip a"), HeldFetcher(B, b"zip b")
    b.release.set()
    chain, hedges = _chain(f"{A}|{B}", a, b)

    async def read() -> str:
        async with chain.zip("example.com/m", "v1.0.0") as opened:
            return opened.upstream

    task = asyncio.create_task(read())
    await _until(lambda: a.calls == 1)
    for _ in range(50):
        await asyncio.sleep(0.001)
    assert b.calls == 0
    a.release.set()
    assert await task == A
    assert hedges.sent == []


@pytest.mark.asyncio
async def test_a_failed_hedge_leaves_the_slow_request_to_answer() -> None:
    a, b = HeldFetcher(A, b"from a"), HeldFetcher(B, UpstreamError("answered 502", status=502))
    b.release.set()
    chain, hedges = _chain(f"{A}|{B}", a, b)
    task = asyncio.create_task(chain.info("example.com/m", "v1.0.0"))
    await _until(lambda: b.calls == 1)
    for _ in range(20):
        await asyncio.sleep(0.001)
    assert not task.done()
    a.release.set()
    got = await task
    assert got.upstream == A
    assert hedges.sent == [(B, FileKind.INFO)]
    assert hedges.won == []


@pytest.mark.asyncio
async def test_when_both_fail_the_walk_goes_on_as_without_the_hedge() -> None:
    a = HeldFetcher(A, UpstreamError("a answered 500", status=500))
    b = HeldFetcher(B, UpstreamError("b answered 502", status=502))
    c = HeldFetcher(C, b"from c")
    b.release.set()
    c.release.set()
    chain, hedges = _chain(f"{A}|{B}|{C}", a, b, c)
    task = asyncio.create_task(chain.info("example.com/m", "v1.0.0"))
    await _until(lambda: b.calls == 1)
    a.release.set()
    got = await _bounded(task)
    assert got.upstream == C
    assert (a.calls, b.calls, c.calls) == (1, 1, 1)
    assert hedges.sent == [(B, FileKind.INFO)]


@pytest.mark.asyncio
async def test_when_both_fail_the_error_is_the_one_go_would_report() -> None:
    """Go's bestErr: the last proxy error that was not not-found."""
    a = HeldFetcher(A, UpstreamError("a answered 500", status=500))
    b = HeldFetcher(B, UpstreamError("b answered 502", status=502))
    b.release.set()
    chain, _ = _chain(f"{A}|{B}", a, b)
    task = asyncio.create_task(chain.info("example.com/m", "v1.0.0"))
    await _until(lambda: b.calls == 1)
    a.release.set()
    with pytest.raises(UpstreamError, match="b answered 502"):
        await task


@pytest.mark.asyncio
async def test_a_fast_failure_walks_on_without_a_race() -> None:
    """The first entry fails before the delay: the next is asked the ordinary way."""
    a = HeldFetcher(A, UpstreamError("a answered 500", status=500))
    b = HeldFetcher(B, b"from b")
    a.release.set()
    b.release.set()
    chain, hedges = _chain(f"{A}|{B}", a, b, hedge_after=30.0)
    assert (await chain.mod("example.com/m", "v1.0.0")).upstream == B
    assert hedges.sent == []


@pytest.mark.asyncio
async def test_cancelling_the_caller_cancels_both_requests() -> None:
    a, b = HeldFetcher(A, b"from a"), HeldFetcher(B, b"from b")
    chain, _ = _chain(f"{A}|{B}", a, b)
    task = asyncio.create_task(chain.mod("example.com/m", "v1.0.0"))
    await _until(lambda: b.calls == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (a.cancelled, b.cancelled) == (1, 1)

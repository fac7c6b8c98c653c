"""Singleflight: one fetch per key however many ask; failures shared, never remembered."""

from __future__ import annotations

import asyncio

import pytest

from gomodproxy.errors import UpstreamError
from gomodproxy.singleflight import SingleFlight


@pytest.mark.asyncio
async def test_concurrent_callers_share_one_call() -> None:
    calls = 0
    gate = asyncio.Event()
    joined: list[str] = []
    flight: SingleFlight[bytes] = SingleFlight(on_join=joined.append)

    async def fetch() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        return b"zip"

    waiters = [asyncio.create_task(flight.do("k", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    assert len(flight) == 1
    gate.set()
    assert await asyncio.gather(*waiters) == [b"zip"] * 50
    assert calls == 1
    assert joined == ["k"] * 49
    assert len(flight) == 0


@pytest.mark.asyncio
async def test_h76_a_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    calls = 0
    gate = asyncio.Event()
    flight: SingleFlight[bytes] = SingleFlight()

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise UpstreamError("answered 500", status=500)

    waiters = [asyncio.create_task(flight.do("k", failing)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, UpstreamError) for r in results)
    assert calls == 1

    async def ok() -> bytes:
        return b"ok"

    assert await flight.do("k", ok) == b"ok"


@pytest.mark.asyncio
async def test_h75_a_cancelled_caller_does_not_cancel_the_fetch_for_others() -> None:
    gate = asyncio.Event()
    flight: SingleFlight[bytes] = SingleFlight()

    async def fetch() -> bytes:
        await gate.wait()
        return b"done"

    first = asyncio.create_task(flight.do("k", fetch))
    second = asyncio.create_task(flight.do("k", fetch))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    assert await second == b"done"


@pytest.mark.asyncio
async def test_h75_the_fetch_finishes_even_when_every_caller_left() -> None:
    gate = asyncio.Event()
    finished = asyncio.Event()
    flight: SingleFlight[bytes] = SingleFlight()

    async def fetch() -> bytes:
        await gate.wait()
        finished.set()
        return b"stored"

    only = asyncio.create_task(flight.do("k", fetch))
    await asyncio.sleep(0)
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    gate.set()
    await asyncio.wait_for(finished.wait(), 5)


@pytest.mark.asyncio
async def test_different_keys_run_independently() -> None:
    flight: SingleFlight[str] = SingleFlight()

    async def make(value: str) -> str:
        return value

    a, b = await asyncio.gather(
        flight.do("a", lambda: make("A")), flight.do("b", lambda: make("B"))
    )
    assert (a, b) == ("A", "B")


@pytest.mark.asyncio
async def test_cancel_all_stops_fetches_in_flight() -> None:
    flight: SingleFlight[bytes] = SingleFlight()
    never = asyncio.Event()

    async def fetch() -> bytes:
        await never.wait()
        return b""

    waiter = asyncio.create_task(flight.do("k", fetch))
    await asyncio.sleep(0)
    await flight.cancel_all()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(flight) == 0

"""The circuit breaker per upstream: its states on a clock the test turns, and in front of a
real ``file://`` upstream behind a fault drill."""

from __future__ import annotations

from pathlib import Path

import pytest

from gomodproxy.errors import ModuleNotFound, UpstreamError
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.upstream.breaker import BreakerFetcher, CircuitBreaker, CircuitOpen, State
from gomodproxy.upstream.faults import parse_faults
from gomodproxy.upstream.fileclient import FileFetcher
from gomodproxy.upstream.modulefetch import ProxyFetcher


def _state(b: CircuitBreaker) -> State:
    """The state now (a call, so the type checker does not narrow it between steps)."""
    return b.state


class Clock:
    """Time as the test sets it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_n_failures_open_the_circuit_and_a_cooldown_later_one_probe_goes_through() -> None:
    clock, metrics = Clock(), ProxyMetrics()
    b = CircuitBreaker("http://u", failures=3, cooldown=10, clock=clock, observer=metrics)
    assert metrics.circuit_states.value("http://u") == 0
    for _ in range(2):
        assert b.admit()
        b.failed()
    assert _state(b) is State.CLOSED
    assert b.admit()
    b.succeeded()  # an answer resets the count
    for _ in range(3):
        assert b.admit()
        b.failed()
    assert _state(b) is State.OPEN
    assert metrics.circuit_states.value("http://u") == 2
    assert metrics.circuit_openings.value("http://u") == 1
    assert not b.admit()
    assert "circuit is open after 3 failures in a row (next probe in 10s)" in str(b.refusal())
    clock.now += 9.9
    assert not b.admit()
    assert metrics.circuit_rejections.value("http://u") == 2
    clock.now += 0.2
    assert b.admit()  # the probe
    assert _state(b) is State.HALF_OPEN
    assert metrics.circuit_states.value("http://u") == 1
    assert not b.admit()  # one probe at a time
    b.failed()  # the probe failed: open again, for a whole cool-down
    assert _state(b) is State.OPEN
    assert metrics.circuit_openings.value("http://u") == 2
    clock.now += 10.1
    assert b.admit()
    b.succeeded()
    assert _state(b) is State.CLOSED
    assert metrics.circuit_states.value("http://u") == 0
    assert b.admit()
    assert b.admit()


def test_an_abandoned_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    b = CircuitBreaker("u", failures=1, cooldown=1, clock=clock)
    assert b.admit()
    b.failed()
    clock.now += 2
    assert b.admit()
    b.abandoned()
    assert b.admit()


@pytest.mark.asyncio
async def test_the_breaker_counts_errors_not_not_found_and_refuses_without_asking(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "example.com" / "a" / "@v"
    folder.mkdir(parents=True)
    (folder / "v1.0.0.mod").write_bytes(b"module example.com/a\n")
    plan = parse_faults(
        {"fault": [{"action": "error", "modules": ["example.com/a"], "count": 2}]}, "drill"
    )
    upstream = plan.wrap(ProxyFetcher(FileFetcher.from_url(tmp_path.as_uri())))
    clock = Clock()
    breaker = CircuitBreaker(upstream.name, failures=2, cooldown=5, clock=clock)
    fetcher = BreakerFetcher(upstream, breaker)
    for _ in range(3):  # not-found answers never open it
        with pytest.raises(ModuleNotFound):
            await fetcher.mod("example.com/missing", "v1.0.0")
    assert _state(breaker) is State.CLOSED
    for _ in range(2):
        with pytest.raises(UpstreamError, match="fault drill"):
            await fetcher.mod("example.com/a", "v1.0.0")
    assert _state(breaker) is State.OPEN
    with pytest.raises(CircuitOpen):
        async with fetcher.zip("example.com/a", "v1.0.0"):
            pass
    with pytest.raises(CircuitOpen):
        await fetcher.mod("example.com/a", "v1.0.0")
    assert plan.injected == [2]  # refused requests never reached the upstream
    clock.now += 5
    assert await fetcher.mod("example.com/a", "v1.0.0") == b"module example.com/a\n"
    assert _state(breaker) is State.CLOSED

"""LogThrottle: one line per kind per interval, the dropped repeats counted (catalogue H77)."""

from __future__ import annotations

import logging

import pytest

from gomodproxy.logthrottle import LogThrottle


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.throttle"]


def test_h77_a_burst_of_one_kind_writes_one_line_then_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttle = LogThrottle(logging.getLogger("test.throttle"), 10.0, clock=clock)
    with caplog.at_level(logging.INFO, "test.throttle"):
        written = [
            throttle.log(logging.WARNING, "accept", "listener.accept_paused errno=%s", "EMFILE")
            for _ in range(100_000)
        ]
    assert written[0]
    assert not any(written[1:])
    assert _lines(caplog) == ["listener.accept_paused errno=EMFILE suppressed=0"]
    assert throttle.suppressed("accept") == 99_999


def test_h77_the_next_line_after_the_interval_reports_the_suppressed_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttle = LogThrottle(logging.getLogger("test.throttle"), 10.0, clock=clock)
    with caplog.at_level(logging.INFO, "test.throttle"):
        for second in range(25):
            clock.now = 1000.0 + second
            for _ in range(3):
                throttle.log(logging.WARNING, "cap", "listener.over_capacity n=%d", second)
    # Lines at t=0, 10 and 20; each later line carries the repeats dropped since the one before.
    assert _lines(caplog) == [
        "listener.over_capacity n=0 suppressed=0",
        "listener.over_capacity n=10 suppressed=29",
        "listener.over_capacity n=20 suppressed=29",
    ]
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 3
    assert throttle.suppressed("cap") == 14


def test_h77_kinds_are_throttled_separately(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(logging.getLogger("test.throttle"), 10.0, clock=Clock())
    with caplog.at_level(logging.INFO, "test.throttle"):
        assert throttle.log(logging.INFO, "a", "x.a")
        assert throttle.log(logging.INFO, "b", "x.b")
        assert not throttle.log(logging.INFO, "a", "x.a")
    assert _lines(caplog) == ["x.a suppressed=0", "x.b suppressed=0"]
    assert throttle.suppressed("b") == 0
    assert throttle.suppressed("never") == 0

"""A mirror's verdict and flags from what the probe found, and the exit status of the run.

Precedence: ``tampered`` > ``stale`` > ``unreachable`` (answered less than half the requests)
> ``unverified`` (nothing it served could be proven) > ``genuine``. The flags ``slow`` and
``flaky`` never change the verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Evidence", "Thresholds", "Verdict", "decide", "exit_status", "flags"]


class Verdict(enum.Enum):
    """What a mirror is judged to be."""

    GENUINE = "genuine"
    TAMPERED = "tampered"
    STALE = "stale"
    UNREACHABLE = "unreachable"
    UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The documented limits behind verdicts and flags."""

    unreachable_below: float = 0.5  # availability under this: unreachable
    flaky_error_rate: float = 0.05  # error rate over this (while available): flaky
    slow_ratio: float = 3.0  # p50 total over this many times the best mirror's ...
    slow_min_seconds: float = 0.2  # ... and over this many seconds: slow
    backoff_after: int = 5  # consecutive failures before a mirror is left alone


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one mirror showed: findings counts, availability and timings."""

    tampered: int
    stale: int
    availability: float | None
    error_rate: float | None
    proven: int
    p50_total: float | None


def decide(e: Evidence, t: Thresholds = Thresholds()) -> Verdict:
    """The verdict, by precedence."""
    if e.tampered:
        return Verdict.TAMPERED
    if e.stale:
        return Verdict.STALE
    if e.availability is not None and e.availability < t.unreachable_below:
        return Verdict.UNREACHABLE
    if e.proven == 0:
        return Verdict.UNVERIFIED
    return Verdict.GENUINE


def flags(e: Evidence, best_p50: float | None, t: Thresholds = Thresholds()) -> list[str]:
    """``slow`` when its p50 total is over ``slow_ratio`` times the best mirror's and over
    ``slow_min_seconds``; ``flaky`` when its error rate is over ``flaky_error_rate`` while it
    stays available."""
    out: list[str] = []
    if (
        e.p50_total is not None
        and best_p50 is not None
        and e.p50_total > t.slow_ratio * best_p50
        and e.p50_total > t.slow_min_seconds
    ):
        out.append("slow")
    available = e.availability is not None and e.availability >= t.unreachable_below
    if available and e.error_rate is not None and e.error_rate > t.flaky_error_rate:
        out.append("flaky")
    return out


def exit_status(verdicts: Iterable[Verdict]) -> int:
    """0 when every mirror is genuine, 1 when any is tampered, else 3."""
    seen = set(verdicts)
    if Verdict.TAMPERED in seen:
        return 1
    return 0 if seen <= {Verdict.GENUINE} else 3

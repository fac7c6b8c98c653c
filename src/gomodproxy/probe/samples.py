"""One probe request's outcome and timings, and the summaries drawn from many.

Percentiles use the nearest-rank method (the smallest sample with at least p% of the samples
at or below it), so every reported value is a time that was actually measured.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Kind", "Outcome", "Sample", "Summary", "percentile", "summarize"]


class Kind(enum.Enum):
    """The endpoint kinds a mirror is measured on."""

    LIST = "list"
    LATEST = "latest"
    INFO = "info"
    MOD = "mod"
    ZIP = "zip"


class Outcome(enum.Enum):
    """How one request ended. ``ok`` and ``not_found`` are answers; the rest are errors."""

    OK = "ok"
    NOT_FOUND = "not_found"
    ERROR = "error"
    TIMEOUT = "timeout"
    HTML = "html"
    INVALID = "invalid"

    @property
    def answered(self) -> bool:
        """Whether the mirror answered without error (a 404/410 is a valid answer)."""
        return self in (Outcome.OK, Outcome.NOT_FOUND)


@dataclass(frozen=True, slots=True)
class Sample:
    """One request sent to a mirror; times in seconds from sending it, ``at`` in seconds from
    the start of the run to sending it."""

    mirror: str
    kind: Kind
    target: str
    warm: bool
    outcome: Outcome
    ttfb: float | None
    total: float
    size: int = 0
    detail: str = ""
    at: float = 0.0


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts and timings of a group of samples (one mirror, or one mirror and kind)."""

    sent: int
    ok: int
    not_found: int
    errors: int
    timeouts: int
    ttfb: tuple[float | None, float | None, float | None]
    total: tuple[float | None, float | None, float | None]
    cold_total_p50: float | None
    warm_total_p50: float | None
    bytes: int
    bytes_per_second: float | None

    @property
    def availability(self) -> float | None:
        """Share of requests answered without error; None when nothing was sent."""
        return (self.ok + self.not_found) / self.sent if self.sent else None

    @property
    def error_rate(self) -> float | None:
        """Share of requests that ended in an error or timeout."""
        return (self.errors + self.timeouts) / self.sent if self.sent else None


def _three(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    return percentile(values, 50), percentile(values, 95), percentile(values, 99)


def summarize(samples: Iterable[Sample]) -> Summary:
    """Summarize samples: timings are over the ``ok`` answers only."""
    group = list(samples)
    ok = [s for s in group if s.outcome is Outcome.OK]
    size = sum(s.size for s in ok)
    seconds = sum(s.total for s in ok)
    return Summary(
        sent=len(group),
        ok=len(ok),
        not_found=sum(1 for s in group if s.outcome is Outcome.NOT_FOUND),
        errors=sum(1 for s in group if not s.outcome.answered and s.outcome is not Outcome.TIMEOUT),
        timeouts=sum(1 for s in group if s.outcome is Outcome.TIMEOUT),
        ttfb=_three([s.ttfb for s in ok if s.ttfb is not None]),
        total=_three([s.total for s in ok]),
        cold_total_p50=percentile([s.total for s in ok if not s.warm], 50),
        warm_total_p50=percentile([s.total for s in ok if s.warm], 50),
        bytes=size,
        bytes_per_second=size / seconds if ok and seconds > 0 else None,
    )

"""Prometheus metrics of the proxy, rendered in the text exposition format at ``/metrics``.

A deliberately small registry (counters, one gauge, histograms with labels); it also implements
the cache service's observer seam, so the service reports hits, fetches and verifications here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.breaker import State

__all__ = ["Counter", "Gauge", "Histogram", "ProxyMetrics"]

_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Sequence[str], values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(value)


class Counter:
    """A monotonically increasing value per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        """The current value of one series (0 when never touched)."""
        return self._values.get(labels, 0.0)

    def series(self) -> dict[Labels, float]:
        """Every series touched so far: labels to value (a copy)."""
        return dict(self._values)

    def samples(self) -> Iterable[str]:
        """The exposition lines of every series."""
        for labels, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Gauge(Counter):
    """A value that goes up and down."""

    kind = "gauge"

    def dec(self, *labels: str, amount: float = 1.0) -> None:
        """Subtract ``amount`` from the series named by ``labels``."""
        self.inc(*labels, amount=-amount)

    def set(self, value: float, *labels: str) -> None:
        """Set the series named by ``labels`` to ``value``."""
        self._values[labels] = value


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = _LATENCY_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._buckets = (*sorted(buckets), math.inf)
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        """Record one observation."""
        counts, total = self._series.setdefault(labels, ([0] * len(self._buckets), [0.0]))
        for i, bound in enumerate(self._buckets):
            if value <= bound:
                counts[i] += 1
        total[0] += value

    def count(self, *labels: str) -> int:
        """How many observations one series has."""
        series = self._series.get(labels)
        return series[0][-1] if series else 0

    def samples(self) -> Iterable[str]:
        """The exposition lines: buckets, sum and count of every series."""
        for labels, (counts, total) in sorted(self._series.items()):
            for bound, count in zip(self._buckets, counts, strict=True):
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.label_names, labels, le)} {count}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total[0])}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {counts[-1]}"


class ProxyMetrics:
    """Every metric of the proxy; also the cache service's observer."""

    def __init__(self) -> None:
        self.requests = Counter(
            "gomodproxy_requests_total",
            "Requests answered, by kind and status.",
            ["kind", "status"],
        )
        self.request_seconds = Histogram(
            "gomodproxy_request_duration_seconds", "Time to answer a request.", ["kind"]
        )
        self.bytes_served = Counter(
            "gomodproxy_bytes_served_total", "Response body bytes sent, by kind.", ["kind"]
        )
        self.in_flight_requests = Gauge(
            "gomodproxy_requests_in_flight", "Requests being answered now."
        )
        self.cache = Counter(
            "gomodproxy_cache_requests_total",
            "Cache lookups of module files, by kind and result (hit or miss).",
            ["kind", "result"],
        )
        self.upstream_fetches = Counter(
            "gomodproxy_upstream_fetches_total",
            "Upstream requests, by upstream, kind and outcome (ok, not_found, error, timeout).",
            ["upstream", "kind", "outcome"],
        )
        self.upstream_seconds = Histogram(
            "gomodproxy_upstream_duration_seconds", "Upstream fetch time, by kind.", ["kind"]
        )
        self.fetches_in_flight = Gauge(
            "gomodproxy_fetches_in_flight", "Upstream fetches of module files running now."
        )
        self.fetches_deduplicated = Counter(
            "gomodproxy_fetches_deduplicated_total",
            "Requests that joined a fetch already in flight instead of starting one.",
            ["kind"],
        )
        self.verifications = Counter(
            "gomodproxy_checksum_verifications_total",
            "Checksum-database verifications, by kind and outcome (ok, mismatch, error, skipped).",
            ["kind", "outcome"],
        )
        self.circuit_states = Gauge(
            "gomodproxy_upstream_circuit_state",
            "Circuit breaker state per upstream: 0 closed, 1 half-open (probing), 2 open.",
            ["upstream"],
        )
        self.circuit_rejections = Counter(
            "gomodproxy_upstream_circuit_rejected_total",
            "Requests not sent to an upstream because its circuit was open.",
            ["upstream"],
        )
        self.circuit_openings = Counter(
            "gomodproxy_upstream_circuit_opened_total",
            "Times an upstream's circuit opened.",
            ["upstream"],
        )
        self._all: tuple[Counter | Histogram, ...] = (
            self.requests,
            self.request_seconds,
            self.bytes_served,
            self.in_flight_requests,
            self.cache,
            self.upstream_fetches,
            self.upstream_seconds,
            self.fetches_in_flight,
            self.fetches_deduplicated,
            self.verifications,
            self.circuit_states,
            self.circuit_rejections,
            self.circuit_openings,
        )

    def render(self) -> str:
        """The whole registry in the Prometheus text format (version 0.0.4)."""
        lines: list[str] = []
        for metric in self._all:
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"

    # -- the cache observer seam ------------------------------------------------------------

    def upstream_result(self, upstream: str, kind: FileKind, outcome: str, seconds: float) -> None:
        """One attempt on an upstream ended."""
        self.upstream_fetches.inc(upstream, kind.value, outcome)
        self.upstream_seconds.observe(seconds, kind.value)

    def cache_result(self, kind: FileKind, hit: bool) -> None:
        """A module file was looked up in the cache."""
        self.cache.inc(kind.value, "hit" if hit else "miss")

    def fetch_started(self, kind: FileKind, deduplicated: bool) -> None:
        """A fetch began, or a request joined one in flight."""
        if deduplicated:
            self.fetches_deduplicated.inc(kind.value)
        else:
            self.fetches_in_flight.inc()

    def fetch_finished(self, kind: FileKind) -> None:
        """A fetch that began ended."""
        self.fetches_in_flight.dec()

    def verification(self, kind: FileKind, outcome: str) -> None:
        """A checksum verification ended."""
        self.verifications.inc(kind.value, outcome)

    # -- the circuit breakers' observer seam ------------------------------------------------

    def circuit_state(self, upstream: str, state: State) -> None:
        """An upstream's circuit changed state (or was created, closed)."""
        self.circuit_states.set(float(state.value), upstream)
        if state is State.OPEN:
            self.circuit_openings.inc(upstream)

    def circuit_rejected(self, upstream: str) -> None:
        """A request was refused by an open circuit."""
        self.circuit_rejections.inc(upstream)

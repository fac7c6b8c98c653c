"""Prometheus metrics of the proxy, kept by the official client library (``prometheus_client``).

With one process the metrics live in a private registry. With ``--workers N`` the parent gives
every worker the same private folder (:func:`enable_multiprocess`, before the worker makes its
:class:`ProxyMetrics`): each worker writes its values to its own memory-mapped files there, and a
scrape of ``/metrics`` (or the status page) in any worker reads and merges all of them, so one
scrape sees the whole server. Gauges of work in flight are summed over the live workers; the
circuit state gauge shows the worst state any live worker has.

The metric objects are wrapped in small adapters taking label values positionally, with
:meth:`Counter.value` and :meth:`Counter.series` reading what a scrape would show (the whole
server in multi-process mode). :class:`ProxyMetrics` also implements the cache service's, the
upstream chain's and the circuit breakers' observer seams.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest, multiprocess, values
from prometheus_client.samples import Sample

from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.breaker import State

__all__ = [
    "MULTIPROC_ENV",
    "Counter",
    "Gauge",
    "Histogram",
    "ProxyMetrics",
    "enable_multiprocess",
    "mark_worker_gone",
    "multiprocess_dir",
]

#: The variable naming the folder of the multi-process values (the client library's name).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

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
_Metric = prometheus_client.Counter | prometheus_client.Gauge | prometheus_client.Histogram


def enable_multiprocess(folder: Path) -> None:
    """Keep this process's metric values in ``folder`` (shared with the other workers).

    Call it in a worker before it makes its :class:`ProxyMetrics`; the client library picks
    the kind of value when a metric is made, from this module-level choice.
    """
    os.environ[MULTIPROC_ENV] = str(folder)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def mark_worker_gone(pid: int, folder: Path) -> None:
    """A worker exited: its gauges of live work stop counting (its counters stay)."""
    multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]


def multiprocess_dir() -> str | None:
    """The folder of the multi-process values when this process keeps its values there."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get(MULTIPROC_ENV) or None


class _Family:
    """One metric: the scraped view of its series (subclasses update it)."""

    def __init__(self, owner: ProxyMetrics, metric: _Metric, sample: str) -> None:
        self._owner = owner
        self._sample = sample
        self.name = metric._name
        self.label_names: Labels = tuple(metric._labelnames)

    def series(self) -> dict[Labels, float]:
        """Every series as a scrape shows it: labels to value."""
        out: dict[Labels, float] = {}
        for sample in self._owner.samples(self._sample):
            labels = tuple(sample.labels.get(n, "") for n in self.label_names)
            out[labels] = out.get(labels, 0.0) + sample.value
        return out

    def value(self, *labels: str) -> float:
        """The value of one series as a scrape shows it (0 when never touched)."""
        return self.series().get(labels, 0.0)


#: A child's update method (``inc``, ``set``, ``observe``), kept per label values: a hit
#: then costs one dict lookup before the client library's own work.
_Update = Callable[[float], None]


class Counter(_Family):
    """A monotonically increasing value per label set."""

    def __init__(self, owner: ProxyMetrics, metric: prometheus_client.Counter) -> None:
        super().__init__(owner, metric, metric._name + "_total")
        self._metric = metric
        self._inc: dict[Labels, _Update] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        update = self._inc.get(labels)
        if update is None:
            child = self._metric.labels(*labels) if labels else self._metric
            update = self._inc[labels] = child.inc
        update(amount)


class Gauge(_Family):
    """A value that goes up and down."""

    def __init__(self, owner: ProxyMetrics, metric: prometheus_client.Gauge) -> None:
        super().__init__(owner, metric, metric._name)
        self._metric = metric
        self._children: dict[Labels, prometheus_client.Gauge] = {}

    def _child(self, labels: Labels) -> prometheus_client.Gauge:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = (
                self._metric.labels(*labels) if labels else self._metric
            )
        return child

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        self._child(labels).inc(amount)

    def dec(self, *labels: str, amount: float = 1.0) -> None:
        """Subtract ``amount`` from the series named by ``labels``."""
        self._child(labels).inc(-amount)

    def set(self, value: float, *labels: str) -> None:
        """Set the series named by ``labels`` to ``value``."""
        self._child(labels).set(value)


class Histogram(_Family):
    """Observations counted into cumulative buckets, with their sum and count."""

    def __init__(self, owner: ProxyMetrics, metric: prometheus_client.Histogram) -> None:
        super().__init__(owner, metric, metric._name + "_count")
        self._metric = metric
        self._observe: dict[Labels, _Update] = {}

    def observe(self, value: float, *labels: str) -> None:
        """Record one observation."""
        update = self._observe.get(labels)
        if update is None:
            child = self._metric.labels(*labels) if labels else self._metric
            update = self._observe[labels] = child.observe
        update(value)

    def count(self, *labels: str) -> int:
        """How many observations one series has."""
        return int(self.value(*labels))


class ProxyMetrics:
    """Every metric of the proxy; also the cache service's observer."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = multiprocess_dir()
        self.requests = self._counter(
            "gomodproxy_requests_total",
            "Requests answered, by kind and status.",
            ["kind", "status"],
        )
        self.request_seconds = self._histogram(
            "gomodproxy_request_duration_seconds", "Time to answer a request.", ["kind"]
        )
        self.bytes_served = self._counter(
            "gomodproxy_bytes_served_total", "Response body bytes sent, by kind.", ["kind"]
        )
        self.in_flight_requests = self._gauge(
            "gomodproxy_requests_in_flight", "Requests being answered now.", mode="livesum"
        )
        self.cache = self._counter(
            "gomodproxy_cache_requests_total",
            "Cache lookups, by kind and result (hit or miss); list and latest count a hit when "
            "answered without asking the upstreams.",
            ["kind", "result"],
        )
        self.upstream_fetches = self._counter(
            "gomodproxy_upstream_fetches_total",
            "Upstream requests, by upstream, kind and outcome (ok, not_found, error, timeout).",
            ["upstream", "kind", "outcome"],
        )
        self.upstream_seconds = self._histogram(
            "gomodproxy_upstream_duration_seconds", "Upstream fetch time, by kind.", ["kind"]
        )
        self.fetches_in_flight = self._gauge(
            "gomodproxy_fetches_in_flight",
            "Upstream fetches of module files running now.",
            mode="livesum",
        )
        self.fetches_deduplicated = self._counter(
            "gomodproxy_fetches_deduplicated_total",
            "Requests that joined a fetch already in flight instead of starting one.",
            ["kind"],
        )
        self.verifications = self._counter(
            "gomodproxy_checksum_verifications_total",
            "Checksum-database verifications, by kind and outcome (ok, mismatch, error, skipped).",
            ["kind", "outcome"],
        )
        self.circuit_states = self._gauge(
            "gomodproxy_upstream_circuit_state",
            "Circuit breaker state per upstream: 0 closed, 1 half-open (probing), 2 open "
            "(the worst of the workers).",
            ["upstream"],
            mode="livemax",
        )
        self.circuit_rejections = self._counter(
            "gomodproxy_upstream_circuit_rejected_total",
            "Requests not sent to an upstream because its circuit was open.",
            ["upstream"],
        )
        self.circuit_openings = self._counter(
            "gomodproxy_upstream_circuit_opened_total",
            "Times an upstream's circuit opened.",
            ["upstream"],
        )
        self.hedges_sent = self._counter(
            "gomodproxy_upstream_hedges_total",
            "Hedged requests sent to the next upstream because the first was slow, by upstream "
            "hedged to and kind.",
            ["upstream", "kind"],
        )
        self.hedges_won = self._counter(
            "gomodproxy_upstream_hedges_won_total",
            "Hedged requests whose answer was served (it came first), by upstream and kind.",
            ["upstream", "kind"],
        )

        self.prefetch_decisions = self._counter(
            "gomodproxy_prefetch_decisions_total",
            "Files considered for prefetch, by kind (info, mod, zip; checksum-database lookup "
            "and tile) and decision (scheduled, refused, budget, queue, fanout), and scheduled "
            "prefetches by how they ended (fetched, cached, failed).",
            ["kind", "decision"],
        )
        self.prefetch_bytes_total = self._counter(
            "gomodproxy_prefetch_bytes_total",
            "Bytes fetched ahead of clients (prefetched), later asked for by a client (used) "
            "or not asked for within 10 minutes (wasted), by kind.",
            ["kind", "outcome"],
        )

    # -- making the metrics ---------------------------------------------------------------------

    def _counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        metric = prometheus_client.Counter(name, help_text, labels, registry=self._registry)
        return Counter(self, metric)

    def _gauge(self, name: str, help_text: str, labels: Sequence[str] = (), *, mode: str) -> Gauge:
        metric = prometheus_client.Gauge(
            name,
            help_text,
            labels,
            registry=self._registry,
            multiprocess_mode=mode,  # type: ignore[arg-type]
        )
        return Gauge(self, metric)

    def _histogram(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Histogram:
        metric = prometheus_client.Histogram(
            name, help_text, labels, registry=self._registry, buckets=_LATENCY_BUCKETS
        )
        return Histogram(self, metric)

    # -- reading them -----------------------------------------------------------------------

    @property
    def multiprocess(self) -> bool:
        """Whether a scrape merges the values of every worker."""
        return self._multiprocess is not None

    def _scraped(self) -> CollectorRegistry:
        if self._multiprocess is None:
            return self._registry
        merged = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(merged, path=self._multiprocess)  # type: ignore[no-untyped-call]
        return merged

    def samples(self, name: str) -> list[Sample]:
        """The samples named ``name`` a scrape would show now."""
        return [s for f in self._scraped().collect() for s in f.samples if s.name == name]

    def render(self) -> str:
        """The metrics in the Prometheus text format (version 0.0.4). In multi-process mode it
        reads the workers' files: call it off the event loop."""
        return generate_latest(self._scraped()).decode("utf-8")

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

    # -- the prefetcher's observer seam ------------------------------------------------------

    def prefetch_decision(self, kind: FileKind, decision: str) -> None:
        """A file was considered for prefetch, or a prefetch ended."""
        self.prefetch_decisions.inc(kind.value, decision)

    def prefetch_bytes(self, kind: FileKind, outcome: str, size: int) -> None:
        """Bytes prefetched, used or wasted."""
        self.prefetch_bytes_total.inc(kind.value, outcome, amount=size)

    def sumdb_prefetch_decision(self, kind: str, decision: str) -> None:
        """A checksum-database ``lookup`` or ``tile`` was considered, or its prefetch ended."""
        self.prefetch_decisions.inc(kind, decision)

    def sumdb_prefetch_bytes(self, kind: str, outcome: str, size: int) -> None:
        """Checksum-database bytes prefetched, used or wasted."""
        self.prefetch_bytes_total.inc(kind, outcome, amount=size)

    # -- the upstream chain's hedging seam --------------------------------------------------

    def hedge_sent(self, upstream: str, kind: FileKind) -> None:
        """A hedged request went to ``upstream`` because the one before it was slow."""
        self.hedges_sent.inc(upstream, kind.value)

    def hedge_won(self, upstream: str, kind: FileKind) -> None:
        """The hedged request to ``upstream`` answered first and was served."""
        self.hedges_won.inc(upstream, kind.value)

    # -- the circuit breakers' observer seam ------------------------------------------------

    def circuit_state(self, upstream: str, state: State) -> None:
        """An upstream's circuit changed state (or was created, closed)."""
        self.circuit_states.set(float(state.value), upstream)
        if state is State.OPEN:
            self.circuit_openings.inc(upstream)

    def circuit_rejected(self, upstream: str) -> None:
        """A request was refused by an open circuit."""
        self.circuit_rejections.inc(upstream)

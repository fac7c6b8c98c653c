"""The status page (``/status``): what an operator looks at first, in one HTML page.

Configuration (upstreams with credentials masked, checksum database, cache folder), uptime,
and the counters of ``/metrics`` summed up: requests by kind, cache hit ratio by kind,
upstream fetches by outcome, checksum verifications by outcome, bytes served, work in flight.
No module path is shown (private module names must not leak through a page anyone on the
network can read), only counts. Rendering is pure: :func:`render_status` takes the values.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gomodproxy import __version__
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.upstream.faults import FaultPlan

__all__ = ["StatusInfo", "render_status"]


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """The configuration shown on the page."""

    instance_id: str
    upstreams: str
    sumdb: str
    cache_dir: str
    storage: str
    started: float  # time.time() at start
    faults: FaultPlan | None = None  # a fault drill is on: the page says so first


def _drill(faults: FaultPlan) -> str:
    """The banner of a fault drill: the rules and how often each struck so far."""
    rows = (
        (number, rule.describe(), hits)
        for number, (rule, hits) in enumerate(zip(faults.rules, faults.injected, strict=True), 1)
    )
    banner = (
        '<p class="drill"><strong>FAULT DRILL ACTIVE</strong>: upstream failures are injected '
        f"on purpose (--faults {html.escape(faults.source)}, seed {faults.seed}). "
        "Never in production.</p>\n"
    )
    return banner + _table("Fault drill", ("rule", "fault", "injected"), rows)


def _table(title: str, header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<h2>{html.escape(title)}</h2>\n<table><tr>{head}</tr>{body}</table>\n"


def _sum_by(series: Mapping[tuple[str, ...], float], index: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, value in series.items():
        out[labels[index]] = out.get(labels[index], 0.0) + value
    return out


def _uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400}d {s % 86400 // 3600}h {s % 3600 // 60}m {s % 60}s"


def render_status(metrics: ProxyMetrics, info: StatusInfo, *, now: float | None = None) -> str:
    """The page's HTML."""
    now = time.time() if now is None else now
    requests = metrics.requests.series()
    by_kind = _sum_by(requests, 0)
    cache = metrics.cache.series()
    kinds = sorted({labels[0] for labels in cache})
    cache_rows = []
    for kind in kinds:
        hits = cache.get((kind, "hit"), 0.0)
        misses = cache.get((kind, "miss"), 0.0)
        ratio = f"{hits / (hits + misses):.1%}" if hits + misses else "-"
        cache_rows.append((kind, int(hits), int(misses), ratio))
    upstream = metrics.upstream_fetches.series()
    upstream_rows = sorted(
        (labels[0], labels[1], labels[2], int(v)) for labels, v in upstream.items()
    )
    verifications = sorted(
        (labels[0], labels[1], int(v)) for labels, v in metrics.verifications.series().items()
    )
    served = _sum_by(metrics.bytes_served.series(), 0)
    states = {0: "closed", 1: "half-open", 2: "open"}
    circuits = sorted(
        (
            labels[0],
            states.get(int(value), "?"),
            int(metrics.circuit_openings.value(labels[0])),
            int(metrics.circuit_rejections.value(labels[0])),
        )
        for labels, value in metrics.circuit_states.series().items()
    )
    config = [
        ("version", __version__),
        ("instance", info.instance_id),
        ("uptime", _uptime(now - info.started)),
        ("upstreams", info.upstreams),
        ("checksum database", info.sumdb),
        ("storage", f"{info.storage} ({info.cache_dir})"),
        ("requests in flight", int(metrics.in_flight_requests.value())),
        ("upstream fetches in flight", int(metrics.fetches_in_flight.value())),
    ]
    parts = [
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>gomodproxy status</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
        ".drill{background:#c00;color:#fff;padding:.5em}</style></head><body>",
        "<h1>gomodproxy status</h1>\n",
        _drill(info.faults) if info.faults is not None else "",
        _table("Configuration", ("", ""), config),
        _table(
            "Requests",
            ("kind", "requests", "bytes served"),
            ((k, int(v), int(served.get(k, 0))) for k, v in sorted(by_kind.items())),
        ),
        _table("Cache", ("kind", "hits", "misses", "hit ratio"), cache_rows),
        _table("Upstream fetches", ("upstream", "kind", "outcome", "count"), upstream_rows),
        _table(
            "Upstream circuits", ("upstream", "state", "times opened", "requests refused"), circuits
        )
        if circuits
        else "",
        _table("Checksum verifications", ("kind", "outcome", "count"), verifications),
        "<p>Counters of the whole server (every worker) since it started; Prometheus text at "
        '<a href="metrics">/metrics</a>.</p></body></html>\n',
    ]
    return "".join(parts)

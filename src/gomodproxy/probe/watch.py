"""``--watch``: probe rounds for ever, judged over a rolling window, served as Prometheus metrics.

Each round is one ordinary probe run (its budget and time limit are the round's). The verdict,
availability and error rate of each mirror are those of the last ``window`` rounds taken
together (one report built from their merged observations); the request-time histograms are
cumulative, as Prometheus expects (take ``rate()`` over them). The metrics live in a private
:class:`~prometheus_client.CollectorRegistry` and are served by a small aiohttp app at
``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from gomodproxy.probe.report import build_report
from gomodproxy.probe.run import ProbeResult, ProbeSettings, run_probe
from gomodproxy.probe.samples import Outcome
from gomodproxy.probe.verdict import Verdict

__all__ = ["ProbeMetrics", "WatchSettings", "merge_results", "watch"]

logger = logging.getLogger(__name__)

# Request times from 1 ms to a minute: mirrors answer from a local cache or from far away.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """``--watch INTERVAL``, ``--metrics-listen HOST:PORT`` and ``--window N``."""

    interval: float
    host: str
    port: int
    window: int = 10


def merge_results(results: Iterable[ProbeResult]) -> ProbeResult:
    """Several rounds' observations as one run's (the latest list of each mirror wins)."""
    merged = ProbeResult()
    for r in results:
        merged.samples.extend(r.samples)
        merged.findings.extend(r.findings)
        merged.lists.update(r.lists)
        merged.proven.update(r.proven)
        merged.unproven.update(r.unproven)
        merged.skipped.update(r.skipped)
        merged.backed_off |= r.backed_off
        merged.requests_sent += r.requests_sent
        merged.budget_exhausted |= r.budget_exhausted
        merged.time_limit_reached |= r.time_limit_reached
        merged.seconds += r.seconds
        merged.sumdb_errors.extend(r.sumdb_errors)
    return merged


def _gauge_value(value: float | None) -> float:
    return math.nan if value is None else value


class ProbeMetrics:
    """The watch mode's metric families, in a registry of their own."""

    def __init__(self, settings: ProbeSettings) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._mirrors = [m.name for m in settings.mirrors]
        r = self.registry
        self.rounds = Counter("gomodproxy_probe_rounds", "Probe rounds completed.", registry=r)
        self.window = Gauge(
            "gomodproxy_probe_window_rounds", "Rounds in the rolling window.", registry=r
        )
        self.verdict = Gauge(
            "gomodproxy_probe_verdict",
            "1 for the mirror's verdict over the window, 0 for the other verdicts.",
            ["mirror", "verdict"],
            registry=r,
        )
        self.availability = Gauge(
            "gomodproxy_probe_availability",
            "Share of requests answered without error over the window (NaN: none sent).",
            ["mirror"],
            registry=r,
        )
        self.error_rate = Gauge(
            "gomodproxy_probe_error_rate",
            "Share of requests ending in an error or timeout over the window (NaN: none sent).",
            ["mirror"],
            registry=r,
        )
        self.tampered = Gauge(
            "gomodproxy_probe_tampered_files",
            "Files the mirror served with a hash that disagrees, over the window.",
            ["mirror"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "gomodproxy_probe_request_seconds",
            "Total time of requests answered ok, by mirror and endpoint kind.",
            ["mirror", "kind"],
            buckets=_BUCKETS,
            registry=r,
        )

    def observe_round(self, result: ProbeResult) -> None:
        """Count a round and add its ``ok`` request times to the histograms."""
        self.rounds.inc()
        for s in result.samples:
            if s.outcome is Outcome.OK:
                self.request_seconds.labels(s.mirror, s.kind.value).observe(s.total)

    def set_window(self, report: dict[str, Any], rounds: int) -> None:
        """Set the gauges from the report of the rolling window."""
        self.window.set(rounds)
        for m in report["mirrors"]:
            for verdict in Verdict:
                self.verdict.labels(m["name"], verdict.value).set(
                    1 if m["verdict"] == verdict.value else 0
                )
            self.availability.labels(m["name"]).set(_gauge_value(m["availability"]))
            self.error_rate.labels(m["name"]).set(_gauge_value(m["error_rate"]))
            self.tampered.labels(m["name"]).set(len(m["tampered"]))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def _metrics_app(metrics: ProbeMetrics) -> web.Application:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    return app


async def _rounds(
    settings: ProbeSettings, watch_settings: WatchSettings, metrics: ProbeMetrics
) -> None:
    window: deque[ProbeResult] = deque(maxlen=watch_settings.window)
    while True:
        result = await run_probe(settings)
        window.append(result)
        metrics.observe_round(result)
        report = build_report(settings, merge_results(window))
        metrics.set_window(report, len(window))
        logger.info(
            "probe.round sent=%d seconds=%.3f verdicts=%s",
            result.requests_sent,
            result.seconds,
            ",".join(f"{m['name']}={m['verdict']}" for m in report["mirrors"]),
        )
        await asyncio.sleep(watch_settings.interval)


async def watch(
    settings: ProbeSettings,
    watch_settings: WatchSettings,
    stop: asyncio.Event,
    on_listening: Callable[[str], None],
) -> None:
    """Serve the metrics and probe in rounds until ``stop`` is set."""
    metrics = ProbeMetrics(settings)
    runner = web.AppRunner(_metrics_app(metrics), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, watch_settings.host, watch_settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        on_listening(f"http://{shown}:{port}/metrics")
        rounds = asyncio.create_task(_rounds(settings, watch_settings, metrics))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({rounds, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (rounds, stopping):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rounds  # a round that failed raises here
    finally:
        await runner.cleanup()

"""The probe run: every mirror asked the same requests, within a budget and a time limit.

Requests are planned per mirror (for each module: ``list`` and ``@latest``; for each version:
``.info``, ``.mod`` and ``.zip``, then the same three again for the warm fetch) and interleaved
across mirrors, so a small budget still reaches every mirror. A mirror failing
``backoff_after`` requests in a row (errors or timeouts) is asked nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from gomodproxy.errors import ProxyError
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.probe.audit import Auditor, Finding
from gomodproxy.probe.fetch import fetch_timed
from gomodproxy.probe.inputs import Mirror, Targets
from gomodproxy.probe.samples import Kind, Outcome, Sample
from gomodproxy.probe.verdict import Thresholds
from gomodproxy.protocol.answers import clean_version_list
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.fetch import SumDBEndpoint, SumDBHTTPFetcher
from gomodproxy.sumdb.gosumdb import SumDBConfig
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.upstream.base import Fetcher
from gomodproxy.upstream.chain import transport_for
from gomodproxy.upstream.proxyclient import FetchPolicy

__all__ = ["ProbeResult", "ProbeSettings", "planned_requests", "run_probe"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Everything a run needs; ``sumdb`` None is GOSUMDB=off."""

    mirrors: tuple[Mirror, ...]
    targets: Targets
    budget: int
    sumdb: SumDBConfig | None
    #: Where a database named without URL is looked for (GOPROXY syntax, as the go command
    #: looks): its answers are signed and proven, so a proxy in between cannot forge them.
    sumdb_via: str = "direct"
    concurrency: int = 4
    time_limit: float | None = None
    request_timeout: float = 30.0
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass
class ProbeResult:
    """What a run observed, before any judgement."""

    samples: list[Sample] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    lists: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    proven: Counter[str] = field(default_factory=Counter)
    unproven: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    backed_off: set[str] = field(default_factory=set)
    requests_sent: int = 0
    budget_exhausted: bool = False
    time_limit_reached: bool = False
    seconds: float = 0.0
    sumdb_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Job:
    mirror: Mirror
    kind: Kind
    path: str
    version: str
    warm: bool


def _plan(settings: ProbeSettings) -> Iterator[_Job]:
    """Cold requests of every mirror round-robin, then the warm repeats."""
    paths = list(dict.fromkeys(m.path for m in settings.targets.modules))
    cold: list[tuple[Kind, str, str]] = [
        (k, p, "") for p in paths for k in (Kind.LIST, Kind.LATEST)
    ]
    files = [
        (k, m.path, m.version)
        for m in settings.targets.modules
        for k in (Kind.INFO, Kind.MOD, Kind.ZIP)
    ]
    for warm, steps in ((False, cold + files), (True, files)):
        for kind, path, version in steps:
            for mirror in settings.mirrors:
                yield _Job(mirror, kind, path, version, warm)


def planned_requests(settings: ProbeSettings) -> tuple[int, dict[str, int]]:
    """How many requests the run plans in all (at most the budget) and for each mirror."""
    per_mirror: Counter[str] = Counter(job.mirror.name for job in _plan(settings))
    return min(settings.budget, per_mirror.total()), {
        m.name: per_mirror[m.name] for m in settings.mirrors
    }


class _Run:
    def __init__(
        self,
        settings: ProbeSettings,
        transports: dict[str, Fetcher],
        auditor: Auditor,
        on_sample: Callable[[Sample], None] | None = None,
    ):
        self.settings = settings
        self.on_sample = on_sample
        self.transports = transports
        self.auditor = auditor
        self.result = ProbeResult()
        self._jobs = _plan(settings)
        self._failures_in_a_row: Counter[str] = Counter()
        self._cold_done: dict[tuple[str, Kind, str, str], asyncio.Event] = {}
        self._started = time.perf_counter()

    def _take(self) -> _Job | None:
        """The next job to send, charging the budget; None when done or out of budget."""
        for job in self._jobs:
            if job.mirror.name in self.result.backed_off:
                self.result.skipped[job.mirror.name] += 1
                continue
            if self.result.requests_sent >= self.settings.budget:
                self.result.budget_exhausted = True
                return None
            self.result.requests_sent += 1
            return job
        return None

    async def worker(self) -> None:
        while (job := self._take()) is not None:
            key = (job.mirror.name, job.kind, job.path, job.version)
            if job.warm:
                cold = self._cold_done.get(key)
                if cold is not None:
                    await cold.wait()
            else:
                self._cold_done[key] = asyncio.Event()
            try:
                await self._send(job)
            finally:
                if not job.warm:
                    self._cold_done[key].set()

    async def _send(self, job: _Job) -> None:
        name = job.mirror.name
        sent_at = time.perf_counter() - self._started
        answer = await fetch_timed(self.transports[name], job.kind, job.path, job.version)
        outcome, detail = answer.outcome, answer.detail
        if outcome is Outcome.OK and job.kind in (Kind.MOD, Kind.ZIP):
            kind_name: Literal["mod", "zip"] = "zip" if job.kind is Kind.ZIP else "mod"
            try:
                check = await self.auditor.check(
                    name, job.path, job.version, kind_name, answer.data
                )
            except ProxyError as exc:  # a zip that cannot be read: an error, not tampering
                outcome, detail = Outcome.INVALID, str(exc)
            else:
                if check.finding is not None:
                    self.result.findings.append(check.finding)
                elif check.proven_by:
                    self.result.proven[name] += 1
                else:
                    self.result.unproven[name] += 1
        if outcome is Outcome.OK and job.kind is Kind.LIST:
            listed = frozenset(v.version for v in clean_version_list(answer.data, job.path))
            self.result.lists[(name, job.path)] = listed
        target = f"{job.path}@{job.version}" if job.version else job.path
        sample = Sample(
            name,
            job.kind,
            target,
            job.warm,
            outcome,
            answer.ttfb,
            answer.total,
            len(answer.data) if outcome is Outcome.OK else 0,
            detail,
            sent_at,
        )
        self.result.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)
        if outcome.answered:
            self._failures_in_a_row[name] = 0
            return
        logger.warning(
            "probe.failed mirror=%s kind=%s target=%s outcome=%s detail=%s",
            name,
            job.kind.value,
            target,
            outcome.value,
            detail,
        )
        self._failures_in_a_row[name] += 1
        if self._failures_in_a_row[name] >= self.settings.thresholds.backoff_after:
            if name not in self.result.backed_off:
                logger.warning(
                    "probe.backed_off mirror=%s failures_in_a_row=%d",
                    name,
                    self._failures_in_a_row[name],
                )
            self.result.backed_off.add(name)


def _policy(timeout: float) -> FetchPolicy:
    # No retries: every request sent is one the budget counted and one sample measured.
    return FetchPolicy(
        connect_timeout=min(10.0, timeout),
        read_timeout=timeout,
        deadline=timeout,
        zip_deadline=timeout * 10,
        retries=0,
    )


def _verifier(config: SumDBConfig, via: str, session: aiohttp.ClientSession) -> SumDBClient:
    # The database is read at its URL, or located through ``via`` as the go command locates
    # it (never through the mirrors being judged, unless ``via`` names them).
    policy = FetchPolicy(retries=1, deadline=30.0)
    endpoint = SumDBEndpoint(
        config, parse_goproxy(via), lambda url: transport_for(url, session, policy=policy)
    )
    return SumDBClient(config.verifier_key, SumDBHTTPFetcher(endpoint), MemoryVerifierState())


async def run_probe(
    settings: ProbeSettings, on_sample: Callable[[Sample], None] | None = None
) -> ProbeResult:
    """Probe every mirror; returns what was observed (the budget is never exceeded).

    ``on_sample`` is called on the loop with each request's sample as it ends (the progress
    display); it must not block."""
    started = time.perf_counter()
    async with aiohttp.ClientSession(trust_env=False) as session:
        policy = _policy(settings.request_timeout)
        transports = {
            m.name: transport_for(m.url, session, policy=policy) for m in settings.mirrors
        }
        verifier = (
            _verifier(settings.sumdb, settings.sumdb_via, session)
            if settings.sumdb is not None
            else None
        )
        auditor = Auditor(settings.targets.go_sum, verifier)
        run = _Run(settings, transports, auditor, on_sample)
        try:
            async with asyncio.timeout(settings.time_limit), asyncio.TaskGroup() as group:
                for _ in range(max(1, settings.concurrency)):
                    group.create_task(run.worker())
        except TimeoutError:
            run.result.time_limit_reached = True
            logger.warning("probe.time_limit seconds=%s", settings.time_limit)
        finally:
            auditor.close()
    run.result.seconds = time.perf_counter() - started
    run.result.sumdb_errors = list(auditor.sumdb_errors)
    return run.result

"""The proxy's aiohttp application: routes, middlewares, and the parts from the assembly.

:func:`make_app` builds the application; the parts (:mod:`gomodproxy.assembly`: storage and
locks, the upstream chain, the checksum-database verifier, the cache service) and the relay live
in its cleanup context (opened at start-up, closed at shutdown). :func:`log_ready` says, once
the socket listens, what the proxy serves and from where.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from gomodproxy.assembly import (
    Plan,
    describe_upstreams,
    eviction_policy,
    module_service,
    open_store,
    open_upstreams,
    prefetch_allowed,
    prefetch_options,
)
from gomodproxy.cache.eviction import evict_forever
from gomodproxy.cache.service import ModuleService
from gomodproxy.server.accesslog import access_log_middleware
from gomodproxy.server.clientauth import client_auth_middleware
from gomodproxy.server.connguard import request_phase_middleware
from gomodproxy.server.errors import error_middleware, not_found_max_age
from gomodproxy.server.hitlane import HitLane
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.server.policy import policy_middleware
from gomodproxy.server.routes import ProxyRoutes
from gomodproxy.server.status import StatusInfo
from gomodproxy.server.sumdbprefetch import SumDBPrefetcher
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.storage import LocalLocks, ObjectStore, OpenedStorage
from gomodproxy.storage.sweeper import sweep_forever
from gomodproxy.sumdb.storestate import PROVEN_PREFIX

__all__ = [
    "HIT_LANE_KEY",
    "METRICS_KEY",
    "SERVICE_KEY",
    "SUMDB_PREFETCH_KEY",
    "log_ready",
    "make_app",
]

logger = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("service", ModuleService)
METRICS_KEY = web.AppKey("metrics", ProxyMetrics)
#: The checksum-database prefetcher, when prefetch is on and a database is relayed.
SUMDB_PREFETCH_KEY = web.AppKey("sumdb_prefetch", SumDBPrefetcher)
#: The hit lane of this app, for the listener (:mod:`gomodproxy.server.hitlane`).
HIT_LANE_KEY = web.AppKey("hit_lane", HitLane)


def log_ready(plan: Plan, url: str) -> None:
    """Log that the proxy serves at ``url`` (call it once listening), in the user's words."""
    logger.info(
        "proxy.ready url=%s upstream=%s sumdb=%s cache=%s",
        url,
        describe_upstreams(plan.proxies),
        plan.sumdb.name if plan.sumdb else "off",
        plan.settings.cache_dir,
    )
    if plan.faults is not None:
        for number, rule in enumerate(plan.faults.rules, 1):
            logger.warning(
                "faults.enabled drill=%s seed=%d rule=%d %s: FAULT DRILL ACTIVE, upstream "
                "failures are injected on purpose; never run this in production",
                plan.faults.source,
                plan.faults.seed,
                number,
                rule.describe(),
            )
    if plan.private.gonoproxy:
        logger.info(
            "proxy.private patterns=%s: matching modules are never requested from an upstream "
            "proxy (GOPRIVATE/GONOPROXY): they come from their git repositories (--vcs-rewrite)",
            plan.private.gonoproxy,
        )
    if plan.private.gonosumdb:
        logger.info(
            "proxy.private_sums patterns=%s: matching modules are never looked up in the "
            "checksum database (GOPRIVATE/GONOSUMDB)",
            plan.private.gonosumdb,
        )


def make_app(
    plan: Plan,
    *,
    instance_id: str,
    storage: ObjectStore | OpenedStorage | None = None,
    metrics: ProxyMetrics | None = None,
) -> web.Application:
    """The application for ``plan``; ``storage`` overrides the configured backend (tests; a
    bare object store gets in-process locks)."""
    settings = plan.settings
    metrics = metrics or ProxyMetrics()
    state = _Lifecycle()
    routes = ProxyRoutes(
        metrics,
        prefix=settings.path_prefix,
        instance_id=instance_id,
        list_max_age=int(settings.list_ttl),
        zip_verify_first=settings.zip_verify_first,
        zip_redirect=settings.zip_redirect,
        may_redirect=lambda path: (
            not (plan.private.is_noproxy(path) or plan.private.is_nosumdb(path))
        ),
        ready=lambda: state.ready,
        status=StatusInfo(
            instance_id=instance_id,
            upstreams=describe_upstreams(plan.proxies),
            sumdb=plan.sumdb.name if plan.sumdb else "off",
            cache_dir=str(settings.cache_dir),
            storage=settings.storage,
            started=time.time(),
            faults=plan.faults,
        ),
    )
    middlewares = [request_phase_middleware, access_log_middleware(metrics)]
    # Always in place: a reload of the settings may add rules (none: a request passes at once).
    middlewares.append(
        client_auth_middleware(lambda: plan.live.current.access, prefix=settings.path_prefix)
    )
    if settings.rules is not None:
        middlewares.append(policy_middleware(plan.policy, prefix=settings.path_prefix))
    app = web.Application(
        middlewares=[*middlewares, error_middleware],
        client_max_size=1024,
    )
    app[METRICS_KEY] = metrics
    lane = app[HIT_LANE_KEY] = HitLane(
        metrics=metrics,
        prefix=settings.path_prefix,
        forward=routes.forward_headers,
        access_rules=lambda: plan.live.current.access,
        policy=plan.policy if settings.rules is not None else None,
    )
    not_found_max_age(app, settings.negative_ttl)
    routes.register(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            service, relay = await _open_parts(plan, storage, metrics, stack)
            app[SERVICE_KEY] = service
            if relay is not None and isinstance(relay.listener, SumDBPrefetcher):
                app[SUMDB_PREFETCH_KEY] = relay.listener
            routes.bind(service, relay)
            lane.bind(service)
            state.ready = True
            try:
                yield
            finally:
                state.ready = False
                lane.bind(None)

    async def on_shutdown(app: web.Application) -> None:
        state.ready = False

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(on_shutdown)
    return app


class _Lifecycle:
    ready = False


async def _open_parts(
    plan: Plan,
    storage: ObjectStore | OpenedStorage | None,
    metrics: ProxyMetrics,
    stack: contextlib.AsyncExitStack,
) -> tuple[ModuleService, SumDBRelay | None]:
    if storage is None:
        opened = await open_store(plan)
        stack.push_async_callback(opened.aclose)
    elif isinstance(storage, OpenedStorage):
        opened = storage
    else:
        opened = OpenedStorage(storage, LocalLocks())
    upstreams = await stack.enter_async_context(
        open_upstreams(
            plan, opened, observer=metrics, breaker_observer=metrics, hedge_observer=metrics
        )
    )
    relay: SumDBRelay | None = None
    if plan.sumdb is not None and upstreams.sumdb_fetcher is not None:
        relay = SumDBRelay(
            {plan.sumdb.name: upstreams.sumdb_fetcher},
            opened.store,
            nosumdb_patterns=plan.private.gonosumdb,
            proven_prefix=PROVEN_PREFIX,
        )
        stack.push_async_callback(relay.close)
        if upstreams.verifier_fetcher is not None:
            # The verifier reads lookups and tiles through the relay: one fetch each.
            relay_name = plan.sumdb.name
            upstreams.verifier_fetcher.route = lambda sub: relay.read(relay_name, sub)
    sweeper = asyncio.create_task(sweep_forever(opened.store))
    stack.push_async_callback(_cancel, sweeper)
    service = module_service(plan, opened, upstreams, observer=metrics, prefetch_observer=metrics)
    stack.push_async_callback(service.close)
    if relay is not None and service.prefetcher is not None:
        # Lookups and tiles run ahead too, with the module prefetcher's bounds.
        sumdb_prefetch = SumDBPrefetcher(
            relay, prefetch_options(plan.settings), allowed=prefetch_allowed(plan), observer=metrics
        )
        relay.listener = sumdb_prefetch
        service.prefetcher.mod_listener = sumdb_prefetch
        stack.push_async_callback(sumdb_prefetch.close)
    # Deny entries written by `cache rm` (any process): loaded before serving, then followed.
    await service.deny.refresh()
    watcher = asyncio.create_task(service.deny.watch_forever())
    stack.push_async_callback(_cancel, watcher)
    policy = await eviction_policy(plan.settings)
    if policy.active:
        logger.info(
            "cache.limits max_size=%s max_age=%s pinned=%d",
            plan.settings.cache_max_size or "none",
            plan.settings.cache_max_age or "none",
            len(policy.pins),
        )
        evictor = asyncio.create_task(evict_forever(opened, policy))
        stack.push_async_callback(_cancel, evictor)
    return service, relay


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""The proxy's aiohttp application, assembled from :class:`~gomodproxy.config.Settings`.

:func:`check_settings` parses what ``config.py`` keeps as text (the GOPROXY list, GOSUMDB) and
refuses an upstream that is this proxy itself, so a bad configuration fails at start-up.
:func:`make_app` builds the application; the upstream HTTP client, the cache service and the
checksum-database verifier live in its cleanup context (opened at start-up, closed at
shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from yarl import URL

from gomodproxy.cache.service import ChecksumPolicy, ModuleService, ServiceOptions
from gomodproxy.config import Settings, parse_listen
from gomodproxy.errors import ConfigError
from gomodproxy.module.goproxy import (
    NOPROXY,
    PrivateSettings,
    ProxyList,
    parse_goproxy,
    private_settings,
)
from gomodproxy.server.accesslog import access_log_middleware
from gomodproxy.server.connguard import request_phase_middleware
from gomodproxy.server.errors import error_middleware, not_found_max_age
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.server.routes import ProxyRoutes
from gomodproxy.server.status import StatusInfo
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.storage import FilesystemStorage, Storage, open_storage
from gomodproxy.storage.fswrite import sweep_orphans
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.fetch import SumDBEndpoint, SumDBHTTPFetcher
from gomodproxy.sumdb.filestate import FileVerifierState
from gomodproxy.sumdb.gosumdb import SumDBConfig, goproxy_is_single_file, parse_gosumdb
from gomodproxy.sumdb.seams import VerifierState
from gomodproxy.sumdb.storestate import StorageVerifierState
from gomodproxy.upstream.chain import build_chain
from gomodproxy.upstream.netrc import load_netrc
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher

__all__ = ["METRICS_KEY", "SERVICE_KEY", "Plan", "check_settings", "log_ready", "make_app"]

logger = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("service", ModuleService)
METRICS_KEY = web.AppKey("metrics", ProxyMetrics)

# How often leftovers of dead writers are looked for (a directory scan or two).
_ORPHAN_SWEEP_SECONDS = 300.0
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class Plan:
    """The parsed parts of the settings the application is built from."""

    settings: Settings
    proxies: ProxyList
    private: PrivateSettings
    sumdb: SumDBConfig | None


def check_settings(settings: Settings) -> Plan:
    """Parse and cross-check the settings; raise ConfigError naming the problem."""
    private = private_settings(settings.goprivate, settings.gonoproxy, settings.gonosumdb)
    try:
        proxies = parse_goproxy(settings.upstream, gonoproxy=private.gonoproxy)
    except ConfigError as exc:
        raise ConfigError(f"invalid --upstream {settings.upstream!r}: {exc}") from exc
    try:
        sumdb = parse_gosumdb(settings.sumdb)
    except ConfigError as exc:
        raise ConfigError(f"invalid --sumdb {settings.sumdb!r}: {exc}") from exc
    host, port = parse_listen(settings.listen)
    for url in proxies.proxy_urls:
        u = URL(url)
        if u.scheme in ("http", "https") and u.port == port and port != 0:
            same_host = u.host == host or (u.host in _LOOPBACK and host in _LOOPBACK)
            if same_host:
                raise ConfigError(
                    f"upstream {url} is this proxy itself ({settings.listen}): requests would "
                    "loop; point --upstream at another proxy (GOPROXY in the environment may "
                    "name this one)"
                )
    if not proxies.proxy_urls:
        logger.warning(
            "proxy.no_upstream upstream=%s: only cached files can be served (direct fetching "
            "is not supported yet); give a proxy URL in --upstream to fetch new ones",
            _upstreams(proxies),
        )
    return Plan(settings, proxies, private, sumdb)


def log_ready(plan: Plan, url: str) -> None:
    """Log that the proxy serves at ``url`` (call it once listening), in the user's words."""
    logger.info(
        "proxy.ready url=%s upstream=%s sumdb=%s cache=%s",
        url,
        _upstreams(plan.proxies),
        plan.sumdb.name if plan.sumdb else "off",
        plan.settings.cache_dir,
    )
    if plan.private.gonoproxy:
        logger.info(
            "proxy.private patterns=%s: matching modules are never requested from an upstream "
            "proxy (GOPRIVATE/GONOPROXY); only copies already in the cache are served",
            plan.private.gonoproxy,
        )
    if plan.private.gonosumdb:
        logger.info(
            "proxy.private_sums patterns=%s: matching modules are never looked up in the "
            "checksum database (GOPRIVATE/GONOSUMDB)",
            plan.private.gonosumdb,
        )


def _upstreams(proxies: ProxyList) -> str:
    """The upstream list as the user wrote it: without the implicit ``noproxy`` entry that
    stands for the private patterns (those are logged in words of their own)."""
    shown = [e.describe() for e in proxies.entries if e.url != NOPROXY]
    return ",".join(shown) or "none"


def make_app(
    plan: Plan,
    *,
    instance_id: str,
    storage: Storage | None = None,
    metrics: ProxyMetrics | None = None,
) -> web.Application:
    """The application for ``plan``; ``storage`` overrides the configured backend (tests)."""
    settings = plan.settings
    metrics = metrics or ProxyMetrics()
    store = storage or open_storage(settings.storage, settings.cache_dir)
    state = _Lifecycle()
    routes = ProxyRoutes(
        metrics,
        prefix=settings.path_prefix,
        instance_id=instance_id,
        list_max_age=int(settings.list_ttl),
        zip_verify_first=settings.zip_verify_first,
        ready=lambda: state.ready,
        status=StatusInfo(
            instance_id=instance_id,
            upstreams=_upstreams(plan.proxies),
            sumdb=plan.sumdb.name if plan.sumdb else "off",
            cache_dir=str(settings.cache_dir),
            storage=settings.storage,
            started=time.time(),
        ),
    )
    app = web.Application(
        middlewares=[request_phase_middleware, access_log_middleware(metrics), error_middleware],
        client_max_size=1024,
    )
    app[METRICS_KEY] = metrics
    not_found_max_age(app, settings.negative_ttl)
    routes.register(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            service, relay = await _open_parts(plan, store, metrics, stack)
            app[SERVICE_KEY] = service
            routes.bind(service, relay)
            state.ready = True
            try:
                yield
            finally:
                state.ready = False

    async def on_shutdown(app: web.Application) -> None:
        state.ready = False

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(on_shutdown)
    return app


class _Lifecycle:
    ready = False


async def _open_parts(
    plan: Plan, store: Storage, metrics: ProxyMetrics, stack: contextlib.AsyncExitStack
) -> tuple[ModuleService, SumDBRelay | None]:
    settings = plan.settings
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=32)
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=connector, trust_env=False)
    )
    policy = FetchPolicy(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.fetch_timeout,
        zip_deadline=settings.zip_timeout,
        retries=settings.retries,
    )
    netrc = await asyncio.to_thread(load_netrc, settings.netrc)
    chain = build_chain(
        plan.proxies,
        session=session,
        private=plan.private,
        policy=policy,
        netrc=netrc,
        observer=metrics,
    )
    verifier: SumDBClient | None = None
    relay: SumDBRelay | None = None
    if plan.sumdb is not None:
        endpoint = SumDBEndpoint(
            plan.sumdb,
            plan.proxies,
            lambda url: HTTPFetcher(url, session, policy=policy, netrc=netrc),
        )
        db_fetcher = SumDBHTTPFetcher(endpoint)
        verifier = SumDBClient(plan.sumdb.verifier_key, db_fetcher, _verifier_state(store))
        relay = SumDBRelay(
            {plan.sumdb.name: db_fetcher}, store, nosumdb_patterns=plan.private.gonosumdb
        )
    spool = await _spool_dir(store, stack)
    sweeper = asyncio.create_task(_sweep_orphans_forever(store, spool, _ORPHAN_SWEEP_SECONDS))
    stack.push_async_callback(_cancel, sweeper)
    service = ModuleService(
        store,
        chain,
        checksums=ChecksumPolicy(
            verifier,
            gonosumdb=plan.private.gonosumdb,
            goproxy_is_single_file=goproxy_is_single_file(settings.upstream),
        ),
        spool_dir=spool,
        options=ServiceOptions(
            list_ttl=settings.list_ttl,
            negative_ttl=settings.negative_ttl,
            hot_bytes=settings.hot_cache_mb << 20,
            max_fetches=settings.max_fetches,
            queue_timeout=settings.queue_timeout,
            # Another worker's fetch of the same file ends within its own deadlines.
            lock_wait=settings.zip_timeout + settings.fetch_timeout,
        ),
        observer=metrics,
    )
    stack.push_async_callback(service.close)
    return service, relay


def _verifier_state(store: Storage) -> VerifierState:
    """Where the proxy's verifier remembers the signed tree head and proven tiles: files on
    the filesystem backend, internal keys of the storage on any other (shared by every proxy
    using that storage)."""
    if isinstance(store, FilesystemStorage):
        base = store.root / ".gomodproxy" / ".sumdb"
        return FileVerifierState(base / "config", base / "cache")
    return StorageVerifierState(store)


async def _sweep_orphans_forever(store: Storage, spool: Path, interval: float) -> None:
    """Remove what dead writers left (unheld temporary and spool files), at start (the whole
    cache folder once) and then every ``interval`` seconds, so a crashed worker or another
    process sharing the folder never leaks disk for good."""
    everywhere = True
    while True:
        try:
            if isinstance(store, FilesystemStorage):
                await asyncio.to_thread(store.sweep_orphans, everywhere=everywhere)
            else:
                await asyncio.to_thread(sweep_orphans, spool)
        except Exception:
            logger.exception("storage.sweep_failed")
        everywhere = False
        await asyncio.sleep(interval)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _spool_dir(store: Storage, stack: contextlib.AsyncExitStack) -> Path:
    if isinstance(store, FilesystemStorage):
        return store.spool_dir
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="gomodproxy-spool-"))
    stack.push_async_callback(asyncio.to_thread, shutil.rmtree, folder, True)
    return folder

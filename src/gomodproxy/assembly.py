"""The wiring of the program, not HTTP: from :class:`~gomodproxy.config.Settings` to the parts.

Every front end (the proxy server today; the download client and the mirror prober next) builds
what it needs here, with the same rules:

- :func:`check_settings` parses what ``config.py`` keeps as text (the GOPROXY list, GOSUMDB,
  the private patterns) into a :class:`Plan`, and refuses an upstream that is this proxy itself,
  so a bad configuration fails at start-up;
- :func:`open_store` builds the configured storage backend with its locks (the backend upgrades
  its own format, see ``FORMAT`` in :mod:`gomodproxy.storage.filesystem`);
- :func:`open_upstreams` opens the HTTP client, the upstream chain and the checksum-database
  client with its verifier state (kept in the store, whichever backend it is);
- :func:`module_service` builds the cache service over them.

Nothing here knows which backend it was handed: each backend supplies its own spool folder and
maintenance (:meth:`~gomodproxy.storage.base.ObjectStore.sweep_orphans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace

import aiohttp
from yarl import URL

from gomodproxy.cache.events import CacheObserver
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
from gomodproxy.storage import OpenedStorage, StorageSettings, open_storage
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.fetch import SumDBEndpoint, SumDBHTTPFetcher
from gomodproxy.sumdb.gosumdb import SumDBConfig, goproxy_is_single_file, parse_gosumdb
from gomodproxy.sumdb.storestate import StorageVerifierState
from gomodproxy.upstream.chain import (
    UpstreamChain,
    UpstreamObserver,
    build_chain,
    transport_for,
)
from gomodproxy.upstream.netrc import load_netrc, netrc_path
from gomodproxy.upstream.proxyclient import FetchPolicy

__all__ = [
    "Plan",
    "Upstreams",
    "check_settings",
    "describe_upstreams",
    "module_service",
    "open_store",
    "open_upstreams",
    "storage_settings",
    "with_defaults",
]

logger = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class Plan:
    """The parsed parts of the settings the program is built from."""

    settings: Settings
    proxies: ProxyList
    private: PrivateSettings
    sumdb: SumDBConfig | None


@dataclass(frozen=True, slots=True)
class Upstreams:
    """What reaches the network: the chain of upstreams and the checksum database."""

    session: aiohttp.ClientSession
    chain: UpstreamChain
    checksums: ChecksumPolicy
    #: The database's own fetcher (the proxy relays it), None with GOSUMDB=off.
    sumdb_fetcher: SumDBHTTPFetcher | None


def with_defaults(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """Fill what the environment decides when the settings leave it open: a random instance
    id, and the go command's ``.netrc`` (``$NETRC``, else ``~/.netrc``)."""
    if not settings.instance_id:
        settings = replace(settings, instance_id=secrets.token_hex(6))
    if settings.netrc is None:
        settings = replace(settings, netrc=netrc_path(environ))
    return settings


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
            describe_upstreams(proxies),
        )
    return Plan(settings, proxies, private, sumdb)


def describe_upstreams(proxies: ProxyList) -> str:
    """The upstream list as the user wrote it: without the implicit ``noproxy`` entry that
    stands for the private patterns (those are described in words of their own)."""
    shown = [e.describe() for e in proxies.entries if e.url != NOPROXY]
    return ",".join(shown) or "none"


async def open_store(plan: Plan) -> OpenedStorage:
    """The configured storage backend and its locks (built in a thread: it may look at, and
    upgrade, its folder)."""
    return await asyncio.to_thread(open_storage, storage_settings(plan.settings))


def storage_settings(settings: Settings) -> StorageSettings:
    """The storage part of the settings."""
    return StorageSettings(
        settings.storage,
        settings.cache_dir,
        s3_endpoint=settings.s3_endpoint,
        s3_bucket=settings.s3_bucket,
        s3_prefix=settings.s3_prefix,
        s3_region=settings.s3_region,
        redis_url=settings.redis_url,
        local_cache_mb=settings.local_cache_mb,
    )


def fetch_policy(settings: Settings) -> FetchPolicy:
    """The upstream timeouts and retries of the settings."""
    return FetchPolicy(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.fetch_timeout,
        zip_deadline=settings.zip_timeout,
        retries=settings.retries,
    )


@contextlib.asynccontextmanager
async def open_upstreams(
    plan: Plan, storage: OpenedStorage, *, observer: UpstreamObserver | None = None
) -> AsyncIterator[Upstreams]:
    """Open the upstream side for the block's duration: HTTP client, chain, and the verifier
    (its tree head and proven tiles kept in ``storage``, shared by every process using it)."""
    settings = plan.settings
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=32)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        policy = fetch_policy(settings)
        netrc = await asyncio.to_thread(load_netrc, settings.netrc)
        chain = build_chain(
            plan.proxies,
            session=session,
            private=plan.private,
            policy=policy,
            netrc=netrc,
            observer=observer,
        )
        verifier: SumDBClient | None = None
        db_fetcher: SumDBHTTPFetcher | None = None
        if plan.sumdb is not None:
            endpoint = SumDBEndpoint(
                plan.sumdb,
                plan.proxies,
                lambda url: transport_for(url, session, policy=policy, netrc=netrc),
            )
            db_fetcher = SumDBHTTPFetcher(endpoint)
            state = StorageVerifierState(storage.store, storage.locks, registers=storage.registers)
            verifier = SumDBClient(plan.sumdb.verifier_key, db_fetcher, state)
        checksums = ChecksumPolicy(
            verifier,
            gonosumdb=plan.private.gonosumdb,
            goproxy_is_single_file=goproxy_is_single_file(settings.upstream),
        )
        yield Upstreams(session, chain, checksums, db_fetcher)


def module_service(
    plan: Plan,
    storage: OpenedStorage,
    upstreams: Upstreams,
    *,
    observer: CacheObserver | None = None,
) -> ModuleService:
    """The cache service over ``storage`` and ``upstreams`` (close it when done)."""
    settings = plan.settings
    return ModuleService(
        storage.store,
        upstreams.chain,
        checksums=upstreams.checksums,
        locks=storage.locks,
        shared_values=storage.expiring,
        options=ServiceOptions(
            list_ttl=settings.list_ttl,
            negative_ttl=settings.negative_ttl,
            hot_bytes=settings.hot_cache_mb << 20,
            max_fetches=settings.max_fetches,
            queue_timeout=settings.queue_timeout,
            # Another worker's fetch of the same file ends within its own deadlines.
            lock_wait=settings.zip_timeout + settings.fetch_timeout,
        ),
        observer=observer,
    )

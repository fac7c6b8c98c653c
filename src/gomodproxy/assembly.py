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
- :func:`module_service` builds the cache service over them;
- :func:`eviction_policy` reads the cache limits and the pinned modules' files.

Nothing here knows which backend it was handed: each backend supplies its own spool folder and
maintenance (:meth:`~gomodproxy.storage.base.ObjectStore.sweep_orphans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import ssl
import tomllib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
from yarl import URL

from gomodproxy.cache.events import CacheObserver
from gomodproxy.cache.eviction import EvictionPolicy, load_pins
from gomodproxy.cache.prefetch import Prefetcher, PrefetchObserver, PrefetchOptions
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
from gomodproxy.module.policy import Policy, PolicyHolder, RulesError, parse_policy
from gomodproxy.protocol.access import AccessRule, parse_access_rules
from gomodproxy.storage import OpenedStorage, StorageSettings, open_storage
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.fetch import RoutedFetcher, SumDBEndpoint, SumDBHTTPFetcher
from gomodproxy.sumdb.gosumdb import SumDBConfig, goproxy_is_single_file, parse_gosumdb
from gomodproxy.sumdb.seams import VerifierState
from gomodproxy.sumdb.storestate import StorageVerifierState
from gomodproxy.upstream.base import Fetcher
from gomodproxy.upstream.breaker import BreakerFetcher, BreakerObserver, CircuitBreaker
from gomodproxy.upstream.chain import (
    HedgeObserver,
    UpstreamChain,
    UpstreamObserver,
    build_chain,
    transport_for,
)
from gomodproxy.upstream.faults import FaultPlan, parse_faults
from gomodproxy.upstream.modulefetch import ModuleFetcher
from gomodproxy.upstream.netrc import NetrcCredentials, load_netrc, netrc_path
from gomodproxy.upstream.proxyclient import FetchPolicy, RequestAuth
from gomodproxy.vcs.credentials import GitAuth, HostCredential, load_token_files
from gomodproxy.vcs.fetcher import GitFetcher
from gomodproxy.vcs.resolve import RewriteRule, parse_rewrites

__all__ = [
    "LIVE_SETTINGS",
    "LiveHolder",
    "LiveSettings",
    "Plan",
    "Upstreams",
    "check_settings",
    "client_tls",
    "describe_upstreams",
    "eviction_policy",
    "load_faults",
    "load_policy",
    "module_service",
    "open_store",
    "open_upstreams",
    "prefetch_allowed",
    "prefetch_options",
    "reload_policy",
    "restart_only_changes",
    "storage_settings",
    "upstream_layers",
    "vcs_fetcher",
    "with_defaults",
]

logger = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})


#: The settings a reload of the ``--config`` file (SIGHUP) puts in force in a running server;
#: every other setting takes effect at the next start.
LIVE_SETTINGS = (
    "client-auth",
    "vcs-rewrite",
    "vcs-credentials",
    "vcs-ssh-key",
    "vcs-known-hosts",
    "vcs-internal-hosts",
)


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """The parsed settings of :data:`LIVE_SETTINGS`, replaced whole on reload."""

    access: tuple[AccessRule, ...] = ()
    vcs_rules: tuple[RewriteRule, ...] = ()
    vcs_credentials: tuple[HostCredential, ...] = ()
    vcs_ssh_key: Path | None = None
    vcs_known_hosts: Path | None = None
    vcs_internal_hosts: tuple[str, ...] = ()


class LiveHolder:
    """The live settings in force: a reader sees the old or the new object, never a mix; the
    parts built from them (the git fetcher) are told on each swap."""

    def __init__(self, live: LiveSettings | None = None) -> None:
        self.current = live or LiveSettings()
        self._listeners: list[Callable[[LiveSettings], None]] = []

    def subscribe(self, listener: Callable[[LiveSettings], None]) -> None:
        """Call ``listener`` with each new object put in force."""
        self._listeners.append(listener)

    def swap(self, live: LiveSettings) -> None:
        """Put ``live`` in force."""
        self.current = live
        for listener in self._listeners:
            listener(live)


def restart_only_changes(old: Settings, new: Settings) -> list[str]:
    """The names of the settings outside :data:`LIVE_SETTINGS` whose values differ."""
    return [
        name
        for name in (f for f in Settings.__dataclass_fields__)
        if name.replace("_", "-") not in LIVE_SETTINGS
        and name not in ("instance_id", "netrc")
        and getattr(old, name) != getattr(new, name)
    ]


@dataclass(frozen=True, slots=True)
class Plan:
    """The parsed parts of the settings the program is built from."""

    settings: Settings
    proxies: ProxyList
    private: PrivateSettings
    sumdb: SumDBConfig | None
    #: The fault drill of ``--faults`` (None: no drill, the normal case).
    faults: FaultPlan | None = None
    #: ``--vcs-rewrite`` rules, longest prefix first.
    vcs_rules: tuple[RewriteRule, ...] = ()
    #: The ``--rules`` in force (replaced whole by :func:`reload_policy`).
    policy: PolicyHolder = field(default_factory=PolicyHolder)
    #: The live settings in force (replaced whole when the ``--config`` file is reloaded).
    live: LiveHolder = field(default_factory=LiveHolder)


@dataclass(frozen=True, slots=True)
class Upstreams:
    """What reaches the network: the chain of upstreams and the checksum database."""

    session: aiohttp.ClientSession
    chain: UpstreamChain
    checksums: ChecksumPolicy
    #: The database's own fetcher (the proxy relays it), None with GOSUMDB=off.
    sumdb_fetcher: SumDBHTTPFetcher | None
    #: The checksum-database client itself, None with GOSUMDB=off.
    verifier: SumDBClient | None = None
    #: The verifier's fetcher: the server routes its lookups and tiles through its relay.
    verifier_fetcher: RoutedFetcher | None = None


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
    vcs_rules = parse_rewrites(settings.vcs_rewrite)
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
    if not proxies.proxy_urls and not vcs_rules:
        logger.warning(
            "proxy.no_upstream upstream=%s: no proxy URL and no --vcs-rewrite: only cached "
            "files and repositories named by a .git qualifier can be served; give a proxy URL "
            "in --upstream or a --vcs-rewrite rule to fetch new ones",
            describe_upstreams(proxies),
        )
    faults = load_faults(settings.faults) if settings.faults is not None else None
    policy = load_policy(settings.rules) if settings.rules is not None else Policy()
    credentials = load_token_files(settings.vcs_credentials)
    live = LiveSettings(
        parse_access_rules(settings.client_auth),
        vcs_rules,
        credentials,
        settings.vcs_ssh_key,
        settings.vcs_known_hosts,
        settings.vcs_internal_hosts,
    )
    return Plan(
        settings,
        proxies,
        private,
        sumdb,
        faults=faults,
        vcs_rules=vcs_rules,
        policy=PolicyHolder(policy),
        live=LiveHolder(live),
    )


def load_faults(path: Path) -> FaultPlan:
    """The fault drill in ``path`` (TOML, see :mod:`gomodproxy.upstream.faults`)."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read --faults {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--faults {path} is not valid TOML: {exc}") from None
    return parse_faults(doc, str(path))


def load_policy(path: Path) -> Policy:
    """Read and parse a ``--rules`` file; RulesError names the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(path), 0, f"cannot read the rules file: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(str(path), 0, f"not valid TOML: {exc}") from None
    return parse_policy(doc, text, str(path))


async def reload_policy(plan: Plan, *, trigger: str = "sighup") -> bool:
    """Load the ``--rules`` file again and put it in force; a bad file is logged and the
    rules in force stay. True when the new rules are in force."""
    path = plan.settings.rules
    if path is None:
        return False
    try:
        policy = await asyncio.to_thread(load_policy, path)
    except ConfigError as exc:
        logger.error("rules.reload_refused trigger=%s %s; the rules in force stay", trigger, exc)
        return False
    plan.policy.swap(policy)
    logger.info(
        "rules.reloaded trigger=%s path=%s rules=%d pid=%d",
        trigger,
        path,
        len(policy.rules),
        os.getpid(),
    )
    return True


def client_tls(ca_file: Path | None) -> ssl.SSLContext | None:
    """The TLS context of outgoing connections: the system's CAs plus ``--ca-file``."""
    if ca_file is None:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load --ca-file {ca_file}: {exc}") from exc
    return context


def vcs_fetcher(
    plan: Plan,
    session: aiohttp.ClientSession | None = None,
    netrc: NetrcCredentials | None = None,
    *,
    for_user: Mapping[str, str] | None = None,
) -> GitFetcher:
    """The git fetcher used for ``direct`` (and for private paths): its clones under
    ``--vcs-cache-dir``, by default ``<cache-dir>/.gomodproxy/vcs``; with a ``session`` it
    also finds repositories through go-import meta tags. ``for_user`` (the user's environment)
    makes it act for that user as the go command does: the go command's known hosts, the
    user's git ``url.<base>.insteadOf`` settings, no guard against internal addresses."""
    settings = plan.settings
    folder = settings.vcs_cache_dir or settings.cache_dir / ".gomodproxy" / "vcs"
    logins = netrc or NetrcCredentials()

    def auth(live: LiveSettings) -> GitAuth:
        return GitAuth(
            live.vcs_credentials,
            logins,
            ssh_key=live.vcs_ssh_key,
            known_hosts=live.vcs_known_hosts,
        )

    live = plan.live.current
    fetcher = GitFetcher(
        folder,
        live.vcs_rules,
        timeout=settings.vcs_timeout,
        max_zip=settings.vcs_max_zip_mb << 20,
        refs_ttl=max(settings.list_ttl, 5.0),
        session=session if settings.vcs_meta_tags else None,
        ca_file=settings.ca_file,
        exempt=live.vcs_internal_hosts,
        auth=auth(live),
        for_user=for_user,
    )
    plan.live.subscribe(
        lambda new: fetcher.reconfigure(
            new.vcs_rules, auth=auth(new), exempt=new.vcs_internal_hosts
        )
    )
    return fetcher


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


def upstream_layers(
    plan: Plan, observer: BreakerObserver | None = None
) -> Callable[[ModuleFetcher], ModuleFetcher] | None:
    """What goes in front of each upstream proxy: the fault drill (innermost, so the breaker
    sees its failures as the upstream's), then the circuit breaker; None when neither is on."""
    settings = plan.settings
    faults = plan.faults
    if faults is None and settings.breaker_failures == 0:
        return None

    def wrap(fetcher: ModuleFetcher) -> ModuleFetcher:
        if faults is not None:
            fetcher = faults.wrap(fetcher)
        if settings.breaker_failures:
            breaker = CircuitBreaker(
                fetcher.name,
                failures=settings.breaker_failures,
                cooldown=settings.breaker_cooldown,
                observer=observer,
            )
            fetcher = BreakerFetcher(fetcher, breaker)
        return fetcher

    return wrap


@contextlib.asynccontextmanager
async def open_upstreams(
    plan: Plan,
    storage: OpenedStorage | None,
    *,
    observer: UpstreamObserver | None = None,
    breaker_observer: BreakerObserver | None = None,
    verifier_state: VerifierState | None = None,
    connections_per_host: int = 32,
    trace: Callable[[Fetcher], Fetcher] | None = None,
    hedge_observer: HedgeObserver | None = None,
    for_user: Mapping[str, str] | None = None,
    request_auth: RequestAuth | None = None,
) -> AsyncIterator[Upstreams]:
    """Open the upstream side for the block's duration: HTTP client, chain, and the verifier
    (its tree head and proven tiles kept in ``verifier_state`` when given, else in ``storage``,
    shared by every process using it). ``for_user``: see :func:`vcs_fetcher`;
    ``request_auth`` (the download client's GOAUTH) replaces ``.netrc`` for proxies and the
    checksum database."""
    settings = plan.settings
    tls = await asyncio.to_thread(client_tls, settings.ca_file)
    connector = aiohttp.TCPConnector(
        limit=100, limit_per_host=connections_per_host, ssl=tls or True
    )
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
            direct=vcs_fetcher(plan, session, netrc, for_user=for_user),
            router=lambda path: plan.policy.current.route(path),
            wrap=upstream_layers(plan, breaker_observer),
            wrap_transport=trace,
            hedge_after=settings.hedge_after / 1000 if settings.hedge_after else None,
            hedge_observer=hedge_observer,
            request_auth=request_auth,
        )
        wrapper = trace or (lambda f: f)
        verifier: SumDBClient | None = None
        db_fetcher: SumDBHTTPFetcher | None = None
        verifier_fetcher: RoutedFetcher | None = None
        if plan.sumdb is not None:
            endpoint = SumDBEndpoint(
                plan.sumdb,
                plan.proxies,
                lambda url: wrapper(
                    transport_for(
                        url, session, policy=policy, netrc=netrc, request_auth=request_auth
                    )
                ),
            )
            db_fetcher = SumDBHTTPFetcher(endpoint)
            state = verifier_state
            if state is None:
                if storage is None:
                    raise ValueError("open_upstreams needs a storage or a verifier_state")
                state = StorageVerifierState(
                    storage.store, storage.locks, registers=storage.registers
                )
            verifier_fetcher = RoutedFetcher(db_fetcher)
            verifier = SumDBClient(plan.sumdb.verifier_key, verifier_fetcher, state)
        checksums = ChecksumPolicy(
            verifier,
            gonosumdb=plan.private.gonosumdb,
            goproxy_is_single_file=goproxy_is_single_file(settings.upstream),
        )
        yield Upstreams(session, chain, checksums, db_fetcher, verifier, verifier_fetcher)


def module_service(
    plan: Plan,
    storage: OpenedStorage,
    upstreams: Upstreams,
    *,
    observer: CacheObserver | None = None,
    prefetch_observer: PrefetchObserver | None = None,
) -> ModuleService:
    """The cache service over ``storage`` and ``upstreams`` (close it when done), with its
    prefetcher when ``--prefetch`` is on."""
    settings = plan.settings
    service = ModuleService(
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
    # New rewrite rules or credentials may find what was not found.
    plan.live.subscribe(lambda _live: service.forget_not_found())
    options = prefetch_options(settings)
    if options.enabled:
        service.prefetcher = Prefetcher(
            service, options, allowed=prefetch_allowed(plan), observer=prefetch_observer
        )
    return service


def prefetch_options(settings: Settings) -> PrefetchOptions:
    """The prefetch part of the settings."""
    return PrefetchOptions(
        enabled=settings.prefetch,
        fanout=settings.prefetch_fanout,
        depth=settings.prefetch_depth,
        concurrency=settings.prefetch_concurrency,
        budget=settings.prefetch_budget_bytes,
        zips=settings.prefetch_zips,
    )


def prefetch_allowed(plan: Plan) -> Callable[[str, str], bool]:
    """Whether the proxy may fetch ``path@version`` on its own initiative: never a private
    module (GOPRIVATE/GONOPROXY/GONOSUMDB), one a rule denies or sends to git (``direct``),
    a refused version, or a module behind ``--client-auth`` credentials. The rules and the
    live settings are read at each call, so a reload takes effect at once."""

    def allowed(path: str, version: str) -> bool:
        if plan.private.is_noproxy(path) or plan.private.is_nosumdb(path):
            return False
        rule = plan.policy.current.rule_for(path)
        if rule is not None and (
            rule.action in ("deny", "direct") or rule.version_refused(version)
        ):
            return False
        return not any(access.applies(path) for access in plan.live.current.access)

    return allowed


async def eviction_policy(settings: Settings) -> EvictionPolicy:
    """The cache limits of ``settings`` with the module versions its ``keep`` files pin."""
    pins = await asyncio.to_thread(load_pins, settings.keep)
    return EvictionPolicy(settings.cache_max_bytes, settings.cache_max_seconds, pins)

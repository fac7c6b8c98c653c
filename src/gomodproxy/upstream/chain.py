"""The upstream chain: a GOPROXY list walked with the go command's exact semantics.

``TryProxies`` in ``cmd/go/internal/modfetch/proxy.go``: entries are tried in order and the walk
stops at the first success. After a failure it goes on only if the error is not-found class (404
or 410: :class:`~gomodproxy.errors.ModuleNotFound`) or the entry was followed by ``|``. The error
reported is ranked like Go's ``bestErr``: an error from ``direct``/``noproxy`` first, then the
last proxy error that was not not-found, then the last not-found error.

Every entry is a :class:`~gomodproxy.upstream.modulefetch.ModuleFetcher` asked by module and
version. ``off`` answers "module lookup disabled by GOPROXY=off"; GONOPROXY paths are refused by
every proxy entry ("disabled by GOPRIVATE/GONOPROXY"); ``direct`` (and ``noproxy`` for a
GONOPROXY path) is the direct fetcher, which answers not found with "direct fetching is not
supported yet" until private modules land.

Hedged requests (``hedge_after``, off by default): for the small files (``.info``, ``.mod``,
list, ``@latest``), when an entry followed by ``|`` has not answered after ``hedge_after``
seconds, the same request goes to the next entry too; the first success wins and the other
request is cancelled. A failure of either leaves the other running; when both fail the walk
goes on after the second, exactly as it would have without the hedge. Only a ``|`` entry is
hedged: after a ``,`` the next entry is asked only on not-found, and a hedge could change the
answer. Zips are never hedged (too big to fetch twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from gomodproxy.errors import ModuleNotFound, ProxyError, UpstreamTimeout
from gomodproxy.module.goproxy import (
    DIRECT,
    NOPROXY,
    NOPROXY_DISABLED_MESSAGE,
    NOPROXY_NO_MATCH_MESSAGE,
    OFF,
    OFF_MESSAGE,
    PrivateSettings,
    ProxyEntry,
    ProxyList,
)
from gomodproxy.module.policy import Route
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import Fetcher, UpstreamBody
from gomodproxy.upstream.fileclient import FileFetcher
from gomodproxy.upstream.modulefetch import (
    DIRECT_NOT_SUPPORTED,
    DirectFetcher,
    ModuleFetcher,
    ProxyFetcher,
)
from gomodproxy.upstream.netrc import NetrcCredentials
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher, RequestAuth

__all__ = [
    "DIRECT_NOT_SUPPORTED",
    "Fetched",
    "HedgeObserver",
    "OpenedBody",
    "UpstreamChain",
    "UpstreamObserver",
    "build_chain",
    "transport_for",
]

logger = logging.getLogger(__name__)

Headers = Mapping[str, str] | None

_NOT_EXIST_RANK, _PROXY_RANK, _DIRECT_RANK = 0, 1, 2


class UpstreamObserver(Protocol):
    """Told about every attempt on an upstream (metrics)."""

    def upstream_result(self, upstream: str, kind: FileKind, outcome: str, seconds: float) -> None:
        """``outcome`` is ``ok``, ``not_found``, ``error`` or ``timeout``."""
        ...


class HedgeObserver(Protocol):
    """Told about hedged requests (metrics)."""

    def hedge_sent(self, upstream: str, kind: FileKind) -> None:
        """A hedged request went to ``upstream`` because the entry before it was slow."""
        ...

    def hedge_won(self, upstream: str, kind: FileKind) -> None:
        """The hedged request to ``upstream`` answered first and was served."""
        ...


@dataclass(frozen=True, slots=True)
class Fetched:
    """A small file read whole, and the upstream that served it."""

    data: bytes
    upstream: str


@dataclass(frozen=True, slots=True)
class OpenedBody:
    """A body being received (for streaming), and the upstream that serves it."""

    body: UpstreamBody
    upstream: str


class _UseProxy(ModuleNotFound):
    """noproxy's own answer for a path outside GONOPROXY (Go's errUseProxy): not reported."""


class _Walk:
    """The error bookkeeping of one walk (Go's bestErr/bestErrRank)."""

    def __init__(self) -> None:
        self.best: ProxyError | None = None
        self.rank = _NOT_EXIST_RANK

    def failed(self, entry_url: str, err: ProxyError, fallback_on_any_error: bool) -> bool:
        """Record ``err``; True when the walk may go on to the next entry."""
        not_found = isinstance(err, ModuleNotFound)
        if entry_url == DIRECT or (entry_url == NOPROXY and not isinstance(err, _UseProxy)):
            self.best, self.rank = err, _DIRECT_RANK
        elif self.rank <= _PROXY_RANK and not not_found:
            self.best, self.rank = err, _PROXY_RANK
        elif self.rank == _NOT_EXIST_RANK:
            self.best = err
        return fallback_on_any_error or not_found

    def error(self, what: str) -> ProxyError:
        return self.best or ModuleNotFound(f"{what}: no upstream configured")


class UpstreamChain:
    """Walks a :class:`ProxyList` for one module path (see the module docstring)."""

    def __init__(
        self,
        proxies: ProxyList,
        fetchers: Mapping[str, ModuleFetcher],
        *,
        direct: ModuleFetcher | None = None,
        private: PrivateSettings | None = None,
        observer: UpstreamObserver | None = None,
        router: Callable[[str], Route | None] | None = None,
        fetcher_for: Callable[[str], ModuleFetcher] | None = None,
        hedge_after: float | None = None,
        hedge_observer: HedgeObserver | None = None,
    ) -> None:
        missing = [url for url in proxies.proxy_urls if url not in fetchers]
        if missing:
            raise ValueError(f"no fetcher for upstream(s) {missing}")
        if hedge_after is not None and hedge_after < 0:
            raise ValueError("hedge_after must not be negative")
        self._hedge_after = hedge_after
        self._hedge_observer = hedge_observer
        self._proxies = proxies
        self._fetchers = dict(fetchers)
        # ``direct`` is one more fetcher; for GOPRIVATE paths (``noproxy``) it says why.
        self._direct = direct or DirectFetcher()
        self._direct_private = direct or DirectFetcher(private=True)
        self._private = private or PrivateSettings()
        self._observer = observer
        # Per-module routes from the rules: "direct" (git only), "upstream" (proxies only),
        # and a rule's own upstream list, whose fetchers are made on first use.
        self._router = router
        self._fetcher_for = fetcher_for

    @property
    def proxies(self) -> ProxyList:
        """The GOPROXY list being walked."""
        return self._proxies

    async def list(self, path: str, *, headers: Headers = None) -> Fetched:
        """The first ``@v/list`` the walk finds."""
        return await self._fetch(
            path, "@v/list", FileKind.LIST, lambda f: f.list(path, headers=headers)
        )

    async def latest(self, path: str, *, headers: Headers = None) -> Fetched:
        """The first ``@latest`` the walk finds."""
        return await self._fetch(
            path, "@latest", FileKind.LATEST, lambda f: f.latest(path, headers=headers)
        )

    async def info(self, path: str, version: str, *, headers: Headers = None) -> Fetched:
        """The first ``.info`` of ``version`` (or a query) the walk finds."""
        return await self._fetch(
            path, f"{version}.info", FileKind.INFO, lambda f: f.info(path, version, headers=headers)
        )

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> Fetched:
        """The first go.mod of ``version`` the walk finds."""
        return await self._fetch(
            path, f"{version}.mod", FileKind.MOD, lambda f: f.mod(path, version, headers=headers)
        )

    async def walk(
        self, path: str, what: str, call: Callable[[ModuleFetcher], Awaitable[bytes]]
    ) -> Fetched:
        """``call`` on the fetcher of each entry for ``path``, walked as a file fetch is
        (Go's TryProxies): the first answer, else the walk's error. The download client's
        ``-reuse`` checks use it."""
        return await self._fetch(path, what, FileKind.INFO, call)

    def _route(self, path: str) -> Route | None:
        return self._router(path) if self._router is not None else None

    def _entries(self, path: str) -> tuple[ProxyEntry, ...]:
        """The entries walked for ``path``: the GOPROXY list, or what a rule routes it to."""
        route = self._route(path)
        if route is None:
            return tuple(self._proxies)
        if route.kind == "direct":
            return (ProxyEntry(DIRECT),)
        listed = route.proxies if route.proxies is not None else self._proxies
        if route.kind == "upstream":
            proxies = tuple(e for e in listed if e.is_proxy)
            if not proxies:
                raise ModuleNotFound(
                    f"{path}: the rules send it to upstream proxies only, and none is listed",
                    path=path,
                )
            return proxies
        return tuple(listed)

    async def _fetch(
        self,
        path: str,
        what: str,
        kind: FileKind,
        call: Callable[[ModuleFetcher], Awaitable[bytes]],
    ) -> Fetched:
        """Read a small answer whole. A failure while reading the body counts as the entry's."""
        walk = _Walk()
        entries = self._entries(path)
        i = 0
        while i < len(entries):
            entry = entries[i]
            try:
                fetcher = self._entry_fetcher(entry.url, path)
            except ProxyError as exc:
                if not walk.failed(entry.url, exc, entry.fallback_on_any_error):
                    break
                i += 1
                continue
            hedge = self._hedge_target(entries, i, path)
            if hedge is None:
                try:
                    return await self._attempt(fetcher, kind, call)
                except ProxyError as exc:
                    if not walk.failed(entry.url, exc, entry.fallback_on_any_error):
                        break
                i += 1
                continue
            fetched, step = await self._hedged(
                (entry, fetcher), (entries[i + 1], hedge), kind, call, walk
            )
            if fetched is not None:
                return fetched
            if not step:
                break
            i += step
        raise walk.error(f"{path}@{what}" if not what.startswith("@") else f"{path}/{what}")

    async def _attempt(
        self,
        fetcher: ModuleFetcher,
        kind: FileKind,
        call: Callable[[ModuleFetcher], Awaitable[bytes]],
    ) -> Fetched:
        """One request to one entry, observed."""
        started = time.monotonic()
        try:
            data = await call(fetcher)
        except ProxyError as exc:
            self._observe(fetcher.name, kind, exc, started)
            raise
        self._observe(fetcher.name, kind, None, started)
        return Fetched(data, fetcher.name)

    def _hedge_target(
        self, entries: Sequence[ProxyEntry], i: int, path: str
    ) -> ModuleFetcher | None:
        """The fetcher a slow request to entry ``i`` is hedged to, or None (no hedging)."""
        if self._hedge_after is None or i + 1 >= len(entries):
            return None
        if not entries[i].fallback_on_any_error or not entries[i + 1].is_proxy:
            return None  # after ",", or to direct (a git fetch is no small request)
        try:
            return self._entry_fetcher(entries[i + 1].url, path)
        except ProxyError:
            return None  # off, or a path the next entry must refuse: nothing to race

    async def _hedged(
        self,
        first: tuple[ProxyEntry, ModuleFetcher],
        second: tuple[ProxyEntry, ModuleFetcher],
        kind: FileKind,
        call: Callable[[ModuleFetcher], Awaitable[bytes]],
        walk: _Walk,
    ) -> tuple[Fetched | None, int]:
        """Ask ``first``; if it has not answered after the hedge delay, ask ``second`` too.

        Returns the first success (the other request cancelled), or None and how many entries
        the walk moves on (0: it stops): 1 when ``first`` failed before the delay (``second``
        is then asked in the ordinary way), 2 when both failed (errors recorded in entry
        order).
        """
        assert self._hedge_after is not None
        (first_entry, first_fetcher), (second_entry, second_fetcher) = first, second
        primary = asyncio.create_task(self._attempt(first_fetcher, kind, call))
        try:
            done, _ = await asyncio.wait({primary}, timeout=self._hedge_after)
        except BaseException:
            primary.cancel()
            await asyncio.gather(primary, return_exceptions=True)
            raise
        if done:
            try:
                return primary.result(), 0
            except ProxyError as exc:
                go_on = walk.failed(first_entry.url, exc, first_entry.fallback_on_any_error)
                return None, 1 if go_on else 0
        if self._hedge_observer is not None:
            self._hedge_observer.hedge_sent(second_fetcher.name, kind)
        logger.info(
            "upstream.hedge_sent kind=%s slow=%s hedge=%s after=%g",
            kind.value,
            first_fetcher.name,
            second_fetcher.name,
            self._hedge_after,
        )
        backup = asyncio.create_task(self._attempt(second_fetcher, kind, call))
        pending: set[asyncio.Task[Fetched]] = {primary, backup}
        errors: dict[asyncio.Task[Fetched], ProxyError] = {}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in (primary, backup):  # entry order when both end in one turn
                    if task not in done:
                        continue
                    failure = task.exception()
                    if failure is None:
                        if task is backup and self._hedge_observer is not None:
                            self._hedge_observer.hedge_won(second_fetcher.name, kind)
                        return task.result(), 0
                    if not isinstance(failure, ProxyError):
                        raise failure
                    errors[task] = failure
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        walk.failed(first_entry.url, errors[primary], first_entry.fallback_on_any_error)
        go_on = walk.failed(second_entry.url, errors[backup], second_entry.fallback_on_any_error)
        return None, 2 if go_on else 0

    @contextlib.asynccontextmanager
    async def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AsyncIterator[OpenedBody]:
        """Open a zip for streaming. Only failures before the body count for the walk: once
        bytes flow, an error ends the fetch (the caller aborts its own response)."""
        kind = FileKind.ZIP
        walk = _Walk()
        for entry in self._entries(path):
            async with contextlib.AsyncExitStack() as stack:
                try:
                    fetcher = self._entry_fetcher(entry.url, path)
                    started = time.monotonic()
                    try:
                        body = await stack.enter_async_context(
                            fetcher.zip(path, version, headers=headers)
                        )
                    except ProxyError as exc:
                        self._observe(fetcher.name, kind, exc, started)
                        raise
                except ProxyError as exc:
                    if walk.failed(entry.url, exc, entry.fallback_on_any_error):
                        continue
                    break
                try:
                    yield OpenedBody(body, fetcher.name)
                except ProxyError as exc:
                    self._observe(fetcher.name, kind, exc, started)
                    raise
                self._observe(fetcher.name, kind, None, started)
                return
        raise walk.error(f"{path}@{version}.zip")

    def _entry_fetcher(self, url: str, module_path: str) -> ModuleFetcher:
        """The fetcher of an entry, or the not-found answer of a keyword entry."""
        route = self._route(module_path)
        # A rule's routing is explicit: it overrides the private patterns' refusal.
        private = self._private.is_noproxy(module_path) and route is None
        if url == OFF:
            raise ModuleNotFound(f"{module_path}: {OFF_MESSAGE}", path=module_path)
        if url == DIRECT or (url == NOPROXY and private):
            return self._direct_private if private else self._direct
        if url == NOPROXY:
            raise _UseProxy(NOPROXY_NO_MATCH_MESSAGE, path=module_path)
        if private:
            raise ModuleNotFound(
                f"{module_path}: module lookup {NOPROXY_DISABLED_MESSAGE}", path=module_path
            )
        fetcher = self._fetchers.get(url)
        if fetcher is None:
            if self._fetcher_for is None:
                raise ModuleNotFound(f"{module_path}: no fetcher for upstream {url}")
            fetcher = self._fetchers[url] = self._fetcher_for(url)
        return fetcher

    def _observe(
        self, upstream: str, kind: FileKind, exc: ProxyError | None, started: float
    ) -> None:
        if self._observer is None:
            return
        if exc is None:
            outcome = "ok"
        elif isinstance(exc, ModuleNotFound):
            outcome = "not_found"
        elif isinstance(exc, UpstreamTimeout):
            outcome = "timeout"
        else:
            outcome = "error"
        self._observer.upstream_result(upstream, kind, outcome, time.monotonic() - started)


def transport_for(
    url: str,
    session: aiohttp.ClientSession,
    *,
    policy: FetchPolicy | None = None,
    netrc: NetrcCredentials | None = None,
    request_auth: RequestAuth | None = None,
) -> Fetcher:
    """The transport that reads relative paths under ``url``: a folder for ``file://``, HTTP
    otherwise (``request_auth``: see :class:`HTTPFetcher`)."""
    if url.startswith("file:"):
        return FileFetcher.from_url(url)
    return HTTPFetcher(url, session, policy=policy, netrc=netrc, request_auth=request_auth)


def build_chain(
    proxies: ProxyList,
    *,
    session: aiohttp.ClientSession,
    private: PrivateSettings | None = None,
    policy: FetchPolicy | None = None,
    netrc: NetrcCredentials | None = None,
    observer: UpstreamObserver | None = None,
    direct: ModuleFetcher | None = None,
    router: Callable[[str], Route | None] | None = None,
    wrap: Callable[[ModuleFetcher], ModuleFetcher] | None = None,
    wrap_transport: Callable[[Fetcher], Fetcher] | None = None,
    hedge_after: float | None = None,
    hedge_observer: HedgeObserver | None = None,
    request_auth: RequestAuth | None = None,
) -> UpstreamChain:
    """An :class:`UpstreamChain` with a proxy fetcher (HTTP or ``file://``) for every proxy URL
    and ``direct`` (the git fetcher of private modules; by default one that refuses) as the
    direct fetcher; ``wrap`` puts a layer in front of each proxy fetcher (the fault drills),
    ``wrap_transport`` one around each transport (``-x`` tracing), ``router`` gives the
    ``--rules`` routes; ``hedge_after`` (seconds) turns hedged requests on."""

    def proxy_fetcher(url: str) -> ModuleFetcher:
        transport = transport_for(
            url, session, policy=policy, netrc=netrc, request_auth=request_auth
        )
        if wrap_transport is not None:
            transport = wrap_transport(transport)
        fetcher: ModuleFetcher = ProxyFetcher(transport)
        return wrap(fetcher) if wrap is not None else fetcher

    fetchers = {url: proxy_fetcher(url) for url in proxies.proxy_urls}
    return UpstreamChain(
        proxies,
        fetchers,
        direct=direct,
        private=private,
        observer=observer,
        router=router,
        fetcher_for=proxy_fetcher,
        hedge_after=hedge_after,
        hedge_observer=hedge_observer,
    )

"""Reading a checksum database's paths through the proxy's own HTTP fetcher.

The proxy verifies downloads with :class:`gomodproxy.sumdb.client.SumDBClient` and relays the
database to clients; both read ``latest``, ``lookup/...`` and ``tile/...`` with the timeouts,
retries, size caps and redirect rules of :class:`~gomodproxy.upstream.proxyclient.HTTPFetcher`.
This adapter gives that fetcher the shape of the client's ``SumDBFetcher`` seam.

Where the database is read from is decided once, on first use, as the go command decides it
(:mod:`gomodproxy.sumdb.locate`): the URL GOSUMDB names; else the first upstream proxy that
answers ``sumdb/<name>/supported`` (so a proxy that can only reach its own upstream proxy, as
on a closed network, still verifies); else ``https://<name>``. ``file://`` upstreams are moved
past: a module cache folder serves no database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from gomodproxy.errors import ModuleNotFound
from gomodproxy.module.goproxy import ProxyList
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.sumdb.gosumdb import SumDBConfig
from gomodproxy.sumdb.locate import locate_database
from gomodproxy.upstream.base import read_body
from gomodproxy.upstream.proxyclient import HTTPFetcher

__all__ = ["SumDBEndpoint", "SumDBHTTPFetcher"]

logger = logging.getLogger(__name__)


class SumDBEndpoint:
    """The base URL of one database, located on first use; ``make_fetcher(url)`` reads it."""

    def __init__(
        self,
        config: SumDBConfig,
        proxies: ProxyList,
        make_fetcher: Callable[[str], HTTPFetcher],
    ) -> None:
        self._config = config
        self._proxies = proxies
        self._make = make_fetcher
        self._fetcher: HTTPFetcher | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The located base URL (credentials masked), or the database name before that."""
        return self._fetcher.name if self._fetcher is not None else self._config.name

    async def fetcher(self) -> HTTPFetcher:
        """The fetcher of the database's base URL; the first call locates it."""
        if self._fetcher is not None:
            return self._fetcher
        async with self._lock:
            if self._fetcher is None:
                base = await locate_database(self._config, self._proxies, self._probe)
                self._fetcher = self._make(base)
                logger.info("sumdb.base name=%s url=%s", self._config.name, self._fetcher.name)
            return self._fetcher

    async def _probe(self, proxy_url: str, path: str) -> None:
        if proxy_url.startswith("file:"):
            # A module cache folder holds lookups and tiles the go command saw, but no
            # ``supported`` file: the go command moves past it too.
            raise ModuleNotFound(f"{proxy_url} does not serve checksum databases")
        probe = self._make(proxy_url)
        async with probe.open(path, FileKind.SUMDB) as body:
            await read_body(body, FileKind.SUMDB, upstream=probe.name)


class SumDBHTTPFetcher:
    """``fetch("lookup/M@V") -> bytes`` over one database, at a fixed or located base URL."""

    def __init__(
        self,
        source: HTTPFetcher | SumDBEndpoint,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._source = source
        self._headers = dict(headers or {})

    @property
    def name(self) -> str:
        """The database URL (credentials masked)."""
        return self._source.name

    async def fetch(self, path: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The body at ``path``: ModuleNotFound for 404/410, UpstreamError otherwise.

        ``headers`` are sent with this request on top of the fetcher's own.
        """
        source = self._source
        fetcher = source if isinstance(source, HTTPFetcher) else await source.fetcher()
        sent = {**self._headers, **(headers or {})}
        async with fetcher.open(path, FileKind.SUMDB, headers=sent) as body:
            return await read_body(body, FileKind.SUMDB, upstream=fetcher.name)

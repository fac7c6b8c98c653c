"""Reading a checksum database's paths through the upstream transports (the one fetcher).

The proxy verifies downloads with :class:`gomodproxy.sumdb.client.SumDBClient` and relays the
database to clients; both read ``latest``, ``lookup/...`` and ``tile/...`` through a
:class:`~gomodproxy.upstream.base.Fetcher` (HTTP: the timeouts, retries, redirect rules and
credentials of :class:`~gomodproxy.upstream.proxyclient.HTTPFetcher`; ``file://``: a folder,
as the go command reads one). This adapter gives it the shape of the client's ``SumDBFetcher``
seam, with cmd/go's answer limits: a tile is exactly W×32 bytes (a data tile at most 1 MiB),
anything else at most 64 KiB, and a malformed tile path is refused before any request.

Where the database is read from is decided once, on first use, as the go command decides it
(:mod:`gomodproxy.sumdb.locate`): the URL GOSUMDB names; else the first upstream proxy that
answers ``sumdb/<name>/supported`` (a ``file://`` one too: a proxy's cache folder carries the
marker; the go command's own module cache does not, and is moved past); else ``https://<name>``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from gomodproxy.errors import SumDBError
from gomodproxy.module.goproxy import ProxyList
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.sumdb.gosumdb import SumDBConfig
from gomodproxy.sumdb.locate import locate_database
from gomodproxy.tlog.tlog import HASH_SIZE, parse_tile_path
from gomodproxy.upstream.base import Fetcher, UpstreamBody

__all__ = ["MAX_ANSWER", "RoutedFetcher", "SumDBEndpoint", "SumDBHTTPFetcher", "answer_cap"]

logger = logging.getLogger(__name__)

MAX_ANSWER = 64 << 10
"""The largest lookup, ``latest`` or ``supported`` answer accepted (a lookup is ~0.5 KiB)."""

# Data tiles (level -1) hold record texts; the client never asks for them, a relay may.
_MAX_DATA_TILE = 1 << 20


def answer_cap(path: str) -> int:
    """The size limit of the answer at database path ``path``; a malformed tile path raises
    :class:`~gomodproxy.errors.SumDBError` here, before any request."""
    if path.startswith("tile/"):
        tile = parse_tile_path(path)
        return _MAX_DATA_TILE if tile.l == -1 else tile.w * HASH_SIZE
    return MAX_ANSWER


class SumDBEndpoint:
    """The base URL of one database, located on first use; ``make_fetcher(url)`` reads it."""

    def __init__(
        self,
        config: SumDBConfig,
        proxies: ProxyList,
        make_fetcher: Callable[[str], Fetcher],
    ) -> None:
        self._config = config
        self._proxies = proxies
        self._make = make_fetcher
        self._fetcher: Fetcher | None = None
        self._base: str | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The located base URL (credentials masked), or the database name before that."""
        return self._fetcher.name if self._fetcher is not None else self._config.name

    async def base_url(self) -> str:
        """Where database paths are read from (located on the first call)."""
        await self.fetcher()
        assert self._base is not None
        return self._base

    async def fetcher(self) -> Fetcher:
        """The fetcher of the database's base URL; the first call locates it."""
        if self._fetcher is not None:
            return self._fetcher
        async with self._lock:
            if self._fetcher is None:
                base = await locate_database(self._config, self._proxies, self._probe)
                self._base = base
                self._fetcher = self._make(base)
                logger.info("sumdb.base name=%s url=%s", self._config.name, self._fetcher.name)
            return self._fetcher

    async def _probe(self, proxy_url: str, path: str) -> None:
        probe = self._make(proxy_url)
        async with probe.open(path, FileKind.SUMDB) as body:
            await _read_capped(body, MAX_ANSWER, f"{probe.name}/{path}")


class SumDBHTTPFetcher:
    """``fetch("lookup/M@V") -> bytes`` over one database, at a fixed or located base URL."""

    def __init__(
        self,
        source: Fetcher | SumDBEndpoint,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._source = source
        self._headers = dict(headers or {})

    @property
    def name(self) -> str:
        """The database URL (credentials masked)."""
        return self._source.name

    async def base_url(self) -> str:
        """Where the database is read from (a fixed fetcher: its name)."""
        source = self._source
        return await source.base_url() if isinstance(source, SumDBEndpoint) else source.name

    async def fetch(self, path: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The body at ``path``: ModuleNotFound for 404/410, UpstreamError/UpstreamTimeout for
        a failure, SumDBError for a malformed tile path or an answer over its limit.

        ``headers`` are sent with this request on top of the fetcher's own.
        """
        cap = answer_cap(path)
        source = self._source
        fetcher = await source.fetcher() if isinstance(source, SumDBEndpoint) else source
        sent = {**self._headers, **(headers or {})}
        async with fetcher.open(path, FileKind.SUMDB, headers=sent) as body:
            return await _read_capped(body, cap, f"{fetcher.name}/{path}")


async def _read_capped(body: UpstreamBody, cap: int, shown: str) -> bytes:
    """The whole body, refusing more than ``cap`` bytes."""
    if body.content_length is not None and body.content_length > cap:
        raise SumDBError(f"reading {shown}: answer of {body.content_length} bytes, over {cap}")
    out = bytearray()
    async for chunk in body.chunks():
        out += chunk
        if len(out) > cap:
            raise SumDBError(f"reading {shown}: answer over {cap} bytes")
    return bytes(out)


class RoutedFetcher:
    """A :class:`~gomodproxy.sumdb.seams.SumDBFetcher` whose lookups and tiles may be routed
    through another reader: the proxy's relay, so that its verifier and its relay share the
    relay's kept answers and single flight and the database is asked each answer once.
    Until a route is set (and for every other path) it reads from ``base``."""

    def __init__(self, base: SumDBHTTPFetcher) -> None:
        self._base = base
        #: Reads a ``lookup/...`` or ``tile/...`` path instead of ``base``, when set.
        self.route: Callable[[str], Awaitable[bytes]] | None = None

    async def fetch(self, path: str) -> bytes:
        """The body served at ``path``."""
        if self.route is not None and path.startswith(("lookup/", "tile/")):
            return await self.route(path)
        return await self._base.fetch(path)

"""The checksum-database relay: ``/sumdb/<name>/supported|latest|lookup/...|tile/...``.

Only configured databases are relayed (others: 404 and no outbound connection, catalogue A13:
an open relay would be an SSRF). Clients verify every signature and proof themselves, so the
relay passes bytes through unchanged; it only caches: tiles forever (in storage, like the go
command's ``cache/download/sumdb``; a partial tile's content is fixed by its width), lookups
forever (a record never changes), ``latest`` briefly in memory, served stale while the database
cannot be reached (a stale signed head is safe: clients check every head's consistency with the
newest they saw). Lookups of modules matching GONOSUMDB/GOPRIVATE are refused with 403 so
private module names never leave (INV-5). Malformed tile paths are 400.

Kept answers live at ``sumdb/<name>/lookup/...`` and ``sumdb/<name>/tile/...`` beside the marker
``sumdb/<name>/supported``: the paths the go command reads from a ``GOPROXY=file://<cache-dir>``
(``initBase`` in cmd/go/internal/modfetch/sumdb.go), so the cache folder alone also serves the
lookups and tiles it holds to a go command that finds the database by name.

Kept answers go through single flight: concurrent clients (and prefetches, see
:mod:`gomodproxy.server.sumdbprefetch`) asking for one lookup or tile share one upstream fetch;
a failed fetch is not kept and every waiter gets its error. The proxy's own verifier reads its
lookups and tiles through :meth:`SumDBRelay.read` (the server routes its
:class:`~gomodproxy.sumdb.fetch.RoutedFetcher` here), so the database is asked each answer
once; answers the verifier proved earlier are read from its cache. A :class:`RelayListener` is
told of every lookup and tile answered to a client (the prefetcher runs ahead from there).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gomodproxy.errors import ModuleNotFound, ProxyError, StorageError, UpstreamError
from gomodproxy.module.paths import unescape_path, unescape_version
from gomodproxy.module.patterns import match_prefix_patterns
from gomodproxy.singleflight import SingleFlight
from gomodproxy.storage.base import ObjectStore
from gomodproxy.sumdb.fetch import SumDBHTTPFetcher
from gomodproxy.tlog.tiles import parse_tile_path

__all__ = ["PrivateLookup", "RelayAnswer", "RelayListener", "SumDBRelay"]

logger = logging.getLogger(__name__)

_SHORT_TTL = 10.0
_MEMORY_ENTRIES = 1024


class PrivateLookup(ProxyError):
    """A lookup of a module that must stay private (GONOSUMDB/GOPRIVATE): 403."""

    status_hint = 403

    def __init__(self, path: str) -> None:
        super().__init__(
            f"lookup of {path} refused: it matches GONOSUMDB/GOPRIVATE, so it is never sent "
            "to a checksum database"
        )
        self.path = path


@dataclass(frozen=True, slots=True)
class RelayAnswer:
    """What to send back: body, content type and cache lifetime."""

    body: bytes
    content_type: str
    cache_control: str


class RelayListener(Protocol):
    """Told of the kept answers (lookups and tiles) the relay served to clients."""

    def answered(self, name: str, sub: str, body: bytes, headers: Mapping[str, str] | None) -> None:
        """``sub`` (``lookup/...`` or ``tile/...``) of database ``name`` was served."""
        ...


class SumDBRelay:
    """Relays the configured databases (name → fetcher of its base URL)."""

    def __init__(
        self,
        databases: Mapping[str, SumDBHTTPFetcher],
        storage: ObjectStore,
        *,
        nosumdb_patterns: str = "",
        proven_prefix: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._databases = dict(databases)
        self._storage = storage
        self._nosumdb = nosumdb_patterns
        #: Where the proxy's own verifier keeps the answers it proved (``<prefix>/<name>/...``).
        self._proven = proven_prefix
        self._clock = clock
        self._memory: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._marked: set[str] = set()  # databases whose "supported" marker is stored
        #: Kept answers being fetched: (bytes, whether the database was asked).
        self._flight: SingleFlight[tuple[bytes, bool]] = SingleFlight()
        #: Told of every lookup and tile served to a client (the sumdb prefetcher).
        self.listener: RelayListener | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The relayed database names."""
        return tuple(self._databases)

    async def answer(self, rest: str, *, headers: Mapping[str, str] | None = None) -> RelayAnswer:
        """Answer ``/sumdb/<rest>`` (``rest`` percent-decoded, starting with the name)."""
        name, sub = self._split(rest)
        fetcher = self._databases[name]
        if sub == "supported":
            return RelayAnswer(b"", "text/plain; charset=utf-8", "public, max-age=3600")
        if sub == "latest":
            body = await self._brief(f"{name}/latest", fetcher, "latest", headers)
            return RelayAnswer(body, "text/plain; charset=utf-8", "no-cache, max-age=0")
        if sub.startswith("lookup/"):
            self._check_lookup(sub[len("lookup/") :])
            body = await self._kept(name, sub, fetcher, headers)
            if self.listener is not None:
                self.listener.answered(name, sub, body, headers)
            return RelayAnswer(body, "text/plain; charset=utf-8", "public, max-age=3600")
        if sub.startswith("tile/"):
            tile = parse_tile_path(sub)  # MalformedTilePath: 400
            body = await self._kept(name, sub, fetcher, headers)
            if self.listener is not None:
                self.listener.answered(name, sub, body, headers)
            if tile.w < (1 << tile.h):  # partial
                return RelayAnswer(body, "application/octet-stream", "public, max-age=10")
            return RelayAnswer(
                body, "application/octet-stream", "public, max-age=31536000, immutable"
            )
        raise ModuleNotFound(f"unknown checksum database path {sub!r}")

    async def read(self, name: str, sub: str) -> bytes:
        """A lookup or tile for the proxy's own verifier: the kept answer, or fetched through
        the same single flight as clients' (the verifier proves what it reads itself)."""
        return await self._kept(name, sub, self._databases[name], None)

    def is_private(self, path: str) -> bool:
        """Whether lookups of module ``path`` are refused (GONOSUMDB/GOPRIVATE)."""
        return bool(self._nosumdb) and match_prefix_patterns(self._nosumdb, path)

    async def close(self) -> None:
        """Cancel the fetches in flight (server shutdown)."""
        await self._flight.cancel_all()

    async def prefetch(
        self, name: str, sub: str, headers: Mapping[str, str] | None = None
    ) -> bytes | None:
        """Fetch and keep a lookup or tile ahead of clients, with the same checks as a client's
        request and through the same single flight: its bytes when this call fetched them from the
        database, None when they were kept already (by the relay or, proven, by the proxy's
        verifier) or another caller is fetching them."""
        fetcher = self._databases[name]
        if sub.startswith("lookup/"):
            self._check_lookup(sub[len("lookup/") :])
        else:
            parse_tile_path(sub)
        key = f"sumdb/{name}/{sub}"
        if key in self._flight or await self._storage.stat(key) is not None:
            return None
        if key in self._flight:  # a client's fetch began while the storage was asked
            return None
        body, asked = await self._flight.do(
            key, lambda: self._fetch_and_keep(name, sub, fetcher, headers)
        )
        return body if asked else None

    def _split(self, rest: str) -> tuple[str, str]:
        for name in sorted(self._databases, key=len, reverse=True):
            if rest.startswith(name + "/"):
                sub = rest[len(name) + 1 :]
                if sub:
                    return name, sub
        raise ModuleNotFound("checksum database not proxied here (only configured ones are)")

    def _check_lookup(self, target: str) -> None:
        escaped_path, at, escaped_version = target.rpartition("@")
        if not at or not escaped_path or "/" in escaped_version:
            raise ModuleNotFound(f"invalid lookup {target!r}: expected lookup/MODULE@VERSION")
        try:
            path = unescape_path(escaped_path)
            unescape_version(escaped_version)
        except ProxyError as exc:
            raise ModuleNotFound(f"invalid lookup {target!r}: {exc}") from exc
        if self.is_private(path):
            raise PrivateLookup(path)

    async def _kept(
        self, name: str, sub: str, fetcher: SumDBHTTPFetcher, headers: Mapping[str, str] | None
    ) -> bytes:
        key = f"sumdb/{name}/{sub}"
        try:
            return await self._storage.get(key)
        except (ModuleNotFound, StorageError):
            pass
        body, _ = await self._flight.do(
            key, lambda: self._fetch_and_keep(name, sub, fetcher, headers)
        )
        return body

    async def _fetch_and_keep(
        self, name: str, sub: str, fetcher: SumDBHTTPFetcher, headers: Mapping[str, str] | None
    ) -> tuple[bytes, bool]:
        """One upstream fetch of a kept answer (in a single-flight task), then kept; or the
        copy the proxy's verifier proved. Whether the database was asked, with the bytes."""
        key = f"sumdb/{name}/{sub}"
        try:  # a flight that ended while the caller read the storage has kept it
            return await self._storage.get(key), False
        except (ModuleNotFound, StorageError):
            pass
        body = await self._proven_copy(name, sub)
        asked = body is None
        if body is None:
            body = await fetcher.fetch(sub, headers=headers)
        try:
            await self._storage.put(key, body)
            await self._mark_supported(name)
        except StorageError as exc:
            # Answered all the same; only the copy is lost. A warning: the request that needed
            # the storage reports the failure itself (one ERROR line per failure, catalogue I83).
            logger.warning("sumdb_relay.keep_failed key=%s error=%s", key, exc)
        return body, asked

    async def _proven_copy(self, name: str, sub: str) -> bytes | None:
        """The answer as the proxy's verifier fetched and proved it (it verifies each module
        it caches, so the lookups and tiles a client asks next are often there)."""
        if not self._proven:
            return None
        try:
            return await self._storage.get(f"{self._proven}/{name}/{sub}") or None
        except (ModuleNotFound, StorageError):
            return None

    async def _mark_supported(self, name: str) -> None:
        """Store ``sumdb/<name>/supported`` once the database has something kept."""
        if name in self._marked:
            return
        await self._storage.put(f"sumdb/{name}/supported", b"")
        self._marked.add(name)

    async def _brief(
        self, key: str, fetcher: SumDBHTTPFetcher, sub: str, headers: Mapping[str, str] | None
    ) -> bytes:
        entry = self._memory.get(key)
        now = self._clock()
        if entry is not None and now < entry[0]:
            return entry[1]
        try:
            body = await fetcher.fetch(sub, headers=headers)
        except UpstreamError as exc:
            if entry is None:
                raise
            logger.warning("sumdb_relay.stale key=%s error=%s", key, exc)
            return entry[1]
        self._memory[key] = (now + _SHORT_TTL, body)
        self._memory.move_to_end(key)
        while len(self._memory) > _MEMORY_ENTRIES:
            self._memory.popitem(last=False)
        return body

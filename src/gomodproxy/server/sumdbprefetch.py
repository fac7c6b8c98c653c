"""Checksum-database prefetch: run ahead of the go command's sumdb client (issue 15, section 1).

With an empty go.sum the go command looks up, in the checksum database, every go.mod it
downloads, and proves each lookup answer by reading tiles of the log. Through the relay
(:mod:`gomodproxy.server.sumdbrelay`) each of those is a round trip to a distant database; the
proxy knows what comes next:

- tiles: when the relay answers a lookup (hit or miss, or a prefetched one), the record id and
  the signed tree size N in it say which tiles the client reads to prove the record in tree N
  and to check that tree against the previous one it saw (x/mod sumdb/client.go ``checkRecord``
  and ``checkTrees``; the exact paths come from :mod:`gomodproxy.tlog.tileplan`, height 8,
  partial tiles ``.p/W`` included);
- lookups: while clients do lookups (one asked within the last 60 seconds, the "looking up"
  window), each go.mod served to a client or prefetched by the module prefetcher makes the
  relay fetch ``lookup/M@V``; when the window opens, the go.mod files seen in the 60 seconds
  before are looked up too.

Each prefetch goes through the relay's own path (:meth:`SumDBRelay.prefetch`): its checks
(private lookups refused, tile paths parsed), its single flight (a client asking for an answer
being prefetched joins that fetch) and its storage. Modules matching GONOSUMDB/GOPRIVATE or
refused by the ``allowed`` predicate (:func:`gomodproxy.assembly.prefetch_allowed`) are never
looked up on the proxy's initiative.

Bounds are the module prefetcher's settings (:class:`PrefetchOptions`): ``concurrency``
prefetches at once, at most ``queue`` waiting, and ``budget`` bytes prefetched and not yet asked
for (after ``waste_after`` seconds such bytes count as wasted). Each decision is logged at DEBUG
(``prefetch.decision kind=lookup|tile``) and counted by the :class:`SumDBPrefetchObserver`
(the ``gomodproxy_prefetch_*`` series with kinds ``lookup`` and ``tile``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

from gomodproxy.cache.prefetch import PrefetchOptions
from gomodproxy.errors import ProxyError
from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.tlog.tileplan import record_tiles, tree_tiles
from gomodproxy.tlog.tlog import parse_record, parse_tree

__all__ = ["SumDBPrefetchObserver", "SumDBPrefetcher"]

logger = logging.getLogger(__name__)

Headers = Mapping[str, str] | None

#: How long after the last lookup a client asked for the clients count as looking up, seconds.
_LOOKUP_WINDOW = 60.0
#: How many keys (and recent go.mod files) the prefetcher remembers.
_MEMORY = 50_000
_RECENT = 4096


class SumDBPrefetchObserver(Protocol):
    """Told about checksum-database prefetch decisions and bytes (the server's metrics)."""

    def sumdb_prefetch_decision(self, kind: str, decision: str) -> None:
        """A ``lookup`` or ``tile`` was considered (``scheduled``, ``refused``, ``budget``,
        ``queue``) or a scheduled one ended (``fetched``, ``cached``, ``failed``)."""
        ...

    def sumdb_prefetch_bytes(self, kind: str, outcome: str, size: int) -> None:
        """``prefetched`` bytes, later ``used`` (a client asked) or ``wasted``."""
        ...


class _NullObserver:
    def sumdb_prefetch_decision(self, kind: str, decision: str) -> None:
        """Ignored."""

    def sumdb_prefetch_bytes(self, kind: str, outcome: str, size: int) -> None:
        """Ignored."""


class SumDBPrefetcher:
    """Schedules lookups and tiles ahead of clients (see the module docstring). It is the
    relay's :class:`~gomodproxy.server.sumdbrelay.RelayListener` and the module prefetcher's
    :class:`~gomodproxy.cache.prefetch.ModListener`."""

    def __init__(
        self,
        relay: SumDBRelay,
        options: PrefetchOptions,
        *,
        allowed: Callable[[str, str], bool],
        observer: SumDBPrefetchObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._relay = relay
        self._options = options
        self._allowed = allowed
        self._observer: SumDBPrefetchObserver = observer or _NullObserver()
        self._clock = clock
        self._slots = asyncio.Semaphore(max(1, options.concurrency))
        self._tasks: set[asyncio.Task[None]] = set()
        #: Keys handled already (oldest forgotten first).
        self._scheduled: OrderedDict[str, None] = OrderedDict()
        #: Prefetches in flight: key → whether a client asked meanwhile.
        self._running: dict[str, bool] = {}
        #: Prefetched answers no client asked for yet: key → (kind, size, when fetched).
        self._unused: OrderedDict[str, tuple[str, int, float]] = OrderedDict()
        self._outstanding = 0
        #: Per database: until when clients count as looking up.
        self._lookup_until: dict[str, float] = {}
        #: go.mod files seen outside a window: path@version → (when, path, version, headers).
        self._recent: OrderedDict[str, tuple[float, str, str, Headers]] = OrderedDict()
        #: Per database: the largest tree size seen in a lookup answer.
        self._tree_size: dict[str, int] = {}

    @property
    def pending(self) -> int:
        """Prefetches scheduled and not finished."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Wait until no prefetch runs (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the prefetches in flight (server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- what clients ask for (the relay's and the module prefetcher's listener seams) ------

    def answered(self, name: str, sub: str, body: bytes, headers: Headers) -> None:
        """The relay served ``sub`` of database ``name`` to a client."""
        self._client_asked(f"{name}/{sub}")
        if not sub.startswith("lookup/"):
            return
        now = self._clock()
        opened = now >= self._lookup_until.get(name, float("-inf"))
        self._lookup_until[name] = now + _LOOKUP_WINDOW
        if opened:  # the go.mod files read just before the first lookup will be looked up too
            for when, path, version, seen_headers in list(self._recent.values()):
                if when >= now - _LOOKUP_WINDOW:
                    self._schedule_lookup(name, path, version, seen_headers)
        self._schedule_tiles(name, body, headers)

    def mod_seen(self, path: str, version: str, headers: Headers) -> None:
        """A go.mod was served to a client or prefetched: the go command will look it up."""
        if not is_canonical(version):
            return
        now = self._clock()
        looking_up = False
        for name in self._relay.names:
            if now < self._lookup_until.get(name, float("-inf")):
                looking_up = True
                self._schedule_lookup(name, path, version, headers)
        if not looking_up:
            target = f"{path}@{version}"
            self._recent.pop(target, None)
            self._recent[target] = (now, path, version, headers)
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)

    # -- scheduling -------------------------------------------------------------------------

    def _schedule_lookup(self, name: str, path: str, version: str, headers: Headers) -> None:
        try:
            sub = f"lookup/{escape_path(path)}@{escape_version(version)}"
        except ProxyError:
            return
        key = f"{name}/{sub}"
        if key in self._scheduled:
            return
        if self._relay.is_private(path) or not self._allowed(path, version):
            self._remember(key)
            self._decided("lookup", name, sub, "refused")
            return
        self._schedule("lookup", name, sub, headers)

    def _schedule_tiles(self, name: str, body: bytes, headers: Headers) -> None:
        """Schedule the tiles the client reads to prove the lookup answer ``body``."""
        try:
            record_id, _text, note = parse_record(body)
            size = parse_tree(note).n
        except ProxyError as exc:  # the client will report it; nothing to run ahead of
            logger.debug("prefetch.unparsed database=%s error=%s", name, exc)
            return
        # The client proves the record in the newest tree it saw, after checking the older
        # of the two trees inside the newer one (checkTrees); its newest is guessed as the
        # newest this relay answered (kept lookups carry the tree of their day).
        known = self._tree_size.get(name, 0)
        newest = max(known, size)
        self._tree_size[name] = newest
        tiles = tree_tiles(min(known, size), newest) + record_tiles(record_id, newest)
        for tile in dict.fromkeys(tiles):
            sub = tile.path()
            if f"{name}/{sub}" not in self._scheduled:
                self._schedule("tile", name, sub, headers)

    def _schedule(self, kind: str, name: str, sub: str, headers: Headers) -> None:
        key = f"{name}/{sub}"
        if not self._remember(key):
            return
        self._expire()
        if self._outstanding >= self._options.budget:
            self._decided(kind, name, sub, "budget")
            return
        if len(self._tasks) >= self._options.queue:
            self._decided(kind, name, sub, "queue")
            return
        self._decided(kind, name, sub, "scheduled")
        task = asyncio.create_task(self._run(kind, name, sub, headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, kind: str, name: str, sub: str, headers: Headers) -> None:
        key = f"{name}/{sub}"
        self._running[key] = False
        try:
            async with self._slots:
                body = await self._relay.prefetch(name, sub, headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # not found, refused: the client will see it itself
            logger.debug("prefetch.failed kind=%s database=%s %s error=%s", kind, name, sub, exc)
            self._observer.sumdb_prefetch_decision(kind, "failed")
            return
        finally:
            asked = self._running.pop(key, False)
        if body is None:
            self._observer.sumdb_prefetch_decision(kind, "cached")
            return
        self._observer.sumdb_prefetch_decision(kind, "fetched")
        self._observer.sumdb_prefetch_bytes(kind, "prefetched", len(body))
        if asked:  # a client asked while it was being fetched (and joined the fetch)
            self._observer.sumdb_prefetch_bytes(kind, "used", len(body))
        else:
            self._unused[key] = (kind, len(body), self._clock())
            self._outstanding += len(body)
        if kind == "lookup":
            self._schedule_tiles(name, body, headers)

    def _remember(self, key: str) -> bool:
        """Remember ``key`` as handled; False when it was already."""
        if key in self._scheduled:
            return False
        self._scheduled[key] = None
        if len(self._scheduled) > _MEMORY:
            self._scheduled.popitem(last=False)
        return True

    def _decided(self, kind: str, name: str, sub: str, decision: str) -> None:
        self._observer.sumdb_prefetch_decision(kind, decision)
        logger.debug(
            "prefetch.decision kind=%s database=%s path=%s decision=%s", kind, name, sub, decision
        )

    # -- accounting -------------------------------------------------------------------------

    def _client_asked(self, key: str) -> None:
        if key in self._running:
            self._running[key] = True
            return
        entry = self._unused.pop(key, None)
        if entry is None:
            return
        kind, size, _ = entry
        self._outstanding -= size
        self._observer.sumdb_prefetch_bytes(kind, "used", size)

    def _expire(self) -> None:
        """Count prefetched answers nobody asked for in ``waste_after`` seconds as wasted."""
        limit = self._clock() - self._options.waste_after
        while self._unused:
            key, (kind, size, when) = next(iter(self._unused.items()))
            if when > limit:
                break
            del self._unused[key]
            self._outstanding -= size
            self._observer.sumdb_prefetch_bytes(kind, "wasted", size)

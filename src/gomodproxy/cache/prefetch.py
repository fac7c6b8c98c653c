"""Predictive prefetch: run ahead of the go command on a cold cache (issue 15, section 1).

The go command loads the module graph level by level, each ``.mod`` a round trip to a distant
upstream, and then downloads the zips of the selected versions. A proxy that reads go.mod files
knows what comes next:

- when a client is served a ``.mod`` (hit or miss), the ``.mod`` of the requirements the go
  command will read next (graph pruning: those of an unpruned go.mod, see :meth:`_expand`) is
  fetched in the background, and so on below them down to ``depth`` levels (not their
  ``.info``: while it loads the graph the go command asks for none, and most versions it reads
  are not the ones it selects, so in W2 the ``.info`` doubled the upstream requests for
  nothing);
- when zips are asked for (the pattern of ``go mod download``), the ``.info`` and zip of the
  highest version of every module whose ``.mod`` a client asked for are fetched too, once per
  module.

Every prefetch goes through the cache service's own fetch paths (:class:`PrefetchSource`), so
the rules of a normal miss hold unchanged: single flight (a file is never fetched twice, and a
client asking for a file being prefetched joins that fetch), the fetch slots, the storage lock,
the negative cache, the deny list, validation and checksum verification before anything is
kept. Modules the ``allowed`` predicate refuses (private patterns, ``--rules`` deny or direct
routes, ``--client-auth`` patterns: see :func:`gomodproxy.assembly.prefetch_allowed`) are never
prefetched, so their paths never go upstream on the proxy's initiative.

Bounds: at most ``fanout`` requirements of one go.mod, ``depth`` levels below a file a client
asked for, ``concurrency`` prefetches at once (the rest wait, at most ``queue`` of them, then
new ones are dropped), and ``budget`` bytes prefetched but not yet asked for by a client
(a prefetched file nobody asks for within ``waste_after`` seconds counts as wasted and leaves
the budget). Each decision is logged at DEBUG (``prefetch.decision``) and counted by the
:class:`PrefetchObserver`.

A :class:`ModListener` (the checksum-database prefetch of the relay,
:mod:`gomodproxy.server.sumdbprefetch`) is told of every ``.mod`` served to a client or
prefetched: the go command looks up in the checksum database each go.mod it downloads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gomodproxy.module import semver
from gomodproxy.module.modfile import parse_lax
from gomodproxy.protocol.files import file_key
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.versions import is_canonical

__all__ = [
    "ModListener",
    "NullPrefetchObserver",
    "PrefetchObserver",
    "PrefetchOptions",
    "PrefetchSource",
    "Prefetcher",
]

logger = logging.getLogger(__name__)

_MIB = 1 << 20
#: How many module versions (and file keys) the prefetcher remembers having handled.
_MEMORY = 50_000
#: How long after the last zip request the clients count as downloading zips, in seconds.
_DOWNLOAD_WINDOW = 60.0

Headers = Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class PrefetchOptions:
    """The prefetch settings (``--prefetch`` and the ``--prefetch-*`` bounds)."""

    enabled: bool = False
    #: Requirements of one go.mod prefetched at most.
    fanout: int = 128
    #: Levels of requirements below a ``.mod`` a client asked for.
    depth: int = 2
    #: Prefetches running at once.
    concurrency: int = 16
    #: Bytes prefetched and not (yet) asked for by a client, at most.
    budget: int = 512 * _MIB
    #: Whether zips are prefetched once clients download zips.
    zips: bool = True
    #: Prefetches waiting for a place, at most (more are dropped).
    queue: int = 8192
    #: Seconds after which a prefetched file no client asked for counts as wasted.
    waste_after: float = 600.0


class PrefetchSource(Protocol):
    """The cache service's fetch paths, as the prefetcher uses them."""

    async def prefetch_file(
        self, path: str, version: str, kind: FileKind, headers: Headers
    ) -> tuple[bytes, bool] | None:
        """A ``.info`` or ``.mod`` fetched and kept as a client's miss would be: its bytes and
        whether this call fetched them (False: already cached or fetched by another caller);
        None when such a file could not be kept (a ``.mod`` no checksum database proves)."""
        ...

    async def prefetch_zip(self, path: str, version: str, headers: Headers) -> int | None:
        """Fetch, verify and store the zip as a client's miss would; its size when this call
        fetched it, None when it was stored or in flight already."""
        ...


class PrefetchObserver(Protocol):
    """Told about prefetch decisions and bytes (the server's metrics implement this)."""

    def prefetch_decision(self, kind: FileKind, decision: str) -> None:
        """A file was considered: ``scheduled``, ``seen``, ``refused``, ``fanout``,
        ``budget``, ``queue``, ``depth``; or a scheduled one ended: ``fetched``, ``cached``,
        ``failed``."""
        ...

    def prefetch_bytes(self, kind: FileKind, outcome: str, size: int) -> None:
        """``prefetched`` bytes fetched ahead, later ``used`` (a client asked) or ``wasted``."""
        ...


class ModListener(Protocol):
    """Told of each go.mod served to a client or prefetched (while prefetch is on)."""

    def mod_seen(self, path: str, version: str, headers: Headers) -> None:
        """The go.mod of ``path@version`` was served or prefetched."""
        ...


class NullPrefetchObserver:
    """Observes nothing."""

    def prefetch_decision(self, kind: FileKind, decision: str) -> None:
        """Ignored."""

    def prefetch_bytes(self, kind: FileKind, outcome: str, size: int) -> None:
        """Ignored."""


def _pruned(go_version: str) -> bool:
    """Whether a go.mod's ``go`` version allows graph pruning (1.17 or later; none is 1.16)."""
    parts = go_version.split(".")
    try:
        major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (1, 17)


class _Memory:
    """A bounded set (oldest forgotten first)."""

    def __init__(self, size: int = _MEMORY) -> None:
        self._items: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, item: str) -> bool:
        """Remember ``item``; False when it was remembered already."""
        if item in self._items:
            return False
        self._items[item] = None
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return True


class Prefetcher:
    """Schedules prefetches as clients are served (see the module docstring)."""

    def __init__(
        self,
        source: PrefetchSource,
        options: PrefetchOptions,
        *,
        allowed: Callable[[str, str], bool],
        observer: PrefetchObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._options = options
        self._allowed = allowed
        self._observer: PrefetchObserver = observer or NullPrefetchObserver()
        self._clock = clock
        self._slots = asyncio.Semaphore(max(1, options.concurrency))
        # Zips take a quarter of the places: each costs the proxy's threads seconds of
        # hashing, and the clients' own misses wait for the same threads.
        self._zip_slots = asyncio.Semaphore(max(1, options.concurrency // 4))
        #: Prefetches in flight: key → whether a client asked for the file meanwhile.
        self._running: dict[str, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduled = _Memory()
        self._expanded = _Memory()
        #: Prefetched files no client asked for yet: key → (kind, size, when fetched).
        self._unused: OrderedDict[str, tuple[FileKind, int, float]] = OrderedDict()
        self._outstanding = 0
        #: The highest version of each module whose .mod a client asked for.
        self._asked: OrderedDict[str, str] = OrderedDict()
        self._download_until = float("-inf")
        #: Told of the go.mod files served and prefetched (the checksum-database prefetch).
        self.mod_listener: ModListener | None = None

    @property
    def enabled(self) -> bool:
        """Whether anything is prefetched."""
        return self._options.enabled

    @property
    def outstanding_bytes(self) -> int:
        """Bytes prefetched and not yet asked for (counted against the budget)."""
        return self._outstanding

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

    # -- what clients ask for ----------------------------------------------------------------

    def mod_served(self, path: str, version: str, data: bytes, headers: Headers) -> None:
        """A client was served the go.mod of ``path@version``."""
        self._client_asked(file_key(path, version, FileKind.MOD.value))
        if not self._options.enabled or not is_canonical(version):
            return
        if self.mod_listener is not None:
            self.mod_listener.mod_seen(path, version, headers)
        known = self._asked.get(path)
        if known != version and (known is None or semver.compare(version, known) > 0):
            self._asked[path] = version
            self._asked.move_to_end(path)
            if len(self._asked) > _MEMORY:
                self._asked.popitem(last=False)
            if self._downloading():
                self._schedule_download(path, version, headers)
        self._expand(path, version, data, 0, headers)

    def info_served(self, path: str, version: str) -> None:
        """A client was served the ``.info`` of ``path@version``."""
        self._client_asked(file_key(path, version, FileKind.INFO.value))

    def zip_requested(self, path: str, version: str, headers: Headers) -> None:
        """A client asked for the zip of ``path@version``: clients download zips now."""
        self._client_asked(file_key(path, version, FileKind.ZIP.value))
        if not self._options.enabled or not self._options.zips:
            return
        self._scheduled.add(file_key(path, version, FileKind.ZIP.value))
        started = not self._downloading()
        self._download_until = self._clock() + _DOWNLOAD_WINDOW
        if started:
            for module, newest in list(self._asked.items()):
                self._schedule_download(module, newest, headers)

    # -- scheduling -------------------------------------------------------------------------

    def _downloading(self) -> bool:
        return self._options.zips and self._clock() < self._download_until

    def _schedule_download(self, path: str, version: str, headers: Headers) -> None:
        """What ``go mod download`` asks for a module it downloads: its ``.info`` and zip."""
        self._schedule(FileKind.INFO, path, version, 0, headers)
        self._schedule(FileKind.ZIP, path, version, 0, headers)

    def _expand(
        self,
        path: str,
        version: str,
        data: bytes,
        depth: int,
        headers: Headers,
        below_unpruned: bool = False,
    ) -> None:
        """Schedule the requirements of the go.mod ``data`` of ``path@version`` that the go
        command will read: graph pruning (``readModGraph`` in cmd/go's modload) reads the
        requirements of a go.mod only when it is unpruned (``go`` older than 1.17) or was
        reached through an unpruned one; a pruned go.mod lists everything its module needs, so
        its requirements' go.mod files are never read (for a main module at go 1.17 or later,
        today's rule)."""
        if depth >= self._options.depth:
            return
        try:
            parsed = parse_lax(f"{path}@{version}/go.mod", data)
        except Exception as exc:  # the go command will report it; nothing to run ahead of
            logger.debug("prefetch.unparsed module=%s@%s error=%s", path, version, exc)
            return
        unpruned = below_unpruned or not _pruned(parsed.go.version if parsed.go else "")
        if not unpruned:
            return
        if not self._expanded.add(f"{path}@{version}"):
            return
        requires = parsed.require
        for n, req in enumerate(requires):
            if n >= self._options.fanout:
                self._decided(FileKind.MOD, req.mod.path, req.mod.version, "fanout", depth + 1)
                continue
            # Only the .mod: while it loads the graph the go command asks for nothing else,
            # and most versions it reads are not the ones it selects (their .info is waste).
            self._schedule(FileKind.MOD, req.mod.path, req.mod.version, depth + 1, headers)

    def _schedule(
        self, kind: FileKind, path: str, version: str, depth: int, headers: Headers
    ) -> None:
        key = file_key(path, version, kind.value)
        if not is_canonical(version):
            self._decided(kind, path, version, "refused", depth)
            return
        if not self._scheduled.add(key):
            return  # handled already: not worth a log line each time
        if not self._allowed(path, version):
            self._decided(kind, path, version, "refused", depth)
            return
        self._expire()
        if self._outstanding >= self._options.budget:
            self._decided(kind, path, version, "budget", depth)
            return
        if len(self._tasks) >= self._options.queue:
            self._decided(kind, path, version, "queue", depth)
            return
        self._decided(kind, path, version, "scheduled", depth)
        task = asyncio.create_task(self._run(kind, path, version, depth, headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, kind: FileKind, path: str, version: str, depth: int, headers: Headers
    ) -> None:
        key = file_key(path, version, kind.value)
        self._running[key] = False
        try:
            if kind is FileKind.ZIP:
                async with self._zip_slots, self._slots:
                    size = await self._source.prefetch_zip(path, version, headers)
                got = None
            else:
                async with self._slots:
                    got = await self._source.prefetch_file(path, version, kind, headers)
                size = len(got[0]) if got is not None and got[1] else None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a not-found, a refused file: the client will see it itself
            logger.debug(
                "prefetch.failed kind=%s module=%s@%s error=%s", kind.value, path, version, exc
            )
            self._observer.prefetch_decision(kind, "failed")
            return
        finally:
            asked = self._running.pop(key, False)
        if size is None:
            self._observer.prefetch_decision(kind, "cached")
        else:
            self._observer.prefetch_decision(kind, "fetched")
            self._observer.prefetch_bytes(kind, "prefetched", size)
            if asked:  # a client asked while it was being fetched (and joined the fetch)
                self._observer.prefetch_bytes(kind, "used", size)
            else:
                self._unused[key] = (kind, size, self._clock())
                self._outstanding += size
        if kind is FileKind.MOD and got is not None:
            if self.mod_listener is not None:
                self.mod_listener.mod_seen(path, version, headers)
            self._expand(path, version, got[0], depth, headers, below_unpruned=True)

    def _decided(self, kind: FileKind, path: str, version: str, decision: str, depth: int) -> None:
        self._observer.prefetch_decision(kind, decision)
        logger.debug(
            "prefetch.decision kind=%s module=%s@%s depth=%d decision=%s",
            kind.value,
            path,
            version,
            depth,
            decision,
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
        self._observer.prefetch_bytes(kind, "used", size)

    def _expire(self) -> None:
        """Count prefetched files nobody asked for in ``waste_after`` seconds as wasted."""
        limit = self._clock() - self._options.waste_after
        while self._unused:
            key, (kind, size, when) = next(iter(self._unused.items()))
            if when > limit:
                break
            del self._unused[key]
            self._outstanding -= size
            self._observer.prefetch_bytes(kind, "wasted", size)

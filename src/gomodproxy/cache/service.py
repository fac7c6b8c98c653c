"""The module service: storage + upstream chain + validation + checksum verification.

Every file of the GOPROXY protocol goes through here:

- ``.info``, ``.mod`` (canonical versions) and ``.zip`` are immutable: served from a bounded
  in-memory LRU (small files) or storage when present; otherwise fetched once, however many
  requests ask at the same time (in-process singleflight, then the storage's cross-process
  lock and a re-check, Go's ``lockVersion`` pattern), validated, verified against the checksum
  database unless GONOSUMDB/GOPRIVATE match or GOSUMDB is off, and only then stored. The first
  verified copy wins and is never overwritten (INV-2).
- The zip streams to its first clients while it is fetched, except its last bytes, which are
  released only once the whole zip is verified (see :mod:`gomodproxy.cache.zipflight`).
- ``list`` and ``@latest`` are answered by :class:`~gomodproxy.cache.listing.Listings`.
- A definite not-found from the upstreams is remembered briefly by exact path; transient
  failures are never remembered.
- A version an operator removed with ``cache rm`` is denied (403 with the reason) and never
  fetched again (see :mod:`gomodproxy.cache.denylist`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from gomodproxy.cache.access import AccessRecorder
from gomodproxy.cache.denylist import DenyList
from gomodproxy.cache.events import CacheObserver, NullObserver
from gomodproxy.cache.hotcache import HotCache
from gomodproxy.cache.limits import FetchLimiter
from gomodproxy.cache.listing import Listings
from gomodproxy.cache.negative import NegativeCache
from gomodproxy.cache.prefetch import Prefetcher
from gomodproxy.cache.validate import validate_zip, zip_go_mod
from gomodproxy.cache.zipflight import ZipFlight, ZipReader
from gomodproxy.errors import (
    ChecksumMismatch,
    ModuleDenied,
    ModuleNotFound,
    ProxyError,
    SumDBError,
    UpstreamTimeout,
)
from gomodproxy.module.dirhash import hash_go_mod
from gomodproxy.protocol.answers import InvalidUpstreamContent, validate_info, validate_mod
from gomodproxy.protocol.files import file_key, list_key
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.singleflight import SingleFlight
from gomodproxy.storage.base import (
    CorruptObject,
    ObjectInfo,
    ObjectNotFound,
    ObjectReader,
    ObjectStore,
    Presigner,
)
from gomodproxy.storage.locks import ExpiringValues, Locks
from gomodproxy.sumdb.gosumdb import use_sumdb
from gomodproxy.upstream.chain import UpstreamChain

__all__ = [
    "ChecksumPolicy",
    "ChecksumVerifier",
    "ModFile",
    "ModuleService",
    "ServiceOptions",
    "StoredZip",
    "StreamingZip",
    "ZipSource",
]

logger = logging.getLogger(__name__)

_MIB = 1 << 20


class ChecksumVerifier(Protocol):
    """The checksum database's verifier (``gomodproxy.sumdb.client.SumDBClient``)."""

    async def verify(self, path: str, version: str, kind: Literal["zip", "mod"], h1: str) -> None:
        """Return if the database lists ``h1``; raise ChecksumMismatch/SumDBError otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class ChecksumPolicy:
    """Which modules are verified: all but GONOSUMDB (after GOPRIVATE defaulting) matches.

    ``verifier`` None means GOSUMDB=off. ``golang.org/toolchain`` is always verified
    (``useSumDB``) unless the upstream is a single ``file://`` entry.
    """

    verifier: ChecksumVerifier | None
    gonosumdb: str = ""
    goproxy_is_single_file: bool = False

    def applies_to(self, path: str) -> bool:
        """Whether ``path`` must be verified."""
        gosumdb = "off" if self.verifier is None else "on"
        return use_sumdb(path, gosumdb, self.gonosumdb, self.goproxy_is_single_file)


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Tunables of the cache service (TTLs in seconds, sizes in bytes)."""

    list_ttl: float = 60.0
    negative_ttl: float = 60.0
    negative_entries: int = 10_000
    hot_bytes: int = 64 * _MIB
    hot_item: int = 1 * _MIB
    holdback: int = 64 * 1024
    max_fetches: int = 64
    queue_timeout: float = 30.0
    #: Longest wait for another process's fetch of the same file (its lock), in seconds.
    lock_wait: float = 700.0


@dataclass(frozen=True, slots=True)
class ModFile:
    """A ``.mod`` and whether it is kept: False for a module no checksum database proves whose
    zip has not been checked against it yet (answer it ``no-store``)."""

    data: bytes
    kept: bool


@dataclass(frozen=True, slots=True)
class StoredZip:
    """The zip is in storage, opened: serve it from ``reader`` (ranges and conditionals
    possible; ``reader.info`` has its size and hash)."""

    reader: ObjectReader

    @property
    def info(self) -> ObjectInfo:
        """The stored zip's size and hash."""
        return self.reader.info


@dataclass(frozen=True, slots=True)
class StreamingZip:
    """The zip is being fetched: stream it from the flight; close ``reader`` when done."""

    reader: ZipReader
    content_length: int | None


ZipSource = StoredZip | StreamingZip


class ModuleService:
    """Answers the GOPROXY protocol from cache and upstreams (see the module docstring)."""

    def __init__(
        self,
        storage: ObjectStore,
        chain: UpstreamChain,
        *,
        checksums: ChecksumPolicy,
        locks: Locks,
        spool_dir: Path | None = None,
        options: ServiceOptions | None = None,
        observer: CacheObserver | None = None,
        shared_values: ExpiringValues | None = None,
    ) -> None:
        self._storage = storage
        self._locks = locks
        self._chain = chain
        self._checksums = checksums
        self._spool_dir = spool_dir if spool_dir is not None else storage.spool_dir
        self._options = options or ServiceOptions()
        self._observer: CacheObserver = observer or NullObserver()
        self._negative = NegativeCache(
            self._options.negative_ttl, self._options.negative_entries, shared=shared_values
        )
        self._limiter = FetchLimiter(self._options.max_fetches, self._options.queue_timeout)
        self._hot = HotCache(self._options.hot_bytes, self._options.hot_item)
        self._files: SingleFlight[bytes] = SingleFlight(on_join=self._joined)
        self._zips: dict[str, ZipFlight] = {}
        self._producers: set[asyncio.Task[None]] = set()
        #: Runs ahead of clients (see :mod:`gomodproxy.cache.prefetch`); None: no prefetch.
        self.prefetcher: Prefetcher | None = None
        #: Versions removed by ``cache rm``; refresh it with ``deny.watch_forever``.
        self.deny = DenyList(storage)
        #: Last access of each version, for eviction (written at most hourly per version).
        self.access = AccessRecorder(storage)
        self.listings = Listings(
            storage,
            chain,
            self._negative,
            ttl=self._options.list_ttl,
            limiter=self._limiter,
            stat=self.info,
            deny=self.deny,
            observer=self._observer,
        )

    @property
    def storage(self) -> ObjectStore:
        """The storage files are served from."""
        return self._storage

    @property
    def fetches_in_flight(self) -> int:
        """Fetches of immutable files running now."""
        return len(self._files) + len(self._zips)

    def forget_not_found(self) -> None:
        """Forget the remembered not-found answers (a reload of the settings may find them)."""
        self._negative.clear()

    async def close(self) -> None:
        """Cancel fetches in flight (server shutdown)."""
        if self.prefetcher is not None:
            await self.prefetcher.close()
        for task in list(self._producers):
            task.cancel()
        await asyncio.gather(*self._producers, return_exceptions=True)
        await self._files.cancel_all()
        await self.listings.close()
        await self.access.close()

    # -- list and @latest -------------------------------------------------------------------

    async def list(self, path: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The ``@v/list`` body: upstream versions (cleaned) merged with stored ones."""
        self.deny.check(path)
        return await self.listings.versions(path, headers=headers)

    async def latest(self, path: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The ``@latest`` body."""
        self.deny.check(path)
        return await self.listings.latest(path, headers=headers)

    # -- .info and .mod ---------------------------------------------------------------------

    async def info(
        self, path: str, version: str, *, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """The ``.info`` of ``version``: cached for canonical versions, resolved for queries."""
        self.deny.check(path, version)
        if not is_canonical(version):
            return await self._query_info(path, version, headers)
        data = await self._small_file(path, version, FileKind.INFO, headers)
        if self.prefetcher is not None:
            self.prefetcher.info_served(path, version)
        return data

    async def mod(
        self, path: str, version: str, *, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """The go.mod of a canonical ``version``."""
        return (await self.mod_file(path, version, headers=headers)).data

    async def mod_file(
        self, path: str, version: str, *, headers: Mapping[str, str] | None = None
    ) -> ModFile:
        """The go.mod of a canonical ``version``, and whether it is kept (see :class:`ModFile`)."""
        key = file_key(path, version, FileKind.MOD.value)
        data = await self._small_file(path, version, FileKind.MOD, headers)
        if self.prefetcher is not None:
            self.prefetcher.mod_served(path, version, data, headers)
        if self._checksums.applies_to(path) or self._hot.get(key) is not None:
            return ModFile(data, kept=True)
        return ModFile(data, kept=await self._storage.stat(key) is not None)

    def hot_small(
        self, path: str, version: str, kind: FileKind, headers: Mapping[str, str] | None
    ) -> bytes | None:
        """The ``.info`` or ``.mod`` of a canonical ``version`` if memory holds it, counted as a
        hit with all of a hit's bookkeeping (hit metric, access record, prefetch hooks); None
        when memory does not hold it or a deny entry covers it (the full path then answers and
        says why). For the hit lane (:mod:`gomodproxy.server.hitlane`): never waits."""
        if self.deny.denied(path, version) is not None:
            return None
        key = file_key(path, version, kind.value)
        data = self._hot.get(key)
        if data is None:
            return None
        self._observer.cache_result(kind, True)  # get() marked it recently used
        self.access.touch(path, version)
        if self.prefetcher is not None:
            if kind is FileKind.INFO:
                self.prefetcher.info_served(path, version)
            else:
                self.prefetcher.mod_served(path, version, data, headers)
        return data

    async def _small_file(
        self, path: str, version: str, kind: FileKind, headers: Mapping[str, str] | None
    ) -> bytes:
        self.deny.check(path, version)
        key = file_key(path, version, kind.value)
        data = self._hot.get(key)
        if data is None:
            data = await self._stored(key)
        if data is not None:
            self._observer.cache_result(kind, True)
            self._hot.put(key, data)
            self.access.touch(path, version)
            return data
        self._observer.cache_result(kind, False)
        remembered = await self._negative.lookup(key)
        if remembered is not None:
            raise remembered
        data = await self._files.do(
            key, lambda: self._fetch_small(path, version, kind, key, headers)
        )
        if not self._provisional(path, kind):
            self._hot.put(key, data)
        return data

    def _provisional(self, path: str, kind: FileKind) -> bool:
        """A .mod that no checksum database can prove is kept only with its zip (see
        :meth:`_check_mod_matches_zip`); until then it is passed on, not stored."""
        return kind is FileKind.MOD and not self._checksums.applies_to(path)

    async def _fetch_small(
        self,
        path: str,
        version: str,
        kind: FileKind,
        key: str,
        headers: Mapping[str, str] | None,
    ) -> bytes:
        self._observer.fetch_started(kind, False)
        try:
            async with self._fetch_lock(key):
                existing = await self._stored(key)
                if existing is not None:
                    return existing  # another process stored it while we waited
                await self.deny.check_stored(path, version)
                try:
                    async with self._limiter.slot():
                        if kind is FileKind.INFO:
                            fetched = await self._chain.info(path, version, headers=headers)
                        else:
                            fetched = await self._chain.mod(path, version, headers=headers)
                except ModuleNotFound as exc:
                    await self._negative.record(key, exc)
                    raise
                if kind is FileKind.INFO:
                    validate_info(fetched.data, path, version, upstream=fetched.upstream)
                else:
                    validate_mod(fetched.data, path, version, upstream=fetched.upstream)
                    await self._verify(
                        path, version, "mod", hash_go_mod(fetched.data), fetched.upstream
                    )
                if self._provisional(path, kind):
                    logger.info("cache.passed_unkept key=%s upstream=%s", key, fetched.upstream)
                    return fetched.data
                await self._storage.put(key, fetched.data)
            if kind is FileKind.MOD:
                async with self._locks.lock(list_key(path)):
                    await self.listings.record_stored_version(path, version)
            logger.info("cache.stored key=%s upstream=%s", key, fetched.upstream)
            return fetched.data
        finally:
            self._observer.fetch_finished(kind)

    @contextlib.asynccontextmanager
    async def _fetch_lock(self, key: str) -> AsyncIterator[None]:
        """The storage lock of ``key``, waited for at most ``lock_wait`` seconds.

        Another process (a worker sharing the cache) holding it is fetching the same file; its
        fetch has deadlines of its own, so a wait this long means that process is stuck.
        """
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(self._options.lock_wait):
                    await stack.enter_async_context(self._locks.lock(key))
            except TimeoutError:
                raise UpstreamTimeout(
                    f"{key}: another process sharing the cache has been fetching it for over "
                    f"{self._options.lock_wait:g} s; try again later",
                    upstream="another process sharing the cache",
                ) from None
            yield

    async def _query_info(self, path: str, query: str, headers: Mapping[str, str] | None) -> bytes:
        """A non-canonical ``.info`` (branch, commit, partial version): always asked upstream.

        The answer names a canonical version; its ``.info`` is kept if we had none.
        """
        rel = f"{file_key(path, query, 'info')}"
        remembered = await self._negative.lookup(rel)
        if remembered is not None:
            raise remembered

        async def resolve() -> bytes:
            try:
                async with self._limiter.slot():
                    fetched = await self._chain.info(path, query, headers=headers)
            except ModuleNotFound as exc:
                await self._negative.record(rel, exc)
                raise
            resolved = validate_info(fetched.data, path, query, upstream=fetched.upstream)
            key = file_key(path, resolved, "info")
            async with self._locks.lock(key):
                await self.deny.check_stored(path, resolved)
                if await self._storage.stat(key) is None:
                    await self._storage.put(key, fetched.data)
            return fetched.data

        self._observer.cache_result(FileKind.INFO, False)
        return await self._files.do(rel, resolve)

    # -- .zip -------------------------------------------------------------------------------

    async def zip_url(self, path: str, version: str, expires: float) -> str | None:
        """A presigned URL of the stored (so verified) zip, valid ``expires`` seconds; None
        when the store cannot sign URLs or the zip is not stored yet (then stream it)."""
        if not isinstance(self._storage, Presigner):
            return None
        return await self._storage.presigned_url(
            file_key(path, version, FileKind.ZIP.value), expires
        )

    @contextlib.asynccontextmanager
    async def open_zip(
        self,
        path: str,
        version: str,
        *,
        whole: bool = False,
        checked: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[ZipSource]:
        """The zip, opened for the block's duration: a stored copy (one open, its info with it)
        or, on a miss, the fetch in flight (starting one) to stream from.

        ``whole``: wait for the verified, stored zip (HEAD, ranges, conditionals, verify-first).
        ``checked``: the stored copy's hash is checked before it is handed out, so bytes from
        anywhere in it may be sent (ranges). A stored copy found corrupt on open is quarantined
        and fetched again here, once; the caller only translates to HTTP. Entering raises the
        fetch's error (a not-found, a refused zip) before any byte is handed out.
        """
        self.deny.check(path, version)
        key = file_key(path, version, "zip")
        if self.prefetcher is not None:
            self.prefetcher.zip_requested(path, version, headers)
        async with contextlib.AsyncExitStack() as stack:
            yield await self._zip_source(stack, path, version, key, whole, checked, headers)

    async def _zip_source(
        self,
        stack: contextlib.AsyncExitStack,
        path: str,
        version: str,
        key: str,
        whole: bool,
        checked: bool,
        headers: Mapping[str, str] | None,
    ) -> ZipSource:
        counted = False
        for _ in range(3):
            reader = await self._open_stored(stack, key, checked)
            if not counted:
                self._observer.cache_result(FileKind.ZIP, reader is not None)
                counted = True
            if reader is not None:
                self.access.touch(path, version)
                return StoredZip(reader)
            flight = self._zip_flight(path, version, key, headers)
            if whole:
                await flight.wait_finished()
                if flight.failed:
                    assert flight.error is not None
                    raise flight.error
                continue  # stored and verified: open it
            zip_reader = flight.open_reader()
            stack.callback(zip_reader.close)
            await flight.wait_started()
            if flight.failed:
                assert flight.error is not None
                raise flight.error
            if flight.done and flight.written == 0:
                continue  # another process had stored it: serve from storage
            return StreamingZip(zip_reader, flight.content_length)
        raise ProxyError(f"{key}: the stored zip keeps failing its check; see the proxy's log")

    async def _open_stored(
        self, stack: contextlib.AsyncExitStack, key: str, checked: bool
    ) -> ObjectReader | None:
        """Open the stored zip into ``stack`` (checked whole first when asked); None when it is
        missing or was found corrupt (then quarantined by the backend, so it is fetched anew)."""
        inner = contextlib.AsyncExitStack()
        try:
            reader = await inner.enter_async_context(self._storage.open(key))
            if checked:
                async for _ in reader.chunks():
                    pass
        except ObjectNotFound:
            await inner.aclose()
            return None
        except CorruptObject as exc:
            await inner.aclose()
            logger.warning("zip.refetch key=%s reason=%s", key, exc.reason)
            return None
        except BaseException:
            await inner.aclose()
            raise
        stack.push_async_callback(inner.aclose)
        return reader

    async def zip_stored(
        self, path: str, version: str, *, headers: Mapping[str, str] | None = None
    ) -> ObjectInfo:
        """Make sure the zip is stored (fetching it if needed) and return its record."""
        self.deny.check(path, version)
        key = file_key(path, version, "zip")
        stored = await self._storage.stat(key)
        if stored is not None:
            self._observer.cache_result(FileKind.ZIP, True)
            self.access.touch(path, version)
            return stored
        self._observer.cache_result(FileKind.ZIP, False)
        flight = self._zip_flight(path, version, key, headers)
        await flight.wait_finished()
        if flight.failed:
            assert flight.error is not None
            raise flight.error
        assert flight.stored is not None
        return flight.stored

    def _zip_flight(
        self, path: str, version: str, key: str, headers: Mapping[str, str] | None
    ) -> ZipFlight:
        """The flight fetching ``key``, started if there is none. No await: no race."""
        flight = self._zips.get(key)
        if flight is not None:
            self._joined(key)
            return flight
        remembered = self._negative.get(key)
        if remembered is not None:
            raise remembered
        spool = self._spool_dir / f"{secrets.token_hex(8)}.zip"
        flight = ZipFlight(key, spool, holdback=self._options.holdback)
        self._zips[key] = flight
        self._observer.fetch_started(FileKind.ZIP, False)
        task = asyncio.create_task(self._produce_zip(flight, path, version, headers))
        self._producers.add(task)
        task.add_done_callback(self._producers.discard)
        return flight

    async def _produce_zip(
        self, flight: ZipFlight, path: str, version: str, headers: Mapping[str, str] | None
    ) -> None:
        key = flight.key
        try:
            shared = await self._negative.lookup(key)  # another replica's not-found
            if shared is not None:
                raise shared
            await flight.create_spool()
            async with self._fetch_lock(key):
                existing = await self._storage.stat(key)
                if existing is not None:
                    flight.finish(existing)
                    return
                await self.deny.check_stored(path, version)
                try:
                    async with (
                        self._limiter.slot(),
                        self._chain.zip(path, version, headers=headers) as up,
                    ):
                        flight.begin(up.body.content_length, up.upstream)
                        async for chunk in up.body.chunks():
                            await flight.append(chunk)
                except ModuleNotFound as exc:
                    await self._negative.record(key, exc)
                    raise
                h1 = await asyncio.to_thread(
                    validate_zip, flight.spool, path, version, upstream=flight.upstream
                )
                if self._checksums.applies_to(path):
                    await self._verify(path, version, "zip", h1, flight.upstream)
                else:
                    self._observer.verification(FileKind.ZIP, "skipped")
                    await self._check_mod_matches_zip(path, version, flight, headers)
                stored = await self._storage.put(key, flight.spooled())
            flight.finish(stored)
            logger.info(
                "cache.stored key=%s upstream=%s size=%d", key, flight.upstream, stored.size
            )
        except asyncio.CancelledError as exc:
            flight.fail(ProxyError(f"fetch of {key} was cancelled (server shutting down)"))
            raise exc
        except ModuleNotFound as exc:
            logger.debug("cache.zip_not_found key=%s error=%s", key, exc)
            flight.fail(exc)
        except ModuleDenied as exc:
            logger.info("cache.denied key=%s", key)
            flight.fail(exc)
        except ProxyError as exc:
            logger.warning("cache.zip_failed key=%s error=%s", key, exc)
            flight.fail(exc)
        except Exception as exc:
            logger.exception("cache.zip_crashed key=%s", key)
            flight.fail(exc)
        finally:
            if self._zips.get(key) is flight:
                del self._zips[key]
            self._observer.fetch_finished(FileKind.ZIP)

    async def _check_mod_matches_zip(
        self,
        path: str,
        version: str,
        flight: ZipFlight,
        headers: Mapping[str, str] | None,
    ) -> None:
        """Without a checksum database nothing else ties the .mod to the zip (catalogue B23):
        the zip's go.mod (or the synthesized one when it has none) must be the .mod."""
        mod = await self._small_file(path, version, FileKind.MOD, headers)
        in_zip = await asyncio.to_thread(zip_go_mod, flight.spool, path, version)
        expected = in_zip if in_zip is not None else f"module {path}\n".encode()
        if mod != expected:
            raise InvalidUpstreamContent(
                f"{path}@{version} .zip",
                "the go.mod in the zip differs from the .mod served for this version",
                upstream=flight.upstream,
            )
        # Consistent by construction: the .mod is kept only now, together with its zip, so a
        # tampered .mod can never be stored alone and lock out every honest zip.
        mod_key = file_key(path, version, FileKind.MOD.value)
        async with self._locks.lock(mod_key):
            if await self._storage.stat(mod_key) is None:
                await self._storage.put(mod_key, mod)
                logger.info("cache.stored key=%s upstream=%s", mod_key, flight.upstream)
        async with self._locks.lock(list_key(path)):
            await self.listings.record_stored_version(path, version)

    # -- prefetch (the :class:`~gomodproxy.cache.prefetch.PrefetchSource` seam) ---------------

    async def prefetch_file(
        self, path: str, version: str, kind: FileKind, headers: Mapping[str, str] | None
    ) -> tuple[bytes, bool] | None:
        """A ``.info``/``.mod`` fetched ahead of a client, by the same path as a miss; its bytes
        and whether this call fetched them; None for a ``.mod`` that would not be kept."""
        self.deny.check(path, version)
        if self._provisional(path, kind):
            return None
        key = file_key(path, version, kind.value)
        data = self._hot.get(key)
        if data is None:
            data = await self._stored(key)
        if data is not None:
            self._hot.put(key, data)
            return data, False
        remembered = await self._negative.lookup(key)
        if remembered is not None:
            raise remembered
        joined = key in self._files  # no await until do(): a client's fetch is joined
        data = await self._files.do(
            key, lambda: self._fetch_small(path, version, kind, key, headers)
        )
        self._hot.put(key, data)
        return data, not joined

    async def prefetch_zip(
        self, path: str, version: str, headers: Mapping[str, str] | None
    ) -> int | None:
        """The zip fetched, verified and stored ahead of a client (a client asking meanwhile
        joins the flight); its size, or None when stored or in flight already."""
        self.deny.check(path, version)
        key = file_key(path, version, FileKind.ZIP.value)
        if key in self._zips or await self._storage.stat(key) is not None:
            return None
        if key in self._zips:  # a client's fetch began while we looked: it is that one
            return None
        flight = self._zip_flight(path, version, key, headers)
        await flight.wait_finished()
        if flight.failed:
            assert flight.error is not None
            raise flight.error
        return flight.written or None

    # -- shared -----------------------------------------------------------------------------

    async def _stored(self, key: str) -> bytes | None:
        try:
            return await self._storage.get(key)
        except ObjectNotFound:
            return None
        except CorruptObject as exc:
            logger.error("cache.corrupt_refetch key=%s reason=%s", key, exc.reason)
            return None

    async def _verify(
        self, path: str, version: str, kind: Literal["zip", "mod"], h1: str, upstream: str = ""
    ) -> None:
        file_kind = FileKind.ZIP if kind == "zip" else FileKind.MOD
        if not self._checksums.applies_to(path):
            self._observer.verification(file_kind, "skipped")
            return
        verifier = self._checksums.verifier
        if verifier is None:
            self._observer.verification(file_kind, "error")
            raise SumDBError(
                f"{path}@{version}: this module must be verified by a checksum database, "
                "but GOSUMDB is off; configure a checksum database"
            )
        try:
            await verifier.verify(path, version, kind, h1)
        except ChecksumMismatch:
            self._observer.verification(file_kind, "mismatch")
            logger.error(
                "cache.checksum_mismatch module=%s@%s kind=%s upstream=%s",
                path,
                version,
                kind,
                upstream,
            )
            raise
        except ProxyError:
            self._observer.verification(file_kind, "error")
            raise
        self._observer.verification(file_kind, "ok")

    def _joined(self, key: str) -> None:
        kind = FileKind.ZIP if key.endswith(".zip") else FileKind.INFO
        if key.endswith(".mod"):
            kind = FileKind.MOD
        self._observer.fetch_started(kind, True)

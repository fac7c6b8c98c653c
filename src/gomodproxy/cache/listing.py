"""``@v/list`` and ``@latest``: mutable answers, cached briefly and merged with what we hold.

The upstream's answer is kept apart (``.gomodproxy/upstream/...``, never served as is) with its
fetch time. Freshness is measured on the monotonic clock of this process (fault catalogue I89),
so after a restart every kept answer counts as stale: usable when the upstreams fail, refreshed
at the first request otherwise. An answer in the last quarter of its TTL is refreshed in the
background while the cached one is served. A transient upstream failure falls back to the stale
answer (stale-if-error, H81); a definite not-found is remembered briefly.

The served list is the cleaned upstream list (``<version>[ <time>]`` lines, pseudo-versions
included) merged with every version whose go.mod we store (Athens merges the two, and the go
command's own cache lists pseudo-versions too), so what we can serve is always listed.

``@latest`` is the upstream's answer when it has one. When the upstreams answer not found, it is
what the go command computes from the list in that case (``proxy.go latestFromList``): the
newest line by time, then that version's ``.info``.

Versions denied by ``cache rm`` (:mod:`gomodproxy.cache.denylist`) are left out of both: an
upstream ``@latest`` naming one is answered as if the upstream had none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from gomodproxy.cache.denylist import DenyList
from gomodproxy.cache.keys import upstream_latest_key, upstream_list_key
from gomodproxy.cache.limits import FetchLimiter
from gomodproxy.cache.negative import NegativeCache
from gomodproxy.errors import ModuleNotFound, ProxyError, StorageError
from gomodproxy.module import semver
from gomodproxy.module.paths import escape_path, unescape_version
from gomodproxy.module.pseudo import is_pseudo_version
from gomodproxy.protocol.answers import (
    ListedVersion,
    clean_version_list,
    info_version,
    latest_listed,
    validate_info,
)
from gomodproxy.protocol.files import file_key, list_key, module_dir
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.singleflight import SingleFlight
from gomodproxy.storage.base import ObjectStore
from gomodproxy.upstream.chain import UpstreamChain

__all__ = ["Listings", "Stat", "format_list"]

logger = logging.getLogger(__name__)

_MAX_TRACKED = 100_000
_Fetch = Callable[[str, str, Mapping[str, str] | None], Awaitable[bytes]]
_REFRESH_AHEAD = 0.75


def format_list(versions: list[str]) -> bytes:
    """One version per line, each ending in a newline (empty list: empty body)."""
    return "".join(v + "\n" for v in versions).encode("ascii")


class Stat(Protocol):
    """Gives the ``.info`` of a canonical version (the cache service's ``info``)."""

    async def __call__(
        self, path: str, version: str, *, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """The ``.info`` body."""
        ...


class Listings:
    """Serves ``list`` and ``@latest`` for the cache service (see the module docstring)."""

    def __init__(
        self,
        storage: ObjectStore,
        chain: UpstreamChain,
        negative: NegativeCache,
        *,
        ttl: float,
        limiter: FetchLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        stat: Stat | None = None,
        deny: DenyList | None = None,
    ) -> None:
        self._storage = storage
        self._deny = deny if deny is not None else DenyList(storage)
        self._stat = stat
        self._chain = chain
        self._negative = negative
        self._ttl = ttl
        self._limiter = limiter or FetchLimiter(64, 30.0)
        self._clock = clock
        self._fetched: OrderedDict[str, float] = OrderedDict()
        self._flights: SingleFlight[bytes] = SingleFlight()
        self._background: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """Stop background refreshes and fetches in flight."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._flights.cancel_all()

    # -- list -------------------------------------------------------------------------------

    async def versions(self, path: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The ``@v/list`` body for ``path``."""
        listed, failure = await self._listed(path, headers)
        if not listed and failure is not None:
            raise failure
        return format_list([e.line for e in listed])

    async def _listed(
        self, path: str, headers: Mapping[str, str] | None
    ) -> tuple[list[ListedVersion], ProxyError | None]:
        """The served list's lines (semver order), and the upstreams' failure if they failed."""
        rel = f"{escape_path(path)}/@v/list"
        ukey = upstream_list_key(path)
        answer = await self._cached_answer(ukey, path, rel, headers, self._fetch_list)
        failure: ProxyError | None = None
        entries: dict[str, ListedVersion] = {}
        if isinstance(answer, ProxyError):
            failure = answer
        else:
            entries = {e.version: e for e in clean_version_list(answer, path)}
        for version in await self.stored_versions(path):
            entries.setdefault(version, ListedVersion(version))
        allowed = self._deny.allowed(path, semver.sort_versions(entries))
        return [entries[v] for v in allowed], failure

    async def stored_versions(self, path: str) -> set[str]:
        """The canonical versions (pseudo-versions included) whose go.mod we store."""
        out: set[str] = set()
        for key in await self._storage.list(module_dir(path)):
            name = key.rsplit("/", 1)[-1]
            if not name.endswith(".mod"):
                continue
            try:
                version = unescape_version(name[: -len(".mod")])
            except ProxyError:
                continue
            if is_canonical(version):
                out.add(version)
        return out

    async def record_stored_version(self, path: str, version: str) -> None:
        """Rewrite ``<E>/@v/list`` to include ``version`` (like the go command's cache).

        Call with the module's list lock held. Pseudo-versions are listed here, as the go
        command lists every version whose go.mod it holds.
        """
        key = list_key(path)
        try:
            current = (await self._storage.get(key)).decode("ascii", "replace").split()
        except (ModuleNotFound, StorageError):
            current = []
        versions = {v for v in current if is_canonical(v)}
        if version in versions:
            return
        versions.add(version)
        await self._storage.put(key, format_list(semver.sort_versions(versions)))

    async def _fetch_list(self, path: str, rel: str, headers: Mapping[str, str] | None) -> bytes:
        fetched = await self._chain.list(path, headers=headers)
        # Keep the cleaned list only: no injected line is ever stored.
        return format_list([e.line for e in clean_version_list(fetched.data, path)])

    # -- @latest ----------------------------------------------------------------------------

    async def latest(self, path: str, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The ``@latest`` body for ``path``: the upstream's answer, checked like an .info.

        Without one (not found), what the go command would compute from the list instead.
        """
        rel = f"{escape_path(path)}/@latest"
        ukey = upstream_latest_key(path)
        answer = await self._cached_answer(ukey, path, rel, headers, self._fetch_latest)
        if not isinstance(answer, ProxyError):
            if not self._deny.covers(path):
                return answer
            if self._deny.denied(path, info_version(answer, path, what=rel)) is None:
                return answer
            return await self._latest_from_list(path, headers)
        if isinstance(answer, ModuleNotFound):
            return await self._latest_from_list(path, headers)
        derived = await self._latest_from_storage(path)
        if derived is None:
            raise answer
        logger.warning("latest.derived_from_cache module=%s reason=%s", path, answer)
        return derived

    async def _fetch_latest(self, path: str, rel: str, headers: Mapping[str, str] | None) -> bytes:
        fetched = await self._chain.latest(path, headers=headers)
        info_version(fetched.data, path, what=f"{path}@latest", upstream=fetched.upstream)
        return fetched.data

    async def _latest_from_list(self, path: str, headers: Mapping[str, str] | None) -> bytes:
        """``proxy.go Latest`` after a not-found ``@latest``: ``latestFromList``, then Stat.

        The go command does this itself when ``@latest`` is missing; doing it here gives every
        client the same answer. A list that failed gives its own error (the ``direct`` entry's
        when the proxies before it had nothing); a list without candidates a plain not-found.
        """
        listed, failure = await self._listed(path, headers)
        # The go command's query "latest" takes the highest release, else the highest
        # pre-release, of the tagged versions; only a module without tags reaches Latest, and
        # so latestFromList (modload queryProxy, then proxy.go).
        tagged = [e.version for e in listed if not is_pseudo_version(e.version)]
        releases = [v for v in tagged if not semver.prerelease(v)]
        chosen = releases or tagged
        version = semver.sort_versions(chosen)[-1] if chosen else latest_listed(listed)
        if version is None:
            if failure is not None:
                raise failure
            raise ModuleNotFound(
                f"{path}@latest: no matching versions: the upstream has no @latest, and its list "
                "has no pseudo-version and no version with a time",
                path=path,
            )
        return await self._stat_version(path, version, headers)

    async def _stat_version(
        self, path: str, version: str, headers: Mapping[str, str] | None
    ) -> bytes:
        if self._stat is not None:
            return await self._stat(path, version, headers=headers)
        fetched = await self._chain.info(path, version, headers=headers)
        validate_info(fetched.data, path, version, upstream=fetched.upstream)
        return fetched.data

    async def _latest_from_storage(self, path: str) -> bytes | None:
        """The .info of the highest stored version (releases first), if any; else of the
        newest stored pseudo-version."""
        stored = self._deny.allowed(path, semver.sort_versions(await self.stored_versions(path)))
        tagged = [v for v in stored if not is_pseudo_version(v)]
        releases = [v for v in tagged if not semver.prerelease(v)]
        candidates = list(reversed(releases or tagged))
        newest = latest_listed(ListedVersion(v) for v in stored)
        if not candidates and newest is not None:
            candidates = [newest]
        for version in candidates:
            try:
                return await self._storage.get(file_key(path, version, "info"))
            except (ModuleNotFound, StorageError):
                continue
        return None

    # -- the shared TTL logic ---------------------------------------------------------------

    async def _cached_answer(
        self,
        ukey: str,
        path: str,
        rel: str,
        headers: Mapping[str, str] | None,
        fetch: _Fetch,
    ) -> bytes | ProxyError:
        """The upstream answer for ``ukey``: fresh from the cache, fetched, or stale on error.

        Returns the failure instead of raising so callers can fall back (merge, derive).
        """
        age = self._age(ukey)
        if age is not None and age < self._ttl:
            kept = await self._load(ukey)
            if kept is not None:
                if age >= self._ttl * _REFRESH_AHEAD:
                    self._refresh_in_background(ukey, path, rel, headers, fetch)
                return kept
        remembered = await self._negative.lookup(rel)
        if remembered is not None:
            return remembered
        try:
            return await self._flights.do(
                ukey, lambda: self._fetch_and_keep(ukey, path, rel, headers, fetch)
            )
        except ModuleNotFound as exc:
            return exc
        except ProxyError as exc:
            stale = await self._load(ukey)
            if stale is None:
                return exc
            logger.warning("listing.stale_served key=%s reason=%s", ukey, exc)
            return stale

    async def _fetch_and_keep(
        self,
        ukey: str,
        path: str,
        rel: str,
        headers: Mapping[str, str] | None,
        fetch: _Fetch,
    ) -> bytes:
        try:
            async with self._limiter.slot():
                body = await fetch(path, rel, headers)
        except ModuleNotFound as exc:
            await self._negative.record(rel, exc)
            raise
        doc = {"fetched": time.time(), "body": body.decode("utf-8")}
        try:
            await self._storage.put(ukey, json.dumps(doc).encode())
        except StorageError as exc:
            logger.error("listing.keep_failed key=%s error=%s", ukey, exc)
        self._mark_fetched(ukey)
        await self._negative.drop(rel)
        return body

    def _refresh_in_background(
        self,
        ukey: str,
        path: str,
        rel: str,
        headers: Mapping[str, str] | None,
        fetch: _Fetch,
    ) -> None:
        if ukey in self._flights:
            return

        async def refresh() -> None:
            try:
                await self._flights.do(
                    ukey, lambda: self._fetch_and_keep(ukey, path, rel, headers, fetch)
                )
            except ProxyError as exc:
                logger.warning("listing.refresh_failed key=%s reason=%s", ukey, exc)

        task = asyncio.create_task(refresh(), name=f"refresh:{ukey}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _load(self, ukey: str) -> bytes | None:
        try:
            raw = await self._storage.get(ukey)
            doc = json.loads(raw)
            body = doc["body"]
        except (ModuleNotFound, StorageError):
            return None
        except (ValueError, KeyError, TypeError):
            logger.warning("listing.unreadable key=%s", ukey)
            return None
        return body.encode("utf-8") if isinstance(body, str) else None

    def _age(self, ukey: str) -> float | None:
        fetched = self._fetched.get(ukey)
        return None if fetched is None else self._clock() - fetched

    def _mark_fetched(self, ukey: str) -> None:
        self._fetched[ukey] = self._clock()
        self._fetched.move_to_end(ukey)
        while len(self._fetched) > _MAX_TRACKED:
            self._fetched.popitem(last=False)

"""The HTTP face of our checksum database: the paths of x/mod ``sumdb/server.go``, plus ``/stats``.

Paths (``Content-Type`` as sum.golang.org):

* ``GET /latest``: the signed tree head (``text/plain; charset=UTF-8``).
* ``GET /lookup/<esc path>@<esc version>``: ``id\\n`` + record text + ``\\n`` + the signed tree
  head; 400 "invalid module@version syntax" for a request the reference server's pattern
  refuses, 404 ``not found: ...`` for a version not in the log (nor obtainable through
  ``--from-proxy``).
* ``GET /tile/8/<L>/<NNN>[.p/<W>]``: W×32 raw hash bytes (``application/octet-stream``).
* ``GET /tile/8/data/<NNN>[.p/<W>]``: each record text followed by ``\\n``.
* ``GET /stats``: JSON counters (see :class:`Stats`), for tests and operators.

A malformed tile path is 400 ("invalid tile syntax"); a tile beyond the current tree, or of another
height than 8, is 404.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from gomodproxy.errors import InvalidModulePath, InvalidVersion, ProxyError
from gomodproxy.module import paths
from gomodproxy.sumdbserver.feed import ProxySource
from gomodproxy.sumdbserver.logstore import LogStore
from gomodproxy.tlog import tlog
from gomodproxy.webtext import text_response

__all__ = ["STATS_KEY", "STORE_KEY", "Stats", "make_app"]

logger = logging.getLogger(__name__)

# x/mod sumdb/server.go modVerRE.
_MOD_VER_RE = re.compile(r"^[^@]+@v[0-9]+\.[0-9]+\.[0-9]+(-[^@]*)?(\+incompatible)?$")

_TEXT = "text/plain; charset=UTF-8"


@dataclass(slots=True)
class Stats:
    """Counters of answered requests, served as JSON at ``/stats``.

    ``lookups`` counts lookups answered with 200; ``lookups_by_module`` splits them by
    ``path@version``; ``lookups_not_found`` counts 404 answers; ``tiles`` and ``latest`` count
    answered tile and ``/latest`` requests; ``appended`` counts records added by lookups.
    """

    lookups: int = 0
    lookups_not_found: int = 0
    tiles: int = 0
    latest: int = 0
    appended: int = 0
    lookups_by_module: Counter[str] = field(default_factory=Counter)

    def as_json(self, store: LogStore) -> dict[str, object]:
        """The JSON document of ``/stats``."""
        return {
            "name": store.name,
            "tree_size": store.size,
            "tree_hash": tlog.format_hash(store.tree.hash),
            "lookups": self.lookups,
            "lookups_not_found": self.lookups_not_found,
            "lookups_by_module": dict(self.lookups_by_module),
            "tiles": self.tiles,
            "latest": self.latest,
            "appended": self.appended,
        }


STORE_KEY = web.AppKey("store", LogStore)
STATS_KEY = web.AppKey("stats", Stats)
_PROXY_URL_KEY = web.AppKey("proxy_url", str)
_SOURCE_KEY = web.AppKey("proxy_source", ProxySource)
_INFLIGHT_KEY: web.AppKey[dict[tuple[str, str], asyncio.Task[int]]] = web.AppKey("inflight")
_APPEND_LOCK_KEY = web.AppKey("append_lock", asyncio.Lock)


def _text(body: str | bytes, status: int = 200) -> web.Response:
    return text_response(body, status=status, content_type=_TEXT)


def _error(status: int, message: str) -> web.Response:
    return _text(message + "\n", status)


async def _latest(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    request.app[STATS_KEY].latest += 1
    return _text(store.signed_tree())


async def _fetch_and_append(app: web.Application, path: str, version: str) -> int:
    store = app[STORE_KEY]
    sums = await app[_SOURCE_KEY].fetch(path, version)
    async with app[_APPEND_LOCK_KEY]:
        ids = await asyncio.to_thread(store.append, [sums.record_text()])
    app[STATS_KEY].appended += 1
    return ids[0]


def _forget(
    inflight: dict[tuple[str, str], asyncio.Task[int]],
    key: tuple[str, str],
    task: asyncio.Task[int],
) -> None:
    inflight.pop(key, None)
    if not task.cancelled():
        task.exception()  # retrieved here: every waiter already got it


async def _find_record(app: web.Application, path: str, version: str) -> int | None:
    """The record id, logging the version first through ``--from-proxy`` when configured."""
    store = app[STORE_KEY]
    rid = store.lookup(path, version)
    if rid is not None or _SOURCE_KEY not in app:
        return rid
    # Concurrent lookups of one version share one fetch.
    inflight = app[_INFLIGHT_KEY]
    key = (path, version)
    task = inflight.get(key)
    if task is None:
        task = asyncio.ensure_future(_fetch_and_append(app, path, version))
        inflight[key] = task
        task.add_done_callback(lambda t: _forget(inflight, key, t))
    return await asyncio.shield(task)


async def _lookup(request: web.Request) -> web.Response:
    app = request.app
    stats = app[STATS_KEY]
    mod = request.match_info["mod"]
    if not _MOD_VER_RE.match(mod):
        return _error(400, "invalid module@version syntax")
    esc_path, _, esc_version = mod.partition("@")
    try:
        path = paths.unescape_path(esc_path)
        version = paths.unescape_version(esc_version)
        paths.check(path, version)
    except (InvalidModulePath, InvalidVersion) as exc:
        stats.lookups_not_found += 1
        return _error(404, f"not found: {exc}")
    try:
        rid = await _find_record(app, path, version)
    except ProxyError as exc:
        if exc.status_hint in (404, 410):
            stats.lookups_not_found += 1
            return _error(404, f"not found: {path}@{version}: {exc}")
        logger.warning("sumdb.lookup.failed module=%s@%s: %s", path, version, exc)
        return _error(exc.status_hint, f"{path}@{version}: {exc}")
    if rid is None:
        stats.lookups_not_found += 1
        return _error(404, f"not found: {path}@{version} is not in this checksum database")
    store = app[STORE_KEY]
    signed = store.signed_tree()
    (text,) = await asyncio.to_thread(store.read_records, rid, 1)
    stats.lookups += 1
    stats.lookups_by_module[f"{path}@{version}"] += 1
    logger.info("sumdb.lookup module=%s@%s id=%d", path, version, rid)
    return _text(tlog.format_record(rid, text) + signed)


async def _tile(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    try:
        tile = tlog.parse_tile_path(request.path.removeprefix("/"))
    except tlog.MalformedTilePath:
        return _error(400, "invalid tile syntax")
    if not store.tile_available(tile):
        return _error(404, f"not found: {tile.path()} is not in the tree of size {store.size}")
    data = await asyncio.to_thread(store.read_tile, tile)
    request.app[STATS_KEY].tiles += 1
    if tile.l == -1:
        return _text(data)
    return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].as_json(request.app[STORE_KEY]))


async def _proxy_session(app: web.Application) -> AsyncIterator[None]:
    """Open the HTTP client of ``--from-proxy`` for the app's lifetime."""
    async with aiohttp.ClientSession() as session:
        app[_SOURCE_KEY] = ProxySource(app[_PROXY_URL_KEY], session)
        yield


def make_app(store: LogStore, *, from_proxy: str | None = None) -> web.Application:
    """The aiohttp application serving ``store``; ``from_proxy`` logs versions on first lookup."""
    app = web.Application()
    app[STORE_KEY] = store
    app[STATS_KEY] = Stats()
    app[_INFLIGHT_KEY] = {}
    app[_APPEND_LOCK_KEY] = asyncio.Lock()
    if from_proxy:
        app[_PROXY_URL_KEY] = from_proxy
        app.cleanup_ctx.append(_proxy_session)
    app.router.add_get("/latest", _latest)
    app.router.add_get("/lookup/{mod:.+}", _lookup)
    app.router.add_get("/tile/{rest:.+}", _tile)
    app.router.add_get("/stats", _stats)
    return app

"""Authenticated tile reading for the checksum-database client.

The log arithmetic of :mod:`gomodproxy.tlog.tlog` is pure and synchronous: its
``tile_hash_reader`` asks a TileReader for tiles and proves them against a signed tree before
handing out any hash. The network and the cache are asynchronous. :class:`TileSource` bridges
the two without duplicating the arithmetic: it runs the pure computation, and when the
computation asks for tiles that are not loaded yet, the request is raised out of it, the tiles
are fetched concurrently, and the computation is run again. Each pass is deterministic, so the
second pass asks for exactly what was loaded.

Tiles are read as x/mod sumdb/client.go readTile does: the cache at the exact coordinates, the
cached full tile trimmed to width, the server's tile, then the server's full tile trimmed
(a partial tile that is gone means the tile was completed). A tile is written to the cache only
after the tlog code proved it against a signed tree hash (SaveTiles), never before.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from gomodproxy.errors import ModuleNotFound, ProxyError, SumDBError
from gomodproxy.singleflight import SingleFlight
from gomodproxy.sumdb.seams import SumDBFetcher, VerifierState
from gomodproxy.tlog.tlog import (
    HASH_SIZE,
    HashReader,
    InconsistentTile,
    Tile,
    Tree,
    tile_hash_reader,
)

__all__ = ["TileSource"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A computation asks for tiles at most once per read_hashes call, and tree_hash, prove_tree
# and a record read make one call each; a few passes always suffice.
_MAX_PASSES = 8


class _NeedTiles(Exception):
    """Raised out of the pure computation: these tiles must be loaded first."""

    def __init__(self, tiles: list[Tile]) -> None:
        super().__init__(f"{len(tiles)} tiles needed")
        self.tiles = tiles


@dataclass(slots=True)
class _Pass:
    """The TileReader given to tlog for one computation: what is loaded, what was proven."""

    tile_height: int
    loaded: dict[Tile, bytes] = field(default_factory=dict)
    from_cache: set[Tile] = field(default_factory=set)
    proven: dict[Tile, bytes] = field(default_factory=dict)

    def height(self) -> int:
        """The tile height of the database."""
        return self.tile_height

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        """Loaded tiles, or :class:`_NeedTiles` naming the ones still missing."""
        missing = [t for t in dict.fromkeys(tiles) if t not in self.loaded]
        if missing:
            raise _NeedTiles(missing)
        return [self.loaded[t] for t in tiles]

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        """Remember the proven tiles; they are written once the whole computation succeeds."""
        self.proven.update(zip(tiles, data, strict=True))


class TileSource:
    """Reads tiles of database ``name`` for proofs, from memory, the cache and the network.

    ``memory_tiles`` bounds the in-memory copy of proven tiles (each at most 8 KiB at height 8).
    """

    def __init__(
        self,
        name: str,
        fetcher: SumDBFetcher,
        state: VerifierState,
        *,
        tile_height: int = 8,
        memory_tiles: int = 2048,
    ) -> None:
        self._name = name
        self._fetcher = fetcher
        self._state = state
        self._height = tile_height
        self._memory: OrderedDict[Tile, bytes] = OrderedDict()
        self._memory_max = memory_tiles
        self._remote: SingleFlight[bytes] = SingleFlight()

    async def run(
        self,
        tree: Tree,
        compute: Callable[[HashReader], T],
        *,
        accept: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """Run ``compute`` over hashes proven against ``tree``; save its tiles if ``accept``.

        ``accept`` lets a caller keep tiles out of the cache when the result shows misbehaviour
        (a fork). If cached tiles fail to match the signed tree, the tiles are read once more
        from the database alone, so a damaged cache file cannot block verification; a
        database that serves inconsistent tiles still fails with "downloaded inconsistent
        tile".
        """
        first = _Pass(self._height)
        try:
            return await self._drive(first, tree, compute, accept, use_cache=True)
        except InconsistentTile:
            if not first.from_cache:
                raise
        logger.warning(
            "sumdb.tiles.recheck name=%s tree=%d: cached tiles do not match the signed tree; "
            "reading them again from the database",
            self._name,
            tree.n,
        )
        return await self._drive(_Pass(self._height), tree, compute, accept, use_cache=False)

    async def _drive(
        self,
        state: _Pass,
        tree: Tree,
        compute: Callable[[HashReader], T],
        accept: Callable[[T], bool],
        *,
        use_cache: bool,
    ) -> T:
        reader = tile_hash_reader(tree, state)
        for _ in range(_MAX_PASSES):
            try:
                result = compute(reader)
            except _NeedTiles as need:
                await self._load(state, need.tiles, use_cache=use_cache)
                continue
            if accept(result):
                await self._save(state)
            return result
        raise SumDBError(f"reading tiles of {self._name}: tile requests did not converge")

    async def _load(self, state: _Pass, tiles: list[Tile], *, use_cache: bool) -> None:
        results: list[asyncio.Task[tuple[bytes, bool]]] = []
        try:
            async with asyncio.TaskGroup() as group:
                for t in tiles:
                    results.append(group.create_task(self._read_tile(t, use_cache=use_cache)))
        except BaseExceptionGroup as group_error:
            # Report the first failure as itself, not wrapped in a group.
            first = group_error.exceptions[0]
            raise first from None
        for t, task in zip(tiles, results, strict=True):
            data, cached = task.result()
            state.loaded[t] = data
            if cached:
                state.from_cache.add(t)

    async def _save(self, state: _Pass) -> None:
        for t, data in state.proven.items():
            if t not in state.from_cache:
                try:
                    await self._state.write_cache(self._cache_file(t), data)
                except ProxyError as exc:
                    # Like x/mod WriteCache: a cache that cannot be written costs a re-download
                    # next time, it does not fail a verification that succeeded.
                    logger.warning("sumdb.cache.write_failed file=%s: %s", t.path(), exc)
            self._remember(t, data)

    def _remember(self, t: Tile, data: bytes) -> None:
        self._memory[t] = data
        self._memory.move_to_end(t)
        while len(self._memory) > self._memory_max:
            self._memory.popitem(last=False)

    def _cache_file(self, t: Tile) -> str:
        return f"{self._name}/{t.path()}"

    async def _read_tile(self, t: Tile, *, use_cache: bool) -> tuple[bytes, bool]:
        """The tile's bytes (not yet trusted) and whether they came from memory or cache."""
        full = Tile(t.h, t.l, t.n, 1 << t.h)
        want = t.w * HASH_SIZE
        if use_cache:
            for candidate in (t, full) if t != full else (t,):
                data = self._memory.get(candidate)
                if data is None:
                    data = await self._state.read_cache(self._cache_file(candidate))
                if data is not None and len(data) == candidate.w * HASH_SIZE:
                    return data[:want], True
        try:
            return self._exact_length(t, await self._fetch(t)), False
        except InconsistentTile:
            raise
        except ProxyError as exc:
            if t == full:
                raise
            first_error = exc
        # The partial tile is gone: the tile was completed since; trim the full one.
        try:
            data = await self._fetch(full)
        except ProxyError:
            raise first_error from None
        return self._exact_length(full, data)[:want], False

    @staticmethod
    def _exact_length(t: Tile, data: bytes) -> bytes:
        if len(data) != t.w * HASH_SIZE:
            raise InconsistentTile(
                f"downloaded inconsistent tile: {t.path()} has {len(data)} bytes, "
                f"want {t.w * HASH_SIZE}"
            )
        return data

    async def _fetch(self, t: Tile) -> bytes:
        path = t.path()

        async def fetch() -> bytes:
            try:
                return await self._fetcher.fetch(path)
            except ModuleNotFound as exc:
                raise SumDBError(f"reading {path} from {self._name}: {exc}") from exc
            except ProxyError as exc:
                raise SumDBError(
                    f"checksum database {self._name} unavailable: reading {path}: {exc}"
                ) from exc

        return await self._remote.do(path, fetch)

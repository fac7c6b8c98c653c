"""Tiles of the checksum database's log: coordinates, paths and authenticated tile reading.

A pure port of golang.org/x/mod/sumdb/tlog/tile.go. A tile (H, L, N, W) lists W consecutive
hashes of tree level H·L starting at N·2**H; level -1 (path element ``data``) holds record texts.
Import these names from :mod:`gomodproxy.tlog.tlog`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gomodproxy.errors import SecurityError, SumDBError
from gomodproxy.tlog.merkle import (
    HASH_SIZE,
    Hash,
    HashReader,
    TlogError,
    Tree,
    _sub_tree_index,
    node_hash,
    split_stored_hash_index,
    stored_hash_index,
)

__all__ = [
    "InconsistentTile",
    "MalformedTilePath",
    "Tile",
    "TileReader",
    "hash_from_tile",
    "new_tiles",
    "parse_tile_path",
    "read_tile_data",
    "tile_for_index",
    "tile_hash_reader",
]

# N is written three decimal digits per path element (tile.go pathBase).
_PATH_BASE = 1000


class MalformedTilePath(SumDBError, ValueError):
    """A tile path that does not parse or does not round-trip (answered with 400)."""

    status_hint = 400
    kind = "tile_path"

    def __init__(self, path: str) -> None:
        super().__init__(f"malformed tile path {path!r}")
        self.path = path


class InconsistentTile(SecurityError):
    """Tiles that do not hash to the signed tree hash (or to their parent tile)."""

    def __init__(self, message: str = "downloaded inconsistent tile") -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Tile:
    """A log tile (tlog.Tile): height ``h``, level ``l`` (-1 = data), number ``n``, width ``w``."""

    h: int
    l: int  # noqa: E741 -- the Go field name; the level in the tiling
    n: int
    w: int

    def path(self) -> str:
        """The tile coordinate path ``tile/H/L/NNN[.p/W]`` (tlog.Tile.Path)."""
        n = self.n
        n_str = f"{n % _PATH_BASE:03d}"
        while n >= _PATH_BASE:
            n //= _PATH_BASE
            n_str = f"x{n % _PATH_BASE:03d}/{n_str}"
        p_str = f".p/{self.w}" if self.w != 1 << self.h else ""
        level = "data" if self.l == -1 else str(self.l)
        return f"tile/{self.h}/{level}/{n_str}{p_str}"


def _atoi(s: str) -> int | None:
    """Go strconv.Atoi: optional sign then ASCII decimal digits; None when it does not parse."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(s)


def parse_tile_path(path: str) -> Tile:
    """Parse a tile coordinate path; it must round-trip through :meth:`Tile.path` exactly."""
    f = path.split("/")
    if len(f) < 4 or f[0] != "tile":
        raise MalformedTilePath(path)
    h = _atoi(f[1])
    is_data = f[2] == "data"
    level = 0 if is_data else _atoi(f[2])
    if h is None or level is None or h < 1 or level < 0 or h > 30:
        raise MalformedTilePath(path)
    w = 1 << h
    dot_p = f[-2]
    if dot_p.endswith(".p"):
        ww = _atoi(f[-1])
        if ww is None or ww <= 0 or ww >= w:
            raise MalformedTilePath(path)
        w = ww
        f[-2] = dot_p[: -len(".p")]
        f = f[:-1]
    n = 0
    for s in f[3:]:
        nn = _atoi(s.removeprefix("x"))
        if nn is None or nn < 0 or nn >= _PATH_BASE:
            raise MalformedTilePath(path)
        n = n * _PATH_BASE + nn
    tile = Tile(h, -1 if is_data else level, n, w)
    if tile.path() != path:
        raise MalformedTilePath(path)
    return tile


def _tile_for_index(h: int, index: int) -> tuple[Tile, int, int]:
    """The least-width tile of height h holding ``index``, and the byte range to hash."""
    level, n = split_stored_hash_index(index)
    t_l = level // h
    level -= t_l * h  # now level within tile
    t_n = (n << level) >> h
    n -= (t_n << h) >> level  # now n within tile at level
    t_w = (n + 1) << level
    return Tile(h, t_l, t_n, t_w), (n << level) * HASH_SIZE, ((n + 1) << level) * HASH_SIZE


def tile_for_index(h: int, index: int) -> Tile:
    """The tile of height h ≥ 1 and least width storing stored hash ``index`` (TileForIndex)."""
    if h <= 0:
        raise TlogError(f"TileForIndex: invalid height {h}")
    return _tile_for_index(h, index)[0]


def _tile_hash(data: bytes) -> Hash:
    """The subtree hash of the 2**k hashes in ``data`` (tile.go tileHash)."""
    if not data:
        raise AssertionError("bad math in tileHash")
    if len(data) == HASH_SIZE:
        return data
    half = len(data) // 2
    return node_hash(_tile_hash(data[:half]), _tile_hash(data[half:]))


def hash_from_tile(tile: Tile, data: bytes, index: int) -> Hash:
    """The hash at stored ``index`` from the data of ``tile`` (or a wider one) (HashFromTile)."""
    if not (1 <= tile.h <= 30 and 0 <= tile.l < 64 and 1 <= tile.w <= 1 << tile.h):
        raise TlogError(f"invalid tile {tile.path()}")
    if len(data) < tile.w * HASH_SIZE:
        raise TlogError(f"data len {len(data)} too short for tile {tile.path()}")
    t1, start, end = _tile_for_index(tile.h, index)
    if tile.l != t1.l or tile.n != t1.n or tile.w < t1.w:
        raise TlogError(f"index {index} is in {t1.path()} not {tile.path()}")
    return _tile_hash(data[start:end])


def new_tiles(h: int, old_tree_size: int, new_tree_size: int) -> list[Tile]:
    """The tiles of height h to publish when the tree grows from old to new size (NewTiles)."""
    if h <= 0:
        raise TlogError(f"NewTiles: invalid height {h}")
    tiles: list[Tile] = []
    level = 0
    while new_tree_size >> (h * level) > 0:
        old_n = old_tree_size >> (h * level)
        new_n = new_tree_size >> (h * level)
        if old_n != new_n:
            tiles.extend(Tile(h, level, n, 1 << h) for n in range(old_n >> h, new_n >> h))
            n = new_n >> h
            w = new_n - (n << h)
            if w > 0:
                tiles.append(Tile(h, level, n, w))
        level += 1
    return tiles


def read_tile_data(tile: Tile, reader: HashReader) -> bytes:
    """Read the hashes of ``tile`` from ``reader`` and return the tile's data (ReadTileData)."""
    size = tile.w if tile.w else 1 << tile.h
    start = tile.n << tile.h
    indexes = [stored_hash_index(tile.h * tile.l, start + i) for i in range(size)]
    hashes = reader.read_hashes(indexes)
    if len(hashes) != len(indexes):
        raise TlogError(f"tlog: ReadHashes({len(indexes)} indexes) = {len(hashes)} hashes")
    return b"".join(hashes)


class TileReader(Protocol):
    """Reads hash tiles of a checksum database log (tlog.TileReader)."""

    def height(self) -> int:
        """The height of the available tiles."""
        ...

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        """One data blob per tile, each exactly ``tile.w * 32`` bytes; not yet trusted."""
        ...

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        """Tiles returned by :meth:`read_tiles` were authenticated: they may be persisted."""
        ...


def _tile_parent(t: Tile, k: int, n: int) -> Tile | None:
    """``t``'s k'th tile parent in the tiles of a tree of size n, or None (tileParent)."""
    level = t.l + k
    num = t.n >> (k * t.h)
    w = 1 << t.h
    limit = n >> (level * t.h)
    if (num << t.h) + w >= limit:
        if num << t.h >= limit:
            return None
        w = limit - (num << t.h)
    return Tile(t.h, level, num, w)


@dataclass(frozen=True, slots=True)
class _TileHashReader:
    """A HashReader over a TileReader that authenticates tiles against a tree (tileHashReader)."""

    tree: Tree
    tiles: TileReader

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        """The hashes at ``indexes``, read from tiles proven to belong to the tree."""
        h = self.tiles.height()
        tree_n = self.tree.n
        if tree_n <= 0:
            if indexes:
                raise TlogError("indexes not in tree")
            return []
        tile_order: dict[Tile | None, int] = {}
        tiles: list[Tile] = []

        # Plan the tiles needed to recompute the tree hash; if it matches they are authentic.
        stx = _sub_tree_index(0, tree_n, [])
        stx_tile_order = [0] * len(stx)
        for i, x in enumerate(stx):
            parent = _tile_parent(_tile_for_index(h, x)[0], 0, tree_n)
            if parent is None:
                raise TlogError(f"bad math in tileHashReader: {tree_n} {x}")
            if parent in tile_order:
                stx_tile_order[i] = tile_order[parent]
                continue
            stx_tile_order[i] = len(tiles)
            tile_order[parent] = len(tiles)
            tiles.append(parent)

        # Plan the tiles holding the indexes, with any parents needed to authenticate them.
        index_tile_order = [0] * len(indexes)
        limit = stored_hash_index(0, tree_n)
        for i, x in enumerate(indexes):
            if x < 0 or x >= limit:
                raise TlogError("indexes not in tree")
            tile = _tile_for_index(h, x)[0]
            # Walk up parent tiles until one already requested: that one will be authenticated.
            k = 0
            while True:
                p = _tile_parent(tile, k, tree_n)
                if p in tile_order:
                    if k == 0:
                        index_tile_order[i] = tile_order[p]
                    break
                k += 1
            # Walk back down, recording child tiles after parents.
            for kk in range(k - 1, -1, -1):
                p = _tile_parent(tile, kk, tree_n)
                if p is None or p.w != 1 << p.h:
                    # Only full tiles have parents; this one has a parent, so it must be full.
                    raise TlogError(f"bad math in tileHashReader: {tree_n} {x} {p}")
                tile_order[p] = len(tiles)
                if kk == 0:
                    index_tile_order[i] = len(tiles)
                tiles.append(p)

        data = self.tiles.read_tiles(tiles)
        if len(data) != len(tiles):
            raise TlogError(
                f"TileReader returned bad result slice (len={len(data)}, want {len(tiles)})"
            )
        for tile, blob in zip(tiles, data, strict=True):
            if len(blob) != tile.w * HASH_SIZE:
                raise TlogError(
                    f"TileReader returned bad result slice ({tile.path()} len={len(blob)}, "
                    f"want {tile.w * HASH_SIZE})"
                )

        # Authenticate the tiles of the tree hash first (parents before children).
        th = b""
        for i in range(len(stx) - 1, -1, -1):
            j = stx_tile_order[i]
            sh = hash_from_tile(tiles[j], data[j], stx[i])
            th = sh if i == len(stx) - 1 else node_hash(sh, th)
        if th != self.tree.hash:
            # At least one tile is wrong, but we cannot tell which.
            raise InconsistentTile()

        # Authenticate the remaining full tiles against their parents.
        for i in range(stx_tile_order[-1] + 1, len(tiles)):
            tile = tiles[i]
            parent = _tile_parent(tile, 1, tree_n)
            if parent is None or parent not in tile_order:
                raise TlogError(f"bad math in tileHashReader {tree_n}: lost parent of {tile}")
            j = tile_order[parent]
            ph = hash_from_tile(parent, data[j], stored_hash_index(parent.l * parent.h, tile.n))
            if ph != _tile_hash(data[i]):
                raise InconsistentTile()

        # All tiles are proven to belong to the signed tree: they may be saved now.
        self.tiles.save_tiles(tiles, data)
        return [
            hash_from_tile(tiles[index_tile_order[i]], data[index_tile_order[i]], x)
            for i, x in enumerate(indexes)
        ]


def tile_hash_reader(tree: Tree, tile_reader: TileReader) -> HashReader:
    """A HashReader reading from ``tile_reader`` that checks every tile against ``tree``.

    Any hash it returns is proven to be in the tree; tiles that do not match raise
    :class:`InconsistentTile` ("downloaded inconsistent tile") and are never passed to
    ``save_tiles`` (tlog.TileHashReader).
    """
    return _TileHashReader(tree, tile_reader)

"""Which tiles a checksum-database client reads next (for the relay's tile prefetch).

The go command's sumdb client (x/mod sumdb/client.go) proves each lookup answer in two steps,
both through ``tlog.TileHashReader`` over its latest tree: ``checkTrees`` computes
``TreeHash(older.N)`` in the newer tree (for a note of the same size: the tree's own hash), and
``checkRecord`` reads the record's stored hash with ``ReadHashes``. Rather than re-deriving the
tile arithmetic, the planner runs that very code (:func:`~gomodproxy.tlog.tiles.tile_hash_reader`
and :func:`~gomodproxy.tlog.merkle.tree_hash`) over a TileReader that records the tiles asked
for and stops there: the paths are exactly the ones the client will request, partial tiles
(``.p/W``) included. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from gomodproxy.tlog.merkle import Tree, stored_hash_index, tree_hash
from gomodproxy.tlog.tiles import Tile, tile_hash_reader

__all__ = ["GO_TILE_HEIGHT", "record_tiles", "tree_tiles"]

#: The tile height the go command reads (client.go initWork: ``c.tileHeight = 8``).
GO_TILE_HEIGHT = 8


class _Planned(Exception):
    """Raised out of the tlog code with the tiles it asked for."""

    def __init__(self, tiles: list[Tile]) -> None:
        super().__init__(f"{len(tiles)} tiles")
        self.tiles = tiles


class _PlanningReader:
    """A TileReader that answers nothing: it records the request and stops the computation."""

    def __init__(self, height: int) -> None:
        self._height = height

    def height(self) -> int:
        return self._height

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        raise _Planned(list(tiles))

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        """Never reached: nothing is read."""


def _tree(n: int) -> Tree:
    return Tree(n, bytes(32))  # the hash is only compared after the tiles are read


def record_tiles(record_id: int, tree_size: int, height: int = GO_TILE_HEIGHT) -> list[Tile]:
    """The tiles ``checkRecord`` reads to prove record ``record_id`` in the tree of
    ``tree_size`` records (those of the tree hash first, then the record's), in its order."""
    if not 0 <= record_id < tree_size:
        return []
    reader = tile_hash_reader(_tree(tree_size), _PlanningReader(height))
    try:
        reader.read_hashes([stored_hash_index(0, record_id)])
    except _Planned as planned:
        return planned.tiles
    return []


def tree_tiles(older_size: int, tree_size: int, height: int = GO_TILE_HEIGHT) -> list[Tile]:
    """The tiles ``checkTrees`` reads to compute the hash of the tree of ``older_size``
    records inside the tree of ``tree_size`` records (``TreeHash(older.N, TileHashReader)``)."""
    if not 0 < older_size <= tree_size:
        return []
    reader = tile_hash_reader(_tree(tree_size), _PlanningReader(height))
    try:
        tree_hash(older_size, reader)
    except _Planned as planned:
        return planned.tiles
    return []

"""Unit tests of the transparency log (ports of x/mod sumdb/tlog tests plus reference vectors)."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence

import pytest

from gomodproxy.errors import SecurityError, SumDBError
from gomodproxy.tlog import tlog
from gomodproxy.tlog.tlog import (
    Hash,
    InconsistentTile,
    MalformedRecord,
    MalformedTilePath,
    MalformedTree,
    ProofFailed,
    Tile,
    Tree,
)


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


class _HashStorage:
    """Hashes in stored-hash order; checks callers ask for increasing indexes (tlog_test.go)."""

    def __init__(self) -> None:
        self.hashes: list[Hash] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        assert all(a < b for a, b in itertools.pairwise(indexes)), indexes
        return [self.hashes[i] for i in indexes]

    def add(self, data: bytes) -> None:
        n = self.count
        self.hashes.extend(tlog.stored_hashes(n, data, self))
        self.count = n + 1

    count = 0


class _UnorderedStorage(_HashStorage):
    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        return [self.hashes[i] for i in indexes]


def _leaves(n: int) -> _HashStorage:
    storage = _HashStorage()
    for i in range(n):
        storage.add(b"leaf %d" % i)
    return storage


class _TileStore:
    """A TileReader over a dict of published tiles, counting reads not yet saved."""

    def __init__(self, tiles: dict[Tile, bytes], height: int = 2) -> None:
        self.tiles = tiles
        self.unsaved = 0
        self._height = height

    def height(self) -> int:
        return self._height

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        self.unsaved += len(tiles)
        return [self.tiles[t] for t in tiles]

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        self.unsaved -= len(tiles)


class _TreeTiles:
    """A TileReader computing tiles from a hash storage (tile_test.go testTree)."""

    def __init__(self, storage: _HashStorage, height: int, zero_index: int | None = None) -> None:
        self.storage = storage
        self._height = height
        self.zero_index = zero_index
        self.saved: list[Tile] = []

    def height(self) -> int:
        return self._height

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        storage = _UnorderedStorage()
        storage.hashes = self.storage.hashes
        out = [tlog.read_tile_data(t, storage) for t in tiles]
        if self.zero_index is not None:
            # Zero the bottom-row hashes of the tampered index in every tile holding it.
            from gomodproxy.tlog.tiles import _tile_for_index

            zt, start, end = _tile_for_index(self._height, self.zero_index)
            for i, t in enumerate(tiles):
                if (t.h, t.l, t.n) == (zt.h, zt.l, zt.n) and end <= len(out[i]):
                    blob = out[i]
                    out[i] = blob[:start] + bytes(end - start) + blob[end:]
        return out

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        storage = _UnorderedStorage()
        storage.hashes = self.storage.hashes
        for t, blob in zip(tiles, data, strict=True):
            assert blob == tlog.read_tile_data(t, storage), t.path()
        self.saved.extend(tiles)


# --- reference vectors (go-modules-reference.md section 9) ---------------------------------


def test_record_hash_of_hello_world_matches_x_mod() -> None:
    assert tlog.record_hash(b"hello world") == _b64("TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=")


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    empty = _b64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    assert tlog.tree_hash(0, _HashStorage()) == empty == tlog.EMPTY_HASH


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "G7l9zCFjXUfiZj79/QoXRobZjdcBNS3SzQbotD/T0wU="),
        (2, "/F9riP+FVPdbsvnm85wxsZNtRLaSdu33sSBalVuXYeM="),
        (3, "1Pksj7uJcg6ztVZ3x9fvrd/rENEaGoSguo8aIzN/qpU="),
        (7, "WmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg="),
        (8, "xcLIIO00L92ozolra5z1uMAKIcxLIHFMxuXTwFw1JAs="),
        (100, "E/iJFcVg3JEaHaD7IJ2EoglxBR8pTr60KPs/wpOvJ0M="),
    ],
)
def test_tree_hash_of_leaf_n_records_matches_reference(n: int, expected: str) -> None:
    assert tlog.tree_hash(n, _leaves(n)) == _b64(expected)


def _rfc6962_mth(leaves: list[bytes]) -> Hash:
    """The RFC 6962 definition, recursively, for cross-checking the stored-hash computation."""
    if len(leaves) == 1:
        return tlog.record_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return tlog.node_hash(_rfc6962_mth(leaves[:k]), _rfc6962_mth(leaves[k:]))


def test_tree_hash_equals_rfc6962_definition_for_sizes_1_to_150() -> None:
    storage = _HashStorage()
    leaves: list[bytes] = []
    for i in range(150):
        leaves.append(b"record %d\n" % i)
        storage.add(leaves[-1])
        assert tlog.tree_hash(i + 1, storage) == _rfc6962_mth(leaves)


def test_stored_hash_index_orders_levels_like_crosby_wallach() -> None:
    assert [tlog.stored_hash_index(0, n) for n in range(8)] == [0, 1, 3, 4, 7, 8, 10, 11]
    assert tlog.stored_hash_index(1, 0) == 2
    assert tlog.stored_hash_index(1, 1) == 5
    assert tlog.stored_hash_index(2, 0) == 6


def test_split_stored_hash_index_inverts_stored_hash_index() -> None:
    for level in range(10):
        for n in range(100):
            x = tlog.stored_hash_index(level, n)
            assert tlog.split_stored_hash_index(x) == (level, n)


def test_split_stored_hash_index_rejects_negative_index() -> None:
    with pytest.raises(tlog.TlogError):
        tlog.split_stored_hash_index(-1)


# --- TestTree port --------------------------------------------------------------------------


def test_tree_proofs_tiles_and_tile_hash_reader_for_every_size_up_to_100() -> None:
    """Port of tlog_test.go TestTree with tile height 2."""
    height = 2
    trees: list[Hash] = []
    leaf_hashes: list[Hash] = []
    storage = _HashStorage()
    tiles: dict[Tile, bytes] = {}
    for i in range(100):
        data = b"leaf %d" % i
        old_storage = len(storage.hashes)
        storage.add(data)
        leaf_hashes.append(tlog.record_hash(data))
        assert tlog.stored_hash_count(i + 1) == len(storage.hashes)
        th = tlog.tree_hash(i + 1, storage)

        for tile in tlog.new_tiles(height, i, i + 1):
            blob = tlog.read_tile_data(tile, storage)
            old = Tile(tile.h, tile.l, tile.n, tile.w - 1)
            old_data = tiles.get(old, b"")
            assert len(old_data) == len(blob) - 32, f"tile {tile.path()} not extending {old}"
            assert blob[: len(old_data)] == old_data
            tiles[tile] = blob
        for tile in tlog.new_tiles(height, 0, i + 1) + tlog.new_tiles(height, i // 2, i + 1):
            assert tiles[tile] == tlog.read_tile_data(tile, storage), tile

        # Every new hash is readable from its tile.
        for j in range(old_storage, len(storage.hashes)):
            tile = tlog.tile_for_index(height, j)
            assert tile in tiles, f"tile_for_index({height}, {j}) = {tile.path()} not stored"
            assert tlog.hash_from_tile(tile, tiles[tile], j) == storage.hashes[j]

        trees.append(th)

        # Record proofs for all leaves so far; a corrupted proof never checks.
        for j in range(i + 1):
            proof = tlog.prove_record(i + 1, j, storage)
            tlog.check_record(proof, i + 1, th, j, leaf_hashes[j])
            for k in range(len(proof)):
                bad = list(proof)
                bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
                with pytest.raises(ProofFailed):
                    tlog.check_record(bad, i + 1, th, j, leaf_hashes[j])

        # Record proofs through the authenticating tile reader.
        store = _TileStore(tiles, height)
        thr = tlog.tile_hash_reader(Tree(i + 1, th), store)
        for j in range(i + 1):
            assert thr.read_hashes([tlog.stored_hash_index(0, j)]) == [leaf_hashes[j]]
            proof = tlog.prove_record(i + 1, j, thr)
            tlog.check_record(proof, i + 1, th, j, leaf_hashes[j])
        assert store.unsaved == 0

        with pytest.raises(tlog.TlogError):
            thr.read_hashes([(i + 1) * 2])
        assert store.unsaved == 0

        # Tree proofs for all earlier trees, through tiles.
        for j in range(i + 1):
            assert tlog.tree_hash(j + 1, thr) == trees[j]
            proof = tlog.prove_tree(i + 1, j + 1, thr)
            tlog.check_tree(proof, i + 1, th, j + 1, trees[j])
            for k in range(len(proof)):
                bad = list(proof)
                bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
                with pytest.raises(ProofFailed):
                    tlog.check_tree(bad, i + 1, th, j + 1, trees[j])
        assert store.unsaved == 0


def test_record_proof_with_extra_or_missing_hash_fails() -> None:
    storage = _leaves(13)
    th = tlog.tree_hash(13, storage)
    proof = tlog.prove_record(13, 5, storage)
    leaf = tlog.record_hash(b"leaf 5")
    with pytest.raises(ProofFailed):
        tlog.check_record([*proof, proof[0]], 13, th, 5, leaf)
    with pytest.raises(ProofFailed):
        tlog.check_record(proof[:-1], 13, th, 5, leaf)
    with pytest.raises(ProofFailed):
        tlog.check_record(proof, 13, th, 5, tlog.record_hash(b"leaf 6"))


def test_tree_proof_against_a_forked_tree_fails() -> None:
    honest = _leaves(20)
    forked = _HashStorage()
    for i in range(20):
        forked.add(b"leaf %d" % i if i != 3 else b"evil")
    old_hash = tlog.tree_hash(10, honest)
    proof = tlog.prove_tree(20, 10, forked)
    with pytest.raises(ProofFailed):
        tlog.check_tree(proof, 20, tlog.tree_hash(20, forked), 10, old_hash)


@pytest.mark.parametrize(
    ("t", "n"), [(0, 0), (5, 5), (5, -1), (-1, 0)], ids=["empty", "n=t", "neg-n", "neg-t"]
)
def test_prove_record_rejects_invalid_inputs(t: int, n: int) -> None:
    with pytest.raises(tlog.TlogError):
        tlog.prove_record(t, n, _leaves(5))


def test_prove_tree_rejects_invalid_inputs() -> None:
    with pytest.raises(tlog.TlogError):
        tlog.prove_tree(5, 6, _leaves(5))
    with pytest.raises(tlog.TlogError):
        tlog.prove_tree(5, 0, _leaves(5))


def test_reader_returning_wrong_count_is_an_error() -> None:
    class Short:
        def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
            return []

    with pytest.raises(tlog.TlogError, match="ReadHashes"):
        tlog.tree_hash(3, Short())


# --- tile_test.go -----------------------------------------------------------------------------


def test_tile_hash_reader_reads_every_hash_and_refuses_any_tampered_tile() -> None:
    """Port of tile_test.go TestTileHashReader (height 2), sizes 1..40 fully tampered."""
    storage = _HashStorage()
    for _ in range(40):
        storage.add(b"leaf %d" % storage.count)
        n = storage.count
        tree = Tree(n, tlog.tree_hash(n, storage))
        reader = _TreeTiles(storage, 2)
        th = tlog.tile_hash_reader(tree, reader)
        limit = tlog.stored_hash_index(0, n)
        for i in range(limit):
            assert th.read_hashes([i]) == [storage.hashes[i]]
        indexes = list(range(limit))
        assert th.read_hashes(indexes) == storage.hashes[:limit]
        for i in range(limit):
            tampered = _TreeTiles(storage, 2, zero_index=i)
            thz = tlog.tile_hash_reader(tree, tampered)
            with pytest.raises(InconsistentTile, match="downloaded inconsistent tile"):
                thz.read_hashes([i])
            with pytest.raises(InconsistentTile):
                thz.read_hashes(indexes)
            assert tampered.saved == []


def test_inconsistent_tile_is_a_security_error() -> None:
    assert issubclass(InconsistentTile, SecurityError)
    assert issubclass(ProofFailed, SecurityError)


def test_tile_hash_reader_on_empty_tree_has_no_hashes() -> None:
    th = tlog.tile_hash_reader(Tree(0, tlog.EMPTY_HASH), _TreeTiles(_HashStorage(), 8))
    assert th.read_hashes([]) == []
    with pytest.raises(tlog.TlogError):
        th.read_hashes([0])


_TILE_PATHS = [
    ("tile/4/0/001", Tile(4, 0, 1, 16)),
    ("tile/4/0/001.p/5", Tile(4, 0, 1, 5)),
    ("tile/3/5/x123/x456/078", Tile(3, 5, 123456078, 8)),
    ("tile/3/5/x123/x456/078.p/2", Tile(3, 5, 123456078, 2)),
    ("tile/1/0/x003/x057/500", Tile(1, 0, 3057500, 2)),
    ("tile/1/data/x003/x057/500", Tile(1, -1, 3057500, 2)),
    ("tile/8/0/x256/515.p/13", Tile(8, 0, 256515, 13)),
    ("tile/8/data/001", Tile(8, -1, 1, 256)),
    ("tile/8/1/000.p/1", Tile(8, 1, 0, 1)),
]


@pytest.mark.parametrize(("path", "tile"), _TILE_PATHS, ids=[p for p, _ in _TILE_PATHS])
def test_tile_path_formats_and_parses_round_trip(path: str, tile: Tile) -> None:
    assert tile.path() == path
    assert tlog.parse_tile_path(path) == tile


_BAD_TILE_PATHS = [
    "tile/3/5/123/456/078",
    "tile/3/-1/123/456/078",
    "tile/3/-1/078",
    "tile/8/0/001.p/256",  # a full tile never carries .p/W
    "tile/8/0/001.p/0",
    "tile/8/0/001.p/-1",
    "tile/8/0/1",
    "tile/8/0/0001",
    "tile/8/0/x000/001",  # leading x000 group does not round-trip
    "tile/8/0/+01",
    "tile/0/0/001",
    "tile/31/0/001",
    "tile/08/0/001",
    "tile/8/00/001",
    "tile/8/0",
    "tiles/8/0/001",
    "/tile/8/0/001",
    "tile/8/0/001/",
    "tile/8/data/001.p/",
    "tile/8/0/x１23/456",
    "tile/8/0/" + "9" * 5000,
    "",
]


@pytest.mark.parametrize("path", _BAD_TILE_PATHS)
def test_malformed_tile_path_is_rejected_with_400_hint(path: str) -> None:
    with pytest.raises(MalformedTilePath) as info:
        tlog.parse_tile_path(path)
    assert isinstance(info.value, ValueError)
    assert info.value.status_hint == 400
    assert info.value.kind == "tile_path"


@pytest.mark.parametrize(
    ("old", "new", "count"),
    [
        (1, 1, 0),
        (100, 101, 1),
        (1023, 1025, 3),
        (1024, 1030, 1),
        (1030, 2000, 1),
        (1030, 10000, 10),
        (49516517, 49516586, 3),
    ],
)
def test_new_tiles_counts_match_x_mod(old: int, new: int, count: int) -> None:
    assert len(tlog.new_tiles(10, old, new)) == count


def test_new_tiles_for_height_8_lists_full_then_partial_tiles() -> None:
    assert tlog.new_tiles(8, 0, 300) == [Tile(8, 0, 0, 256), Tile(8, 0, 1, 44), Tile(8, 1, 0, 1)]
    assert tlog.new_tiles(8, 0, 0) == []


def test_hash_from_tile_rejects_wrong_tile_and_short_data() -> None:
    storage = _leaves(10)
    tile = tlog.tile_for_index(2, 0)
    blob = tlog.read_tile_data(tile, storage)
    with pytest.raises(tlog.TlogError, match="too short"):
        tlog.hash_from_tile(Tile(2, 0, 0, 4), blob, 0)
    with pytest.raises(tlog.TlogError, match="is in"):
        tlog.hash_from_tile(tile, blob, tlog.stored_hash_index(0, 9))
    with pytest.raises(tlog.TlogError, match="invalid tile"):
        tlog.hash_from_tile(Tile(2, -1, 0, 1), blob, 0)


def test_tile_for_index_rejects_nonpositive_height() -> None:
    with pytest.raises(tlog.TlogError):
        tlog.tile_for_index(0, 1)
    with pytest.raises(tlog.TlogError):
        tlog.new_tiles(0, 1, 2)


# --- note_test.go -----------------------------------------------------------------------------

_TREE_TEXT = b"go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"


def test_format_tree_matches_x_mod_golden() -> None:
    tree = Tree(123456789012, tlog.record_hash(b"hello world"))
    assert tlog.format_tree(tree) == _TREE_TEXT


@pytest.mark.parametrize("suffix", [b"", b"JOE", b"JOE\n", b"JOE\n" * 1000])
def test_parse_tree_accepts_golden_and_ignores_junk_after_third_line(suffix: bytes) -> None:
    assert tlog.parse_tree(_TREE_TEXT + suffix) == Tree(
        123456789012, tlog.record_hash(b"hello world")
    )


_HASH_LINE = b"TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"


@pytest.mark.parametrize(
    "text",
    [
        b"not-" + _TREE_TEXT,
        b"go.sum database tree\n0xabcdef\n" + _HASH_LINE,
        b"go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
        b"go.sum database tree\n0123\n" + _HASH_LINE,
        b"go.sum database tree\n+123\n" + _HASH_LINE,
        b"go.sum database tree\n-1\n" + _HASH_LINE,
        b"go.sum database tree\n\n" + _HASH_LINE,
        b"go.sum database tree\n 12\n" + _HASH_LINE,
        b"go.sum database tree\n1_2\n" + _HASH_LINE,
        b"go.sum database tree\n9223372036854775808\n" + _HASH_LINE,
        b"go.sum database tree\n12\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0\n",
        b"go.sum database tree\n12\n" + base64.b64encode(bytes(31)) + b"\n",
        b"go.sum database tree\n12\n" + base64.b64encode(bytes(33)) + b"\n",
        b"go.sum database tree\n12\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40Hmuw Bb0=\n",
        b"go.sum database tree\n12\n" + _HASH_LINE[:-1],
        b"go.sum database tree v2\n12\n" + _HASH_LINE,
        b"Go.sum database tree\n12\n" + _HASH_LINE,
        _TREE_TEXT + b"x" * 1_000_000,
    ],
)
def test_parse_tree_rejects_malformed_tree_notes(text: bytes) -> None:
    with pytest.raises(MalformedTree, match="malformed tree note"):
        tlog.parse_tree(text)


def test_parse_tree_accepts_max_int64_and_zero() -> None:
    h = base64.b64encode(bytes(32))
    assert tlog.parse_tree(b"go.sum database tree\n0\n" + h + b"\n").n == 0
    big = b"go.sum database tree\n9223372036854775807\n" + h + b"\n"
    assert tlog.parse_tree(big).n == 2**63 - 1


def test_format_record_matches_x_mod_golden() -> None:
    assert tlog.format_record(123456789012, b"hello, world\n") == b"123456789012\nhello, world\n\n"


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"hello\nworld",
        b"hello\n\nworld\n",
        b"hello\x01world\n",
        b"a\xffb\n",
        b"\xed\xa0\x80\n",
    ],
)
def test_format_record_rejects_malformed_record_text(text: bytes) -> None:
    with pytest.raises(MalformedRecord, match="malformed record data"):
        tlog.format_record(1, text)


def test_format_record_accepts_utf8_del_and_replacement_char() -> None:
    text = "modulé v1.0.0 h1:x\x7f\ufffd\n".encode()
    assert tlog.format_record(7, text) == b"7\n" + text + b"\n"


def test_parse_record_returns_id_text_and_rest() -> None:
    msg = b"123456789012\nhello, world\n\njunk on end\x01\xff"
    assert tlog.parse_record(msg) == (123456789012, b"hello, world\n", b"junk on end\x01\xff")
    assert tlog.parse_record(b"123456789012\nhello, world\n\n") == (
        123456789012,
        b"hello, world\n",
        b"",
    )


@pytest.mark.parametrize(
    "msg",
    [
        b"not-123456789012\nhello, world\n\n",
        b"123\nhello\x01world\n\n",
        b"123\nhello\xffworld\n\n",
        b"123\nhello world\n",
        b"0x123\nhello world\n\n",
        b"123",
        b"\nhello\n\n",
        b"99999999999999999999\nhello\n\n",
    ],
)
def test_parse_record_rejects_malformed_records(msg: bytes) -> None:
    with pytest.raises(MalformedRecord):
        tlog.parse_record(msg)


def test_malformed_errors_are_sumdb_errors() -> None:
    assert issubclass(MalformedTree, SumDBError)
    assert issubclass(MalformedRecord, SumDBError)


def test_parse_hash_round_trips_and_rejects_bad_input() -> None:
    h = tlog.record_hash(b"x")
    assert tlog.parse_hash(tlog.format_hash(h)) == h
    for bad in ["", "abc", tlog.format_hash(h)[:-1], base64.b64encode(bytes(31)).decode()]:
        with pytest.raises(tlog.TlogError):
            tlog.parse_hash(bad)


def test_module_exports_every_agreed_name() -> None:
    agreed = {
        "Hash",
        "record_hash",
        "node_hash",
        "stored_hash_index",
        "split_stored_hash_index",
        "stored_hash_count",
        "stored_hashes",
        "tree_hash",
        "Tree",
        "format_tree",
        "parse_tree",
        "format_record",
        "parse_record",
        "prove_record",
        "check_record",
        "prove_tree",
        "check_tree",
        "Tile",
        "parse_tile_path",
        "tile_for_index",
        "hash_from_tile",
        "new_tiles",
        "read_tile_data",
        "HashReader",
        "TileReader",
        "tile_hash_reader",
    }
    assert agreed <= set(tlog.__all__)
    for name in tlog.__all__:
        assert hasattr(tlog, name), name

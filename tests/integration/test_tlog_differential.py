"""Differential tests: our transparency log against golang.org/x/mod/sumdb/tlog (the Go helper)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gomodproxy.tlog import tlog
from gomodproxy.tlog.tlog import Hash, Tile
from tests.gohelper_client import GoHelper

_LEAVES = st.lists(st.binary(max_size=40), min_size=0, max_size=70)
_INDEX = st.integers(min_value=0, max_value=1 << 40)


class _Memory:
    def __init__(self) -> None:
        self.hashes: list[Hash] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        return [self.hashes[i] for i in indexes]


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def _tile(answer: dict[str, object]) -> Tile:
    values = [answer[k] for k in ("h", "l", "n", "w")]
    ints = [v for v in values if isinstance(v, int)]
    assert len(ints) == 4, answer
    return Tile(*ints)


@settings(max_examples=60)
@given(leaves=_LEAVES)
def test_stored_hashes_and_every_prefix_tree_hash_match_go(
    gohelper: GoHelper, leaves: list[bytes]
) -> None:
    answer = gohelper.call("tree_hash", leaves=leaves)
    assert answer["err"] == ""
    mem = _Memory()
    ours = []
    for i, leaf in enumerate(leaves):
        mem.hashes.extend(tlog.stored_hashes(i, leaf, mem))
    for n in range(len(leaves) + 1):
        ours.append(_b64(tlog.tree_hash(n, mem)))
    assert [_b64(h) for h in mem.hashes] == answer["stored"]
    assert ours == answer["trees"]


@settings(max_examples=50)
@given(data=st.binary(max_size=200))
def test_record_hash_matches_go(gohelper: GoHelper, data: bytes) -> None:
    assert gohelper.call("record_hash", data=data)["result"] == _b64(tlog.record_hash(data))


@settings(max_examples=80)
@given(level=st.integers(0, 40), n=st.integers(0, 1 << 20))
def test_stored_hash_index_matches_go(gohelper: GoHelper, level: int, n: int) -> None:
    answer = gohelper.call("stored_hash_index", level=level, n=n)
    assert answer["result"] == tlog.stored_hash_index(level, n)


@settings(max_examples=80)
@given(index=_INDEX)
@example(index=0)
@example(index=2)
def test_split_stored_hash_index_matches_go(gohelper: GoHelper, index: int) -> None:
    answer = gohelper.call("split_stored_hash_index", index=index)
    assert (answer["level"], answer["n"]) == tlog.split_stored_hash_index(index)


@settings(max_examples=60)
@given(n=st.integers(0, 1 << 40))
def test_stored_hash_count_matches_go(gohelper: GoHelper, n: int) -> None:
    assert gohelper.call("stored_hash_count", n=n)["result"] == tlog.stored_hash_count(n)


_TILES = st.builds(
    lambda h, lv, n, w: Tile(h, lv, n, min(w, 1 << h)),
    st.integers(1, 30),
    st.integers(-1, 63),
    st.integers(0, 10**15),
    st.integers(1, 1 << 30),
)


@settings(max_examples=80)
@given(tile=_TILES)
def test_tile_path_and_parse_match_go(gohelper: GoHelper, tile: Tile) -> None:
    path = gohelper.call("tile_path", h=tile.h, l=tile.l, n=tile.n, w=tile.w)["result"]
    assert tile.path() == path
    answer = gohelper.call("parse_tile_path", path=path)
    assert answer["err"] == ""
    assert tlog.parse_tile_path(path) == _tile(answer) == tile


_PATH_PIECES = st.sampled_from(
    ["tile", "8", "0", "data", "-1", "001", "x001", "x1", ".p", "001.p", "5", "256", "0001", "+1"]
)


@settings(max_examples=200)
@given(pieces=st.lists(_PATH_PIECES, min_size=1, max_size=7))
@example(pieces=["tile", "3", "5", "123", "456", "078"])
@example(pieces=["tile", "8", "0", "001.p", "256"])
def test_parse_tile_path_accepts_and_refuses_exactly_what_go_does(
    gohelper: GoHelper, pieces: list[str]
) -> None:
    path = "/".join(pieces)
    answer = gohelper.call("parse_tile_path", path=path)
    try:
        ours: Tile | None = tlog.parse_tile_path(path)
    except tlog.MalformedTilePath:
        ours = None
    if answer["err"]:
        assert ours is None, f"{path}: Go refused ({answer['err']}), we parsed {ours}"
    else:
        assert ours == _tile(answer), path


@settings(max_examples=80)
@given(h=st.integers(1, 12), index=st.integers(0, 1 << 30))
def test_tile_for_index_matches_go(gohelper: GoHelper, h: int, index: int) -> None:
    answer = gohelper.call("tile_for_index", h=h, index=index)
    assert tlog.tile_for_index(h, index) == _tile(answer)


@settings(max_examples=80)
@given(h=st.integers(1, 10), old=st.integers(0, 1 << 24), grow=st.integers(0, 1 << 16))
@example(h=10, old=49516517, grow=69)
def test_new_tiles_match_go(gohelper: GoHelper, h: int, old: int, grow: int) -> None:
    answer = gohelper.call("new_tiles", h=h, old=old, new=old + grow)
    assert tlog.new_tiles(h, old, old + grow) == [_tile(t) for t in answer["result"]]


@settings(max_examples=40)
@given(n=st.integers(0, (1 << 63) - 1), h=st.binary(min_size=32, max_size=32))
def test_format_tree_matches_go_and_parses_back(gohelper: GoHelper, n: int, h: bytes) -> None:
    text = gohelper.call("format_tree", n=n, hash=h)["result"]
    assert tlog.format_tree(tlog.Tree(n, h)).decode() == text
    assert tlog.parse_tree(text.encode()) == tlog.Tree(n, h)


_RECORD_TEXT = st.one_of(
    st.binary(max_size=30),
    st.lists(st.sampled_from([b"a", b"\n", b"\x01", b"\xff", b"\xc3\xa9", b" ", b"\x7f"])).map(
        b"".join
    ),
)


@settings(max_examples=150)
@given(rid=st.integers(0, 1 << 40), text=_RECORD_TEXT)
def test_format_record_accepts_and_refuses_exactly_what_go_does(
    gohelper: GoHelper, rid: int, text: bytes
) -> None:
    answer = gohelper.call("format_record", id=rid, text=text)
    try:
        ours: bytes | None = tlog.format_record(rid, text)
    except tlog.MalformedRecord:
        ours = None
    if answer["err"]:
        assert ours is None, f"{text!r}: Go refused ({answer['err']})"
    else:
        assert ours == base64.b64decode(answer["result"])
        assert tlog.parse_record(ours) == (rid, text, b"")

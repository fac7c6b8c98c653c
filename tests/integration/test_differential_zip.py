"""Differential tests: dirhash, zip verdicts and the transparency log against golang.org/x/mod.

Hypothesis builds small file trees (tricky names, go.mod variants, vendor folders, symbolic
links, duplicates), small zips (wrong prefixes, directory entries, bad names) and log inputs;
our code and the Go oracle helper must give the same hashes and the same valid / omitted /
invalid lists with the same reasons.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gomodproxy.errors import ProxyError, ZipError
from gomodproxy.module.dirhash import hash1, hash_go_mod, hash_zip
from gomodproxy.module.zipcheck import CheckedFiles, check_files, check_zip
from gomodproxy.module.zipcreate import create_zip
from gomodproxy.module.zipfiles import FileInfo, FileKind, ModuleFile
from gomodproxy.modzip.dirfiles import check_dir
from gomodproxy.tlog import tlog
from tests.gohelper_client import GoHelper
from tests.integration.strategies import file_names, file_paths, module_versions, tile_paths


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for zips the Go helper reads or writes (hypothesis reuses it across examples)."""
    return tmp_path_factory.mktemp("differential-zip")


@dataclass(frozen=True, slots=True)
class _TreeFile:
    """A file of a generated tree: a regular file or a symbolic link."""

    path: str
    data: bytes
    kind: FileKind = FileKind.REGULAR

    def lstat(self) -> FileInfo:
        return FileInfo(self.kind, len(self.data))

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


def _go_files(files: Sequence[_TreeFile]) -> list[dict[str, object]]:
    kinds = {FileKind.REGULAR: "regular", FileKind.SYMLINK: "symlink"}
    return [{"path": f.path, "data": f.data, "kind": kinds[f.kind]} for f in files]


_go_mods = st.sampled_from(
    [
        b"module example.com/m\n",
        b"module example.com/m\n\ngo 1.23\n",
        b"module example.com/m\n\ngo 1.24\n",
        b"module example.com/m\n\ngo 1.24rc1\n",
        b"not a go.mod {",
    ]
)


_plain_paths = st.lists(
    st.text(st.sampled_from("abcxyzAB019_-.~"), min_size=1, max_size=5).filter(
        lambda e: e not in (".", "..")
    ),
    min_size=1,
    max_size=3,
).map("/".join)
#: Mostly valid paths, with the tricky ones mixed in.
_tree_paths = st.one_of(_plain_paths, _plain_paths, file_paths)


@st.composite
def _trees(draw: st.DrawFn) -> list[_TreeFile]:
    # Half the trees use plain paths only, so that many of them make a zip to compare.
    paths = draw(st.sampled_from([_plain_paths, _tree_paths]))
    files = [
        _TreeFile(
            draw(paths),
            draw(st.binary(max_size=16)),
            draw(st.sampled_from([FileKind.REGULAR] * 5 + [FileKind.SYMLINK])),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]
    if draw(st.booleans()):
        files.insert(draw(st.integers(0, len(files))), _TreeFile("go.mod", draw(_go_mods)))
    return files


def _report(checked: CheckedFiles) -> dict[str, Any]:
    return {
        "valid": list(checked.valid),
        "omitted": [[e.path, e.reason] for e in checked.omitted],
        "invalid": [[e.path, e.reason] for e in checked.invalid],
        "has_size_error": checked.size_error is not None,
        "has_err": checked.err() is not None,
    }


def _go_report(go: dict[str, Any]) -> dict[str, Any]:
    return {
        "valid": go["valid"],
        "omitted": go["omitted"],
        "invalid": go["invalid"],
        "has_size_error": go["size_error"] != "",
        "has_err": go["err"] != "",
    }


@settings(max_examples=300)
@given(files=st.dictionaries(file_names, st.binary(max_size=32), max_size=6))
@example(files={"abc": b"data for abc", "xyz": b"data for xyz"})
@example(files={"a\nb": b""})
def test_hash1_agrees_with_go(gohelper: GoHelper, files: dict[str, bytes]) -> None:
    go = gohelper.call("hash1", files=[{"path": n, "data": d} for n, d in files.items()])
    try:
        ours = hash1(list(files.items()))
    except ZipError:
        assert go["err"] != ""
    else:
        assert (ours, "") == (go["result"], go["err"])


@settings(max_examples=100)
@given(data=st.binary(max_size=64))
def test_go_mod_hash_agrees_with_go(gohelper: GoHelper, data: bytes) -> None:
    assert hash_go_mod(data) == gohelper.call("hash_go_mod", data=data)["result"]


def test_every_file_below_a_file_is_invalid(gohelper: GoHelper) -> None:
    files = [_TreeFile("0", b""), _TreeFile("0/0/0", b""), _TreeFile("0/0/00", b"")]
    ours = _report(check_files(files))
    assert ours == _go_report(gohelper.call("check_files", files=_go_files(files)))


def test_last_of_several_root_go_mods_selects_the_vendor_rules(gohelper: GoHelper) -> None:
    files = [
        _TreeFile("go.mod", b"module example.com/m\n\ngo 1.24\n"),
        _TreeFile("go.mod", b"module example.com/m\n"),
        _TreeFile("vendor/modules.txt", b""),
    ]
    ours = _report(check_files(files))
    assert ours == _go_report(gohelper.call("check_files", files=_go_files(files)))


@settings(max_examples=300)
@given(files=_trees())
@example(files=[_TreeFile("sub/vendor/x.txt", b""), _TreeFile("go.mod", b"go 1.24\n")])
@example(files=[_TreeFile("a/b", b""), _TreeFile("A/b", b"")])
@example(files=[_TreeFile("a", b""), _TreeFile("a/b", b"")])
def test_check_files_agrees_with_go(gohelper: GoHelper, files: list[_TreeFile]) -> None:
    ours = _report(check_files(files))
    assert ours == _go_report(gohelper.call("check_files", files=_go_files(files)))


@settings(max_examples=200)
@given(files=_trees())
def test_create_zip_agrees_with_go(
    gohelper: GoHelper, scratch: Path, files: list[_TreeFile]
) -> None:
    out = scratch / "created-by-go.zip"
    go = gohelper.call(
        "create_zip", path="example.com/m", version="v1.0.0", files=_go_files(files), out=out
    )
    buffer = io.BytesIO()
    module_files: list[ModuleFile] = list(files)
    refusal: ZipError | None = None
    try:
        create_zip(buffer, "example.com/m", "v1.0.0", module_files)
    except ZipError as exc:
        refusal = exc
    assert (refusal is None) == (go["err"] == ""), (refusal, go["err"])
    if refusal is None:
        buffer.seek(0)
        assert hash_zip(buffer) == go["hash"]


_disk_specials = st.sampled_from(
    [
        "go.mod",
        "GO.MOD",
        "sub/go.mod",
        "sub/GO.MOD",
        "sub/x.go",
        "vendor/modules.txt",
        "vendor/a/b.go",
        "pkg/vendor/v.go",
        "sub/vendor/x.txt",
        ".git/config",
        "a/.svn/entries",
        ".hg_archival.txt",
        "LICENSE",
        "con.txt",
        "a~1",
        "K",
        "\u212a",
        "é/ü",
    ]
)


@st.composite
def _disk_trees(draw: st.DrawFn) -> list[tuple[str, bytes, bool]]:
    """(path, content, is a symbolic link) for a small tree written to disk."""
    paths = st.one_of(_plain_paths, _disk_specials)
    tree = [
        (draw(paths), draw(st.binary(max_size=8)), draw(st.integers(0, 6)) == 0)
        for _ in range(draw(st.integers(0, 8)))
    ]
    if draw(st.booleans()):
        tree.insert(0, ("go.mod", draw(_go_mods), False))
    return tree


def _write_tree(root: Path, tree: list[tuple[str, bytes, bool]]) -> None:
    for rel, data, is_link in tree:
        target = root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if is_link:
                target.symlink_to("elsewhere")
            else:
                target.write_bytes(data)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue  # a file where a directory is wanted, or the reverse: keep what is there


def _relative_to(root: Path, go: dict[str, Any]) -> dict[str, Any]:
    prefix = f"{root}/"
    return {
        **go,
        "valid": [p.removeprefix(prefix) for p in go["valid"]],
        "omitted": [[p.removeprefix(prefix), r] for p, r in go["omitted"]],
        "invalid": [[p.removeprefix(prefix), r] for p, r in go["invalid"]],
    }


@settings(max_examples=100)
@given(tree=_disk_trees())
@example(tree=[("go.mod", b"module m\n\ngo 1.24\n", False), ("sub/vendor/x.txt", b"", False)])
@example(tree=[("a", b"", True), ("sub/GO.MOD", b"", False), ("sub/x.go", b"", False)])
def test_check_dir_agrees_with_go(
    gohelper: GoHelper, scratch: Path, tree: list[tuple[str, bytes, bool]]
) -> None:
    root = scratch / "tree"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    _write_tree(root, tree)
    ours = _report(check_dir(root))
    go = _relative_to(root, gohelper.call("check_dir", dir=root))
    assert ours == _go_report(go)


@st.composite
def _zips(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, bytes]]]:
    if draw(st.integers(0, 4)) == 0:
        path, version = draw(module_versions())
    else:
        path, version = "example.com/m", "v1.0.0"
    prefixes = [f"{path}@{version}/", f"{path}@{version}/", "example.com/other@v1.0.0/", ""]
    entries = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(prefixes)) + draw(file_paths)
        if not name:
            continue  # zipfile cannot write an empty name
        if draw(st.integers(0, 5)) == 0:
            name += "/"
        entries.append((name, b"" if name.endswith("/") else draw(st.binary(max_size=16))))
    return path, version, entries


def _write_zip(file: Path, entries: list[tuple[str, bytes]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we want
        with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(name, data)


@settings(max_examples=300)
@given(case=_zips())
@example(case=("example.com/m", "v1.0.0", [("example.com/m@v1.0.0/", b"")]))
@example(case=("example.com/m", "v1.0.0", [("example.com/m@v1.0.0/x/go.mod", b"")]))
def test_check_zip_and_hash_zip_agree_with_go(
    gohelper: GoHelper, scratch: Path, case: tuple[str, str, list[tuple[str, bytes]]]
) -> None:
    path, version, entries = case
    zip_file = scratch / "generated.zip"
    _write_zip(zip_file, entries)
    go = gohelper.call("check_zip", zip=zip_file, path=path, version=version)
    with open(zip_file, "rb") as f:
        ours: dict[str, Any] | None = None
        try:
            ours = _report(check_zip(f, path, version))
        except ZipError:
            # A bad module path or version: Go reports it with no file lists.
            assert (go["valid"], go["invalid"]) == ([], [])
            assert go["err"] != ""
        if ours is not None:
            assert ours == _go_report(go)
        f.seek(0)
        go_hash = gohelper.call("hash_zip", zip=zip_file)
        our_hash: str | None = None
        with contextlib.suppress(ZipError):
            our_hash = hash_zip(f)
        assert (our_hash is None) == (go_hash["err"] != "")
        if our_hash is not None:
            assert our_hash == go_hash["result"]


class _MemoryHashes:
    """A tlog hash reader over a list of stored hashes."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        return [self.hashes[i] for i in indexes]


def _b64(h: bytes) -> str:
    return tlog.format_hash(h)


@settings(max_examples=60)
@given(leaves=st.lists(st.binary(max_size=12), max_size=40))
def test_tree_hashes_agree_with_go(gohelper: GoHelper, leaves: list[bytes]) -> None:
    reader = _MemoryHashes()
    for i, leaf in enumerate(leaves):
        reader.hashes.extend(tlog.stored_hashes(i, leaf, reader))
    trees = [_b64(tlog.tree_hash(n, reader)) for n in range(len(leaves) + 1)]
    go = gohelper.call("tree_hash", leaves=leaves)
    assert [_b64(h) for h in reader.hashes] == go["stored"]
    assert trees == go["trees"]
    if leaves:
        assert (
            _b64(tlog.record_hash(leaves[0]))
            == gohelper.call("record_hash", data=leaves[0])["result"]
        )


@settings(max_examples=300)
@given(
    level=st.integers(0, 40),
    n=st.integers(0, 1 << 20),
    count=st.integers(0, 1 << 50),
    index=st.integers(0, 1 << 50),
)
def test_stored_hash_indexes_agree_with_go(
    gohelper: GoHelper, level: int, n: int, count: int, index: int
) -> None:
    # Inputs stay where Go's int64 arithmetic cannot overflow (n << level < 2**61).
    go_index = gohelper.call("stored_hash_index", level=level, n=n)["result"]
    assert tlog.stored_hash_index(level, n) == go_index
    go = gohelper.call("split_stored_hash_index", index=index)
    assert tlog.split_stored_hash_index(index) == (go["level"], go["n"])
    assert tlog.stored_hash_count(count) == gohelper.call("stored_hash_count", n=count)["result"]


@st.composite
def _tiles(draw: st.DrawFn) -> tlog.Tile:
    h = draw(st.integers(1, 30))
    return tlog.Tile(
        h, draw(st.integers(-1, 63)), draw(st.integers(0, 1 << 45)), draw(st.integers(1, 1 << h))
    )


@settings(max_examples=300)
@given(tile=_tiles(), text=tile_paths)
@example(tile=tlog.Tile(8, -1, 1, 256), text="tile/3/5/x123/x456/078")
@example(tile=tlog.Tile(8, 0, 256515, 13), text="tile/8/0/x256/515.p/13")
def test_tile_paths_agree_with_go(gohelper: GoHelper, tile: tlog.Tile, text: str) -> None:
    go_path = gohelper.call("tile_path", h=tile.h, l=tile.l, n=tile.n, w=tile.w)["result"]
    assert tile.path() == go_path
    go = gohelper.call("parse_tile_path", path=text)
    try:
        parsed = tlog.parse_tile_path(text)
    except ProxyError:
        assert go["err"] != ""
    else:
        assert go["err"] == ""
        assert (parsed.h, parsed.l, parsed.n, parsed.w) == (go["h"], go["l"], go["n"], go["w"])


def _tile_tuples(tiles: Iterator[tlog.Tile] | list[tlog.Tile]) -> list[tuple[int, int, int, int]]:
    return [(t.h, t.l, t.n, t.w) for t in tiles]


@settings(max_examples=200)
@given(
    h=st.integers(1, 10),
    old=st.integers(0, 1 << 20),
    grow=st.integers(0, 5000),
    index=st.integers(0, 1 << 30),
)
@example(h=10, old=49516517, grow=69, index=0)
def test_new_tiles_and_tile_for_index_agree_with_go(
    gohelper: GoHelper, h: int, old: int, grow: int, index: int
) -> None:
    go = gohelper.call("new_tiles", h=h, old=old, new=old + grow)["result"]
    expected = [(t["h"], t["l"], t["n"], t["w"]) for t in go]
    assert _tile_tuples(tlog.new_tiles(h, old, old + grow)) == expected
    t = gohelper.call("tile_for_index", h=h, index=index)
    assert _tile_tuples([tlog.tile_for_index(h, index)]) == [(t["h"], t["l"], t["n"], t["w"])]

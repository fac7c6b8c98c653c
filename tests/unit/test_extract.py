"""Safe extraction into the module cache (``gomodproxy.modzip.extract``).

Read-only results like the go command's, atomic appearance under the final name, nothing
written outside the target, nothing left behind on failure, and no links or special files ever
created (fault catalogue item 32).
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.modzip import (
    create_zip_from_dir,
    extract_zip,
    hash_dir,
    list_files_in_dir,
    make_dirs_read_only,
    remove_tree,
)
from tests.zipbuild import RawEntry, build_zip, unix_mode_attrs

M, V = "example.com/m", "v1.0.0"
P = f"{M}@{V}/"


def _module_zip() -> bytes:
    return build_zip(
        [
            RawEntry(P + "go.mod", b"module example.com/m\n\ngo 1.21\n"),
            RawEntry(P + "m.go", b"package m\n"),
            RawEntry(P + "sub/deeper/x.go", b"package deeper\n"),
        ]
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_extraction_writes_read_only_files_and_directories(tmp_path: Path) -> None:
    data = _module_zip()
    target = tmp_path / "mod" / "example.com" / "m@v1.0.0"
    assert extract_zip(io.BytesIO(data), M, V, target) == target
    assert _tree(target) == ["go.mod", "m.go", "sub", "sub/deeper", "sub/deeper/x.go"]
    assert (target / "sub" / "deeper" / "x.go").read_bytes() == b"package deeper\n"
    for f in ("go.mod", "m.go", "sub/deeper/x.go"):
        assert stat.S_IMODE((target / f).stat().st_mode) == 0o444 & ~_umask()
    want_dir_mode = (0o777 & ~_umask()) & ~0o222
    for d in (target, target / "sub", target / "sub" / "deeper"):
        assert stat.S_IMODE(d.stat().st_mode) == want_dir_mode
    assert hash_dir(target, f"{M}@{V}") == hash_zip(io.BytesIO(data))
    assert [p.name for p in target.parent.iterdir()] == ["m@v1.0.0"]  # no temporary left


def test_directory_entries_are_not_extracted_but_count_in_the_zip_hash(tmp_path: Path) -> None:
    plain = _module_zip()
    with_dirs = build_zip(
        [
            RawEntry(P + "sub/", b""),
            RawEntry(P + "empty/", b""),
            RawEntry(P + "go.mod", b"module example.com/m\n\ngo 1.21\n"),
            RawEntry(P + "m.go", b"package m\n"),
            RawEntry(P + "sub/deeper/x.go", b"package deeper\n"),
        ]
    )
    target = extract_zip(io.BytesIO(with_dirs), M, V, tmp_path / "out")
    assert not (target / "empty").exists()
    assert hash_dir(target, f"{M}@{V}") == hash_zip(io.BytesIO(plain))
    assert hash_zip(io.BytesIO(with_dirs)) != hash_zip(io.BytesIO(plain))


def test_extraction_accepts_a_path_and_an_existing_empty_target(tmp_path: Path) -> None:
    zip_path = tmp_path / "m.zip"
    zip_path.write_bytes(_module_zip())
    target = tmp_path / "out"
    target.mkdir()
    extract_zip(zip_path, M, V, target)
    assert (target / "m.go").is_file()


def test_a_non_empty_target_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_bytes(b"mine")
    with pytest.raises(ZipError) as info:
        extract_zip(io.BytesIO(_module_zip()), M, V, target)
    assert info.value.kind == "target_not_empty"
    assert _tree(tmp_path) == ["out", "out/keep.txt"]


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_a_target_that_is_not_a_directory_is_refused(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "out"
    if kind == "file":
        target.write_bytes(b"x")
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ZipError) as info:
        extract_zip(io.BytesIO(_module_zip()), M, V, target)
    assert info.value.kind == "target_not_empty"
    if kind == "symlink":
        assert _tree(tmp_path / "elsewhere") == []
        assert target.is_symlink()
    else:
        assert target.read_bytes() == b"x"


def test_a_failure_midway_leaves_neither_target_nor_temporary(tmp_path: Path) -> None:
    data = build_zip(
        [
            RawEntry(P + "a/ok.go", b"package a\n"),
            RawEntry(P + "b/bad.go", b"package b\n", crc=1),
        ]
    )
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(ZipError) as info:
        extract_zip(io.BytesIO(data), M, V, cache / "m@v1.0.0")
    assert info.value.kind == "checksum"
    assert list(cache.iterdir()) == []


def test_c32_a_symlink_entry_becomes_a_plain_read_only_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"untouched")
    data = build_zip(
        [
            RawEntry(P + "link", os.fsencode(outside), external_attrs=unix_mode_attrs(0o120777)),
            RawEntry(P + "dev", b"", external_attrs=unix_mode_attrs(0o020644)),
            RawEntry(P + "fifo", b"", external_attrs=unix_mode_attrs(0o010644)),
        ]
    )
    target = tmp_path / "out"
    extract_zip(io.BytesIO(data), M, V, target)
    for name in ("link", "dev", "fifo"):
        st = os.lstat(target / name)
        assert stat.S_ISREG(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == 0o444 & ~_umask()
    assert (target / "link").read_bytes() == os.fsencode(outside)
    assert outside.read_bytes() == b"untouched"
    assert hash_dir(target, f"{M}@{V}") == hash_zip(io.BytesIO(data))


def test_c32_a_file_written_through_a_symlink_entry_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = build_zip(
        [
            RawEntry(P + "link", os.fsencode(outside), external_attrs=unix_mode_attrs(0o120777)),
            RawEntry(P + "link/x.go", b"package x\n"),
        ]
    )
    with pytest.raises(ZipError) as info:
        extract_zip(io.BytesIO(data), M, V, tmp_path / "out")
    assert info.value.kind == "file_and_dir"
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "out").exists()


def test_c32_links_and_special_files_in_a_module_directory_are_left_out(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "go.mod").write_bytes(b"module example.com/m\n")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (tree / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (tree / "dirlink").symlink_to(tmp_path)
    os.mkfifo(tree / "pipe")
    files, omitted = list_files_in_dir(tree)
    assert [f.path for f in files] == ["go.mod"]
    assert sorted((fe.path, fe.reason) for fe in omitted) == [
        ("dirlink", "not a regular file"),
        ("leak.txt", "not a regular file"),
        ("pipe", "not a regular file"),
    ]
    out = io.BytesIO()
    create_zip_from_dir(out, M, V, tree)
    assert b"secret" not in out.getvalue()


def test_remove_tree_deletes_a_read_only_extraction(tmp_path: Path) -> None:
    target = extract_zip(io.BytesIO(_module_zip()), M, V, tmp_path / "out")
    remove_tree(target)
    assert not target.exists()
    remove_tree(target)  # absent: nothing to do


def test_make_dirs_read_only_leaves_files_alone(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    f = tmp_path / "d" / "e" / "f.txt"
    f.write_bytes(b"x")
    f.chmod(0o644)
    make_dirs_read_only(tmp_path / "d")
    assert stat.S_IMODE((tmp_path / "d" / "e").stat().st_mode) & 0o222 == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    remove_tree(tmp_path / "d")

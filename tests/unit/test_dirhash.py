"""The h1 hash (x/mod ``sumdb/dirhash``): Hash1, HashZip, the go.mod hash and HashDir."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash1, hash_go_mod, hash_zip
from gomodproxy.module.zipcreate import create_zip, hash_module_files
from gomodproxy.module.zipfiles import MemoryFile
from gomodproxy.modzip import dir_files, extract_zip, hash_dir
from tests.zipbuild import STORE, RawEntry, build_zip


def _h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _htop(summary: bytes) -> str:
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


def test_hash1_matches_the_dirhash_test_vector() -> None:
    got = hash1([("xyz", b"data for xyz"), ("abc", b"data for abc")])
    want = _htop(f"{_h(b'data for abc')}  abc\n{_h(b'data for xyz')}  xyz\n".encode())
    assert got == want == "h1:EP6WfDoQTSk9klnxcjriWJOGztueJUywHNmWeq+efB8="


def test_hash1_of_nothing_is_the_empty_module_hash() -> None:
    assert hash1([]) == "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_hash1_refuses_a_name_with_a_newline() -> None:
    with pytest.raises(ZipError) as info:
        hash1([("xyz", b"x"), ("a\nbc", b"y")])
    assert info.value.kind == "newline_in_name"


def test_hash1_sorts_names_by_utf8_bytes_not_code_points() -> None:
    # An invalid byte 0x80 (surrogateescape U+DC80) sorts before "é" (C3 A9) by bytes, as
    # Go's slices.Sort does, but after it by code point.
    invalid = b"\x80".decode("utf-8", "surrogateescape")
    names = [("é", b"1"), (invalid, b"2")]
    summary = f"{_h(b'2')}  ".encode() + b"\x80\n" + f"{_h(b'1')}  ".encode() + "é\n".encode()
    assert hash1(names) == _htop(summary)


def test_hash1_opens_callables_lazily_in_sorted_order() -> None:
    opened: list[str] = []

    def source(name: str, data: bytes) -> Callable[[], BinaryIO]:
        def opener() -> BinaryIO:
            opened.append(name)
            return io.BytesIO(data)

        return opener

    got = hash1([("b", source("b", b"B")), ("a", source("a", b"A"))])
    assert opened == ["a", "b"]
    assert got == hash1([("a", b"A"), ("b", b"B")])


def test_go_mod_hash_of_an_empty_file_is_the_dropped_go_sum_hash() -> None:
    assert hash_go_mod(b"") == "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            b'module "rsc.io/quote"\n\nrequire "rsc.io/sampler" v1.3.0\n',
            "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=",
        ),
        (
            b'module "rsc.io/sampler"\n\nrequire "golang.org/x/text" '
            b"v0.0.0-20170915032832-14c0d48ead0c\n",
            "h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=",
        ),
        (b"module golang.org/x/text\n", "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ="),
    ],
)
def test_go_mod_hash_matches_real_go_sum_lines(text: bytes, want: str) -> None:
    assert hash_go_mod(text) == want


def test_hash_zip_vector_single_go_mod() -> None:
    data = build_zip([RawEntry("example.com/m@v1.0.0/go.mod", b"module example.com/m\n")])
    assert hash_zip(io.BytesIO(data)) == "h1:yJwNngL0tCKlmRg8yireic46hRGohEbhwD/WSE0Ax3I="


def test_hash_zip_counts_directory_entries() -> None:
    data = build_zip(
        [
            RawEntry("example.com/m@v1.0.0/", b""),
            RawEntry("example.com/m@v1.0.0/go.mod", b"module example.com/m\n"),
        ]
    )
    assert hash_zip(io.BytesIO(data)) == "h1:EYnlqmkN3Km7bL1h78q96reQK7np+7liFlFJ5rpQYJ4="


def test_hash_zip_ignores_compression_order_and_timestamps() -> None:
    files = [("prefix/xyz", b"data for xyz"), ("prefix/abc", b"data for abc")]
    deflated = build_zip([RawEntry(n, d) for n, d in files])
    stored = build_zip([RawEntry(n, d, method=STORE) for n, d in reversed(files)])
    want = _htop(f"{_h(b'data for abc')}  prefix/abc\n{_h(b'data for xyz')}  prefix/xyz\n".encode())
    assert hash_zip(io.BytesIO(deflated)) == hash_zip(io.BytesIO(stored)) == want


def test_hash_zip_hashes_every_duplicate_with_the_last_entry_content() -> None:
    # Go's HashZip reads entries into a map by name: both lines hash the last entry's data.
    data = build_zip([RawEntry("p/a", b"first"), RawEntry("p/a", b"second")])
    want = _htop(f"{_h(b'second')}  p/a\n{_h(b'second')}  p/a\n".encode())
    assert hash_zip(io.BytesIO(data)) == want


def test_hash_zip_uses_raw_entry_name_bytes() -> None:
    # Python's zipfile would decode this name as CP437 (no UTF-8 flag); Go hashes the bytes.
    name = "example.com/m@v1.0.0/α.go"
    data = build_zip([RawEntry(name, b"package a\n")])
    assert hash_zip(io.BytesIO(data)) == hash1([(name, b"package a\n")])


def test_hash_module_files_equals_the_hash_of_the_created_zip() -> None:
    files = [MemoryFile("go.mod", b"module example.com/m\n"), MemoryFile("a/b.go", b"package b\n")]
    out = io.BytesIO()
    create_zip(out, "example.com/m", "v1.2.3", files)
    assert hash_module_files("example.com/m", "v1.2.3", files) == hash_zip(
        io.BytesIO(out.getvalue())
    )


def test_hash_dir_matches_the_dirhash_test_vector(tmp_path: Path) -> None:
    (tmp_path / "xyz").write_bytes(b"data for xyz")
    (tmp_path / "abc").write_bytes(b"data for abc")
    want = _htop(f"{_h(b'data for abc')}  prefix/abc\n{_h(b'data for xyz')}  prefix/xyz\n".encode())
    assert hash_dir(tmp_path, "prefix") == want


def test_dir_files_prefixes_every_name_and_walks_subdirectories(tmp_path: Path) -> None:
    (tmp_path / "xyz").write_bytes(b"x")
    (tmp_path / "subdir").mkdir()
    (tmp_path / "subdir" / "xyz").write_bytes(b"y")
    names = [name for name, _ in dir_files(tmp_path, "foo/bar@v2.3.4")]
    assert names == ["foo/bar@v2.3.4/subdir/xyz", "foo/bar@v2.3.4/xyz"]


def test_dir_files_refuses_a_file(tmp_path: Path) -> None:
    f = tmp_path / "not-a-directory.txt"
    f.write_bytes(b"This is a file.")
    with pytest.raises(NotADirectoryError):
        dir_files(f, "")


def test_hash_dir_of_an_extracted_zip_equals_the_zip_hash(tmp_path: Path) -> None:
    data = build_zip(
        [
            RawEntry("example.com/m@v1.0.0/go.mod", b"module example.com/m\n"),
            RawEntry("example.com/m@v1.0.0/a/b/c.go", b"package c\n"),
            RawEntry("example.com/m@v1.0.0/α.go", b"package a\n"),
        ]
    )
    target = tmp_path / "example.com" / "m@v1.0.0"
    extract_zip(io.BytesIO(data), "example.com/m", "v1.0.0", target)
    assert hash_dir(target, "example.com/m@v1.0.0") == hash_zip(io.BytesIO(data))


def test_hash_dir_refuses_a_symlink_instead_of_following_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "link.go")
    with pytest.raises(ZipError) as info:
        hash_dir(tree, "example.com/m@v1.0.0")
    assert info.value.kind == "symlink"

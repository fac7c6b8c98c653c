"""Fault catalogue section C (items 26-36): hostile and broken module zips.

Each refusal is asserted by its ``ZipError`` kind, and extraction is checked to leave nothing
behind. Where Go accepts an odd archive (leading junk, multi-disk fields, overlapping entries,
a zip64 extra that disagrees with plain fields) we accept it too and hash what Go hashes.
"""

from __future__ import annotations

import bz2
import io
import os
import struct
import time
import zipfile
from pathlib import Path

import pytest

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash1, hash_zip
from gomodproxy.module.zipcheck import MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE, check_zip
from gomodproxy.module.zipentry import iter_entry_data
from gomodproxy.module.zipreader import MAX_ENTRIES, read_directory
from gomodproxy.modzip import extract_zip, hash_dir
from tests.zipbuild import STORE, RawEntry, build_zip, deflate

M, V = "example.com/m", "v1.0.0"
P = f"{M}@{V}/"
GO_MOD = RawEntry(P + "go.mod", b"module example.com/m\n")


def _invalid_kinds(data: bytes) -> list[tuple[str, str]]:
    return [(fe.path, fe.kind) for fe in check_zip(data, M, V).invalid]


def _assert_extract_refused(data: bytes, tmp_path: Path, kind: str) -> None:
    before = sorted(tmp_path.rglob("*"))
    target = tmp_path / "cache" / "m@v1.0.0"
    with pytest.raises(ZipError) as info:
        extract_zip(io.BytesIO(data), M, V, target)
    assert info.value.kind == kind
    assert not target.exists()
    after = sorted(p for p in tmp_path.rglob("*") if p != tmp_path / "cache")
    assert after == before, "extraction left files behind"


# --- 26 zip slip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (P + "../../x", "bad_file_path"),
        (P + "..\\x", "bad_file_path"),
        (P + "C:x", "bad_file_path"),
        (P + "not/../clean", "not_clean"),
        (P + "./x", "not_clean"),
        (P + "/x", "bad_file_path"),
        ("/abs/x", "prefix"),
        ("../" + P + "x", "prefix"),
    ],
)
def test_c26_zip_slip_names_reject_the_whole_zip(name: str, kind: str, tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(name, b"pwned")])
    assert _invalid_kinds(data) == [(name, kind)]
    _assert_extract_refused(data, tmp_path, kind)
    assert not (tmp_path / "x").exists()
    assert not (tmp_path.parent / "x").exists()


def test_c26_python_zipfile_would_have_cleaned_the_name_silently(tmp_path: Path) -> None:
    # The trap we avoid: zipfile.extract strips "..", producing a tree that was never hashed.
    data = build_zip([RawEntry(P + "../../x", b"pwned")])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        written = Path(z.extract(z.namelist()[0], tmp_path / "py"))
    assert written.is_file()
    assert written.relative_to(tmp_path / "py").as_posix() == P + "x"
    with pytest.raises(ZipError):
        extract_zip(io.BytesIO(data), M, V, tmp_path / "ours")


# --- 27 entries outside the prefix -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["noprefix", f"{M}@{V}", f"{M}@v1.0.1/go.mod", "example.com/mm@v1.0.0/a.go"]
)
def test_c27_entries_outside_the_prefix_are_invalid(name: str, tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(name, b"x")])
    checked = check_zip(data, M, V)
    (fe,) = checked.invalid
    assert (fe.path, fe.kind) == (name, "prefix")
    assert fe.reason == f'path does not have prefix "{P}"'
    _assert_extract_refused(data, tmp_path, "prefix")


def test_c27_the_bare_prefix_directory_entry_is_allowed_but_hashed(tmp_path: Path) -> None:
    data = build_zip([RawEntry(P, b""), GO_MOD])
    checked = check_zip(data, M, V)
    assert checked.err() is None
    assert checked.valid == (P + "go.mod",)
    assert hash_zip(io.BytesIO(data)) == "h1:EYnlqmkN3Km7bL1h78q96reQK7np+7liFlFJ5rpQYJ4="


# --- 28 bad characters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "bad.go'",
        "x?y.go",
        "☺.go",
        "aux.go",
        "a\x01.go",
        "a\x7f.go",
        b"\xff.go".decode("utf-8", "surrogateescape"),
    ],
)
def test_c28_names_with_bad_characters_are_malformed(name: str) -> None:
    data = build_zip([GO_MOD, RawEntry(P + name, b"package x\n")])
    (fe,) = check_zip(data, M, V).invalid
    assert fe.kind == "bad_file_path"
    assert fe.reason.startswith("malformed file path ")


@pytest.mark.parametrize("name", ["α.go", ".gitignore", "x/K.go", "a b.go", "#x~.go"])
def test_c28_letters_and_allowed_punctuation_stay_valid(name: str) -> None:
    data = build_zip([GO_MOD, RawEntry(P + name, b"package x\n")])
    checked = check_zip(data, M, V)
    assert checked.err() is None
    assert P + name in checked.valid


# --- 29 case collisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "collision"),
    [
        ("m.go", "M.GO", '"m.go" and "M.GO"'),
        ("x/Y.go", "x/y.go", '"x/Y.go" and "x/y.go"'),
        ("x/y/z/w.go", "x/Y/zz/ww.go", '"x/y" and "x/Y"'),
        ("k.go", "\u212a.go", '"k.go" and "\u212a.go"'),  # Kelvin sign folds with k
        ("ß.go", "\u1e9e.go", '"ß.go" and "\u1e9e.go"'),  # capital sharp s folds with ß
        ("s.go", "\u017f.go", '"s.go" and "\u017f.go"'),  # long s folds with s
    ],
)
def test_c29_case_insensitive_collisions_are_refused(
    first: str, second: str, collision: str, tmp_path: Path
) -> None:
    data = build_zip([RawEntry(P + first, b"1"), RawEntry(P + second, b"2")])
    (fe,) = check_zip(data, M, V).invalid
    assert fe.kind == "case_collision"
    assert fe.reason == f"case-insensitive file name collision: {collision}"
    _assert_extract_refused(data, tmp_path, "case_collision")


def test_c29_sharp_s_and_ss_do_not_collide_although_python_casefold_says_so() -> None:
    assert "ß.go".casefold() == "ss.go".casefold()  # the trap
    data = build_zip([RawEntry(P + "ß.go", b"1"), RawEntry(P + "ss.go", b"2")])
    checked = check_zip(data, M, V)
    assert checked.err() is None
    assert len(checked.valid) == 2


# --- 30 duplicates and file/directory clashes --------------------------------------------------


def test_c30_duplicate_files_are_refused_so_hash_and_extraction_cannot_differ(
    tmp_path: Path,
) -> None:
    data = build_zip([RawEntry(P + "a.go", b"first"), RawEntry(P + "a.go", b"second")])
    (fe,) = check_zip(data, M, V).invalid
    assert (fe.kind, fe.reason) == ("duplicate", 'multiple entries for file "a.go"')
    _assert_extract_refused(data, tmp_path, "duplicate")


@pytest.mark.parametrize(
    "names", [("a.go", "a.go/b.go"), ("a.go/b.go", "a.go"), ("d/", "d"), ("x/y/", "x/y")]
)
def test_c30_a_path_cannot_be_both_file_and_directory(
    names: tuple[str, str], tmp_path: Path
) -> None:
    data = build_zip([RawEntry(P + n, b"" if n.endswith("/") else b"x") for n in names])
    (fe,) = check_zip(data, M, V).invalid
    assert fe.kind == "file_and_dir"
    _assert_extract_refused(data, tmp_path, "file_and_dir")


# --- 31 go.mod placement -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("GO.MOD", "gomod_case"),
        ("Go.Mod", "gomod_case"),
        ("sub/go.mod", "gomod_not_root"),
        ("b/GO.MOD", "gomod_not_root"),
    ],
)
def test_c31_go_mod_must_be_lowercase_and_at_the_root(name: str, kind: str, tmp_path: Path) -> None:
    data = build_zip([RawEntry(P + name, b"module x\n")])
    (fe,) = check_zip(data, M, V).invalid
    assert fe.kind == kind
    _assert_extract_refused(data, tmp_path, kind)


def test_c31_a_directory_named_go_mod_is_valid(tmp_path: Path) -> None:
    data = build_zip([RawEntry(P + "go.mod/a.go", b"package a\n")])
    assert check_zip(data, M, V).err() is None
    target = tmp_path / "out"
    extract_zip(io.BytesIO(data), M, V, target)
    assert (target / "go.mod" / "a.go").read_bytes() == b"package a\n"


# --- 33 size limits, checked before extraction -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size", "kind"),
    [
        ("go.mod", MAX_GO_MOD, None),
        ("go.mod", MAX_GO_MOD + 1, "gomod_too_large"),
        ("LICENSE", MAX_LICENSE, None),
        ("LICENSE", MAX_LICENSE + 1, "license_too_large"),
        ("sub/LICENSE", MAX_LICENSE + 1, None),  # only the root LICENSE is limited
        ("big.bin", MAX_ZIP_FILE, None),
        ("big.bin", MAX_ZIP_FILE + 1, "total_too_large"),
    ],
)
def test_c33_declared_sizes_are_limited(name: str, size: int, kind: str | None) -> None:
    data = build_zip([RawEntry(P + name, b"", declared_size=size, crc=0)])
    err = check_zip(data, M, V).err()
    assert (err.kind if err else None) == kind


def test_c33_total_size_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    data = build_zip(
        [
            RawEntry(P + "a.go", b"package a\n"),
            RawEntry(P + "b.bin", b"", declared_size=MAX_ZIP_FILE - 5, crc=0),
        ]
    )
    checked = check_zip(data, M, V)
    assert checked.size_error is not None
    assert checked.size_error.kind == "total_too_large"
    assert "total uncompressed size of module contents too large" in str(checked.size_error)
    _assert_extract_refused(data, tmp_path, "total_too_large")


def test_c33_a_zip_file_over_500_mib_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    with open(big, "wb") as f:
        f.truncate(MAX_ZIP_FILE + 1)
    with open(big, "rb") as f:
        checked = check_zip(f, M, V)
    assert checked.size_error is not None
    assert checked.size_error.kind == "too_large"


# --- 34 declared sizes that lie ----------------------------------------------------------------


def test_c34_data_longer_than_declared_stops_at_declared_plus_one(tmp_path: Path) -> None:
    real = bytes(64 << 20)  # 64 MiB of zeros deflate to about 64 KiB
    entry = RawEntry(P + "lie.go", real, declared_size=100, crc=0)
    data = build_zip([GO_MOD, entry])
    directory = read_directory(io.BytesIO(data))
    yielded: list[int] = []

    def consume() -> None:
        for chunk in iter_entry_data(io.BytesIO(data), directory.entries[1]):
            yielded.append(len(chunk))

    with pytest.raises(ZipError) as info:
        consume()
    assert info.value.kind == "size_lie"
    assert sum(yielded) <= 100
    _assert_extract_refused(data, tmp_path, "size_lie")
    with pytest.raises(ZipError) as hashed:
        hash_zip(io.BytesIO(data))
    assert hashed.value.kind == "size_lie"


def test_c34_data_shorter_than_declared_is_truncated(tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(P + "short.go", b"abc", declared_size=10)])
    _assert_extract_refused(data, tmp_path, "truncated")


def test_c34_a_wrong_crc_is_a_checksum_error(tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(P + "a.go", b"package a\n", crc=0x12345678)])
    _assert_extract_refused(data, tmp_path, "checksum")
    with pytest.raises(ZipError) as info:
        hash_zip(io.BytesIO(data))
    assert info.value.kind == "checksum"


# --- 35 bombs and algorithmic attacks ----------------------------------------------------------


def _zip64_claiming(records: int) -> bytes:
    base = build_zip([GO_MOD])
    end = base[-22:]
    body_and_cd = base[:-22]
    cd_size, cd_offset = struct.unpack_from("<II", end, 12)
    z64_offset = len(body_and_cd)
    z64 = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, records, records, cd_size, cd_offset
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, cd_size, cd_offset, 0)
    return body_and_cd + z64 + locator + eocd


def test_c35_a_directory_claiming_2_to_the_32_entries_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(ZipError) as info:
        check_zip(_zip64_claiming(1 << 32), M, V)
    assert info.value.kind == "too_many_files"
    assert time.monotonic() - started < 5


def test_c35_the_entry_count_is_capped_while_reading() -> None:
    entries = [RawEntry(P + f"f{i}.go", b"") for i in range(101)]
    data = build_zip(entries)
    assert len(check_zip(data, M, V, max_entries=101).valid) == 101
    with pytest.raises(ZipError) as info:
        check_zip(data, M, V, max_entries=100)
    assert info.value.kind == "too_many_files"
    # An end record that understates the count cannot sneak more entries past the cap: the
    # reader stops at the cap instead of reading on (Go reads until a header is malformed).
    understated = build_zip(entries, declared_count=5)
    with pytest.raises(ZipError) as capped:
        read_directory(io.BytesIO(understated), max_entries=100)
    assert capped.value.kind == "too_many_files"
    assert MAX_ENTRIES <= 1_000_000


def test_c35_overlapping_entries_that_go_reads_are_accepted() -> None:
    # Entry 1's compressed size claims bytes up to the end of entry 2's data; the deflate
    # stream ends on its own, so Go reads both. CPython 3.12+ raises "Overlapped entries".
    a, b = b"package a\n" * 10, b"package b\n"
    first_payload = deflate(a)
    overlap = len(first_payload) + 30 + len(P + "b.go") + 5
    data = build_zip([RawEntry(P + "a.go", a, compressed_size=overlap), RawEntry(P + "b.go", b)])
    assert check_zip(data, M, V).err() is None
    assert hash_zip(io.BytesIO(data)) == hash1([(P + "a.go", a), (P + "b.go", b)])


def test_c35_two_names_sharing_one_local_header_are_refused(tmp_path: Path) -> None:
    # The "quoted overlap" shape: a second central entry pointing at the first local header.
    data = bytearray(build_zip([RawEntry(P + "a.go", b"x"), RawEntry(P + "b.go", b"y")]))
    second_cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, second_cd + 42, 0)  # local header offset -> entry 1
    with pytest.raises(ZipError) as info:
        hash_zip(io.BytesIO(bytes(data)))
    assert info.value.kind == "name_mismatch"
    _assert_extract_refused(bytes(data), tmp_path, "name_mismatch")


def test_c35_deep_nesting_is_checked_without_recursion_and_fails_cleanly(
    tmp_path: Path,
) -> None:
    name = P + "a/" * 10_000 + "f.go"
    data = build_zip([RawEntry(name, b"package f\n")])
    started = time.monotonic()
    checked = check_zip(data, M, V)
    assert time.monotonic() - started < 30  # linear; a per-parent fold would take minutes
    assert checked.valid == (name,)
    target = tmp_path / "out"
    with pytest.raises(OSError, match="too long"):
        extract_zip(io.BytesIO(data), M, V, target)
    assert os.listdir(tmp_path) == []


def test_c35_many_names_with_long_shared_prefixes_stay_linear() -> None:
    stem = "d/" * 200
    entries = [RawEntry(P + stem + f"f{i}.go", b"") for i in range(3000)]
    started = time.monotonic()
    checked = check_zip(build_zip(entries), M, V)
    assert time.monotonic() - started < 30
    assert len(checked.valid) == 3000


# --- 36 broken containers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x05\x06",
        b"<html><body>captive portal</body></html>\n",
        build_zip([GO_MOD])[:-10],  # the end record cut short
        build_zip([GO_MOD, RawEntry(P + "a.go", b"x")])[:-60],  # central directory cut
        build_zip([GO_MOD], declared_count=2),  # end record counts an entry that is not there
    ],
    ids=["empty", "bare-signature", "html", "cut-end-record", "cut-directory", "count-mismatch"],
)
def test_c36_broken_containers_are_not_a_valid_zip(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(ZipError) as info:
        check_zip(data, M, V)
    assert info.value.kind == "not_zip"
    assert "not a valid zip file" in str(info.value)
    _assert_extract_refused(data, tmp_path, "not_zip")


def test_c36_an_end_record_in_the_comment_whose_comment_overflows_ends_the_search() -> None:
    # Go takes the last signature; if its comment would run past the end it gives up.
    fake = b"PK\x05\x06" + bytes(16) + struct.pack("<H", 500)
    data = build_zip([GO_MOD], comment=fake)
    with pytest.raises(ZipError) as info:
        check_zip(data, M, V)
    assert info.value.kind == "not_zip"


def test_c36_leading_junk_is_read_as_go_reads_it() -> None:
    plain = build_zip([GO_MOD])
    junked = build_zip([GO_MOD], junk=b"#!/bin/sh\nexit 0\n" * 3)
    assert hash_zip(io.BytesIO(junked)) == hash_zip(io.BytesIO(plain))


def test_c36_multi_disk_fields_are_ignored_as_go_ignores_them() -> None:
    data = build_zip([GO_MOD], disk_fields=(1, 1))
    assert check_zip(data, M, V).err() is None
    assert hash_zip(io.BytesIO(data)) == "h1:yJwNngL0tCKlmRg8yireic46hRGohEbhwD/WSE0Ax3I="


def test_c36_a_zip64_extra_is_only_used_when_the_plain_field_says_so() -> None:
    content = b"module example.com/m\n"
    lying = struct.pack("<HHQ", 0x0001, 8, 1 << 40)
    data = build_zip([RawEntry(P + "go.mod", content, central_extra=lying)])
    assert check_zip(data, M, V).err() is None
    assert hash_zip(io.BytesIO(data)) == "h1:yJwNngL0tCKlmRg8yireic46hRGohEbhwD/WSE0Ax3I="
    # When the plain field is 0xFFFFFFFF the zip64 value is the size.
    real = struct.pack("<HHQ", 0x0001, 8, len(content))
    data64 = build_zip(
        [RawEntry(P + "go.mod", content, declared_size=0xFFFFFFFF, central_extra=real)]
    )
    assert hash_zip(io.BytesIO(data64)) == "h1:yJwNngL0tCKlmRg8yireic46hRGohEbhwD/WSE0Ax3I="


def test_c36_encrypted_entries_are_refused(tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(P + "a.go", b"package a\n", flags=0x1)])
    with pytest.raises(ZipError) as info:
        hash_zip(io.BytesIO(data))
    assert info.value.kind == "encrypted"
    _assert_extract_refused(data, tmp_path, "encrypted")


@pytest.mark.parametrize("method", [12, 14, 9, 99])
def test_c36_methods_other_than_store_and_deflate_are_unsupported(
    method: int, tmp_path: Path
) -> None:
    payload = bz2.compress(b"package a\n") if method == 12 else b"whatever"
    data = build_zip([GO_MOD, RawEntry(P + "a.go", b"package a\n", method=method, payload=payload)])
    if method == 12:
        with zipfile.ZipFile(io.BytesIO(data)) as z:  # Python would read it; Go does not
            assert z.read(P + "a.go") == b"package a\n"
    with pytest.raises(ZipError) as info:
        hash_zip(io.BytesIO(data))
    assert info.value.kind == "unsupported_method"
    assert "unsupported compression method" in str(info.value)
    _assert_extract_refused(data, tmp_path, "unsupported_method")


def test_c36_a_local_name_that_differs_from_the_central_name_is_refused(tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(P + "a.go", b"package a\n", local_name=P + "b.go")])
    with zipfile.ZipFile(io.BytesIO(data)) as z, pytest.raises(zipfile.BadZipFile):
        z.read(P + "a.go")
    with pytest.raises(ZipError) as info:
        hash_zip(io.BytesIO(data))
    assert info.value.kind == "name_mismatch"
    _assert_extract_refused(data, tmp_path, "name_mismatch")


def test_c36_a_directory_entry_with_data_is_not_valid() -> None:
    data = build_zip([RawEntry(P + "d/", b"data", method=STORE), GO_MOD])
    with pytest.raises(ZipError) as info:
        hash_zip(io.BytesIO(data))
    assert info.value.kind == "not_zip"


def test_c36_extraction_of_a_good_zip_after_all_those_still_works(tmp_path: Path) -> None:
    data = build_zip([GO_MOD, RawEntry(P + "a/b.go", b"package b\n")])
    target = extract_zip(io.BytesIO(data), M, V, tmp_path / "ok")
    assert hash_dir(target, f"{M}@{V}") == hash_zip(io.BytesIO(data))

"""x/mod ``zip_test.go`` size tables: TestCreateSizeLimits, TestUnzipSizeLimits(Special).

Big inputs are made without big memory: files of zeros are streamed, zips that only need to
*declare* a size carry no data, and the 500 MiB zip files are sparse.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from gomodproxy.errors import ZipError
from gomodproxy.module.zipcheck import (
    MAX_GO_MOD,
    MAX_LICENSE,
    MAX_ZIP_FILE,
    check_files,
    check_zip,
)
from gomodproxy.module.zipcreate import ZipWriter, create_zip
from gomodproxy.module.zipfiles import FileInfo, FileKind, MemoryFile, ModuleFile
from gomodproxy.modzip import extract_zip
from tests.zipbuild import RawEntry, build_zip

# --- sizeLimitTests --------------------------------------------------


@dataclass(frozen=True)
class ZeroFile:
    """A file of ``size`` zero bytes, produced lazily (x/mod's fakeFile without data)."""

    path: str
    size: int

    def lstat(self) -> FileInfo:
        return FileInfo(FileKind.REGULAR, self.size)

    def open(self) -> BinaryIO:
        stream: BinaryIO = io.BufferedReader(_ZeroStream(self.size))
        return stream


class _ZeroStream(io.RawIOBase):
    def __init__(self, size: int) -> None:
        super().__init__()
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left)
        buffer[:n] = bytes(n)
        self._left -= n
        return n


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        return len(memoryview(b))  # type: ignore[arg-type]


@dataclass(frozen=True)
class SizeCase:
    desc: str
    files: tuple[ModuleFile, ...]
    check_files_kind: str | None = None
    create_kind: str | None = None
    check_zip_kind: str | None = None
    unzip_kind: str | None = None


SIZE_CASES = [
    SizeCase("one_large", (ZeroFile("large.go", MAX_ZIP_FILE),)),
    SizeCase(
        "one_too_large",
        (ZeroFile("large.go", MAX_ZIP_FILE + 1),),
        "total_too_large",
        "total_too_large",
        "total_too_large",
        "total_too_large",
    ),
    SizeCase("total_large", (ZeroFile("small.go", 10), ZeroFile("large.go", MAX_ZIP_FILE - 10))),
    SizeCase(
        "total_too_large",
        (ZeroFile("small.go", 10), ZeroFile("large.go", MAX_ZIP_FILE - 9)),
        "total_too_large",
        "total_too_large",
        "total_too_large",
        "total_too_large",
    ),
    SizeCase("large_gomod", (ZeroFile("go.mod", MAX_GO_MOD),)),
    SizeCase("too_large_gomod", (ZeroFile("go.mod", MAX_GO_MOD + 1),), *(["gomod_too_large"] * 4)),
    SizeCase("large_license", (ZeroFile("LICENSE", MAX_LICENSE),)),
    SizeCase(
        "too_large_license", (ZeroFile("LICENSE", MAX_LICENSE + 1),), *(["license_too_large"] * 4)
    ),
]
CREATE_ONLY_SIZE_CASES = [
    SizeCase("negative", (ZeroFile("neg.go", 0x8000000000000000),), *(["total_too_large"] * 2)),
    SizeCase(
        "size_is_a_lie",
        (MemoryFile("lie.go", b"package large", size=1),),
        create_kind="size_lie",
    ),
]
_BIG_CREATES = {"one_large", "total_large"}


def _size_case_params(cases: list[SizeCase]) -> Iterator[object]:
    for c in cases:
        marks = [pytest.mark.slow] if c.desc in _BIG_CREATES else []
        yield pytest.param(c, id=c.desc, marks=marks)


@pytest.mark.parametrize("case", list(_size_case_params(SIZE_CASES + CREATE_ONLY_SIZE_CASES)))
def test_create_size_limits(case: SizeCase) -> None:
    checked = check_files(list(case.files))
    err = checked.err()
    assert (err.kind if err else None) == case.check_files_kind
    sink = io.BufferedWriter(_Discard())
    if case.create_kind is None:
        create_zip(sink, "example.com/large", "v1.0.0", list(case.files))
    else:
        with pytest.raises(ZipError) as info:
            create_zip(sink, "example.com/large", "v1.0.0", list(case.files))
        assert info.value.kind == case.create_kind


def _declared_zip(files: tuple[ModuleFile, ...]) -> bytes:
    """A zip whose central directory declares the files' sizes; data is real only up to 16 MiB."""
    entries = []
    for f in files:
        size = f.lstat().size
        prefix_name = f"example.com/large@v1.0.0/{f.path}"
        if size <= MAX_GO_MOD + 1:
            entries.append(RawEntry(prefix_name, bytes(size)))
        else:
            entries.append(RawEntry(prefix_name, b"", declared_size=size, crc=0))
    return build_zip(entries)


@pytest.mark.parametrize("case", SIZE_CASES, ids=[c.desc for c in SIZE_CASES])
def test_unzip_size_limits(case: SizeCase, tmp_path: Path) -> None:
    data = _declared_zip(case.files)
    checked = check_zip(data, "example.com/large", "v1.0.0")
    err = checked.err()
    assert (err.kind if err else None) == case.check_zip_kind
    target = tmp_path / "out"
    if case.unzip_kind is not None:
        with pytest.raises(ZipError) as info:
            extract_zip(io.BytesIO(data), "example.com/large", "v1.0.0", target)
        assert info.value.kind == case.unzip_kind
        assert list(tmp_path.iterdir()) == []  # refused before anything was written
    elif max(f.lstat().size for f in case.files) <= MAX_GO_MOD:
        extract_zip(io.BytesIO(data), "example.com/large", "v1.0.0", target)
        (only,) = case.files
        assert (target / only.path).stat().st_size == only.lstat().size


def test_unzip_large_zip_is_opened_and_not_a_zip(tmp_path: Path) -> None:
    big = tmp_path / "large.zip"
    with open(big, "wb") as f:
        f.truncate(MAX_ZIP_FILE)
    with pytest.raises(ZipError) as info:
        extract_zip(big, "example.com/m", "v1.0.0", tmp_path / "out")
    assert info.value.kind == "not_zip"
    assert "not a valid zip file" in str(info.value)


def test_unzip_too_large_zip_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "too_large.zip"
    with open(big, "wb") as f:
        f.truncate(MAX_ZIP_FILE + 1)
    with pytest.raises(ZipError) as info:
        extract_zip(big, "example.com/m", "v1.0.0", tmp_path / "out")
    assert info.value.kind == "too_large"
    assert "module zip file is too large" in str(info.value)
    assert not (tmp_path / "out").exists()


def size_is_a_lie_zip() -> bytes:
    """zip_test.go's size_is_a_lie: a go.mod of 0xBAD zero bytes declared as 0xAC bytes."""
    buf = io.BytesIO()
    writer = ZipWriter(buf)
    writer.add("example.com/m@v1.0.0/go.mod", [bytes(0x0BAD)])
    writer.close()
    data = buf.getvalue()
    assert data.count(b"\xad\x0b") == 2  # the data descriptor and the central directory
    return data.replace(b"\xad\x0b", b"\xac\x00")


def test_unzip_size_is_a_lie(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(ZipError) as info:
        extract_zip(io.BytesIO(size_is_a_lie_zip()), "example.com/m", "v1.0.0", target)
    assert info.value.kind == "size_lie"
    assert (
        "uncompressed size of file example.com/m@v1.0.0/go.mod is larger than declared size"
        in str(info.value)
    )
    assert os.listdir(tmp_path) == []

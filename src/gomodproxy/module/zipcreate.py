"""Writing module zips: x/mod/zip ``Create``, and the plain zip writer it uses.

:class:`ZipWriter` writes entries the way Go's ``zip.Writer.Create`` does: deflate, a zero
(1980) timestamp, a data descriptor after each entry, the UTF-8 flag only for names that need it,
no extra fields, no directory entries. It writes sequentially, so the output need not be
seekable. The zip bytes will not equal the go command's (Go's deflate differs from zlib's); the
content, and so the ``h1:`` hash, is the same, which is all the module system compares.

:func:`create_zip` applies every rule of :mod:`gomodproxy.module.zipcheck` first and refuses the
module (``ZipError``) if any file is invalid, like Go's ``Create``. :func:`hash_module_files`
gives the hash of the zip :func:`create_zip` would write, without writing it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash1
from gomodproxy.module.zipcheck import check_files_detailed, check_module_version
from gomodproxy.module.zipentry import chunk_stream
from gomodproxy.module.zipfiles import ModuleFile
from gomodproxy.module.zipreader import METHOD_DEFLATE, METHOD_STORE, name_bytes

__all__ = ["ZipWriter", "create_zip", "hash_module_files"]

_CHUNK = 64 * 1024
_VERSION_20 = 20
_FLAG_DATA_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800
_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Written:
    name: bytes
    flags: int
    method: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    offset: int


def _name_flags(raw: bytes) -> int:
    # Go's detectUTF8: set the flag only for valid UTF-8 that is not plain ASCII.
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return 0 if raw.isascii() else _FLAG_UTF8


class ZipWriter:
    """Append entries to a zip written sequentially to ``out``; call :meth:`close` once.

    Sizes and offsets must fit the 32-bit fields (module zips are at most 500 MiB); anything
    larger raises ``ZipError`` ``too_large`` instead of writing a zip64 archive.
    """

    def __init__(self, out: BinaryIO, *, level: int = 6) -> None:
        self._out = out
        self._level = level
        self._offset = 0
        self._entries: list[_Written] = []
        self._closed = False

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)

    def add(self, name: str, chunks: Iterable[bytes], *, method: int = METHOD_DEFLATE) -> None:
        """Write one entry named ``name`` (stored as its UTF-8 bytes) with the given content."""
        if self._closed:
            raise ValueError("ZipWriter is closed")
        if method not in (METHOD_STORE, METHOD_DEFLATE):
            raise ValueError(f"unsupported compression method {method}")
        raw = name_bytes(name)
        flags = _FLAG_DATA_DESCRIPTOR | _name_flags(raw)
        offset = self._offset
        self._write(
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, _VERSION_20, flags, method, 0, 0, 0, 0, 0, len(raw), 0
            )
            + raw
        )
        crc = 0
        usize = 0
        csize = 0
        deflater = zlib.compressobj(self._level, zlib.DEFLATED, -15) if method else None
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            usize += len(chunk)
            out = deflater.compress(chunk) if deflater is not None else chunk
            csize += len(out)
            self._write(out)
        if deflater is not None:
            tail = deflater.flush()
            csize += len(tail)
            self._write(tail)
        if max(usize, csize, offset) > _U32:
            raise ZipError("too_large", f"zip entry {name!r} does not fit a 32-bit zip")
        self._write(struct.pack("<IIII", 0x08074B50, crc, csize, usize))
        self._entries.append(_Written(raw, flags, method, crc, csize, usize, offset))

    def close(self) -> None:
        """Write the central directory and the end record (the output is not closed)."""
        if self._closed:
            return
        self._closed = True
        start = self._offset
        for e in self._entries:
            self._write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    _VERSION_20,
                    _VERSION_20,
                    e.flags,
                    e.method,
                    0,
                    0,
                    e.crc32,
                    e.compressed_size,
                    e.uncompressed_size,
                    len(e.name),
                    0,
                    0,
                    0,
                    0,
                    0,
                    e.offset,
                )
                + e.name
            )
        size = self._offset - start
        count = len(self._entries)
        if count > 0xFFFF or max(size, start) > _U32:
            raise ZipError("too_large", "zip central directory does not fit a 32-bit zip")
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))


def _limited_chunks(f: ModuleFile, size: int) -> Iterator[bytes]:
    # Go's Create copies through io.LimitedReader{N: size+1} and fails if the limit is reached.
    remaining = size + 1
    with f.open() as stream:
        while remaining > 0:
            chunk = stream.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            if remaining <= 0:
                raise ZipError(
                    "size_lie",
                    f"file {f.path!r} is larger than declared size ({size} bytes)",
                    file=f.path,
                )
            yield chunk


def _checked_valid_files(
    module_path: str, version: str, files: Sequence[ModuleFile]
) -> tuple[list[ModuleFile], list[int]]:
    check_module_version(module_path, version)
    checked, valid_files, sizes = check_files_detailed(files)
    checked.raise_for_error()
    return valid_files, sizes


def create_zip(out: BinaryIO, module_path: str, version: str, files: Sequence[ModuleFile]) -> None:
    """Write the module zip of ``module_path@version`` made of ``files`` to ``out`` (Go's Create).

    Vendored files, nested modules, ``.hg_archival.txt``, symbolic links and other irregular
    files are left out; any invalid file, a bad module path or version, or content over the
    size limits raises ``ZipError`` (see :mod:`gomodproxy.module.zipcheck` for the kinds). A
    file that turns out larger than its ``lstat`` size raises kind ``size_lie``. On error ``out``
    holds a partial zip: write to a temporary file and rename it into place on success.
    """
    valid_files, sizes = _checked_valid_files(module_path, version, files)
    prefix = f"{module_path}@{version}/"
    writer = ZipWriter(out)
    for f, size in zip(valid_files, sizes, strict=True):
        writer.add(prefix + f.path, _limited_chunks(f, size))
    writer.close()


def hash_module_files(module_path: str, version: str, files: Sequence[ModuleFile]) -> str:
    """Return the ``h1:`` hash of the zip :func:`create_zip` would write for ``files``.

    Same checks and errors as :func:`create_zip`, without compressing anything.
    """
    valid_files, sizes = _checked_valid_files(module_path, version, files)
    prefix = f"{module_path}@{version}/"

    def source(f: ModuleFile, size: int) -> Callable[[], BinaryIO]:
        return lambda: chunk_stream(_limited_chunks(f, size))

    return hash1(
        (prefix + f.path, source(f, size)) for f, size in zip(valid_files, sizes, strict=True)
    )

"""A zip central-directory reader with Go's ``archive/zip`` semantics, streaming and bounded.

Python's ``zipfile`` is not used for reading module zips: it decodes names as CP437 when the UTF-8
flag is clear (Go keeps the raw bytes, and the h1 hash is over those bytes), reads bzip2 and lzma
(Go does not), raises on overlapping entries that Go accepts, and its ``extract`` silently strips
``..``. This module reads what Go reads, the way Go reads it:

* the end-of-central-directory record is searched for in the last 1 KiB, then the last 65 KiB,
  scanning backwards; a record whose comment would run past the end of the file stops the search
  (``findSignatureInBlock``); zip64 end records are followed like Go does, and leading junk is
  allowed through the ``baseOffset`` rule (``readDirectoryEnd``);
* central-directory headers are read until one is malformed; the count must then match the end
  record's count in its low 16 bits (``Reader.init``);
* entry names are the central-directory names, raw bytes, decoded as UTF-8 with
  ``surrogateescape`` so that invalid bytes survive unchanged (:func:`name_bytes` gives them back);
* entry data is read by :mod:`gomodproxy.module.zipentry`.

Nothing here reads a whole archive into memory: the central directory is parsed through a small
buffer and the number of entries is capped.

Failures are :class:`~gomodproxy.errors.ZipError` with kind ``not_zip`` or ``too_many_files``.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

from gomodproxy.errors import ZipError

__all__ = [
    "MAX_ENTRIES",
    "METHOD_DEFLATE",
    "METHOD_STORE",
    "ZipDirectory",
    "ZipEntry",
    "name_bytes",
    "not_zip_error",
    "read_at",
    "read_directory",
]

#: Default cap on the number of central-directory entries (Go has none; a module zip with this
#: many files would be far beyond any published module, and each entry costs memory).
MAX_ENTRIES = 250_000

_CHUNK = 64 * 1024

_DIR_HEADER_SIG = 0x02014B50
_DIR_END_SIG = b"PK\x05\x06"
_DIR64_LOC_SIG = 0x07064B50
_DIR64_END_SIG = 0x06064B50
_DIR_HEADER_LEN = 46
_DIR_END_LEN = 22
_DIR64_LOC_LEN = 20
_DIR64_END_LEN = 56
_ZIP64_EXTRA_ID = 0x0001
_MAX_INT64 = (1 << 63) - 1

METHOD_STORE = 0
METHOD_DEFLATE = 8


def not_zip_error(detail: str = "") -> ZipError:
    """The ``not_zip`` error, Go's ``zip: not a valid zip file``, with an optional detail."""
    suffix = f" ({detail})" if detail else ""
    return ZipError("not_zip", f"zip: not a valid zip file{suffix}")


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One central-directory entry, as Go's ``zip.File`` sees it.

    ``name`` is the raw name decoded as UTF-8 with ``surrogateescape``; ``header_offset`` is the
    absolute offset of the local header (the archive's base offset already added).
    """

    name: str
    flags: int
    method: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int
    external_attrs: int
    creator_version: int

    @property
    def is_dir(self) -> bool:
        """Whether the name ends in ``/`` (Go treats such entries as directories)."""
        return self.name.endswith("/")


@dataclass(frozen=True, slots=True)
class ZipDirectory:
    """The parsed central directory: entries in stored order, plus the archive size."""

    entries: tuple[ZipEntry, ...]
    size: int


def name_bytes(name: str) -> bytes:
    """Return the raw bytes of an entry name decoded by this module."""
    return name.encode("utf-8", "surrogateescape")


def _decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    """Read up to ``n`` bytes at ``offset`` (Go's ``ReaderAt`` on a seekable stream)."""
    if offset < 0:
        raise not_zip_error("negative offset")
    f.seek(offset)
    return f.read(n)


def _stream_size(f: BinaryIO) -> int:
    return f.seek(0, io.SEEK_END)


def _find_signature_in_block(b: bytes) -> int:
    # Go's findSignatureInBlock: the last record signature that leaves room for a whole record;
    # if its comment would run past the end, the search fails (Go does not look further back).
    i = b.rfind(_DIR_END_SIG, 0, max(len(b) - _DIR_END_LEN + 4, 0))
    if i < 0:
        return -1
    n = b[i + _DIR_END_LEN - 2] | (b[i + _DIR_END_LEN - 1] << 8)
    if n + _DIR_END_LEN + i > len(b):
        return -1
    return i


@dataclass(slots=True)
class _DirEnd:
    records: int
    dir_size: int
    dir_offset: int


def _find_directory64_end(f: BinaryIO, end_offset: int) -> int:
    loc_offset = end_offset - _DIR64_LOC_LEN
    if loc_offset < 0:
        return -1
    buf = read_at(f, loc_offset, _DIR64_LOC_LEN)
    if len(buf) < _DIR64_LOC_LEN:
        raise not_zip_error("truncated zip64 locator")
    sig, disk, offset, disks = struct.unpack("<IIQI", buf)
    if sig != _DIR64_LOC_SIG or disk != 0 or disks != 1:
        return -1
    if offset > _MAX_INT64:
        raise not_zip_error("zip64 end offset out of range")
    return int(offset)


def _read_directory64_end(f: BinaryIO, offset: int, d: _DirEnd) -> None:
    buf = read_at(f, offset, _DIR64_END_LEN)
    if len(buf) < _DIR64_END_LEN:
        raise not_zip_error("truncated zip64 end record")
    sig = struct.unpack_from("<I", buf, 0)[0]
    if sig != _DIR64_END_SIG:
        raise not_zip_error("bad zip64 end record signature")
    _disk, _dir_disk, _this_disk, records, dir_size, dir_offset = struct.unpack_from(
        "<IIQQQQ", buf, 16
    )
    d.records, d.dir_size, d.dir_offset = records, dir_size, dir_offset


def _read_directory_end(f: BinaryIO, size: int) -> tuple[_DirEnd, int]:
    # Go's readDirectoryEnd.
    buf = b""
    end_offset = -1
    for attempt, block in enumerate((1024, 65 * 1024)):
        block = min(block, size)
        buf = read_at(f, size - block, block)
        if len(buf) != block:
            raise not_zip_error("short read")
        p = _find_signature_in_block(buf)
        if p >= 0:
            buf = buf[p:]
            end_offset = size - block + p
            break
        if attempt == 1 or block == size:
            raise not_zip_error("no end of central directory record")
    (_disk, _dir_disk, _this_disk, records, dir_size, dir_offset, comment_len) = struct.unpack_from(
        "<HHHHIIH", buf, 4
    )
    if comment_len > len(buf) - _DIR_END_LEN:
        raise ZipError("not_zip", "zip: invalid comment length")
    d = _DirEnd(records=records, dir_size=dir_size, dir_offset=dir_offset)
    # Go compares directorySize with 0xffff (not 0xffffffff); kept for identical behaviour.
    if records == 0xFFFF or dir_size == 0xFFFF or dir_offset == 0xFFFFFFFF:
        p64 = _find_directory64_end(f, end_offset)
        if p64 >= 0:
            end_offset = p64
            _read_directory64_end(f, p64, d)
    if d.dir_size > _MAX_INT64 or d.dir_offset > _MAX_INT64:
        raise not_zip_error("directory out of range")
    base_offset = end_offset - d.dir_size - d.dir_offset
    start = base_offset + d.dir_offset
    if start < 0 or start >= size:
        raise not_zip_error("central directory offset out of range")
    if base_offset > 0:
        # Some archives declare a wrong base offset; Go prefers 0 when a valid header is there.
        probe = _BufferedSection(f, d.dir_offset, size)
        try:
            _read_directory_header(probe, 0)
        except (_BadHeader, ZipError):
            pass
        else:
            base_offset = 0
    return d, base_offset


class _BadHeader(Exception):
    """A malformed or truncated central-directory header: the end of the directory for Go."""


class _BufferedSection:
    """Sequential reads from ``offset`` to ``limit`` through a small buffer."""

    def __init__(self, f: BinaryIO, offset: int, limit: int) -> None:
        self._f = f
        self._pos = offset
        self._limit = limit
        self._buf = b""

    def at_eof(self) -> bool:
        return not self._buf and self._pos >= self._limit

    def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            want = min(max(_CHUNK, n - len(self._buf)), self._limit - self._pos)
            if want <= 0:
                raise _BadHeader("unexpected EOF")
            chunk = read_at(self._f, self._pos, want)
            if not chunk:
                raise _BadHeader("unexpected EOF")
            self._pos += len(chunk)
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _read_directory_header(r: _BufferedSection, base_offset: int) -> ZipEntry:
    # Go's readDirectoryHeader (timestamps and comments are not kept).
    b = r.read_exact(_DIR_HEADER_LEN)
    (
        sig,
        creator_version,
        _reader_version,
        flags,
        method,
        _mtime,
        _mdate,
        crc,
        csize,
        usize,
        name_len,
        extra_len,
        comment_len,
        _disk_start,
        _internal_attrs,
        external_attrs,
        header_offset,
    ) = struct.unpack("<IHHHHHHIIIHHHHHII", b)
    if sig != _DIR_HEADER_SIG:
        raise _BadHeader("bad signature")
    rest = r.read_exact(name_len + extra_len + comment_len)
    raw_name = rest[:name_len]
    extra = rest[name_len : name_len + extra_len]
    need_usize = usize == 0xFFFFFFFF
    need_csize = csize == 0xFFFFFFFF
    need_offset = header_offset == 0xFFFFFFFF
    pos = 0
    while len(extra) - pos >= 4:
        tag, field_size = struct.unpack_from("<HH", extra, pos)
        pos += 4
        if len(extra) - pos < field_size:
            break
        field = extra[pos : pos + field_size]
        pos += field_size
        if tag != _ZIP64_EXTRA_ID:
            continue
        fpos = 0
        for need in ("usize", "csize", "offset"):
            wanted = {"usize": need_usize, "csize": need_csize, "offset": need_offset}[need]
            if not wanted:
                continue
            if len(field) - fpos < 8:
                raise _BadHeader("short zip64 field")
            value = struct.unpack_from("<Q", field, fpos)[0]
            fpos += 8
            if need == "usize":
                usize, need_usize = value, False
            elif need == "csize":
                csize, need_csize = value, False
            else:
                header_offset, need_offset = value, False
    # An uncompressed size of 2^32-1 without zip64 is accepted (Go: "keeps 42.zip working").
    if need_csize or need_offset:
        raise _BadHeader("missing zip64 sizes")
    return ZipEntry(
        name=_decode_name(raw_name),
        flags=flags,
        method=method,
        crc32=crc,
        compressed_size=csize,
        uncompressed_size=usize,
        header_offset=header_offset + base_offset,
        external_attrs=external_attrs,
        creator_version=creator_version,
    )


def read_directory(
    f: BinaryIO, size: int | None = None, *, max_entries: int = MAX_ENTRIES
) -> ZipDirectory:
    """Parse the central directory of the zip in ``f`` (seekable) like Go's ``zip.NewReader``.

    ``size`` defaults to the stream's length. Raises ``ZipError`` ``not_zip`` for anything Go
    rejects as not a valid zip, and ``too_many_files`` past ``max_entries`` entries (checked on
    the declared count first, so a directory claiming 2^32 entries costs nothing).
    """
    if size is None:
        size = _stream_size(f)
    end, base_offset = _read_directory_end(f, size)
    if end.records > max_entries:
        raise ZipError(
            "too_many_files",
            f"zip declares {end.records} entries; the limit is {max_entries}",
        )
    r = _BufferedSection(f, base_offset + end.dir_offset, size)
    entries: list[ZipEntry] = []
    while True:
        if r.at_eof():
            # io.ReadFull's plain EOF is not one of the errors Go treats as "end of directory".
            raise not_zip_error("central directory runs to the end of the file")
        try:
            entry = _read_directory_header(r, base_offset)
        except _BadHeader:
            break
        entries.append(entry)
        if len(entries) > max_entries:
            raise ZipError(
                "too_many_files",
                f"zip holds more than {max_entries} entries; refusing to read further",
            )
    # Go compares only the low 16 bits: the count field of a plain end record is 16 bits wide.
    if (len(entries) & 0xFFFF) != (end.records & 0xFFFF):
        raise not_zip_error(
            f"central directory has {len(entries)} readable entries, end record says {end.records}"
        )
    return ZipDirectory(entries=tuple(entries), size=size)

"""Reading one module-zip entry's data with Go's ``File.Open`` checks, streaming.

Opening an entry checks the local header's signature and, stricter than Go, that the local name
equals the central-directory name (Go hashes and extracts under the central name, so a zip whose
two names disagree means different things to different readers), that the entry is not encrypted
and that its method is store (0) or deflate (8): Python would also read bzip2 and lzma, Go does
not. Data beyond the declared uncompressed size is an error at the first byte past it, a short
stream is an error, and the CRC-32 is checked as Go's ``checksumReader`` does.

Kinds of :class:`~gomodproxy.errors.ZipError`: ``not_zip``, ``name_mismatch``, ``encrypted``,
``unsupported_method``, ``size_lie``, ``truncated``, ``checksum``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from gomodproxy.errors import ZipError
from gomodproxy.module.zipreader import (
    METHOD_DEFLATE,
    METHOD_STORE,
    ZipEntry,
    name_bytes,
    not_zip_error,
    read_at,
)

__all__ = ["chunk_stream", "iter_entry_data", "open_entry"]

_CHUNK = 64 * 1024
_FILE_HEADER_SIG = 0x04034B50
_DATA_DESCRIPTOR_SIG = 0x08074B50
_FILE_HEADER_LEN = 30
_FLAG_ENCRYPTED = 0x1
_FLAG_DATA_DESCRIPTOR = 0x8


def _decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _body_offset(f: BinaryIO, entry: ZipEntry) -> int:
    # Go's findBodyOffset, plus the name check: Go hashes and extracts under the central name.
    head = read_at(f, entry.header_offset, _FILE_HEADER_LEN)
    if len(head) < _FILE_HEADER_LEN:
        raise not_zip_error(f"truncated local header of {entry.name!r}")
    sig = struct.unpack_from("<I", head, 0)[0]
    if sig != _FILE_HEADER_SIG:
        raise not_zip_error(f"bad local header signature for {entry.name!r}")
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    local_name = read_at(f, entry.header_offset + _FILE_HEADER_LEN, name_len)
    if local_name != name_bytes(entry.name):
        raise ZipError(
            "name_mismatch",
            f"zip entry {entry.name!r} has local header name {_decode_name(local_name)!r}: "
            "the archive is inconsistent",
            file=entry.name,
        )
    return entry.header_offset + _FILE_HEADER_LEN + int(name_len) + int(extra_len)


def iter_entry_data(f: BinaryIO, entry: ZipEntry, *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
    """Yield the uncompressed data of ``entry`` in chunks, checking it as Go's ``File.Open`` does.

    Directory entries yield nothing (and must declare size 0). The data may never exceed the
    declared uncompressed size (``size_lie``, raised before the excess is yielded), must reach it
    (``truncated``) and must match the CRC-32 (``checksum``).
    """
    body = _body_offset(f, entry)
    if entry.is_dir:
        if entry.uncompressed_size != 0:
            raise not_zip_error(f"directory entry {entry.name!r} has data")
        return
    if entry.flags & _FLAG_ENCRYPTED:
        raise ZipError("encrypted", f"zip entry {entry.name!r} is encrypted", file=entry.name)
    if entry.method not in (METHOD_STORE, METHOD_DEFLATE):
        raise ZipError(
            "unsupported_method",
            f"zip entry {entry.name!r}: unsupported compression method {entry.method} "
            "(module zips use store or deflate)",
            file=entry.name,
        )
    crc = 0
    nread = 0
    for data in _raw_chunks(f, entry, body, chunk_size):
        nread += len(data)
        if nread > entry.uncompressed_size:
            raise ZipError(
                "size_lie",
                f"uncompressed size of file {entry.name} is larger than declared size "
                f"({entry.uncompressed_size} bytes)",
                file=entry.name,
            )
        crc = zlib.crc32(data, crc)
        yield data
    if nread != entry.uncompressed_size:
        raise ZipError(
            "truncated",
            f"zip entry {entry.name!r} holds {nread} bytes but declares "
            f"{entry.uncompressed_size}: unexpected EOF",
            file=entry.name,
        )
    if entry.flags & _FLAG_DATA_DESCRIPTOR:
        _check_data_descriptor(f, entry, body + entry.compressed_size)
        if crc != entry.crc32:
            raise _checksum_error(entry)
    elif entry.crc32 != 0 and crc != entry.crc32:
        raise _checksum_error(entry)


def _checksum_error(entry: ZipEntry) -> ZipError:
    return ZipError("checksum", f"zip: checksum error in {entry.name!r}", file=entry.name)


def _check_data_descriptor(f: BinaryIO, entry: ZipEntry, offset: int) -> None:
    # Go's readDataDescriptor: the signature is optional; only the CRC is compared.
    head = read_at(f, offset, 4)
    if len(head) < 4:
        raise ZipError("truncated", f"missing data descriptor of {entry.name!r}", file=entry.name)
    if struct.unpack("<I", head)[0] == _DATA_DESCRIPTOR_SIG:
        crc_bytes = read_at(f, offset + 4, 4)
    else:
        crc_bytes = head
    if len(crc_bytes) < 4:
        raise ZipError("truncated", f"short data descriptor of {entry.name!r}", file=entry.name)
    if struct.unpack("<I", crc_bytes)[0] != entry.crc32:
        raise _checksum_error(entry)


def _raw_chunks(f: BinaryIO, entry: ZipEntry, body: int, chunk_size: int) -> Iterator[bytes]:
    remaining = entry.compressed_size
    pos = body
    if entry.method == METHOD_STORE:
        while remaining > 0:
            data = read_at(f, pos, min(chunk_size, remaining))
            if not data:
                return
            pos += len(data)
            remaining -= len(data)
            yield data
        return
    inflater = zlib.decompressobj(-15)
    while not inflater.eof:
        if inflater.unconsumed_tail:
            pending = inflater.unconsumed_tail
        elif remaining > 0:
            pending = read_at(f, pos, min(chunk_size, remaining))
            if not pending:
                remaining = 0
                continue
            pos += len(pending)
            remaining -= len(pending)
        else:
            tail = inflater.flush()
            if tail:
                yield tail
            if not inflater.eof:
                raise ZipError(
                    "truncated",
                    f"zip entry {entry.name!r}: deflate stream ends early: unexpected EOF",
                    file=entry.name,
                )
            return
        try:
            out = inflater.decompress(pending, chunk_size)
        except zlib.error as exc:
            raise ZipError(
                "not_zip", f"zip entry {entry.name!r}: corrupt deflate data: {exc}", file=entry.name
            ) from exc
        if out:
            yield out


class _ChunkStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        super().close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._pending = nxt
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def chunk_stream(chunks: Iterator[bytes]) -> BinaryIO:
    """Wrap an iterator of byte chunks as a readable binary stream (closing closes the iterator)."""
    stream: BinaryIO = io.BufferedReader(_ChunkStream(chunks))
    return stream


def open_entry(f: BinaryIO, entry: ZipEntry) -> BinaryIO:
    """Return a readable stream over ``entry``'s checked data (see :func:`iter_entry_data`)."""
    return chunk_stream(iter_entry_data(f, entry))

"""Hand-built zip archives for tests, including malformed ones.

Written with ``struct`` so every field can lie: declared sizes, CRCs, methods, flags, local
names that differ from central names, Unix modes, leading junk, comments. Independent of
``gomodproxy``'s own writer so that tests do not only round-trip our code.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RawEntry", "build_zip", "deflate", "unix_mode_attrs"]

STORE = 0
DEFLATE = 8


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header), as zip entries hold it."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def unix_mode_attrs(mode: int) -> int:
    """External attributes carrying a Unix mode (for example ``0o120777`` for a symlink)."""
    return (mode & 0xFFFF) << 16


def _raw(name: bytes | str) -> bytes:
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")


@dataclass
class RawEntry:
    """One zip entry; every ``None`` field is computed from ``data``."""

    name: bytes | str
    data: bytes = b""
    method: int = DEFLATE
    declared_size: int | None = None
    crc: int | None = None
    flags: int = 0
    local_name: bytes | str | None = None
    external_attrs: int = 0
    payload: bytes | None = None  # the stored bytes; defaults to data compressed by ``method``
    compressed_size: int | None = None
    central_extra: bytes = b""


def build_zip(
    entries: Sequence[RawEntry],
    *,
    junk: bytes = b"",
    comment: bytes = b"",
    declared_count: int | None = None,
    cd_offset_delta: int = 0,
    disk_fields: tuple[int, int] = (0, 0),
) -> bytes:
    """Assemble a zip: local headers and data, central directory, end record.

    ``junk`` is prepended (offsets stay relative to the zip proper, as a self-extractor's are),
    ``declared_count`` overrides the end record's entry counts, ``disk_fields`` sets its
    disk-number fields.
    """
    body = bytearray()
    central = bytearray()
    for e in entries:
        name = _raw(e.name)
        local_name = name if e.local_name is None else _raw(e.local_name)
        if e.payload is not None:
            payload = e.payload
        elif e.method == DEFLATE:
            payload = deflate(e.data)
        else:
            payload = e.data
        crc = zlib.crc32(e.data) if e.crc is None else e.crc
        usize = len(e.data) if e.declared_size is None else e.declared_size
        csize = len(payload) if e.compressed_size is None else e.compressed_size
        offset = len(body)
        body += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            e.flags,
            e.method,
            0,
            0x21,
            crc,
            csize & 0xFFFFFFFF,
            usize & 0xFFFFFFFF,
            len(local_name),
            0,
        )
        body += local_name + payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | 20,
            20,
            e.flags,
            e.method,
            0,
            0x21,
            crc,
            csize & 0xFFFFFFFF,
            usize & 0xFFFFFFFF,
            len(name),
            len(e.central_extra),
            0,
            0,
            0,
            e.external_attrs,
            offset,
        )
        central += name + e.central_extra
    count = len(entries) if declared_count is None else declared_count
    end = struct.pack(
        "<IHHHHIIH",
        0x06054B50,
        disk_fields[0],
        disk_fields[1],
        count & 0xFFFF,
        count & 0xFFFF,
        len(central),
        len(body) + cd_offset_delta,
        len(comment),
    )
    return junk + bytes(body) + bytes(central) + end + comment

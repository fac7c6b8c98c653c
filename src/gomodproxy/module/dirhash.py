"""The ``h1:`` hash of go.sum and the checksum database (x/mod ``sumdb/dirhash/hash.go``).

``Hash1`` sorts the file names bytewise and hashes a summary of lines
``hex(SHA-256(content)) + "  " + name + "\\n"``; the result is ``"h1:"`` plus the standard base64
of the summary's SHA-256. A name containing a newline is an error.

* :func:`hash_zip` hashes every entry of a module zip **as stored**: names with their
  ``path@version/`` prefix, directory entries included (as empty files), duplicate names each
  hashing the content of the *last* entry of that name (Go reads the zip into a map by name).
* :func:`hash_go_mod` hashes one file named ``go.mod`` (the ``/go.mod`` line of go.sum).
* Hashing an extracted tree (``HashDir``) reads files, so it lives in
  :mod:`gomodproxy.modzip.dirfiles`.

Pure: files come as bytes or as callables returning a readable stream; nothing is opened by name.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from typing import BinaryIO

from gomodproxy.errors import ZipError
from gomodproxy.module.zipentry import open_entry
from gomodproxy.module.zipreader import (
    MAX_ENTRIES,
    ZipDirectory,
    ZipEntry,
    name_bytes,
    read_directory,
)

__all__ = [
    "FileSource",
    "hash1",
    "hash1_digests",
    "hash_go_mod",
    "hash_zip",
    "hash_zip_directory",
]

#: A file's content: the bytes themselves, or a callable that opens a fresh readable stream.
FileSource = Callable[[], BinaryIO] | bytes

_CHUNK = 64 * 1024


def _content_digest(source: FileSource) -> str:
    h = hashlib.sha256()
    if isinstance(source, bytes | bytearray | memoryview):
        h.update(source)
        return h.hexdigest()
    stream = source()
    try:
        while chunk := stream.read(_CHUNK):
            h.update(chunk)
    finally:
        stream.close()
    return h.hexdigest()


def hash1(files: Iterable[tuple[str, FileSource]]) -> str:
    """Return the ``h1:`` hash of ``files``, pairs of (name, content source).

    Names are sorted by their UTF-8 bytes (``surrogateescape`` bytes for names read from zips), as
    Go's ``slices.Sort`` sorts strings. Sources are opened one at a time, in sorted order. Raises
    ``ZipError`` (kind ``newline_in_name``) for a name containing ``\\n``.
    """
    listed = sorted(files, key=lambda item: name_bytes(item[0]))
    summary = hashlib.sha256()
    for name, source in listed:
        if "\n" in name:
            raise ZipError(
                "newline_in_name",
                f"dirhash: filenames with newlines are not supported: {name!r}",
                file=name,
            )
        digest = _content_digest(source)
        summary.update(digest.encode("ascii") + b"  " + name_bytes(name) + b"\n")
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def hash1_digests(files: Iterable[tuple[str, str]]) -> str:
    """The ``h1:`` hash from (name, hex SHA-256 of the content) pairs already computed (for a
    reader that hashed each file while doing something else with it, such as extracting)."""
    listed = sorted(files, key=lambda item: name_bytes(item[0]))
    summary = hashlib.sha256()
    for name, digest in listed:
        if "\n" in name:
            raise ZipError(
                "newline_in_name",
                f"dirhash: filenames with newlines are not supported: {name!r}",
                file=name,
            )
        summary.update(digest.encode("ascii") + b"  " + name_bytes(name) + b"\n")
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def hash_go_mod(data: bytes) -> str:
    """Return the go.sum ``/go.mod`` hash of a go.mod file's bytes (Go's ``goModSum``)."""
    return hash1([("go.mod", data)])


def hash_zip(reader: BinaryIO, *, size: int | None = None, max_entries: int = MAX_ENTRIES) -> str:
    """Return the ``h1:`` hash of the module zip in ``reader`` (seekable), like ``HashZip``.

    Every central-directory entry counts, directory entries included, under its stored name.
    Entry data is streamed and checked (declared sizes, CRC-32, supported methods, local names),
    so any ``ZipError`` of :mod:`gomodproxy.module.zipreader` can be raised.
    """
    return hash_zip_directory(reader, read_directory(reader, size, max_entries=max_entries))


def hash_zip_directory(reader: BinaryIO, directory: ZipDirectory) -> str:
    """:func:`hash_zip` over a central directory already read from ``reader`` (by
    :func:`~gomodproxy.module.zipcheck.check_zip_detailed`), so it is not parsed twice."""
    last: dict[str, ZipEntry] = {}
    for entry in directory.entries:
        last[entry.name] = entry

    def opener(entry: ZipEntry) -> Callable[[], BinaryIO]:
        return lambda: open_entry(reader, entry)

    return hash1((entry.name, opener(last[entry.name])) for entry in directory.entries)

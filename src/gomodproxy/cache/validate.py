"""Checks a module zip from an upstream must pass before it is cached or passed on whole.

The x/mod zip rules (``CheckZip``), then its ``h1:`` hash for the checksum database; the small
answers (``.info``, ``.mod``, ``list``, ``@latest``) are checked by the pure
:mod:`gomodproxy.protocol.answers`. Failures raise
:class:`~gomodproxy.protocol.answers.InvalidUpstreamContent` (502); nothing that fails is cached.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from gomodproxy.errors import ProxyError
from gomodproxy.module.dirhash import hash_zip_directory
from gomodproxy.module.zipcheck import check_zip_detailed
from gomodproxy.protocol.answers import InvalidUpstreamContent

__all__ = ["validate_zip", "zip_go_mod"]


def validate_zip(zip_file: Path, path: str, version: str, *, upstream: str = "") -> str:
    """Check a downloaded zip (blocking: run in a thread); return its ``h1:`` hash."""
    what = f"{path}@{version} .zip"
    size = zip_file.stat().st_size
    try:
        with open(zip_file, "rb") as f:
            # One read of the central directory serves the rules and the hash.
            directory, report = check_zip_detailed(f, path, version, size=size)
            report.raise_for_error()
            assert directory is not None  # a zip too large to read is a report error
            return hash_zip_directory(f, directory)
    except ProxyError as exc:
        raise InvalidUpstreamContent(what, str(exc), upstream=upstream) from exc


def zip_go_mod(zip_file: Path, path: str, version: str) -> bytes | None:
    """The root go.mod of a checked module zip, or None (blocking: run in a thread)."""
    name = f"{path}@{version}/go.mod"
    with zipfile.ZipFile(zip_file) as z:
        try:
            return z.read(name)
        except KeyError:
            return None

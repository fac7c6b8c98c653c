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
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.module.zipcheck import check_zip
from gomodproxy.protocol.answers import InvalidUpstreamContent

__all__ = ["validate_zip", "zip_go_mod"]


def validate_zip(zip_file: Path, path: str, version: str, *, upstream: str = "") -> str:
    """Check a downloaded zip (blocking: run in a thread); return its ``h1:`` hash."""
    what = f"{path}@{version} .zip"
    size = zip_file.stat().st_size
    try:
        with open(zip_file, "rb") as f:
            check_zip(f, path, version, size=size).raise_for_error()
            f.seek(0)
            return hash_zip(f, size=size)
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

"""What ``gomodproxy cache ls`` and ``cache verify`` compute, through the object-store seam only
(so they work on every backend, and beside a running proxy: nothing is written except what the
backend itself quarantines).

``ls`` groups the stored ``.info``/``.mod``/``.zip`` objects by module and version with their sizes
and fetch times. ``verify`` reads every object back through the store, which checks the SHA-256
recorded at write time (a mismatch raises :class:`~gomodproxy.storage.CorruptObject` and the
backend moves the object aside, so the proxy fetches it again); then each zip is checked against
the module zip rules and hashed (copied to a temporary file first, in a thread), each ``.mod``
must parse as a go.mod with a module directive and each ``.info`` must name its version.
"""

from __future__ import annotations

import asyncio
import fnmatch
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.cache.validate import validate_zip
from gomodproxy.errors import ProxyError
from gomodproxy.protocol.answers import validate_info, validate_mod
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import ModuleRequest, parse_request_path
from gomodproxy.storage import INTERNAL_PREFIX, CorruptObject, ObjectNotFound, ObjectStore

__all__ = [
    "CachedVersion",
    "VerifyFailure",
    "VerifyReport",
    "list_versions",
    "verify_store",
]

_VERSION_FILES = (FileKind.INFO, FileKind.MOD, FileKind.ZIP)


@dataclass(frozen=True, slots=True)
class CachedVersion:
    """One module version in the cache: its files' sizes and the time each was stored."""

    path: str
    version: str
    sizes: dict[str, int] = field(default_factory=dict)
    fetched: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of all its files."""
        return sum(self.sizes.values())

    @property
    def last_fetched(self) -> float:
        """When its newest file was stored (seconds since the epoch)."""
        return max(self.fetched.values(), default=0.0)


@dataclass(frozen=True, slots=True)
class VerifyFailure:
    """One object that failed: its key, why, and whether the backend quarantined it."""

    key: str
    reason: str
    quarantined: bool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Counts of the objects checked, by kind, and the failures."""

    checked: dict[str, int]
    failures: tuple[VerifyFailure, ...]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures


def _module_file(key: str) -> ModuleRequest | None:
    """The module file a key names, or None (lists, relayed checksum-database files)."""
    try:
        request = parse_request_path("/" + key)
    except ProxyError:
        return None
    if isinstance(request, ModuleRequest) and request.kind in _VERSION_FILES:
        return request
    return None


def _matches(path: str, pattern: str) -> bool:
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern or path.startswith(pattern.rstrip("/") + "/")


async def list_versions(store: ObjectStore, pattern: str = "") -> list[CachedVersion]:
    """The module versions held, sorted by path then key order; ``pattern`` is a module path
    (its sub-modules match too) or a glob over module paths."""
    found: dict[tuple[str, str], CachedVersion] = {}
    for key in await store.list(""):
        request = _module_file(key)
        if request is None or not _matches(request.path, pattern):
            continue
        info = await store.stat(key)
        if info is None:  # removed since the listing
            continue
        entry = found.setdefault(
            (request.path, request.version), CachedVersion(request.path, request.version)
        )
        entry.sizes[request.kind.value] = info.size
        entry.fetched[request.kind.value] = info.mtime
    return [found[k] for k in sorted(found)]


async def verify_store(store: ObjectStore) -> VerifyReport:
    """Read back and check every object of ``store`` (see the module docstring)."""
    checked: dict[str, int] = {}
    failures: list[VerifyFailure] = []
    keys = await store.list("") + await store.list(INTERNAL_PREFIX)
    scratch = await asyncio.to_thread(tempfile.mkdtemp, prefix="gomodproxy-verify-")
    try:
        for key in keys:
            request = _module_file(key)
            kind = request.kind.value if request is not None else "other"
            try:
                await _verify_object(store, key, request, Path(scratch))
            except ObjectNotFound:
                continue  # removed since the listing
            except CorruptObject as exc:
                failures.append(VerifyFailure(key, f"corrupt: {exc.reason}", quarantined=True))
            except ProxyError as exc:
                failures.append(VerifyFailure(key, str(exc), quarantined=False))
            checked[kind] = checked.get(kind, 0) + 1
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)
    return VerifyReport(checked, tuple(failures))


async def _verify_object(
    store: ObjectStore, key: str, request: ModuleRequest | None, scratch: Path
) -> None:
    if request is None or request.kind is not FileKind.ZIP:
        data = await store.get(key)
        if request is not None and request.kind is FileKind.MOD:
            validate_mod(data, request.path, request.version)
        elif request is not None and request.kind is FileKind.INFO:
            validate_info(data, request.path, request.version)
        return
    copy = scratch / "module.zip"
    f = await asyncio.to_thread(open, copy, "wb")
    try:
        async with store.open(key) as reader:
            async for chunk in reader.chunks():
                await asyncio.to_thread(f.write, chunk)
    finally:
        await asyncio.to_thread(f.close)
    try:
        await asyncio.to_thread(validate_zip, copy, request.path, request.version)
    finally:
        await asyncio.to_thread(copy.unlink, missing_ok=True)

"""What ``gomodproxy cache ls`` and ``cache verify`` compute, through the object-store seam only
(so they work on every backend, and beside a running proxy: nothing is written except what the
backend itself quarantines).

``ls`` groups the stored ``.info``/``.mod``/``.zip`` objects by module and version with their sizes,
fetch times and last access (:mod:`gomodproxy.cache.access`). ``verify`` reads every object back
through the store, which checks the SHA-256 recorded at write time (a mismatch raises
:class:`~gomodproxy.storage.CorruptObject` and the backend moves the object aside, so the proxy
fetches it again); then each zip is checked against the module zip rules and hashed (copied to a
temporary file first, in a thread), each ``.mod`` must parse as a go.mod with a module directive
and each ``.info`` must name its version. Given the checksum policy, the ``h1:`` of every zip and
``.mod`` the database covers is also looked up in it through the verifier (proofs checked). An
object failing a check of its content is moved to ``.gomodproxy/quarantine/`` through the store,
under the lock a fetch of it holds, so the proxy fetches it again; one that could not be checked
(the database unreachable) is reported and left in place.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gomodproxy.cache.access import read_access_times
from gomodproxy.cache.service import ChecksumPolicy
from gomodproxy.cache.validate import validate_zip
from gomodproxy.errors import ChecksumMismatch, ProxyError
from gomodproxy.module.dirhash import hash_go_mod
from gomodproxy.protocol.answers import validate_info, validate_mod
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import ModuleRequest, parse_request_path
from gomodproxy.storage import (
    INTERNAL_PREFIX,
    CorruptObject,
    Locks,
    ObjectNotFound,
    ObjectStore,
)

__all__ = [
    "QUARANTINE_PREFIX",
    "CachedVersion",
    "Progress",
    "VerifyFailure",
    "VerifyReport",
    "list_versions",
    "verify_store",
]

logger = logging.getLogger(__name__)

_VERSION_FILES = (FileKind.INFO, FileKind.MOD, FileKind.ZIP)
#: Where ``verify`` moves objects whose content failed a check (never served).
QUARANTINE_PREFIX = ".gomodproxy/quarantine/"
#: Called after each object: (objects done, objects in all, the key just checked).
Progress = Callable[[int, int, str], None]


class _Unchecked(ProxyError):
    """A check that could not be made (not the object's fault)."""


@dataclass(frozen=True, slots=True)
class CachedVersion:
    """One module version in the cache: its files' sizes and the time each was stored."""

    path: str
    version: str
    sizes: dict[str, int] = field(default_factory=dict)
    fetched: dict[str, float] = field(default_factory=dict)
    #: When a proxy last served it (to within an hour), None when never since its fetch.
    accessed: float | None = None

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
    for target, when in (await read_access_times(store)).items():
        if target in found:
            found[target] = CachedVersion(*target, found[target].sizes, found[target].fetched, when)
    return [found[k] for k in sorted(found)]


async def verify_store(
    store: ObjectStore,
    locks: Locks | None = None,
    *,
    checksums: ChecksumPolicy | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Read back and check every object of ``store`` (see the module docstring); ``locks``
    are the store's (needed to quarantine safely beside a running proxy)."""
    checked: dict[str, int] = {}
    failures: list[VerifyFailure] = []
    keys = await store.list("") + await store.list(INTERNAL_PREFIX)
    keys = [k for k in keys if not k.startswith(QUARANTINE_PREFIX)]
    scratch = await asyncio.to_thread(tempfile.mkdtemp, prefix="gomodproxy-verify-")
    try:
        for done, key in enumerate(keys, start=1):
            request = _module_file(key)
            kind = request.kind.value if request is not None else "other"
            try:
                await _verify_object(store, key, request, Path(scratch), checksums)
            except ObjectNotFound:
                continue  # removed since the listing
            except CorruptObject as exc:
                failures.append(VerifyFailure(key, f"corrupt: {exc.reason}", quarantined=True))
            except _Unchecked as exc:
                failures.append(VerifyFailure(key, str(exc), quarantined=False))
            except ProxyError as exc:
                moved = await _quarantine(store, locks, key)
                failures.append(VerifyFailure(key, str(exc), quarantined=moved))
            finally:
                if progress is not None:
                    progress(done, len(keys), key)
            checked[kind] = checked.get(kind, 0) + 1
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)
    return VerifyReport(checked, tuple(failures))


async def _quarantine(store: ObjectStore, locks: Locks | None, key: str) -> bool:
    """Move ``key`` under :data:`QUARANTINE_PREFIX` (under its lock, if the same bytes are
    still there); False when it was gone or is internal."""
    if key.startswith(INTERNAL_PREFIX):
        return False
    target = f"{QUARANTINE_PREFIX}{time.time_ns()}/{key}"
    if locks is None:
        return await _move(store, key, target)
    async with locks.lock(key):
        return await _move(store, key, target)


async def _move(store: ObjectStore, key: str, target: str) -> bool:
    try:
        data = await store.get(key)
    except (ObjectNotFound, CorruptObject):
        return False
    await store.put(target, data)
    await store.delete(key)
    logger.error("cache.quarantined key=%s as=%s", key, target)
    return True


async def _verify_object(
    store: ObjectStore,
    key: str,
    request: ModuleRequest | None,
    scratch: Path,
    checksums: ChecksumPolicy | None,
) -> None:
    if request is None or request.kind is not FileKind.ZIP:
        data = await store.get(key)
        if request is not None and request.kind is FileKind.MOD:
            validate_mod(data, request.path, request.version)
            await _against_database(request, hash_go_mod(data), checksums)
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
        h1 = await asyncio.to_thread(validate_zip, copy, request.path, request.version)
    finally:
        await asyncio.to_thread(copy.unlink, missing_ok=True)
    await _against_database(request, h1, checksums)


async def _against_database(
    request: ModuleRequest, h1: str, checksums: ChecksumPolicy | None
) -> None:
    """Look ``h1`` up in the checksum database when the policy covers the module."""
    if checksums is None or checksums.verifier is None or not checksums.applies_to(request.path):
        return
    kind: Literal["zip", "mod"] = "zip" if request.kind is FileKind.ZIP else "mod"
    try:
        await checksums.verifier.verify(request.path, request.version, kind, h1)
    except ChecksumMismatch as exc:
        raise ProxyError(
            f"{kind} hashes to {exc.received} but the checksum database lists {exc.expected}: "
            "its content is not the module's (tampered)"
        ) from exc
    except ProxyError as exc:
        raise _Unchecked(f"not checked against the checksum database: {exc}") from exc

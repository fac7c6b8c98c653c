"""Keeping the cache within its size and age limits: least recently used module versions go
first, pinned ones never.

A module version is the unit (its ``.info``, ``.mod`` and ``.zip`` go together). Its last use is
the newer of its access record (:mod:`gomodproxy.cache.access`, exact to an hour) and the time
its newest file was stored. With ``max_age``, every unpinned version unused for longer goes;
with ``max_bytes``, unpinned versions go from the least recently used until the module files
held fit. Pins are the module versions named by go.mod (``require``, ``replace`` targets) and
go.sum files given by the operator (``--keep``).

:func:`plan_eviction` is pure; :func:`collect_garbage` lists the store, plans and deletes
through :mod:`gomodproxy.cache.removal` (under the fetch locks; a client reading a file keeps
reading it), and :func:`evict_forever` runs it in the server's background: every process using
the store runs the loop, but a collection is due only when no process has run one for half an
interval (a mark in the store, read and written under one lock), so the workers and replicas of
one cache do not scan it each in turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gomodproxy.cache.access import read_access_times
from gomodproxy.cache.removal import delete_keys, unlist_version
from gomodproxy.errors import ConfigError, ProxyError
from gomodproxy.module import modfile
from gomodproxy.module.gosum import parse_go_sum
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import ModuleRequest, parse_request_path
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.storage import ObjectStore, OpenedStorage

__all__ = [
    "EVICT_SECONDS",
    "Eviction",
    "EvictionPolicy",
    "GCReport",
    "StoredVersion",
    "collect_garbage",
    "evict_due",
    "evict_forever",
    "load_pins",
    "plan_eviction",
    "stored_versions",
]

logger = logging.getLogger(__name__)

#: How often the server applies the limits.
EVICT_SECONDS = 600.0
# When the last collection of the store ran (its put time), and the lock around the check.
_LAST_RUN = ".gomodproxy/gc/last"
_RUN_LOCK = ".gomodproxy/gc/run"
_FILES = (FileKind.INFO, FileKind.MOD, FileKind.ZIP)

Pin = tuple[str, str]


@dataclass(frozen=True, slots=True)
class EvictionPolicy:
    """The limits (None: none) and the pinned (path, version) pairs."""

    max_bytes: int | None = None
    max_age: float | None = None
    pins: frozenset[Pin] = frozenset()

    @property
    def active(self) -> bool:
        """Whether there is any limit to apply."""
        return self.max_bytes is not None or self.max_age is not None


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One module version held: its files, their bytes, and when it was last used."""

    path: str
    version: str
    keys: tuple[str, ...]
    size: int
    last_used: float


@dataclass(frozen=True, slots=True)
class Eviction:
    """A version chosen for eviction, and why: ``age`` or ``size``."""

    version: StoredVersion
    reason: Literal["age", "size"]


@dataclass(frozen=True, slots=True)
class GCReport:
    """What a collection found and did (``dry_run``: only planned)."""

    held: int
    versions: int
    pinned: int
    evicted: tuple[Eviction, ...] = field(default_factory=tuple)
    dry_run: bool = False

    @property
    def freed(self) -> int:
        """Bytes of the evicted versions."""
        return sum(e.version.size for e in self.evicted)


def load_pins(files: Sequence[Path]) -> frozenset[Pin]:
    """The module versions named by go.mod and go.sum ``files`` (blocking: run in a thread).

    A file whose name ends in ``.sum`` is read as a go.sum, any other as a go.mod.
    """
    pins: set[Pin] = set()
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--keep {file}: cannot read it ({exc.strerror})") from exc
        try:
            if file.name.endswith(".sum"):
                for path, version in parse_go_sum(data, str(file)).sums:
                    pins.add((path, version.removesuffix("/go.mod")))
            else:
                parsed = modfile.parse(str(file), data)
                pins.update((r.mod.path, r.mod.version) for r in parsed.require)
                pins.update((r.new.path, r.new.version) for r in parsed.replace if r.new.version)
        except ProxyError as exc:
            raise ConfigError(f"--keep {file}: not a valid go.mod or go.sum: {exc}") from exc
    return frozenset(pins)


def plan_eviction(
    versions: Iterable[StoredVersion], policy: EvictionPolicy, now: float
) -> list[Eviction]:
    """The versions to evict under ``policy`` at time ``now``, oldest use first."""
    held = sorted(versions, key=lambda v: (v.last_used, v.path, v.version))
    total = sum(v.size for v in held)
    out: list[Eviction] = []
    kept: list[StoredVersion] = []
    for v in held:
        if (v.path, v.version) in policy.pins:
            continue
        if policy.max_age is not None and now - v.last_used > policy.max_age:
            out.append(Eviction(v, "age"))
            total -= v.size
        else:
            kept.append(v)
    if policy.max_bytes is not None:
        for v in kept:
            if total <= policy.max_bytes:
                break
            out.append(Eviction(v, "size"))
            total -= v.size
    return out


def _module_file(key: str) -> ModuleRequest | None:
    try:
        request = parse_request_path("/" + key)
    except ProxyError:
        return None
    if (
        isinstance(request, ModuleRequest)
        and request.kind in _FILES
        and is_canonical(request.version)
    ):
        return request
    return None


async def stored_versions(store: ObjectStore) -> list[StoredVersion]:
    """Every module version held, with its size and last use."""
    files: dict[Pin, list[tuple[str, int, float]]] = {}
    for key in await store.list(""):
        request = _module_file(key)
        if request is None:
            continue
        info = await store.stat(key)
        if info is not None:
            files.setdefault((request.path, request.version), []).append(
                (key, info.size, info.mtime)
            )
    accessed = await read_access_times(store)
    return [
        StoredVersion(
            path,
            version,
            tuple(k for k, _, _ in held),
            sum(size for _, size, _ in held),
            max([accessed.get((path, version), 0.0), *(mtime for _, _, mtime in held)]),
        )
        for (path, version), held in sorted(files.items())
    ]


async def collect_garbage(
    opened: OpenedStorage,
    policy: EvictionPolicy,
    *,
    dry_run: bool = False,
    now: float | None = None,
) -> GCReport:
    """Apply ``policy`` to the store once (see the module docstring)."""
    versions = await stored_versions(opened.store)
    when = time.time() if now is None else now
    planned = plan_eviction(versions, policy, when)
    pinned = sum(1 for v in versions if (v.path, v.version) in policy.pins)
    report = GCReport(sum(v.size for v in versions), len(versions), pinned, tuple(planned), dry_run)
    if dry_run:
        return report
    for eviction in planned:
        v = eviction.version
        await delete_keys(opened.store, opened.locks, list(v.keys))
        await unlist_version(opened.store, opened.locks, v.path, v.version)
        logger.info(
            "cache.evicted module=%s@%s reason=%s size=%d",
            v.path,
            v.version,
            eviction.reason,
            v.size,
        )
    if planned:
        logger.info(
            "cache.gc versions=%d evicted=%d freed=%d held=%d",
            len(versions),
            len(planned),
            report.freed,
            report.held - report.freed,
        )
    return report


async def evict_due(
    opened: OpenedStorage,
    policy: EvictionPolicy,
    interval: float = EVICT_SECONDS,
    *,
    now: float | None = None,
) -> GCReport | None:
    """Collect unless a process using the store did within half an ``interval``; None when
    skipped."""
    async with opened.locks.lock(_RUN_LOCK):
        last = await opened.store.stat(_LAST_RUN)
        when = time.time() if now is None else now
        if last is not None and 0 <= when - last.mtime < interval / 2:
            return None
        report = await collect_garbage(opened, policy, now=when)
        await opened.store.put(_LAST_RUN, b"")
        return report


async def evict_forever(
    opened: OpenedStorage, policy: EvictionPolicy, interval: float = EVICT_SECONDS
) -> None:
    """Apply ``policy`` now and then every ``interval`` seconds (when due, see
    :func:`evict_due`), until cancelled."""
    while True:
        try:
            await evict_due(opened, policy, interval)
        except Exception:
            logger.exception("cache.gc_failed")
        await asyncio.sleep(interval)

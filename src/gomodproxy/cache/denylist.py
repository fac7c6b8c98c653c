"""Deny entries: module versions (or whole modules) an operator removed with ``cache rm``.

An entry is one object in the shared store, ``.gomodproxy/deny/<E>/@v/<V>.json`` for a version
or ``.gomodproxy/deny/<E>/@v/@all.json`` for every version of a module (``E``, ``V``: the
escaped path and version), holding the reason, who and when. Every process serving from the
store honours it, without a restart:

- every request consults an in-memory copy (two dictionary lookups, so hits stay cheap), which
  :meth:`DenyList.watch_forever` refreshes from the store every few seconds;
- every fetch from an upstream first reads the store itself (:meth:`DenyList.check_stored`),
  under the key's lock, so a denied version is never fetched or stored again, whatever the age
  of the in-memory copy (``cache rm`` deletes under the same lock after writing the entry).

A denied version is answered 403 with the reason (:class:`~gomodproxy.errors.ModuleDenied`)
and left out of ``list`` and ``@latest``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from gomodproxy.errors import ModuleDenied, ProxyError, StorageError
from gomodproxy.module.paths import escape_path, escape_version, unescape_path, unescape_version
from gomodproxy.storage.base import ObjectNotFound, ObjectStore

__all__ = [
    "DENY_PREFIX",
    "DENY_REFRESH_SECONDS",
    "DenyEntry",
    "DenyList",
    "deny_key",
    "parse_deny_key",
]

logger = logging.getLogger(__name__)

#: Where deny entries live in the store (never served).
DENY_PREFIX = ".gomodproxy/deny/"
#: How often a serving process re-reads the entries into memory.
DENY_REFRESH_SECONDS = 2.0
_ALL = "@all"
_SUFFIX = ".json"


def deny_key(path: str, version: str = "") -> str:
    """The key of the entry denying ``path@version`` (every version when ``version`` is "")."""
    name = escape_version(version) if version else _ALL
    return f"{DENY_PREFIX}{escape_path(path)}/@v/{name}{_SUFFIX}"


def parse_deny_key(key: str) -> tuple[str, str] | None:
    """(module path, version or "") of a deny entry's key; None for any other key."""
    if not key.startswith(DENY_PREFIX) or not key.endswith(_SUFFIX):
        return None
    escaped, sep, name = key[len(DENY_PREFIX) : -len(_SUFFIX)].rpartition("/@v/")
    if not sep or "/" in name:
        return None
    try:
        path = unescape_path(escaped)
        version = "" if name == _ALL else unescape_version(name)
    except ProxyError:
        return None
    return path, version


@dataclass(frozen=True, slots=True)
class DenyEntry:
    """Why ``path@version`` (every version when ``version`` is "") is denied, by whom, when."""

    path: str
    version: str
    reason: str
    user: str
    time: float

    @property
    def target(self) -> str:
        """``path@version``, or ``path`` (every version)."""
        return f"{self.path}@{self.version}" if self.version else self.path

    def to_json(self) -> bytes:
        """The stored form."""
        doc = {
            "path": self.path,
            "version": self.version,
            "reason": self.reason,
            "user": self.user,
            "time": self.time,
        }
        return json.dumps(doc, indent=2).encode() + b"\n"

    @classmethod
    def from_stored(cls, path: str, version: str, data: bytes) -> DenyEntry:
        """The entry stored for ``path@version``; an unreadable body still denies (the key is
        what denies), with a reason saying so."""
        try:
            doc = json.loads(data)
            return cls(path, version, str(doc["reason"]), str(doc["user"]), float(doc["time"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("deny.unreadable module=%s version=%s", path, version or "*")
            return cls(path, version, "(the deny entry's text is unreadable)", "?", 0.0)

    def error(self, requested: str = "") -> ModuleDenied:
        """The 403 answer for a request of ``requested`` (the entry's target by default)."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        what = "every version of " + self.path if not self.version else self.target
        return ModuleDenied(
            f"{requested or self.target}: denied by this proxy's operator ({what} was removed "
            f"with 'gomodproxy cache rm' by {self.user} at {when}): {self.reason}",
            path=self.path,
            version=self.version,
        )


class DenyList:
    """The deny entries of one store, in memory, refreshed from it (see the module docstring)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._entries: dict[tuple[str, str], DenyEntry] = {}
        self._modules: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def covers(self, path: str) -> bool:
        """Whether any in-memory entry names ``path`` (every version or some)."""
        return path in self._modules

    def denied(self, path: str, version: str = "") -> DenyEntry | None:
        """The in-memory entry denying ``path`` (every version) or ``path@version``."""
        if path not in self._modules:
            return None
        return self._entries.get((path, "")) or (
            self._entries.get((path, version)) if version else None
        )

    def check(self, path: str, version: str = "") -> None:
        """Raise :class:`ModuleDenied` when the in-memory copy denies ``path[@version]``."""
        entry = self.denied(path, version)
        if entry is not None:
            raise entry.error(f"{path}@{version}" if version else path)

    def allowed(self, path: str, versions: Iterable[str]) -> list[str]:
        """``versions`` without the denied ones, in their order."""
        if path not in self._modules:
            return list(versions)
        return [v for v in versions if self.denied(path, v) is None]

    async def check_stored(self, path: str, version: str = "") -> None:
        """Like :meth:`check`, from the store itself (before any fetch from an upstream)."""
        self.check(path, version)
        for wanted in ("", version) if version else ("",):
            try:
                data = await self._store.get(deny_key(path, wanted))
            except ObjectNotFound:
                continue
            except StorageError as exc:
                # Unreadable is not "allowed": refuse the fetch until the store answers.
                raise StorageError(
                    f"{path}@{version}: cannot read its deny entry ({exc}); try again"
                ) from exc
            entry = DenyEntry.from_stored(path, wanted, data)
            self._add(entry)
            raise entry.error(f"{path}@{version}" if version else path)

    async def refresh(self) -> None:
        """Re-read the entries from the store: new ones loaded, removed ones dropped."""
        keys = await self._store.list(DENY_PREFIX)
        current: dict[tuple[str, str], DenyEntry] = {}
        for key in keys:
            target = parse_deny_key(key)
            if target is None:
                continue
            entry = self._entries.get(target)
            if entry is None:
                try:
                    entry = DenyEntry.from_stored(*target, await self._store.get(key))
                except ObjectNotFound:
                    continue
                logger.info("deny.loaded target=%s reason=%s", entry.target, entry.reason)
            current[target] = entry
        self._entries = current
        self._modules = {path for path, _ in current}

    async def watch_forever(self, interval: float = DENY_REFRESH_SECONDS) -> None:
        """Refresh every ``interval`` seconds (the first time after one interval: refresh once
        yourself before serving), until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:
                logger.exception("deny.refresh_failed")

    def _add(self, entry: DenyEntry) -> None:
        self._entries[(entry.path, entry.version)] = entry
        self._modules.add(entry.path)

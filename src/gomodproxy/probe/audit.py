"""Checking what a mirror served: its ``h1:`` hash against go.sum and the checksum database.

The database is asked once per module version (a proven lookup, ``SumDBClient.lookup``), shared
by every mirror; its requests do not count against the probe's budget.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from typing import Literal

from gomodproxy.errors import ProxyError, SecurityError
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.gosum import GoSum
from gomodproxy.sumdb.client import NoSumDBEntry, SumDBClient

__all__ = ["Auditor", "Check", "Finding"]

logger = logging.getLogger(__name__)

FileKindName = Literal["mod", "zip"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Content whose hash disagrees with a trusted source."""

    mirror: str
    module: str
    version: str
    kind: FileKindName
    expected: str
    received: str
    source: str  # "go.sum" or "checksum database"


@dataclass(frozen=True, slots=True)
class Check:
    """The result of checking one file: proven, a finding, or neither (nothing to compare)."""

    received: str
    proven_by: tuple[str, ...] = ()
    finding: Finding | None = None


class Auditor:
    """Compares served files with go.sum and a checksum database (either may be absent)."""

    def __init__(self, go_sum: GoSum | None, sumdb: SumDBClient | None) -> None:
        self._go_sum = go_sum
        self._sumdb = sumdb
        self._lookups: dict[str, asyncio.Future[tuple[str, ...]]] = {}
        self.sumdb_errors: list[str] = []

    async def check(
        self, mirror: str, path: str, version: str, kind: FileKindName, data: bytes
    ) -> Check:
        """Hash ``data`` and compare it; a mismatch is a :class:`Finding`."""
        if kind == "zip":
            received = await asyncio.to_thread(hash_zip, io.BytesIO(data), size=len(data))
        else:
            received = hash_go_mod(data)
        key = version if kind == "zip" else f"{version}/go.mod"
        sources: list[tuple[str, tuple[str, ...]]] = []
        if self._go_sum is not None:
            sources.append(("go.sum", self._go_sum.hashes(path, key)))
        if self._sumdb is not None:
            sources.append(("checksum database", await self._database(path, key)))
        proven: list[str] = []
        for source, hashes in sources:
            h1s = [h for h in hashes if h.startswith("h1:")]
            if not h1s:
                continue
            if received not in h1s:
                finding = Finding(mirror, path, version, kind, h1s[0], received, source)
                logger.error(
                    "probe.tampered mirror=%s module=%s@%s kind=%s expected=%s received=%s",
                    mirror,
                    path,
                    version,
                    kind,
                    h1s[0],
                    received,
                )
                return Check(received, tuple(proven), finding)
            proven.append(source)
        return Check(received, tuple(proven))

    def close(self) -> None:
        """Cancel lookups still running (the run ended, by its time limit for example)."""
        for pending in self._lookups.values():
            pending.cancel()

    async def _database(self, path: str, key: str) -> tuple[str, ...]:
        name = f"{path} {key}"
        pending = self._lookups.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(path, key))
            self._lookups[name] = pending
        return await asyncio.shield(pending)

    async def _lookup(self, path: str, key: str) -> tuple[str, ...]:
        assert self._sumdb is not None
        try:
            lines = await self._sumdb.lookup(path, key)
        except NoSumDBEntry:
            return ()
        except (SecurityError, ProxyError) as exc:
            logger.warning("probe.sumdb_failed module=%s@%s error=%s", path, key, exc)
            self.sumdb_errors.append(f"{path}@{key}: {exc}")
            return ()
        hashes: list[str] = []
        for line in lines:
            fields = line.split()
            if len(fields) == 3 and fields[0] == path and fields[1] == key:
                hashes.append(fields[2])
        return tuple(hashes)

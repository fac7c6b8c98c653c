"""Verifying downloads as cmd/go ``modfetch/fetch.go`` does, and go.sum's bookkeeping.

``checkModSum``: a hash listed in go.sum is accepted (and marked *used*); a different ``h1:``
listed there is a fatal SECURITY ERROR; a hash not listed is looked up in the checksum database
when ``useSumDB`` says so (``checkSumDB``), then added to go.sum as *dirty*.

``WriteGoSum``/``tidyGoSum``: go.sum is rewritten only when a dirty sum is *kept* (the caller's
``keep`` set, cmd/go ``keepSums``); the file is re-read under its lock and the new text is its
lines plus the used, kept dirty sums, sorted as the go command sorts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gomodproxy.errors import ProxyError, SecurityError, StorageError
from gomodproxy.module.gosum import GoSum, format_go_sum, merge, parse_go_sum
from gomodproxy.sumdb.gosumdb import use_sumdb

__all__ = ["GoSumMismatch", "SumChecker", "SumDBMismatch", "SumLookup", "VerifyFailed"]

_GO_SUM_MISMATCH = (
    "\n\nSECURITY ERROR\n"
    "This download does NOT match an earlier download recorded in go.sum.\n"
    "The bits may have been replaced on the origin server, or an attacker may\n"
    "have intercepted the download attempt.\n\n"
    "For more information, see 'go help module-auth'."
)
_SUMDB_MISMATCH = (
    "\n\nSECURITY ERROR\n"
    "This download does NOT match the one reported by the checksum server.\n"
    "The bits may have been replaced on the origin server, or an attacker may\n"
    "have intercepted the download attempt.\n\n"
    "For more information, see 'go help module-auth'."
)

Key = tuple[str, str]


class SumLookup(Protocol):
    """The checksum database client (:class:`gomodproxy.sumdb.client.SumDBClient`)."""

    name: str

    async def lookup(self, path: str, version: str) -> list[str]:
        """The proven go.sum lines of ``path version``."""
        ...


class GoSumMismatch(SecurityError):
    """A download differs from the hash go.sum records: the whole command stops."""


class SumDBMismatch(SecurityError):
    """A download differs from the hash the checksum database proves."""


class VerifyFailed(ProxyError):
    """The checksum database could not vouch for a download (unreachable, no entry, forked)."""


@dataclass
class _Status:
    used: bool = False
    dirty: bool = False


@dataclass
class SumChecker:
    """go.sum (None outside a module) and the checksum database (None with GOSUMDB=off)."""

    go_sum_file: Path | None
    go_sum: GoSum
    sumdb: SumLookup | None
    gonosumdb: str = ""
    goproxy_is_single_file: bool = False
    status: dict[tuple[str, str, str], _Status] = field(default_factory=dict)
    lookups: int = 0
    #: In a workspace: the modules' own go.sum files, consulted but never written.
    workspace: GoSum = field(default_factory=GoSum)

    @classmethod
    def read(
        cls,
        go_sum_file: Path | None,
        sumdb: SumLookup | None,
        *,
        gonosumdb: str = "",
        goproxy_is_single_file: bool = False,
        workspace_go_sums: Collection[Path] = (),
    ) -> SumChecker:
        """Load go.sum (blocking; a missing file is empty), and in a workspace the modules'."""
        go_sum = GoSum()
        if go_sum_file is not None:
            with contextlib.suppress(FileNotFoundError):
                go_sum = parse_go_sum(go_sum_file.read_bytes(), str(go_sum_file))
        workspace = GoSum()
        for file in workspace_go_sums:
            with contextlib.suppress(FileNotFoundError):
                workspace = merge(workspace, parse_go_sum(file.read_bytes(), str(file)))
        checker = cls(go_sum_file, go_sum, sumdb, gonosumdb, goproxy_is_single_file)
        checker.workspace = workspace
        return checker

    def uses_sumdb(self, path: str) -> bool:
        """useSumDB: GOSUMDB not off and the path outside GONOSUMDB."""
        gosumdb = "off" if self.sumdb is None else "on"
        return use_sumdb(path, gosumdb, self.gonosumdb, self.goproxy_is_single_file)

    async def check(self, path: str, version: str, h: str) -> None:
        """Accept hash ``h`` of ``path version`` (``v1.2.3`` or ``v1.2.3/go.mod``) or raise."""
        noun = "go.mod" if version.endswith("/go.mod") else "module"
        bare = version.removesuffix("/go.mod")
        inited = self.go_sum_file is not None
        if inited:
            name = self.go_sum_file.name if self.go_sum_file is not None else "go.sum"
            for sums, label in ((self.go_sum, name), (self.workspace, "go.sum")):
                for vh in sums.hashes(path, version):
                    if vh == h:
                        self.status.setdefault((path, version, h), _Status()).used = True
                        return
                    if vh.startswith("h1:"):
                        raise GoSumMismatch(
                            f"verifying {path}@{version}: checksum mismatch\n"
                            f"\tdownloaded: {h}\n\t{label + ':':<11} {vh}" + _GO_SUM_MISMATCH
                        )
        if self.sumdb is not None and self.uses_sumdb(path):
            self.lookups += 1
            try:
                lines = await self.sumdb.lookup(path, version)
            except ProxyError as exc:
                raise VerifyFailed(f"{path}@{bare}: verifying {noun}: {exc}") from exc
            have = f"{path} {version} {h}"
            prefix = f"{path} {version} h1:"
            if have not in lines:
                for line in lines:
                    if line.startswith(prefix):
                        raise SumDBMismatch(
                            f"{path}@{bare}: verifying {noun}: checksum mismatch\n"
                            f"\tdownloaded: {h}\n\t{self.sumdb.name}: {line[len(prefix) - 3 :]}"
                            + _SUMDB_MISMATCH
                        )
        if inited:
            self.go_sum = self.go_sum.with_hash(path, version, h)
            st = self.status.setdefault((path, version, h), _Status())
            st.used = True
            st.dirty = True

    def needs_write(self, keep: Collection[Key]) -> bool:
        """Whether a dirty sum is kept (WriteGoSum's test)."""
        return any(
            st.dirty and (not st.used or (p, v) in keep) for (p, v, _h), st in self.status.items()
        )

    async def write(
        self, keep: Collection[Key], side_lock: Callable[[], AbstractContextManager[None]]
    ) -> bool:
        """Rewrite go.sum when a kept sum is new; True when it was written. ``side_lock`` is
        the module cache's ``cache/lock``, held meanwhile as the go command holds it."""
        if self.go_sum_file is None or not self.needs_write(keep):
            return False
        added = GoSum.from_lines(
            (p, v, h)
            for (p, v, h), st in self.status.items()
            if st.dirty and (p, v) in keep and not self.workspace.hashes(p, v)
        )
        file = self.go_sum_file

        def transform() -> None:
            with side_lock():
                _transform_go_sum(file, added)

        try:
            await asyncio.to_thread(transform)
        except OSError as exc:
            raise StorageError(f"updating go.sum: {exc.strerror or exc}") from exc
        for st in self.status.values():
            st.dirty = False
        return True


def _transform_go_sum(path: Path, added: GoSum) -> None:
    """lockedfile.Transform: lock go.sum, re-read it, merge, write it back in place."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        old = b""
        while chunk := os.read(fd, 65536):
            old += chunk
        current = parse_go_sum(old, str(path))
        text = format_go_sum(merge(current, added))
        if text == old:
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)

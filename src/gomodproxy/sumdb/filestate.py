"""The verifier's state on disk, where the go command keeps its own.

cmd/go/internal/modfetch/sumdb.go keeps the remembered tree head at
``$GOPATH/pkg/sumdb/<name>/latest`` and proven lookups and tiles under
``$GOMODCACHE/cache/download/sumdb/<name>/{lookup,tile}/...`` (removed by ``go clean
-modcache``). :class:`FileVerifierState` uses the same places, so our client and the go command
share what they learned, and the same rules:

* a missing or empty ``latest`` is the empty timeline, an empty cache file is absent;
* ``latest`` changes by compare-and-swap under an exclusive ``flock`` of the file itself (the
  lock Go's lockedfile takes), so concurrent go commands and our processes serialise;
* every write is atomic: a temporary file in the same folder, fsync, rename, fsync of the
  folder. Readers see the old or the new content, never a torn one, even after a crash.

All blocking file work runs in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import secrets
from pathlib import Path

from gomodproxy.errors import StorageError, StorageFull, SumDBError
from gomodproxy.storage.fswrite import fsync_dir
from gomodproxy.sumdb.seams import WriteConflict

__all__ = ["FileVerifierState"]

logger = logging.getLogger(__name__)

# Answers larger than this are not ours (a tile is at most 8 KiB, a lookup a few KiB).
_MAX_FILE = 1 << 20


def _check_name(file: str) -> None:
    """Refuse file names that could leave the state folders (``..``, absolute, empty parts)."""
    parts = file.split("/")
    bad = any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts)
    if bad or len(file) > 4096:
        raise SumDBError(f"refusing unsafe checksum database file name {file!r}")


def _read_locked(path: Path) -> bytes | None:
    """The file's content under a shared lock, or None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        chunks = []
        total = 0
        while chunk := os.read(fd, 65536):
            total += len(chunk)
            if total > _MAX_FILE:
                raise StorageError(f"{path}: larger than {_MAX_FILE} bytes, not a sumdb file")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)  # also releases the lock


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def _compare_and_swap(path: Path, file: str, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` at ``path`` under an exclusive lock of the file itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Someone may have renamed a new file over the one we locked: lock that one then.
            try:
                current_stat = os.stat(path)
            except FileNotFoundError:
                continue
            locked_stat = os.fstat(fd)
            if (current_stat.st_dev, current_stat.st_ino) != (
                locked_stat.st_dev,
                locked_stat.st_ino,
            ):
                continue
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            current = b"".join(chunks)
            # cmd/go WriteConfig: an empty file matches any old content.
            if current and current != old:
                raise WriteConflict(file)
            _write_atomic(path, new)
            return
        finally:
            os.close(fd)


class FileVerifierState:
    """A :class:`~gomodproxy.sumdb.seams.VerifierState` in two folders.

    ``config_dir`` holds ``<name>/latest`` (Go: ``$GOPATH/pkg/sumdb``); ``cache_dir`` holds
    ``<name>/lookup/...`` and ``<name>/tile/...`` (Go: ``$GOMODCACHE/cache/download/sumdb``).
    Use :meth:`go_layout` to share the go command's own state.
    """

    def __init__(self, config_dir: Path, cache_dir: Path) -> None:
        self.config_dir = config_dir
        self.cache_dir = cache_dir

    @classmethod
    def go_layout(cls, gopath: Path, gomodcache: Path) -> FileVerifierState:
        """The go command's places: ``gopath`` is the first GOPATH entry."""
        return cls(gopath / "pkg" / "sumdb", gomodcache / "cache" / "download" / "sumdb")

    def _config_path(self, file: str) -> Path:
        _check_name(file)
        return self.config_dir / file

    def _cache_path(self, file: str) -> Path:
        _check_name(file)
        return self.cache_dir / file

    def config_location(self, file: str) -> str:
        """The path of configuration file ``file``."""
        return str(self._config_path(file))

    async def read_config(self, file: str) -> bytes:
        """The configuration file, or empty bytes if it does not exist."""
        path = self._config_path(file)
        try:
            data = await asyncio.to_thread(_read_locked, path)
        except OSError as exc:
            raise StorageError(f"reading {path}: {exc.strerror or exc}") from exc
        return data or b""

    async def write_config(self, file: str, old: bytes, new: bytes) -> None:
        """Compare-and-swap the configuration file; :class:`WriteConflict` if it changed."""
        path = self._config_path(file)
        try:
            await asyncio.to_thread(_compare_and_swap, path, file, old, new)
        except OSError as exc:
            full = StorageFull.from_os_error(exc, f"checksum database state {file}")
            raise full or StorageError(f"writing {path}: {exc.strerror or exc}") from exc

    async def read_cache(self, file: str) -> bytes | None:
        """A cached lookup or tile; None when absent, empty or unreadable (as in cmd/go)."""
        path = self._cache_path(file)
        try:
            data = await asyncio.to_thread(_read_locked, path)
        except (OSError, StorageError) as exc:
            if not (isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR)):
                logger.warning("sumdb.cache.unreadable file=%s: %s", path, exc)
            return None
        return data or None

    async def write_cache(self, file: str, data: bytes) -> None:
        """Store a proven lookup or tile atomically."""
        path = self._cache_path(file)
        try:
            await asyncio.to_thread(_write_atomic, path, data)
        except OSError as exc:
            full = StorageFull.from_os_error(exc, f"checksum database state {file}")
            raise full or StorageError(f"writing {path}: {exc.strerror or exc}") from exc

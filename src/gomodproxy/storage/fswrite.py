"""Atomic file writes for the filesystem backend: temporary files, fsync, rename, clean-up.

Go's ``writeDiskCache`` recipe plus durability: the temporary file lives in the **same** folder
as its target (``.<name>.<random>.tmp``, invisible to keys), is fsync-ed, then renamed onto the
final name with ``os.replace`` (retried briefly, like Go's robustio), and the folder is fsync-ed.

A writer holds a shared ``flock`` on each temporary (and spool) file for as long as the file is
its own; a file nobody holds is a leftover of a dead process. :func:`sweep_orphans` removes those
(taking an exclusive lock proves that no live process holds the file), at start and periodically,
so a crash never leaks disk for good.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from gomodproxy.errors import StorageError, StorageFull
from gomodproxy.storage.base import HashedFile

__all__ = [
    "COPY_CHUNK",
    "ORPHAN_GRACE_SECONDS",
    "TEMP_SUFFIX",
    "create_held",
    "fsync_dir",
    "hold",
    "materialize",
    "replace",
    "storage_error",
    "sweep_orphans",
    "write_file_atomic",
]

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
COPY_CHUNK = 1 << 20
#: A file younger than this is never swept: its creator may not have taken its lock yet.
ORPHAN_GRACE_SECONDS = 10.0


def hold(fd: int) -> None:
    """Mark the open file as in use by this process (a shared lock, released by the kernel
    when the process dies, so :func:`sweep_orphans` can tell a leftover from a live file)."""
    fcntl.flock(fd, fcntl.LOCK_SH)


def create_held(path: Path) -> int:
    """Create ``path`` exclusively, open read-write, held (see :func:`hold`)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        hold(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def sweep_orphans(
    folder: Path, *, recursive: bool = False, grace: float = ORPHAN_GRACE_SECONDS
) -> tuple[int, int]:
    """Remove the files in ``folder`` that no live process holds and that are older than
    ``grace`` seconds; with ``recursive``, the temporary files (``.<name>.<random>.tmp``) of
    every folder below it too. Returns (files removed, bytes freed)."""
    removed = freed = 0
    cutoff = time.time() - grace
    for path in _sweep_candidates(folder, recursive):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if st.st_mtime >= cutoff or not _try_exclusive(fd):
                continue
            # Still the same file under that name (not replaced since we opened it)?
            if os.stat(path, follow_symlinks=False).st_ino != st.st_ino:
                continue
            os.unlink(path)
            removed += 1
            freed += st.st_size
            logger.info("storage.orphan_removed name=%s size=%d", path.name, st.st_size)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed, freed


def _sweep_candidates(folder: Path, recursive: bool) -> Iterator[Path]:
    if not recursive:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                yield Path(entry.path)
        return
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                yield Path(dirpath) / name


def _try_exclusive(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def materialize(source: bytes | Path | HashedFile, tmp: Path) -> tuple[int, str, int]:
    """Write ``source`` to ``tmp`` (moving it when on the same filesystem); fsync; hash.

    Returns the size, the SHA-256 and a descriptor of ``tmp`` that holds it (see :func:`hold`)
    until the caller closes it, after the commit. A :class:`HashedFile` moved in place is not
    read again: its writer's hash is taken once its size is confirmed (a copy is hashed).
    """
    known: HashedFile | None = None
    if isinstance(source, HashedFile):
        known, source = source, source.path
    if isinstance(source, bytes):
        fd = create_held(tmp)
        try:
            _write_all(fd, source)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return len(source), hashlib.sha256(source).hexdigest(), fd
    # Held before the rename (the lock follows the file), so it is never unheld on the way.
    fd = os.open(source, os.O_RDWR)
    try:
        hold(fd)
        try:
            os.rename(source, tmp)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            os.close(fd)
            known = None
            fd = create_held(tmp)  # another filesystem: copy into the target directory
            with open(source, "rb") as src:
                while chunk := src.read(COPY_CHUNK):
                    _write_all(fd, chunk)
        if known is not None and os.fstat(fd).st_size == known.size:
            os.fsync(fd)
            return known.size, known.sha256, fd
        digest = hashlib.sha256()
        size = 0
        while chunk := os.pread(fd, COPY_CHUNK, size):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return size, digest.hexdigest(), fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_file_atomic(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    try:
        fd = create_held(tmp)
        try:
            _write_all(fd, body)
            os.fsync(fd)
            replace(tmp, path)
        finally:
            os.close(fd)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def replace(src: Path, dst: Path) -> None:
    # A short retry, like Go's robustio: transient sharing violations on some systems.
    for attempt in range(5):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == 4:
                raise
            time.sleep(0.01 * (attempt + 1))


def fsync_dir(path: Path) -> None:
    """fsync a folder, so a rename in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_error(action: str, key: str, exc: OSError) -> StorageError:
    full = StorageFull.from_os_error(exc, key)
    if full is not None:
        return full
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    hint = ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "; check the cache folder's permissions"
    return StorageError(f"cannot {action} {key} in the cache: {reason}{hint}")

"""Atomic file writes for the filesystem backend: temporary files, fsync, rename, clean-up.

Go's ``writeDiskCache`` recipe plus durability: the temporary file lives in the **same** folder
as its target (``.<name>.<random>.tmp``, invisible to keys), is fsync-ed, then renamed onto the
final name with ``os.replace`` (retried briefly, like Go's robustio), and the folder is fsync-ed.
Temporary files older than an hour are leftovers of a dead writer and are removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from gomodproxy.errors import StorageError, StorageFull

__all__ = [
    "COPY_CHUNK",
    "TEMP_SUFFIX",
    "fsync_dir",
    "iter_temps",
    "materialize",
    "remove_stale_temps",
    "replace",
    "storage_error",
    "write_file_atomic",
]

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
COPY_CHUNK = 1 << 20
_STALE_TEMP_SECONDS = 3600.0


def materialize(source: bytes | Path, tmp: Path) -> tuple[int, str]:
    """Write ``source`` to ``tmp`` (moving it when on the same filesystem); fsync; hash."""
    if isinstance(source, bytes):
        with open(tmp, "xb") as out:
            out.write(source)
            out.flush()
            os.fsync(out.fileno())
        return len(source), hashlib.sha256(source).hexdigest()
    try:
        os.rename(source, tmp)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copyfile(source, tmp)  # another filesystem: copy into the target directory
    digest = hashlib.sha256()
    size = 0
    with open(tmp, "rb+") as f:
        while chunk := f.read(COPY_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(f.fileno())
    return size, digest.hexdigest()


def write_file_atomic(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    try:
        with open(tmp, "xb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        replace(tmp, path)
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


def remove_stale_temps(final: Path) -> None:
    """Remove temporary files of this name left by a crashed writer (held under its lock)."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for tmp in iter_temps(final):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                logger.info("storage.stale_temp_removed name=%s", tmp.name)


def iter_temps(final: Path) -> Iterator[Path]:
    head = f".{final.name}."
    try:
        names = os.listdir(final.parent)
    except OSError:
        return
    for name in names:
        if name.startswith(head) and name.endswith(TEMP_SUFFIX):
            yield final.parent / name


def storage_error(action: str, key: str, exc: OSError) -> StorageError:
    full = StorageFull.from_os_error(exc, key)
    if full is not None:
        return full
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    hint = ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "; check the cache folder's permissions"
    return StorageError(f"cannot {action} {key} in the cache: {reason}{hint}")

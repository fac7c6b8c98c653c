"""The format version of a filesystem cache folder, and the upgrades between versions.

``<root>/.gomodproxy/.store/format`` holds the version a folder is written in. A folder without
it was written before versions existed (version 1). Opening a folder upgrades it in place, one
step at a time, under a lock (several workers may start at once); a folder written by a newer
gomodproxy than this one is refused rather than misread.

Versions:

1. The layout of the first releases: the proxy's checksum-database verifier state in files of
   its own under ``.gomodproxy/.sumdb/{config,cache}/`` (not reachable as keys).
2. That state under the internal keys ``.gomodproxy/sumdb/{config,cache}/...``, so the same code
   keeps it on every backend (:mod:`gomodproxy.sumdb.storestate`).

A future change of layout adds a step to :data:`_UPGRADES` and raises :data:`FORMAT`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from gomodproxy.errors import ConfigError, StorageError
from gomodproxy.storage.base import check_key
from gomodproxy.storage.fswrite import write_file_atomic

__all__ = ["FORMAT", "read_format", "upgrade"]

logger = logging.getLogger(__name__)

#: The format this code writes.
FORMAT = 2

_STORE = Path(".gomodproxy") / ".store"


def read_format(root: Path) -> int:
    """The format version of the folder at ``root`` (1 when it has no version file)."""
    try:
        text = (root / _STORE / "format").read_text().strip()
    except FileNotFoundError:
        return 1
    try:
        return int(text)
    except ValueError:
        raise StorageError(
            f"cannot read the format version of the cache folder {root}: {text!r} in "
            ".gomodproxy/.store/format is not a number; restore it or use another --cache-dir"
        ) from None


def upgrade(root: Path) -> int:
    """Bring the folder at ``root`` to :data:`FORMAT` (blocking); return the version found."""
    with _upgrade_lock(root):
        found = read_format(root)
        if found > FORMAT:
            raise ConfigError(
                f"the cache folder {root} is in format {found}, written by a newer gomodproxy "
                f"than this one (format {FORMAT}): upgrade gomodproxy or use another --cache-dir"
            )
        if found < FORMAT and _is_new(root):
            # Nothing to upgrade: a new folder is stamped with the current format.
            with contextlib.suppress(OSError):
                write_file_atomic(root / _STORE / "format", f"{FORMAT}\n".encode())
                logger.debug("storage.format_created root=%s version=%d", root, FORMAT)
            return FORMAT
        for version in range(found, FORMAT):
            _UPGRADES[version](root)
            try:
                write_file_atomic(root / _STORE / "format", f"{version + 1}\n".encode())
            except OSError as exc:
                # A full disk must not keep the proxy from serving what it holds: the steps are
                # idempotent, and the next start records the version.
                logger.warning(
                    "storage.format_unrecorded root=%s version=%d error=%s",
                    root,
                    version + 1,
                    exc.strerror or exc,
                )
            else:
                logger.info(
                    "storage.format_upgraded root=%s from=%d to=%d", root, version, version + 1
                )
        return found


def _is_new(root: Path) -> bool:
    """A folder with nothing but our own empty bookkeeping (a cache being created)."""
    return (
        not (root / _STORE / "format").exists()
        and not (root / ".gomodproxy" / ".sumdb").exists()
        and all(entry.name == ".gomodproxy" for entry in root.iterdir())
    )


def _sumdb_state_into_keys(root: Path) -> None:
    """1 → 2: move the verifier state files into the internal key space (never replacing a
    newer file already there); names that are not valid keys are left behind."""
    old = root / ".gomodproxy" / ".sumdb"
    for part in ("config", "cache"):
        base = old / part
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                source = Path(dirpath) / name
                rel = source.relative_to(base).as_posix()
                key = f".gomodproxy/sumdb/{part}/{rel}"
                try:
                    check_key(key)
                except StorageError:
                    logger.warning("storage.format_skipped file=%s", source)
                    continue
                target = root.joinpath(*key.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    os.replace(source, target)
    shutil.rmtree(old, ignore_errors=True)


_UPGRADES: dict[int, Callable[[Path], None]] = {1: _sumdb_state_into_keys}


@contextlib.contextmanager
def _upgrade_lock(root: Path) -> Iterator[None]:
    folder = root / _STORE
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "format.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

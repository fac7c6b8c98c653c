"""The go command's module cache (GOMODCACHE), written exactly as cmd/go ``modfetch`` writes it.

Layout: ``cache/download/<escaped path>/@v/<escaped version>.{info,mod,zip,ziphash,lock,partial}``
and ``list``; extracted trees at ``<escaped path>@<escaped version>``. The rules kept:

* small files are written to ``<name><random>.tmp`` in the same folder and renamed into place
  (``writeDiskCache``); writing a ``.mod`` rewrites ``list`` from the ``.mod`` files present,
  under a ``flock`` of ``list`` itself (``rewriteVersionList``);
* a zip is fetched and extracted under ``<v>.lock`` (``lockVersion``: ``flock``, the lock Go's
  lockedfile takes), written to ``<v>.zip<random>.tmp``, checked and hashed, its ``.ziphash``
  written (hash text, no newline), and only then renamed to ``.zip``;
* an extraction writes ``<v>.partial`` first and removes it when the tree is complete; a tree
  with a ``.partial`` or without its ``.ziphash`` is not complete (``DownloadDir``).

Everything here blocks: call it in a thread. ``OSError`` becomes
:class:`~gomodproxy.errors.StorageError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from gomodproxy.errors import StorageError, StorageFull
from gomodproxy.module import semver
from gomodproxy.module.paths import canonical_version, escape_path, escape_version

__all__ = ["ModCache", "storage_error"]


def storage_error(exc: OSError, what: str) -> StorageError:
    """A StorageError for a failed cache write, with the fix when the cause is common."""
    full = StorageFull.from_os_error(exc, what)
    if full is not None:
        return full
    hint = ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = " (the module cache is not writable: fix its permissions or set GOMODCACHE)"
    return StorageError(f"{what}: {exc.strerror or exc}{hint}")


class ModCache:
    """One GOMODCACHE folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.download = root / "cache" / "download"

    # --- paths -------------------------------------------------------------------------------

    def version_dir(self, path: str) -> Path:
        """``cache/download/<escaped path>/@v``."""
        return self.download / escape_path(path) / "@v"

    def file(self, path: str, version: str, ext: str) -> Path:
        """``cache/download/<escaped path>/@v/<escaped version>.<ext>``."""
        return self.version_dir(path) / f"{escape_version(version)}.{ext}"

    def tree(self, path: str, version: str) -> Path:
        """The extracted tree ``<escaped path>@<escaped version>``."""
        return self.root / f"{escape_path(path)}@{escape_version(version)}"

    # --- small files -------------------------------------------------------------------------

    def read(self, path: str, version: str, ext: str) -> bytes | None:
        """A cached file's bytes, or None when it is absent (or empty, as Go treats it)."""
        try:
            data = self.file(path, version, ext).read_bytes()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        except OSError as exc:
            raise storage_error(exc, f"reading {self.file(path, version, ext)}") from exc
        return data or None

    def write(self, path: str, version: str, ext: str, data: bytes) -> Path:
        """Write a small file atomically (temp + rename); a ``.mod`` also rewrites ``list``."""
        target = self.file(path, version, ext)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._temp_file(target)
            try:
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as f:
                    f.write(data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            if ext == "mod":
                self._rewrite_list(target.parent)
        except OSError as exc:
            raise storage_error(exc, f"writing {target}") from exc
        return target

    @staticmethod
    def _temp_file(target: Path) -> str:
        # modfetch tempFile: base + random decimal + ".tmp", created O_EXCL.
        for _ in range(100):
            name = f"{target}{secrets.randbelow(1_000_000_000)}.tmp"
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            return name
        raise FileExistsError(f"could not create a temporary file beside {target}")

    def _rewrite_list(self, vdir: Path) -> None:
        # rewriteVersionList: lock ``list`` first, then read the folder, so concurrent writers
        # of two .mod files cannot each write a list missing the other's version.
        fd = os.open(vdir / "list", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            versions = []
            for name in os.listdir(vdir):
                if name.endswith(".mod"):
                    v = name[: -len(".mod")]
                    if v and canonical_version(v) == v:
                        versions.append(v)
            text = "".join(v + "\n" for v in semver.sort_versions(versions)).encode()
            old = b""
            while chunk := os.read(fd, 65536):
                old += chunk
            if old == text:
                return
            os.ftruncate(fd, 0)
            os.ftruncate(fd, len(text))
            os.pwrite(fd, text, 0)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def side_lock(self) -> Iterator[None]:
        """``cache/lock`` (modfetch.SideLock), held around go.sum updates; best effort."""
        target = self.root / "cache" / "lock"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- zips and trees ----------------------------------------------------------------------

    def zip_complete(self, path: str, version: str) -> bool:
        """Both ``.zip`` and ``.ziphash`` exist (DownloadZip's fast path)."""
        return self.file(path, version, "zip").exists() and self.ziphash(path, version) is not None

    def ziphash(self, path: str, version: str) -> str | None:
        """The recorded ``h1:`` hash of the zip, or None."""
        data = self.read(path, version, "ziphash")
        return data.decode("utf-8", "replace").strip() if data else None

    def tree_complete(self, path: str, version: str) -> bool:
        """The tree exists, has no ``.partial`` marker, and the ``.ziphash`` exists."""
        return (
            self.tree(path, version).is_dir()
            and not self.file(path, version, "partial").exists()
            and self.file(path, version, "ziphash").exists()
        )

    def new_zip_temp(self, path: str, version: str) -> Path:
        """A fresh ``<v>.zip<random>.tmp`` (old ones removed first: call under the lock)."""
        target = self.file(path, version, "zip")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            for old in glob.glob(glob.escape(str(target)) + "*.tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(old)
            return Path(self._temp_file(target))
        except OSError as exc:
            raise storage_error(exc, f"creating {target}") from exc

    def write_ziphash(self, path: str, version: str, h1: str) -> None:
        """Write ``.ziphash`` under a lock of the file itself (lockedfile.Create)."""
        target = self.file(path, version, "ziphash")
        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.ftruncate(fd, len(h1))
                os.pwrite(fd, h1.encode(), 0)
            finally:
                os.close(fd)
        except OSError as exc:
            raise storage_error(exc, f"writing {target}") from exc

    def try_lock(self, path: str, version: str) -> int | None:
        """Take ``<v>.lock`` without waiting; the fd to release, or None when it is held."""
        target = self.file(path, version, "lock")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise storage_error(exc, f"locking {target}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, f"locking {target}") from exc
        return fd

    @staticmethod
    def unlock(fd: int) -> None:
        """Release a lock taken by :meth:`try_lock`."""
        os.close(fd)

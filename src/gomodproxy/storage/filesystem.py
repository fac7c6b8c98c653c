"""Filesystem storage in the go command's ``cache/download`` layout.

Objects live at ``<root>/<key>``, so the folder can also be served as ``GOPROXY=file://<root>``
(see the module cache layout in the Go modules reference, section 7). Our bookkeeping lives under
``<root>/.gomodproxy/.store/``, which no key can name (key elements never start with ``.``):

- ``meta/<key>.json``: size and SHA-256 recorded at write time, checked on read, with the inode
  of the data file it describes; ``meta/<key>.json.next``: the record of a write in progress;
- ``locks/<key>.lock``: ``flock`` lock files of :class:`~gomodproxy.storage.locks.FileLocks`,
  shared by every process using the folder (``<key>.commit``: this backend's own, see
  ``_commit_lock``);
- ``quarantine/``: objects whose bytes no longer match what was written;
- ``spool/``: a temporary folder on the same filesystem for callers that download first;
- ``tmp/``: writes being prepared.

Writes follow Go's ``writeDiskCache`` recipe plus durability: a temporary file (in ``tmp/``, on
the same filesystem), fsync, then ``os.replace`` onto the final name (the commit point) and fsync
of the directory. Temporary and spool files are held by their writer (a shared ``flock``);
:meth:`FilesystemStorage.sweep_orphans` removes the ones no live process holds, so a crash at any
step leaks no disk for longer than the sweep interval. The record is
written as ``<key>.json.next`` before the commit and promoted to ``<key>.json`` after it, so the
record of the object in place is never overwritten before its data is: a reader takes whichever
of the two names the inode it opened. A SIGKILL at any point leaves the old object whole or the new
one whole (or no object, or a record without data, which reads as absent); never a partial file
under a key and never a lost previous version.

Reads re-hash an object when its file is first read by this process, whenever the file's
identity (inode, size, modification and change times) differs from the last check, and at least
every ``rehash_after`` seconds otherwise (the periodic scrub of fault catalogue I84). Anything
that rewrites or truncates the file changes its identity and is caught on the next read; silent
media corruption is caught within ``rehash_after``. Wrong bytes are never served whole.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path

from gomodproxy.errors import StorageError
from gomodproxy.storage.base import (
    INTERNAL_PREFIX,
    CorruptObject,
    HashedFile,
    ObjectInfo,
    ObjectNotFound,
    PutSource,
    check_key,
    check_prefix,
)
from gomodproxy.storage.fswrite import (
    COPY_CHUNK,
    ORPHAN_GRACE_SECONDS,
    TEMP_SUFFIX,
    create_held,
    fsync_dir,
    materialize,
    replace,
    storage_error,
    sweep_orphans,
    write_file_atomic,
)
from gomodproxy.storage.locks import try_flock

__all__ = ["FilesystemStorage"]

logger = logging.getLogger(__name__)

_STORE = Path(".gomodproxy") / ".store"
_OPEN_ATTEMPTS = 4
# Objects up to this size are read and checked whole when opened (one thread hop per hit).
_READ_AT_OPEN = 1 << 20
# Checked objects up to this size are copied from memory; larger ones go by sendfile, which
# costs more than a copy for small bodies (measured: docs/reports/proxy-hot-path.md).
_SEND_FROM_MEMORY = 64 << 10
# Files whose last check this process remembers (an identity and a time each).
_CHECKED_ENTRIES = 100_000

_Identity = tuple[int, int, int, int]
# The record of a write in progress: ``meta/<key>.json.next`` until the data is committed.
_PENDING = ".next"


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FilesystemStorage:
    """The default backend: a folder in ``cache/download`` layout with crash-safe writes."""

    def __init__(self, root: Path, *, rehash_after: float = 300.0) -> None:
        self._root = root if root.is_absolute() else Path(os.path.abspath(root))
        self._store = self._root / _STORE
        self._rehash_after = rehash_after
        self._checked: OrderedDict[str, tuple[_Identity, float]] = OrderedDict()

    @property
    def root(self) -> Path:
        """The folder objects are stored in (usable as ``GOPROXY=file://...``)."""
        return self._root

    @property
    def spool_dir(self) -> Path:
        """A folder on the same filesystem for downloads that are put() afterwards."""
        return self._store / "spool"

    @property
    def locks_dir(self) -> Path:
        """The folder of the lock files (:class:`~gomodproxy.storage.locks.FileLocks`)."""
        return self._store / "locks"

    @property
    def temp_dir(self) -> Path:
        """Where writes are prepared before their rename into place (same filesystem)."""
        return self._store / "tmp"

    # -- reads -----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        """Return the whole object, checked against its recorded size and SHA-256."""
        check_key(key)
        return await asyncio.to_thread(self._get_sync, key)

    @contextlib.asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[_FileReader]:
        """Open the object for streaming (see :class:`ObjectReader`).

        A small object (most zips) is read and checked in the same worker-thread hop as the
        open, so a cache hit costs one hop; :class:`CorruptObject` is then raised here.
        """
        check_key(key)
        fd, info, whole, unchecked = await asyncio.to_thread(self._open_small_sync, key)
        try:
            yield _FileReader(self, fd, info, whole, unchecked)
        finally:
            os.close(fd)

    def _open_small_sync(self, key: str) -> tuple[int, ObjectInfo, bytes | None, _Identity | None]:
        """Open; read a small object whole. The identity is set when the file must be checked."""
        fd, info = self._open_sync(key)
        try:
            ident = _identity(os.fstat(fd))
            if self._recently_checked(key, ident):
                if info.size > _SEND_FROM_MEMORY:
                    return fd, info, None, None  # sent from the file (checked_fd)
                data = os.pread(fd, info.size + 1, 0)
                if len(data) != info.size:
                    raise self._quarantine(key, f"size {len(data)}, recorded {info.size}")
                return fd, info, data, None
            if info.size > _READ_AT_OPEN:
                return fd, info, None, ident
            data = os.pread(fd, info.size + 1, 0)
            self._check_content(info, len(data), hashlib.sha256(data).hexdigest())
            self._remember_checked(key, ident)
        except BaseException:
            os.close(fd)
            raise
        return fd, info, data, None

    def _recently_checked(self, key: str, ident: _Identity) -> bool:
        entry = self._checked.get(key)
        return (
            entry is not None
            and entry[0] == ident
            and time.monotonic() - entry[1] < self._rehash_after
        )

    def _remember_checked(self, key: str, ident: _Identity) -> None:
        self._checked[key] = (ident, time.monotonic())
        self._checked.move_to_end(key)
        while len(self._checked) > _CHECKED_ENTRIES:
            self._checked.popitem(last=False)

    async def stat(self, key: str) -> ObjectInfo | None:
        """Return the recorded size and hash, or None when no complete object is stored."""
        check_key(key)
        return await asyncio.to_thread(self._stat_sync, key)

    async def exists(self, key: str) -> bool:
        """Whether a complete object is stored under ``key``."""
        return await self.stat(key) is not None

    async def list(self, prefix: str) -> list[str]:
        """Return the sorted keys under ``prefix``; internal keys only for the internal prefix."""
        check_prefix(prefix)
        return await asyncio.to_thread(self._list_sync, prefix)

    # -- writes ----------------------------------------------------------------------------

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        """Store ``source`` atomically under ``key`` (a Path source is consumed; a stream is
        written to a held temporary file first)."""
        check_key(key)
        if not isinstance(source, bytes | Path | HashedFile):
            return await self._put_stream(key, source)
        try:
            return await asyncio.to_thread(self._put_sync, key, source)
        except OSError as exc:
            raise storage_error("write", key, exc) from exc

    async def _put_stream(self, key: str, source: AsyncIterable[bytes]) -> ObjectInfo:
        """Write the stream to a held temporary file, then commit it like a file. An error of
        the stream itself propagates as it is; nothing is stored then."""
        tmp = self.temp_dir / f"{secrets.token_hex(8)}.stream{TEMP_SUFFIX}"
        try:
            await asyncio.to_thread(self.temp_dir.mkdir, parents=True, exist_ok=True)
            fd = await asyncio.to_thread(create_held, tmp)
        except OSError as exc:
            raise storage_error("write", key, exc) from exc
        try:
            offset = 0
            async for chunk in source:
                try:
                    await asyncio.to_thread(_pwrite_all, fd, chunk, offset)
                except OSError as exc:
                    raise storage_error("write", key, exc) from exc
                offset += len(chunk)
            try:
                return await asyncio.to_thread(self._put_sync, key, tmp)
            except OSError as exc:
                raise storage_error("write", key, exc) from exc
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(tmp.unlink)

    async def delete(self, key: str) -> bool:
        """Remove the object and its record; False when there was none."""
        check_key(key)
        return await asyncio.to_thread(self._delete_sync, key)

    # -- synchronous internals (run in threads) ----------------------------------------------

    def _data_path(self, key: str) -> Path:
        return self._root.joinpath(*key.split("/"))

    def _meta_path(self, key: str) -> Path:
        parts = key.split("/")
        return self._store.joinpath("meta", *parts[:-1], parts[-1] + ".json")

    def _pending_meta_path(self, key: str) -> Path:
        meta = self._meta_path(key)
        return meta.with_name(meta.name + _PENDING)

    def _read_meta(self, key: str, *, pending: bool = False) -> tuple[ObjectInfo, int] | None:
        """Return the record (or the pending one) and the inode number it was written for."""
        path = self._pending_meta_path(key) if pending else self._meta_path(key)
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            doc = json.loads(raw)
            info = ObjectInfo(
                key=key, size=int(doc["size"]), sha256=str(doc["sha256"]), mtime=float(doc["time"])
            )
            return info, int(doc["ino"])
        except (ValueError, KeyError, TypeError):
            logger.warning("storage.meta_unreadable key=%s", key)
            return None

    def _open_sync(self, key: str) -> tuple[int, ObjectInfo]:
        """Open the data file and find the record that describes it.

        The record names the inode it was written for. A record for another inode means a
        writer is between its two renames (retry shortly), the folder was copied (the content
        still hashes right: re-record), or a writer crashed there (quarantine).
        """
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                fd = os.open(self._data_path(key), os.O_RDONLY)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise ObjectNotFound(key) from None
            except OSError as exc:
                raise storage_error("read", key, exc) from exc
            try:
                st = os.fstat(fd)
                record = self._read_meta(key)
                if _describes(record, st):
                    assert record is not None
                    return fd, record[0]
                committed = self._committed_pending(key, st)
                if committed is not None:
                    return fd, committed
                size, sha256 = _hash_fd(fd)
                info = ObjectInfo(key=key, size=size, sha256=sha256, mtime=time.time())
                if record is None:
                    # Written by someone else (the go command, when the folder is also a
                    # GOMODCACHE/cache/download): adopt it as it is.
                    self._write_meta(info, st.st_ino)
                    logger.info("storage.adopted key=%s size=%d", key, size)
                    return fd, info
                if (size, sha256) == (record[0].size, record[0].sha256):
                    self._write_meta(record[0], st.st_ino)
                    return fd, record[0]
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            if attempt + 1 < _OPEN_ATTEMPTS:
                time.sleep(0.005 * (attempt + 1))
        raise self._quarantine(key, "the data does not match its record")

    def _get_sync(self, key: str) -> bytes:
        fd, info = self._open_sync(key)
        try:
            data = bytearray()
            while chunk := os.read(fd, COPY_CHUNK):
                data += chunk
        finally:
            os.close(fd)
        self._check_content(info, len(data), hashlib.sha256(data).hexdigest())
        return bytes(data)

    def _check_content(self, info: ObjectInfo, size: int, sha256: str) -> None:
        if size != info.size or sha256 != info.sha256:
            raise self._quarantine(
                info.key, f"sha256 {sha256} size {size}, recorded {info.sha256} size {info.size}"
            )

    def _stat_sync(self, key: str) -> ObjectInfo | None:
        path = self._data_path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        record = self._read_meta(key)
        if _describes(record, st):
            assert record is not None
            return record[0]
        try:
            fd, info = self._open_sync(key)
        except (ObjectNotFound, CorruptObject):
            return None
        os.close(fd)
        return info

    def _list_sync(self, prefix: str) -> builtins.list[str]:
        base = self._root.joinpath(*prefix.rstrip("/").split("/")) if prefix else self._root
        internal = prefix.startswith(INTERNAL_PREFIX)
        keys: builtins.list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, self._root).replace(os.sep, "/")
            at_root = rel == "."
            # Never descend into bookkeeping; the internal namespace only when asked for.
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".") or (at_root and d == ".gomodproxy" and internal)
            )
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if at_root else f"{rel}/{name}"
                try:
                    check_key(key)
                except StorageError:
                    continue
                if key.startswith(prefix) and self._stat_sync(key) is not None:
                    keys.append(key)
        return sorted(keys)

    def _write_meta(self, info: ObjectInfo, ino: int, *, pending: bool = False) -> None:
        meta = self._pending_meta_path(info.key) if pending else self._meta_path(info.key)
        doc = {"size": info.size, "sha256": info.sha256, "time": info.mtime, "ino": ino}
        write_file_atomic(meta, json.dumps(doc).encode())

    def _committed_pending(self, key: str, st: os.stat_result) -> ObjectInfo | None:
        """The pending record when it names the data file in place: its writer committed the
        data and died (or is about to promote the record). Promote it under the commit lock,
        re-checked there, so a writer that is still running is never overtaken."""
        pending = self._read_meta(key, pending=True)
        if not _describes(pending, st):
            return None
        assert pending is not None
        fd = self._open_lock_file(key, ".commit")
        try:
            if try_flock(fd):
                again = self._read_meta(key, pending=True)
                if _describes(again, os.stat(self._data_path(key))):
                    self._promote_meta(key)
                    logger.info("storage.record_promoted key=%s", key)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
        return pending[0]

    def _promote_meta(self, key: str) -> None:
        """Make the pending record the record (the second half of a commit)."""
        meta = self._meta_path(key)
        replace(self._pending_meta_path(key), meta)
        fsync_dir(meta.parent)

    def _put_sync(self, key: str, source: bytes | Path | HashedFile) -> ObjectInfo:
        final = self._data_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.parent.is_symlink() or final.is_dir():
            raise StorageError(f"cannot store {key}: the target is not a regular file location")
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.temp_dir / f"{secrets.token_hex(8)}{TEMP_SUFFIX}"
        held = -1
        try:
            size, sha256, held = materialize(source, tmp)
            info = ObjectInfo(key=key, size=size, sha256=sha256, mtime=time.time())
            # The new record goes beside the one in force (pending), the rename of the data is
            # the commit point (it keeps the inode the pending record names), and the promotion
            # of the record follows. A crash before the rename leaves the old object and its
            # record untouched; a crash after it leaves a pending record that names the data in
            # place, which readers take (and promote).
            with self._commit_lock(key):
                self._write_meta(info, os.fstat(held).st_ino, pending=True)
                replace(tmp, final)
                fsync_dir(final.parent)
                self._promote_meta(key)
                # Its bytes were hashed as they were written: the first reads need not again.
                self._remember_checked(key, _identity(os.stat(final)))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        finally:
            if held >= 0:
                os.close(held)
        if isinstance(source, Path):
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
        logger.debug("storage.put.complete key=%s size=%d", key, size)
        return info

    def sweep_orphans(
        self, *, everywhere: bool = False, grace: float = ORPHAN_GRACE_SECONDS
    ) -> tuple[int, int]:
        """Remove what dead writers left: unheld temporary and spool files (see
        :func:`~gomodproxy.storage.fswrite.sweep_orphans`). ``everywhere`` also walks the
        whole folder for temporary files beside objects and records (the layout of older
        versions; done once at start). Returns (files removed, bytes freed)."""
        removed = freed = 0
        for folder in (self.temp_dir, self.spool_dir):
            n, size = sweep_orphans(folder, grace=grace)
            removed, freed = removed + n, freed + size
        if everywhere:
            n, size = sweep_orphans(self._root, recursive=True, grace=grace)
            removed, freed = removed + n, freed + size
        if removed:
            logger.warning("storage.orphans_removed files=%d bytes=%d", removed, freed)
        return removed, freed

    def _delete_sync(self, key: str) -> bool:
        try:
            self._data_path(key).unlink()
            found = True
        except (FileNotFoundError, NotADirectoryError):
            found = False
        for meta in (self._meta_path(key), self._pending_meta_path(key)):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                meta.unlink()
        return found

    def _quarantine(self, key: str, reason: str) -> CorruptObject:
        self._checked.pop(key, None)
        name = hashlib.sha256(key.encode()).hexdigest()[:24]
        target = self._store / "quarantine" / f"{name}.{time.time_ns()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(self._data_path(key), target)
        # Only the record in force: a pending one belongs to a writer and is harmless when it
        # names no data in place.
        with contextlib.suppress(FileNotFoundError):
            self._meta_path(key).unlink()
        logger.error("storage.corrupt key=%s reason=%s quarantined=%s", key, reason, target.name)
        return CorruptObject(key, reason)

    def _open_lock_file(self, key: str, suffix: str = ".lock") -> int:
        parts = key.split("/")
        path = self._store.joinpath("locks", *parts[:-1], parts[-1] + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    @contextlib.contextmanager
    def _commit_lock(self, key: str) -> Iterator[None]:
        """Serialize the two renames of concurrent writers of one key (any process).

        Its own lock file (``.commit``), so a caller holding :meth:`lock` on the key never
        deadlocks against it. Taken in a worker thread, where blocking is fine.
        """
        fd = self._open_lock_file(key, ".commit")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class _FileReader:
    """Streams one stored file from an open descriptor, checking its hash at the end.

    ``whole`` is the content already read (and checked) at open: small objects. ``unchecked``
    is the file's identity when its hash must be checked while streaming (else the size alone
    is checked: it was hashed recently and has not changed since).
    """

    def __init__(
        self,
        storage: FilesystemStorage,
        fd: int,
        info: ObjectInfo,
        whole: bytes | None = None,
        unchecked: _Identity | None = None,
    ) -> None:
        self._storage = storage
        self._fd = fd
        self._info = info
        self._whole = whole
        self._unchecked = unchecked

    @property
    def info(self) -> ObjectInfo:
        return self._info

    async def chunks(self, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        if self._whole is not None:
            for start in range(0, len(self._whole), chunk_size):
                yield self._whole[start : start + chunk_size]
            return
        digest = hashlib.sha256() if self._unchecked is not None else None
        offset = 0
        pending = b""
        while True:
            chunk = await asyncio.to_thread(os.pread, self._fd, chunk_size, offset)
            if not chunk:
                break
            if digest is not None:
                digest.update(chunk)
            offset += len(chunk)
            if pending:
                yield pending
            pending = chunk
        got = digest.hexdigest() if digest is not None else self._info.sha256
        if offset != self._info.size or got != self._info.sha256:
            raise await asyncio.to_thread(
                self._storage._quarantine,
                self._info.key,
                f"sha256 {got} size {offset}, recorded {self._info.sha256}",
            )
        if self._unchecked is not None:
            self._storage._remember_checked(self._info.key, self._unchecked)
        if pending:
            yield pending

    async def read_range(self, start: int, length: int) -> bytes:
        if self._whole is not None:
            return self._whole[start : start + length]
        return await asyncio.to_thread(os.pread, self._fd, length, start)

    def checked_fd(self) -> int | None:
        # Checked recently and unchanged since (the identity test at open): sendable as is.
        return self._fd if self._whole is None and self._unchecked is None else None


def _describes(record: tuple[ObjectInfo, int] | None, st: os.stat_result) -> bool:
    """Whether a record was written for this data file (its inode and size)."""
    return record is not None and record[1] == st.st_ino and record[0].size == st.st_size


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _hash_fd(fd: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, COPY_CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return offset, digest.hexdigest()

"""The persistent, append-only log of our checksum database server.

One folder (``--data DIR``) holds four files:

``records.dat``
    the record texts, concatenated in log order;
``offsets.dat``
    one 8-byte big-endian end offset into ``records.dat`` per record;
``hashes.dat``
    the stored hashes of the tree, 32 bytes each, in stored-hash order (tlog.StoredHashIndex);
``latest``
    the signed tree head (a note over ``go.sum database tree\\nN\\nhash\\n``).

An append writes the three data files (each ``fsync``-ed) and then replaces ``latest`` atomically
(temporary file, ``fsync``, ``os.replace``, directory ``fsync``): the signed tree head is the
commit point. On open, anything past the size ``latest`` signs is an interrupted append and is cut
off; then every record is re-hashed and the tree hash is checked against the signed head, so a
damaged folder is refused loudly instead of being served. Existing records are never rewritten;
the log only grows. A lock file keeps two servers off one folder.

The class is synchronous (file I/O); the server calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.errors import ConfigError, StorageError, SumDBError
from gomodproxy.tlog import note, tlog
from gomodproxy.tlog.tlog import Hash, Tile, Tree

__all__ = ["TILE_HEIGHT", "LogStore", "RecordKey", "record_key"]

logger = logging.getLogger(__name__)

TILE_HEIGHT = 8
"""Tile height served, as by sum.golang.org and expected by the go command."""

_RECORDS = "records.dat"
_OFFSETS = "offsets.dat"
_HASHES = "hashes.dat"
_LATEST = "latest"
_LOCK = "lock"
_OFFSET_SIZE = 8


@dataclass(frozen=True, slots=True)
class RecordKey:
    """The module version a record is about: its lookup key."""

    path: str
    version: str

    def __str__(self) -> str:
        return f"{self.path}@{self.version}"


def record_key(text: bytes) -> RecordKey:
    """The key of a record text: valid record text whose lines are all go.sum lines of one version.

    A record of this database holds ``path version h1:…`` and ``path version/go.mod h1:…``.
    Raises :class:`~gomodproxy.tlog.tlog.MalformedRecord` or :class:`SumDBError`.
    """
    tlog.format_record(0, text)  # validates the record text rules
    lines = text.decode("utf-8").splitlines()
    fields = lines[0].split(" ")
    if len(fields) != 3:
        raise SumDBError(f"record line {lines[0]!r} is not a go.sum line 'path version hash'")
    path, version = fields[0], fields[1].removesuffix("/go.mod")
    for line in lines:
        f = line.split(" ")
        if len(f) != 3 or f[0] != path or f[1] not in (version, version + "/go.mod"):
            raise SumDBError(f"record line {line!r} is not about {path} {version}")
    return RecordKey(path, version)


class _PendingReader:
    """A HashReader over the committed hashes file plus hashes not yet written."""

    def __init__(self, store: LogStore, base: int, pending: list[Hash]) -> None:
        self._store = store
        self._base = base
        self._pending = pending

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        out: list[Hash] = []
        for i in indexes:
            if i >= self._base:
                out.append(self._pending[i - self._base])
            else:
                out.append(self._store._read_hash(i))
        return out


class _MemoryHashes:
    """A HashReader over a list of stored hashes (used while re-verifying on open)."""

    def __init__(self, hashes: list[Hash]) -> None:
        self.hashes = hashes

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        return [self.hashes[i] for i in indexes]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LogStore:
    """An append-only transparency log kept in one folder, signed with one key.

    Use :meth:`open`; call :meth:`close` when done. Thread-safe: appends are serialised and
    readers only ever see committed records.
    """

    def __init__(self, data_dir: Path, signer: note.Signer, verifier: note.Verifier) -> None:
        self._dir = data_dir
        self._signer = signer
        self._verifier = verifier
        self._lock = threading.Lock()
        self._lock_fd = -1
        self._records_fd = -1
        self._offsets_fd = -1
        self._hashes_fd = -1
        self._size = 0
        self._records_end = 0
        self._tree = Tree(0, tlog.EMPTY_HASH)
        self._signed = b""
        self._index: dict[RecordKey, int] = {}

    @classmethod
    def open(cls, data_dir: Path, signer: note.Signer, verifier: note.Verifier) -> LogStore:
        """Open (creating if needed) the log in ``data_dir``, recover and re-verify it."""
        store = cls(data_dir, signer, verifier)
        try:
            store._open()
        except BaseException:
            store.close()
            raise
        return store

    # --- public reads ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The database name (the signer key's name)."""
        return self._signer.name

    @property
    def size(self) -> int:
        """Number of committed records."""
        return self._size

    @property
    def tree(self) -> Tree:
        """The committed tree (size and root hash)."""
        return self._tree

    def signed_tree(self) -> bytes:
        """The signed tree head note of the committed tree."""
        return self._signed

    def lookup(self, path: str, version: str) -> int | None:
        """The record id for path@version, or None."""
        return self._index.get(RecordKey(path, version))

    def keys(self) -> list[RecordKey]:
        """Every logged module version, in log order."""
        return sorted(self._index, key=self._index.__getitem__)

    def read_records(self, start: int, count: int) -> list[bytes]:
        """Record texts ``start`` .. ``start+count-1``; they must all be committed."""
        if start < 0 or count < 0 or start + count > self._size:
            raise StorageError(f"records {start}..{start + count - 1} are not in the log")
        if count == 0:
            return []
        if start == 0:
            raw = bytes(_OFFSET_SIZE) + self._pread(self._offsets_fd, count * 8, 0, "offsets")
        else:
            raw = self._pread(self._offsets_fd, (count + 1) * 8, (start - 1) * 8, "offsets")
        ends = [int.from_bytes(raw[i : i + 8], "big") for i in range(0, len(raw), 8)]
        blob = self._pread(self._records_fd, ends[-1] - ends[0], ends[0], "records")
        return [blob[a - ends[0] : b - ends[0]] for a, b in itertools.pairwise(ends)]

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        """Stored hashes by index (a tlog HashReader over the committed tree)."""
        limit = tlog.stored_hash_count(self._size)
        for i in indexes:
            if not 0 <= i < limit:
                raise StorageError(f"stored hash {i} is not in the tree of size {self._size}")
        return [self._read_hash(i) for i in indexes]

    def tile_available(self, tile: Tile) -> bool:
        """Whether ``tile`` (hash or data) is fully inside the committed tree."""
        if tile.h != TILE_HEIGHT or tile.w < 1 or tile.w > 1 << tile.h:
            return False
        if tile.l == -1:
            return (tile.n << tile.h) + tile.w <= self._size
        if tile.l < 0 or tile.l > 63:
            return False
        return (tile.n << tile.h) + tile.w <= self._size >> (tile.h * tile.l)

    def read_tile(self, tile: Tile) -> bytes:
        """The body of a hash tile (W×32 raw bytes) or data tile (each record text + ``\\n``)."""
        if not self.tile_available(tile):
            raise StorageError(f"tile {tile.path()} is not in the tree of size {self._size}")
        if tile.l == -1:
            return b"".join(text + b"\n" for text in self.read_records(tile.n << tile.h, tile.w))
        return tlog.read_tile_data(tile, self)

    # --- append ---------------------------------------------------------------------------

    def append(self, texts: Sequence[bytes]) -> list[int]:
        """Append record texts and sign the new tree; return each text's record id.

        A text whose module version is already logged is not appended again: its existing id is
        returned (and a differing text is logged as a warning, never written). Raises
        :class:`SumDBError` for a malformed record text, before anything is written.
        """
        keys = [record_key(t) for t in texts]
        with self._lock:
            ids: list[int] = []
            new_texts: list[bytes] = []
            new_ids: dict[RecordKey, int] = {}
            n = self._size
            for key, text in zip(keys, texts, strict=True):
                existing = self._index.get(key, new_ids.get(key))
                if existing is not None:
                    ids.append(existing)
                    self._warn_if_different(key, existing, text, new_texts, n)
                    continue
                new_ids[key] = n + len(new_texts)
                ids.append(new_ids[key])
                new_texts.append(text)
            if new_texts:
                self._commit(new_texts, new_ids)
            return ids

    def _warn_if_different(
        self, key: RecordKey, rid: int, text: bytes, pending: list[bytes], n: int
    ) -> None:
        old = pending[rid - n] if rid >= n else self.read_records(rid, 1)[0]
        if old != text:
            logger.warning(
                "sumdb.append.conflict key=%s id=%d: already logged with other hashes; "
                "the log is append-only, the new lines are ignored",
                key,
                rid,
            )

    def _commit(self, texts: list[bytes], new_ids: dict[RecordKey, int]) -> None:
        n0 = self._size
        base = tlog.stored_hash_count(n0)
        pending: list[Hash] = []
        reader = _PendingReader(self, base, pending)
        offsets = bytearray()
        end = self._records_end
        for i, text in enumerate(texts):
            pending.extend(tlog.stored_hashes(n0 + i, text, reader))
            end += len(text)
            offsets += end.to_bytes(_OFFSET_SIZE, "big")
        n1 = n0 + len(texts)
        tree = Tree(n1, tlog.tree_hash(n1, reader))
        signed = note.sign(tlog.format_tree(tree).decode("ascii"), [self._signer])

        self._write_all(self._records_fd, b"".join(texts), "records")
        self._write_all(self._offsets_fd, bytes(offsets), "offsets")
        self._write_all(self._hashes_fd, b"".join(pending), "hashes")
        self._write_latest(signed)

        # Publish in this order: a reader that finds a new id in the index already sees a size
        # and a signed head that include it.
        self._records_end = end
        self._tree = tree
        self._signed = signed
        self._size = n1
        self._index.update(new_ids)
        logger.info("sumdb.append.complete records=%d tree_size=%d", len(texts), n1)

    # --- files ----------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self._dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open log folder {self._dir}: {exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise StorageError(
                f"log folder {self._dir} is in use by another server; stop it or use another --data"
            ) from exc
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
        self._records_fd = os.open(self._dir / _RECORDS, flags, 0o644)
        self._offsets_fd = os.open(self._dir / _OFFSETS, flags, 0o644)
        self._hashes_fd = os.open(self._dir / _HASHES, flags, 0o644)
        self._recover()

    def _recover(self) -> None:
        latest_path = self._dir / _LATEST
        if latest_path.exists():
            signed = latest_path.read_bytes()
            try:
                opened = note.open_note(signed, [self._verifier])
            except SumDBError as exc:
                raise ConfigError(
                    f"{latest_path} is not a tree head signed by key {self.name!r} ({exc}); "
                    "use the --key this log was created with"
                ) from exc
            tree = tlog.parse_tree(opened.text.encode("utf-8"))
        else:
            signed, tree = b"", Tree(0, tlog.EMPTY_HASH)
        n = tree.n
        damaged = f"log folder {self._dir} is damaged"
        offsets_len = os.fstat(self._offsets_fd).st_size
        hashes_len = os.fstat(self._hashes_fd).st_size
        want_hashes = tlog.stored_hash_count(n) * tlog.HASH_SIZE
        if offsets_len < n * _OFFSET_SIZE or hashes_len < want_hashes:
            raise StorageError(f"{damaged}: the signed tree has {n} records, fewer are stored")
        raw = self._pread(self._offsets_fd, n * _OFFSET_SIZE, 0, "offsets") if n else b""
        ends = [int.from_bytes(raw[i : i + 8], "big") for i in range(0, len(raw), 8)]
        records_end = ends[-1] if ends else 0
        if os.fstat(self._records_fd).st_size < records_end:
            raise StorageError(f"{damaged}: {_RECORDS} is shorter than its offsets")
        # Anything past the signed size is an append that never committed: cut it off.
        for fd, length, what in (
            (self._offsets_fd, n * _OFFSET_SIZE, _OFFSETS),
            (self._hashes_fd, want_hashes, _HASHES),
            (self._records_fd, records_end, _RECORDS),
        ):
            if os.fstat(fd).st_size > length:
                logger.warning("sumdb.recover.truncate file=%s length=%d", what, length)
                os.ftruncate(fd, length)
                os.fsync(fd)

        # Re-verify every record against the stored hashes and the signed tree hash.
        blob = self._pread(self._records_fd, records_end, 0, "records") if n else b""
        stored = self._pread(self._hashes_fd, want_hashes, 0, "hashes") if n else b""
        computed = _MemoryHashes([])
        index: dict[RecordKey, int] = {}
        start = 0
        for i, end in enumerate(ends):
            text = blob[start:end]
            start = end
            try:
                key = record_key(text)
            except SumDBError as exc:
                raise StorageError(f"{damaged}: record {i}: {exc}") from exc
            if key in index:
                raise StorageError(f"{damaged}: record {i} repeats {key}")
            index[key] = i
            computed.hashes.extend(tlog.stored_hashes(i, text, computed))
        if b"".join(computed.hashes) != stored:
            raise StorageError(f"{damaged}: {_HASHES} does not match the records")
        if n and tlog.tree_hash(n, computed) != tree.hash:
            raise StorageError(f"{damaged}: the records do not hash to the signed tree")
        self._size, self._tree, self._signed = n, tree, signed
        self._records_end, self._index = records_end, index
        if not signed:
            # A fresh log still has a signed (empty) tree head to serve.
            self._signed = note.sign(tlog.format_tree(tree).decode("ascii"), [self._signer])
        logger.info("sumdb.open.complete dir=%s tree_size=%d", self._dir, n)

    def _write_latest(self, signed: bytes) -> None:
        tmp = self._dir / (_LATEST + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                self._write_all(fd, signed, _LATEST)
            finally:
                os.close(fd)
            os.replace(tmp, self._dir / _LATEST)
            _fsync_dir(self._dir)
        except OSError as exc:
            raise StorageError(f"cannot write {self._dir / _LATEST}: {exc}") from exc

    @staticmethod
    def _write_all(fd: int, data: bytes, what: str) -> None:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"cannot write the log's {what}: {exc}") from exc

    @staticmethod
    def _pread(fd: int, length: int, offset: int, what: str) -> bytes:
        try:
            data = os.pread(fd, length, offset)
        except OSError as exc:
            raise StorageError(f"cannot read the log's {what}: {exc}") from exc
        if len(data) != length:
            raise StorageError(f"the log's {what} file is shorter than expected")
        return data

    def _read_hash(self, index: int) -> Hash:
        return self._pread(self._hashes_fd, tlog.HASH_SIZE, index * tlog.HASH_SIZE, "hashes")

    def close(self) -> None:
        """Close the files and release the folder lock."""
        for attr in ("_records_fd", "_offsets_fd", "_hashes_fd", "_lock_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                os.close(fd)
                setattr(self, attr, -1)

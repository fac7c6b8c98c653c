"""The checksum-database verifier: go.sum lines proven by a transparency log, or an error.

A port of golang.org/x/mod/sumdb/client.go, stricter where the 2026 advisories showed it must
be (fault catalogue section E; CVE-2026-42501, -56864, -56865):

* only lines of the record text that was proven against the signed tree count; lines anywhere
  else in a lookup answer are ignored;
* a proven record without the module's own line is a failure naming the module, never a pass;
* every tile is proven against a signed tree before it is used or cached;
* a database that cannot be reached is an error, never a reason to skip.

The remembered tree head (``<name>/latest``) only moves forward: every new signed tree must
extend it, every older one must be its prefix, and a conflict raises :class:`ForkDetected`
("SECURITY ERROR ...") while the remembered head stays as it was. Network and storage come in
through the seams of :mod:`gomodproxy.sumdb.seams`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Literal, TypeVar

from gomodproxy.errors import (
    ChecksumMismatch,
    ModuleNotFound,
    ProxyError,
    SecurityError,
    SumDBError,
)
from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.singleflight import SingleFlight
from gomodproxy.sumdb.seams import SumDBFetcher, VerifierState, WriteConflict
from gomodproxy.sumdb.tileread import TileSource
from gomodproxy.tlog.note import new_verifier, open_note, verifier_list
from gomodproxy.tlog.tlog import (
    Hash,
    ProofFailed,
    Tree,
    check_tree,
    format_hash,
    parse_record,
    parse_tree,
    prove_tree,
    record_hash,
    stored_hash_index,
    tree_hash,
)

__all__ = ["CorruptLatest", "ForkDetected", "NoSumDBEntry", "SumDBClient"]

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=ProxyError)

# When a tree note happened relative to the remembered one (client.go msgPast/msgNow/msgFuture).
_PAST, _NOW, _FUTURE = 1, 2, 3
# Bytes of a refused tree note quoted in the error.
_MAX_QUOTED_NOTE = 2000
# Compare-and-swap rounds before giving up on a configuration file that keeps changing.
_MAX_CAS_ROUNDS = 50


class NoSumDBEntry(SumDBError):
    """The database has no proven go.sum line for this module version (items 46, 53)."""

    def __init__(self, path: str, version: str, detail: str) -> None:
        super().__init__(f"no entry in checksum database for {path}@{version}: {detail}")
        self.path = path
        self.version = version


class ForkDetected(SecurityError):
    """Two signed tree heads that cannot both be true: the database forked its log (item 51).

    ``old_note`` and ``new_note`` are the two signed notes; ``proof`` lists the tree hash the
    newer tree implies for the older size, then the consistency proof hashes.
    """

    def __init__(self, old_note: bytes, new_note: bytes, proof: list[str], location: str) -> None:
        def indent(b: bytes) -> str:
            return b.decode("utf-8", "replace").replace("\n", "\n\t")

        super().__init__(
            "SECURITY ERROR\n"
            "go.sum database server misbehavior detected!\n\n"
            f"old database:\n\t{indent(old_note)}\n"
            f"new database:\n\t{indent(new_note)}\n"
            "proof of misbehavior:\n\t" + "\n\t".join(proof) + "\n\n"
            f"The remembered tree head in {location} was left unchanged. Do not trust this "
            "database until the conflict is explained; remove that file only to start over."
        )
        self.old_note = old_note
        self.new_note = new_note
        self.proof = proof


class CorruptLatest(SumDBError):
    """The remembered tree head on disk does not open (item 58): never silently reset."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(
            f"corrupt remembered checksum database tree head {location}: {reason}\n"
            f"It is kept to detect forks, so it is not reset automatically: remove {location} "
            "if you trust the database, and it will be learned again."
        )
        self.location = location


class _NoHashes:
    """A HashReader for the empty tree, which needs no hashes."""

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        raise SumDBError(f"no hashes to read for the empty tree (asked for {len(indexes)})")


def _with_context(exc: E, context: str) -> E:
    """A copy of ``exc`` whose message starts with ``context``; type and attributes kept.

    A copy, because one failure may be shared by several waiters of a single-flight fetch.
    """
    clone = type(exc).__new__(type(exc))
    clone.__dict__.update(exc.__dict__)
    clone.message = f"{context}: {exc.message}"
    clone.args = (clone.message,)
    return clone


def _lines_for(text: bytes, path: str, version: str) -> list[str]:
    """The go.sum lines ``<path> <version> <hash>`` of a proven record text."""
    lines = []
    for line in text.decode("utf-8").split("\n"):
        fields = line.split(" ")
        if len(fields) == 3 and fields[0] == path and fields[1] == version and fields[2]:
            lines.append(line)
    return lines


class SumDBClient:
    """A verifying client of one checksum database (x/mod sumdb.Client).

    ``verifier_key`` is the database's verifier key (``name+hash+key``, as in
    :class:`~gomodproxy.sumdb.gosumdb.SumDBConfig`), ``fetcher`` reads its paths and ``state``
    keeps the remembered tree head and the cache. Safe for concurrent use within one event
    loop; several processes may share one on-disk state.
    """

    def __init__(
        self,
        verifier_key: str,
        fetcher: SumDBFetcher,
        state: VerifierState,
        *,
        tile_height: int = 8,
        memory_tiles: int = 2048,
    ) -> None:
        verifier = new_verifier(verifier_key.strip())
        self.name: str = verifier.name
        self._verifiers = verifier_list(verifier)
        self._fetcher = fetcher
        self._state = state
        self._latest_file = f"{self.name}/latest"
        self._tiles = TileSource(
            self.name, fetcher, state, tile_height=tile_height, memory_tiles=memory_tiles
        )
        self._latest = Tree(0, tree_hash(0, _NoHashes()))  # the empty timeline
        self._latest_msg = b""
        self._init_lock = asyncio.Lock()
        self._initialized = False
        self._records: SingleFlight[bytes] = SingleFlight()

    @property
    def latest(self) -> Tree:
        """The newest tree head verified so far by this client."""
        return self._latest

    async def lookup(self, path: str, version: str) -> list[str]:
        """The proven go.sum lines of ``path`` at ``version`` (which may end in ``/go.mod``).

        Raises :class:`NoSumDBEntry` when the database does not know the version or its proven
        record lacks the line, :class:`ForkDetected` or another
        :class:`~gomodproxy.errors.SecurityError` when the database misbehaves, and
        :class:`~gomodproxy.errors.SumDBError` when it cannot be read or answers nonsense.
        """
        logger.debug("sumdb.lookup.started name=%s module=%s@%s", self.name, path, version)
        try:
            await self._init()
            text = await self._record(path, version)
        except (ForkDetected, NoSumDBEntry):
            raise
        except (SumDBError, SecurityError) as exc:
            raise _with_context(exc, f"{path}@{version}") from exc
        lines = _lines_for(text, path, version)
        if not lines:
            raise NoSumDBEntry(path, version, "its proven record does not list it")
        logger.debug("sumdb.lookup.complete name=%s module=%s@%s", self.name, path, version)
        return lines

    async def verify(self, path: str, version: str, kind: Literal["zip", "mod"], h1: str) -> None:
        """Check a downloaded hash against the database; return only if it matches.

        ``kind`` is ``"zip"`` for the module zip or ``"mod"`` for its go.mod (the ``/go.mod``
        line). Raises :class:`~gomodproxy.errors.ChecksumMismatch` (source "checksum
        database") when the database lists another ``h1:`` hash, :class:`NoSumDBEntry` when it
        lists none, and the errors of :meth:`lookup`.
        """
        if kind not in ("zip", "mod"):
            raise ValueError(f"kind must be 'zip' or 'mod', not {kind!r}")
        key = version if kind == "zip" else version + "/go.mod"
        hashes = [line.split(" ")[2] for line in await self.lookup(path, key)]
        h1s = [h for h in hashes if h.startswith("h1:")]
        if not h1s:
            raise NoSumDBEntry(path, key, "its proven record has no h1: hash for it")
        for expected in h1s:
            if expected != h1:
                raise ChecksumMismatch(path, key, expected, h1, source="checksum database")

    async def observe_tree(self, signed_note: bytes) -> Tree:
        """Check a signed tree head (for example a mirror's ``/latest``) against the timeline.

        The note must verify and be consistent with every head seen so far; a newer one
        advances the remembered head. Returns its tree.
        """
        await self._init()
        await self._merge_latest(signed_note)
        return parse_tree(open_note(signed_note, self._verifiers).text.encode("utf-8"))

    # --- the remembered tree head ------------------------------------------------------------

    async def _init(self) -> None:
        """Load and self-check the remembered tree head once (client.go initWork)."""
        if self._initialized:
            return
        async with self._init_lock:
            if self._initialized:
                return
            stored = await self._state.read_config(self._latest_file)
            try:
                await self._merge_latest(stored, from_config=True)
            except (ForkDetected, CorruptLatest):
                raise
            except (SumDBError, SecurityError) as exc:
                context = f"initializing checksum database client for {self.name}"
                raise _with_context(exc, context) from exc
            self._initialized = True

    async def _merge_latest(self, msg: bytes, *, from_config: bool = False) -> None:
        """Merge a signed tree note into the timeline and persist progress (mergeLatest)."""
        when = await self._merge_latest_mem(msg, from_config=from_config)
        if when != _FUTURE:
            return
        # Flush the extended timeline with compare-and-swap, merging other writers' updates.
        for _ in range(_MAX_CAS_ROUNDS):
            stored = await self._state.read_config(self._latest_file)
            if await self._merge_latest_mem(stored, from_config=True) != _PAST:
                return
            try:
                await self._state.write_config(self._latest_file, stored, self._latest_msg)
            except WriteConflict:
                logger.debug("sumdb.latest.conflict name=%s: merging and retrying", self.name)
                continue
            logger.debug("sumdb.latest.advanced name=%s tree=%d", self.name, self._latest.n)
            return
        raise SumDBError(
            f"could not update {self._state.config_location(self._latest_file)}: it kept "
            f"changing during {_MAX_CAS_ROUNDS} attempts"
        )

    async def _merge_latest_mem(self, msg: bytes, *, from_config: bool) -> int:
        """Merge into the in-memory head; say when ``msg`` happened (mergeLatestMem)."""
        if not msg:
            # An empty note is the empty timeline.
            return _NOW if self._latest.n == 0 else _PAST
        try:
            tree = parse_tree(open_note(msg, self._verifiers).text.encode("utf-8"))
        except SumDBError as exc:
            if from_config:
                location = self._state.config_location(self._latest_file)
                raise CorruptLatest(location, str(exc)) from exc
            note_text = msg[:_MAX_QUOTED_NOTE].decode("utf-8", "replace")
            if len(msg) > _MAX_QUOTED_NOTE:
                note_text += f"... ({len(msg)} bytes)"
            raise SumDBError(f"reading tree note: {exc}\nnote:\n{note_text}") from exc

        # Other lookups may move the head while tiles are read: retry until installed.
        latest, latest_msg = self._latest, self._latest_msg
        while True:
            if tree.n <= latest.n:
                await self._check_trees(tree, msg, latest, latest_msg)
                return _PAST if tree.n < latest.n else _NOW
            await self._check_trees(latest, latest_msg, tree, msg)
            if self._latest == latest:
                self._latest, self._latest_msg = tree, msg
                return _FUTURE
            latest, latest_msg = self._latest, self._latest_msg

    async def _check_trees(
        self, older: Tree, older_msg: bytes, newer: Tree, newer_msg: bytes
    ) -> None:
        """Prove ``older`` is a prefix of ``newer``, or raise :class:`ForkDetected`."""
        try:
            h = await self._tiles.run(
                newer, lambda r: tree_hash(older.n, r), accept=lambda h: h == older.hash
            )
        except (SumDBError, SecurityError) as exc:
            where = (
                f"tree#{older.n}"
                if older.n == newer.n
                else f"tree#{older.n} against tree#{newer.n}"
            )
            raise _with_context(exc, f"checking {where}") from exc
        if h == older.hash:
            return
        # The notes alone do not prove the fork; add the hashes that do (client.go checkTrees).
        proof_lines = [format_hash(h)]
        try:
            proof = await self._tiles.run(
                newer, lambda r: prove_tree(newer.n, older.n, r), accept=lambda _: False
            )
            check_tree(proof, newer.n, newer.hash, older.n, h)
            proof_lines += [format_hash(p) for p in proof]
        except ProofFailed:
            proof_lines.append("internal error: generated inconsistent proof")
        except ProxyError as exc:
            proof_lines.append(f"internal error: {exc}")
        logger.error("sumdb.fork name=%s old_tree=%d new_tree=%d", self.name, older.n, newer.n)
        raise ForkDetected(
            older_msg, newer_msg, proof_lines, self._state.config_location(self._latest_file)
        )

    # --- records -----------------------------------------------------------------------------

    async def _record(self, path: str, version: str) -> bytes:
        """The proven record text for ``path`` at ``version`` (without ``/go.mod``)."""
        bare = version.removesuffix("/go.mod")
        remote = f"lookup/{escape_path(path)}@{escape_version(bare)}"
        file = f"{self.name}/{remote}"
        return await self._records.do(file, lambda: self._load_record(path, bare, remote, file))

    async def _load_record(self, path: str, version: str, remote: str, file: str) -> bytes:
        cached = await self._state.read_cache(file)
        if cached is not None:
            try:
                return await self._proven_text(cached)
            except ForkDetected:
                raise
            except (SumDBError, SecurityError) as exc:
                # A damaged cache file must not decide: ask the database again.
                logger.warning("sumdb.cache.invalid file=%s: %s; fetching it again", file, exc)
        try:
            data = await self._fetcher.fetch(remote)
        except ModuleNotFound as exc:
            raise NoSumDBEntry(path, version, f"{self.name} answered {exc}") from exc
        except ProxyError as exc:
            raise SumDBError(
                f"checksum database {self.name} unavailable: reading {remote}: {exc}"
            ) from exc
        text = await self._proven_text(data)
        try:
            await self._state.write_cache(file, data)
        except ProxyError as exc:
            logger.warning("sumdb.cache.write_failed file=%s: %s", file, exc)
        return text

    async def _proven_text(self, data: bytes) -> bytes:
        """Parse a lookup answer, merge its tree note, prove its record; return the text."""
        record_id, text, tree_msg = parse_record(data)
        await self._merge_latest(tree_msg)
        await self._check_record(record_id, text)
        return text

    async def _check_record(self, record_id: int, text: bytes) -> None:
        """Prove that record ``record_id`` of the remembered tree is ``text`` (checkRecord)."""
        latest = self._latest
        if record_id < 0 or record_id >= latest.n:
            raise SumDBError(f"cannot validate record {record_id} in tree of size {latest.n}")
        index = stored_hash_index(0, record_id)
        hashes = await self._tiles.run(latest, lambda r: r.read_hashes([index]))
        if hashes[0] != record_hash(text):
            raise SecurityError("cannot authenticate record data in server response")

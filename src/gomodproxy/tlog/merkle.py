"""Merkle-tree hashing, stored-hash indexes and proofs of the checksum database's log.

A pure port of golang.org/x/mod/sumdb/tlog/tlog.go (RFC 6962 hashing, the Crosby–Wallach stored
hash order, record and tree proofs). No I/O: previously stored hashes come from a
:class:`HashReader` the caller provides. Import these names from :mod:`gomodproxy.tlog.tlog`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gomodproxy.errors import SecurityError, SumDBError

__all__ = [
    "EMPTY_HASH",
    "HASH_SIZE",
    "Hash",
    "HashReader",
    "ProofFailed",
    "RecordProof",
    "TlogError",
    "Tree",
    "TreeProof",
    "check_record",
    "check_tree",
    "node_hash",
    "prove_record",
    "prove_tree",
    "record_hash",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes",
    "stored_hashes_for_record_hash",
    "tree_hash",
]

Hash = bytes
"""A 32-byte SHA-256 hash identifying a log record or a tree root (tlog.Hash)."""

HASH_SIZE = 32
"""Size of a :data:`Hash` in bytes (tlog.HashSize)."""

EMPTY_HASH: Hash = hashlib.sha256(b"").digest()
"""The hash of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1; x/mod tlog emptyHash)."""

RecordProof = list[Hash]
"""An RFC 6962 Merkle audit path: proof that a tree contains a record."""

TreeProof = list[Hash]
"""An RFC 6962 Merkle consistency proof: proof that a tree extends an earlier one."""


class TlogError(SumDBError):
    """Invalid arguments to a log computation, or a hash reader that broke its contract."""


class ProofFailed(SecurityError):
    """A record or tree proof does not verify against the claimed tree hash."""

    def __init__(self, message: str = "invalid transparency proof") -> None:
        super().__init__(message)


class HashReader(Protocol):
    """Reads stored hashes of the log's tree by stored hash index (tlog.HashReader)."""

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        """Return one hash per index, in order, or raise."""
        ...


@dataclass(frozen=True, slots=True)
class Tree:
    """A tree description (tlog.Tree): ``n`` records with root hash ``hash``."""

    n: int
    hash: Hash


def _maxpow2(n: int) -> tuple[int, int]:
    """Return (k, l): k = 2**l is the largest power of two smaller than n (tlog.go maxpow2)."""
    level = 0
    while 1 << (level + 1) < n:
        level += 1
    return 1 << level, level


def record_hash(data: bytes) -> Hash:
    """The leaf hash of a record: SHA-256(0x00 ‖ data) (RFC 6962 §2.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: Hash, right: Hash) -> Hash:
    """The hash of an interior node: SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def stored_hash_index(level: int, n: int) -> int:
    """Map tree coordinates (level, n) to their dense stored-hash index (tlog.StoredHashIndex)."""
    # Level L's n'th hash is written right after level L+1's 2n+1'th hash.
    for _ in range(level):
        n = 2 * n + 1
    # Level 0's n'th hash is written at n+n/2+n/4+... (eventually n/2**i hits zero).
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def _trailing_zeros(x: int) -> int:
    """Number of trailing zero bits of x > 0 (Go bits.TrailingZeros64)."""
    return (x & -x).bit_length() - 1


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """Inverse of :func:`stored_hash_index`: return (level, n) (tlog.SplitStoredHashIndex)."""
    if index < 0:
        raise TlogError(f"tlog: negative stored hash index {index}")
    # StoredHashIndex(0, n) < 2*n, so the n we want is in [index/2, index/2+log2(index)].
    n = index // 2
    index_n = stored_hash_index(0, n)
    while True:
        # Each new record n adds 1 + trailingZeros(n+1) hashes.
        x = index_n + 1 + _trailing_zeros(n + 1)
        if x > index:
            break
        n += 1
        index_n = x
    # The hash we want was committed with record n: one of (0, n), (1, n/2), (2, n/4), ...
    level = index - index_n
    return level, n >> level


def stored_hash_count(n: int) -> int:
    """Number of stored hashes a tree with n records has (tlog.StoredHashCount)."""
    if n == 0:
        return 0
    # The hashes up to the last leaf hash, plus those of subtrees completed by that leaf.
    num_hash = stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        num_hash += 1
        i >>= 1
    return num_hash


def _read_exact(reader: HashReader, indexes: Sequence[int]) -> list[Hash]:
    hashes = reader.read_hashes(indexes)
    if len(hashes) != len(indexes):
        raise TlogError(f"tlog: ReadHashes({len(indexes)} indexes) = {len(hashes)} hashes")
    return hashes


def stored_hashes(n: int, data: bytes, reader: HashReader) -> list[Hash]:
    """The hashes to store, starting at ``stored_hash_index(0, n)``, when writing record n.

    May read up to log2(n) earlier hashes from ``reader`` (tlog.StoredHashes).
    """
    return stored_hashes_for_record_hash(n, record_hash(data), reader)


def stored_hashes_for_record_hash(n: int, h: Hash, reader: HashReader) -> list[Hash]:
    """Like :func:`stored_hashes`, given ``record_hash(data)`` (StoredHashesForRecordHash)."""
    if n < 0:
        raise TlogError(f"tlog: negative record index {n}")
    hashes = [h]
    # Each trailing 1 bit of n completes a subtree and consumes a hash from an adjacent subtree.
    m = _trailing_zeros(n + 1)
    indexes = [0] * m
    for i in range(m):
        # Sorted order; n>>i is always odd.
        indexes[m - 1 - i] = stored_hash_index(i, (n >> i) - 1)
    old = _read_exact(reader, indexes)
    for i in range(m):
        h = node_hash(old[m - 1 - i], h)
        hashes.append(h)
    return hashes


def tree_hash(n: int, reader: HashReader) -> Hash:
    """The root hash of the tree with n records (tlog.TreeHash).

    Makes one ``read_hashes`` call for at most 1 + log2(n) hashes. The tree of size zero has
    :data:`EMPTY_HASH` (x/mod v0.42: older x/mod answered all zeros).
    """
    if n < 0:
        raise TlogError(f"tlog: negative tree size {n}")
    if n == 0:
        return EMPTY_HASH
    indexes = _sub_tree_index(0, n, [])
    hashes = _read_exact(reader, indexes)
    h, rest = _sub_tree_hash(0, n, hashes)
    if rest:
        raise AssertionError("tlog: bad index math in TreeHash")
    return h


def _sub_tree_index(lo: int, hi: int, need: list[int]) -> list[int]:
    """Append the stored indexes needed for the hash of records [lo, hi) (subTreeIndex)."""
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        if lo & (k - 1):
            raise AssertionError("tlog: bad math in subTreeIndex")
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _sub_tree_hash(lo: int, hi: int, hashes: list[Hash]) -> tuple[Hash, list[Hash]]:
    """Hash of records [lo, hi) from the hashes :func:`_sub_tree_index` named; return leftovers."""
    # Partition into a left side of 2**level leaves (stored) and a right-side fringe.
    num_tree = 0
    while lo < hi:
        k, _ = _maxpow2(hi - lo + 1)
        if lo & (k - 1) or lo >= hi:
            raise AssertionError("tlog: bad math in subTreeHash")
        num_tree += 1
        lo += k
    if len(hashes) < num_tree:
        raise AssertionError("tlog: bad index math in subTreeHash")
    h = hashes[num_tree - 1]
    for i in range(num_tree - 2, -1, -1):
        h = node_hash(hashes[i], h)
    return h, hashes[num_tree:]


def prove_record(t: int, n: int, reader: HashReader) -> RecordProof:
    """The proof that the tree of size t contains record n (tlog.ProveRecord)."""
    if t < 0 or n < 0 or n >= t:
        raise TlogError("tlog: invalid inputs in ProveRecord")
    indexes = _leaf_proof_index(0, t, n, [])
    if not indexes:
        return []
    hashes = _read_exact(reader, indexes)
    proof, rest = _leaf_proof(0, t, n, hashes)
    if rest:
        raise AssertionError("tlog: bad index math in ProveRecord")
    return proof


def _leaf_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    """Indexes needed to prove leaf n is in the subtree [lo, hi) (RFC 6962 §2.1.1)."""
    if not lo <= n < hi:
        raise AssertionError("tlog: bad math in leafProofIndex")
    if lo + 1 == hi:
        return need
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        need = _leaf_proof_index(lo, lo + k, n, need)
        need = _sub_tree_index(lo + k, hi, need)
    else:
        need = _sub_tree_index(lo, lo + k, need)
        need = _leaf_proof_index(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: list[Hash]) -> tuple[RecordProof, list[Hash]]:
    """The proof that leaf n is in the subtree [lo, hi), and leftover hashes."""
    if not lo <= n < hi:
        raise AssertionError("tlog: bad math in leafProof")
    if lo + 1 == hi:
        # Reached the leaf: the verifier knows its hash.
        return [], hashes
    # Walk toward n, recording the hash of the path not taken.
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        proof, hashes = _leaf_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        proof, hashes = _leaf_proof(lo + k, hi, n, hashes)
    proof.append(th)
    return proof, hashes


def check_record(proof: Sequence[Hash], t: int, th: Hash, n: int, h: Hash) -> None:
    """Verify that ``proof`` shows the tree (t, th) has record n with hash h (tlog.CheckRecord).

    Raises :class:`ProofFailed` when it does not.
    """
    if t < 0 or n < 0 or n >= t:
        raise TlogError("tlog: invalid inputs in CheckRecord")
    if _run_record_proof(list(proof), 0, t, n, h) != th:
        raise ProofFailed()


def _run_record_proof(proof: list[Hash], lo: int, hi: int, n: int, leaf: Hash) -> Hash:
    """The subtree hash [lo, hi) implied by running the record proof (runRecordProof)."""
    if not lo <= n < hi:
        raise AssertionError("tlog: bad math in runRecordProof")
    if lo + 1 == hi:
        # The proof must not have unnecessary hashes.
        if proof:
            raise ProofFailed()
        return leaf
    if not proof:
        raise ProofFailed()
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        th = _run_record_proof(proof[:-1], lo, lo + k, n, leaf)
        return node_hash(th, proof[-1])
    th = _run_record_proof(proof[:-1], lo + k, hi, n, leaf)
    return node_hash(proof[-1], th)


def prove_tree(t: int, n: int, reader: HashReader) -> TreeProof:
    """The proof that the tree of size t has the tree of size n as a prefix (tlog.ProveTree)."""
    if t < 1 or n < 1 or n > t:
        raise TlogError("tlog: invalid inputs in ProveTree")
    indexes = _tree_proof_index(0, t, n, [])
    if not indexes:
        return []
    hashes = _read_exact(reader, indexes)
    proof, rest = _tree_proof(0, t, n, hashes)
    if rest:
        raise AssertionError("tlog: bad index math in ProveTree")
    return proof


def _tree_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    """Indexes for the consistency sub-proof of the subtree [lo, hi) (RFC 6962 §2.1.2)."""
    if not lo < n <= hi:
        raise AssertionError("tlog: bad math in treeProofIndex")
    if n == hi:
        if lo == 0:
            return need
        return _sub_tree_index(lo, hi, need)
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        need = _tree_proof_index(lo, lo + k, n, need)
        need = _sub_tree_index(lo + k, hi, need)
    else:
        need = _sub_tree_index(lo, lo + k, need)
        need = _tree_proof_index(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: list[Hash]) -> tuple[TreeProof, list[Hash]]:
    """The consistency sub-proof of the subtree [lo, hi), and leftover hashes."""
    if not lo < n <= hi:
        raise AssertionError("tlog: bad math in treeProof")
    if n == hi:
        if lo == 0:
            # This subtree is exactly the old tree: the verifier knows its hash.
            return [], hashes
        th, hashes = _sub_tree_hash(lo, hi, hashes)
        return [th], hashes
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        proof, hashes = _tree_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        proof, hashes = _tree_proof(lo + k, hi, n, hashes)
    proof.append(th)
    return proof, hashes


def check_tree(proof: Sequence[Hash], t: int, th: Hash, n: int, h: Hash) -> None:
    """Verify that ``proof`` shows the tree (t, th) extends the tree (n, h) (tlog.CheckTree).

    Raises :class:`ProofFailed` when it does not.
    """
    if t < 1 or n < 1 or n > t:
        raise TlogError("tlog: invalid inputs in CheckTree")
    h2, th2 = _run_tree_proof(list(proof), 0, t, n, h)
    if th2 != th or h2 != h:
        raise ProofFailed()


def _run_tree_proof(proof: list[Hash], lo: int, hi: int, n: int, old: Hash) -> tuple[Hash, Hash]:
    """The (old, new) subtree hashes of [lo, hi) implied by the proof (runTreeProof)."""
    if not lo < n <= hi:
        raise AssertionError("tlog: bad math in runTreeProof")
    if n == hi:
        if lo == 0:
            if proof:
                raise ProofFailed()
            return old, old
        if len(proof) != 1:
            raise ProofFailed()
        return proof[0], proof[0]
    if not proof:
        raise ProofFailed()
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        oh, th = _run_tree_proof(proof[:-1], lo, lo + k, n, old)
        return oh, node_hash(th, proof[-1])
    oh, th = _run_tree_proof(proof[:-1], lo + k, hi, n, old)
    return node_hash(proof[-1], oh), node_hash(proof[-1], th)

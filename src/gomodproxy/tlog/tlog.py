"""The checksum database's transparency log: the one import point for hashing, proofs and tiles.

Follows golang.org/x/mod/sumdb/tlog. The hashing and proofs live in
:mod:`gomodproxy.tlog.merkle`, the tiles in :mod:`gomodproxy.tlog.tiles`; this module re-exports
them and holds the text formats of tlog/note.go: the signed tree description
(``go.sum database tree\\nN\\nhash\\n``) and the lookup record (``id\\ntext\\n``). Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii

from gomodproxy.errors import SumDBError
from gomodproxy.tlog.merkle import (
    EMPTY_HASH,
    HASH_SIZE,
    Hash,
    HashReader,
    ProofFailed,
    RecordProof,
    TlogError,
    Tree,
    TreeProof,
    check_record,
    check_tree,
    node_hash,
    prove_record,
    prove_tree,
    record_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes,
    stored_hashes_for_record_hash,
    tree_hash,
)
from gomodproxy.tlog.tiles import (
    InconsistentTile,
    MalformedTilePath,
    Tile,
    TileReader,
    hash_from_tile,
    new_tiles,
    parse_tile_path,
    read_tile_data,
    tile_for_index,
    tile_hash_reader,
)

__all__ = [
    "EMPTY_HASH",
    "HASH_SIZE",
    "Hash",
    "HashReader",
    "InconsistentTile",
    "MalformedRecord",
    "MalformedTilePath",
    "MalformedTree",
    "ProofFailed",
    "RecordProof",
    "Tile",
    "TileReader",
    "TlogError",
    "Tree",
    "TreeProof",
    "check_record",
    "check_tree",
    "format_hash",
    "format_record",
    "format_tree",
    "hash_from_tile",
    "new_tiles",
    "node_hash",
    "parse_hash",
    "parse_record",
    "parse_tile_path",
    "parse_tree",
    "prove_record",
    "prove_tree",
    "read_tile_data",
    "record_hash",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes",
    "stored_hashes_for_record_hash",
    "tile_for_index",
    "tile_hash_reader",
    "tree_hash",
]

_TREE_PREFIX = b"go.sum database tree\n"
_MAX_TREE_NOTE = 1_000_000  # ParseTree refuses len(text) > 1e6
_INT64_MAX = (1 << 63) - 1


class MalformedTree(SumDBError):
    """A tree description that is not exactly what FormatTree writes."""

    def __init__(self) -> None:
        super().__init__("malformed tree note")


class MalformedRecord(SumDBError):
    """A lookup record, or record text, that breaks the record format rules."""

    def __init__(self) -> None:
        super().__init__("malformed record data")


def format_hash(h: Hash) -> str:
    """The base64 text form of a hash (tlog.Hash.String)."""
    return base64.b64encode(h).decode("ascii")


def _b64decode_strict(s: bytes) -> bytes | None:
    """Go base64.StdEncoding.DecodeString: padded, standard alphabet, no junk; None on error."""
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_hash(s: str) -> Hash:
    """Parse the base64 text form of a hash (tlog.ParseHash); raise TlogError if malformed."""
    data = _b64decode_strict(s.encode("utf-8", "surrogateescape"))
    if data is None or len(data) != HASH_SIZE:
        raise TlogError("malformed hash")
    return data


def _parse_int64(s: bytes) -> int | None:
    """Go strconv.ParseInt(s, 10, 64): optional sign, ASCII digits, in range; None on error."""
    digits = s[1:] if s[:1] in (b"+", b"-") else s
    if not digits or not digits.isdigit() or len(digits) > 19:
        return None
    value = int(s)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        return None
    return value


def format_tree(tree: Tree) -> bytes:
    """The tree description to sign: ``go.sum database tree\\nN\\nhash\\n`` (tlog.FormatTree)."""
    return b"go.sum database tree\n%d\n%s\n" % (tree.n, format_hash(tree.hash).encode("ascii"))


def parse_tree(text: bytes) -> Tree:
    """Parse a tree description strictly (tlog.ParseTree); extra lines after the third are ignored.

    Raises :class:`MalformedTree` for a wrong first line, fewer than three lines, a size with a
    sign or leading zeros or out of int64 range, a hash that is not 32 bytes of padded base64,
    or a text over 1e6 bytes.
    """
    if not text.startswith(_TREE_PREFIX) or text.count(b"\n") < 3 or len(text) > _MAX_TREE_NOTE:
        raise MalformedTree()
    lines = text.split(b"\n", 3)
    n = _parse_int64(lines[1])
    if n is None or n < 0 or lines[1] != b"%d" % n:
        raise MalformedTree()
    h = _b64decode_strict(lines[2])
    if h is None or len(h) != HASH_SIZE:
        raise MalformedTree()
    return Tree(n, h)


def _is_valid_record_text(text: bytes) -> bool:
    """UTF-8, no control characters but newline, ends in newline, no blank line."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not decoded.endswith("\n") or "\n\n" in decoded:
        return False
    return all(c == "\n" or c >= " " for c in decoded)


def format_record(record_id: int, text: bytes) -> bytes:
    """The lookup form of a record: ``id\\n`` + text + ``\\n`` (tlog.FormatRecord)."""
    if not _is_valid_record_text(text):
        raise MalformedRecord()
    return b"%d\n" % record_id + text + b"\n"


def parse_record(msg: bytes) -> tuple[int, bytes, bytes]:
    """Parse a record at the start of ``msg``: return (id, text, rest) (tlog.ParseRecord)."""
    i = msg.find(b"\n")
    if i < 0:
        raise MalformedRecord()
    record_id = _parse_int64(msg[:i])
    if record_id is None:
        raise MalformedRecord()
    msg = msg[i + 1 :]
    i = msg.find(b"\n\n")
    if i < 0:
        raise MalformedRecord()
    text, rest = msg[: i + 1], msg[i + 2 :]
    if not _is_valid_record_text(text):
        raise MalformedRecord()
    return record_id, text, rest

"""go.sum files: reading, writing and merging them the way the go command does.

Follows cmd/go ``internal/modfetch/fetch.go``:

* reading (``readGoSum``): lines split on ``\\n``, fields split as ``strings.Fields`` splits them
  (Unicode white space), blank lines skipped, a line without exactly three fields is fatal
  ("malformed go.sum", with its line number) unless reading laxly like ``go mod tidy``, and lines
  carrying the hash of an empty go.mod (:data:`EMPTY_GO_MOD_HASH`, written by an old bug) are
  dropped;
* writing (``tidyGoSum``): keys in ``module.Sort`` order (path, then semver, then ``/go.mod``
  after the bare version), each key's hashes sorted and de-duplicated, ``"%s %s %s\\n"``;
* checking a hash (``haveModSumLocked``): the recorded hashes are tried in order; an equal one
  accepts, an ``h1:`` that differs is a checksum mismatch.

A key's version is either a module version (the zip's hash) or a version followed by
``/go.mod`` (the go.mod file's hash).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gomodproxy.errors import ChecksumMismatch, GoModSyntaxError
from gomodproxy.module.paths import module_sort_key

__all__ = [
    "EMPTY_GO_MOD_HASH",
    "GoSum",
    "GoSumConflict",
    "MalformedGoSum",
    "SumStatus",
    "check_sum",
    "find_conflicts",
    "format_go_sum",
    "merge",
    "parse_go_sum",
]

#: The hash of a zero-length go.mod; go.sum lines carrying it are dropped when read.
EMPTY_GO_MOD_HASH = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="

# unicode.IsSpace: the Latin-1 spaces plus the Unicode White_Space property. Python's str.split()
# also splits on U+001C..U+001F, which Go does not.
_GO_SPACE = re.compile(
    "[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)

Key = tuple[str, str]


class MalformedGoSum(GoModSyntaxError):
    """A go.sum line does not have three fields (the go command's "malformed go.sum")."""

    def __init__(self, filename: str, line: int, fields: int) -> None:
        super().__init__(filename, line, f"wrong number of fields {fields}")
        self.message = f"malformed go.sum:\n{filename}:{line}: wrong number of fields {fields}"
        self.fields = fields


@dataclass(frozen=True, slots=True)
class GoSum:
    """The content of a go.sum: for each (path, version) key, its hashes in file order.

    Build with :func:`parse_go_sum` or :meth:`from_lines`; values never change after creation.
    """

    sums: Mapping[Key, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_lines(cls, lines: Iterable[tuple[str, str, str]]) -> GoSum:
        """Build from (path, version, hash) triples, keeping each key's hashes in order."""
        table: dict[Key, list[str]] = {}
        for path, version, h in lines:
            table.setdefault((path, version), []).append(h)
        return cls(MappingProxyType({k: tuple(v) for k, v in table.items()}))

    def hashes(self, path: str, version: str) -> tuple[str, ...]:
        """The hashes recorded for ``path version`` (use ``v1.2.3/go.mod`` for go.mod hashes)."""
        return self.sums.get((path, version), ())

    def go_mod_hashes(self, path: str, version: str) -> tuple[str, ...]:
        """The hashes recorded for the go.mod file of ``path@version``."""
        return self.hashes(path, version + "/go.mod")

    def lines(self) -> list[tuple[str, str, str]]:
        """Every (path, version, hash) triple, keys and hashes in go.sum order, de-duplicated."""
        out: list[tuple[str, str, str]] = []
        for path, version in sorted(self.sums, key=lambda k: module_sort_key(*k)):
            for h in sorted(set(self.sums[(path, version)])):
                out.append((path, version, h))
        return out

    def with_hash(self, path: str, version: str, h: str) -> GoSum:
        """Return a copy that also records ``h`` for ``path version`` (kept if already there)."""
        table = dict(self.sums)
        current = table.get((path, version), ())
        if h not in current:
            table[(path, version)] = (*current, h)
        return GoSum(MappingProxyType(table))


def _fields(line: str) -> list[str]:
    return [f for f in _GO_SPACE.split(line) if f]


def parse_go_sum(data: bytes, filename: str = "go.sum", *, lax: bool = False) -> GoSum:
    """Parse go.sum bytes like the go command's ``readGoSum``.

    Raises :class:`MalformedGoSum` for a line with other than three fields, unless ``lax``
    (``go mod tidy``), which skips such lines.
    """
    text = data.decode("utf-8", "surrogateescape")
    triples: list[tuple[str, str, str]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        fields = _fields(line)
        if not fields:
            continue
        if len(fields) != 3:
            if lax:
                continue
            raise MalformedGoSum(filename, lineno, len(fields))
        if fields[2] == EMPTY_GO_MOD_HASH:
            continue
        triples.append((fields[0], fields[1], fields[2]))
    return GoSum.from_lines(triples)


def format_go_sum(go_sum: GoSum) -> bytes:
    """Write ``go_sum`` as the go command's ``tidyGoSum`` does (sorted, de-duplicated)."""
    text = "".join(f"{p} {v} {h}\n" for p, v, h in go_sum.lines())
    return text.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class GoSumConflict:
    """Two go.sums record different ``h1:`` hashes for the same key."""

    path: str
    version: str
    ours: tuple[str, ...]
    theirs: tuple[str, ...]


def _h1(hashes: Iterable[str]) -> set[str]:
    return {h for h in hashes if h.startswith("h1:")}


def find_conflicts(ours: GoSum, theirs: GoSum) -> list[GoSumConflict]:
    """List the keys for which both record ``h1:`` hashes and the sets differ."""
    out: list[GoSumConflict] = []
    for key in sorted(ours.sums.keys() & theirs.sums.keys(), key=lambda k: module_sort_key(*k)):
        a, b = ours.sums[key], theirs.sums[key]
        if _h1(a) and _h1(b) and _h1(a) != _h1(b):
            out.append(GoSumConflict(key[0], key[1], a, b))
    return out


def merge(ours: GoSum, theirs: GoSum) -> GoSum:
    """Return the union of two go.sums (like ``tidyGoSum`` merging another process's additions).

    Raises :class:`~gomodproxy.errors.ChecksumMismatch` for the first key whose ``h1:`` hashes
    disagree (see :func:`find_conflicts`): keeping either one silently could hide tampering.
    """
    conflicts = find_conflicts(ours, theirs)
    if conflicts:
        c = conflicts[0]
        raise ChecksumMismatch(
            c.path, c.version, ", ".join(c.ours), ", ".join(c.theirs), source="go.sum"
        )
    table = dict(ours.sums)
    for key, hashes in theirs.sums.items():
        current = table.get(key, ())
        table[key] = current + tuple(h for h in hashes if h not in current)
    return GoSum(MappingProxyType(table))


class SumStatus(enum.Enum):
    """What go.sum says about a downloaded hash (see :func:`check_sum`)."""

    OK = "ok"
    MISSING = "missing"
    UNKNOWN_ALGORITHMS = "unknown_algorithms"


def check_sum(go_sum: GoSum, path: str, version: str, h: str) -> SumStatus:
    """Check downloaded hash ``h`` for ``path version`` against ``go_sum`` (haveModSumLocked).

    Returns ``OK`` when a recorded hash equals ``h`` before any differing ``h1:`` is met,
    ``MISSING`` when nothing is recorded (ask the checksum database), ``UNKNOWN_ALGORITHMS`` when
    only hashes of other algorithms are recorded (the go command warns and adds ``h``). A
    differing ``h1:`` raises :class:`~gomodproxy.errors.ChecksumMismatch`.
    """
    recorded = go_sum.hashes(path, version)
    for vh in recorded:
        if vh == h:
            return SumStatus.OK
        if vh.startswith("h1:"):
            raise ChecksumMismatch(path, version, vh, h, source="go.sum")
    return SumStatus.UNKNOWN_ALGORITHMS if recorded else SumStatus.MISSING

"""Sorting blocks and removing duplicate directives (x/mod ``SortBlocks``, ``removeDups``).

Non-retract blocks sort lexicographically by tokens; ``exclude`` blocks sort by path then semver
once the file says ``go 1.21`` or later; ``retract`` blocks sort by semver, newest first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol, TypeVar

from gomodproxy.module import semver
from gomodproxy.module.modfile.syntax import Expr, FileSyntax, Line, LineBlock
from gomodproxy.module.modfile.values import VersionInterval

__all__ = [
    "compare_line_exclude",
    "compare_line_retract",
    "drop_killed",
    "keep_first",
    "keep_last",
    "line_key",
    "sort_blocks",
]


class _HasSyntax(Protocol):
    @property
    def syntax(self) -> Line | None: ...


_T = TypeVar("_T", bound=_HasSyntax)


def line_key(line: Line) -> list[bytes]:
    """The key of x/mod ``compareLine``: tokens compared as bytes, shorter first on a tie."""
    return [t.encode("utf-8", "surrogateescape") for t in line.token]


def _cmp_bytes(a: str, b: str) -> int:
    x = a.encode("utf-8", "surrogateescape")
    y = b.encode("utf-8", "surrogateescape")
    return (x > y) - (x < y)


def compare_line_exclude(li: Line, lj: Line) -> int:
    """Order exclude lines by module path, then by semver (x/mod ``compareLineExclude``)."""
    if len(li.token) != 2 or len(lj.token) != 2:
        # Not a known exclude specification: fall back to lexicographic order.
        ki, kj = line_key(li), line_key(lj)
        return (ki > kj) - (ki < kj)
    if li.token[0] != lj.token[0]:
        return _cmp_bytes(li.token[0], lj.token[0])
    return semver.compare(li.token[1], lj.token[1])


def _interval(line: Line) -> VersionInterval:
    t = line.token
    if len(t) == 1:
        return VersionInterval(t[0], t[0])
    if len(t) == 5 and t[0] == "[" and t[2] == "," and t[4] == "]":
        return VersionInterval(t[1], t[3])
    # A line in an unknown format counts as an invalid version.
    return VersionInterval("", "")


def compare_line_retract(li: Line, lj: Line) -> int:
    """Order retract lines newest first, by low then high version (x/mod)."""
    vi, vj = _interval(li), _interval(lj)
    c = semver.compare(vi.low, vj.low)
    if c != 0:
        return -c
    return -semver.compare(vi.high, vj.high)


def sort_blocks(syntax: FileSyntax, *, semantic_exclude: bool) -> None:
    """Stable-sort the lines of every block of ``syntax``."""
    for stmt in syntax.stmt:
        if not isinstance(stmt, LineBlock):
            continue
        verb = stmt.token[0]
        if verb == "exclude" and semantic_exclude:
            stmt.line.sort(key=functools.cmp_to_key(compare_line_exclude))
        elif verb == "retract":
            stmt.line.sort(key=functools.cmp_to_key(compare_line_retract))
        else:
            stmt.line.sort(key=line_key)


def keep_first(items: Sequence[_T], key: Callable[[_T], Hashable], kill: set[int]) -> list[_T]:
    """Drop later duplicates (by ``key``), adding their lines' ids to ``kill``."""
    seen: set[Hashable] = set()
    kept: list[_T] = []
    for item in items:
        k = key(item)
        if k in seen:
            kill.add(id(item.syntax))
            continue
        seen.add(k)
        kept.append(item)
    return kept


def keep_last(items: Sequence[_T], key: Callable[[_T], Hashable], kill: set[int]) -> list[_T]:
    """Drop earlier duplicates (by ``key``), adding their lines' ids to ``kill``."""
    seen: set[Hashable] = set()
    dropped: set[int] = set()
    for item in reversed(items):
        k = key(item)
        if k in seen:
            dropped.add(id(item))
            kill.add(id(item.syntax))
            continue
        seen.add(k)
    return [item for item in items if id(item) not in dropped]


def drop_killed(syntax: FileSyntax, kill: set[int]) -> None:
    """Remove the lines whose ids are in ``kill`` from the tree, and blocks left empty."""
    stmts: list[Expr] = []
    for stmt in syntax.stmt:
        if isinstance(stmt, Line):
            if id(stmt) in kill:
                continue
        elif isinstance(stmt, LineBlock):
            stmt.line = [line for line in stmt.line if id(line) not in kill]
            if not stmt.line:
                continue
        stmts.append(stmt)
    syntax.stmt = stmts

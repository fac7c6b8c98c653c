"""Semantic versions exactly as golang.org/x/mod/semver treats them.

Go's flavour of semver differs from semver.org in two ways: the leading ``v`` is required, and
``vMAJOR`` and ``vMAJOR.MINOR`` (without pre-release or build suffixes) are shorthands for
``vMAJOR.0.0`` and ``vMAJOR.MINOR.0``. Every function here follows ``x/mod semver/semver.go``
byte for byte; invalid input never raises, it yields ``""`` (or sorts lowest), as in Go.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "build",
    "canonical",
    "compare",
    "is_valid",
    "major",
    "major_minor",
    "max_version",
    "prerelease",
    "sort_versions",
    "version_key",
]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """The pieces of a valid version (x/mod semver ``parsed``)."""

    major: str
    minor: str
    patch: str
    short: str
    prerelease: str
    build: str


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _is_ident_char(c: str) -> bool:
    return "A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9" or c == "-"


def _parse_int(v: str) -> tuple[str, str] | None:
    """Split a leading decimal number without leading zeros off ``v`` (semver.go parseInt)."""
    if not v or not _is_digit(v[0]):
        return None
    i = 1
    while i < len(v) and _is_digit(v[i]):
        i += 1
    if v[0] == "0" and i != 1:
        return None
    return v[:i], v[i:]


def _is_bad_num(v: str) -> bool:
    """A numeric identifier with a leading zero (semver.go isBadNum)."""
    return v.isascii() and v.isdigit() and len(v) > 1 and v[0] == "0"


def _parse_prerelease(v: str) -> tuple[str, str] | None:
    """Split ``-pre.release`` off ``v``; identifiers are non-empty, no leading-zero numbers."""
    if not v or v[0] != "-":
        return None
    i = start = 1
    while i < len(v) and v[i] != "+":
        if not _is_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i or _is_bad_num(v[start:i]):
                return None
            start = i + 1
        i += 1
    if start == i or _is_bad_num(v[start:i]):
        return None
    return v[:i], v[i:]


def _parse_build(v: str) -> tuple[str, str] | None:
    """Split ``+build.meta`` off ``v``; identifiers are non-empty (leading zeros allowed)."""
    if not v or v[0] != "+":
        return None
    i = start = 1
    while i < len(v):
        if not _is_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i:
                return None
            start = i + 1
        i += 1
    if start == i:
        return None
    return v[:i], v[i:]


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/reports/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def _parse(v: str) -> _Parsed | None:
    """Parse ``v`` like semver.go ``parse``; None when it is not a valid version."""
    if not v or v[0] != "v":
        return None
    got = _parse_int(v[1:])
    if got is None:
        return None
    major_, rest = got
    if rest == "":
        return _Parsed(major_, "0", "0", ".0.0", "", "")
    if rest[0] != ".":
        return None
    got = _parse_int(rest[1:])
    if got is None:
        return None
    minor_, rest = got
    if rest == "":
        return _Parsed(major_, minor_, "0", ".0", "", "")
    if rest[0] != ".":
        return None
    got = _parse_int(rest[1:])
    if got is None:
        return None
    patch, rest = got
    pre = ""
    if rest.startswith("-"):
        got = _parse_prerelease(rest)
        if got is None:
            return None
        pre, rest = got
    meta = ""
    if rest.startswith("+"):
        got = _parse_build(rest)
        if got is None:
            return None
        meta, rest = got
    if rest != "":
        return None
    return _Parsed(major_, minor_, patch, "", pre, meta)


def is_valid(v: str) -> bool:
    """Report whether ``v`` is a valid semantic version (semver.IsValid)."""
    return _parse(v) is not None


def canonical(v: str) -> str:
    """Return the canonical form of ``v``: ``.0`` parts filled in, build metadata dropped.

    ``canonical("v1.2") == "v1.2.0"``, ``canonical("v1.2.3+meta") == "v1.2.3"``; an invalid
    version gives ``""`` (semver.Canonical). Two versions compare equal iff their canonical
    forms are identical.
    """
    p = _parse(v)
    if p is None:
        return ""
    if p.build:
        return v[: len(v) - len(p.build)]
    return v + p.short


def major(v: str) -> str:
    """Return the major prefix, ``major("v2.1.0") == "v2"``; ``""`` if invalid (semver.Major)."""
    p = _parse(v)
    if p is None:
        return ""
    return v[: 1 + len(p.major)]


def major_minor(v: str) -> str:
    """Return ``vMAJOR.MINOR``, ``major_minor("v2.1.0") == "v2.1"`` (semver.MajorMinor)."""
    p = _parse(v)
    if p is None:
        return ""
    i = 1 + len(p.major)
    j = i + 1 + len(p.minor)
    if j <= len(v) and v[i] == "." and v[i + 1 : j] == p.minor:
        return v[:j]
    return v[:i] + "." + p.minor


def prerelease(v: str) -> str:
    """Return the pre-release suffix including its ``-`` (``"-pre"``), or ``""``."""
    p = _parse(v)
    return "" if p is None else p.prerelease


def build(v: str) -> str:
    """Return the build suffix including its ``+`` (``"+meta"``), or ``""``."""
    p = _parse(v)
    return "" if p is None else p.build


def _compare_int(x: str, y: str) -> int:
    """Compare two decimal strings without leading zeros numerically (semver.go compareInt)."""
    if x == y:
        return 0
    if len(x) != len(y):
        return -1 if len(x) < len(y) else 1
    return -1 if x < y else 1


def _is_num(v: str) -> bool:
    return all(_is_digit(c) for c in v)


def _compare_ident(dx: str, dy: str) -> int:
    """Compare two different pre-release identifiers: numbers < words, numbers numerically."""
    ix, iy = _is_num(dx), _is_num(dy)
    if ix != iy:
        return -1 if ix else 1
    if ix and len(dx) != len(dy):
        return -1 if len(dx) < len(dy) else 1
    return -1 if dx < dy else 1


def _compare_prerelease(x: str, y: str) -> int:
    """Compare pre-release suffixes by semver.org precedence (semver.go comparePrerelease)."""
    if x == y:
        return 0
    if x == "":
        return 1
    if y == "":
        return -1
    xs, ys = x[1:].split("."), y[1:].split(".")
    for dx, dy in zip(xs, ys, strict=False):
        if dx != dy:
            return _compare_ident(dx, dy)
    return -1 if len(xs) < len(ys) else 1


def compare(v: str, w: str) -> int:
    """Compare two versions by semver precedence: -1, 0 or +1 (semver.Compare).

    Build metadata is ignored. An invalid version is less than every valid one, and all invalid
    versions are equal to each other.
    """
    pv, pw = _parse(v), _parse(w)
    if pv is None or pw is None:
        return (pw is None) - (pv is None)
    for a, b in ((pv.major, pw.major), (pv.minor, pw.minor), (pv.patch, pw.patch)):
        c = _compare_int(a, b)
        if c:
            return c
    return _compare_prerelease(pv.prerelease, pw.prerelease)


def max_version(v: str, w: str) -> str:
    """Canonicalize both and return the greater (semver.Max; ``""`` if both are invalid)."""
    v, w = canonical(v), canonical(w)
    return v if compare(v, w) > 0 else w


def _ident_key(ident: str) -> tuple[int, int, str]:
    if _is_num(ident):
        return (0, int(ident), "")
    return (1, 0, ident)


def version_key(v: str) -> tuple[object, ...]:
    """A sort key that orders versions exactly as :func:`compare` does.

    ``compare(a, b) < 0`` iff ``version_key(a) < version_key(b)``, and the keys are equal iff
    ``compare`` returns 0 (invalid versions all share the lowest key).
    """
    p = _parse(v)
    if p is None:
        return (0,)
    nums = (int(p.major), int(p.minor), int(p.patch))
    if not p.prerelease:
        return (1, nums, 1, ())
    idents = tuple(_ident_key(d) for d in p.prerelease[1:].split("."))
    return (1, nums, 0, idents)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Return the versions sorted by :func:`compare`, ties broken by string (semver.Sort)."""
    return sorted(versions, key=lambda v: (version_key(v), v))

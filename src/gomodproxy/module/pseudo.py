"""Pseudo-versions, exactly as golang.org/x/mod/module/pseudo.go builds and parses them.

A pseudo-version names an untagged commit. Its three forms (``yyyymmddhhmmss`` is the commit
time in UTC, ``abcdefabcdef`` the 12-hex-digit commit prefix):

1. ``vX.0.0-yyyymmddhhmmss-abcdefabcdef``: no earlier tag with major version X;
2. ``vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdefabcdef``: the latest earlier tag is ``vX.Y.Z``;
3. ``vX.Y.Z-pre.0.yyyymmddhhmmss-abcdefabcdef``: the latest earlier tag is ``vX.Y.Z-pre``.

Forms 2 and 3 may end in build metadata copied from the base tag (``+incompatible``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gomodproxy.errors import InvalidVersion
from gomodproxy.module import semver

__all__ = [
    "InvalidPseudoVersion",
    "is_pseudo_version",
    "is_zero_pseudo_version",
    "pseudo_version",
    "pseudo_version_base",
    "pseudo_version_rev",
    "pseudo_version_time",
    "zero_pseudo_version",
]

_PSEUDO_RE = re.compile(
    r"v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?",
    re.ASCII,
)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_ZERO_REV = "000000000000"


class InvalidPseudoVersion(InvalidVersion):
    """A version that is not a well-formed pseudo-version (Go's ``InvalidVersionError{Pseudo}``).

    The message reads ``<version>: invalid pseudo-version: <reason>``, as the go command words it.
    """

    def __init__(self, version: str, reason: str, *, path: str = "") -> None:
        super().__init__(version, reason, path=path)
        where = f"{path}@{version}" if path else version
        self.message = f"{where}: invalid pseudo-version: {reason}"
        self.args = (self.message,)


def _format_time(t: datetime) -> str:
    """Format ``t`` in UTC as ``yyyymmddhhmmss``; a naive datetime is taken to be UTC.

    Formatted by hand, not with strftime, so that years below 1000 keep four digits as in Go's
    layout ``20060102150405``.
    """
    u = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return f"{u.year:04d}{u.month:02d}{u.day:02d}{u.hour:02d}{u.minute:02d}{u.second:02d}"


def _inc_decimal(decimal: str) -> str:
    """Add one to a decimal string, carrying as far as needed ("99" -> "100")."""
    return str(int(decimal) + 1) if decimal else "1"


def _dec_decimal(decimal: str) -> str:
    """Subtract one from a decimal string; ``""`` when it is all zeros (or empty)."""
    if not decimal or int(decimal) == 0:
        return ""
    return str(int(decimal) - 1)


def pseudo_version(major: str, older: str, t: datetime, rev: str) -> str:
    """Build the pseudo-version the go command would give commit ``rev`` made at time ``t``.

    ``major`` (``"v1"``; ``""`` means ``"v0"``) is used only when there is no earlier tag;
    ``older`` is the latest earlier tag (``""``, ``"v1.2.3"`` or ``"v1.2.3-pre"``), whose build
    metadata (``+incompatible``) is carried over.
    ``pseudo_version("v1", "v1.2.3", t, "abcdefabcdef") == "v1.2.4-0.<t>-abcdefabcdef"``.
    """
    if major == "":
        major = "v0"
    segment = f"{_format_time(t)}-{rev}"
    meta = semver.build(older)
    older = semver.canonical(older)
    if older == "":
        return f"{major}.0.0-{segment}"  # form (1)
    if semver.prerelease(older) != "":
        return f"{older}.0.{segment}{meta}"  # form (3)
    i = older.rfind(".") + 1
    return f"{older[:i]}{_inc_decimal(older[i:])}-0.{segment}{meta}"  # form (2)


def zero_pseudo_version(major: str) -> str:
    """Return ``<major>.0.0-00010101000000-000000000000``, a placeholder pseudo-version."""
    return pseudo_version(major, "", _ZERO_TIME, _ZERO_REV)


def is_pseudo_version(v: str) -> bool:
    """Report whether ``v`` is a pseudo-version: valid semver of one of the three forms."""
    return v.count("-") >= 2 and semver.is_valid(v) and _PSEUDO_RE.fullmatch(v) is not None


def is_zero_pseudo_version(v: str) -> bool:
    """Report whether ``v`` is exactly :func:`zero_pseudo_version` of its own major version."""
    return v == zero_pseudo_version(semver.major(v))


def _parse(v: str) -> tuple[str, str, str, str]:
    """Split a pseudo-version into ``(base, timestamp, rev, build)`` (pseudo.go parse)."""
    if not is_pseudo_version(v):
        raise InvalidPseudoVersion(v, "syntax error")
    meta = semver.build(v)
    rest = v[: len(v) - len(meta)]
    j = rest.rfind("-")
    rest, rev = rest[:j], rest[j + 1 :]
    i = rest.rfind("-")
    j = rest.rfind(".")
    if j > i:
        return rest[:j], rest[j + 1 :], rev, meta  # "vX.Y.Z-pre.0" or "vX.Y.(Z+1)-0"
    return rest[:i], rest[i + 1 :], rev, meta  # "vX.0.0"


def pseudo_version_time(v: str) -> datetime:
    """Return the commit time (timezone-aware, UTC) recorded in pseudo-version ``v``.

    Raises :class:`InvalidPseudoVersion` if ``v`` is not a pseudo-version or its time stamp is
    not a real time ("malformed time"). Year 0, which Go accepts, cannot be represented here.
    """
    _, stamp, _, _ = _parse(v)
    try:
        return datetime(
            int(stamp[0:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[8:10]),
            int(stamp[10:12]),
            int(stamp[12:14]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise InvalidPseudoVersion(v, f'malformed time "{stamp}"') from exc


def pseudo_version_rev(v: str) -> str:
    """Return the revision (commit prefix) of pseudo-version ``v``; raises if it is not one."""
    return _parse(v)[2]


def pseudo_version_base(v: str) -> str:
    """Return the tag pseudo-version ``v`` was derived from, or ``""`` for form (1).

    ``v1.2.4-0.<t>-<rev>`` -> ``v1.2.3``; ``v1.2.3-pre.0.<t>-<rev>`` -> ``v1.2.3-pre``; build
    metadata is kept. Raises :class:`InvalidPseudoVersion` for a non-pseudo-version, for form (1)
    with build metadata, and for ``vX.Y.0-0.…`` (the base would have a negative patch).
    """
    base, _, _, meta = _parse(v)
    pre = semver.prerelease(base)
    if pre == "":
        if meta:
            raise InvalidPseudoVersion(v, f'lacks base version, but has build metadata "{meta}"')
        return ""
    if pre == "-0":
        base = base.removesuffix(pre)
        i = base.rfind(".")
        patch = _dec_decimal(base[i + 1 :])
        if patch == "":
            raise InvalidPseudoVersion(v, f"version before {base} would have negative patch number")
        return base[: i + 1] + patch + meta
    return base.removesuffix(".0") + meta

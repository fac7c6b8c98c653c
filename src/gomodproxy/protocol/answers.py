"""Checks of the GOPROXY protocol's small answers (fault catalogue B), pure: bytes in, values out.

- ``.info`` and ``@latest``: JSON object, ``Version`` canonical and valid for the path, equal to
  the requested version when that was canonical (``proxy.go Stat``), ``Time`` RFC 3339 if
  present; extra fields (``Origin``) are kept as sent.
- ``.mod``: parses as a dependency's go.mod (``modfile.ParseLax``) and has a ``module`` line.
  The path that line names is not checked (D42): a fork reached through a ``replace`` keeps the
  original path, and only the client knows how a module is required; the checksum database (or
  go.sum) proves the content.
- ``@v/list``: cleaned to ``<canonical version>[ <RFC 3339 time>]`` lines, pseudo-versions kept
  (B24): the go command needs them, and the times, to find the latest of a module without tags
  when there is no ``@latest`` (:func:`latest_listed`).

Failures raise :class:`InvalidUpstreamContent` (502); nothing that fails is cached. Zips are
checked by :mod:`gomodproxy.cache.validate` (they are files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from gomodproxy.errors import ProxyError, UpstreamError
from gomodproxy.module import semver
from gomodproxy.module.modfile import ModFile, parse_lax
from gomodproxy.module.paths import check
from gomodproxy.module.pseudo import (
    InvalidPseudoVersion,
    is_pseudo_version,
    pseudo_version_time,
)
from gomodproxy.protocol.versions import is_canonical

__all__ = [
    "InvalidUpstreamContent",
    "ListedVersion",
    "clean_version_list",
    "info_version",
    "latest_listed",
    "validate_info",
    "validate_mod",
]


class InvalidUpstreamContent(UpstreamError):
    """An upstream answered 200 with content that fails validation (502, never cached)."""

    def __init__(self, what: str, reason: str, *, upstream: str = "") -> None:
        source = f" from {upstream}" if upstream else ""
        super().__init__(f"invalid {what}{source}: {reason}", upstream=upstream)
        self.what = what
        self.reason = reason


def _reject_constant(name: str) -> object:
    raise ValueError(f"invalid JSON constant {name}")


def info_version(data: bytes, path: str, *, what: str, upstream: str = "") -> str:
    """Parse an ``.info``/``@latest`` answer; return its canonical ``Version``."""
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidUpstreamContent(
            what, f"invalid response from proxy: {exc}", upstream=upstream
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidUpstreamContent(what, "not a JSON object", upstream=upstream)
    version = doc.get("Version")
    if not isinstance(version, str) or not version:
        raise InvalidUpstreamContent(what, "no Version field", upstream=upstream)
    if not is_canonical(version):
        raise InvalidUpstreamContent(
            what, f"Version {version!r} is not a canonical version", upstream=upstream
        )
    try:
        check(path, version)
    except ProxyError as exc:
        raise InvalidUpstreamContent(what, str(exc), upstream=upstream) from exc
    when = doc.get("Time")
    if when is not None and (not isinstance(when, str) or not _is_rfc3339(when)):
        raise InvalidUpstreamContent(
            what, f"Time {when!r} is not an RFC 3339 time", upstream=upstream
        )
    return version


def validate_info(data: bytes, path: str, requested: str, *, upstream: str = "") -> str:
    """Check an ``.info`` answer for ``requested``; return the version it names."""
    version = info_version(data, path, what=f"{path}@{requested} .info", upstream=upstream)
    if is_canonical(requested) and version != requested:
        raise InvalidUpstreamContent(
            f"{path}@{requested} .info",
            f"proxy returned info for version {version} instead of requested version {requested}",
            upstream=upstream,
        )
    return version


def validate_mod(data: bytes, path: str, version: str, *, upstream: str = "") -> ModFile:
    """Check a ``.mod`` answer: a go.mod (parsed as a dependency's) with a module directive;
    returns the parsed file (so a caller need not parse it again).

    The path it declares may differ from ``path`` (a fork used as a replacement, another case):
    the go command accepts that when the module is a ``replace`` target, and a proxy cannot know
    how a module is required (fault catalogue D42).
    """
    what = f"{path}@{version} .mod"
    try:
        parsed = parse_lax("go.mod", data)
    except ProxyError as exc:
        raise InvalidUpstreamContent(what, f"parsing go.mod: {exc}", upstream=upstream) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidUpstreamContent(what, f"parsing go.mod: {exc}", upstream=upstream) from exc
    if parsed.module is None or not parsed.module.path:
        raise InvalidUpstreamContent(what, "go.mod has no module directive", upstream=upstream)
    return parsed


@dataclass(frozen=True, slots=True)
class ListedVersion:
    """One line of a cleaned ``list``: a canonical version and the upstream's time for it."""

    version: str
    #: An RFC 3339 time as the upstream wrote it, or None.
    time: str | None = None

    @property
    def line(self) -> str:
        """The line as served (without its newline)."""
        return self.version if self.time is None else f"{self.version} {self.time}"


# Go's time.RFC3339 as time.Parse accepts it: fractional seconds allowed (after '.' or ',').
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Go's zero time.Time, which the go command's choice must be after.
_ZERO = (-62135596800, 0)


def _rfc3339_instant(text: str) -> tuple[int, int] | None:
    """``text`` as (Unix seconds, nanoseconds), or None if it is not an RFC 3339 time."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    zone = m.group(8)
    try:
        offset = timedelta(0)
        if zone != "Z":
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                return None
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
        year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
        when = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
        seconds = (when - _EPOCH) // timedelta(seconds=1)
    except (ValueError, OverflowError):
        return None
    fraction = (m.group(7) or "")[:9]
    return seconds, int(fraction.ljust(9, "0")) if fraction else 0


def _listed_instant(entry: ListedVersion) -> tuple[int, int] | None:
    """The time the go command gives a list line: its own, else a pseudo-version's (or None)."""
    if entry.time is not None:
        return _rfc3339_instant(entry.time)
    if not is_pseudo_version(entry.version):
        return None
    try:
        when = pseudo_version_time(entry.version)
    except InvalidPseudoVersion:
        return None
    return (when - _EPOCH) // timedelta(seconds=1), 0


def clean_version_list(data: bytes, path: str) -> list[ListedVersion]:
    """The valid lines of a ``list`` answer, one per version, in semver order.

    Per line the first field is the version and the second, if any, its time (``proxy.go
    Versions`` and ``latestFromList``; more fields are ignored there too). A line is kept when its
    version is canonical and valid for ``path``, pseudo-versions included; a time is kept only if
    it is RFC 3339. A pseudo-version with a bad time is dropped (the go command would ignore the
    line; served without the time it would count with the pseudo-version's own time); a tagged
    version keeps its line without it. Of duplicate lines the one with the latest time is kept.
    CR, junk and non-UTF-8 bytes never pass, so no injected line survives.
    """
    best: dict[str, tuple[ListedVersion, tuple[int, int] | None]] = {}
    for raw in data.split(b"\n"):
        fields = raw.split()
        if not fields:
            continue
        try:
            version = fields[0].decode("ascii")
        except UnicodeDecodeError:
            continue
        if not is_canonical(version):
            continue
        try:
            check(path, version)
        except ProxyError:
            continue
        entry = ListedVersion(version)
        if len(fields) >= 2:
            try:
                when = fields[1].decode("ascii")
            except UnicodeDecodeError:
                when = ""
            if _rfc3339_instant(when) is not None:
                entry = ListedVersion(version, when)
            elif is_pseudo_version(version):
                continue
        instant = _listed_instant(entry)
        kept = best.get(version)
        if kept is None or (instant is not None and (kept[1] is None or instant > kept[1])):
            best[version] = (entry, instant)
    return [best[v][0] for v in semver.sort_versions(best)]


def latest_listed(entries: Iterable[ListedVersion]) -> str | None:
    """The version the go command takes as latest from list lines when ``@latest`` is missing.

    ``proxy.go latestFromList``: among lines with a time, or pseudo-versions (their own time),
    the newest by time (the first of equals); tagged versions without a time are ignored. The go
    command then asks for the chosen version's ``.info``.
    """
    best: tuple[int, int] = _ZERO
    chosen: str | None = None
    for entry in entries:
        instant = _listed_instant(entry)
        if instant is not None and instant > best:
            best, chosen = instant, entry.version
    return chosen


def _is_rfc3339(text: str) -> bool:
    # Go's time.RFC3339 layout: 2006-01-02T15:04:05Z07:00, fractional seconds allowed.
    if len(text) < 20 or text[10] != "T":
        return False
    candidate = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return False
    return parsed.tzinfo is not None

"""Checks an upstream answer must pass before it is cached or passed on (fault catalogue B).

- ``.info`` and ``@latest``: JSON object, ``Version`` canonical and valid for the path, equal to
  the requested version when that was canonical (``proxy.go Stat``), ``Time`` RFC 3339 if
  present; extra fields (``Origin``) are kept as sent.
- ``.mod``: parses as a dependency's go.mod (``modfile.ParseLax``) and has a ``module`` line.
  The path that line names is not checked (D42): a fork reached through a ``replace`` keeps the
  original path, and only the client knows how a module is required; the checksum database (or
  go.sum) proves the content.
- ``.zip``: the x/mod zip rules (``CheckZip``), then its ``h1:`` hash for the checksum database.
- ``@v/list``: cleaned to one canonical, non-pseudo version per line (B24).

Failures raise :class:`InvalidUpstreamContent` (502); nothing that fails is cached.
"""

from __future__ import annotations

import functools
import json
import zipfile
from datetime import datetime
from pathlib import Path

from gomodproxy.errors import ProxyError, UpstreamError
from gomodproxy.module import semver
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.module.modfile import parse_lax
from gomodproxy.module.paths import canonical_version, check
from gomodproxy.module.pseudo import is_pseudo_version
from gomodproxy.module.zipcheck import check_zip

__all__ = [
    "InvalidUpstreamContent",
    "clean_version_list",
    "info_version",
    "is_canonical",
    "validate_info",
    "validate_mod",
    "validate_zip",
    "zip_go_mod",
]


class InvalidUpstreamContent(UpstreamError):
    """An upstream answered 200 with content that fails validation (502, never cached)."""

    def __init__(self, what: str, reason: str, *, upstream: str = "") -> None:
        source = f" from {upstream}" if upstream else ""
        super().__init__(f"invalid {what}{source}: {reason}", upstream=upstream)
        self.what = what
        self.reason = reason


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def is_canonical(version: str) -> bool:
    """True for a valid semantic version in canonical form (``+incompatible`` allowed)."""
    return semver.is_valid(version) and canonical_version(version) == version


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


def validate_mod(data: bytes, path: str, version: str, *, upstream: str = "") -> None:
    """Check a ``.mod`` answer: a go.mod (parsed as a dependency's) with a module directive.

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


def validate_zip(zip_file: Path, path: str, version: str, *, upstream: str = "") -> str:
    """Check a downloaded zip (blocking: run in a thread); return its ``h1:`` hash."""
    what = f"{path}@{version} .zip"
    size = zip_file.stat().st_size
    try:
        with open(zip_file, "rb") as f:
            check_zip(f, path, version, size=size).raise_for_error()
            f.seek(0)
            return hash_zip(f, size=size)
    except ProxyError as exc:
        raise InvalidUpstreamContent(what, str(exc), upstream=upstream) from exc


def zip_go_mod(zip_file: Path, path: str, version: str) -> bytes | None:
    """The root go.mod of a checked module zip, or None (blocking: run in a thread)."""
    name = f"{path}@{version}/go.mod"
    with zipfile.ZipFile(zip_file) as z:
        try:
            return z.read(name)
        except KeyError:
            return None


def clean_version_list(data: bytes, path: str) -> list[str]:
    """The canonical, non-pseudo versions valid for ``path`` in a ``list`` answer, deduplicated.

    Per line the first field is the version (``proxy.go Versions``); timestamps, CR, junk,
    non-UTF-8 bytes and pseudo-versions are dropped, so no injected line survives.
    """
    seen: set[str] = set()
    for raw in data.split(b"\n"):
        fields = raw.split()
        if not fields:
            continue
        try:
            version = fields[0].decode("ascii")
        except UnicodeDecodeError:
            continue
        if version in seen or not is_canonical(version) or is_pseudo_version(version):
            continue
        try:
            check(path, version)
        except ProxyError:
            continue
        seen.add(version)
    return semver.sort_versions(seen)


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

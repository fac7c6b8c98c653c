"""Parsing a request path into a GOPROXY request, refusing everything malformed (catalogue A).

``/<escaped module>/@v/list``, ``/@v/<escaped version>.info|.mod|.zip`` and ``/@latest``, after
the optional path prefix; ``/sumdb/<rest>`` for the checksum-database relay. The raw path is
percent-decoded first (``%21`` is ``!``; ``+`` stays ``+``, never a space), element by element so
an encoded ``/`` (``%2F``) or control byte is refused, then split at ``/@v/`` or ``/@latest``,
then case-unescaped and checked with the x/mod rules (``module.CheckPath``, ``module.Check``).
The query string is ignored (never part of a key). Every refusal is a
:class:`BadRequestPath` (404 ``not found: ...``) raised before any storage or upstream access.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from gomodproxy.errors import InvalidVersion, ProxyError
from gomodproxy.module import semver
from gomodproxy.module.paths import (
    check,
    escape_path,
    escape_version,
    split_path_version,
    unescape_path,
    unescape_version,
)
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.versions import is_canonical

__all__ = [
    "MAX_PATH_BYTES",
    "BadRequestPath",
    "ModuleRequest",
    "SumDBRequest",
    "is_canonical_version",
    "parse_request_path",
]

#: Longer request paths are refused outright (module paths are far shorter in practice).
MAX_PATH_BYTES = 4096
_EXTENSIONS = {"info": FileKind.INFO, "mod": FileKind.MOD, "zip": FileKind.ZIP}
_RELATIVE_QUERIES = frozenset({"latest", "upgrade", "patch"})
_HEX = frozenset("0123456789abcdefABCDEF")


class BadRequestPath(ProxyError):
    """A request path that names no module file: answered 404 ``not found: ...``."""

    status_hint = 404

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ModuleRequest:
    """A parsed GOPROXY request. ``version`` is empty for list and @latest."""

    kind: FileKind
    path: str
    version: str = ""

    @property
    def rel_path(self) -> str:
        """The escaped path relative to the proxy root (upstream path and storage key)."""
        base = escape_path(self.path)
        if self.kind is FileKind.LIST:
            return f"{base}/@v/list"
        if self.kind is FileKind.LATEST:
            return f"{base}/@latest"
        return f"{base}/@v/{escape_version(self.version)}.{self.kind.value}"

    @property
    def immutable(self) -> bool:
        """True for .info/.mod/.zip of a canonical version: its content never changes."""
        return bool(self.version) and is_canonical_version(self.version)


@dataclass(frozen=True, slots=True)
class SumDBRequest:
    """A request under ``/sumdb/``: ``rest`` is e.g. ``sum.golang.org/lookup/M@V``."""

    rest: str


def is_canonical_version(version: str) -> bool:
    """True for a canonical semantic version (``+incompatible`` allowed)."""
    return is_canonical(version)


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/reports/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def parse_request_path(raw: str, *, prefix: str = "") -> ModuleRequest | SumDBRequest:
    """Parse the raw request target (path and optional query) of a request."""
    raw_path = raw.split("?", 1)[0]
    if len(raw_path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise BadRequestPath(f"request path longer than {MAX_PATH_BYTES} bytes")
    if prefix:
        if not raw_path.startswith(prefix + "/"):
            raise BadRequestPath(f"request path is outside the path prefix {prefix}")
        raw_path = raw_path[len(prefix) :]
    if not raw_path.startswith("/"):
        raise BadRequestPath("request path must start with '/'")
    elements = [_decode_element(e) for e in raw_path[1:].split("/")]
    for elem in elements:
        if elem in ("", ".", ".."):
            raise BadRequestPath(
                f"path element {elem!r} is not allowed (no empty, '.' or '..' elements)"
            )
    if elements[0] == "sumdb":
        if len(elements) < 3:
            raise BadRequestPath("checksum database path too short")
        return SumDBRequest("/".join(elements[1:]))
    return _module_request(elements)


def _decode_element(raw: str) -> str:
    """Percent-decode one path element; refuse bad escapes, '/', '\\' and control bytes."""
    out = bytearray()
    i = 0
    data = raw.encode("utf-8", "surrogateescape")
    while i < len(data):
        c = data[i]
        if c == 0x25:  # '%'
            hex_digits = data[i + 1 : i + 3].decode("ascii", "replace")
            if len(hex_digits) != 2 or not set(hex_digits) <= _HEX:
                raise BadRequestPath(f"invalid percent-encoding in {raw!r}")
            c = int(hex_digits, 16)
            i += 3
        else:
            i += 1
        if c == 0x2F:
            raise BadRequestPath("an encoded '/' (%2F) is not allowed in a path element")
        if c == 0x5C:
            raise BadRequestPath("'\\' is not allowed in a request path")
        if c < 0x20 or c == 0x7F:
            raise BadRequestPath("control characters are not allowed in a request path")
        out.append(c)
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestPath("request path is not valid UTF-8") from None


def _module_request(elements: list[str]) -> ModuleRequest:
    try:
        at = next(i for i, e in enumerate(elements) if e.startswith("@"))
    except StopIteration:
        raise BadRequestPath("missing /@v/ or /@latest in the request path") from None
    if at == 0:
        raise BadRequestPath("missing module path before /@v/ or /@latest")
    escaped = "/".join(elements[:at])
    tail = elements[at:]
    if tail == ["@latest"]:
        kind, version = FileKind.LATEST, ""
    elif len(tail) == 2 and tail[0] == "@v":
        kind, version = _file(tail[1])
    else:
        raise BadRequestPath(
            "unknown request: expected @v/list, @v/VERSION.info|.mod|.zip or @latest"
        )
    path = unescape_path(escaped)  # InvalidModulePath (404) for a bad encoding or path
    if version:
        version = _check_version(path, version, kind)
    request = ModuleRequest(kind, path, version)
    # The canonical spelling of the request must be what was asked (goproxy's rule): nothing
    # else can then reach storage or an upstream under another name.
    if request.rel_path != "/".join(elements):
        raise BadRequestPath("request path is not in canonical form")
    return request


def _file(name: str) -> tuple[FileKind, str]:
    if name == "list":
        return FileKind.LIST, ""
    stem, dot, ext = name.rpartition(".")
    if not dot or ext not in _EXTENSIONS or not stem:
        raise BadRequestPath(f"unknown file {name!r}: only list, .info, .mod and .zip are served")
    return _EXTENSIONS[ext], stem


def _check_version(path: str, escaped_version: str, kind: FileKind) -> str:
    """Unescape and check the version of a file request; return it."""
    if escaped_version[0] in "-/":
        raise BadRequestPath(f"invalid version {escaped_version!r}: must not start with '-'")
    version = unescape_version(escaped_version)  # InvalidVersion (404)
    if kind is FileKind.INFO and not is_canonical_version(version):
        if version in _RELATIVE_QUERIES:
            raise BadRequestPath(f"invalid version {version!r}: ask /@latest instead")
        return version  # a query (branch, commit, partial version): resolved upstream
    if not is_canonical_version(version):
        raise BadRequestPath(
            f"unrecognized version {version!r}: .mod and .zip need a canonical version"
        )
    check(path, version)  # InvalidVersion (404) for a major-version mismatch
    if semver.build(version) == "+incompatible" and split_path_version(path)[1]:
        # cmd/go/internal/modfetch/coderepo.go refuses this combination.
        raise InvalidVersion(
            version,
            "+incompatible suffix not allowed: module path includes a major version suffix, "
            "so major version must match",
            path=path,
        )
    return version

"""Module, import and file path rules, exactly as golang.org/x/mod/module enforces them.

Everything follows ``x/mod module/module.go``: :func:`check_path` (module paths),
:func:`check_import_path` (package import paths), :func:`check_file_path` (file names inside a
module zip), the major-version suffix rules (:func:`split_path_version`,
:func:`check_path_major`), :func:`check` (module.Check: does the version fit the path),
:func:`canonical_version`, the module.Sort order and the ``!`` case-encoding of paths and versions
used in proxy URLs and module-cache directories.

Strings are Python ``str``. Bytes of invalid UTF-8 must be decoded with ``surrogateescape``; the
resulting lone surrogates are rejected as "invalid UTF-8", as Go rejects the raw bytes.
"""

from __future__ import annotations

import functools
from enum import Enum

from gomodproxy.errors import InvalidFilePath, InvalidModulePath, InvalidVersion
from gomodproxy.module import semver
from gomodproxy.module.casefold import equal_fold, fold_key
from gomodproxy.module.gostrings import go_quote, go_quote_rune, has_invalid_utf8, is_letter

__all__ = [
    "canonical_version",
    "check",
    "check_file_path",
    "check_import_path",
    "check_path",
    "check_path_major",
    "equal_fold",
    "escape_path",
    "escape_version",
    "file_path_error",
    "fold_key",
    "is_go_mod_name",
    "match_path_major",
    "module_sort_key",
    "split_path_version",
    "unescape_path",
    "unescape_version",
]


class _Kind(Enum):
    """Which rule set a path is checked against (module.go ``pathKind``)."""

    MODULE = "module"
    IMPORT = "import"
    FILE = "file"


# Reserved file names on Windows, rejected as the part of any element before its first dot.
_BAD_WINDOWS_NAMES = (
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
)
_BAD_WINDOWS_SET = frozenset(_BAD_WINDOWS_NAMES)
# Punctuation allowed in file names besides letters and digits (module.go fileNameOK).
_FILE_PUNCTUATION = frozenset("!#$%&()+,-.=@[]^_{}~ ")
_ASCII_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Fast-path character sets: every character of an element in the set is known to be allowed.
_FAST_OK = {
    "module": _ASCII_ALNUM | frozenset("-._~"),
    "import": _ASCII_ALNUM | frozenset("-._~+"),
    "file": _ASCII_ALNUM | _FILE_PUNCTUATION,
}


def _is_ascii_alnum(c: str) -> bool:
    return "0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"


def _first_path_ok(c: str) -> bool:
    """A character of the first element of a module path: lower-case LDH (firstPathOK)."""
    return c in "-." or "0" <= c <= "9" or "a" <= c <= "z"


def _mod_path_ok(c: str) -> bool:
    """A character of a module path element: ASCII letters, digits, ``- . _ ~`` (modPathOK)."""
    return _is_ascii_alnum(c) or c in "-._~"


def _import_path_ok(c: str) -> bool:
    """A character of an import path element: module path characters plus ``+``."""
    return _mod_path_ok(c) or c == "+"


def _file_name_ok(c: str) -> bool:
    """A character of a file name: ASCII letters/digits, some punctuation, any Unicode letter."""
    if ord(c) < 0x80:
        return _is_ascii_alnum(c) or c in _FILE_PUNCTUATION
    return is_letter(c)


_CHAR_OK = {_Kind.MODULE: _mod_path_ok, _Kind.IMPORT: _import_path_ok, _Kind.FILE: _file_name_ok}


def _tilde_digits(short: str) -> bool:
    """Report whether ``short`` ends in ``~`` and ASCII digits, like a Windows short name."""
    tilde = short.rfind("~")
    if tilde < 0 or tilde == len(short) - 1:
        return False
    return all("0" <= c <= "9" for c in short[tilde + 1 :])


def _is_windows_name(short: str) -> bool:
    """Report whether ``short`` equals a reserved Windows name under strings.EqualFold."""
    if len(short) not in (3, 4):
        return False
    if short.isascii():
        return short.upper() in _BAD_WINDOWS_SET
    return any(equal_fold(bad, short) for bad in _BAD_WINDOWS_NAMES)


def _elem_error(elem: str, kind: _Kind) -> str | None:
    """Why one path element is invalid, or None (module.go checkElem)."""
    if elem == "":
        return "empty path element"
    if elem.count(".") == len(elem):
        return f"invalid path element {go_quote(elem)}"
    if elem[0] == "." and kind is _Kind.MODULE:
        return "leading dot in path element"
    if elem[-1] == ".":
        return "trailing dot in path element"
    if not _FAST_OK[kind.value].issuperset(elem):
        char_ok = _CHAR_OK[kind]
        for c in elem:
            if not char_ok(c):
                return f"invalid char {go_quote_rune(c)}"
    short = elem.split(".", 1)[0]
    if _is_windows_name(short):
        return f"{go_quote(short)} disallowed as path element component on Windows"
    if kind is not _Kind.FILE and _tilde_digits(short):
        return "trailing tilde and digits in path element"
    return None


def _path_error(path: str, kind: _Kind) -> str | None:
    """Why ``path`` is invalid under the rules common to all kinds, or None (checkPath)."""
    if has_invalid_utf8(path):
        return "invalid UTF-8"
    if path == "":
        return "empty string"
    if path[0] == "-" and kind is not _Kind.FILE:
        return "leading dash"
    if "//" in path:
        return "double slash"
    if path[-1] == "/":
        return "trailing slash"
    for elem in path.split("/"):
        reason = _elem_error(elem, kind)
        if reason is not None:
            return reason
    return None


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/reports/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def _module_path_error(path: str) -> str | None:
    """Why ``path`` is not a valid module path, or None (module.go CheckPath)."""
    reason = _path_error(path, _Kind.MODULE)
    if reason is not None:
        return reason
    first = path.split("/", 1)[0]
    if first == "":
        return "leading slash"
    if "." not in first:
        return "missing dot in first path element"
    if path[0] == "-":
        return "leading dash in first path element"
    for c in first:
        if not _first_path_ok(c):
            return f"invalid char {go_quote_rune(c)} in first path element"
    if not split_path_version(path)[2]:
        return "invalid version"
    return None


def check_path(path: str) -> None:
    """Raise :class:`InvalidModulePath` unless ``path`` is a valid module path.

    A module path is a valid import path whose first element is a lower-case domain-like name
    with a dot (no leading dash), whose elements do not start with a dot, without ``+``, and
    whose final ``/vN`` (or gopkg.in ``.vN``) suffix is well formed.
    """
    reason = _module_path_error(path)
    if reason is not None:
        raise InvalidModulePath(path, reason)


def check_import_path(path: str) -> None:
    """Raise :class:`InvalidModulePath` (kind ``import``) unless ``path`` is a valid import path."""
    reason = _path_error(path, _Kind.IMPORT)
    if reason is not None:
        raise InvalidModulePath(path, reason, kind="import")


def file_path_error(path: str) -> str | None:
    """Return why ``path`` is not a valid file path inside a module, or None when it is valid.

    The reason is Go's text (``"invalid char '*'"``); zip checkers use it without an exception.
    """
    return _path_error(path, _Kind.FILE)


def check_file_path(path: str) -> None:
    """Raise :class:`InvalidFilePath` unless ``path`` is a valid slash-separated file path.

    File paths allow any Unicode letter, ASCII digits, space and ``!#$%&()+,-.=@[]^_{}~``, may
    start with a dot or a dash, and skip the ``~digits`` short-name rule.
    """
    reason = file_path_error(path)
    if reason is not None:
        raise InvalidFilePath(path, reason)


def _split_gopkg_in(path: str) -> tuple[str, str, bool]:
    """SplitPathVersion for ``gopkg.in/`` paths: they must end in ``.vN[-unstable]``."""
    i = len(path)
    if path.endswith("-unstable"):
        i -= len("-unstable")
    while i > 0 and "0" <= path[i - 1] <= "9":
        i -= 1
    if i <= 1 or path[i - 1] != "v" or path[i - 2] != ".":
        return path, "", False
    prefix, path_major = path[: i - 2], path[i - 2 :]
    if len(path_major) <= 2 or (path_major[2] == "0" and path_major != ".v0"):
        return path, "", False
    return prefix, path_major, True


def split_path_version(path: str) -> tuple[str, str, bool]:
    """Split ``path`` into ``(prefix, path_major, ok)`` with ``prefix + path_major == path``.

    ``path_major`` is ``""`` or ``/vN`` with N >= 2 and no leading zero; for ``gopkg.in/`` paths
    it is ``.vN`` (any N, ``.v0`` included) with an optional ``-unstable``. ``ok`` is False when
    the final element looks like a bad major suffix (``/v0``, ``/v1``, ``/v2.0``, ``/v02``).
    """
    if path.startswith("gopkg.in/"):
        return _split_gopkg_in(path)
    i = len(path)
    dot = False
    while i > 0 and ("0" <= path[i - 1] <= "9" or path[i - 1] == "."):
        dot = dot or path[i - 1] == "."
        i -= 1
    if i <= 1 or i == len(path) or path[i - 1] != "v" or path[i - 2] != "/":
        return path, "", True
    prefix, path_major = path[: i - 2], path[i - 2 :]
    if dot or len(path_major) <= 2 or path_major[2] == "0" or path_major == "/v1":
        return path, "", False
    return prefix, path_major, True


def check_path_major(v: str, path_major: str) -> None:
    """Raise :class:`InvalidVersion` unless version ``v`` fits the path suffix ``path_major``.

    No suffix accepts v0, v1 and any ``+incompatible`` build; ``/vN`` and ``.vN`` need major N.
    gopkg.in ``.v1`` also accepts ``v0.0.0-`` pseudo-versions (an old go command bug), and a
    ``-unstable`` suffix is ignored.
    """
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major.removesuffix("-unstable")
    if v.startswith("v0.0.0-") and path_major == ".v1":
        return
    m = semver.major(v)
    if path_major == "":
        if m in ("v0", "v1") or semver.build(v) == "+incompatible":
            return
        want = "v0 or v1"
    elif path_major[0] in "/.":
        if m == path_major[1:]:
            return
        want = path_major[1:]
    else:
        want = path_major
    raise InvalidVersion(v, f"should be {want}, not {m}")


def match_path_major(v: str, path_major: str) -> bool:
    """Report whether ``v`` fits ``path_major``; True iff :func:`check_path_major` passes."""
    try:
        check_path_major(v, path_major)
    except InvalidVersion:
        return False
    return True


def check(path: str, version: str) -> None:
    """Raise unless ``path`` is a valid module path and ``version`` a semver fitting it.

    module.Check: :class:`InvalidModulePath` for the path, :class:`InvalidVersion` (with
    ``path`` set) for a non-semver version or a major version that does not match the path.
    """
    check_path(path)
    if not semver.is_valid(version):
        raise InvalidVersion(version, "not a semantic version", path=path)
    _, path_major, _ = split_path_version(path)
    try:
        check_path_major(version, path_major)
    except InvalidVersion as exc:
        raise InvalidVersion(version, exc.reason, path=path) from exc


def canonical_version(v: str) -> str:
    """semver canonical form that keeps ``+incompatible`` (module.CanonicalVersion)."""
    cv = semver.canonical(v)
    if semver.build(v) == "+incompatible":
        cv += "+incompatible"
    return cv


def module_sort_key(path: str, version: str) -> tuple[str, tuple[object, ...], str]:
    """Sort key giving module.Sort's order: path, then semver, then the ``/file`` suffix.

    A version may carry a tie-breaking suffix after a slash, as go.sum lines do
    (``v1.2.3/go.mod`` sorts right after ``v1.2.3``). Where Go's comparator calls two entries
    equal (different strings with equal semver precedence) this key still orders them by suffix,
    which is one of the orders Go's unstable sort may produce.
    """
    base, slash, rest = version.partition("/")
    return (path, semver.version_key(base), slash + rest)


def is_go_mod_name(name: str) -> bool:
    """Report whether the last element of slash-separated ``name`` is ``go.mod`` in any case.

    x/mod/zip uses ``strings.EqualFold(base, "go.mod")`` to spot go.mod files (and so
    submodules) whatever their case; compare with ``== "go.mod"`` for the exact name.
    """
    return equal_fold(name.rsplit("/", 1)[-1], "go.mod")


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/reports/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def _escape_string(s: str) -> str:
    """Replace every ASCII upper-case letter ``X`` with ``!x`` (module.go escapeString).

    Callers have checked ``s``; a ``!`` or non-ASCII character here is refused, as in Go, because
    the encoding would not be reversible.
    """
    if "!" in s or not s.isascii():
        raise ValueError(f"internal error: inconsistency in escaping {s!r}")
    return "".join("!" + c.lower() if "A" <= c <= "Z" else c for c in s)


def escape_path(path: str) -> str:
    """Return the case-encoded form of module path ``path`` used in proxy URLs and cache dirs.

    ``escape_path("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"``. Raises
    :class:`InvalidModulePath` if ``path`` is not a valid module path.
    """
    check_path(path)
    return _escape_string(path)


# Hot as well: every cache hit makes its storage key (errors are not cached).
@functools.lru_cache(maxsize=16384)
def escape_version(v: str) -> str:
    """Return the case-encoded form of version ``v`` (``v1.0.0-RC1`` -> ``v1.0.0-!r!c1``).

    Versions need not be semver but must be ASCII file-name elements without ``!``; otherwise
    :class:`InvalidVersion` ("disallowed version string") is raised.
    """
    if _elem_error(v, _Kind.FILE) is not None or "!" in v or not v.isascii():
        # Go's escapeString refuses non-ASCII ("internal error"); we report it as disallowed.
        raise InvalidVersion(v, "disallowed version string")
    return _escape_string(v)


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/reports/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def _unescape_string(escaped: str) -> str | None:
    """Undo :func:`_escape_string`; None for non-ASCII, upper case, or ``!`` not before a-z."""
    out: list[str] = []
    bang = False
    for c in escaped:
        if ord(c) >= 0x80:
            return None
        if bang:
            bang = False
            if not "a" <= c <= "z":
                return None
            out.append(c.upper())
        elif c == "!":
            bang = True
        elif "A" <= c <= "Z":
            return None
        else:
            out.append(c)
    return None if bang else "".join(out)


def unescape_path(escaped: str) -> str:
    """Return the module path for a case-encoded path; the inverse of :func:`escape_path`.

    Raises :class:`InvalidModulePath` (kind ``escaped module``) for a bad encoding (upper case,
    non-ASCII, ``!`` not followed by a-z, trailing ``!``) or when the result is not a valid
    module path.
    """
    path = _unescape_string(escaped)
    if path is None:
        raise InvalidModulePath(escaped, "invalid case-encoding", kind="escaped module")
    reason = _module_path_error(path)
    if reason is not None:
        raise InvalidModulePath(escaped, reason, kind="escaped module")
    return path


def unescape_version(escaped: str) -> str:
    """Return the version for a case-encoded version; the inverse of :func:`escape_version`.

    Raises :class:`InvalidVersion` for a bad encoding or a result that is not a valid
    file-name element.
    """
    v = _unescape_string(escaped)
    if v is None:
        raise InvalidVersion(escaped, "invalid escaped version: bad case-encoding")
    reason = _elem_error(v, _Kind.FILE)
    if reason is not None:
        raise InvalidVersion(escaped, f"invalid escaped version: {reason}")
    return v

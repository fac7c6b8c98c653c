"""Reading the arguments of go.mod and go.work directives (x/mod ``modfile/rule.go``).

Shared by :mod:`~gomodproxy.module.modfile.rules` (go.mod) and
:mod:`~gomodproxy.module.modfile.work` (go.work). Like x/mod, reading an argument rewrites its
token in place to the canonical spelling (quotes only where needed, canonical versions), which is
how a parsed file formats to the standard text.
"""

from __future__ import annotations

import os
import re
from typing import Protocol

from gomodproxy.errors import InvalidVersion, ProxyError
from gomodproxy.module import paths, semver
from gomodproxy.module.gostrings import auto_quote, go_quote, go_trim_space, go_unquote
from gomodproxy.module.modfile.syntax import Comments, Line, LineBlock
from gomodproxy.module.modfile.values import ModuleVersion, Replace, VersionInterval

__all__ = [
    "GO_VERSION_RE",
    "LAX_GO_VERSION_RE",
    "TOOLCHAIN_RE",
    "DirectiveError",
    "ModFileVersionError",
    "VersionFixer",
    "check_canonical_version",
    "check_path_major_error",
    "dont_fix_retract",
    "is_directory_path",
    "module_path_major",
    "parse_deprecation",
    "parse_directive_comment",
    "parse_replace",
    "parse_string",
    "parse_version",
    "parse_version_interval",
]


class VersionFixer(Protocol):
    """Canonicalises the versions a go.mod names (x/mod ``VersionFixer``).

    Called as ``fix(path, version)``; returns the version to use, or raises
    :class:`~gomodproxy.errors.InvalidVersion` (reported with the directive and module path)
    or another ProxyError or ValueError (reported as is).
    """

    def __call__(self, path: str, version: str, /) -> str: ...


GO_VERSION_RE = re.compile(r"\A([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?\Z")
"""A valid ``go`` directive version (x/mod ``GoVersionRE``)."""
LAX_GO_VERSION_RE = re.compile(r"\Av?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)\Z")
"""A sloppy go version that lax parsing cuts to its first two numbers (x/mod ``laxGoVersionRE``)."""
TOOLCHAIN_RE = re.compile(r"\Adefault\Z|\Ago1(\Z|\.)")
"""A valid ``toolchain`` name (x/mod ``ToolchainRE``): ``default`` or ``go1...``."""
_DEPRECATED_RE = re.compile(r"(?s)(?:\A|\n\n)Deprecated: *(.*?)(?:\Z|\n\n)")


def dont_fix_retract(_path: str, version: str) -> str:
    """The fixer of the first reading of ``retract``: keep versions as written (x/mod)."""
    return version


class DirectiveError(Exception):
    """One bad directive, raised while reading it.

    Internal: the parsers catch it and report it, with the line's position, in a
    :class:`~gomodproxy.module.modfile.errorlist.GoModParseError`; it never leaves the package.
    """

    def __init__(self, reason: str, *, verb: str = "", mod_path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.verb = verb
        self.mod_path = mod_path


class ModFileVersionError(InvalidVersion):
    """A version handed to a go.mod edit is not canonical or does not fit the module path.

    The message is x/mod's (``version "v1.2" invalid: must be of the form v1.2.3``); use a
    canonical version whose major version matches the path's ``/vN`` suffix.
    """

    def __init__(self, version: str, reason: str, *, message: str | None = None) -> None:
        super().__init__(version, reason)
        self.message = message or f"version {go_quote(version)} invalid: {reason}"
        self.args = (self.message,)


def _invalid_version(version: str, reason: str) -> str:
    # x/mod module.InvalidVersionError.Error
    return f"version {go_quote(version)} invalid: {reason}"


def parse_string(toks: list[str], i: int) -> str:
    """Unquote ``toks[i]``, rewrite it with quotes only if needed; raise ValueError if bad."""
    t = toks[i]
    if t.startswith('"'):
        t = go_unquote(t)
    elif any(q in t for q in "\"'`"):
        # Other quotes are reserved, so that 'x' is an error rather than a literal x in quotes.
        raise ValueError("unquoted string cannot contain quote")
    toks[i] = auto_quote(t)
    return t


def parse_version(verb: str, path: str, toks: list[str], i: int, fix: VersionFixer | None) -> str:
    """Read the version at ``toks[i]``: fixed by ``fix``, or required to be canonical."""
    try:
        t = parse_string(toks, i)
    except ValueError as exc:
        raise DirectiveError(
            _invalid_version(toks[i], str(exc)), verb=verb, mod_path=path
        ) from None
    if fix is not None:
        try:
            t = fix(path, t)
        except InvalidVersion as exc:
            raise DirectiveError(
                _invalid_version(exc.version, exc.reason), verb=verb, mod_path=path
            ) from None
        except (ProxyError, ValueError) as exc:
            raise DirectiveError(str(exc)) from None
    else:
        cv = paths.canonical_version(t)
        if cv == "":
            raise DirectiveError(
                _invalid_version(t, "must be of the form v1.2.3"), verb=verb, mod_path=path
            )
        t = cv
    toks[i] = t
    return t


def parse_version_interval(
    verb: str, path: str, toks: list[str], i: int, fix: VersionFixer | None
) -> tuple[VersionInterval, int]:
    """Read ``v1.2.3`` or ``[v1.2.3, v1.2.4]`` at ``toks[i:]``; return it and the next index."""
    n = len(toks)
    if i >= n or toks[i] == "(":
        raise DirectiveError("expected '[' or version")
    if toks[i] != "[":
        v = parse_version(verb, path, toks, i, fix)
        return VersionInterval(v, v), i + 1
    i += 1
    if i >= n:
        raise DirectiveError("expected version after '['")
    low = parse_version(verb, path, toks, i, fix)
    i += 1
    if i >= n or toks[i] != ",":
        raise DirectiveError("expected ',' after version")
    i += 1
    if i >= n:
        raise DirectiveError("expected version after ','")
    high = parse_version(verb, path, toks, i, fix)
    i += 1
    if i >= n or toks[i] != "]":
        raise DirectiveError("expected ']' after version")
    return VersionInterval(low, high), i + 1


def module_path_major(path: str) -> str:
    """The ``/vN`` or ``.vN`` suffix of a module path; raise ValueError if it is malformed."""
    _prefix, major, ok = paths.split_path_version(path)
    if not ok:
        raise ValueError("invalid module path")
    return major


def check_path_major_error(version: str, path_major: str) -> str | None:
    """x/mod ``module.CheckPathMajor`` as an error message, or None when the version fits."""
    try:
        paths.check_path_major(version, path_major)
    except InvalidVersion as exc:
        return _invalid_version(exc.version, exc.reason)
    return None


def is_directory_path(ns: str) -> bool:
    """Whether a replacement path is a local directory: ``./``, ``../``, rooted, or a drive.

    Like x/mod ``IsDirectoryPath``, both Unix and Windows spellings count, because go.mod files
    move between systems.
    """
    return (
        ns in (".", "..")
        or ns.startswith(("./", ".\\", "../", "..\\", "/", "\\"))
        or (len(ns) >= 2 and ns[1] == ":" and ("A" <= ns[0] <= "Z" or "a" <= ns[0] <= "z"))
    )


def parse_replace(
    verb: str, line: Line, toks: list[str], start: int, fix: VersionFixer | None
) -> Replace:
    """Read ``old [v] => new v`` or ``old [v] => ./dir`` from ``toks[start:]``."""
    args = len(toks) - start
    arrow = 1 if args >= 2 and toks[start + 1] == "=>" else 2
    if args < arrow + 2 or args > arrow + 3 or toks[start + arrow] != "=>":
        raise DirectiveError(
            f"usage: {verb} module/path [v1.2.3] => other/module v1.4\n"
            f"\t or {verb} module/path [v1.2.3] => ../local/directory"
        )
    try:
        s = parse_string(toks, start)
    except ValueError as exc:
        raise DirectiveError(f"invalid quoted string: {exc}") from None
    try:
        path_major = module_path_major(s)
    except ValueError as exc:
        raise DirectiveError(str(exc), verb=verb, mod_path=s) from None
    v = ""
    if arrow == 2:
        v = parse_version(verb, s, toks, start + 1, fix)
        problem = check_path_major_error(v, path_major)
        if problem is not None:
            raise DirectiveError(problem, verb=verb, mod_path=s)
    try:
        ns = parse_string(toks, start + arrow + 1)
    except ValueError as exc:
        raise DirectiveError(f"invalid quoted string: {exc}") from None
    nv = ""
    if args == arrow + 2:
        if not is_directory_path(ns):
            if "@" in ns:
                raise DirectiveError(
                    "replacement module must match format 'path version', not 'path@version'"
                )
            raise DirectiveError(
                "replacement module without version must be directory path "
                "(rooted or starting with . or ..)"
            )
        if os.sep == "/" and "\\" in ns:
            raise DirectiveError(
                "replacement directory appears to be Windows path (on a non-windows system)"
            )
    if args == arrow + 3:
        nv = parse_version(verb, ns, toks, start + arrow + 2, fix)
        if is_directory_path(ns):
            raise DirectiveError(
                f"replacement module directory path {go_quote(ns)} cannot have version"
            )
    return Replace(ModuleVersion(s, v), ModuleVersion(ns, nv), line)


def parse_directive_comment(block: LineBlock | None, line: Line) -> str:
    """The text of the comments on a directive, or on its block if the line has none."""
    comments: Comments = line.comments
    if block is not None and not comments.before and not comments.suffix:
        comments = block.comments
    lines = [
        go_trim_space(c.token.removeprefix("//"))
        for c in (*comments.before, *comments.suffix)
        if c.token.startswith("//")  # not a blank line
    ]
    return "\n".join(lines)


def parse_deprecation(block: LineBlock | None, line: Line) -> str:
    """The ``Deprecated:`` paragraph of a module directive's comments, without the prefix."""
    m = _DEPRECATED_RE.search(parse_directive_comment(block, line))
    return m.group(1) if m else ""


def check_canonical_version(path: str, vers: str) -> None:
    """Raise :class:`ModFileVersionError` unless ``vers`` is canonical and fits ``path``."""
    _prefix, path_major, path_major_ok = paths.split_path_version(path)
    if vers == "" or vers != paths.canonical_version(vers):
        if path_major == "":
            raise ModFileVersionError(vers, "must be of the form v1.2.3")
        raise ModFileVersionError(vers, f"must be of the form {_path_major_prefix(path_major)}.2.3")
    if path_major_ok:
        try:
            paths.check_path_major(vers, path_major)
        except InvalidVersion as exc:
            if path_major == "":
                # The user probably meant v2.3.4+incompatible rather than "v0 or v1".
                raise ModFileVersionError(
                    vers,
                    f"should be {vers}+incompatible (or module {path}/{semver.major(vers)})",
                ) from None
            raise ModFileVersionError(exc.version, exc.reason) from None


def _path_major_prefix(path_major: str) -> str:
    # x/mod module.PathMajorPrefix, for a path_major from split_path_version.
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major.removesuffix("-unstable")
    return path_major[1:]

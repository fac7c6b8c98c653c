"""The interpreted go.mod file and its parser (x/mod ``modfile/rule.go``: Parse, ParseLax).

:func:`parse` reads a main module's go.mod strictly: every directive must be known and well
formed. :func:`parse_lax` reads a dependency's go.mod: only ``module``, ``go``, ``require``,
``retract`` and ``ignore`` are interpreted and everything else is skipped silently, so that go.mod
files written for newer go commands still load. Without a fixer, versions in ``require``,
``exclude`` and ``replace`` must be canonicalisable (``v1.2`` is read as ``v1.2.0``).
"""

from __future__ import annotations

from gomodproxy.module.gostrings import go_quote
from gomodproxy.module.modfile.directives import (
    GO_VERSION_RE,
    LAX_GO_VERSION_RE,
    TOOLCHAIN_RE,
    DirectiveError,
    VersionFixer,
    check_path_major_error,
    dont_fix_retract,
    module_path_major,
    parse_deprecation,
    parse_directive_comment,
    parse_replace,
    parse_string,
    parse_version,
    parse_version_interval,
)
from gomodproxy.module.modfile.edits import ModFile
from gomodproxy.module.modfile.errorlist import GoModParseError, ModFileError
from gomodproxy.module.modfile.reader import parse_syntax
from gomodproxy.module.modfile.requires import is_indirect
from gomodproxy.module.modfile.syntax import Line, LineBlock
from gomodproxy.module.modfile.values import (
    Exclude,
    Go,
    Godebug,
    Ignore,
    Module,
    ModuleVersion,
    Require,
    Retract,
    Tool,
    Toolchain,
)

__all__ = ["parse", "parse_lax"]

_LAX_VERBS = frozenset({"go", "module", "retract", "require", "ignore"})
_BLOCK_VERBS = frozenset(
    {"module", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore"}
)


def parse(
    filename: str, data: bytes, *, strict: bool = True, fix: VersionFixer | None = None
) -> ModFile:
    """Parse a go.mod file (x/mod ``Parse``, or ``ParseLax`` when ``strict`` is False).

    ``filename`` only names the file in errors. ``fix(path, version)`` may canonicalise
    versions; without it, versions must already be canonical up to ``module.CanonicalVersion``.
    Raises :class:`~gomodproxy.module.modfile.errorlist.GoModParseError` listing every problem.
    """
    syntax = parse_syntax(filename, data)
    f = ModFile(syntax=syntax)
    errs: list[ModFileError] = []
    for x in syntax.stmt:
        if isinstance(x, Line):
            _add(f, errs, None, x, x.token[0], x.token, 1, fix, strict)
        elif isinstance(x, LineBlock):
            if len(x.token) > 1 or x.token[0] not in _BLOCK_VERBS:
                if strict:
                    errs.append(
                        ModFileError(
                            filename,
                            x.start.line,
                            x.start.line_rune,
                            f"unknown block type: {' '.join(x.token)}",
                        )
                    )
                continue
            for line in x.line:
                _add(f, errs, x, line, x.token[0], line.token, 0, fix, strict)
    # Versions in retract directives are fixed once the whole file is read: the module path
    # they need may come last (or not at all).
    _fix_retract(f, fix, errs)
    if errs:
        raise GoModParseError(errs)
    return f


def parse_lax(filename: str, data: bytes, *, fix: VersionFixer | None = None) -> ModFile:
    """Parse a dependency's go.mod, ignoring directives only a main module uses (``ParseLax``)."""
    return parse(filename, data, strict=False, fix=fix)


def _add(
    f: ModFile,
    errs: list[ModFileError],
    block: LineBlock | None,
    line: Line,
    verb: str,
    toks: list[str],
    start: int,
    fix: VersionFixer | None,
    strict: bool,
) -> None:
    """Interpret one directive; ``toks[start:]`` are its arguments (x/mod ``File.add``)."""
    if not strict and verb not in _LAX_VERBS:
        return
    try:
        _add_directive(f, block, line, verb, toks, start, fix, strict)
    except DirectiveError as exc:
        errs.append(
            ModFileError(
                f.syntax.name,
                line.start.line,
                line.start.line_rune,
                exc.reason,
                exc.verb,
                exc.mod_path,
            )
        )


def _path_arg(toks: list[str], i: int) -> str:
    try:
        return parse_string(toks, i)
    except ValueError as exc:
        raise DirectiveError(f"invalid quoted string: {exc}") from None


def _add_directive(
    f: ModFile,
    block: LineBlock | None,
    line: Line,
    verb: str,
    toks: list[str],
    start: int,
    fix: VersionFixer | None,
    strict: bool,
) -> None:
    nargs = len(toks) - start
    if verb == "go":
        if f.go is not None:
            raise DirectiveError("repeated go statement")
        if nargs != 1:
            raise DirectiveError("go directive expects exactly one argument")
        if not GO_VERSION_RE.match(toks[start]):
            m = None if strict else LAX_GO_VERSION_RE.match(toks[start])
            if m is None:
                raise DirectiveError(
                    f"invalid go version '{toks[start]}': must match format 1.23.0"
                )
            toks[start] = m.group(1)
        f.go = Go(toks[start], line)
    elif verb == "toolchain":
        if f.toolchain is not None:
            raise DirectiveError("repeated toolchain statement")
        if nargs != 1:
            raise DirectiveError("toolchain directive expects exactly one argument")
        if not TOOLCHAIN_RE.match(toks[start]):
            raise DirectiveError(
                f"invalid toolchain version '{toks[start]}': must match format go1.23.0 or default"
            )
        f.toolchain = Toolchain(toks[start], line)
    elif verb == "module":
        if f.module is not None:
            raise DirectiveError("repeated module statement")
        deprecated = parse_deprecation(block, line)
        f.module = Module(ModuleVersion(""), line, deprecated)
        if nargs != 1:
            raise DirectiveError("usage: module module/path")
        f.module = Module(ModuleVersion(_path_arg(toks, start)), line, deprecated)
    elif verb == "godebug":
        if nargs != 1 or any(q in toks[start] for q in "\"`',"):
            raise DirectiveError("usage: godebug key=value")
        key, eq, value = toks[start].partition("=")
        if not eq:
            raise DirectiveError("usage: godebug key=value")
        f.godebug.append(Godebug(key, value, line))
    elif verb in ("require", "exclude"):
        if nargs != 2:
            raise DirectiveError(f"usage: {verb} module/path v1.2.3")
        s = _path_arg(toks, start)
        v = parse_version(verb, s, toks, start + 1, fix)
        try:
            path_major = module_path_major(s)
        except ValueError as exc:
            raise DirectiveError(str(exc)) from None
        problem = check_path_major_error(v, path_major)
        if problem is not None:
            raise DirectiveError(problem, verb=verb, mod_path=s)
        if verb == "require":
            f.require.append(Require(ModuleVersion(s, v), is_indirect(line), line))
        else:
            f.exclude.append(Exclude(ModuleVersion(s, v), line))
    elif verb == "replace":
        f.replace.append(parse_replace(verb, line, toks, start, fix))
    elif verb == "retract":
        _add_retract(f, block, line, toks, start, strict)
    elif verb in ("tool", "ignore"):
        if nargs != 1:
            raise DirectiveError(f"{verb} directive expects exactly one argument")
        s = _path_arg(toks, start)
        if verb == "tool":
            f.tool.append(Tool(s, line))
        else:
            f.ignore.append(Ignore(s, line))
    else:
        raise DirectiveError(f"unknown directive: {verb}")


def _add_retract(
    f: ModFile, block: LineBlock | None, line: Line, toks: list[str], start: int, strict: bool
) -> None:
    rationale = parse_directive_comment(block, line)
    try:
        vi, rest = parse_version_interval("retract", "", toks, start, dont_fix_retract)
    except DirectiveError:
        if strict:
            raise
        # Only the main module reports bad intervals: newer syntax (open intervals, say)
        # must not break dependencies' go.mod files.
        return
    if rest < len(toks) and strict:
        # In the future, there may be more information after the version.
        raise DirectiveError(f"unexpected token after version: {go_quote(toks[rest])}")
    f.retract.append(Retract(vi.low, vi.high, rationale, line))


def _fix_retract(f: ModFile, fix: VersionFixer | None, errs: list[ModFileError]) -> None:
    """Apply ``fix`` to the versions of every retract directive (x/mod ``fixRetract``)."""
    if fix is None:
        return
    path = f.module.mod.path if f.module is not None else ""
    for i, r in enumerate(f.retract):
        pos = r.syntax.start
        if path == "":
            errs.append(
                ModFileError(
                    f.syntax.name,
                    pos.line,
                    pos.line_rune,
                    "no module directive found, so retract cannot be used",
                )
            )
            return  # only report the first
        toks = r.syntax.token
        start = 1 if toks[0] == "retract" else 0
        try:
            vi, _rest = parse_version_interval("retract", path, toks, start, fix)
        except DirectiveError as exc:
            errs.append(
                ModFileError(
                    f.syntax.name, pos.line, pos.line_rune, exc.reason, exc.verb, exc.mod_path
                )
            )
            continue
        f.retract[i] = Retract(vi.low, vi.high, r.rationale, r.syntax)

"""go.work files: parsing, editing and formatting (x/mod ``modfile/work.go``).

A go.work file has ``go``, ``toolchain``, ``godebug``, ``use`` and ``replace`` directives; it uses
the go.mod syntax and formatter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gomodproxy.module.gostrings import auto_quote, go_quote
from gomodproxy.module.modfile.directives import (
    GO_VERSION_RE,
    TOOLCHAIN_RE,
    DirectiveError,
    ModFileVersionError,
    VersionFixer,
    parse_replace,
    parse_string,
)
from gomodproxy.module.modfile.edits import add_replace, drop_replace, godebug_set
from gomodproxy.module.modfile.errorlist import GoModParseError, ModFileError
from gomodproxy.module.modfile.printer import format_file
from gomodproxy.module.modfile.reader import parse_syntax
from gomodproxy.module.modfile.sorting import drop_killed, keep_last, sort_blocks
from gomodproxy.module.modfile.syntax import CommentBlock, FileSyntax, Line, LineBlock
from gomodproxy.module.modfile.values import Go, Godebug, Replace, Toolchain, Use

__all__ = ["WorkFile", "parse_work"]

_BLOCK_VERBS = frozenset({"godebug", "use", "replace"})


@dataclass(slots=True, eq=False)
class WorkFile:
    """A parsed go.work file: its directives, and the syntax tree they came from."""

    syntax: FileSyntax = field(default_factory=FileSyntax)
    go: Go | None = None
    toolchain: Toolchain | None = None
    godebug: list[Godebug] = field(default_factory=list)
    use: list[Use] = field(default_factory=list)
    replace: list[Replace] = field(default_factory=list)

    def format(self) -> bytes:
        """The file's text in standard format."""
        return format_file(self.syntax)

    def cleanup(self) -> None:
        """Drop removed lines from the syntax tree, collapsing one-line blocks."""
        self.syntax.cleanup()

    def _insert_top(self, stmt: Line, after_go: bool) -> None:
        stmts = self.syntax.stmt
        if after_go:
            for i, x in enumerate(stmts):
                if isinstance(x, Line) and x.token and x.token[0] == "go":
                    stmts.insert(i + 1, stmt)
                    return
        # Before the first statement that is not a comment block, keeping file comments on top.
        i = 0
        while i < len(stmts) and isinstance(stmts[i], CommentBlock):
            i += 1
        stmts.insert(i, stmt)

    def add_go_stmt(self, version: str) -> None:
        """Set the ``go`` version, adding the line before the first directive if needed."""
        if not GO_VERSION_RE.match(version):
            raise ModFileVersionError(
                version,
                "invalid language version",
                message=f"invalid language version {go_quote(version)}",
            )
        if self.go is None:
            line = Line(token=["go", version])
            self._insert_top(line, after_go=False)
            self.go = Go(version, line)
        else:
            self.syntax.update_line(self.go.syntax, "go", version)
            self.go = Go(version, self.go.syntax)

    def add_toolchain_stmt(self, name: str) -> None:
        """Set the ``toolchain``, adding the line after ``go`` (or on top) if needed."""
        if not TOOLCHAIN_RE.match(name):
            raise ModFileVersionError(
                name, "invalid toolchain name", message=f"invalid toolchain name {go_quote(name)}"
            )
        if self.toolchain is None:
            line = Line(token=["toolchain", name])
            self._insert_top(line, after_go=True)
            self.toolchain = Toolchain(name, line)
        else:
            self.syntax.update_line(self.toolchain.syntax, "toolchain", name)
            self.toolchain = Toolchain(name, self.toolchain.syntax)

    def drop_go_stmt(self) -> None:
        """Delete the ``go`` line."""
        if self.go is not None:
            self.go.syntax.mark_removed()
            self.go = None

    def drop_toolchain_stmt(self) -> None:
        """Delete the ``toolchain`` line."""
        if self.toolchain is not None:
            self.toolchain.syntax.mark_removed()
            self.toolchain = None

    def add_godebug(self, key: str, value: str) -> None:
        """Set ``godebug key=value``, keeping the first line's comments, dropping other lines."""
        godebug_set(self.syntax, self.godebug, key, value)

    def drop_godebug(self, key: str) -> None:
        """Delete every ``godebug`` line for ``key``."""
        kept: list[Godebug] = []
        for g in self.godebug:
            if g.key == key:
                g.syntax.mark_removed()
            else:
                kept.append(g)
        self.godebug = kept

    def add_use(self, disk_path: str, module_path: str = "") -> None:
        """Use the module directory ``disk_path``: keep the first line for it, drop the rest."""
        need = True
        kept: list[Use] = []
        for d in self.use:
            if d.path == disk_path:
                if not need:
                    d.syntax.mark_removed()
                    continue
                self.syntax.update_line(d.syntax, "use", auto_quote(disk_path))
                d = Use(disk_path, d.syntax, module_path)
                need = False
            kept.append(d)
        self.use = kept
        if need:
            self.add_new_use(disk_path, module_path)

    def add_new_use(self, disk_path: str, module_path: str = "") -> None:
        """Add a ``use`` line at the end of the last use block, whatever is there."""
        line = self.syntax.add_line(None, "use", auto_quote(disk_path))
        self.use.append(Use(disk_path, line, module_path))

    def drop_use(self, path: str) -> None:
        """Delete every ``use`` of ``path``."""
        kept: list[Use] = []
        for d in self.use:
            if d.path == path:
                d.syntax.mark_removed()
            else:
                kept.append(d)
        self.use = kept

    def add_replace(self, old_path: str, old_vers: str, new_path: str, new_vers: str) -> None:
        """Replace ``old_path`` (``old_vers`` "" for all versions) by ``new_path new_vers``."""
        add_replace(self.syntax, self.replace, old_path, old_vers, new_path, new_vers)

    def drop_replace(self, old_path: str, old_vers: str) -> None:
        """Delete the replacement of exactly ``old_path old_vers``."""
        drop_replace(self.replace, old_path, old_vers)

    def sort_blocks(self) -> None:
        """Remove duplicate replace lines (later ones win) and sort every block."""
        kill: set[int] = set()
        self.replace = keep_last(self.replace, lambda r: r.old, kill)
        drop_killed(self.syntax, kill)
        sort_blocks(self.syntax, semantic_exclude=False)


def parse_work(filename: str, data: bytes, *, fix: VersionFixer | None = None) -> WorkFile:
    """Parse a go.work file (x/mod ``ParseWork``); raise GoModParseError listing every problem."""
    syntax = parse_syntax(filename, data)
    f = WorkFile(syntax=syntax)
    errs: list[ModFileError] = []
    for x in syntax.stmt:
        if isinstance(x, Line):
            _add(f, errs, x, x.token[0], x.token, 1, fix)
        elif isinstance(x, LineBlock):
            if len(x.token) > 1 or x.token[0] not in _BLOCK_VERBS:
                reason = f"unknown block type: {' '.join(x.token)}"
                errs.append(ModFileError(filename, x.start.line, x.start.line_rune, reason))
                continue
            for line in x.line:
                _add(f, errs, line, x.token[0], line.token, 0, fix)
    if errs:
        raise GoModParseError(errs)
    return f


def _add(
    f: WorkFile,
    errs: list[ModFileError],
    line: Line,
    verb: str,
    toks: list[str],
    start: int,
    fix: VersionFixer | None,
) -> None:
    try:
        _add_directive(f, line, verb, toks, start, fix)
    except DirectiveError as exc:
        pos = line.start
        errs.append(
            ModFileError(f.syntax.name, pos.line, pos.line_rune, exc.reason, exc.verb, exc.mod_path)
        )


def _add_directive(
    f: WorkFile, line: Line, verb: str, toks: list[str], start: int, fix: VersionFixer | None
) -> None:
    nargs = len(toks) - start
    if verb == "go":
        if f.go is not None:
            raise DirectiveError("repeated go statement")
        if nargs != 1:
            raise DirectiveError("go directive expects exactly one argument")
        if not GO_VERSION_RE.match(toks[start]):
            raise DirectiveError(f"invalid go version '{toks[start]}': must match format 1.23.0")
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
    elif verb == "godebug":
        if nargs != 1 or any(q in toks[start] for q in "\"`',"):
            raise DirectiveError("usage: godebug key=value")
        key, eq, value = toks[start].partition("=")
        if not eq:
            raise DirectiveError("usage: godebug key=value")
        f.godebug.append(Godebug(key, value, line))
    elif verb == "use":
        if nargs != 1:
            raise DirectiveError(f"usage: {verb} local/dir")
        try:
            path = parse_string(toks, start)
        except ValueError as exc:
            raise DirectiveError(f"invalid quoted string: {exc}") from None
        f.use.append(Use(path, line))
    elif verb == "replace":
        f.replace.append(parse_replace(verb, line, toks, start, fix))
    else:
        raise DirectiveError(f"unknown directive: {verb}")

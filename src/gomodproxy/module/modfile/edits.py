"""The interpreted go.mod file and its editing operations (x/mod ``modfile.File``).

Edits change the syntax tree the way x/mod does, so ``format()`` after an edit gives the bytes
``go mod edit`` would write. Removed lines stay in the tree, without tokens, until
:meth:`ModFile.cleanup`; the interpreted lists (``require``, ``replace``, ...) drop removed
entries at once (x/mod leaves zeroed entries there until ``Cleanup``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from gomodproxy.module import semver
from gomodproxy.module.gostrings import auto_quote, go_quote
from gomodproxy.module.modfile.directives import (
    GO_VERSION_RE,
    TOOLCHAIN_RE,
    ModFileVersionError,
    check_canonical_version,
)
from gomodproxy.module.modfile.printer import format_file
from gomodproxy.module.modfile.requires import (
    require_line,
    set_indirect,
    set_require,
    set_require_separate_indirect,
)
from gomodproxy.module.modfile.sorting import drop_killed, keep_first, keep_last, sort_blocks
from gomodproxy.module.modfile.syntax import Comment, CommentBlock, Comments, FileSyntax, Line
from gomodproxy.module.modfile.values import (
    Exclude,
    Go,
    Godebug,
    Ignore,
    Module,
    ModuleVersion,
    Replace,
    Require,
    Retract,
    Tool,
    Toolchain,
    VersionInterval,
)

__all__ = ["ModFile", "add_replace", "drop_replace", "godebug_set"]


def add_replace(
    syntax: FileSyntax,
    replaces: list[Replace],
    old_path: str,
    old_vers: str,
    new_path: str,
    new_vers: str,
) -> None:
    """Replace ``old_path`` (at ``old_vers``, or all versions) by ``new_path new_vers``.

    The first matching replace line is rewritten, later ones are removed; otherwise a new line
    goes after the last replacement of the same path, or at the end of the file.
    """
    old = ModuleVersion(old_path, old_vers)
    new = ModuleVersion(new_path, new_vers)
    tokens = ["replace", auto_quote(old_path)]
    if old_vers:
        tokens.append(old_vers)
    tokens += ["=>", auto_quote(new_path)]
    if new_vers:
        tokens.append(new_vers)

    need = True
    hint: Line | None = None
    kept: list[Replace] = []
    for r in replaces:
        if r.old.path == old_path and (old_vers == "" or r.old.version == old_vers):
            if need:
                # Found the replacement for old: update it to use new.
                syntax.update_line(r.syntax, *tokens)
                kept.append(Replace(r.old, new, r.syntax))
                need = False
                continue
            # Already replaced: delete other replacements of the same module.
            r.syntax.mark_removed()
            continue
        if r.old.path == old_path:
            hint = r.syntax
        kept.append(r)
    if need:
        kept.append(Replace(old, new, syntax.add_line_near(hint, *tokens)))
    replaces[:] = kept


def drop_replace(replaces: list[Replace], old_path: str, old_vers: str) -> None:
    """Remove every replacement of exactly ``old_path old_vers``."""
    kept: list[Replace] = []
    for r in replaces:
        if r.old.path == old_path and r.old.version == old_vers:
            r.syntax.mark_removed()
        else:
            kept.append(r)
    replaces[:] = kept


def godebug_set(syntax: FileSyntax, godebug: list[Godebug], key: str, value: str) -> None:
    """Set the first ``godebug key`` line to ``value``, removing the others, or add one."""
    need = True
    kept: list[Godebug] = []
    for g in godebug:
        if g.key == key:
            if not need:
                g.syntax.mark_removed()
                continue
            syntax.update_line(g.syntax, "godebug", f"{key}={value}")
            g = Godebug(key, value, g.syntax)
            need = False
        kept.append(g)
    if need:
        kept.append(Godebug(key, value, syntax.add_line(None, "godebug", f"{key}={value}")))
    godebug[:] = kept


class _Directive(Protocol):
    @property
    def syntax(self) -> Line: ...


_D = TypeVar("_D", bound=_Directive)


def _drop(items: list[_D], matches: Callable[[_D], bool]) -> None:
    """Remove the items ``matches`` selects, marking their lines removed."""
    kept: list[_D] = []
    for item in items:
        if matches(item):
            item.syntax.mark_removed()
        else:
            kept.append(item)
    items[:] = kept


@dataclass(slots=True, eq=False)
class ModFile:
    """A parsed go.mod file: its directives, and the syntax tree they came from.

    Build one with :func:`~gomodproxy.module.modfile.rules.parse`. Editing methods follow
    x/mod's ``File`` methods of the same names; call :meth:`cleanup` after removals and
    :meth:`format` for the new file text.
    """

    syntax: FileSyntax = field(default_factory=FileSyntax)
    module: Module | None = None
    go: Go | None = None
    toolchain: Toolchain | None = None
    godebug: list[Godebug] = field(default_factory=list)
    require: list[Require] = field(default_factory=list)
    exclude: list[Exclude] = field(default_factory=list)
    replace: list[Replace] = field(default_factory=list)
    retract: list[Retract] = field(default_factory=list)
    tool: list[Tool] = field(default_factory=list)
    ignore: list[Ignore] = field(default_factory=list)

    def format(self) -> bytes:
        """The file's text in standard format."""
        return format_file(self.syntax)

    def cleanup(self) -> None:
        """Drop removed lines from the syntax tree, collapsing one-line blocks."""
        self.syntax.cleanup()

    def add_module_stmt(self, path: str) -> None:
        """Set the module path, adding a ``module`` line if there is none."""
        if self.module is None:
            line = self.syntax.add_line(None, "module", auto_quote(path))
            self.module = Module(ModuleVersion(path), line)
        else:
            self.syntax.update_line(self.module.syntax, "module", auto_quote(path))
            self.module = Module(ModuleVersion(path), self.module.syntax, self.module.deprecated)

    def add_comment(self, text: str) -> None:
        """Append a comment block (``text`` must start with ``//``) to the end of the file."""
        self.syntax.stmt.append(CommentBlock(comments=Comments(before=[Comment(text)])))

    def add_go_stmt(self, version: str) -> None:
        """Set the ``go`` version, adding the line after ``module`` if there is none."""
        if not GO_VERSION_RE.match(version):
            raise ModFileVersionError(
                version,
                "invalid language version",
                message=f"invalid language version {go_quote(version)}",
            )
        if self.go is None:
            hint = self.module.syntax if self.module is not None else None
            self.go = Go(version, self.syntax.add_line(hint, "go", version))
        else:
            self.syntax.update_line(self.go.syntax, "go", version)
            self.go = Go(version, self.go.syntax)

    def drop_go_stmt(self) -> None:
        """Delete the ``go`` line."""
        if self.go is not None:
            self.go.syntax.mark_removed()
            self.go = None

    def add_toolchain_stmt(self, name: str) -> None:
        """Set the ``toolchain``, adding the line after ``go`` (or ``module``) if needed."""
        if not TOOLCHAIN_RE.match(name):
            raise ModFileVersionError(
                name, "invalid toolchain name", message=f"invalid toolchain name {go_quote(name)}"
            )
        if self.toolchain is None:
            hint: Line | None = None
            if self.go is not None:
                hint = self.go.syntax
            elif self.module is not None:
                hint = self.module.syntax
            self.toolchain = Toolchain(name, self.syntax.add_line(hint, "toolchain", name))
        else:
            self.syntax.update_line(self.toolchain.syntax, "toolchain", name)
            self.toolchain = Toolchain(name, self.toolchain.syntax)

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
        _drop(self.godebug, lambda g: g.key == key)

    def add_require(self, path: str, vers: str) -> None:
        """Require ``path vers``: update the first line for path, drop the others, or add one."""
        need = True
        kept: list[Require] = []
        for r in self.require:
            if r.mod.path == path:
                line = require_line(r)
                if not need:
                    line.mark_removed()
                    continue
                self.syntax.update_line(line, "require", auto_quote(path), vers)
                r = Require(ModuleVersion(path, vers), r.indirect, line)
                need = False
            kept.append(r)
        self.require = kept
        if need:
            self.add_new_require(path, vers, False)

    def add_new_require(self, path: str, vers: str, indirect: bool) -> None:
        """Add a require line at the end of the last require block, whatever is there."""
        line = self.syntax.add_line(None, "require", auto_quote(path), vers)
        set_indirect(line, indirect)
        self.require.append(Require(ModuleVersion(path, vers), indirect, line))

    def set_require(self, req: Iterable[Require]) -> None:
        """Make the file require exactly ``req`` (one version per path; syntax is ignored).

        The first line for each path keeps its place and comments (except the ``indirect``
        marking); new paths go into the block of the last require line; blocks are sorted.
        Call :meth:`cleanup` afterwards.
        """
        set_require(self, req)

    def set_require_separate_indirect(self, req: Iterable[Require]) -> None:
        """Like :meth:`set_require`, keeping direct and indirect requirements in two blocks.

        Requirements whose marking changes move between the last direct-only and the last
        indirect-only block; a single uncommented mixed block is split. Call :meth:`cleanup`.
        """
        set_require_separate_indirect(self, req)

    def drop_require(self, path: str) -> None:
        """Delete every requirement of ``path``."""
        kept: list[Require] = []
        for r in self.require:
            if r.mod.path == path:
                require_line(r).mark_removed()
            else:
                kept.append(r)
        self.require = kept

    def add_exclude(self, path: str, vers: str) -> None:
        """Exclude ``path vers``; ``vers`` must be canonical and fit the path's major version.

        The line goes after the last exclusion of the same path, or at the end of the file.
        """
        check_canonical_version(path, vers)
        hint: Line | None = None
        for x in self.exclude:
            if x.mod == ModuleVersion(path, vers):
                return
            if x.mod.path == path:
                hint = x.syntax
        line = self.syntax.add_line_near(hint, "exclude", auto_quote(path), vers)
        self.exclude.append(Exclude(ModuleVersion(path, vers), line))

    def drop_exclude(self, path: str, vers: str) -> None:
        """Delete the exclusion of ``path vers``."""
        kept: list[Exclude] = []
        for x in self.exclude:
            if x.mod == ModuleVersion(path, vers):
                x.syntax.mark_removed()
            else:
                kept.append(x)
        self.exclude = kept

    def add_replace(self, old_path: str, old_vers: str, new_path: str, new_vers: str) -> None:
        """Replace ``old_path`` (``old_vers`` "" for all versions) by ``new_path new_vers``.

        ``new_vers`` is "" for a local directory. Nothing is validated, as in x/mod.
        """
        add_replace(self.syntax, self.replace, old_path, old_vers, new_path, new_vers)

    def drop_replace(self, old_path: str, old_vers: str) -> None:
        """Delete the replacement of exactly ``old_path old_vers``."""
        drop_replace(self.replace, old_path, old_vers)

    def add_retract(self, vi: VersionInterval, rationale: str = "") -> None:
        """Retract a version or interval, with ``rationale`` as the comment above it.

        Both bounds must be canonical and fit the module path. As in x/mod (and so in
        ``go mod edit -retract``), only the syntax changes: the new retraction is not added to
        :attr:`retract`, and a later :meth:`drop_retract` does not see it; parse the formatted
        text again to read it back.
        """
        path = self.module.mod.path if self.module is not None else ""
        check_canonical_version(path, vi.high)
        check_canonical_version(path, vi.low)
        if vi.low == vi.high:
            line = self.syntax.add_line(None, "retract", auto_quote(vi.low))
        else:
            line = self.syntax.add_line(
                None, "retract", "[", auto_quote(vi.low), ",", auto_quote(vi.high), "]"
            )
        if rationale:
            for text in rationale.split("\n"):
                line.comments.before.append(Comment("// " + text))

    def drop_retract(self, vi: VersionInterval) -> None:
        """Delete every retraction of exactly the interval ``vi``."""
        kept: list[Retract] = []
        for r in self.retract:
            if r.interval == vi:
                r.syntax.mark_removed()
            else:
                kept.append(r)
        self.retract = kept

    def add_tool(self, path: str) -> None:
        """Add a ``tool`` line for ``path`` unless there is one; blocks are sorted."""
        if any(t.path == path for t in self.tool):
            return
        self.tool.append(Tool(path, self.syntax.add_line(None, "tool", path)))
        self.sort_blocks()

    def drop_tool(self, path: str) -> None:
        """Delete the ``tool`` lines for ``path``."""
        _drop(self.tool, lambda t: t.path == path)

    def add_ignore(self, path: str) -> None:
        """Add an ``ignore`` line for ``path`` unless there is one; blocks are sorted."""
        if any(i.path == path for i in self.ignore):
            return
        self.ignore.append(Ignore(path, self.syntax.add_line(None, "ignore", path)))
        self.sort_blocks()

    def drop_ignore(self, path: str) -> None:
        """Delete the ``ignore`` lines for ``path``."""
        _drop(self.ignore, lambda i: i.path == path)

    def sort_blocks(self) -> None:
        """Remove duplicate exclude, replace, tool and ignore lines, then sort every block.

        Earlier exclude/tool/ignore lines win, later replace lines win; require and retract
        lines are never de-duplicated. Exclude blocks sort by semver from ``go 1.21`` on.
        """
        kill: set[int] = set()
        self.exclude = keep_first(self.exclude, lambda x: x.mod, kill)
        self.replace = keep_last(self.replace, lambda r: r.old, kill)
        self.tool = keep_first(self.tool, lambda t: t.path, kill)
        self.ignore = keep_first(self.ignore, lambda i: i.path, kill)
        drop_killed(self.syntax, kill)
        semantic = self.go is not None and semver.compare("v" + self.go.version, "v1.21") >= 0
        sort_blocks(self.syntax, semantic_exclude=semantic)

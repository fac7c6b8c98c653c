"""Editing require directives (x/mod ``SetRequire``, ``SetRequireSeparateIndirect`` and the
``// indirect`` comment helpers of ``modfile/rule.go``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gomodproxy.module.gostrings import auto_quote, go_fields, go_trim_space
from gomodproxy.module.modfile.syntax import Comment, Comments, Line, LineBlock
from gomodproxy.module.modfile.values import ModuleVersion, Require

if TYPE_CHECKING:
    from gomodproxy.module.modfile.edits import ModFile

__all__ = [
    "is_indirect",
    "require_line",
    "set_indirect",
    "set_require",
    "set_require_separate_indirect",
    "set_version",
]


def is_indirect(line: Line) -> bool:
    """Whether the line's first end-of-line comment is ``// indirect`` or ``// indirect; ...``."""
    if not line.comments.suffix:
        return False
    f = go_fields(line.comments.suffix[0].token.removeprefix("//"))
    return (len(f) == 1 and f[0] == "indirect") or (len(f) > 1 and f[0] == "indirect;")


def set_indirect(line: Line, indirect: bool) -> None:
    """Give the line an ``// indirect`` comment, or take it away, keeping other comment text."""
    if is_indirect(line) == indirect:
        return
    suffix = line.comments.suffix
    if indirect:
        if not suffix:
            line.comments.suffix = [Comment("// indirect", suffix=True)]
            return
        text = go_trim_space(suffix[0].token.removeprefix("//"))
        token = "// indirect" if text == "" else "// indirect; " + text
        suffix[0] = dataclasses.replace(suffix[0], token=token)
        return
    if go_trim_space(suffix[0].token.removeprefix("//")) == "indirect":
        line.comments.suffix = []
        return
    token = suffix[0].token
    i = token.find("indirect;")
    suffix[0] = dataclasses.replace(suffix[0], token="//" + token[i + len("indirect;") :])


def set_version(line: Line, version: str) -> None:
    """Put ``version`` into a require line (x/mod ``Require.setVersion``, syntax part)."""
    if not line.token:
        return
    if line.in_block:
        # A blank line before the requirement goes away (golang.org/issue/33779).
        before = line.comments.before
        if len(before) == 1 and before[0].token == "":
            line.comments.before = []
        if len(line.token) >= 2:
            line.token[1] = version
    elif len(line.token) >= 3:
        line.token[2] = version


def require_line(r: Require) -> Line:
    """The syntax line of a requirement read from a file."""
    if r.syntax is None:
        raise ValueError(f"requirement {r.mod} has no syntax line")
    return r.syntax


def set_require(f: ModFile, req: Iterable[Require]) -> None:
    """Make ``f`` require exactly ``req`` (x/mod ``File.SetRequire``); see ModFile."""
    need: dict[str, tuple[str, bool]] = {}
    for r in req:
        prev = need.get(r.mod.path)
        if prev is not None and prev[0] != r.mod.version:
            raise ValueError(
                f"set_require called with conflicting versions for path {r.mod.path} "
                f"({prev[0]} and {r.mod.version})"
            )
        need[r.mod.path] = (r.mod.version, r.indirect)

    kept: list[Require] = []
    for r in f.require:
        line = require_line(r)
        wanted = need.pop(r.mod.path, None)
        if wanted is None:
            line.mark_removed()
            continue
        version, indirect = wanted
        set_version(line, version)
        set_indirect(line, indirect)
        kept.append(Require(ModuleVersion(r.mod.path, version), indirect, line))
    f.require = kept

    for path, (version, indirect) in need.items():
        f.add_new_require(path, version, indirect)
    f.sort_blocks()


def _has_comments(c: Comments) -> bool:
    # Comments other than "indirect".
    return (
        bool(c.before)
        or bool(c.after)
        or len(c.suffix) > 1
        or (
            len(c.suffix) == 1 and go_trim_space(c.suffix[0].token.removeprefix("//")) != "indirect"
        )
    )


def _move_req(r: Require, block: LineBlock) -> Require:
    """Add the requirement's line to ``block``, leaving its old line for cleanup to delete."""
    if r.syntax is None:
        line = Line(token=[auto_quote(r.mod.path), r.mod.version])
        if r.indirect:
            set_indirect(line, True)
    else:
        old = r.syntax
        line = Line(
            token=list(old.token),
            comments=Comments(
                list(old.comments.before), list(old.comments.suffix), list(old.comments.after)
            ),
            start=old.start,
            end=old.end,
            in_block=old.in_block,
        )
        if not line.in_block and line.token and line.token[0] == "require":
            line.token = line.token[1:]
        old.token = []  # cleanup deletes the old line
    line.in_block = True
    block.line.append(line)
    return Require(r.mod, r.indirect, line)


def set_require_separate_indirect(f: ModFile, req: Iterable[Require]) -> None:
    """Like :func:`set_require`, with direct and indirect requirements in separate blocks
    (x/mod ``File.SetRequireSeparateIndirect``); see ModFile."""
    stmts = f.syntax.stmt
    last_direct_index = last_indirect_index = last_require_index = -1
    count = 0
    line_to_block: dict[int, LineBlock] = {}
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, Line):
            if not stmt.token or stmt.token[0] != "require":
                continue
            last_require_index = i
            count += 1
            if not _has_comments(stmt.comments):
                if is_indirect(stmt):
                    last_indirect_index = i
                else:
                    last_direct_index = i
        elif isinstance(stmt, LineBlock):
            if not stmt.token or stmt.token[0] != "require":
                continue
            last_require_index = i
            count += 1
            all_direct = all_indirect = bool(stmt.line) and not _has_comments(stmt.comments)
            for line in stmt.line:
                line_to_block[id(line)] = stmt
                if _has_comments(line.comments):
                    all_direct = all_indirect = False
                elif is_indirect(line):
                    all_direct = False
                else:
                    all_indirect = False
            if all_direct:
                last_direct_index = i
            if all_indirect:
                last_indirect_index = i

    one_flat_uncommented_block = count == 1 and not _has_comments(
        stmts[last_require_index].comments
    )

    def insert_block(i: int) -> LineBlock:
        block = LineBlock(token=["require"])
        stmts.insert(i, block)
        return block

    def ensure_block(i: int) -> LineBlock:
        stmt = stmts[i]
        if isinstance(stmt, LineBlock):
            return stmt
        if not isinstance(stmt, Line):
            raise TypeError(f"unexpected statement: {stmt!r}")
        block = LineBlock(token=["require"], line=[stmt])
        stmt.token = stmt.token[1:]  # remove "require"
        stmt.in_block = True
        stmts[i] = block
        return block

    if last_direct_index < 0:
        if last_indirect_index >= 0:
            last_direct_index = last_indirect_index
            last_indirect_index += 1
        elif last_require_index >= 0:
            last_direct_index = last_require_index + 1
        else:
            last_direct_index = len(stmts)
        last_direct_block = insert_block(last_direct_index)
    else:
        last_direct_block = ensure_block(last_direct_index)

    if last_indirect_index < 0:
        last_indirect_index = last_direct_index + 1
        last_indirect_block = insert_block(last_indirect_index)
    else:
        last_indirect_block = ensure_block(last_indirect_index)

    # Delete unwanted and duplicate requirements; update the rest, moving those in the last
    # direct/indirect block (or in one flat uncommented block) whose marking changed.
    need = {r.mod.path: r for r in req}
    have: set[str] = set()
    kept: list[Require] = []
    for r in f.require:
        path = r.mod.path
        line = require_line(r)
        wanted = need.get(path)
        if wanted is None or path in have:
            line.mark_removed()
            continue
        have.add(path)
        set_version(line, wanted.mod.version)
        set_indirect(line, wanted.indirect)
        r = Require(ModuleVersion(path, wanted.mod.version), wanted.indirect, line)
        block = line_to_block.get(id(line))
        if wanted.indirect and (one_flat_uncommented_block or block is last_direct_block):
            r = _move_req(r, last_indirect_block)
        elif not wanted.indirect and (one_flat_uncommented_block or block is last_indirect_block):
            r = _move_req(r, last_direct_block)
        kept.append(r)
    f.require = kept

    # Add new requirements (a caller's syntax line is not reused).
    for path, r in need.items():
        if path not in have:
            fresh = Require(r.mod, r.indirect)
            f.require.append(
                _move_req(fresh, last_indirect_block if r.indirect else last_direct_block)
            )
    f.sort_blocks()

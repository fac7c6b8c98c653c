"""The go.mod syntax tree: statements, blocks and their attached comments.

A port of the syntax half of x/mod ``modfile/read.go`` (``FileSyntax``, ``Line``, ``LineBlock``,
``CommentBlock``, ``Comments``, ``addLine``, ``updateLine``, ``Cleanup``).

The tree is made of mutable classes on purpose: the editing operations of
:class:`~gomodproxy.module.modfile.rules.ModFile` work like x/mod's, by changing lines in place
(a removed line keeps its place with no tokens until :meth:`FileSyntax.cleanup`), and the
semantic values point at the very :class:`Line` objects they came from. Nodes compare by
identity, as Go pointers do. Only :class:`Position` and :class:`Comment` are frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Comment",
    "CommentBlock",
    "Comments",
    "Expr",
    "FileSyntax",
    "LParen",
    "Line",
    "LineBlock",
    "Position",
    "RParen",
]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the input: 1-based line, 1-based rune in the line, 0-based offset.

    ``offset`` counts characters of the decoded text (x/mod counts bytes); it only orders
    positions, so the difference never shows.
    """

    line: int = 0
    line_rune: int = 0
    offset: int = 0

    def add(self, s: str) -> Position:
        """The position at the end of ``s`` when ``s`` starts here (x/mod ``Position.add``)."""
        line, line_rune = self.line, self.line_rune
        newlines = s.count("\n")
        if newlines:
            line += newlines
            s = s[s.rfind("\n") + 1 :]
            line_rune = 1
        return Position(line, line_rune + len(s), self.offset + len(s))


@dataclass(frozen=True, slots=True)
class Comment:
    """One ``//`` comment; ``token`` has no trailing newline. An empty token is a blank line."""

    token: str = ""
    start: Position = Position()
    suffix: bool = False


@dataclass(slots=True, eq=False)
class Comments:
    """The comments attached to a node: whole-line before it, end-of-line after it, and
    (for top-level statements only) whole-line comments following it."""

    before: list[Comment] = field(default_factory=list)
    suffix: list[Comment] = field(default_factory=list)
    after: list[Comment] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class CommentBlock:
    """A top-level block of comments separate from any statement."""

    comments: Comments = field(default_factory=Comments)
    start: Position = Position()

    def span(self) -> tuple[Position, Position]:
        """Start and end position, excluding comments."""
        return self.start, self.start


@dataclass(slots=True, eq=False)
class Line:
    """A single line of tokens, at top level or inside a block (``in_block``).

    A line removed by an edit has no tokens; :meth:`FileSyntax.cleanup` drops it.
    """

    token: list[str] = field(default_factory=list)
    comments: Comments = field(default_factory=Comments)
    start: Position = Position()
    end: Position = Position()
    in_block: bool = False

    def span(self) -> tuple[Position, Position]:
        """Start and end position, excluding comments."""
        return self.start, self.end

    def mark_removed(self) -> None:
        """Drop the line (and its end-of-line comment) at the next cleanup."""
        self.token = []
        self.comments.suffix = []


@dataclass(slots=True, eq=False)
class LParen:
    """The ``(`` opening a block: a place for its end-of-line comments."""

    comments: Comments = field(default_factory=Comments)
    pos: Position = Position()

    def span(self) -> tuple[Position, Position]:
        """Start and end position, excluding comments."""
        return self.pos, self.pos.add(")")


@dataclass(slots=True, eq=False)
class RParen:
    """The ``)`` closing a block: a place for the whole-line comments before it."""

    comments: Comments = field(default_factory=Comments)
    pos: Position = Position()

    def span(self) -> tuple[Position, Position]:
        """Start and end position, excluding comments."""
        return self.pos, self.pos.add(")")


@dataclass(slots=True, eq=False)
class LineBlock:
    """A factored block of lines, ``verb ( ... )``."""

    token: list[str] = field(default_factory=list)
    line: list[Line] = field(default_factory=list)
    comments: Comments = field(default_factory=Comments)
    start: Position = Position()
    lparen: LParen = field(default_factory=LParen)
    rparen: RParen = field(default_factory=RParen)

    def span(self) -> tuple[Position, Position]:
        """Start and end position, excluding comments."""
        return self.start, self.rparen.pos.add(")")


Expr = CommentBlock | Line | LineBlock
"""A top-level statement of a :class:`FileSyntax`."""


@dataclass(slots=True, eq=False)
class FileSyntax:
    """A whole go.mod or go.work file as a list of statements."""

    name: str = ""
    stmt: list[Expr] = field(default_factory=list)
    comments: Comments = field(default_factory=Comments)

    def span(self) -> tuple[Position, Position]:
        """From the start of the first statement to the end of the last."""
        if not self.stmt:
            return Position(), Position()
        return self.stmt[0].span()[0], self.stmt[-1].span()[1]

    def add_line(self, hint: Line | LineBlock | None, *tokens: str) -> Line:
        """Add a line of ``tokens`` near ``hint`` (x/mod ``FileSyntax.addLine``).

        With a hint whose verb matches, the line joins the hint's block (turning a lone hint line
        into a block); with a non-matching hint it goes after the hint's statement. Without a
        hint it joins the last statement with the same verb, or goes at the end of the file.
        """
        toks = list(tokens)
        if hint is None:
            for stmt in reversed(self.stmt):
                if isinstance(stmt, Line) and stmt.token and stmt.token[0] == toks[0]:
                    hint = stmt
                    break
                if isinstance(stmt, LineBlock) and stmt.token[0] == toks[0]:
                    hint = stmt
                    break
        if hint is not None:
            for i, stmt in enumerate(self.stmt):
                if isinstance(stmt, Line) and stmt is hint:
                    if not stmt.token or stmt.token[0] != toks[0]:
                        return self._new_line_after(i, toks)
                    # Convert the line into a block.
                    stmt.in_block = True
                    block = LineBlock(token=stmt.token[:1], line=[stmt])
                    stmt.token = stmt.token[1:]
                    self.stmt[i] = block
                    new = Line(token=toks[1:], in_block=True)
                    block.line.append(new)
                    return new
                if isinstance(stmt, LineBlock):
                    if stmt is hint:
                        if stmt.token[0] != toks[0]:
                            return self._new_line_after(i, toks)
                        new = Line(token=toks[1:], in_block=True)
                        stmt.line.append(new)
                        return new
                    for j, line in enumerate(stmt.line):
                        if line is hint:
                            if stmt.token[0] != toks[0]:
                                return self._new_line_after(i, toks)
                            new = Line(token=toks[1:], in_block=True)
                            stmt.line.insert(j + 1, new)
                            return new
        new = Line(token=toks)
        self.stmt.append(new)
        return new

    def add_line_near(self, hint: Line | None, *tokens: str) -> Line:
        """Add a line after ``hint`` in its block, or, without a hint, at the end of the file.

        This is what x/mod's ``AddExclude`` and ``AddReplace`` do: they pass ``addLine`` a typed
        nil ``*Line`` hint, which never matches a statement, so a line with no same-path hint
        goes to the end of the file instead of into the last block of its verb.
        """
        if hint is None:
            new = Line(token=list(tokens))
            self.stmt.append(new)
            return new
        return self.add_line(hint, *tokens)

    def _new_line_after(self, i: int, toks: list[str]) -> Line:
        new = Line(token=toks)
        self.stmt.insert(i + 1, new)
        return new

    def update_line(self, line: Line, *tokens: str) -> None:
        """Replace the tokens of ``line`` (dropping the verb inside a block)."""
        line.token = list(tokens[1:] if line.in_block else tokens)

    def cleanup(self) -> None:
        """Drop removed lines, empty blocks, and collapse one-line blocks (x/mod ``Cleanup``)."""
        kept: list[Expr] = []
        for stmt in self.stmt:
            if isinstance(stmt, Line):
                if not stmt.token:
                    continue
            elif isinstance(stmt, LineBlock):
                lines = [line for line in stmt.line if line.token]
                if not lines:
                    continue
                if len(lines) == 1 and not stmt.rparen.comments.before:
                    # Collapse the block into a single line, keeping the Line object that the
                    # semantic values point at.
                    only = lines[0]
                    before = stmt.comments.before + only.comments.before
                    suffix = only.comments.suffix + stmt.comments.suffix
                    after = only.comments.after + stmt.comments.after
                    only.comments = Comments(before=before, suffix=suffix, after=after)
                    only.token = stmt.token + only.token
                    only.start = Position()
                    only.end = Position()
                    only.in_block = False
                    kept.append(only)
                    continue
                stmt.line = lines
            kept.append(stmt)
        self.stmt = kept

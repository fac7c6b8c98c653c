"""The go.mod formatter: a port of x/mod ``modfile/print.go`` (``Format``).

It prints a syntax tree in the standard style ``go mod edit -fmt`` writes: one blank line between
top-level statements, blocks indented with one tab, comments where they were attached.
"""

from __future__ import annotations

from gomodproxy.module.gostrings import go_trim_space
from gomodproxy.module.modfile.syntax import (
    Comment,
    CommentBlock,
    FileSyntax,
    Line,
    LineBlock,
    LParen,
    RParen,
)

__all__ = ["format_file"]

_NL = ord("\n")


def format_file(file: FileSyntax) -> bytes:
    """Format a go.mod or go.work syntax tree in standard style (x/mod ``modfile.Format``)."""
    printer = _Printer()
    printer.file(file)
    out = printer.buf
    # Remove trailing blank lines.
    while out and out[-1] == _NL and (len(out) == 1 or out[-2] == _NL):
        del out[-1]
    return bytes(out)


class _Printer:
    def __init__(self) -> None:
        self.buf = bytearray()
        self._comment: list[Comment] = []  # pending end-of-line comments
        self._margin = 0  # left margin, in tabs

    def _print(self, s: str) -> None:
        self.buf += s.encode("utf-8", "surrogateescape")

    def _indent(self) -> int:
        """The position on the current line, in bytes, 0-indexed."""
        return len(self.buf) - (self.buf.rfind(b"\n") + 1)

    def _trim(self) -> None:
        """Remove trailing spaces and tabs from the current line."""
        n = len(self.buf)
        while n > 0 and self.buf[n - 1] in b"\t ":
            n -= 1
        del self.buf[n:]

    def _newline(self) -> None:
        """End the current line, flushing end-of-line comments."""
        if self._comment:
            self._print(" ")
            for i, com in enumerate(self._comment):
                if i > 0:
                    self._trim()
                    self._print("\n" + "\t" * self._margin)
                self._print(go_trim_space(com.token))
            self._comment = []
        self._trim()
        b = self.buf
        if not (len(b) == 0 or (len(b) >= 2 and b[-1] == _NL and b[-2] == _NL)):
            # Skip the blank line at the top of the file or after a blank line.
            self._print("\n")
        self._print("\t" * self._margin)

    def file(self, f: FileSyntax) -> None:
        for com in f.comments.before:
            self._print(go_trim_space(com.token))
            self._newline()
        for i, stmt in enumerate(f.stmt):
            self._expr(stmt)
            if not isinstance(stmt, CommentBlock):
                self._newline()
            for com in stmt.comments.after:
                self._print(go_trim_space(com.token))
                self._newline()
            if i + 1 < len(f.stmt):
                self._newline()

    def _expr(self, x: CommentBlock | Line | LineBlock | LParen | RParen) -> None:
        # Whole-line comments before the expression, at the current margin.
        before = x.comments.before
        if before:
            self._trim()
            if self._indent() > 0:
                # Other text on the line: start a new one.
                self._print("\n")
            self._print("\t" * self._margin)
            for com in before:
                self._print(go_trim_space(com.token))
                self._newline()

        if isinstance(x, LParen):
            self._print("(")
        elif isinstance(x, RParen):
            self._print(")")
        elif isinstance(x, Line):
            self._tokens(x.token)
        elif isinstance(x, LineBlock):
            self._tokens(x.token)
            self._print(" ")
            self._expr(x.lparen)
            self._margin += 1
            for line in x.line:
                self._newline()
                self._expr(line)
            self._margin -= 1
            self._newline()
            self._expr(x.rparen)

        # End-of-line comments wait for the end of the line.
        self._comment.extend(x.comments.suffix)

    def _tokens(self, tokens: list[str]) -> None:
        sep = ""
        for t in tokens:
            if t in (",", ")", "]", "}"):
                sep = ""
            self._print(sep + t)
            sep = "" if t in ("(", "[", "{") else " "

"""The go.mod lexer: a port of x/mod ``modfile/read.go``'s ``input.readToken`` and friends.

Line-oriented: newlines are tokens; ``//`` comments run to the end of the line (a comment alone on
its line is a ``COMMENT`` token, one after other text an ``EOLCOMMENT`` that is also saved for
attachment); ``( ) [ ] { } ,`` are punctuation; ``"..."`` and backquoted strings are single tokens
(kept with their quotes); everything else printable and not a space is an identifier character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gomodproxy.module.gostrings import go_quote_rune, go_trim_space, is_print, is_space
from gomodproxy.module.modfile.syntax import Comment, Position

__all__ = [
    "COMMENT",
    "EOF",
    "EOLCOMMENT",
    "IDENT",
    "STRING",
    "Lexer",
    "ModFileScanError",
    "Token",
    "is_eol",
]

EOF = "EOF"
EOLCOMMENT = "EOLCOMMENT"
IDENT = "IDENT"
STRING = "STRING"
COMMENT = "COMMENT"
# Newline and punctuation tokens use the character itself as their kind.
_PUNCTUATION = frozenset("\n()[]{},")
_NOT_IDENT = frozenset(" ()[]{},")
# A run of ASCII identifier characters other than "/" (which may start a comment).
_ASCII_IDENT_RUN = re.compile(r"[^\x00-\x20()\[\]{},/\x7f-\U0010ffff]+")


class ModFileScanError(Exception):
    """Raised inside the reader at the first lexical or syntax error (x/mod ``input.Error``)."""

    def __init__(self, pos: Position, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, text and start/end positions."""

    kind: str
    text: str
    pos: Position
    end_pos: Position


def is_eol(kind: str) -> bool:
    """Whether a token of this kind ends a line (x/mod ``tokenKind.isEOL``)."""
    return kind in (EOF, EOLCOMMENT, "\n")


def _is_ident(ch: str) -> bool:
    # x/mod isIdent; a non-UTF-8 byte decodes to U+FFFD in Go, which is printable.
    if ch in _NOT_IDENT:
        return False
    if "\udc80" <= ch <= "\udcff":
        return True
    return not is_space(ch) and is_print(ch)


class Lexer:
    """Turns go.mod text into tokens, one look-ahead token at a time."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._i = 0
        self._line = 1
        self._line_rune = 1
        self._token_start = 0
        self._token_pos = Position(1, 1, 0)
        self.comments: list[Comment] = []
        """End-of-line comments, saved for attachment to the syntax tree."""
        self.token = Token(EOF, "", Position(1, 1, 0), Position(1, 1, 0))
        self._read_token()

    @property
    def pos(self) -> Position:
        """The current input position."""
        return Position(self._line, self._line_rune, self._i)

    def error(self, message: str, pos: Position | None = None) -> ModFileScanError:
        """An error at ``pos`` (default: the current position) for the caller to raise."""
        return ModFileScanError(self.pos if pos is None else pos, message)

    def peek(self) -> str:
        """The kind of the next token."""
        return self.token.kind

    def lex(self) -> Token:
        """Return the next token and read the one after it."""
        tok = self.token
        self._read_token()
        return tok

    def _eof(self) -> bool:
        return self._i >= len(self._text)

    def _peek_char(self) -> str:
        return self._text[self._i] if self._i < len(self._text) else ""

    def _read_char(self) -> str:
        ch = self._text[self._i]
        self._i += 1
        if ch == "\n":
            self._line += 1
            self._line_rune = 1
        else:
            self._line_rune += 1
        return ch

    def _start_token(self) -> None:
        self._token_start = self._i
        self._token_pos = self.pos

    def _end_token(self, kind: str) -> None:
        text = self._text[self._token_start : self._i]
        if kind in (COMMENT, EOLCOMMENT):
            # A single trailing newline (LF or CRLF) is removed from comment tokens.
            if text.endswith("\r\n"):
                text = text[:-2]
            elif text.endswith("\n"):
                text = text[:-1]
        self.token = Token(kind, text, self._token_pos, self.pos)

    def _read_token(self) -> None:
        text = self._text
        while not self._eof():
            ch = text[self._i]
            if ch in " \t\r":
                self._read_char()
                continue
            if text.startswith("//", self._i):
                self._start_token()
                # Is this comment the only thing on its line?
                line_start = text.rfind("\n", 0, self._i) + 1
                suffix = go_trim_space(text[line_start : self._i]) != ""
                # The comment runs to the end of the line, newline included.
                end = text.find("\n", self._i)
                if end < 0:
                    self._line_rune += len(text) - self._i
                    self._i = len(text)
                else:
                    self._i = end + 1
                    self._line += 1
                    self._line_rune = 1
                if not suffix:
                    self._end_token(COMMENT)
                    return
                self._end_token(EOLCOMMENT)
                self.comments.append(Comment(self.token.text, self.token.pos, True))
                return
            if text.startswith("/*", self._i):
                raise self.error("mod files must use // comments (not /* */ comments)")
            break

        self._start_token()
        if self._eof():
            self._end_token(EOF)
            return

        ch = text[self._i]
        if ch in _PUNCTUATION:
            self._read_char()
            self._end_token(ch)
            return

        if ch in '"`':
            quote = ch
            self._read_char()
            while True:
                if self._eof():
                    raise self.error("unexpected EOF in string", self._token_pos)
                if text[self._i] == "\n":
                    raise self.error("unexpected newline in string")
                c = self._read_char()
                if c == quote:
                    break
                if c == "\\" and quote != "`":
                    if self._eof():
                        raise self.error("unexpected EOF in string", self._token_pos)
                    self._read_char()
            self._end_token(STRING)
            return

        if not _is_ident(ch):
            raise self.error(f"unexpected input character {go_quote_rune(ch)}")

        i = self._i
        n = len(text)
        while i < n:
            run = _ASCII_IDENT_RUN.match(text, i)
            if run is not None:
                i = run.end()
                continue
            ch = text[i]
            if ch == "/":
                if text.startswith("//", i):
                    break
                if text.startswith("/*", i):
                    self._line_rune += i - self._i
                    self._i = i
                    raise self.error("mod files must use // comments (not /* */ comments)")
                i += 1
            elif ch >= "\x80" and _is_ident(ch):
                i += 1
            else:
                break
        # Identifier characters are never newlines.
        self._line_rune += i - self._i
        self._i = i
        self._end_token(IDENT)

"""Reading go.mod text into a :class:`~gomodproxy.module.modfile.syntax.FileSyntax`.

A port of the parser and comment assignment of x/mod ``modfile/read.go`` (``parse``,
``parseFile``, ``parseStmt``, ``parseLineBlock``, ``parseLine``, ``assignComments``) and of its
``ModulePath``.
"""

from __future__ import annotations

from gomodproxy.module.gostrings import go_trim_space, go_unquote
from gomodproxy.module.modfile.errorlist import GoModParseError, ModFileError
from gomodproxy.module.modfile.lexer import (
    COMMENT,
    EOF,
    EOLCOMMENT,
    Lexer,
    ModFileScanError,
    Token,
    is_eol,
)
from gomodproxy.module.modfile.syntax import (
    Comment,
    CommentBlock,
    FileSyntax,
    Line,
    LineBlock,
    LParen,
    Position,
    RParen,
)

__all__ = ["decode", "module_path", "parse_syntax"]

_Node = FileSyntax | CommentBlock | Line | LineBlock | LParen | RParen


def decode(data: bytes) -> str:
    """go.mod bytes as text; bytes that are not UTF-8 survive as lone surrogates."""
    return data.decode("utf-8", "surrogateescape")


def parse_syntax(filename: str, data: bytes) -> FileSyntax:
    """Parse go.mod or go.work bytes into a syntax tree, without interpreting directives.

    Raises :class:`GoModParseError` with x/mod's message at the first syntax error.
    """
    try:
        lexer = Lexer(decode(data))
        file = _Parser(lexer, filename).parse_file()
    except ModFileScanError as exc:
        error = ModFileError(filename, exc.pos.line, exc.pos.line_rune, exc.message)
        raise GoModParseError([error]) from None
    file.name = filename
    _assign_comments(file, lexer.comments)
    return file


class _Parser:
    def __init__(self, lexer: Lexer, filename: str) -> None:
        self._in = lexer
        self._filename = filename
        self._file = FileSyntax()

    def parse_file(self) -> FileSyntax:
        lex = self._in
        file = self._file
        cb: CommentBlock | None = None
        while True:
            kind = lex.peek()
            if kind == "\n":
                lex.lex()
                if cb is not None:
                    file.stmt.append(cb)
                    cb = None
            elif kind == COMMENT:
                tok = lex.lex()
                if cb is None:
                    cb = CommentBlock(start=tok.pos)
                cb.comments.before.append(Comment(tok.text, tok.pos))
            elif kind == EOF:
                if cb is not None:
                    file.stmt.append(cb)
                return file
            else:
                self._parse_stmt()
                if cb is not None:
                    file.stmt[-1].comments.before = cb.comments.before
                    cb = None

    def _parse_stmt(self) -> None:
        lex = self._in
        tok = lex.lex()
        start, end = tok.pos, tok.end_pos
        tokens = [tok.text]
        while True:
            tok = lex.lex()
            if is_eol(tok.kind):
                self._file.stmt.append(Line(token=tokens, start=start, end=end))
                return
            if tok.kind == "(":
                following = lex.peek()
                if is_eol(following):
                    # Start of block: no more tokens on this line.
                    self._file.stmt.append(self._parse_line_block(start, tokens, tok))
                    return
                if following == ")":
                    rparen = lex.lex()
                    if is_eol(lex.peek()):
                        # Empty block.
                        lex.lex()
                        block = LineBlock(
                            token=tokens,
                            start=start,
                            lparen=LParen(pos=tok.pos),
                            rparen=RParen(pos=rparen.pos),
                        )
                        self._file.stmt.append(block)
                        return
                    # '( )' in the middle of the line, not a block.
                    tokens += [tok.text, rparen.text]
                else:
                    # '(' in the middle of the line, not a block.
                    tokens.append(tok.text)
            else:
                tokens.append(tok.text)
                end = tok.end_pos

    def _parse_line_block(self, start: Position, token: list[str], lparen: Token) -> LineBlock:
        lex = self._in
        block = LineBlock(token=token, start=start, lparen=LParen(pos=lparen.pos))
        comments: list[Comment] = []
        while True:
            kind = lex.peek()
            if kind == EOLCOMMENT:
                # Suffix comment, attached later by _assign_comments.
                lex.lex()
            elif kind == "\n":
                # Blank line: an empty comment preserves it.
                lex.lex()
                if (not comments and block.line) or (comments and comments[-1].token != ""):
                    comments.append(Comment())
            elif kind == COMMENT:
                tok = lex.lex()
                comments.append(Comment(tok.text, tok.pos))
            elif kind == EOF:
                raise lex.error(
                    "syntax error (unterminated block started at "
                    f"{self._filename}:{start.line}:{start.line_rune})"
                )
            elif kind == ")":
                rparen = lex.lex()
                # A blank line (a single empty comment) at the end of the block is not kept.
                if len(comments) == 1 and comments[0] == Comment():
                    comments = []
                block.rparen.comments.before = comments
                block.rparen.pos = rparen.pos
                if not is_eol(lex.peek()):
                    raise lex.error("syntax error (expected newline after closing paren)")
                lex.lex()
                return block
            else:
                line = self._parse_line()
                block.line.append(line)
                line.comments.before = comments
                comments = []

    def _parse_line(self) -> Line:
        lex = self._in
        tok = lex.lex()
        start, end = tok.pos, tok.end_pos
        tokens = [tok.text]
        while True:
            tok = lex.lex()
            if is_eol(tok.kind):
                return Line(token=tokens, start=start, end=end, in_block=True)
            tokens.append(tok.text)
            end = tok.end_pos


def _order(node: _Node, pre: list[_Node], post: list[_Node]) -> None:
    pre.append(node)
    if isinstance(node, FileSyntax):
        for stmt in node.stmt:
            _order(stmt, pre, post)
    elif isinstance(node, LineBlock):
        _order(node.lparen, pre, post)
        for line in node.line:
            _order(line, pre, post)
        _order(node.rparen, pre, post)
    post.append(node)


def _assign_comments(file: FileSyntax, saved: list[Comment]) -> None:
    """Attach saved comments to nearby syntax (x/mod ``input.assignComments``).

    Whole-line comments go to the node that follows them (preorder); end-of-line comments go to
    the node that ends before them on the same line (postorder, innermost last).
    """
    pre: list[_Node] = []
    post: list[_Node] = []
    _order(file, pre, post)

    line = [c for c in saved if not c.suffix]
    suffix = [c for c in saved if c.suffix]

    for node in pre:
        start = node.span()[0]
        xcom = node.comments
        while line and start.offset >= line[0].start.offset:
            xcom.before.append(line.pop(0))
    file.comments.after.extend(line)

    for node in reversed(post):
        if isinstance(node, FileSyntax):
            continue
        start, end = node.span()
        # Suffix comments never go to something that starts on an earlier line, so that in
        # "x ( y \n z ) // comment" the comment belongs to z, not to the block.
        if start.line != end.line:
            continue
        xcom = node.comments
        while suffix and end.offset <= suffix[-1].start.offset:
            xcom.suffix.append(suffix.pop())

    # Suffix comments were assigned in reverse.
    for node in post:
        node.comments.suffix.reverse()

    file.comments.before.extend(suffix)


def module_path(data: bytes) -> str:
    """The module path from go.mod text, or "" (x/mod ``ModulePath``).

    Tolerant of unrelated problems in the file: it looks only for the first ``module`` line.
    """
    for raw in decode(data).split("\n"):
        comment = raw.find("//")
        if comment >= 0:
            raw = raw[:comment]
        line = go_trim_space(raw)
        if not line.startswith("module"):
            continue
        rest = line[len("module") :]
        trimmed = go_trim_space(rest)
        if len(trimmed) == len(rest) or not trimmed:
            continue
        if trimmed[0] in '"`':
            try:
                return go_unquote(trimmed)
            except ValueError:
                return ""  # malformed quoted string or multiline module path
        return trimmed
    return ""  # missing module path

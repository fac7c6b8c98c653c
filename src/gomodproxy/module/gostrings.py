"""Go's view of text: string quoting and character classes (the one port of them).

Module paths, go.mod files and error messages are bytes to Go; this module works on ``str``
decoded with ``surrogateescape``, so a byte that is not UTF-8 becomes one lone surrogate
U+DC80..U+DCFF and encodes back to the same byte. ``go_quote`` shows such a byte as ``\\xNN``, as
Go's ``%q`` does; where Go would decode it as ``utf8.RuneError`` (U+FFFD), a rune-wise helper
does the same.

Ports of Go's ``strconv.Quote``/``strconv.Unquote`` (src/strconv/quote.go), ``unicode.IsPrint``,
``unicode.IsSpace`` and ``unicode.IsLetter``, and x/mod modfile's ``MustQuote``/``AutoQuote``
(rule.go).
``is_print`` uses Python's ``unicodedata`` tables, so characters assigned after the Unicode version
of the running Python (14.0 for Python 3.11) count as unassigned, i.e. not printable.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "auto_quote",
    "go_fields",
    "go_quote",
    "go_quote_rune",
    "go_trim_space",
    "go_unquote",
    "has_invalid_utf8",
    "is_letter",
    "is_print",
    "is_space",
    "must_quote",
]

# Letters (categories L*) new in Unicode 15.0.0, which Go 1.21+ knows and Python 3.11's Unicode
# 14.0 database does not (Kawi, Nag Mundari, CJK Extension H, ...). Found by comparing Go's
# unicode.IsLetter with unicodedata over every code point.
_UNICODE_15_LETTERS = (
    (0x1123F, 0x11240),
    (0x11F02, 0x11F02),
    (0x11F04, 0x11F10),
    (0x11F12, 0x11F33),
    (0x1342F, 0x1342F),
    (0x13441, 0x13446),
    (0x1B132, 0x1B132),
    (0x1B155, 0x1B155),
    (0x1DF25, 0x1DF2A),
    (0x1E030, 0x1E06D),
    (0x1E4D0, 0x1E4EB),
    (0x2B739, 0x2B739),
    (0x31350, 0x323AF),
)

# unicode.IsSpace: Latin-1 spaces plus the White_Space property outside Latin-1.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# unicode.IsPrint: categories L, M, N, P, S and the ASCII space.
_PRINT_CATEGORIES = frozenset("LMNPS")
_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
_UNESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_REPLACEMENT = "\ufffd".encode()
_ASCII_MUST_QUOTE = re.compile("[\\x00-\\x20\"'`\\x7f]")
_ASCII_PUNCTUATION = re.compile(r"[()\[\]{},]")


def has_invalid_utf8(s: str) -> bool:
    """Report whether ``s`` holds a lone surrogate, i.e. came from invalid UTF-8."""
    return not s.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in s)


def is_letter(c: str) -> bool:
    """Go's ``unicode.IsLetter`` (Unicode 15.0.0): categories Lu, Ll, Lt, Lm and Lo.

    Python's own database supplies the categories; the letters it lacks from Unicode 15.0 are
    added from a table. (A Python with a newer database than Go's would accept a few letters
    Go does not know yet.)
    """
    if unicodedata.category(c).startswith("L"):
        return True
    cp = ord(c)
    return cp >= 0x11000 and any(lo <= cp <= hi for lo, hi in _UNICODE_15_LETTERS)


def _is_escaped_byte(ch: str) -> bool:
    """Report whether ``ch`` stands for a non-UTF-8 byte (``surrogateescape``)."""
    return "\udc80" <= ch <= "\udcff"


def is_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace`` for one character."""
    return ch in _SPACES


def is_print(ch: str) -> bool:
    """Go's ``unicode.IsPrint`` for one character (a non-UTF-8 byte is not printable)."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in _PRINT_CATEGORIES


def go_trim_space(s: str) -> str:
    """Go's ``strings.TrimSpace``: strip ``unicode.IsSpace`` characters at both ends."""
    start, end = 0, len(s)
    while start < end and s[start] in _SPACES:
        start += 1
    while end > start and s[end - 1] in _SPACES:
        end -= 1
    return s[start:end]


def go_fields(s: str) -> list[str]:
    """Go's ``strings.Fields``: split around runs of ``unicode.IsSpace`` characters."""
    fields: list[str] = []
    current: list[str] = []
    for ch in s:
        if ch in _SPACES:
            if current:
                fields.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        fields.append("".join(current))
    return fields


def _escape_rune(ch: str, quote: str) -> str:
    # strconv.appendEscapedRune with ASCIIonly=false, graphicOnly=false.
    if ch in (quote, "\\"):
        return "\\" + ch
    if is_print(ch):
        return ch
    simple = _SIMPLE_ESCAPES.get(ch)
    if simple is not None:
        return simple
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: a double-quoted Go string literal for ``s``."""
    out = ['"']
    for ch in s:
        if _is_escaped_byte(ch):
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(_escape_rune(ch, '"'))
    out.append('"')
    return "".join(out)


def go_quote_rune(ch: str) -> str:
    """Go's ``strconv.QuoteRune``: a single-quoted Go character literal for ``ch``."""
    if _is_escaped_byte(ch):
        ch = "\ufffd"
    return "'" + _escape_rune(ch, "'") + "'"


def _unquote_char(s: str, i: int, quote: str) -> tuple[bytes, int]:
    """strconv.UnquoteChar: decode the character at ``s[i]``; return its bytes and next index."""
    c = s[i]
    if c == quote:
        raise ValueError("invalid syntax")
    if c != "\\":
        if _is_escaped_byte(c):
            return _REPLACEMENT, i + 1
        return c.encode("utf-8", "surrogatepass"), i + 1
    if i + 1 >= len(s):
        raise ValueError("invalid syntax")
    c = s[i + 1]
    i += 2
    if c in _UNESCAPES:
        return bytes([_UNESCAPES[c]]), i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[i : i + n]
        if len(digits) < n or not all(d in _HEX_DIGITS for d in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if c == "x":
            return bytes([value]), i + n
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError("invalid syntax")
        return chr(value).encode(), i + n
    if c in "01234567":
        digits = s[i - 1 : i + 2]
        if len(digits) < 3 or not all(d in "01234567" for d in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 8)
        if value > 255:
            raise ValueError("invalid syntax")
        return bytes([value]), i + 2
    if c in "'\"" and c == quote:
        return c.encode(), i
    raise ValueError("invalid syntax")


def go_unquote(s: str) -> str:
    """Go's ``strconv.Unquote`` for ``"..."`` and backquoted literals (go.mod's only forms;
    single-quoted rune literals are refused).

    Raises ``ValueError("invalid syntax")`` like Go's ``strconv.ErrSyntax``.
    """
    if len(s) < 2:
        raise ValueError("invalid syntax")
    quote = s[0]
    end = s.find(quote, 1)
    if end < 0:
        raise ValueError("invalid syntax")
    end += 1
    if quote == "`":
        if end != len(s):
            raise ValueError("invalid syntax")
        return s[1 : end - 1].replace("\r", "")
    if quote != '"':
        raise ValueError("invalid syntax")
    head = s[:end]
    if "\\" not in head and "\n" not in head:
        body = head[1:-1]
        if not any(_is_escaped_byte(ch) for ch in body):
            if end != len(s):
                raise ValueError("invalid syntax")
            return body
    buf = bytearray()
    i = 1
    while i < len(s) and s[i] != quote:
        if s[i] == "\n":
            raise ValueError("invalid syntax")
        piece, i = _unquote_char(s, i, quote)
        buf += piece
    if i >= len(s) or s[i] != quote or i + 1 != len(s):
        raise ValueError("invalid syntax")
    return buf.decode("utf-8", "surrogateescape")


def must_quote(s: str) -> bool:
    """x/mod ``MustQuote``: whether ``s`` needs quoting to be one token of a go.mod line."""
    if s.isascii():
        return (
            s == ""
            or _ASCII_MUST_QUOTE.search(s) is not None
            or (len(s) > 1 and _ASCII_PUNCTUATION.search(s) is not None)
            or "//" in s
            or "/*" in s
        )
    for ch in s:
        if ch in " \"'`":
            return True
        if ch in "()[]{},":
            if len(s) > 1:
                return True
        elif _is_escaped_byte(ch):
            # Go decodes the byte as U+FFFD, which is printable.
            continue
        elif not is_print(ch):
            return True
    return s == "" or "//" in s or "/*" in s


def auto_quote(s: str) -> str:
    """x/mod ``AutoQuote``: ``s``, or its Go quotation when :func:`must_quote` says so."""
    return go_quote(s) if must_quote(s) else s

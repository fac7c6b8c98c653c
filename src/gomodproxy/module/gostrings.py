"""Go's view of text: ``%q`` quoting for error messages and ``unicode.IsLetter``.

Strings here may carry lone surrogates: that is how bytes of invalid UTF-8 look after
``bytes.decode("utf-8", "surrogateescape")``, and they are quoted as the ``\\xNN`` bytes Go would
show.
"""

from __future__ import annotations

import unicodedata

__all__ = ["go_quote", "go_quote_rune", "has_invalid_utf8", "is_letter"]

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

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


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


def _escape_char(c: str, quote: str) -> str:
    cp = ord(c)
    if c == quote:
        return "\\" + c
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c]
    if 0xDC80 <= cp <= 0xDCFF:  # surrogateescape'd byte of invalid UTF-8
        return f"\\x{cp - 0xDC00:02x}"
    if 0xD800 <= cp <= 0xDFFF:
        return "\\ufffd"
    if c == " " or c.isprintable():
        return c
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def go_quote(s: str) -> str:
    """Quote ``s`` like Go's ``strconv.Quote`` / ``%q``: ``go_quote('a"b') == '"a\\\\"b"'``."""
    return '"' + "".join(_escape_char(c, '"') for c in s) + '"'


def go_quote_rune(c: str) -> str:
    """Quote one character like Go's ``strconv.QuoteRune``: ``go_quote_rune("x") == "'x'"``."""
    return "'" + _escape_char(c, "'") + "'"

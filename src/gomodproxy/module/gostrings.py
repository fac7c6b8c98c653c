"""Go's ``%q`` quoting, so error messages name strings the way the go command prints them.

Strings here may carry lone surrogates: that is how bytes of invalid UTF-8 look after
``bytes.decode("utf-8", "surrogateescape")``, and they are quoted as the ``\\xNN`` bytes Go would
show.
"""

from __future__ import annotations

__all__ = ["go_quote", "go_quote_rune", "has_invalid_utf8"]

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

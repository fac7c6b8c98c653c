"""Module path patterns: Go's ``path.Match`` and x/mod's ``module.MatchPrefixPatterns``.

GOPRIVATE, GONOPROXY, GONOSUMDB and GOINSECURE are comma-separated lists of globs matched against
path *prefixes*, counted by element: ``rsc.io/private`` matches ``rsc.io/private/quux`` but not
``rsc.io/privateer``. The globs use Go's ``path.Match`` syntax, which differs from Python's
``fnmatch``: ``*`` and ``?`` never match ``/``, classes negate with ``^`` (not ``!``), ``\\``
escapes, and a malformed pattern is an error (here: never matches).

Matching works on UTF-8 bytes as Go does: ``?`` and classes consume one rune, literals compare
byte by byte, and an invalid byte (a lone surrogate from ``surrogateescape``) is one rune U+FFFD.
"""

from __future__ import annotations

from gomodproxy.errors import ConfigError

__all__ = ["BadPattern", "match_prefix_patterns", "path_match", "path_match_strict"]

_RUNE_ERROR = 0xFFFD


class BadPattern(ConfigError):
    """A glob is malformed (Go's ``path.ErrBadPattern``: "syntax error in pattern")."""

    def __init__(self, pattern: str) -> None:
        super().__init__(
            f"syntax error in pattern {pattern!r}: check the brackets and backslashes of the glob"
        )
        self.pattern = pattern


class _Bad(Exception):
    """Internal signal for ErrBadPattern inside the matcher."""


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _decode_rune(b: bytes, i: int) -> tuple[int, int]:
    """Decode the rune at ``b[i]`` like utf8.DecodeRune: ``(U+FFFD, 1)`` for an invalid byte."""
    for n in (1, 2, 3, 4):
        try:
            return ord(b[i : i + n].decode("utf-8")), n
        except UnicodeDecodeError:
            continue
    return _RUNE_ERROR, 1


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    """Split off leading stars and the following chunk up to the next unbracketed ``*``."""
    star = False
    while pattern[:1] == b"*":
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i : i + 1]
        if c == b"\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == b"[":
            in_range = True
        elif c == b"]":
            in_range = False
        elif c == b"*" and not in_range:
            return star, pattern[:i], pattern[i:]
        i += 1
    return star, pattern, b""


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    """Read one possibly escaped rune of a character class (path.go getEsc)."""
    if not chunk or chunk[:1] in (b"-", b"]"):
        raise _Bad
    if chunk[:1] == b"\\":
        chunk = chunk[1:]
        if not chunk:
            raise _Bad
    r, n = _decode_rune(chunk, 0)
    rest = chunk[n:]
    if (r == _RUNE_ERROR and n == 1) or not rest:
        raise _Bad
    return r, rest


def _match_class(chunk: bytes, r: int) -> tuple[bool, bytes]:
    """Match rune ``r`` against the class after ``[``; return (matched, rest of chunk)."""
    negated = chunk[:1] == b"^"
    if negated:
        chunk = chunk[1:]
    matched = False
    nrange = 0
    while True:
        if chunk[:1] == b"]" and nrange > 0:
            return matched != negated, chunk[1:]
        lo, chunk = _get_esc(chunk)
        hi = lo
        if chunk[:1] == b"-":
            hi, chunk = _get_esc(chunk[1:])
        matched = matched or lo <= r <= hi
        nrange += 1


def _match_chunk(chunk: bytes, s: bytes) -> bytes | None:
    """Match ``chunk`` (no ``*``) at the start of ``s``; return the rest of ``s`` or None.

    Like Go, the whole chunk is scanned even after a mismatch so syntax errors always surface.
    """
    failed = False
    while chunk:
        failed = failed or not s
        head = chunk[:1]
        if head == b"[":
            r = 0
            if not failed:
                r, n = _decode_rune(s, 0)
                s = s[n:]
            ok, chunk = _match_class(chunk[1:], r)
            failed = failed or not ok
            continue
        if head == b"?":
            if not failed:
                failed = s[:1] == b"/"
                _, n = _decode_rune(s, 0)
                s = s[n:]
            chunk = chunk[1:]
            continue
        if head == b"\\":
            chunk = chunk[1:]
            if not chunk:
                raise _Bad
        if not failed:
            failed = chunk[:1] != s[:1]
            s = s[1:]
        chunk = chunk[1:]
    return None if failed else s


def _match(pattern: bytes, name: bytes) -> bool:
    """Go's path.Match on bytes; raises :class:`_Bad` for a malformed pattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return b"/" not in name  # trailing * matches the rest unless it holds a /
        t = _match_chunk(chunk, name)
        if t is not None and (not t or pattern):
            name = t
            continue
        t = _match_star(chunk, pattern, name) if star else None
        if t is not None:
            name = t
            continue
        while pattern:  # no match: still report any syntax error later in the pattern
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, b"")
        return False
    return not name


def _match_star(chunk: bytes, pattern: bytes, name: bytes) -> bytes | None:
    """Let the star swallow 1.. non-slash bytes of ``name`` before ``chunk`` matches."""
    i = 0
    while i < len(name) and name[i : i + 1] != b"/":
        t = _match_chunk(chunk, name[i + 1 :])
        if t is not None and (pattern or not t):
            return t
        i += 1
    return None


def path_match_strict(pattern: str, name: str) -> bool:
    """Report whether ``name`` matches the shell pattern ``pattern`` (Go ``path.Match``).

    Raises :class:`BadPattern` when the pattern is malformed (Go returns ErrBadPattern; note that
    Go may return a plain False for some malformed patterns it does not read to the end, and so
    does this function).
    """
    try:
        return _match(_utf8(pattern), _utf8(name))
    except _Bad:
        raise BadPattern(pattern) from None


def path_match(pattern: str, name: str) -> bool:
    """Go ``path.Match`` with a malformed pattern treated as "no match"."""
    try:
        return _match(_utf8(pattern), _utf8(name))
    except _Bad:
        return False


def _prefix_elements(target: str, n: int) -> str | None:
    """The first ``n + 1`` slash-separated elements of ``target``; None if it has fewer."""
    parts = target.split("/")
    if len(parts) <= n:
        return None
    return "/".join(parts[: n + 1])


def match_prefix_patterns(globs: str, target: str) -> bool:
    """Report whether a path prefix of ``target`` matches a glob of the comma list ``globs``.

    module.MatchPrefixPatterns: empty globs are skipped, a trailing ``/`` on a glob is ignored,
    a glob with N slashes is matched against the first N+1 elements of ``target`` (no match if
    it has fewer), and malformed globs never match. ``match_prefix_patterns("", p)`` is False.
    """
    for glob in globs.split(","):
        glob = glob.removesuffix("/")
        if not glob:
            continue
        prefix = _prefix_elements(target, glob.count("/"))
        if prefix is not None and path_match(glob, prefix):
            return True
    return False

"""Go's simple case folding: ``unicode.SimpleFold``, ``strings.EqualFold`` and x/mod/zip's fold key.

The go command refuses a module zip in which two file paths are equal under Unicode *simple* case
folding (``x/mod zip/zip.go`` ``strToFold``, ``strings.EqualFold``). Python's ``str.casefold()``
is *full* case folding and is wrong for this (``"ß".casefold() == "ss"``, while Go keeps ``ß`` and
``ss`` apart but folds ``ß`` with ``ẞ``).

Go partitions the code points into fold orbits (equivalence classes). An orbit is either

* one of the irregular orbits listed in Go's ``unicode`` tables (``caseOrbit``): classes with
  three or more members such as ``K k K`` (U+212A KELVIN SIGN) and ``S s ſ``, or the singletons
  ``İ`` (U+0130) and ``ı`` (U+0131) that fold with nothing; or
* ``{r, ToLower(r), ToUpper(r)}`` for every other code point (``unicode.SimpleFold`` fallback).

We rebuild the regular orbits from Python's per-character ``lower()``/``upper()``, keeping only
single-code-point results (a multi-character result is a *full* mapping, which Go never uses) and
joining the pairs into classes; the irregular orbits are written out below. Caveat: the regular
orbits come from the Python runtime's Unicode database (3.11 ships Unicode 14.0, Go 1.21+ uses
15.0, which added no case pairs); a later Python with newer case pairs would fold them where Go
does not yet.
"""

from __future__ import annotations

from functools import cache

__all__ = ["equal_fold", "fold_key", "simple_fold"]

# The irregular fold orbits of Go's unicode package (``caseOrbit`` in unicode/tables.go, Unicode
# 15.0.0), one tuple per orbit, in ascending order.
_IRREGULAR_ORBITS: tuple[tuple[int, ...], ...] = (
    (0x004B, 0x006B, 0x212A),  # K k K(Kelvin)
    (0x0053, 0x0073, 0x017F),  # S s ſ
    (0x00B5, 0x039C, 0x03BC),  # µ Μ μ
    (0x00C5, 0x00E5, 0x212B),  # Å å Å(Angstrom)
    (0x00DF, 0x1E9E),  # ß ẞ
    (0x0130,),  # İ folds with nothing
    (0x0131,),  # ı folds with nothing
    (0x01C4, 0x01C5, 0x01C6),  # Ǆ ǅ ǆ
    (0x01C7, 0x01C8, 0x01C9),  # Ǉ ǈ ǉ
    (0x01CA, 0x01CB, 0x01CC),  # Ǌ ǋ ǌ
    (0x01F1, 0x01F2, 0x01F3),  # Ǳ ǲ ǳ
    (0x0345, 0x0399, 0x03B9, 0x1FBE),  # ͅ Ι ι ι
    (0x0392, 0x03B2, 0x03D0),  # Β β ϐ
    (0x0395, 0x03B5, 0x03F5),  # Ε ε ϵ
    (0x0398, 0x03B8, 0x03D1, 0x03F4),  # Θ θ ϑ ϴ
    (0x039A, 0x03BA, 0x03F0),  # Κ κ ϰ
    (0x03A0, 0x03C0, 0x03D6),  # Π π ϖ
    (0x03A1, 0x03C1, 0x03F1),  # Ρ ρ ϱ
    (0x03A3, 0x03C2, 0x03C3),  # Σ ς σ
    (0x03A6, 0x03C6, 0x03D5),  # Φ φ ϕ
    (0x03A9, 0x03C9, 0x2126),  # Ω ω Ω(Ohm)
    (0x0412, 0x0432, 0x1C80),  # В в ᲀ
    (0x0414, 0x0434, 0x1C81),  # Д д ᲁ
    (0x041E, 0x043E, 0x1C82),  # О о ᲂ
    (0x0421, 0x0441, 0x1C83),  # С с ᲃ
    (0x0422, 0x0442, 0x1C84, 0x1C85),  # Т т ᲄ ᲅ
    (0x042A, 0x044A, 0x1C86),  # Ъ ъ ᲆ
    (0x0462, 0x0463, 0x1C87),  # Ѣ ѣ ᲇ
    (0x1C88, 0xA64A, 0xA64B),  # ᲈ Ꙋ ꙋ
    (0x1E60, 0x1E61, 0x1E9B),  # Ṡ ṡ ẛ
)

# No code point at or above U+20000 has a case mapping (planes 2 and up hold ideographs, tags and
# private use), so the scan stops there.
_SCAN_LIMIT = 0x20000
_RUNE_ERROR = 0xFFFD
_MAX_RUNE = 0x10FFFF


def _single(s: str) -> int | None:
    return ord(s) if len(s) == 1 else None


def _find(parent: dict[int, int], x: int) -> int:
    root = x
    while parent.get(root, root) != root:
        root = parent[root]
    while parent.get(x, x) != root:
        parent[x], x = root, parent[x]
    return root


def _union(parent: dict[int, int], a: int, b: int) -> None:
    parent.setdefault(a, a)
    parent.setdefault(b, b)
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


@cache
def _orbits() -> dict[int, tuple[int, ...]]:
    """Map every code point with a non-trivial orbit (or an irregular one) to its sorted orbit."""
    irregular = {cp for orbit in _IRREGULAR_ORBITS for cp in orbit}
    parent: dict[int, int] = {}
    for cp in range(_SCAN_LIMIT):
        if 0xD800 <= cp <= 0xDFFF or cp in irregular:
            continue
        c = chr(cp)
        for other in (_single(c.lower()), _single(c.upper())):
            if other is not None and other != cp and other not in irregular:
                _union(parent, cp, other)
    classes: dict[int, list[int]] = {}
    for cp in list(parent):
        classes.setdefault(_find(parent, cp), []).append(cp)
    table: dict[int, tuple[int, ...]] = {}
    for members in classes.values():
        orbit = tuple(sorted(members))
        for cp in orbit:
            table[cp] = orbit
    for orbit in _IRREGULAR_ORBITS:
        for cp in orbit:
            table[cp] = orbit
    return table


def _orbit(r: int) -> tuple[int, ...]:
    return _orbits().get(r, (r,))


def simple_fold(r: int) -> int:
    """Return the next code point after ``r`` in its fold orbit, wrapping to the smallest.

    Go's ``unicode.SimpleFold``: ``simple_fold(ord("A")) == ord("a")``, ``simple_fold(ord("a"))
    == ord("A")``, ``simple_fold(ord("K")) == ord("k")``, ``simple_fold(ord("k")) == 0x212A``,
    ``simple_fold(0x212A) == ord("K")``. Values outside ``0..0x10FFFF`` are returned unchanged.
    """
    if r < 0 or r > _MAX_RUNE:
        return r
    orbit = _orbit(r)
    i = orbit.index(r)
    return orbit[(i + 1) % len(orbit)]


def _rune(c: str) -> int:
    """The rune Go decodes for ``c``: a lone surrogate stands for an invalid UTF-8 byte."""
    cp = ord(c)
    return _RUNE_ERROR if 0xD800 <= cp <= 0xDFFF else cp


def _fold_min(r: int) -> int:
    return _orbit(r)[0]


def equal_fold(a: str, b: str) -> bool:
    """Report whether ``a`` and ``b`` are equal under simple case folding (strings.EqualFold).

    Lone surrogates (invalid UTF-8 bytes decoded with ``surrogateescape``) compare like Go's
    U+FFFD replacement runes.
    """
    if len(a) != len(b):
        return False
    if a.isascii() and b.isascii():
        return a.lower() == b.lower()
    for ca, cb in zip(a, b, strict=True):
        ra, rb = _rune(ca), _rune(cb)
        if ra != rb and _fold_min(ra) != _fold_min(rb):
            return False
    return True


def fold_key(s: str) -> str:
    """Map ``s`` to a key that is equal for exactly the strings :func:`equal_fold` calls equal.

    This is x/mod/zip's ``strToFold``: every rune becomes the smallest member of its fold orbit,
    except that ``A``-``Z`` become ``a``-``z``. x/mod uses it to detect file-name collisions.
    """
    if s.isascii():
        # Every ASCII letter's orbit starts at its upper case (K and S too: the Kelvin sign and
        # the long s come later), which then maps to lower case; nothing else folds.
        return s.lower()
    out = []
    for c in s:
        r = _fold_min(_rune(c))
        if ord("A") <= r <= ord("Z"):
            r += ord("a") - ord("A")
        out.append(chr(r))
    return "".join(out)

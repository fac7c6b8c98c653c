"""Hypothesis strategies for the differential tests: inputs that reach Go's corner cases.

Strings never hold surrogate code points: they cannot travel to Go as UTF-8 (Go would see
U+FFFD), so both sides would not be asked the same question.
"""

from __future__ import annotations

from typing import Literal

from hypothesis import strategies as st

__all__ = [
    "equal_fold_pairs",
    "file_names",
    "file_paths",
    "glob_lists",
    "module_paths",
    "module_versions",
    "pseudo_versions",
    "tile_paths",
    "versions",
]

# Characters that matter to Go's path rules, escaping and case folding, and a few that never
# appear legitimately (space, '@', '!', '\\', ':', NUL) or that fold in surprising ways:
# KELVIN SIGN folds with 'k', LONG S with 's', the three sigmas and the DŽ/Dž/dž forms together.
_INTERESTING = "aAbBkKsSzZ09.-_~/!+@ :\\\x00éÉßẞΩωſΣσςǄǅǆ\u212a\u0130ı中"
_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_NO_SURROGATES = st.characters(exclude_categories=_SURROGATES)


def _text(alphabet: str, *, max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.one_of(st.sampled_from(alphabet), _NO_SURROGATES), max_size=max_size)


_ELEMENT_CHARS = "abcxyzABCXYZ0129.-_~!+ é中"
_VALID_ELEMENT_CHARS = "abcxyzABCXYZ0129-_~."
_elements = st.one_of(
    st.text(st.sampled_from(_VALID_ELEMENT_CHARS), min_size=1, max_size=8),
    st.text(st.sampled_from(_ELEMENT_CHARS), min_size=0, max_size=8),
)
_hosts = st.one_of(
    st.sampled_from(["github.com", "gopkg.in", "example.com", "golang.org", "k8s.io"]),
    st.sampled_from(["x", "a.b", "-x.com", "EX.COM", "a_b.c", "xn--b.c"]),
)
_majors = st.sampled_from(["", "/v0", "/v1", "/v2", "/v10", "/v02", ".v1", ".v2", ".v0", "/v2.0"])


@st.composite
def _structured_paths(draw: st.DrawFn) -> str:
    elems = draw(st.lists(_elements, min_size=0, max_size=3))
    return "/".join([draw(_hosts), *elems]) + draw(_majors)


#: Module, import and file paths: mostly shaped like real ones, some arbitrary text.
module_paths = st.one_of(_structured_paths(), _text(_INTERESTING, max_size=30))

_num = st.one_of(st.integers(0, 12).map(str), st.sampled_from(["00", "01", "123456789012345"]))
_ident = st.text(st.sampled_from("0123456789abcXYZ-"), min_size=0, max_size=5)
_pre = st.one_of(
    st.just(""), st.lists(_ident, min_size=1, max_size=3).map(lambda p: "-" + ".".join(p))
)
_build = st.one_of(
    st.just(""),
    st.just("+incompatible"),
    st.lists(_ident, min_size=1, max_size=2).map(lambda p: "+" + ".".join(p)),
)


@st.composite
def _semver_like(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_num, min_size=1, max_size=4))
    prefix = draw(st.sampled_from(["v", "v", "v", "", "V"]))
    return prefix + ".".join(parts) + draw(_pre) + draw(_build)


_stamps = st.builds(
    lambda y, mo, d, h, mi, s: f"{y:04d}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}",
    st.integers(1, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 60),
)
_revs = st.text(st.sampled_from("0123456789abcdefABC"), min_size=1, max_size=14)


@st.composite
def _pseudo(draw: st.DrawFn) -> str:
    major = draw(st.integers(0, 3))
    stamp, rev = draw(_stamps), draw(_revs)
    form = draw(st.integers(0, 2))
    if form == 0:
        core = f"v{major}.0.0-{stamp}-{rev}"
    elif form == 1:
        core = f"v{major}.{draw(st.integers(0, 3))}.{draw(st.integers(0, 3))}-0.{stamp}-{rev}"
    else:
        pre = draw(st.sampled_from(["pre", "rc.1", "alpha.0", "0"]))
        core = f"v{major}.1.2-{pre}.0.{stamp}-{rev}"
    return core + draw(st.sampled_from(["", "", "+incompatible", "+meta"]))


@st.composite
def module_versions(draw: st.DrawFn) -> tuple[str, str]:
    """A module path and a version, half the time of the major version the path asks for."""
    path = draw(module_paths)
    version = draw(versions)
    if draw(st.booleans()):
        suffix = path.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        major = suffix[1:] if suffix[:1] == "v" and suffix[1:].isdigit() else "1"
        tail = draw(st.sampled_from([".0.0", ".2.3", ".0.0-pre", ".1.0+incompatible"]))
        version = f"v{major}{tail}"
    return path, version


#: Pseudo-versions of the three forms, with valid and invalid times and revisions.
pseudo_versions = _pseudo()

#: Versions: semver-shaped (valid or not), pseudo-versions, and arbitrary text.
versions = st.one_of(_semver_like(), pseudo_versions, _text("v0123.-+!abcXYZ", max_size=20))

_path_chars = "ab/.-_~ A!é:\\*?" + "\u212a"
_special_files = st.sampled_from(
    [
        "go.mod",
        "GO.MOD",
        "Go.Mod",
        "sub/go.mod",
        "sub/GO.MOD",
        "vendor/modules.txt",
        "vendor/a/b.go",
        "pkg/vendor/v.go",
        "sub/vendor/x.txt",
        ".hg_archival.txt",
        "LICENSE",
        "a/../b",
        "./a",
        "a//b",
        "/abs",
        "a/",
        "",
        "con.txt",
        "COM1",
        "a~1",
        "K",
        "\u212a",
    ]
)

#: Slash-separated file paths inside a module, tricky names included.
file_paths = st.one_of(
    _special_files, st.text(st.sampled_from(_path_chars), min_size=0, max_size=12)
)

#: Names for dirhash: anything without surrogates, newlines included now and then.
file_names = _text("abc/\n.@", max_size=12)


@st.composite
def glob_lists(draw: st.DrawFn) -> tuple[str, str]:
    """A comma-separated GOPRIVATE-style pattern list and a target path."""
    pattern_chars = st.sampled_from([*"ab/.*?[]^-\\,", "[a-b]", "[^a]", "*.", "\\*"])
    pattern = st.lists(pattern_chars, max_size=8).map("".join)
    patterns = draw(st.lists(pattern, max_size=3))
    globs = ",".join(patterns)
    if draw(st.booleans()) and patterns:
        # A target made from one of the patterns, so that matches are common.
        base = draw(st.sampled_from(patterns))
        for token, text in (("[a-b]", "a"), ("[^a]", "b"), ("\\*", "\0"), ("*", "ab")):
            base = base.replace(token, text)
        base = base.replace("?", "a").replace("\0", "*")
        target = base + draw(st.sampled_from(["", "/b", "/b/c", "b"]))
    else:
        target = draw(st.text(st.sampled_from("ab/.*-"), max_size=10))
    return globs, target


@st.composite
def equal_fold_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two strings, often case variants of each other."""
    a = draw(_text("aAkKsSſ\u212aΣσςǄǅǆßẞİıi", max_size=8))
    mode = draw(st.integers(0, 3))
    if mode == 0:
        b = a.swapcase()
    elif mode == 1:
        b = a.upper()
    elif mode == 2:
        b = a.lower()
    else:
        b = draw(_text("aAkKsSſ\u212aΣσςǄǅǆßẞİıi", max_size=8))
    return a, b


#: Tile paths, well-formed or nearly so.
tile_paths = st.one_of(
    st.builds(
        lambda h, lvl, groups, last, partial: (
            f"tile/{h}/{lvl}/" + "".join(f"x{g:03d}/" for g in groups) + f"{last:03d}" + partial
        ),
        st.integers(0, 31),
        st.sampled_from(["0", "1", "5", "data", "-1", "63", "64"]),
        st.lists(st.integers(0, 999), max_size=2),
        st.integers(0, 999),
        st.sampled_from(["", ".p/1", ".p/13", ".p/0", ".p/256", ".p/x"]),
    ),
    st.text(st.sampled_from("tile/0123x.pda-"), max_size=24),
)

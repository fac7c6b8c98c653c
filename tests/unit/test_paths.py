"""Module, import and file path rules, escaping and ordering (x/mod module/module_test.go)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomodproxy.errors import InvalidFilePath, InvalidModulePath, InvalidVersion
from gomodproxy.module import paths
from gomodproxy.module.casefold import equal_fold, fold_key, simple_fold

# checkPathTests from x/mod module/module_test.go: (path, module ok, import ok, file ok).
# "\udcff" is the byte 0xFF of invalid UTF-8, decoded with surrogateescape.
CHECK_PATH_TESTS: list[tuple[str, bool, bool, bool]] = [
    ("x.y/z", True, True, True),
    ("x.y", True, True, True),
    ("", False, False, False),
    ("x.y/\udcffz", False, False, False),
    ("/x.y/z", False, False, False),
    ("x./z", False, False, False),
    (".x/z", False, True, True),
    ("-x/z", False, False, True),
    ("x..y/z", True, True, True),
    ("x.y/z/../../w", False, False, False),
    ("x.y//z", False, False, False),
    ("x.y/z//w", False, False, False),
    ("x.y/z/", False, False, False),
    ("x.y/z/v0", False, True, True),
    ("x.y/z/v1", False, True, True),
    ("x.y/z/v2", True, True, True),
    ("x.y/z/v2.0", False, True, True),
    ("X.y/z", False, True, True),
    ("!x.y/z", False, False, True),
    ("_x.y/z", False, True, True),
    ("x.y!/z", False, False, True),
    ('x.y"/z', False, False, False),
    ("x.y#/z", False, False, True),
    ("x.y$/z", False, False, True),
    ("x.y%/z", False, False, True),
    ("x.y&/z", False, False, True),
    ("x.y'/z", False, False, False),
    ("x.y(/z", False, False, True),
    ("x.y)/z", False, False, True),
    ("x.y*/z", False, False, False),
    ("x.y+/z", False, True, True),
    ("x.y,/z", False, False, True),
    ("x.y-/z", True, True, True),
    ("x.y./zt", False, False, False),
    ("x.y:/z", False, False, False),
    ("x.y;/z", False, False, False),
    ("x.y</z", False, False, False),
    ("x.y=/z", False, False, True),
    ("x.y>/z", False, False, False),
    ("x.y?/z", False, False, False),
    ("x.y@/z", False, False, True),
    ("x.y[/z", False, False, True),
    ("x.y\\/z", False, False, False),
    ("x.y]/z", False, False, True),
    ("x.y^/z", False, False, True),
    ("x.y_/z", False, True, True),
    ("x.y`/z", False, False, False),
    ("x.y{/z", False, False, True),
    ("x.y}/z", False, False, True),
    ("x.y~/z", False, True, True),
    ("x.y/z!", False, False, True),
    ('x.y/z"', False, False, False),
    ("x.y/z#", False, False, True),
    ("x.y/z$", False, False, True),
    ("x.y/z%", False, False, True),
    ("x.y/z&", False, False, True),
    ("x.y/z'", False, False, False),
    ("x.y/z(", False, False, True),
    ("x.y/z)", False, False, True),
    ("x.y/z*", False, False, False),
    ("x.y/z++", False, True, True),
    ("x.y/z,", False, False, True),
    ("x.y/z-", True, True, True),
    ("x.y/z.t", True, True, True),
    ("x.y/z/t", True, True, True),
    ("x.y/z:", False, False, False),
    ("x.y/z;", False, False, False),
    ("x.y/z<", False, False, False),
    ("x.y/z=", False, False, True),
    ("x.y/z>", False, False, False),
    ("x.y/z?", False, False, False),
    ("x.y/z@", False, False, True),
    ("x.y/z[", False, False, True),
    ("x.y/z\\", False, False, False),
    ("x.y/z]", False, False, True),
    ("x.y/z^", False, False, True),
    ("x.y/z_", True, True, True),
    ("x.y/z`", False, False, False),
    ("x.y/z{", False, False, True),
    ("x.y/z}", False, False, True),
    ("x.y/z~", True, True, True),
    ("x.y/x.foo", True, True, True),
    ("x.y/aux.foo", False, False, False),
    ("x.y/prn", False, False, False),
    ("x.y/prn2", True, True, True),
    ("x.y/com", True, True, True),
    ("x.y/com1", False, False, False),
    ("x.y/com1.txt", False, False, False),
    ("x.y/calm1", True, True, True),
    ("x.y/z~", True, True, True),
    ("x.y/z~0", False, False, True),
    ("x.y/z~09", False, False, True),
    ("x.y/z09", True, True, True),
    ("x.y/z09~", True, True, True),
    ("x.y/z09~09z", True, True, True),
    ("x.y/z09~09z~09", False, False, True),
    ("github.com/!123/logrus", False, False, True),
    ("github.com/user/unicode/испытание", False, False, True),
    (".../x", False, False, False),
    ("../x", False, False, False),
    ("./y", False, False, False),
    ("x:y", False, False, False),
    ("\\temp\\foo", False, False, False),
    (".gitignore", False, True, True),
    (".github/ISSUE_TEMPLATE", False, True, True),
    ("x☺y", False, False, False),
]

# checkTests: module.Check(path, version).
CHECK_TESTS: list[tuple[str, str, bool]] = [
    ("rsc.io/quote", "0.1.0", False),
    ("rsc io/quote", "v1.0.0", False),
    ("github.com/go-yaml/yaml", "v0.8.0", True),
    ("github.com/go-yaml/yaml", "v1.0.0", True),
    ("github.com/go-yaml/yaml", "v2.0.0", False),
    ("github.com/go-yaml/yaml", "v2.1.5", False),
    ("github.com/go-yaml/yaml", "v3.0.0", False),
    ("github.com/go-yaml/yaml/v2", "v1.0.0", False),
    ("github.com/go-yaml/yaml/v2", "v2.0.0", True),
    ("github.com/go-yaml/yaml/v2", "v2.1.5", True),
    ("github.com/go-yaml/yaml/v2", "v3.0.0", False),
    ("gopkg.in/yaml.v0", "v0.8.0", True),
    ("gopkg.in/yaml.v0", "v1.0.0", False),
    ("gopkg.in/yaml.v0", "v2.0.0", False),
    ("gopkg.in/yaml.v0", "v2.1.5", False),
    ("gopkg.in/yaml.v0", "v3.0.0", False),
    ("gopkg.in/yaml.v1", "v0.8.0", False),
    ("gopkg.in/yaml.v1", "v1.0.0", True),
    ("gopkg.in/yaml.v1", "v2.0.0", False),
    ("gopkg.in/yaml.v1", "v2.1.5", False),
    ("gopkg.in/yaml.v1", "v3.0.0", False),
    # gopkg.in .v1 accepts the v0.0.0 pseudo-versions early vgo generated.
    ("gopkg.in/check.v1", "v0.0.0", False),
    ("gopkg.in/check.v1", "v0.0.0-20160102150405-abcdef123456", True),
    ("gopkg.in/yaml.v2", "v1.0.0", False),
    ("gopkg.in/yaml.v2", "v2.0.0", True),
    ("gopkg.in/yaml.v2", "v2.1.5", True),
    ("gopkg.in/yaml.v2", "v3.0.0", False),
    ("rsc.io/quote", "v17.0.0", False),
    ("rsc.io/quote", "v17.0.0+incompatible", True),
]

SPLIT_PATH_VERSION_TESTS: list[tuple[str, str]] = [
    ("x.y/z", ""),
    ("x.y/z", "/v2"),
    ("x.y/z", "/v3"),
    ("x.y/v", ""),
    ("gopkg.in/yaml", ".v0"),
    ("gopkg.in/yaml", ".v1"),
    ("gopkg.in/yaml", ".v2"),
    ("gopkg.in/yaml", ".v3"),
]

ESCAPE_TESTS: list[tuple[str, str]] = [
    (
        "ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789",
        "ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789",
    ),
    ("github.com/GoogleCloudPlatform/omega", "github.com/!google!cloud!platform/omega"),
    ("github.com/Azure/azure-sdk-for-go", "github.com/!azure/azure-sdk-for-go"),
    ("github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"),
]

BAD_UNESCAPE = [
    "github.com/GoogleCloudPlatform/omega",
    "github.com/!google!cloud!platform!/omega",
    "github.com/!0google!cloud!platform/omega",
    "github.com/!_google!cloud!platform/omega",
    "github.com/!!google!cloud!platform/omega",
    "",
]

MATCH_PATH_MAJOR_TESTS: list[tuple[str, str, bool]] = [
    ("v0.0.0", "", True),
    ("v0.0.0", "/v2", False),
    ("v0.0.0", ".v0", True),
    ("v0.0.0-20190510104115-cbcb75029529", ".v1", True),
    ("v1.0.0", "/v2", False),
    ("v1.0.0", ".v1", True),
    ("v1.0.0", ".v1-unstable", True),
    ("v2.0.0+incompatible", "", True),
    ("v2.0.0", "", False),
    ("v2.0.0", "/v2", True),
    ("v2.0.0", ".v2", True),
]


def _ok(fn: object, path: str) -> bool:
    assert callable(fn)
    try:
        fn(path)
    except InvalidModulePath:
        return False
    return True


@pytest.mark.parametrize(("path", "module_ok", "import_ok", "file_ok"), CHECK_PATH_TESTS)
def test_check_path_verdicts_match_x_mod(
    path: str, module_ok: bool, import_ok: bool, file_ok: bool
) -> None:
    assert _ok(paths.check_path, path) is module_ok
    assert _ok(paths.check_import_path, path) is import_ok
    assert _ok(paths.check_file_path, path) is file_ok
    assert (paths.file_path_error(path) is None) is file_ok


@pytest.mark.parametrize(("path", "version", "ok"), CHECK_TESTS)
def test_check_accepts_only_versions_that_fit_the_path(path: str, version: str, ok: bool) -> None:
    if ok:
        paths.check(path, version)
    else:
        with pytest.raises((InvalidModulePath, InvalidVersion)):
            paths.check(path, version)


def test_check_names_the_wanted_major_version() -> None:
    with pytest.raises(InvalidVersion) as info:
        paths.check("github.com/go-yaml/yaml/v2", "v3.0.0")
    assert info.value.reason == "should be v2, not v3"
    assert info.value.path == "github.com/go-yaml/yaml/v2"
    with pytest.raises(InvalidVersion, match="not a semantic version"):
        paths.check("rsc.io/quote", "0.1.0")
    with pytest.raises(InvalidVersion, match="should be v0 or v1, not v2"):
        paths.check("rsc.io/quote", "v2.0.0")


def test_check_path_errors_use_go_reasons() -> None:
    cases = {
        "": "empty string",
        "-x/z": "leading dash",
        "x.y//z": "double slash",
        "x.y/z/": "trailing slash",
        "x.y/\udcffz": "invalid UTF-8",
        "x./z": "trailing dot in path element",
        ".x/z": "leading dot in path element",
        "x.y/com1.txt": '"com1" disallowed as path element component on Windows',
        "x.y/z~09": "trailing tilde and digits in path element",
        "xy/z": "missing dot in first path element",
        "X.y/z": "invalid char 'X' in first path element",
        "x.y/z/v1": "invalid version",
        "x.y/z*": "invalid char '*'",
        ".../x": 'invalid path element "..."',
    }
    for path, reason in cases.items():
        with pytest.raises(InvalidModulePath) as info:
            paths.check_path(path)
        assert info.value.reason == reason, path


def test_check_file_path_raises_invalid_file_path() -> None:
    with pytest.raises(InvalidFilePath) as info:
        paths.check_file_path("a/x?y.go")
    assert info.value.kind == "file"
    assert info.value.reason == "invalid char '?'"
    paths.check_file_path("α.go")
    paths.check_file_path("-leading/dash.go")
    paths.check_file_path("with space/x.go")


def test_check_file_path_knows_letters_as_go_does() -> None:
    paths.check_file_path("\U00031350.go")  # CJK Extension H: a letter since Unicode 15.0
    paths.check_file_path("\U00011f04x.go")  # Kawi letter A
    for bad in ("☺.go", "x\u0301.go", "\U0001f600.go", "\u00b2.go"):  # symbol, mark, digit
        with pytest.raises(InvalidFilePath, match="invalid char"):
            paths.check_file_path(bad)


@pytest.mark.parametrize(("prefix", "major"), SPLIT_PATH_VERSION_TESTS)
def test_split_path_version_splits_major_suffix(prefix: str, major: str) -> None:
    assert paths.split_path_version(prefix + major) == (prefix, major, True)


@pytest.mark.parametrize("row", CHECK_PATH_TESTS)
def test_split_path_version_parts_add_up_to_input(row: tuple[str, bool, bool, bool]) -> None:
    prefix, major, _ = paths.split_path_version(row[0])
    assert prefix + major == row[0]


def test_split_path_version_gopkg_in_rules() -> None:
    assert paths.split_path_version("gopkg.in/yaml.v2-unstable") == (
        "gopkg.in/yaml",
        ".v2-unstable",
        True,
    )
    assert paths.split_path_version("gopkg.in/yaml") == ("gopkg.in/yaml", "", False)
    assert paths.split_path_version("gopkg.in/yaml.v01") == ("gopkg.in/yaml.v01", "", False)
    assert paths.split_path_version("x.y/z/v02") == ("x.y/z/v02", "", False)
    assert paths.split_path_version("x.y/z/v1") == ("x.y/z/v1", "", False)


@pytest.mark.parametrize(("version", "path_major", "want"), MATCH_PATH_MAJOR_TESTS)
def test_match_path_major_agrees_with_x_mod(version: str, path_major: str, want: bool) -> None:
    assert paths.match_path_major(version, path_major) is want
    if want:
        paths.check_path_major(version, path_major)
    else:
        with pytest.raises(InvalidVersion):
            paths.check_path_major(version, path_major)


def test_check_path_major_strips_unstable_and_names_the_major() -> None:
    with pytest.raises(InvalidVersion) as info:
        paths.check_path_major("v3.1.0", ".v2-unstable")
    assert info.value.reason == "should be v2, not v3"


@pytest.mark.parametrize(("path", "escaped"), ESCAPE_TESTS)
def test_escape_path_case_encodes_upper_case(path: str, escaped: str) -> None:
    assert paths.escape_path(path) == escaped
    assert paths.unescape_path(escaped) == path


@pytest.mark.parametrize("row", [r for r in CHECK_PATH_TESTS if not r[1]])
def test_escape_and_unescape_reject_invalid_module_paths(row: tuple[str, bool, bool, bool]) -> None:
    with pytest.raises(InvalidModulePath):
        paths.escape_path(row[0])
    with pytest.raises(InvalidModulePath):
        paths.unescape_path(row[0])


@pytest.mark.parametrize("bad", BAD_UNESCAPE)
def test_unescape_path_rejects_bad_encodings(bad: str) -> None:
    with pytest.raises(InvalidModulePath):
        paths.unescape_path(bad)


def test_unescape_rejects_non_ascii_and_trailing_bang() -> None:
    for bad in ("rsc.io/quöte", "rsc.io/quote!", "rsc.io/!Quote"):
        with pytest.raises(InvalidModulePath):
            paths.unescape_path(bad)
    for bad in ("v1.0.0-!", "v1.0.0-RC1", "v1.0.0-!1", "v1.ü"):
        with pytest.raises(InvalidVersion):
            paths.unescape_version(bad)


def test_escape_version_round_trips_and_rejects_bang() -> None:
    assert paths.escape_version("v1.0.0-RC1") == "v1.0.0-!r!c1"
    assert paths.unescape_version("v1.0.0-!r!c1") == "v1.0.0-RC1"
    assert paths.escape_version("v14.2.0+incompatible") == "v14.2.0+incompatible"
    for bad in ("v1.0.0!", "", "v1/2", "..", "v1.0.0."):
        with pytest.raises(InvalidVersion, match="disallowed version string"):
            paths.escape_version(bad)


def test_canonical_version_keeps_incompatible_only() -> None:
    assert paths.canonical_version("v2.1+incompatible") == ""
    assert paths.canonical_version("v2.1.0+incompatible") == "v2.1.0+incompatible"
    assert paths.canonical_version("v2.1.0+meta") == "v2.1.0"
    assert paths.canonical_version("v1.2") == "v1.2.0"
    assert paths.canonical_version("bad") == ""


def test_module_sort_key_orders_like_module_sort() -> None:
    entries = [
        ("rsc.io/quote", "v1.5.2/go.mod"),
        ("rsc.io/quote", "v1.10.0"),
        ("golang.org/x/text", "v0.3.0"),
        ("rsc.io/quote", "v1.5.2"),
        ("rsc.io/quote", "v1.5.2-pre"),
        ("rsc.io/quote", "bad"),
    ]
    got = sorted(entries, key=lambda e: paths.module_sort_key(*e))
    assert got == [
        ("golang.org/x/text", "v0.3.0"),
        ("rsc.io/quote", "bad"),
        ("rsc.io/quote", "v1.5.2-pre"),
        ("rsc.io/quote", "v1.5.2"),
        ("rsc.io/quote", "v1.5.2/go.mod"),
        ("rsc.io/quote", "v1.10.0"),
    ]


def test_is_go_mod_name_ignores_case_and_directories() -> None:
    assert paths.is_go_mod_name("go.mod")
    assert paths.is_go_mod_name("sub/GO.MOD")
    assert paths.is_go_mod_name("a/b/Go.Mod")
    assert not paths.is_go_mod_name("go.mod/x")
    assert not paths.is_go_mod_name("go.sum")
    assert not paths.is_go_mod_name("xgo.mod")


def test_equal_fold_uses_simple_folding_not_casefold() -> None:
    assert equal_fold("Go", "GO")
    assert equal_fold("k", "\u212a")  # KELVIN SIGN folds with k and K
    assert equal_fold("ẞ", "ß")
    assert not equal_fold("ß", "ss")  # full folding (str.casefold) would say equal
    assert not equal_fold("İ", "i")  # U+0130 folds with nothing
    assert not equal_fold("ı", "I")  # U+0131 folds with nothing
    assert equal_fold("σ", "ς")
    assert equal_fold("ǅ", "ǆ")
    assert not equal_fold("a", "ab")


def test_fold_key_is_the_orbit_minimum_with_ascii_lowered() -> None:
    assert fold_key("README.md") == "readme.md"
    assert fold_key("\u212a") == "k"
    assert fold_key("ſ") == "s"
    assert fold_key("ß") == fold_key("ẞ") == "ß"
    assert fold_key("Σ") == fold_key("ς") == fold_key("σ") == "Σ"
    assert fold_key("plain/path.go") == "plain/path.go"


def test_simple_fold_walks_each_orbit_in_order() -> None:
    assert [simple_fold(c) for c in (0x4B, 0x6B, 0x212A)] == [0x6B, 0x212A, 0x4B]
    assert simple_fold(ord("A")) == ord("a")
    assert simple_fold(ord("a")) == ord("A")
    assert simple_fold(ord("1")) == ord("1")
    assert simple_fold(0x130) == 0x130
    assert simple_fold(-2) == -2
    assert simple_fold(0x110000) == 0x110000


_FIRST = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=6)
_ELEM = st.text(alphabet=string.ascii_letters + string.digits + "-_~", min_size=1, max_size=8)


@st.composite
def _module_paths(draw: st.DrawFn) -> str:
    first = draw(_FIRST) + "." + draw(_FIRST)
    rest = draw(st.lists(_ELEM, max_size=4))
    return "/".join([first, *rest])


@given(_module_paths())
def test_escape_then_unescape_is_identity_on_valid_paths(path: str) -> None:
    try:
        paths.check_path(path)
    except InvalidModulePath:
        return  # e.g. a generated Windows name or "~1" element: not in the domain
    escaped = paths.escape_path(path)
    assert escaped == escaped.lower()
    assert paths.unescape_path(escaped) == path


@given(st.text(alphabet=string.ascii_letters + string.digits + ".-+~_", min_size=1, max_size=20))
def test_escape_version_then_unescape_is_identity(version: str) -> None:
    try:
        escaped = paths.escape_version(version)
    except InvalidVersion:
        return
    assert paths.unescape_version(escaped) == version


@given(st.text(max_size=12), st.text(max_size=12))
def test_equal_fold_agrees_with_fold_key(a: str, b: str) -> None:
    assert equal_fold(a, b) == (fold_key(a) == fold_key(b))
    if a.isascii():
        assert equal_fold(a, a.upper())
        assert equal_fold(a.lower(), a)

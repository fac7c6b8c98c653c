"""Go path.Match and module.MatchPrefixPatterns (fault catalogue item 69)."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomodproxy.module.goproxy import private_settings
from gomodproxy.module.patterns import (
    BadPattern,
    match_prefix_patterns,
    path_match,
    path_match_strict,
)

# matchTests from Go's src/path/match_test.go: (pattern, name, matched, bad pattern).
MATCH_TESTS: list[tuple[str, str, bool, bool]] = [
    ("abc", "abc", True, False),
    ("*", "abc", True, False),
    ("*c", "abc", True, False),
    ("a*", "a", True, False),
    ("a*", "abc", True, False),
    ("a*", "ab/c", False, False),
    ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False),
    ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False),
    ("a\\*b", "ab", False, False),
    ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False),
    ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "α", True, False),
    ("*[a-ζ]", "A", False, False),
    ("a?b", "a/b", False, False),
    ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False),
    ("[\\-]", "-", True, False),
    ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False),
    ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False),
    ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True),
    ("[-]", "-", False, True),
    ("[x-]", "x", False, True),
    ("[x-]", "-", False, True),
    ("[x-]", "z", False, True),
    ("[-x]", "x", False, True),
    ("[-x]", "-", False, True),
    ("[-x]", "a", False, True),
    ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True),
    ("[", "a", False, True),
    ("[^", "a", False, True),
    ("[^bc", "a", False, True),
    ("a[", "a", False, True),
    ("a[", "ab", False, True),
    ("a[", "x", False, True),
    ("a/b[", "x", False, True),
    ("*x", "xxx", True, False),
]

# TestMatchPrefixPatterns from x/mod module/module_test.go.
PREFIX_TESTS: list[tuple[str, str, bool]] = [
    ("*/quote", "rsc.io/quote", True),
    ("*/quo", "rsc.io/quote", False),
    ("*/quo??", "rsc.io/quote", True),
    ("*/quo*", "rsc.io/quote", True),
    ("*quo*", "rsc.io/quote", False),
    ("rsc.io", "rsc.io/quote", True),
    ("*.io", "rsc.io/quote", True),
    ("rsc.io/", "rsc.io/quote", True),
    ("rsc", "rsc.io/quote", False),
    ("rsc*", "rsc.io/quote", True),
    ("rsc.io", "rsc.io/quote/v3", True),
    ("*/quote", "rsc.io/quote/v3", True),
    ("*/quote/", "rsc.io/quote/v3", True),
    ("*/quote/*", "rsc.io/quote/v3", True),
    ("*/quote/*/", "rsc.io/quote/v3", True),
    ("*/v3", "rsc.io/quote/v3", False),
    ("*/*/v3", "rsc.io/quote/v3", True),
    ("*/*/*", "rsc.io/quote/v3", True),
    ("*/*/*/", "rsc.io/quote/v3", True),
    ("*/*/*", "rsc.io/quote", False),
    ("*/*/*/", "rsc.io/quote", False),
    ("*/*/*,,", "rsc.io/quote", False),
    ("*/*/*,,*/quote", "rsc.io/quote", True),
    (",,*/quote", "rsc.io/quote", True),
]


@pytest.mark.parametrize(("pattern", "name", "matched", "bad"), MATCH_TESTS)
def test_path_match_agrees_with_go(pattern: str, name: str, matched: bool, bad: bool) -> None:
    assert path_match(pattern, name) is matched
    if bad:
        with pytest.raises(BadPattern):
            path_match_strict(pattern, name)
    else:
        assert path_match_strict(pattern, name) is matched


@pytest.mark.parametrize(("globs", "target", "want"), PREFIX_TESTS)
def test_match_prefix_patterns_agrees_with_x_mod(globs: str, target: str, want: bool) -> None:
    assert match_prefix_patterns(globs, target) is want


def test_g69_prefix_counts_elements_not_characters() -> None:
    assert match_prefix_patterns("rsc.io/private", "rsc.io/private")
    assert match_prefix_patterns("rsc.io/private", "rsc.io/private/quux")
    assert not match_prefix_patterns("rsc.io/private", "rsc.io/privateer")
    assert match_prefix_patterns("*.corp.example.com", "git.corp.example.com/xyzzy")
    assert not match_prefix_patterns("*.corp.example.com", "corp.example.com/xyzzy")


def test_g69_trailing_slashes_and_empty_entries_are_ignored() -> None:
    assert match_prefix_patterns("rsc.io/private/", "rsc.io/private/quux")
    assert match_prefix_patterns(",,rsc.io/private,", "rsc.io/private/quux")
    assert not match_prefix_patterns("", "rsc.io/private")
    assert not match_prefix_patterns(",,,", "rsc.io/private")
    assert not match_prefix_patterns("/", "rsc.io/private")


def test_g69_malformed_entries_never_match_but_others_still_do() -> None:
    assert not match_prefix_patterns("rsc.io/[", "rsc.io/[")
    assert not match_prefix_patterns("[a-", "a")
    assert match_prefix_patterns("rsc.io/[,rsc.io", "rsc.io/[")
    assert not match_prefix_patterns("\\", "\\")


def test_g69_none_matches_no_module_path() -> None:
    for path in ("rsc.io/quote", "none.example/x", "golang.org/x/text", "example.com/none"):
        assert not match_prefix_patterns("none", path)


def test_g69_star_does_not_cross_slash_unlike_fnmatch() -> None:
    assert fnmatch.fnmatchcase("rsc.io/quote", "*quo*")  # Python's fnmatch crosses /
    assert not match_prefix_patterns("*quo*", "rsc.io/quote")
    assert fnmatch.fnmatchcase("b", "[!a]")  # fnmatch negates with !
    assert not path_match("[!a]", "b")
    assert path_match("[^a]", "b")


def test_g69_client_gonosumdb_list_p_and_star_q() -> None:
    # x/mod sumdb client_test.go TestClientGONOSUMDB: GONOSUMDB=p,*/q.
    cases = {
        "p": True,
        "p/x": True,
        "x/q": True,
        "x/q/z": True,
        "x/p": False,
        "x/z/q": False,
        "pp": False,
        "q": False,
        "x/qq": False,
    }
    for path, want in cases.items():
        assert match_prefix_patterns("p,*/q", path) is want, path


def test_g69_goprivate_is_the_default_for_both_lists_only_when_empty() -> None:
    s = private_settings(goprivate="corp.example/*")
    assert s.is_noproxy("corp.example/a/b")
    assert s.is_nosumdb("corp.example/a/b")
    assert not s.is_insecure("corp.example/a/b")
    only_sumdb = private_settings(goprivate="corp.example", gonoproxy="none")
    assert not only_sumdb.is_noproxy("corp.example/x")
    assert only_sumdb.is_nosumdb("corp.example/x")
    only_proxy = private_settings(gonoproxy="corp.example")
    assert only_proxy.is_noproxy("corp.example/x")
    assert not only_proxy.is_nosumdb("corp.example/x")
    insecure = private_settings(goinsecure="*.lan")
    assert insecure.is_insecure("git.lan/x")
    assert not insecure.is_noproxy("git.lan/x")


def test_path_match_works_on_runes_and_bytes() -> None:
    assert path_match("?", "☺")
    assert not path_match("??", "☺")
    assert path_match("[\u00e0-\u00ff]", "é")
    assert path_match("?", "\udcff")  # one invalid byte is one rune
    assert path_match("[\ufffd]", "\udcff")  # which decodes as U+FFFD
    assert path_match("*", "")
    assert not path_match("*", "a/b")
    assert path_match("*/*", "a/b")
    assert path_match("", "")
    assert not path_match("", "a")


@given(st.text(alphabet="ab/.-", max_size=12))
def test_literal_patterns_match_only_themselves(name: str) -> None:
    assert path_match(name, name)
    assert not path_match(name, name + "x")


@given(st.text(alphabet="ab.-", max_size=10), st.text(alphabet="ab.-", max_size=10))
def test_star_matches_any_slash_free_name(a: str, b: str) -> None:
    assert path_match("*", a)
    assert path_match(a + "*", a + b)
    assert not path_match(a + "*", a + "/" + b)

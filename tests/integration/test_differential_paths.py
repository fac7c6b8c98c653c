"""Differential tests: module paths, versions, patterns and case folding against golang.org/x/mod.

Hypothesis generates inputs (upper case, ``!``, dots, tildes, non-ASCII, malformed semver,
pseudo-versions, ``+incompatible``, GOPRIVATE-style globs); every input is asked of our Python
code and of the Go oracle helper, and the answers must agree: the same result, or an error on
both sides. Where both fail, Go's error text must end with our reason.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gomodproxy.errors import InvalidModulePath, InvalidVersion, ProxyError
from gomodproxy.module import paths, pseudo, semver
from gomodproxy.module.casefold import equal_fold
from gomodproxy.module.patterns import match_prefix_patterns, path_match_strict
from tests.gohelper_client import GoHelper
from tests.integration.strategies import (
    equal_fold_pairs,
    file_paths,
    glob_lists,
    module_paths,
    module_versions,
    pseudo_versions,
    versions,
)

_T = TypeVar("_T")
_MANY = settings(max_examples=300)


def _ours(fn: Callable[..., _T], *args: Any) -> tuple[_T | None, ProxyError | None]:
    """Call our function; an error of our tree is an answer, anything else a bug."""
    try:
        return fn(*args), None
    except ProxyError as exc:
        return None, exc


def _assert_same(ours: tuple[object, ProxyError | None], go: dict[str, Any]) -> None:
    result, error = ours
    assert (error is None) == (go["err"] == ""), (error, go)
    if error is None:
        assert result == go["result"]


def _assert_same_reason(text: str, error: ProxyError | None, go_err: str) -> None:
    assert (error is None) == (go_err == ""), (error, go_err)
    # Reasons quote offending runes the way Go's %q does, which depends on the Unicode version
    # of each side's tables (Python 3.11: 14.0, Go: 15.0); compare them for text Python knows.
    known = all(unicodedata.category(c) != "Cn" for c in text)
    if known and isinstance(error, InvalidModulePath | InvalidVersion):
        assert go_err.endswith(error.reason), (error.reason, go_err)


@_MANY
@given(path=module_paths)
@example(path="github.com/Azure/azure-sdk-for-go")
@example(path="gopkg.in/check.v1")
@example(path="example.com/~a")
def test_escape_and_unescape_path_agree_with_go(gohelper: GoHelper, path: str) -> None:
    escaped = _ours(paths.escape_path, path)
    _assert_same(escaped, gohelper.call("escape_path", path=path))
    _assert_same(_ours(paths.unescape_path, path), gohelper.call("unescape_path", escaped=path))
    if escaped[0] is not None:
        back = _ours(paths.unescape_path, escaped[0])
        _assert_same(back, gohelper.call("unescape_path", escaped=escaped[0]))


@_MANY
@given(version=versions)
@example(version="v1.0.0-RC1")
def test_escape_and_unescape_version_agree_with_go(gohelper: GoHelper, version: str) -> None:
    _assert_same(
        _ours(paths.escape_version, version), gohelper.call("escape_version", version=version)
    )
    _assert_same(
        _ours(paths.unescape_version, version), gohelper.call("unescape_version", escaped=version)
    )


@_MANY
@given(path=st.one_of(module_paths, file_paths))
@example(path="github.com/x/y/v2")
@example(path="a/con.txt/b")
@example(path="example.com/x~1")
@example(path="\U00031350")
def test_path_checks_agree_with_go(gohelper: GoHelper, path: str) -> None:
    for op, fn in (
        ("check_path", paths.check_path),
        ("check_import_path", paths.check_import_path),
        ("check_file_path", paths.check_file_path),
    ):
        _, error = _ours(fn, path)
        _assert_same_reason(path, error, gohelper.call(op, path=path)["err"])


@_MANY
@given(case=module_versions())
@example(case=("gopkg.in/check.v1", "v0.0.0-20160102150405-abcdef123456"))
@example(case=("rsc.io/quote", "v17.0.0+incompatible"))
@example(case=("github.com/go-yaml/yaml/v2", "v1.0.0"))
def test_module_check_agrees_with_go(gohelper: GoHelper, case: tuple[str, str]) -> None:
    path, version = case
    _, error = _ours(paths.check, path, version)
    go_err = gohelper.call("check", path=path, version=version)["err"]
    assert (error is None) == (go_err == ""), (error, go_err)


@_MANY
@given(case=module_versions())
def test_split_path_version_and_path_major_agree_with_go(
    gohelper: GoHelper, case: tuple[str, str]
) -> None:
    path, version = case
    go = gohelper.call("split_path_version", path=path)
    assert paths.split_path_version(path) == (go["prefix"], go["path_major"], go["ok"])
    major = go["path_major"]
    go_major = gohelper.call("check_path_major", version=version, path_major=major)
    _, error = _ours(paths.check_path_major, version, major)
    assert (error is None) == (go_major["err"] == ""), (error, go_major)
    assert paths.match_path_major(version, major) == go_major["match"]
    canonical = gohelper.call("canonical_version", version=version)["result"]
    assert paths.canonical_version(version) == canonical


@_MANY
@given(version=versions)
@example(version="v1.2.3-pre+build")
@example(version="v1.0.0-01")
def test_semver_parts_agree_with_go(gohelper: GoHelper, version: str) -> None:
    go = gohelper.call("semver", version=version)
    ours = {
        "is_valid": semver.is_valid(version),
        "canonical": semver.canonical(version),
        "major": semver.major(version),
        "major_minor": semver.major_minor(version),
        "prerelease": semver.prerelease(version),
        "build": semver.build(version),
    }
    assert ours == go


@_MANY
@given(v=versions, w=versions)
@example(v="v1.0.0-alpha.1", w="v1.0.0-alpha.beta")
@example(v="v1.0.0-2", w="v1.0.0-10")
def test_semver_compare_and_max_agree_with_go(gohelper: GoHelper, v: str, w: str) -> None:
    go = gohelper.call("semver_compare", v=v, w=w)
    assert semver.compare(v, w) == go["compare"]
    assert semver.max_version(v, w) == go["max"]


@settings(max_examples=150)
@given(listed=st.lists(versions, max_size=12))
def test_semver_sort_agrees_with_go(gohelper: GoHelper, listed: list[str]) -> None:
    assert semver.sort_versions(listed) == gohelper.call("semver_sort", list=listed)["result"]


def _format_time(v: str) -> tuple[str, ProxyError | None]:
    t, error = _ours(pseudo.pseudo_version_time, v)
    if t is None:
        return "", error
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z",
        None,
    )


@_MANY
@given(version=st.one_of(pseudo_versions, versions))
@example(version="v1.2.4-0.20191109021931-daa7c04131f5")
@example(version="v0.0.0-20191109021931-daa7c04131f5+incompatible")
@example(version="v1.0.0-0.20191109021931-daa7c04131f5")
def test_pseudo_version_parsing_agrees_with_go(gohelper: GoHelper, version: str) -> None:
    go = gohelper.call("pseudo", version=version)
    assert pseudo.is_pseudo_version(version) == go["is_pseudo"]
    assert pseudo.is_zero_pseudo_version(version) == go["is_zero_pseudo"]
    base, base_error = _ours(pseudo.pseudo_version_base, version)
    assert (base_error is None) == (go["base_err"] == ""), (base_error, go)
    if base_error is None:
        assert base == go["base"]
    rev, rev_error = _ours(pseudo.pseudo_version_rev, version)
    assert (rev_error is None) == (go["rev_err"] == ""), (rev_error, go)
    if rev_error is None:
        assert rev == go["rev"]
    assert _format_time(version)[0] == go["time"]


@_MANY
@given(case=glob_lists())
@example(case=("*.corp.example.com,rsc.io/private", "rsc.io/private/quux"))
@example(case=("a/b", "a/b/c"))
@example(case=("[", "a"))
def test_match_prefix_patterns_agrees_with_go(gohelper: GoHelper, case: tuple[str, str]) -> None:
    globs, target = case
    go = gohelper.call("match_prefix_patterns", globs=globs, target=target)
    assert match_prefix_patterns(globs, target) == go["result"]


@_MANY
@given(case=glob_lists())
@example(case=("a[", "a"))
@example(case=("[]a]", "]"))
@example(case=("\\", "a"))
def test_path_match_agrees_with_go(gohelper: GoHelper, case: tuple[str, str]) -> None:
    pattern, name = case
    go = gohelper.call("path_match", pattern=pattern, name=name)
    result, error = _ours(path_match_strict, pattern, name)
    assert (error is None) == (go["err"] == ""), (error, go)
    if error is None:
        assert result == go["result"]


@_MANY
@given(pair=equal_fold_pairs())
@example(pair=("\u212a", "k"))
@example(pair=("ß", "ẞ"))
@example(pair=("ǅ", "ǆ"))
def test_equal_fold_agrees_with_go(gohelper: GoHelper, pair: tuple[str, str]) -> None:
    a, b = pair
    assert equal_fold(a, b) == gohelper.call("equal_fold", a=a, b=b)["result"]

"""Semantic versions, ported from x/mod semver/semver_test.go."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomodproxy.module import semver

# semver_test.go ``tests``: (input, canonical form or "" when invalid), in ascending order.
TESTS: list[tuple[str, str]] = [
    ("bad", ""),
    ("v1-alpha.beta.gamma", ""),
    ("v1-pre", ""),
    ("v1+meta", ""),
    ("v1-pre+meta", ""),
    ("v1.2-pre", ""),
    ("v1.2+meta", ""),
    ("v1.2-pre+meta", ""),
    ("v1.0.0-alpha", "v1.0.0-alpha"),
    ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
    ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
    ("v1.0.0-beta", "v1.0.0-beta"),
    ("v1.0.0-beta.2", "v1.0.0-beta.2"),
    ("v1.0.0-beta.11", "v1.0.0-beta.11"),
    ("v1.0.0-rc.1", "v1.0.0-rc.1"),
    ("v1", "v1.0.0"),
    ("v1.0", "v1.0.0"),
    ("v1.0.0", "v1.0.0"),
    ("v1.2", "v1.2.0"),
    ("v1.2.0", "v1.2.0"),
    ("v1.2.3-456", "v1.2.3-456"),
    ("v1.2.3-456.789", "v1.2.3-456.789"),
    ("v1.2.3-456-789", "v1.2.3-456-789"),
    ("v1.2.3-456a", "v1.2.3-456a"),
    ("v1.2.3-pre", "v1.2.3-pre"),
    ("v1.2.3-pre+meta", "v1.2.3-pre"),
    ("v1.2.3-pre.1", "v1.2.3-pre.1"),
    ("v1.2.3-zzz", "v1.2.3-zzz"),
    ("v1.2.3", "v1.2.3"),
    ("v1.2.3+meta", "v1.2.3"),
    ("v1.2.3+meta-pre", "v1.2.3"),
    ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
]

MORE_INVALID = [
    "",
    "v",
    "1.2.3",
    "v01.2.3",
    "v1.02.3",
    "v1.2.03",
    "v1.2.3-01",
    "v1.2.3-",
    "v1.2.3-a..b",
    "v1.2.3+",
    "v1.2.3+a..b",
    "v1.2.3-ü",
    "v1.2.3.4",
    "V1.2.3",
    "v1.2.3\n",
]


@pytest.mark.parametrize(("version", "want"), TESTS)
def test_is_valid_and_canonical(version: str, want: str) -> None:
    assert semver.is_valid(version) is (want != "")
    assert semver.canonical(version) == want


@pytest.mark.parametrize("version", MORE_INVALID)
def test_malformed_versions_are_invalid(version: str) -> None:
    assert not semver.is_valid(version)
    assert semver.canonical(version) == ""
    assert semver.major(version) == ""


def test_build_metadata_may_have_leading_zeros_but_prerelease_may_not() -> None:
    assert semver.is_valid("v1.2.3+007")
    assert not semver.is_valid("v1.2.3-007")
    assert semver.is_valid("v1.2.3-0")
    assert semver.is_valid("v1.2.3-0a7")


@pytest.mark.parametrize(("version", "canon"), TESTS)
def test_major(version: str, canon: str) -> None:
    assert semver.major(version) == (canon.split(".")[0] if canon else "")


@pytest.mark.parametrize(("version", "canon"), TESTS)
def test_major_minor(version: str, canon: str) -> None:
    want = ""
    if canon:
        want = version.split("+")[0].split("-")[0]
        dots = want.count(".")
        if dots == 0:
            want += ".0"
        elif dots == 2:
            want = want[: want.rfind(".")]
    assert semver.major_minor(version) == want


@pytest.mark.parametrize(("version", "canon"), TESTS)
def test_prerelease(version: str, canon: str) -> None:
    want = canon[canon.index("-") :] if canon and "-" in canon else ""
    assert semver.prerelease(version) == want


@pytest.mark.parametrize(("version", "canon"), TESTS)
def test_build(version: str, canon: str) -> None:
    want = version[version.index("+") :] if canon and "+" in version else ""
    assert semver.build(version) == want


def test_compare_follows_table_order() -> None:
    for i, (vi, ci) in enumerate(TESTS):
        for j, (vj, cj) in enumerate(TESTS):
            want = 0 if ci == cj else (-1 if i < j else 1)
            assert semver.compare(vi, vj) == want, (vi, vj)


@pytest.mark.parametrize(
    ("v", "w", "want"),
    [("v1", "v1", 0), ("v2", "v1", 1), ("v1", "v2", -1), ("v1.19", "v1.2", 1)],
)
def test_compare_explicit(v: str, w: str, want: int) -> None:
    assert semver.compare(v, w) == want


def test_compare_numbers_numerically_at_any_size() -> None:
    assert semver.compare("v1.2.99999999999999999999", "v1.2.100000000000000000000") == -1
    assert semver.compare("v1.0.0-2", "v1.0.0-10") == -1
    assert semver.compare("v1.0.0-10", "v1.0.0-a") == -1
    assert semver.compare("v1.0.0+a", "v1.0.0+b") == 0
    assert semver.compare("bad", "v0.0.0") == -1
    assert semver.compare("bad", "worse") == 0


def test_max_version_canonicalizes() -> None:
    for i, (vi, _) in enumerate(TESTS):
        for j, (vj, _) in enumerate(TESTS):
            want = semver.canonical(vj) if i < j else semver.canonical(vi)
            assert semver.max_version(vi, vj) == want, (vi, vj)


def test_sort_versions_orders_by_precedence_then_string() -> None:
    versions = [v for v, _ in TESTS]
    shuffled = versions[:]
    random.Random(7).shuffle(shuffled)
    got = semver.sort_versions(shuffled)
    for a, b in itertools.pairwise(got):
        c = semver.compare(a, b)
        assert c < 0 or (c == 0 and a <= b)
    assert semver.sort_versions(["v1.0.0+b", "v1.0.0+a", "v1.0.0"]) == [
        "v1.0.0",
        "v1.0.0+a",
        "v1.0.0+b",
    ]
    assert semver.sort_versions(["v1", "zz", "aa"]) == ["aa", "zz", "v1"]


_NUM = st.integers(min_value=0, max_value=12).map(str)
_IDENT = st.one_of(_NUM, st.sampled_from(["alpha", "beta", "rc", "a-b", "0a", "x"]))


@st.composite
def _versions(draw: st.DrawFn) -> str:
    v = "v" + ".".join(draw(_NUM) for _ in range(draw(st.integers(1, 3))))
    if v.count(".") == 2 and draw(st.booleans()):
        v += "-" + ".".join(draw(st.lists(_IDENT, min_size=1, max_size=3)))
    if v.count(".") >= 2 and draw(st.booleans()):
        v += "+" + draw(st.sampled_from(["meta", "incompatible", "001"]))
    return v


@given(_versions())
def test_canonical_is_idempotent_and_valid(v: str) -> None:
    c = semver.canonical(v)
    assert semver.is_valid(v)
    assert semver.canonical(c) == c
    assert semver.compare(v, c) == 0


@given(_versions(), _versions())
def test_compare_is_antisymmetric_and_matches_version_key(a: str, b: str) -> None:
    assert semver.compare(a, b) == -semver.compare(b, a)
    key_order = (semver.version_key(a) > semver.version_key(b)) - (
        semver.version_key(a) < semver.version_key(b)
    )
    assert key_order == semver.compare(a, b)
    assert (semver.compare(a, b) == 0) == (semver.canonical(a) == semver.canonical(b))


@given(_versions(), _versions(), _versions())
def test_compare_is_transitive(a: str, b: str, c: str) -> None:
    if semver.compare(a, b) <= 0 and semver.compare(b, c) <= 0:
        assert semver.compare(a, c) <= 0

"""Pseudo-versions, ported from x/mod module/pseudo_test.go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomodproxy.errors import InvalidVersion
from gomodproxy.module import pseudo, semver

# pseudoTests: (major, older tag, pseudo-version built at PSEUDO_TIME for rev "hash").
PSEUDO_TESTS: list[tuple[str, str, str]] = [
    ("", "", "v0.0.0-20060102150405-hash"),
    ("v0", "", "v0.0.0-20060102150405-hash"),
    ("v1", "", "v1.0.0-20060102150405-hash"),
    ("v2", "", "v2.0.0-20060102150405-hash"),
    ("unused", "v0.0.0", "v0.0.1-0.20060102150405-hash"),
    ("unused", "v1.2.3", "v1.2.4-0.20060102150405-hash"),
    ("unused", "v1.2.99999999999999999", "v1.2.100000000000000000-0.20060102150405-hash"),
    ("unused", "v1.2.3-pre", "v1.2.3-pre.0.20060102150405-hash"),
    ("unused", "v1.3.0-pre", "v1.3.0-pre.0.20060102150405-hash"),
    ("unused", "v0.0.0--", "v0.0.0--.0.20060102150405-hash"),
    ("unused", "v1.0.0+metadata", "v1.0.1-0.20060102150405-hash+metadata"),
    ("unused", "v2.0.0+incompatible", "v2.0.1-0.20060102150405-hash+incompatible"),
    ("unused", "v2.3.0-pre+incompatible", "v2.3.0-pre.0.20060102150405-hash+incompatible"),
]
PSEUDO_TIME = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)

INVALID_BASES = [
    "v0.0.0",
    "v0.0.0-",  # malformed: empty prerelease
    "v0.0.0-0.20060102150405-hash",  # Z+1 == 0
    "v0.1.0-0.20060102150405-hash",  # Z+1 == 0
    "v1.0.0-0.20060102150405-hash",  # Z+1 == 0
    "v0.0.0-20060102150405-hash+incompatible",  # +incompatible without base version
    "v0.0.0-20060102150405-hash+metadata",  # other metadata without base version
]


@pytest.mark.parametrize(("major", "older", "version"), PSEUDO_TESTS)
def test_pseudo_version_builds_go_form(major: str, older: str, version: str) -> None:
    assert pseudo.pseudo_version(major, older, PSEUDO_TIME, "hash") == version


@pytest.mark.parametrize(("major", "older", "version"), PSEUDO_TESTS)
def test_is_pseudo_version(major: str, older: str, version: str) -> None:
    assert pseudo.is_pseudo_version(version)
    assert not pseudo.is_pseudo_version(older)


@pytest.mark.parametrize(("major", "older", "version"), PSEUDO_TESTS)
def test_pseudo_version_time(major: str, older: str, version: str) -> None:
    assert pseudo.pseudo_version_time(version) == PSEUDO_TIME
    with pytest.raises(pseudo.InvalidPseudoVersion):
        pseudo.pseudo_version_time(older)


def test_invalid_pseudo_version_time() -> None:
    with pytest.raises(pseudo.InvalidPseudoVersion, match="syntax error"):
        pseudo.pseudo_version_time("---")
    with pytest.raises(pseudo.InvalidPseudoVersion, match='malformed time "20061302150405"'):
        pseudo.pseudo_version_time("v1.0.0-20061302150405-abcdefabcdef")
    with pytest.raises(pseudo.InvalidPseudoVersion, match="malformed time"):
        pseudo.pseudo_version_time("v1.0.0-20060230150405-abcdefabcdef")


@pytest.mark.parametrize(("major", "older", "version"), PSEUDO_TESTS)
def test_pseudo_version_rev(major: str, older: str, version: str) -> None:
    assert pseudo.pseudo_version_rev(version) == "hash"
    with pytest.raises(pseudo.InvalidPseudoVersion):
        pseudo.pseudo_version_rev(older)


@pytest.mark.parametrize(("major", "older", "version"), PSEUDO_TESTS)
def test_pseudo_version_base(major: str, older: str, version: str) -> None:
    assert pseudo.pseudo_version_base(version) == older


@pytest.mark.parametrize("version", INVALID_BASES)
def test_invalid_pseudo_version_base(version: str) -> None:
    with pytest.raises(pseudo.InvalidPseudoVersion):
        pseudo.pseudo_version_base(version)


def test_pseudo_version_errors_name_the_reason() -> None:
    with pytest.raises(InvalidVersion) as info:
        pseudo.pseudo_version_base("v1.0.0-0.20060102150405-hash")
    assert str(info.value) == (
        "v1.0.0-0.20060102150405-hash: invalid pseudo-version: "
        "version before v1.0.0 would have negative patch number"
    )
    with pytest.raises(InvalidVersion) as info:
        pseudo.pseudo_version_base("v0.0.0-20060102150405-hash+incompatible")
    assert info.value.reason == 'lacks base version, but has build metadata "+incompatible"'
    with pytest.raises(InvalidVersion) as info:
        pseudo.pseudo_version_rev("v1.2.3")
    assert str(info.value) == "v1.2.3: invalid pseudo-version: syntax error"


def test_is_pseudo_version_rejects_near_misses() -> None:
    for v in (
        "v1.2.3-20060102150405-hash",  # form 1 needs X.0.0
        "v1.0.0-2006010215040-hash",  # 13 digits
        "v1.2.4-1.20060102150405-hash",  # must be -0.
        "v1.2.4-0.20060102150405-",  # empty rev
        "v1.2.4-0.20060102150405-ha_sh",
        "v0.0.0-20060102150405-hash\n",
        "v01.0.0-20060102150405-hash",  # not semver
    ):
        assert not pseudo.is_pseudo_version(v), v
    assert pseudo.is_pseudo_version("v1.2.4-0.20060102150405-abcdefabcdef+incompatible")


def test_pseudo_version_formats_time_in_utc_with_four_digit_years() -> None:
    plus2 = timezone(timedelta(hours=2))
    t = datetime(2006, 1, 2, 17, 4, 5, tzinfo=plus2)
    assert pseudo.pseudo_version("v1", "", t, "abc") == "v1.0.0-20060102150405-abc"
    naive = datetime(2006, 1, 2, 15, 4, 5)
    assert pseudo.pseudo_version("v1", "", naive, "abc") == "v1.0.0-20060102150405-abc"
    early = datetime(999, 1, 2, tzinfo=UTC)
    assert pseudo.pseudo_version("v1", "", early, "abc") == "v1.0.0-09990102000000-abc"


def test_zero_pseudo_version() -> None:
    assert pseudo.zero_pseudo_version("v0") == "v0.0.0-00010101000000-000000000000"
    assert pseudo.zero_pseudo_version("v2") == "v2.0.0-00010101000000-000000000000"
    assert pseudo.zero_pseudo_version("") == "v0.0.0-00010101000000-000000000000"
    assert pseudo.is_zero_pseudo_version("v2.0.0-00010101000000-000000000000")
    assert not pseudo.is_zero_pseudo_version("v2.0.0-00010101000000-000000000001")
    assert not pseudo.is_zero_pseudo_version("v0.0.0")
    assert pseudo.pseudo_version_time(pseudo.zero_pseudo_version("v1")) == datetime(
        1, 1, 1, tzinfo=UTC
    )


_TAGS = st.one_of(
    st.just(""),
    st.builds(
        lambda a, b, c, pre, meta: f"v{a}.{b}.{c}{pre}{meta}",
        st.integers(0, 3),
        st.integers(0, 3),
        st.sampled_from([0, 1, 9, 99, 999999999999999999999]),
        st.sampled_from(["", "-pre", "-rc.1", "-0"]),
        st.sampled_from(["", "+incompatible"]),
    ),
)
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)


@given(_TAGS, _TIMES, st.text(alphabet="0123456789abcdef", min_size=12, max_size=12))
def test_built_pseudo_versions_parse_back(older: str, t: datetime, rev: str) -> None:
    v = pseudo.pseudo_version("v0", older, t, rev)
    assert pseudo.is_pseudo_version(v)
    assert pseudo.pseudo_version_rev(v) == rev
    assert pseudo.pseudo_version_time(v) == t.replace(microsecond=0)
    assert pseudo.pseudo_version_base(v) == older
    if older:
        assert semver.compare(v, older) > 0

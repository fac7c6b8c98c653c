"""GOSUMDB parsing and the useSumDB rule (fault catalogue item 70)."""

from __future__ import annotations

import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.sumdb.gosumdb import (
    SUM_GOLANG_ORG_KEY,
    SumDBConfig,
    goproxy_is_single_file,
    parse_gosumdb,
    use_sumdb,
)
from gomodproxy.tlog.note import generate_key, key_hash, new_verifier


def test_g70_builtin_key_is_the_go_command_constant_and_self_consistent() -> None:
    assert SUM_GOLANG_ORG_KEY == (
        "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
    )
    v = new_verifier(SUM_GOLANG_ORG_KEY)
    assert (v.name, v.key_hash) == ("sum.golang.org", 0x033DE0AE)


def test_key_hash_of_the_builtin_key_is_recomputed_from_its_bytes() -> None:
    import base64

    raw = base64.b64decode(SUM_GOLANG_ORG_KEY.split("+", 2)[2])
    assert key_hash("sum.golang.org", raw) == 0x033DE0AE


def test_g70_off_disables_the_database() -> None:
    assert parse_gosumdb("off") is None


def test_g70_bare_builtin_name_gets_its_key() -> None:
    assert parse_gosumdb("sum.golang.org") == SumDBConfig(
        "sum.golang.org", SUM_GOLANG_ORG_KEY, None
    )


def test_g70_china_alias_is_sum_golang_org_at_its_own_url() -> None:
    cfg = parse_gosumdb("sum.golang.google.cn")
    assert cfg == SumDBConfig("sum.golang.org", SUM_GOLANG_ORG_KEY, "https://sum.golang.google.cn")


def test_g70_full_key_and_key_with_url() -> None:
    _, vkey = generate_key("sumdb.example.test/db")
    cfg = parse_gosumdb(vkey)
    assert cfg == SumDBConfig("sumdb.example.test/db", vkey, None)
    assert cfg is not None
    assert cfg.direct_url == "https://sumdb.example.test/db"
    with_url = parse_gosumdb(f"{vkey} http://127.0.0.1:8080/sumdb/x")
    assert with_url == SumDBConfig("sumdb.example.test/db", vkey, "http://127.0.0.1:8080/sumdb/x")


def test_g70_builtin_name_with_an_explicit_url() -> None:
    cfg = parse_gosumdb("sum.golang.org http://127.0.0.1:9/db")
    assert cfg == SumDBConfig("sum.golang.org", SUM_GOLANG_ORG_KEY, "http://127.0.0.1:9/db")


def test_g70_more_than_two_fields_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^invalid GOSUMDB: too many fields$"):
        parse_gosumdb("sum.golang.org https://a https://b")


@pytest.mark.parametrize("value", ["", "   "])
def test_g70_empty_gosumdb_is_missing(value: str) -> None:
    with pytest.raises(ConfigError, match=r"missing GOSUMDB"):
        parse_gosumdb(value)


@pytest.mark.parametrize(
    "value",
    [
        "sumdb.example.test",  # a bare name with no built-in key
        "sum.golang.org+033de0ae",
        "sum.golang.org+033de0af+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
        " off",  # only exactly "off" turns it off
        "OFF",
    ],
)
def test_g70_bad_or_unknown_key_is_an_invalid_gosumdb(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^invalid GOSUMDB: "):
        parse_gosumdb(value)


@pytest.mark.parametrize(
    "name",
    [
        "https://sumdb.example.test",  # a scheme
        "sumdb.example.test/",  # trailing slash
        "user@sumdb.example.test",  # user info
        "sumdb.example.test?x=1",  # query
        "sumdb.example.test#frag",  # fragment
        "sumdb.example.test/a%41",  # escapes
        "/just/a/path",  # no host
        "sumdb.example.test//x",  # empty path element
        "sumdb.example.test:",  # empty port
        "sumdb.example.test:80x",  # bad port
        "sum{db}.example.test",  # a character url.Parse refuses in a host
    ],
)
def test_g70_name_that_is_not_host_path_is_refused(name: str) -> None:
    _, vkey = generate_key(name)
    with pytest.raises(ConfigError, match=r"^invalid sumdb name \(must be host\[/path\]\): "):
        parse_gosumdb(vkey)


@pytest.mark.parametrize(
    "name",
    ["sumdb.example.test", "127.0.0.1:8080", "a.example/b/c", "[::1]:443/db", "h.test:80/db"],
)
def test_g70_host_and_path_names_are_accepted(name: str) -> None:
    _, vkey = generate_key(name)
    cfg = parse_gosumdb(vkey)
    assert cfg is not None
    assert cfg.name == name


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "127.0.0.1/x", "https://u:p@127.0.0.1/", "http://h/?q"]
)
def test_g70_bad_explicit_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^invalid GOSUMDB URL"):
        parse_gosumdb(f"sum.golang.org {url}")


def test_g70_use_sumdb_follows_gosumdb_and_gonosumdb() -> None:
    assert use_sumdb("rsc.io/quote", "sum.golang.org", "", False)
    assert not use_sumdb("rsc.io/quote", "off", "", False)
    assert not use_sumdb("rsc.io/quote", "sum.golang.org", "rsc.io", False)
    assert not use_sumdb("corp.example/x/y", "sum.golang.org", "*.example,other", False)
    assert use_sumdb("rsc.io/quote", "sum.golang.org", "rsc.io/q", False)


def test_g70_toolchain_is_checked_even_when_off_or_excluded() -> None:
    assert use_sumdb("golang.org/toolchain", "off", "", False)
    assert use_sumdb("golang.org/toolchain", "sum.golang.org", "golang.org", False)
    assert not use_sumdb("golang.org/toolchain", "off", "", True)
    assert use_sumdb("golang.org/toolchain", "sum.golang.org", "", True)
    assert not use_sumdb("golang.org/toolchainx", "off", "", False)


@pytest.mark.parametrize(
    ("goproxy", "single"),
    [
        ("file:///tmp/proxy", True),
        ("file:///tmp/proxy,direct", False),
        ("file:///tmp/proxy|direct", False),
        ("http://127.0.0.1:1", False),
        ("direct", False),
    ],
)
def test_g70_single_file_goproxy_detection(goproxy: str, single: bool) -> None:
    assert goproxy_is_single_file(goproxy) is single

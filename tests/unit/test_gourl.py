"""Go net/url.Parse port used for GOPROXY entries (values checked against Go's url.Parse)."""

from __future__ import annotations

import pytest

from gomodproxy.module.gourl import GoURL, URLParseError, parse_url


def test_parse_splits_fields_like_go() -> None:
    u = parse_url("https://user:pa%20ss@proxy.example:8443/go/%2Fx?q=1#frag")
    assert u.scheme == "https"
    assert (u.user, u.password) == ("user", "pa ss")
    assert u.host == "proxy.example:8443"
    assert (u.path, u.raw_path) == ("/go//x", "/go/%2Fx")
    assert (u.raw_query, u.fragment) == ("q=1", "frag")
    assert str(u) == "https://user:pa%20ss@proxy.example:8443/go/%2Fx?q=1#frag"


def test_redacted_and_masked_hide_only_the_password() -> None:
    u = parse_url("https://user:secret@h.example/p")
    assert u.redacted() == "https://user:xxxxx@h.example/p"
    assert u.masked() == "https://user:***@h.example/p"
    token = parse_url("https://token@h.example/p")
    assert token.redacted() == token.masked() == "https://token@h.example/p"


def test_file_urls_path_only_rule() -> None:
    assert parse_url("file:///srv/proxy").is_path_only()
    assert parse_url("FILE:///srv/proxy").scheme == "file"
    for bad in ("file:/srv", "file://h/srv", "file:///srv?", "file:///srv?x", "file:///srv#f"):
        assert not parse_url(bad).is_path_only(), bad
    assert parse_url("file:/srv").omit_host
    assert parse_url("file:///srv#").is_path_only()


def test_opaque_and_relative_forms() -> None:
    assert parse_url("https:opaque?x").opaque == "opaque"
    assert parse_url("*") == GoURL(path="*")
    assert str(parse_url("x y")) == "x%20y"
    assert parse_url("//h/p").host == "h"
    assert parse_url("///p").host == ""
    assert parse_url("http://[fe80::1%25en0]:8080/").host == "[fe80::1%en0]:8080"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("\x7f", 'parse "\\x7f": net/url: invalid control character in URL'),
        (":x", 'parse ":x": missing protocol scheme'),
        ("https://h:1:2", 'parse "https://h:1:2": invalid port ":1:2" after host'),
        ("https://[::1", "parse \"https://[::1\": missing ']' in host"),
        ("https://a[::1]", 'parse "https://a[::1]": invalid IP-literal'),
        ("https://[1.2.3.4]", 'parse "https://[1.2.3.4]": invalid IP-literal'),
        ("https://u^x@h", 'parse "https://u^x@h": net/url: invalid userinfo'),
        ("https://h%41", 'parse "https://h%41": invalid URL escape "%41"'),
        ("https://h/%4", 'parse "https://h/%4": invalid URL escape "%4"'),
        ("https://h#%g0", 'parse "https://h#%g0": invalid URL escape "%g0"'),
        ("https://a b", 'parse "https://a b": invalid character " " in host name'),
    ],
)
def test_parse_errors_use_go_text(raw: str, message: str) -> None:
    with pytest.raises(URLParseError) as info:
        parse_url(raw)
    assert str(info.value) == message


def test_colon_in_first_relative_segment_is_rejected() -> None:
    with pytest.raises(URLParseError, match="first path segment in URL cannot contain colon"):
        parse_url("1a:b")
    assert parse_url("a:b/c:d").scheme == "a"  # a scheme, so the rest is opaque
    assert parse_url("x/a:b").path == "x/a:b"  # the colon is not in the first segment

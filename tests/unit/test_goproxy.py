"""GOPROXY list parsing (cmd/go modfetch proxyList) and private settings: catalogue item 68.

Expected error texts were taken from the go command's own output for the same GOPROXY values.
"""

from __future__ import annotations

import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.module.goproxy import (
    EMPTY_LIST_MESSAGE,
    OFF_MESSAGE,
    ProxyEntry,
    ProxyList,
    parse_goproxy,
    private_settings,
)

# A stand-in for `go env GOPROXY` from go.env: any valid list will do for these tests.
GO_ENV_DEFAULT = "https://mirror.example,direct"


def _urls(pl: ProxyList) -> list[tuple[str, bool]]:
    return [(e.url, e.fallback_on_any_error) for e in pl]


def test_g68_empty_value_takes_the_go_env_default() -> None:
    pl = parse_goproxy("", default=GO_ENV_DEFAULT)
    assert _urls(pl) == [("https://mirror.example", False), ("direct", False)]


def test_g68_empty_value_without_default_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="go env GOPROXY"):
        parse_goproxy("")
    with pytest.raises(ConfigError):
        parse_goproxy("", default="")


def test_g68_off_and_direct_are_single_entries() -> None:
    assert _urls(parse_goproxy("off")) == [("off", False)]
    assert _urls(parse_goproxy("direct")) == [("direct", False)]
    assert OFF_MESSAGE == "module lookup disabled by GOPROXY=off"


def test_g68_entries_after_off_or_direct_are_ignored_even_if_invalid() -> None:
    assert _urls(parse_goproxy("off,ftp://x")) == [("off", False)]
    assert _urls(parse_goproxy("direct,ftp://x")) == [("direct", False)]
    assert _urls(parse_goproxy("https://a|direct|https://b")) == [
        ("https://a", True),
        ("direct", False),
    ]


@pytest.mark.parametrize("value", [",", "|", " ", " , | ", ",,,", "\t|\n"])
def test_g68_list_without_entries_fails_with_go_text(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_goproxy(value, default=GO_ENV_DEFAULT)
    assert str(info.value) == "GOPROXY list is not the empty string, but contains no entries"
    assert str(info.value) == EMPTY_LIST_MESSAGE


def test_g68_empty_list_fails_even_with_the_implicit_noproxy() -> None:
    with pytest.raises(ConfigError, match=EMPTY_LIST_MESSAGE):
        parse_goproxy(",", gonoproxy="corp.example")


def test_g68_separator_after_an_entry_sets_its_fallback() -> None:
    pl = parse_goproxy("https://a|https://b,https://c|direct")
    assert _urls(pl) == [
        ("https://a", True),
        ("https://b", False),
        ("https://c", True),
        ("direct", False),
    ]


def test_g68_empty_entries_are_skipped_and_keep_their_separator_semantics() -> None:
    assert _urls(parse_goproxy("a.example,,b.example")) == [
        ("https://a.example", False),
        ("https://b.example", False),
    ]
    # "a|,b": the | belongs to a; the empty entry between carries nothing.
    assert _urls(parse_goproxy("a.example|,b.example")) == [
        ("https://a.example", True),
        ("https://b.example", False),
    ]
    assert _urls(parse_goproxy("a.example,|b.example")) == [
        ("https://a.example", False),
        ("https://b.example", False),
    ]


def test_g68_spaces_around_entries_are_trimmed() -> None:
    assert _urls(parse_goproxy("  https://a.example/  |\tdirect ")) == [
        ("https://a.example/", True),
        ("direct", False),
    ]
    assert _urls(parse_goproxy(" off ")) == [("off", False)]
    assert _urls(parse_goproxy("\u3000direct\u00a0")) == [("direct", False)]


def test_g68_go_keeps_ascii_separators_that_python_strip_would_drop() -> None:
    with pytest.raises(ConfigError, match="invalid control character"):
        parse_goproxy("\x1cdirect")


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("proxy.example", "https://proxy.example"),
        ("proxy.example/sub/", "https://proxy.example/sub/"),
        ("localhost:8080", "https://localhost:8080"),
        ("127.0.0.1:3000/go", "https://127.0.0.1:3000/go"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("HTTPS://proxy.example", "HTTPS://proxy.example"),
        ("file:///srv/goproxy", "file:///srv/goproxy"),
        ("FILE:///srv/goproxy", "FILE:///srv/goproxy"),
    ],
)
def test_g68_bare_hosts_get_https_and_urls_are_kept_as_written(entry: str, url: str) -> None:
    assert _urls(parse_goproxy(entry)) == [(url, False)]


def test_g68_trailing_slashes_are_kept_in_the_entry() -> None:
    pl = parse_goproxy("https://a.example/,https://b.example//x/")
    assert pl.proxy_urls == ("https://a.example/", "https://b.example//x/")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://x", "invalid proxy URL scheme (must be https, http, file): ftp://x"),
        ("file://host/x", "invalid file:// proxy URL with non-path elements: file://host/x"),
        ("file:///x?y", "invalid file:// proxy URL with non-path elements: file:///x?y"),
        ("file:///x?", "invalid file:// proxy URL with non-path elements: file:///x?"),
        ("file:///x#f", "invalid file:// proxy URL with non-path elements: file:///x#f"),
        ("file:/x", "invalid file:// proxy URL with non-path elements: file:/x"),
        ("file://u@/x", "invalid file:// proxy URL with non-path elements: file://u@/x"),
        ("foo", "invalid proxy URL missing scheme: foo"),
        ("noproxy", "invalid proxy URL missing scheme: noproxy"),
        ("x y", "invalid proxy URL missing scheme: x%20y"),
        ("/abs/path", "invalid proxy URL missing scheme: /abs/path"),
        ("https://a b", 'parse "https://a b": invalid character " " in host name'),
        ("https://u:p@h:bad", 'parse "https://u:p@h:bad": invalid port ":bad" after host'),
        ("https://[::1", "parse \"https://[::1\": missing ']' in host"),
        (":x", 'parse "https://:x": invalid port ":x" after host'),
        ("a:b", 'parse "https://a:b": invalid port ":b" after host'),
        ("c:\\x", 'parse "https://c:\\\\x": invalid port ":\\\\x" after host'),
        ("https://u:p%zz@h", 'parse "https://u:p%zz@h": invalid URL escape "%zz"'),
        ("\x01", 'parse "\\x01": net/url: invalid control character in URL'),
        ("https://h/%zz", 'parse "https://h/%zz": invalid URL escape "%zz"'),
        ("file:///x/%zz", 'parse "file:///x/%zz": invalid URL escape "%zz"'),
        ("file:x", 'parse "https://file:x": invalid port ":x" after host'),
        ("https://h:1:2", 'parse "https://h:1:2": invalid port ":1:2" after host'),
        ("https://[1.2.3.4]", 'parse "https://[1.2.3.4]": invalid IP-literal'),
        ("https://h#%zz", 'parse "https://h#%zz": invalid URL escape "%zz"'),
        ("a,ftp://x,direct", "invalid proxy URL missing scheme: a"),
        (
            "https://u:p@ok.example|ftp://u:secret@h",
            "invalid proxy URL scheme (must be https, http, file): ftp://u:xxxxx@h",
        ),
    ],
)
def test_g68_bad_entries_fail_with_the_go_command_text(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_goproxy(value)
    assert str(info.value).startswith(message)
    assert "secret" not in str(info.value)


def test_g68_implicit_noproxy_comes_first_when_gonoproxy_is_set() -> None:
    pl = parse_goproxy("https://a.example,direct", gonoproxy="corp.example")
    assert _urls(pl) == [("noproxy", False), ("https://a.example", False), ("direct", False)]
    assert _urls(parse_goproxy("off", gonoproxy="corp.example")) == [
        ("noproxy", False),
        ("off", False),
    ]


def test_g68_no_implicit_noproxy_when_goproxy_is_exactly_direct() -> None:
    assert _urls(parse_goproxy("direct", gonoproxy="corp.example")) == [("direct", False)]
    # " direct" is not exactly "direct", so noproxy is added (as in the go command).
    assert _urls(parse_goproxy(" direct", gonoproxy="corp.example")) == [
        ("noproxy", False),
        ("direct", False),
    ]
    assert _urls(parse_goproxy("", gonoproxy="corp.example", default="direct")) == [
        ("direct", False)
    ]


def test_entries_describe_themselves_with_credentials_masked() -> None:
    pl = parse_goproxy("https://user:s3cret@proxy.example/go|direct", gonoproxy="x.example")
    assert pl.describe() == "noproxy,https://user:***@proxy.example/go |,direct"
    assert "s3cret" not in pl.describe()
    assert ProxyEntry("https://token@proxy.example").describe() == "https://token@proxy.example"
    assert [e.is_proxy for e in pl] == [False, True, False]
    assert len(pl) == 3


def test_proxy_list_is_frozen() -> None:
    pl = parse_goproxy("direct")
    with pytest.raises(AttributeError):
        pl.entries = ()  # type: ignore[misc]


def test_private_settings_default_from_goprivate_only_when_empty() -> None:
    s = private_settings(goprivate="corp.example", gonoproxy="", gonosumdb="other.example")
    assert s.gonoproxy == "corp.example"
    assert s.gonosumdb == "other.example"
    assert s.is_noproxy("corp.example/x")
    assert not s.is_nosumdb("corp.example/x")
    assert s.is_nosumdb("other.example/y")
    assert private_settings().gonoproxy == ""
    assert not private_settings().is_noproxy("corp.example/x")

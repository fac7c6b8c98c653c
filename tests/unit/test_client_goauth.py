"""GOAUTH's pure parts (cmd/go/internal/auth): the method list, a command's output, ``git
credential fill`` output, the per-prefix credential cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from gomodproxy.client.goauth import (
    CredentialCache,
    check_goauth,
    parse_git_credential,
    parse_goauth,
    parse_user_auth,
    split_command,
)
from gomodproxy.client.goenv import resolve
from gomodproxy.errors import ConfigError


def test_methods_run_last_listed_first() -> None:
    methods = parse_goauth("netrc; /bin/tok 'a b';git /srv/creds")
    assert [m.kind for m in methods] == ["git", "command", "netrc"]
    assert methods[0].git_dir == "/srv/creds"
    assert methods[1].text == "/bin/tok 'a b'"
    assert parse_goauth("off") == ()
    assert parse_goauth(" off ") == ()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "empty command"),
        ("netrc;", "empty command"),
        ("netrc;;netrc", "empty command"),
        ("off;netrc", "cannot be combined"),
        ("git", "requires an absolute path"),
        ("git a b", "requires an absolute path"),
        ("git rel/dir", "dir is not absolute"),
    ],
)
def test_fatal_values(value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_goauth(value)


def test_git_folder_must_exist_and_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot stat"):
        check_goauth(f"git {tmp_path / 'missing'}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        check_goauth(f"git {tmp_path / 'file'}")
    assert check_goauth(f"git {tmp_path}")[0].git_dir == str(tmp_path)


def test_split_command_keeps_quoted_words() -> None:
    assert split_command(" a  'b c'\t\"d 'e\" f") == ["a", "b c", "d 'e", "f"]
    with pytest.raises(ValueError, match="unterminated ' string"):
        split_command("a 'b")


def test_user_auth_output() -> None:
    text = (
        "https://example.com\nhttps://example.net/api/\n\nAuthorization: Basic dG9r\n\n"
        "https://another-example.org/\n\nExample: Data\nX-Two:  spaced \n\n"
    )
    got = parse_user_auth(text)
    assert got == {
        "example.com": (("Authorization", "Basic dG9r"),),
        "example.net/api/": (("Authorization", "Basic dG9r"),),
        "another-example.org/": (("Example", "Data"), ("X-Two", "spaced")),
    }
    assert parse_user_auth("") == {}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("https://example.com\n", "missing empty line after URLs"),
        ("https://example.com\n\nA: b\n", "missing empty line after headers"),
        ("example.com\n\nA: b\n\n", "could not parse URL example.com"),
        ("https://example.com\n\nA:b\n\n", "invalid header line"),
        ("https://example.com\n\nA B: c\n\n", "invalid header line"),
        ("https://example.com\n\nA: b\x01\n\n", "invalid header line"),
    ],
)
def test_user_auth_output_errors(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_user_auth(text)


def test_git_credential_output() -> None:
    out = "protocol=https\nhost=git.corp:8443\nusername=u\npassword=p=w\n"
    assert parse_git_credential(out) == ("https://git.corp:8443", "u", "p=w")
    with_path = "protocol=https\nhost=git.corp\npath=team/repo\nusername=u\npassword=p\n"
    assert parse_git_credential(with_path)[0] == "https://git.corp/team/repo"
    assert parse_git_credential("url=https://h/x\nusername=u\npassword=p\n")[0] == "https://h/x"
    assert parse_git_credential("username=u\n")[0] == ""


def test_credentials_by_longest_prefix() -> None:
    cache = CredentialCache()
    cache.store("https://127.0.0.1:8443/", (("Authorization", "host"),))
    cache.store("127.0.0.1:8443/private", (("Authorization", "private"),))
    cache.store("127.0.0.1", (("Authorization", "no port"),))
    assert cache.load("https://127.0.0.1:8443/private/m/@v/list") == (("Authorization", "private"),)
    assert cache.load("https://127.0.0.1:8443/privateer/@v/list") == (("Authorization", "host"),)
    assert cache.load("https://127.0.0.1/m/@v/list") == (("Authorization", "no port"),)
    assert cache.load("https://127.0.0.2:8443/m") is None
    cache.store("127.0.0.1:8443/private", ())
    assert cache.load("https://127.0.0.1:8443/private/m") == (("Authorization", "host"),)


def test_goauth_from_the_environment_then_the_env_file_then_netrc() -> None:
    base = {"HOME": "/h", "GOPROXY": "https://p.example"}
    assert resolve(base, {}, {}).goauth == "netrc"
    assert resolve(base, {"GOAUTH": "off"}, {}).goauth == "off"
    env = resolve({**base, "GOAUTH": "git /srv"}, {"GOAUTH": "off"}, {})
    assert env.goauth == "git /srv"
    assert env.sources["GOAUTH"] == "environment"

"""Which credential a repository URL gets, and how secrets are kept out of text (pure)."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.upstream.netrc import NetrcCredentials, parse_netrc
from gomodproxy.vcs.credentials import GitAuth, HostCredential, parse_credentials, url_host


def _basic(user: str, token: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def test_host_port_entry_wins_then_host_then_netrc() -> None:
    auth = GitAuth(
        (
            HostCredential("git.corp.example", "oauth2", "host-token"),
            HostCredential("git.corp.example:8443", "robot", "port-token"),
        ),
        NetrcCredentials(parse_netrc("machine other.example login n password netrc-pass")),
    )
    url = "https://git.corp.example:8443/team/repo"
    assert auth.for_url(url) == ({f"http.{url}.extraHeader": _basic("robot", "port-token")}, {})
    url = "https://git.corp.example/team/repo"
    assert auth.for_url(url) == ({f"http.{url}.extraHeader": _basic("oauth2", "host-token")}, {})
    url = "https://other.example/x"
    assert auth.for_url(url) == ({f"http.{url}.extraHeader": _basic("n", "netrc-pass")}, {})
    # A URL carrying its own user (and token) is left as it is; unknown hosts get nothing.
    assert auth.for_url("https://u:t@git.corp.example/x") == ({}, {})
    assert auth.for_url("https://unknown.example/x") == ({}, {})


def test_ssh_urls_get_the_host_key_else_the_default_and_strict_host_keys() -> None:
    auth = GitAuth(
        (HostCredential("git.corp.example", ssh_key=Path("/keys/corp key")),),
        ssh_key=Path("/keys/default"),
        known_hosts=Path("/etc/gomodproxy/known_hosts"),
    )
    _, env = auth.for_url("ssh://git@git.corp.example/team/repo")
    argv = shlex.split(env["GIT_SSH_COMMAND"])
    assert argv[argv.index("-i") + 1] == "/keys/corp key"
    for option in (
        "BatchMode=yes",
        "StrictHostKeyChecking=yes",
        "IdentitiesOnly=yes",
        "UserKnownHostsFile=/etc/gomodproxy/known_hosts",
    ):
        assert option in argv
    _, env = auth.for_url("git@elsewhere.example:team/repo.git")
    assert shlex.split(env["GIT_SSH_COMMAND"])[-1] == "/keys/default"
    assert url_host("git@Elsewhere.example:team/repo.git") == ("ssh", "elsewhere.example", None)
    no_key = GitAuth().for_url("ssh://git@h.example/r")[1]["GIT_SSH_COMMAND"]
    assert "-i" not in shlex.split(no_key)
    assert "StrictHostKeyChecking=yes" in no_key


def test_secrets_are_masked_and_never_in_the_text_forms() -> None:
    cred = HostCredential("git.corp.example", "oauth2", "glpat-SECRET-1")
    auth = GitAuth((cred,), NetrcCredentials(parse_netrc("machine m login l password pw-SECRET")))
    header = _basic("oauth2", "glpat-SECRET-1")
    text = f"token glpat-SECRET-1, netrc pw-SECRET, header {header}"
    masked = auth.mask(text)
    assert "SECRET" not in masked
    assert base64.b64encode(b"oauth2:glpat-SECRET-1").decode() not in masked
    assert "SECRET" not in str(cred) + repr(cred) + repr(auth)


def test_table_and_text_forms_parse_and_bad_entries_name_the_fix() -> None:
    table = {
        "Git.Corp.Example": {"user": "oauth2", "token-file": "/run/t"},
        "ssh.example": {"ssh-key": "/k"},
    }
    got = parse_credentials(table, "f: vcs-credentials")
    assert got == (
        HostCredential("git.corp.example", "oauth2", "", Path("/run/t")),
        HostCredential("ssh.example", "git", "", None, Path("/k")),
    )
    assert parse_credentials("a.example=@/t1 b.example=ci:@/t2", "env") == (
        HostCredential("a.example", "git", "", Path("/t1")),
        HostCredential("b.example", "ci", "", Path("/t2")),
    )
    for bad, message in (
        ({"h": {}}, "give a token, a token-file or an ssh-key"),
        ({"h": "token"}, "expected a table of user, token, token-file, ssh-key"),
        ({"https://h": {"token": "x"}}, "is not a host name"),
        ("h=@", "is not HOST=[USER:]@FILE"),
        (["a=@/x", "a=@/y"], "host 'a' is given twice"),
        (3, "expected a table of hosts"),
    ):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_credentials(bad, "where")

"""Per-host git credentials of the configuration: ssh keys against a real sshd, tokens against
the real git http-backend, and secrets that never show (issue 12).

ssh: OpenSSH's ``sshd`` on loopback (tests/sshserver.py) serves the test repositories to one
authorized key, restricted to ``git-upload-pack``; gomodproxy reaches them with
``--vcs-ssh-key`` or a host's ``ssh-key`` and ``--vcs-known-hosts``, and must give what the go
command gives (direct, over smart HTTP) for the same repositories. https: repositories named
``auth*`` want ``robot`` and a token; the token comes from ``--vcs-credentials HOST=USER:@FILE``
or a ``[vcs-credentials."HOST"]`` table, and shows in no answer, log line, error or
``config show``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.admin.configcheck import ConfigInput, check_config, show_settings
from gomodproxy.errors import ConfigError, UpstreamError
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.vcs.credentials import GitAuth, HostCredential, parse_credentials
from gomodproxy.vcs.fetcher import GitFetcher
from gomodproxy.vcs.resolve import parse_rewrites
from tests.gitrepos import RepoBuilder
from tests.gotool import run_go
from tests.origin import running_origin
from tests.proxykit import running_proxy, running_sumdb
from tests.sshserver import SshServer, running_sshd
from tests.vcsrepos import ORG, Site, serving_test_repos

pytestmark = [pytest.mark.slow]

TOKEN = "s3cret-git"  # tests/gitserver.py: what repositories named auth* accept for "robot"


@dataclass(frozen=True)
class World:
    site: Site
    ssh: SshServer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("creds")
    with serving_test_repos(root) as site:
        r = RepoBuilder(root / "work" / "authrepo")
        r.write("go.mod", f"module {ORG}/authrepo\n\ngo 1.21\n")
        r.write("a.go", "package authrepo\n")
        r.commit("one")
        r.tag("v1.0.0")
        r.publish(site.repos.served, "authrepo")
        assert site.server.auth == ("robot", TOKEN)
        with running_sshd(root / "ssh", site.repos.served) as ssh:
            yield World(site, ssh)


def _go_download(site: Site, target: str, modcache: Path) -> dict[str, object]:
    env = {**site.env, "GOMODCACHE": str(modcache)}
    proc = run_go(["mod", "download", "-json", target], cwd=site.root / "home", env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def _h1(spool: Path, data: bytes) -> str:
    spool.write_bytes(data)
    with spool.open("rb") as f:
        return hash_zip(f)


def _ssh_fetcher(world: World, tmp: Path, auth: GitAuth) -> GitFetcher:
    rules = parse_rewrites([f"{ORG}/={world.ssh.url}"])
    return GitFetcher(tmp, rules, timeout=60, auth=auth)


@pytest.mark.gocmd
@pytest.mark.asyncio
async def test_ssh_key_fetches_what_the_go_command_gets(world: World, tmp_path: Path) -> None:
    """``--vcs-ssh-key`` and ``--vcs-known-hosts``: versions, ``.mod`` and zip ``h1:`` over ssh
    equal the go command's (direct, over smart HTTP) for the same repositories."""
    auth = GitAuth(ssh_key=world.ssh.client_key, known_hosts=world.ssh.known_hosts)
    f = _ssh_fetcher(world, tmp_path / "vcs", auth)
    assert (await f.list(f"{ORG}/alpha/sub")).decode().split() == ["v0.1.0", "v0.2.0"]
    for target in (f"{ORG}/alpha@v1.1.0", f"{ORG}/alpha/sub@v0.2.0", f"{ORG}/gamma@v2.0.0"):
        path, query = target.split("@")
        want = await asyncio.to_thread(_go_download, world.site, target, tmp_path / "mod")
        info = json.loads(await f.info(path, query))
        assert info["Version"] == want["Version"]
        version = str(want["Version"])
        go_mod = await asyncio.to_thread(Path(str(want["GoMod"])).read_bytes)
        assert await f.mod(path, version) == go_mod
        async with f.zip(path, version) as body:
            data = b"".join([c async for c in body.chunks()])
        assert await asyncio.to_thread(_h1, tmp_path / "z.zip", data) == want["Sum"]
    assert "git-upload-pack '/alpha'" in world.ssh.requests


@pytest.mark.asyncio
async def test_per_host_ssh_key_wins_and_wrong_keys_or_host_keys_are_refused(
    world: World, tmp_path: Path
) -> None:
    """A host's own ``ssh-key`` wins over ``--vcs-ssh-key``; a key the server does not know,
    and a server whose host key is not the one in known_hosts, fail at once (batch mode: no
    prompt) with git's reason, as a 502."""
    good = GitAuth(
        (HostCredential("127.0.0.1", ssh_key=world.ssh.client_key),),
        ssh_key=world.ssh.other_key,
        known_hosts=world.ssh.known_hosts,
    )
    f = _ssh_fetcher(world, tmp_path / "good", good)
    assert (await f.list(f"{ORG}/beta")).decode().split() == ["v1.0.0"]
    wrong_key = GitAuth(ssh_key=world.ssh.other_key, known_hosts=world.ssh.known_hosts)
    with pytest.raises(UpstreamError, match=r"Permission denied \(publickey\)") as denied:
        await _ssh_fetcher(world, tmp_path / "wrongkey", wrong_key).list(f"{ORG}/beta")
    assert denied.value.status_hint == 502
    before = len(world.ssh.requests)
    spoofed = GitAuth(ssh_key=world.ssh.client_key, known_hosts=world.ssh.wrong_known_hosts)
    with pytest.raises(UpstreamError, match="Host key verification failed") as changed:
        await _ssh_fetcher(world, tmp_path / "spoofed", spoofed).list(f"{ORG}/beta")
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in str(changed.value)
    assert "@@@" not in str(changed.value)
    assert len(world.ssh.requests) == before


@pytest.mark.asyncio
async def test_token_from_a_file_reaches_git_and_never_shows(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``--vcs-credentials 127.0.0.1=robot:@FILE``: git sends the token for that host (the
    proxy serves the private module); with a wrong token the answer is a 502 and neither the
    token nor its base64 form is in the answer or in any log line."""
    caplog.set_level(logging.DEBUG)
    for token, want in ((TOKEN, 200), ("wrong-token-123", 502)):
        token_file = tmp_path / f"token{want}"
        token_file.write_text(token + "\n")
        async with (
            running_origin() as origin,
            running_sumdb(tmp_path / f"sumdb{want}") as db,
            running_proxy(
                tmp_path / f"cache{want}",
                upstream=origin.url,
                sumdb=db,
                goprivate=ORG,
                vcs_rewrite=world.site.rewrite,
                vcs_credentials=f"127.0.0.1=robot:@{token_file}",
            ) as proxy,
            aiohttp.ClientSession() as s,
            s.get(f"{proxy.url}/{ORG}/authrepo/@v/list") as r,
        ):
            text = await r.text()
            assert r.status == want, text
            if want == 200:
                assert text.split() == ["v1.0.0"]
            assert token not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "wrong-token-123" not in logged
    assert TOKEN not in logged


def test_tokens_are_masked_in_config_show_and_errors(tmp_path: Path) -> None:
    """A token written in the TOML table shows as ``***`` in ``config show`` and in the
    settings' text; a bad entry's error names the key and the fix, without the token."""
    config = tmp_path / "gomodproxy.toml"
    config.write_text(
        'upstream = "off"\n\n'
        '[vcs-credentials."git.corp.example"]\n'
        'user = "oauth2"\n'
        'token = "glpat-VERYSECRET"\n'
    )
    given = ConfigInput(config, {"HOME": str(tmp_path)}, go_env=lambda names: {})
    report = check_config(given)
    assert report.ok, report.problems
    shown = {s.name: s for s in show_settings(given, report)}
    assert shown["vcs-credentials"].value == "git.corp.example=oauth2:***"
    assert shown["vcs-credentials"].source.endswith(":3")
    assert "VERYSECRET" not in repr(report.settings)
    with pytest.raises(ConfigError, match="give token or token-file, not both") as both:
        parse_credentials({"h": {"token": "VERYSECRET", "token-file": "/x"}}, "f: vcs-credentials")
    assert "VERYSECRET" not in str(both.value)
    with pytest.raises(ConfigError, match="is not HOST=") as literal:
        parse_credentials("git.corp.example=robot:VERYSECRET", "GOMODPROXY_VCS_CREDENTIALS")
    assert "VERYSECRET" not in str(literal.value)

"""Client authentication per path pattern (issue 12 section 3): private modules need a
token, public ones and /healthz do not, /metrics can be guarded, and the answers say nothing
about whether a module exists. The go command authenticates with its .netrc."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.modzip.extract import remove_tree
from gomodproxy.server.clientauth import parse_access_rules
from tests.gotool import go_environ, run_go
from tests.origin import running_origin
from tests.proxykit import running_proxy, running_sumdb
from tests.tlscert import make_local_tls
from tests.vcsrepos import ORG, Site, serving_test_repos

TOKEN = "ci-t0ken-42"
METRICS_TOKEN = "metrics-token"


def _sha(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving_test_repos(tmp_path_factory.mktemp("vcs")) as served:
        yield served


def test_access_rules_parse_hashes_only() -> None:
    rules = parse_access_rules([f"corp.example,git.corp.example=ci:{_sha(TOKEN)}"])
    assert rules[0].user == "ci"
    assert rules[0].applies("git.corp.example/team/repo")
    assert not rules[0].applies("example.com/public")
    for bad in (f"corp.example={TOKEN}", "corp.example", f"=ci:{_sha(TOKEN)}", "x=sha256:abc"):
        with pytest.raises(ConfigError):
            parse_access_rules([bad])


def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.mark.asyncio
async def test_private_paths_need_a_token_and_reveal_nothing(site: Site, tmp_path: Path) -> None:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=ORG,
            vcs_rewrite=site.rewrite,
            client_auth=f"{ORG}=ci:{_sha(TOKEN)} /metrics={_sha(METRICS_TOKEN)}",
        ) as proxy,
        aiohttp.ClientSession() as session,
    ):
        answers = {}
        for name in ("alpha", "no-such-module"):
            async with session.get(f"{proxy.url}/{ORG}/{name}/@v/list") as r:
                answers[name] = (r.status, await r.text(), r.headers.get("WWW-Authenticate"))
        assert answers["alpha"] == answers["no-such-module"]
        assert answers["alpha"][0] == 401
        async with session.get(
            f"{proxy.url}/{ORG}/alpha/@v/list", headers=_basic("ci", "wrong")
        ) as r:
            assert r.status == 403
        async with session.get(
            f"{proxy.url}/{ORG}/alpha/@v/list", headers=_basic("other", TOKEN)
        ) as r:
            assert r.status == 403  # the token is ci's
        async with session.get(
            f"{proxy.url}/{ORG}/alpha/@v/list", headers=_basic("ci", TOKEN)
        ) as r:
            assert (r.status, await r.text()) == (200, "v1.0.0\nv1.1.0\nv1.3.0\nv1.4.0\n")
        async with session.get(f"{proxy.url}/example.com/public/@v/list") as r:
            assert r.status == 404  # public paths need no token (and this one is unknown)
        async with session.get(f"{proxy.url}/healthz") as r:
            assert r.status == 200
        async with session.get(f"{proxy.url}/metrics") as r:
            assert r.status == 401
        async with session.get(
            f"{proxy.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        ) as r:
            assert r.status == 200
        assert not [r.path for r in origin.requests if "gmptest" in r.path]


def _go_build(home: Path, env: dict[str, str]) -> tuple[int, str]:
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text("module example.com/app\n\ngo 1.21\n")
    (work / "main.go").write_text(
        f'package main\n\nimport "{ORG}/gamma"\n\nfunc main() {{ println(gamma.G) }}\n'
    )
    proc = run_go(["mod", "tidy"], cwd=work, env=env, timeout=300)
    return proc.returncode, proc.stderr


@pytest.mark.gocmd
@pytest.mark.slow
@pytest.mark.asyncio
async def test_the_go_command_authenticates_with_its_netrc(site: Site, tmp_path: Path) -> None:
    """The go command sends .netrc credentials over https only: the proxy serves TLS with a
    throw-away CA the go command trusts (SSL_CERT_FILE)."""
    tls = await asyncio.to_thread(make_local_tls, tmp_path / "tls")
    trust = {"SSL_CERT_FILE": str(tls.cert)}
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=ORG,
            vcs_rewrite=site.rewrite,
            client_auth=f"{ORG}=ci:{_sha(TOKEN)}",
            tls=tls.server_context(),
        ) as proxy,
    ):
        assert proxy.url.startswith("https://")
        env = go_environ(
            tmp_path / "anon", goproxy=proxy.url, gosumdb=db.gosumdb, gonosumdb=ORG, extra=trust
        )
        code, err = await asyncio.to_thread(_go_build, tmp_path / "anon", env)
        assert code != 0
        assert "401" in err
        netrc = tmp_path / "netrc"
        # The go command matches .netrc machines against the URL's host and port.
        machine = proxy.url.removeprefix("https://")
        netrc.write_text(f"machine {machine} login ci password {TOKEN}\n")
        env = go_environ(
            tmp_path / "ci",
            goproxy=proxy.url,
            gosumdb=db.gosumdb,
            gonosumdb=ORG,
            extra={"NETRC": str(netrc), **trust},
        )
        code, err = await asyncio.to_thread(_go_build, tmp_path / "ci", env)
        assert code == 0, err
    await asyncio.to_thread(remove_tree, tmp_path)

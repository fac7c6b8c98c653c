"""GOAUTH in ``gomodproxy download`` (issue 11, environment): ``off``, ``netrc``, ``git DIR``
and commands, against an https origin that wants Basic auth, each case run with the real go
command too on the same origin and the same GOAUTH: both succeed or both fail.

The origin serves TLS with a throw-away CA that both programs trust through SSL_CERT_FILE (the
go command sends credentials over https only, and so do we).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.integration.clientkit import Home
from tests.origin import Origin
from tests.proxykit import publish, running_sumdb, synth
from tests.tlscert import make_local_tls

pytestmark = [pytest.mark.gocmd, pytest.mark.asyncio]

A = synth("example.com/a", "v1.0.0")
USER, PASSWORD = "ci", "s3cret-t0ken"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class AuthOrigin(Origin):
    """The loopback origin, answering 401 (with ``WWW-Authenticate``) unless the request
    carries the one Basic credential it accepts."""

    refused = 0

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("Authorization") != _basic(USER, PASSWORD):
            self.refused += 1
            return web.Response(
                status=401,
                text="unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="test"'},
            )
        return await super()._handle(request)


@dataclass
class Setup:
    origin: AuthOrigin
    tmp: Path
    trust: str

    @property
    def hostport(self) -> str:
        return self.origin.url.removeprefix("https://")

    def home(self, name: str) -> Home:
        return Home(self.tmp / name, self.origin.url)

    def script(self, name: str, body: str) -> Path:
        """An executable shell script in the scratch folder."""
        path = self.tmp / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
        return path


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    tls = await asyncio.to_thread(make_local_tls, tmp_path / "tls")
    origin = AuthOrigin(tls=tls.server_context())
    await origin.start()
    publish(origin, A)
    try:
        yield Setup(origin, tmp_path, str(tls.cert))
    finally:
        await origin.stop()


async def _both(s: Setup, goauth: str | None, **extra: str) -> tuple[int, int, str]:
    """``download -json example.com/a@v1.0.0`` outside a module with ``go`` and with ours, each
    in a fresh home; returns both exit codes and our stdout+stderr."""
    env = {"SSL_CERT_FILE": s.trust, "GIT_TERMINAL_PROMPT": "0", **extra}
    if goauth is not None:
        env["GOAUTH"] = goauth
    n = len(list(s.tmp.glob("home-*")))
    ours, theirs = s.home(f"home-{n}-ours"), s.home(f"home-{n}-go")
    for h in (ours, theirs):
        h.work.mkdir(parents=True)
    args = ("-json", "example.com/a@v1.0.0")
    mine: subprocess.CompletedProcess[str] = await asyncio.to_thread(ours.ours, *args, **env)
    go = await asyncio.to_thread(theirs.go, "mod", "download", *args, **env)
    if mine.returncode == 0:
        doc = json.loads(mine.stdout)
        assert doc["Sum"] == json.loads(go.stdout)["Sum"]
        assert (ours.modcache / "example.com" / "a@v1.0.0" / "m.go").is_file()
    return mine.returncode, go.returncode, mine.stdout + mine.stderr


async def test_netrc_default_and_off(setup: Setup) -> None:
    """GOAUTH unset means netrc; ``off`` sends nothing even with a .netrc."""
    netrc = setup.tmp / "netrc"
    netrc.write_text(f"machine {setup.hostport} login {USER} password {PASSWORD}\n")
    assert (await _both(setup, None, NETRC=str(netrc)))[:2] == (0, 0)
    ours, go, out = await _both(setup, "off", NETRC=str(netrc))
    assert (ours, go) == (1, 1)
    assert "401 Unauthorized" in out
    assert (await _both(setup, "netrc", NETRC=str(netrc)))[:2] == (0, 0)


async def test_netrc_machine_is_a_prefix_with_the_port(setup: Setup) -> None:
    """Under GOAUTH a .netrc machine is a URL prefix: ``127.0.0.1`` does not cover
    ``127.0.0.1:PORT``; a wrong password is refused; the first of two entries wins."""
    netrc = setup.tmp / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    assert (await _both(setup, "netrc", NETRC=str(netrc)))[:2] == (1, 1)
    netrc.write_text(
        f"machine {setup.hostport} login {USER} password wrong\n"
        f"machine {setup.hostport} login {USER} password {PASSWORD}\n"
    )
    assert (await _both(setup, "netrc", NETRC=str(netrc)))[:2] == (1, 1)


async def test_command_credentials_and_retry_after_401(setup: Setup) -> None:
    """A command answering only when given the refused URL: called once bare, then again
    with the URL and the 401 answer on stdin, and the request is tried once more."""
    log = setup.tmp / "calls.log"
    cmd = setup.script(
        "auth.sh",
        f'echo "ARGS:$#:$1" >> {log}\n'
        f"if [ $# -eq 0 ]; then exit 0; fi\n"
        f"cat >> {log}\n"
        f'printf "https://{setup.hostport}/\\n\\nAuthorization: {_basic(USER, PASSWORD)}\\n\\n"\n',
    )
    ours, go, out = await _both(setup, str(cmd))
    assert (ours, go) == (0, 0), out
    calls = log.read_text()
    # Both programs called it bare once, then with a URL after the 401 (stdin: the answer).
    assert calls.count("ARGS:0:") == 2
    with_url = [line for line in calls.splitlines() if line.startswith("ARGS:1:")]
    assert with_url
    assert all(line.startswith(f"ARGS:1:https://{setup.hostport}/") for line in with_url)
    assert calls.count("HTTP/1.1 401 Unauthorized") == len(with_url)
    assert calls.lower().count('www-authenticate: basic realm="test"') == len(with_url)


async def test_command_prefix_must_match(setup: Setup) -> None:
    """Credentials for another path prefix are not sent; for a prefix of the URL they are."""
    other = setup.script(
        "other.sh",
        f'printf "https://{setup.hostport}/elsewhere\\n\\nAuthorization: '
        f'{_basic(USER, PASSWORD)}\\n\\n"\n',
    )
    assert (await _both(setup, str(other)))[:2] == (1, 1)
    mine = setup.script(
        "mine.sh",
        f'printf "https://{setup.hostport}/example.com\\n\\nAuthorization: '
        f'{_basic(USER, PASSWORD)}\\n\\n"\n',
    )
    assert (await _both(setup, str(mine)))[:2] == (0, 0)


async def test_first_listed_method_wins(setup: Setup) -> None:
    """Two commands giving a credential for the same prefix: the first listed wins."""
    good = setup.script(
        "good.sh",
        f'printf "https://{setup.hostport}\\n\\nAuthorization: {_basic(USER, PASSWORD)}\\n\\n"\n',
    )
    bad = setup.script(
        "bad.sh",
        f'printf "https://{setup.hostport}\\n\\nAuthorization: {_basic(USER, "nope")}\\n\\n"\n',
    )
    assert (await _both(setup, f"{good};{bad}"))[:2] == (0, 0)
    assert (await _both(setup, f"{bad};{good}"))[:2] == (1, 1)


async def test_bad_command_output_is_not_a_credential(setup: Setup) -> None:
    """Output missing its final empty line is refused (and shown with -x)."""
    broken = setup.script(
        "broken.sh",
        f'printf "https://{setup.hostport}\\n\\nAuthorization: {_basic(USER, PASSWORD)}\\n"\n',
    )
    ours, go, out = await _both(setup, str(broken), GOFLAGS="-mod=mod -x")
    assert (ours, go) == (1, 1)
    assert "GOAUTH encountered errors for https://" in out
    assert "missing empty line after headers" in out


def _git(folder: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)


async def test_git_credential_helper(setup: Setup) -> None:
    """``git DIR``: ``git credential fill`` in DIR, whose repository configures a ``store``
    helper holding the credential; a helper with a wrong one is refused by both."""
    repo = setup.tmp / "creds-repo"
    repo.mkdir()
    store = setup.tmp / "git-credentials"
    env = {**os.environ, "HOME": str(setup.tmp), "GIT_CONFIG_NOSYSTEM": "1"}
    await asyncio.to_thread(_git, repo, "init", "-q", env=env)
    await asyncio.to_thread(
        _git, repo, "config", "credential.helper", f"store --file={store}", env=env
    )
    store.write_text(f"https://{USER}:{PASSWORD}@{setup.hostport}\n")
    ours, go, out = await _both(setup, f"git {repo}", GIT_CONFIG_NOSYSTEM="1")
    assert (ours, go) == (0, 0), out
    store.write_text(f"https://{USER}:wrong@{setup.hostport}\n")
    ours, go, out = await _both(setup, f"git {repo}", GIT_CONFIG_NOSYSTEM="1")
    assert (ours, go) == (1, 1), out


async def test_bad_goauth_values_fail_like_the_go_command(setup: Setup) -> None:
    """Fatal GOAUTH values: an empty command, ``off`` with others, ``git`` without an
    absolute folder."""
    cases = {
        "netrc;": "GOAUTH encountered an empty command",
        "off;netrc": "GOAUTH=off cannot be combined",
        "git relative/dir": "requires an absolute path",
        f"git {setup.tmp / 'missing'}": "cannot stat",
    }
    for value, words in cases.items():
        ours, go, out = await _both(setup, value)
        assert (ours, go) == (1, 1), value
        assert words in out, (value, out)


class SumDBRelay(Origin):
    """The origin relaying ``/sumdb/<name>/`` to our checksum database (a proxy that serves
    the database, asked for it by both programs) and wanting Basic auth for that part only."""

    db_url = ""
    db_name = ""
    relayed = 0

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        prefix = f"/sumdb/{self.db_name}/"
        if not request.path.startswith(prefix):
            return await super()._handle(request)
        if request.headers.get("Authorization") != _basic(USER, PASSWORD):
            return web.Response(status=401, text="unauthorized\n")
        rest = request.path[len(prefix) :]
        if rest == "supported":
            return web.Response(text="")
        self.relayed += 1
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.db_url}/{rest}") as answer,
        ):
            return web.Response(status=answer.status, body=await answer.read())


async def test_checksum_database_through_the_proxy_gets_goauth_credentials(
    tmp_path: Path,
) -> None:
    """GOSUMDB named without a URL is asked through the https proxy (``/sumdb/<name>/``),
    which wants credentials there: with GOAUTH's both programs verify the module against the
    database; with ``off`` both fail."""
    tls = await asyncio.to_thread(make_local_tls, tmp_path / "tls")
    async with running_sumdb(tmp_path / "db", [A]) as db:
        relay = SumDBRelay(tls=tls.server_context())
        relay.db_url, relay.db_name = db.url, db.name
        await relay.start()
        publish(relay, A)
        try:
            cmd = tmp_path / "auth.sh"
            cmd.write_text(
                "#!/bin/sh\nprintf 'https://"
                + relay.url.removeprefix("https://")
                + f"/sumdb\\n\\nAuthorization: {_basic(USER, PASSWORD)}\\n\\n'\n"
            )
            cmd.chmod(0o755)
            codes: dict[tuple[bool, str], int] = {}
            for goauth in (str(cmd), "off"):
                for tool in ("ours", "go"):
                    home = Home(tmp_path / f"{tool}-{len(codes)}", relay.url, db.key.verifier_key)
                    home.work.mkdir(parents=True)
                    env = {"SSL_CERT_FILE": str(tls.cert), "GOAUTH": goauth}
                    args = ("-json", "example.com/a@v1.0.0")
                    if tool == "ours":
                        run = await asyncio.to_thread(home.ours, *args, **env)
                    else:
                        run = await asyncio.to_thread(home.go, "mod", "download", *args, **env)
                    codes[(goauth == "off", tool)] = run.returncode
        finally:
            await relay.stop()
    assert codes == {(False, "ours"): 0, (False, "go"): 0, (True, "ours"): 1, (True, "go"): 1}
    assert db.stats.lookups == 2  # one lookup each, relayed with the credential

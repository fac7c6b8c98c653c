"""SIGHUP reloads the ``--config`` file's live settings in a running ``gomodproxy serve``
(issue 16 section 3): ``client-auth``, ``vcs-rewrite`` and ``vcs-credentials`` change without a
restart, as one new object; a bad file is refused with its line and the settings in force
stay; a changed setting that needs a restart is named in a warning."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.gitrepos import RepoBuilder
from tests.origin import running_origin
from tests.vcsrepos import ORG, Site, serving_test_repos

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

OLD, NEW = "old-client-token", "new-client-token"
GUARDED = "example.com/private/@v/list"


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("reload")
    with serving_test_repos(root) as served:
        r = RepoBuilder(root / "work" / "authrepo")
        r.write("go.mod", f"module {ORG}/authrepo\n\ngo 1.21\n")
        r.write("a.go", "package authrepo\n")
        r.commit("one")
        r.tag("v1.0.0")
        r.publish(served.repos.served, "authrepo")
        yield served


@contextlib.asynccontextmanager
async def _serving(
    config: Path, env: dict[str, str], log: Path
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    err = await asyncio.to_thread(open, log, "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gomodproxy",
            "serve",
            "--config",
            str(config),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    finally:
        err.close()
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"gomodproxy: serving "), line
        yield line.split()[-1].decode(), proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)


async def _logged(log: Path, text: str, count: int) -> str:
    """The log once ``text`` is in it ``count`` times (a reload is asynchronous; the bound
    only ends a failing run)."""
    for _ in range(600):
        content = await asyncio.to_thread(log.read_text)
        if content.count(text) >= count:
            return content
        await asyncio.sleep(0.1)
    return await asyncio.to_thread(log.read_text)


async def _status(s: aiohttp.ClientSession, url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with s.get(url, headers=headers) as r:
        await r.read()
        return r.status


async def test_sighup_reloads_live_settings_and_keeps_them_when_the_file_is_bad(
    site: Site, tmp_path: Path
) -> None:
    config = tmp_path / "gomodproxy.toml"
    token_file = tmp_path / "git-token"
    token_file.write_text(site.server.auth[1] + "\n")
    log = tmp_path / "proxy.log"
    async with running_origin() as origin:
        base = (
            'listen = "127.0.0.1:0"\n'
            f'upstream = "{origin.url}"\n'
            'sumdb = "off"\n'
            f'cache-dir = "{tmp_path / "cache"}"\n'
            f'goprivate = "{ORG}"\n'
            "list-ttl = 0\n"
        )
        config.write_text(base + f'client-auth = ["example.com/private=sha256:{_sha(OLD)}"]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
        env.update({"HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"})
        async with _serving(config, env, log) as (url, proc), aiohttp.ClientSession() as s:
            alpha = f"{url}/{ORG}/alpha/@v/list"
            authrepo = f"{url}/{ORG}/authrepo/@v/list"
            assert await _status(s, f"{url}/{GUARDED}") == 401
            assert await _status(s, f"{url}/{GUARDED}", OLD) == 404  # past the guard
            assert await _status(s, alpha) == 404  # no rule yet (and the 404 is remembered)

            # A good file: new client token, a rewrite rule and a git token, all live.
            config.write_text(
                base.replace("list-ttl = 0", "list-ttl = 5")
                + f'client-auth = ["example.com/private=sha256:{_sha(NEW)}"]\n'
                + f'vcs-rewrite = ["{site.rewrite}"]\n\n'
                + '[vcs-credentials."127.0.0.1"]\n'
                + 'user = "robot"\n'
                + f'token-file = "{token_file}"\n'
            )
            proc.send_signal(signal.SIGHUP)
            text = await _logged(log, "config.reloaded trigger=sighup", 1)
            assert "config.reloaded trigger=sighup" in text
            assert "config.restart_needed settings=list-ttl" in text
            assert await _status(s, f"{url}/{GUARDED}", OLD) == 403
            assert await _status(s, f"{url}/{GUARDED}", NEW) == 404
            assert await _status(s, alpha) == 200
            assert await _status(s, authrepo) == 200

            # A bad file: refused with its line; everything in force stays.
            config.write_text(base + 'client-auth = ["example.com/private=tok3n"]\n')
            proc.send_signal(signal.SIGHUP)
            text = await _logged(log, "config.reload_refused", 1)
            assert f"config.reload_refused trigger=sighup {config}:7: invalid --client-auth" in text
            assert site.server.auth[1] not in text
            assert await _status(s, f"{url}/{GUARDED}", NEW) == 404
            assert await _status(s, f"{url}/{GUARDED}", OLD) == 403
            assert await _status(s, alpha) == 200
            assert proc.returncode is None

"""``--rules FILE``: deny with a reason, version deny and allow lists, per-module routes
(direct = git only, upstream = proxies only), and reloading on SIGHUP or when the file changes,
keeping the rules in force when the new file is bad (issue 12 section 2)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.origin import running_origin
from tests.proxykit import publish, running_proxy, running_sumdb, synth
from tests.vcsrepos import ORG, Site, serving_test_repos

pytestmark = pytest.mark.asyncio

LIB = [synth("example.com/lib", v) for v in ("v1.0.0", "v1.2.0", "v1.3.0", "v1.5.0")]
LEGACY = synth("example.com/legacy", "v1.0.0")
RULES = """
[[rule]]
match = "example.com/legacy"
action = "deny"
reason = "legacy: use example.com/lib"

[[rule]]
match = "example.com/lib"
deny-versions = ["v1.3.0", ">=v1.5.0"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving_test_repos(tmp_path_factory.mktemp("vcs")) as served:
        yield served


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as r:
        return r.status, await r.text()


async def test_deny_and_version_lists(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [*LIB, LEGACY]) as db,
        running_proxy(tmp_path / "cache", upstream=origin.url, sumdb=db, rules=str(rules)) as p,
        aiohttp.ClientSession() as s,
    ):
        publish(origin, *LIB, LEGACY)
        status, body = await _get(s, f"{p.url}/{LEGACY.rel('info')}")
        assert status == 403
        assert "legacy: use example.com/lib" in body
        assert origin.count(LEGACY.rel("info")) == 0  # refused before any fetch
        assert await _get(s, f"{p.url}/{LIB[0].list_rel}") == (200, "v1.0.0\nv1.2.0\n")
        assert (await _get(s, f"{p.url}/{LIB[1].rel('mod')}"))[0] == 200
        for denied in (LIB[2], LIB[3]):
            status, body = await _get(s, f"{p.url}/{denied.rel('zip')}")
            assert status == 403
            assert f"example.com/lib@{denied.version}" in body
            assert origin.count(denied.rel("zip")) == 0


async def test_routes_direct_and_upstream(site: Site, tmp_path: Path) -> None:
    """``direct``: from git only, never the upstream, even without GOPRIVATE; ``upstream``:
    from the proxies only, never git, even for a path the rewrite rules cover."""
    rules = tmp_path / "rules.toml"
    gamma_from_origin = synth(f"{ORG}/gamma", "v1.9.0")
    rules.write_text(
        f'[[rule]]\nmatch = "{ORG}/alpha"\naction = "direct"\n\n'
        f'[[rule]]\nmatch = "{ORG}/gamma"\naction = "upstream"\n'
    )
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [gamma_from_origin]) as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            rules=str(rules),
            vcs_rewrite=site.rewrite,
            gonosumdb=f"{ORG}/alpha",
        ) as p,
        aiohttp.ClientSession() as s,
    ):
        publish(origin, gamma_from_origin)
        status, body = await _get(s, f"{p.url}/{ORG}/alpha/@v/list")
        assert (status, body) == (200, "v1.0.0\nv1.1.0\nv1.3.0\nv1.4.0\n")
        assert not [r for r in origin.requests if "alpha" in r.path]
        before = len(site.server.requests)
        status, body = await _get(s, f"{p.url}/{ORG}/gamma/@v/list")
        assert (status, body) == (200, "v1.9.0\n")
        assert not [r for r in site.server.requests[before:] if r.startswith("/gamma")]


async def test_a_rule_with_its_own_upstream_list(tmp_path: Path) -> None:
    """``upstream = "..."`` in a rule: matching modules come from that list (a vendor's
    mirror), never from --upstream; other modules still from --upstream."""
    vendored = synth("example.com/vendorx", "v1.0.0")
    rules = tmp_path / "rules.toml"
    async with (
        running_origin() as main,
        running_origin() as mirror,
        running_sumdb(tmp_path / "sumdb", [vendored, LIB[0]]) as db,
    ):
        publish(mirror, vendored)
        publish(main, vendored, LIB[0])
        rules.write_text(f'[[rule]]\nmatch = "example.com/vendorx"\nupstream = "{mirror.url}"\n')
        async with (
            running_proxy(tmp_path / "cache", upstream=main.url, sumdb=db, rules=str(rules)) as p,
            aiohttp.ClientSession() as s,
        ):
            assert (await _get(s, f"{p.url}/{vendored.rel('mod')}"))[0] == 200
            assert (await _get(s, f"{p.url}/{LIB[0].rel('mod')}"))[0] == 200
        assert mirror.count(vendored.rel("mod")) == 1
        assert main.count(vendored.rel("mod")) == 0
        assert main.count(LIB[0].rel("mod")) == 1


# -- reloading, with the real process ---------------------------------------------------------


@contextlib.asynccontextmanager
async def _serving(
    args: list[str], env: dict[str, str], log: Path
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    err = await asyncio.to_thread(open, log, "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gomodproxy",
            "serve",
            *args,
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


async def _until(session: aiohttp.ClientSession, url: str, status: int) -> bool:
    """Poll ``url`` until it answers ``status`` (a reload is asynchronous); False if it never
    does within a generous bound (not a timing assertion: the bound only ends a failing run)."""
    for _ in range(300):
        if (await _get(session, url))[0] == status:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_rules_reload_on_sighup_and_on_change_keeping_old_rules_when_bad(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    log = tmp_path / "proxy.log"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [*LIB, LEGACY]) as db,
    ):
        publish(origin, *LIB, LEGACY)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
        env.update({"HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"})
        args = [
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            origin.url,
            "--sumdb",
            db.gosumdb,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--rules",
            str(rules),
            "--list-ttl",
            "0",
        ]
        async with _serving(args, env, log) as (url, proc), aiohttp.ClientSession() as s:
            legacy = f"{url}/{LEGACY.rel('info')}"
            assert (await _get(s, legacy))[0] == 403
            # A bad file: refused, with its line, and the rules in force stay.
            rules.write_text('[[rule]]\nmatch = "example.com/legacy"\naction = "maybe"\n')
            proc.send_signal(signal.SIGHUP)
            for _ in range(300):
                if "rules.reload_refused" in log.read_text():
                    break
                await asyncio.sleep(0.1)
            assert f"{rules}:1: 'action' must be one of" in log.read_text()
            assert (await _get(s, legacy))[0] == 403
            # Good rules without the deny: SIGHUP puts them in force.
            rules.write_text('[[rule]]\nmatch = "example.com/other"\naction = "deny"\n')
            proc.send_signal(signal.SIGHUP)
            assert await _until(s, legacy, 200)
            # And a change of the file alone is noticed too.
            rules.write_text(RULES + "\n# changed\n")
            assert await _until(s, legacy, 403)
            assert proc.returncode is None  # SIGHUP never ended the server


@pytest.mark.slow
async def test_workers_all_reload_on_sighup_to_the_parent(tmp_path: Path) -> None:
    """With ``--workers 2`` the parent passes SIGHUP on: each worker reloads its rules (and
    neither the parent nor a worker ends)."""
    import socket

    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    log = tmp_path / "proxy.log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [*LIB, LEGACY]) as db,
    ):
        publish(origin, *LIB, LEGACY)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
        env.update({"HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"})
        args = [
            "--listen",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--upstream",
            origin.url,
            "--sumdb",
            db.gosumdb,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--rules",
            str(rules),
        ]
        err = await asyncio.to_thread(open, log, "ab")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gomodproxy",
                "serve",
                *args,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        finally:
            err.close()
        try:
            assert proc.stdout is not None
            for _ in range(2):
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                assert line.startswith(b"gomodproxy: serving"), line
            proc.send_signal(signal.SIGHUP)
            for _ in range(300):
                if log.read_text().count("rules.reloaded trigger=sighup") >= 2:
                    break
                await asyncio.sleep(0.1)
            text = log.read_text()
            assert text.count("rules.reloaded trigger=sighup") == 2
            assert proc.returncode is None
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as s:
                url = f"http://127.0.0.1:{port}/{LEGACY.rel('info')}"
                statuses = {(await _get(s, url))[0] for _ in range(10)}
            assert statuses == {403}
        finally:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 60)

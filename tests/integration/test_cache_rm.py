"""``gomodproxy cache rm``: a removed version is denied by every proxy serving the cache.

A real ``gomodproxy serve`` process (and a second, in-process replica over the same folder) is
already running when the command runs; neither is restarted. The go command through the proxy
must fail on the removed version with the operator's reason, lists and ``@latest`` must leave it
out, nothing may fetch it from the origin again, and the audit log must hold the removal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.cli.main import main
from tests.gotool import go_environ, run_go
from tests.origin import Origin, running_origin
from tests.proxykit import RunningProxy, SumDB, publish, running_proxy, running_sumdb, synth

OLD = synth("example.com/a", "v1.0.0")
BAD = synth("example.com/a", "v1.1.0", size=100_000)
OTHER = synth("example.org/b", "v0.2.0")
ALL = (OLD, BAD, OTHER)
REASON = "CVE-2099-0001: v1.1.0 ships a backdoor"


@dataclass
class World:
    origin: Origin
    db: SumDB
    cache: Path
    process_url: str
    replica: RunningProxy
    http: aiohttp.ClientSession
    root: Path

    async def get(self, base: str, rel: str) -> tuple[int, str]:
        async with self.http.get(f"{base}/{rel}") as resp:
            return resp.status, (await resp.read()).decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def _serve_process(cache: Path, origin: Origin, db: SumDB, log: Path) -> AsyncIterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
    env |= {"HOME": str(cache.parent), "PYTHONUNBUFFERED": "1"}
    err = await asyncio.to_thread(open, log, "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gomodproxy",
            "serve",
            "--listen=127.0.0.1:0",
            f"--cache-dir={cache}",
            f"--upstream={origin.url}",
            f"--sumdb={db.gosumdb}",
            "--list-ttl=0",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    finally:
        await asyncio.to_thread(err.close)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"gomodproxy: serving "), line
        yield line.split()[-1].decode()
    finally:
        proc.kill()
        await proc.wait()


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    cache = tmp_path / "cache"
    await asyncio.to_thread(cache.mkdir)
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", ALL) as db,
        _serve_process(cache, origin, db, tmp_path / "proxy.log") as url,
        running_proxy(cache, upstream=origin.url, sumdb=db, list_ttl="0") as replica,
        aiohttp.ClientSession() as http,
    ):
        publish(origin, *ALL)
        world = World(origin, db, cache, url, replica, http, tmp_path)
        for m in ALL:  # the running proxy fetched, stored and has them in memory
            for ext in ("info", "mod", "zip"):
                assert (await world.get(url, m.rel(ext)))[0] == 200
        yield world


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _go_download(world: World, target: str, name: str) -> tuple[int, str]:
    home = world.root / name
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_text("module example.com/app\n\ngo 1.21\n")
    env = go_environ(home, goproxy=world.process_url, gosumdb=world.db.gosumdb)
    run = run_go(["mod", "download", "-json", target], cwd=work, env=env, timeout=120)
    return run.returncode, run.stdout + run.stderr


@pytest.mark.gocmd
@pytest.mark.asyncio
async def test_removed_version_is_denied_by_a_running_proxy_and_its_replica(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await _cli(
        capsys, "cache", "rm", "example.com/a@v1.1.0", "--reason", REASON, "--json",
        "--cache-dir", str(world.cache),
    )  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert doc["target"] == "example.com/a@v1.1.0"
    assert sorted(doc["removed"]) == sorted(BAD.rel(e) for e in ("info", "mod", "zip"))
    assert doc["freed"] == len(BAD.info) + len(BAD.mod) + len(BAD.zip)
    for ext in ("info", "mod", "zip"):
        assert not (world.cache / BAD.rel(ext)).exists()
    fetched = world.origin.count(BAD.rel("zip"))

    # The go command through the running process: a clear error with the operator's reason.
    rc, output = await asyncio.to_thread(_go_download, world, "example.com/a@v1.1.0", "go1")
    assert rc != 0
    assert "403 Forbidden" in output, output
    assert "denied by this proxy's operator" in output
    assert REASON in output
    # The version next to it still works.
    rc, output = await asyncio.to_thread(_go_download, world, "example.com/a@v1.0.0", "go2")
    assert rc == 0, output

    # Every file of it, from the process and from the replica: 403 with the reason.
    for base in (world.process_url, world.replica.url):
        for ext in ("zip", "info", "mod"):
            status, body = await world.get(base, BAD.rel(ext))
            assert status == 403, (base, ext, body)
            assert REASON in body
        # Lists and @latest leave it out (the origin still lists it).
        assert await world.get(base, BAD.list_rel) == (200, "v1.0.0\n")
        status, body = await world.get(base, "example.com/a/@latest")
        assert status == 200
        assert json.loads(body)["Version"] == "v1.0.0"
    assert world.origin.count(BAD.rel("zip")) == fetched  # never fetched again
    assert world.origin.count(BAD.rel("info")) == 1
    assert not (world.cache / BAD.rel("zip")).exists()
    # The go command's own listing through the proxy agrees.
    home = world.root / "go3"
    work = home / "work"
    await asyncio.to_thread(work.mkdir, parents=True)
    await asyncio.to_thread((work / "go.mod").write_text, "module example.com/app\n\ngo 1.21\n")
    env = go_environ(home, goproxy=world.process_url, gosumdb=world.db.gosumdb)
    run = await asyncio.to_thread(
        run_go, ["list", "-m", "-versions", "example.com/a"], cwd=work, env=env, timeout=120
    )
    assert run.stdout.split() == ["example.com/a", "v1.0.0"], run.stderr

    # The audit log holds the removal.
    code, out, _ = await _cli(capsys, "cache", "audit", "--json", "--cache-dir", str(world.cache))
    assert code == 0
    [entry] = json.loads(out)["entries"]
    assert entry["action"] == "rm"
    assert entry["target"] == "example.com/a@v1.1.0"
    assert entry["reason"] == REASON
    assert entry["user"]
    assert entry["time"].endswith("Z")
    assert sorted(entry["removed"]) == sorted(doc["removed"])
    assert entry["key"].startswith(".gomodproxy/audit/")


@pytest.mark.asyncio
async def test_a_hit_held_in_memory_is_refused_after_the_refresh(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only .info is asked after the removal: the running process has it in its hot cache, so
    only the refreshed in-memory deny list can refuse it (no restart, no miss to look)."""
    argv = ("cache", "rm", "example.org/b", "--reason", "unwanted", "--cache-dir", str(world.cache))
    code, out, _ = await _cli(capsys, *argv)
    assert code == 0
    size = len(OTHER.info) + len(OTHER.mod) + len(OTHER.zip) + len(b"v0.2.0\n")
    assert out == (
        f"removed every version of example.org/b: 4 files, {size} B; denied from now on: unwanted\n"
    )
    status = 200
    for _ in range(300):  # the refresh runs every 2 s
        status, body = await world.get(world.process_url, OTHER.rel("info"))
        if status != 200:
            break
        await asyncio.sleep(0.1)
    assert status == 403
    assert "every version of example.org/b was removed" in body
    for rel in (OTHER.list_rel, "example.org/b/@latest", OTHER.rel("zip")):
        status, body = await world.get(world.process_url, rel)
        assert status == 403, rel
        assert "unwanted" in body
    assert world.origin.count(OTHER.rel("zip")) == 1


@pytest.mark.asyncio
async def test_rm_needs_a_reason_and_a_valid_target(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--cache-dir", str(world.cache))
    code, _, err = await _cli(capsys, "cache", "rm", "example.com/a@1.0", "--reason", "x", *where)
    assert code == 1
    assert err.startswith("gomodproxy: invalid version 'example.com/a@1.0'")
    code, _, err = await _cli(
        capsys, "cache", "rm", "example.com/a@v1.0.0", "--reason", " ", *where
    )
    assert code == 1
    assert err == "gomodproxy: cache rm needs --reason TEXT: say why, for the audit log\n"
    with pytest.raises(SystemExit):
        await _cli(capsys, "cache", "rm", "example.com/a@v1.0.0", *where)
    assert "--reason" in capsys.readouterr().err
    # Nothing was denied or removed.
    assert (await world.get(world.process_url, OLD.rel("zip")))[0] == 200
    assert not (world.cache / ".gomodproxy" / "deny").exists()


@pytest.mark.asyncio
async def test_allow_lifts_the_denial_and_both_are_in_the_log(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--cache-dir", str(world.cache))
    code, _, _ = await _cli(
        capsys, "cache", "rm", "example.com/a@v1.1.0", "--reason", "bad", *where
    )
    assert code == 0
    assert (await world.get(world.process_url, BAD.rel("zip")))[0] == 403
    code, out, _ = await _cli(
        capsys, "cache", "allow", "example.com/a@v1.1.0", "--reason", "false alarm", *where
    )
    assert code == 0
    assert out == "allowed example.com/a@v1.1.0 again (proxies drop the denial within seconds)\n"
    status = 403
    for _ in range(300):  # the running process drops it at its next refresh (every 2 s)
        status, _ = await world.get(world.process_url, BAD.rel("zip"))
        if status != 403:
            break
        await asyncio.sleep(0.1)
    assert status == 200
    assert world.origin.count(BAD.rel("zip")) == 2  # fetched (and verified) again
    code, out, _ = await _cli(capsys, "cache", "audit", "--json", *where)
    assert [(e["action"], e["target"], e["reason"]) for e in json.loads(out)["entries"]] == [
        ("rm", "example.com/a@v1.1.0", "bad"),
        ("allow", "example.com/a@v1.1.0", "false alarm"),
    ]
    code, _, err = await _cli(capsys, "cache", "allow", "example.com/a", "--reason", "x", *where)
    assert code == 1
    assert err.startswith("gomodproxy: example.com/a is not denied; ")

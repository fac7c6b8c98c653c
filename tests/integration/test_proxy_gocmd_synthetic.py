"""Shapes of real projects the go command accepts, through our proxy and without it.

A local origin on 127.0.0.1 serves synthetic modules; our checksum database logs them; our proxy
sits in front of the origin. Each test runs the real go command twice in fresh module caches,
once with ``GOPROXY=<origin>`` alone and once with ``GOPROXY=<our proxy>`` (``GOSUMDB`` naming our
database by key and URL both times), and the two must agree: a proxy must not be stricter than
the go command.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.modzip.extract import remove_tree
from tests.gotool import go_environ, run_go
from tests.origin import Origin, running_origin
from tests.proxykit import SumDB, SynthModule, publish, running_proxy, running_sumdb

pytestmark = pytest.mark.gocmd

# A fork used as a replacement keeps the original module line (fault catalogue D42).
FORK = SynthModule(
    "example.com/fork/crypto",
    "v1.0.0",
    {
        "go.mod": b"module example.com/orig/crypto\n\ngo 1.21\n",
        "crypto.go": b'package crypto\n\n// Name says which copy this is.\nconst Name = "fork"\n',
    },
)
_APP_GO_MOD = """module example.com/app

go 1.21

require example.com/orig/crypto v1.0.0

replace example.com/orig/crypto => example.com/fork/crypto v1.0.0
"""
_APP_MAIN = """package main

import (
\t"fmt"

\t"example.com/orig/crypto"
)

func main() { fmt.Println(crypto.Name) }
"""

# A module without tags: its list carries pseudo-versions only and the origin has no @latest
# (as the go command's own module cache, served as a file:// GOPROXY, has none).
_UNTAGGED = "example.com/untagged"
_UNTAGGED_FILES = {
    "go.mod": f"module {_UNTAGGED}\n\ngo 1.21\n".encode(),
    "u.go": b"package untagged\n",
}
OLDER = SynthModule(
    _UNTAGGED, "v0.0.0-20240101000000-aaaaaaaaaaaa", _UNTAGGED_FILES, "2024-01-01T00:00:00Z"
)
# The .info time in another zone than the pseudo-version's UTC: the go command reports the .info.
NEWER = SynthModule(
    _UNTAGGED, "v0.0.0-20240301120000-bbbbbbbbbbbb", _UNTAGGED_FILES, "2024-03-01T13:00:00+01:00"
)


@dataclass
class Stack:
    origin: Origin
    db: SumDB
    proxy_url: str
    root: Path
    session: aiohttp.ClientSession
    runs: int = 0

    async def go(
        self, name: str, goproxy: str, args: Sequence[str], files: Mapping[str, str]
    ) -> tuple[subprocess.CompletedProcess[str], Path]:
        """Run the go command in a fresh module folder and module cache named ``name``."""
        home = self.root / name
        work = home / "work"
        work.mkdir(parents=True)
        for file, text in files.items():
            (work / file).write_text(text)
        env = go_environ(home, goproxy=goproxy, gosumdb=self.db.gosumdb)
        run = await asyncio.to_thread(run_go, list(args), cwd=work, env=env, timeout=300)
        return run, home

    async def both(
        self, args: Sequence[str], files: Mapping[str, str]
    ) -> tuple[subprocess.CompletedProcess[str], Path, subprocess.CompletedProcess[str], Path]:
        """The same run against the origin alone, then through our proxy."""
        self.runs += 1
        direct, direct_home = await self.go(f"origin{self.runs}", self.origin.url, args, files)
        ours, our_home = await self.go(f"proxy{self.runs}", self.proxy_url, args, files)
        return direct, direct_home, ours, our_home


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    modules = [FORK, OLDER, NEWER]
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", modules) as db,
        running_proxy(tmp_path / "proxy-cache", upstream=origin.url, sumdb=db) as proxy,
        aiohttp.ClientSession() as session,
    ):
        publish(origin, *modules)
        yield Stack(origin, db, proxy.url, tmp_path, session)
    await asyncio.to_thread(remove_tree, tmp_path)  # read-only module cache trees


def _results(stdout: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    text, pos = stdout.strip(), 0
    while pos < len(text):
        doc, pos = decoder.raw_decode(text, pos)
        out.append(doc)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _portable(result: Mapping[str, object], home: Path) -> dict[str, object]:
    """A result with the module-cache folder replaced by a placeholder."""
    return {
        k: v.replace(str(home), "<home>") if isinstance(v, str) else v for k, v in result.items()
    }


def _download_cache(home: Path) -> dict[str, bytes]:
    """The module files of the go command's download cache (locks and sumdb state left out)."""
    root = home / "gopath" / "pkg" / "mod" / "cache" / "download"
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".lock" and p.relative_to(root).parts[0] != "sumdb"
    }


@pytest.mark.asyncio
async def test_d42_a_replacement_fork_declaring_the_original_path_downloads_through_us(
    stack: Stack,
) -> None:
    files = {"go.mod": _APP_GO_MOD, "main.go": _APP_MAIN}
    direct, direct_home, ours, our_home = await stack.both(
        ["mod", "download", "-json", "all"], files
    )
    assert direct.returncode == 0, direct.stderr
    assert ours.returncode == 0, ours.stdout + ours.stderr
    expected = [_portable(r, direct_home) for r in _results(direct.stdout)]
    assert [_portable(r, our_home) for r in _results(ours.stdout)] == expected
    assert any(r.get("Path") == FORK.path and r.get("Sum") == FORK.zip_h1 for r in expected)
    assert await asyncio.to_thread(_download_cache, our_home) == await asyncio.to_thread(
        _download_cache, direct_home
    )
    assert (our_home / "work" / "go.sum").read_text() == (
        direct_home / "work" / "go.sum"
    ).read_text()
    # And the program builds against the fork, from our cache.
    run, _ = await stack.go("run", stack.proxy_url, ["run", "."], files)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "fork\n"


_PLAIN_MODULE = {"go.mod": "module example.com/app\n\ngo 1.21\n"}


@pytest.mark.asyncio
async def test_b24_latest_of_a_module_without_tags_is_its_newest_pseudo_version(
    stack: Stack,
) -> None:
    assert stack.origin.count(f"{_UNTAGGED}/@latest") == 0
    direct, direct_home, ours, our_home = await stack.both(
        ["list", "-m", "-json", f"{_UNTAGGED}@latest"], _PLAIN_MODULE
    )
    assert direct.returncode == 0, direct.stderr
    assert ours.returncode == 0, ours.stderr
    listed = _portable(json.loads(ours.stdout), our_home)
    assert listed == _portable(json.loads(direct.stdout), direct_home)
    assert (listed["Version"], listed["Time"]) == (NEWER.version, NEWER.time)
    assert stack.origin.count(f"{_UNTAGGED}/@latest") >= 2  # 404: both fell back to the list

    direct, direct_home, ours, our_home = await stack.both(
        ["get", f"{_UNTAGGED}@latest"], _PLAIN_MODULE
    )
    assert direct.returncode == 0, direct.stderr
    assert ours.returncode == 0, ours.stderr
    for name in ("go.mod", "go.sum"):
        assert (our_home / "work" / name).read_text() == (direct_home / "work" / name).read_text()
    assert f"require {_UNTAGGED} {NEWER.version}" in (our_home / "work" / "go.mod").read_text()

    # Our own @latest answers what the go command computed, with the version's .info.
    async with stack.session.get(f"{stack.proxy_url}/{_UNTAGGED}/@latest") as resp:
        assert resp.status == 200, await resp.text()
        assert await resp.read() == NEWER.info

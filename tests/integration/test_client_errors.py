"""Bad input to ``gomodproxy download``: a clear error, the go command's exit code, nothing
half-written (issue 11, proof).

Each case runs the go command too, on its own GOPATH, and both must fail with exit code 1
naming the same problem (our messages carry the ``gomodproxy:`` prefix where the go command's
carry ``go:``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.gotool import go_binary
from tests.integration.clientkit import Home
from tests.origin import Origin, running_origin
from tests.proxykit import publish, synth

pytestmark = [pytest.mark.gocmd]

A = synth("example.com/a", "v1.0.0")

_GO_MOD = "module example.com/main\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n"


@dataclass
class Pair:
    ours: Home
    theirs: Home
    origin: Origin


@pytest_asyncio.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with running_origin() as origin:
        publish(origin, A)
        yield Pair(
            Home(tmp_path / "ours", origin.url).setup(_GO_MOD),
            Home(tmp_path / "go", origin.url).setup(_GO_MOD),
            origin,
        )


def _files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def _both(pair: Pair, *args: str, **env: str) -> tuple[str, str]:
    ours = await asyncio.to_thread(pair.ours.ours, *args, **env)
    theirs = await asyncio.to_thread(pair.theirs.go, "mod", "download", *args, **env)
    assert theirs.returncode == 1, theirs.stderr
    assert ours.returncode == 1, ours.stderr
    assert ours.stderr.startswith("gomodproxy: ")
    assert "Traceback" not in ours.stderr
    return ours.stderr, theirs.stderr


@pytest.mark.asyncio
async def test_f41_go_mod_syntax_error_names_the_line(pair: Pair) -> None:
    bad = "module example.com/main\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n\tbroken\n)\n"
    for home in (pair.ours, pair.theirs):
        (home.work / "go.mod").write_text(bad)
    ours, theirs = await _both(pair)
    assert "go.mod:7:2: usage: require module/path v1.2.3" in theirs
    assert ours == theirs.replace("go: ", "gomodproxy: ", 1)
    assert _files(pair.ours.modcache) == []
    assert pair.origin.requests == [] or all(
        r.path.startswith("example.com/a") for r in pair.origin.requests
    )


@pytest.mark.asyncio
async def test_f14_an_unknown_module_is_a_clear_error(pair: Pair) -> None:
    ours, theirs = await _both(pair, "example.com/nosuch@v1.0.0")
    assert "example.com/nosuch@v1.0.0" in theirs
    assert "example.com/nosuch@v1.0.0" in ours
    assert "404" in ours or "not found" in ours
    assert not (pair.ours.modcache / "cache" / "download" / "example.com" / "nosuch").exists()


@pytest.mark.asyncio
async def test_a_version_that_does_not_exist_is_a_clear_error(pair: Pair) -> None:
    ours, theirs = await _both(pair, "example.com/a@v9.9.9")
    assert "example.com/a@v9.9.9" in theirs
    assert "example.com/a@v9.9.9" in ours
    vdir = pair.ours.modcache / "cache" / "download" / "example.com" / "a" / "@v"
    assert not list(vdir.glob("v9.9.9*")) if vdir.exists() else True


@pytest.mark.asyncio
async def test_a_module_that_is_not_a_dependency(pair: Pair) -> None:
    ours, theirs = await _both(pair, "example.com/other")
    assert "module example.com/other: not a known dependency" in theirs
    assert ours == "gomodproxy: module example.com/other: not a known dependency\n"


@pytest.mark.asyncio
async def test_f68_goproxy_off_is_a_clear_error_and_touches_nothing(pair: Pair) -> None:
    ours, theirs = await _both(pair, GOPROXY="off")
    assert "example.com/a@v1.0.0: module lookup disabled by GOPROXY=off" in theirs
    assert "example.com/a@v1.0.0: module lookup disabled by GOPROXY=off" in ours
    assert pair.origin.requests == []
    assert [f for f in _files(pair.ours.modcache) if "example.com" in f] == []


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only even for root: a read-only tmpfs mounted over it."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.asyncio
async def test_f85_a_read_only_module_cache_is_a_clear_error(pair: Pair) -> None:
    with _read_only(pair.ours.modcache), _read_only(pair.theirs.modcache):
        ours, theirs = await _both(pair)
        assert "read-only file system" in theirs or "permission denied" in theirs
        assert "module cache is not writable" in ours
        assert str(pair.ours.modcache) in ours
        assert _files(pair.ours.modcache) == []


def _goroot() -> str:
    return str(Path(os.path.realpath(go_binary())).parent.parent)


@pytest.mark.asyncio
async def test_a_go_mod_needing_a_newer_go_fails_as_with_gotoolchain_local(pair: Pair) -> None:
    for home in (pair.ours, pair.theirs):
        (home.work / "go.mod").write_text(_GO_MOD.replace("go 1.21", "go 1.99"))
    # No go command on our PATH: GOROOT tells which toolchain is the local one.
    ours, theirs = await _both(pair, GOROOT=_goroot())
    assert "go.mod requires go >= 1.99 (running go 1." in theirs
    assert ours == theirs.replace("go: ", "gomodproxy: ", 1)
    assert _files(pair.ours.modcache) == []


@pytest.mark.asyncio
async def test_a_dependency_needing_a_newer_go_fails_as_with_gotoolchain_local(
    pair: Pair,
) -> None:
    new = synth(
        "example.com/new", "v1.0.0", files={"go.mod": b"module example.com/new\n\ngo 1.99\n"}
    )
    publish(pair.origin, new)
    text = _GO_MOD + "require example.com/new v1.0.0\n"
    for home in (pair.ours, pair.theirs):
        (home.work / "go.mod").write_text(text)
    ours, theirs = await _both(pair, GOROOT=_goroot())
    assert "module example.com/new@v1.0.0 requires go >= 1.99 (running go 1." in theirs
    assert "module example.com/new@v1.0.0 requires go >= 1.99 (running go 1." in ours

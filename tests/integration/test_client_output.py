"""What ``gomodproxy download`` shows: ``-x`` traces, the terminal progress display, and
``-reuse`` / ``direct`` failures (issue 11, sections 1 and 4)."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.corpus_data import REPO_ROOT
from tests.integration.clientkit import Home, run_ours, without_go_on_path
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import publish, synth

A = synth("example.com/a", "v1.0.0", size=200_000)
B = synth("example.com/b", "v1.1.0")
_GO_MOD = (
    "module example.com/main\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n"
    "\texample.com/b v1.1.0\n)\n"
)


@pytest_asyncio.fixture
async def origin() -> AsyncIterator[Origin]:
    async with running_origin() as o:
        publish(o, A, B)
        yield o


@pytest.mark.asyncio
async def test_x_prints_each_request_and_its_answer(origin: Origin, tmp_path: Path) -> None:
    home = Home(tmp_path, origin.url).setup(_GO_MOD)
    run = await asyncio.to_thread(home.ours, "-x", "example.com/a@latest")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    for rel in ("@v/list", "@v/v1.0.0.info", "@v/v1.0.0.mod", "@v/v1.0.0.zip"):
        url = f"{origin.url}/example.com/a/{rel}"
        assert f"# get {url}" in lines
        assert any(line.startswith(f"# get {url}: 200 OK (") for line in lines), lines
    assert len(lines) == 8
    assert run.stdout == ""


@pytest.mark.asyncio
async def test_no_display_without_a_terminal_or_with_json(origin: Origin, tmp_path: Path) -> None:
    home = Home(tmp_path, origin.url).setup(_GO_MOD)
    run = await asyncio.to_thread(home.ours)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def _run_on_a_terminal(home: Home, *args: str) -> tuple[int, bytes]:
    """Run ours with stderr on a pseudo-terminal; return its exit code and what it drew."""
    env = home.env()
    env["PATH"] = without_go_on_path(env["PATH"])
    env["PYTHONPATH"] = str(REPO_ROOT / "src")
    env["COLUMNS"] = "160"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gomodproxy", "download", *args],
        cwd=home.work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    drawn = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    proc.wait(60)
    assert proc.stdout is not None
    proc.stdout.close()
    return proc.returncode, drawn


@pytest.mark.asyncio
async def test_a_terminal_gets_the_live_display(origin: Origin, tmp_path: Path) -> None:
    # Slow answers, so the display has time to draw while modules are in flight.
    origin.inject(Fault(delay=0.6), suffix=".zip")
    home = Home(tmp_path, origin.url).setup(_GO_MOD)
    code, drawn = await asyncio.to_thread(_run_on_a_terminal, home)
    assert code == 0, drawn
    assert b"modules" in drawn
    assert b"/2" in drawn
    quiet_home = Home(tmp_path / "json", origin.url).setup(_GO_MOD)
    code, drawn = await asyncio.to_thread(_run_on_a_terminal, quiet_home, "-json")
    assert code == 0
    assert b"modules" not in drawn


@pytest.mark.asyncio
async def test_reuse_of_a_missing_file_fails_clearly_and_an_unreachable_direct_module_names_itself(
    origin: Origin, tmp_path: Path
) -> None:
    home = Home(tmp_path, origin.url).setup(_GO_MOD)
    inside = await asyncio.to_thread(home.ours, "-reuse=old.json", "example.com/a@v1.0.0")
    assert inside.returncode == 1
    assert inside.stderr == (
        "gomodproxy: gomodproxy download -reuse cannot be used inside a module\n"
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    env = home.env()
    reuse = await asyncio.to_thread(
        run_ours, ["-reuse=old.json", "example.com/a@v1.0.0"], cwd=outside, env=env
    )
    assert reuse.returncode == 1
    assert reuse.stderr == f"gomodproxy: open {outside / 'old.json'}: no such file or directory\n"
    # direct is the git fetcher now: a repository that cannot be reached (the user's git
    # configuration sends github.com/gmptest/ to a closed loopback port) fails that module,
    # named with its version and the cause, with no traceback.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "gitconfig"
    cfg.write_text(f'[url "http://127.0.0.1:{port}/"]\n\tinsteadOf = https://github.com/gmptest/\n')
    direct = await asyncio.to_thread(
        run_ours,
        ["github.com/gmptest/none@v1.0.0"],
        cwd=outside,
        env={
            **env,
            "GOPROXY": "direct",
            "GOPRIVATE": "github.com/gmptest",
            "GIT_CONFIG_GLOBAL": str(cfg),
        },
    )
    assert direct.returncode == 1
    assert direct.stderr.startswith("gomodproxy: github.com/gmptest/none@v1.0.0: ")
    assert "git" in direct.stderr
    assert "Traceback" not in direct.stderr


@pytest.mark.asyncio
async def test_goflags_x_traces_like_the_flag(origin: Origin, tmp_path: Path) -> None:
    home = Home(tmp_path, origin.url).setup(_GO_MOD)
    run = await asyncio.to_thread(home.ours, "example.com/b@v1.1.0", GOFLAGS="-mod=mod -x")
    assert run.returncode == 0, run.stderr
    assert f"# get {origin.url}/example.com/b/@v/v1.1.0.zip\n" in run.stderr

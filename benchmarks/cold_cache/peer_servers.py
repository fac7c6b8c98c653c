"""The Go peers (goproxy, Athens) as proxies in front of a local origin, for W2 and M1.

Each runs pinned to a core with an empty cache in a scratch folder, its upstream the origin
(``GOPROXY=<origin URL>``), our checksum database as ``GOSUMDB``, ``GOTOOLCHAIN=local``,
``GOFLAGS=-mod=mod`` and scratch GOPATH/GOMODCACHE (``benchmarks/peers.py``); everything on
127.0.0.1. Used as ``async with peer("goproxy", scratch, origin, gosumdb) as url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from benchmarks import peers

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_listening(proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
    for _ in range(600):
        if proc.returncode is not None:
            raise RuntimeError(f"the peer exited early; see {log}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the peer did not listen on {port} in 30 s; see {log}")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


@contextlib.asynccontextmanager
async def peer(
    name: str, scratch: Path, origin: str, gosumdb: str, core: int = 0
) -> AsyncIterator[str]:
    """Run the peer ``name`` with an empty cache under ``scratch``; yield its base URL."""
    peers.require_binaries()
    folder = scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    home = folder / "home"
    if name == "goproxy":
        (folder / "tmp").mkdir(exist_ok=True)
        args = peers.goproxy_command(HOST, port, folder / "cache", folder / "tmp")
        env = peers.goproxy_env(home, origin, gosumdb)
    elif name == "athens":
        args = peers.athens_command()
        env = peers.athens_env(HOST, port, folder / "storage", home, origin, gosumdb)
    else:
        raise ValueError(f"unknown peer {name!r}: choose from {', '.join(peers.PEER_NAMES)}")
    log = folder / "server.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            "taskset", "-c", str(core), *args,
            stdout=out, stderr=out, env=env, cwd=folder, start_new_session=True,
        )  # fmt: skip
    try:
        await _wait_listening(proc, port, log)
        yield f"http://{HOST}:{port}"
    finally:
        await _stop(proc)
        await asyncio.to_thread(_remove, folder)


def _remove(root: Path) -> None:
    """Remove a peer's scratch folder (the go command leaves its module cache read-only)."""
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(root, ignore_errors=True)

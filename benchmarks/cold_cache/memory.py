"""M1: the memory of each proxy while 20 clients fetch one 300 MB zip, cold and then warm.

A synthetic module (``example.com/m1big@v1.0.0``: a go.mod and 300 MB of incompressible data,
stored uncompressed, a valid module zip) is served by a local origin without delay; our
checksum database logs it. 20 clients (aiohttp, in this process, on core 1) ask the proxy for
the zip at the same moment and read it to the end; the proxy's resident memory (its whole
process tree, ``VmRSS`` from /proc) is sampled every 20 ms. Then the same again with the zip in
the proxy's cache. Proxies: ``gomodproxy serve`` (which streams the first fetch to all 20 while
verifying it), nginx with ``proxy_cache`` (``proxy_cache_lock``: one upstream fetch) and the Go
peers goproxy and Athens (``scripts/build-peers``; ``peer_servers.py``), each with its children.

Run from the repository root: ``.venv/bin/python -m benchmarks.cold_cache.memory``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
from benchmarks import peers
from benchmarks.cold_cache.origin import DelayedOrigin
from benchmarks.cold_cache.peer_servers import peer
from benchmarks.cold_cache.run import REPO, _gomodproxy, _nginx, _sumdb
from benchmarks.http_stacks.machine import machine_info
from benchmarks.output import write_result

MODULE, VERSION = "example.com/m1big", "v1.0.0"


def _write_module(root: Path, size: int) -> str:
    """The module's files in ``cache/download`` layout under ``root``; its zip's SHA-256."""
    vdir = root / MODULE / "@v"
    vdir.mkdir(parents=True)
    gomod = f"module {MODULE}\n".encode()
    (vdir / f"{VERSION}.mod").write_bytes(gomod)
    info = {"Version": VERSION, "Time": "2024-05-06T07:08:09Z"}
    (vdir / f"{VERSION}.info").write_text(json.dumps(info))
    (vdir / "list").write_text(VERSION + "\n")
    zip_path = vdir / f"{VERSION}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{MODULE}@{VERSION}/go.mod", gomod)
        with z.open(f"{MODULE}@{VERSION}/data.bin", "w", force_zip64=True) as out:
            rnd = random.Random(size)
            left = size
            while left:
                n = min(left, 8 << 20)
                out.write(rnd.randbytes(n))
                left -= n
    digest = hashlib.sha256()
    with zip_path.open("rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and its children, KiB."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _server_pid(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
            break
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return int(entry.name)
    raise RuntimeError(f"no process listens on port {port}")


async def _fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    async with session.get(url) as resp:
        async for chunk in resp.content.iter_chunked(1 << 20):
            digest.update(chunk)
        return resp.status, digest.hexdigest()


async def _phase(base: str, pid: int, clients: int, want: str) -> dict[str, float]:
    url = f"{base}/{MODULE}/@v/{VERSION}.zip"
    peak = _tree_rss_kib(pid)
    idle = peak
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        results = await asyncio.gather(*(_fetch(session, url) for _ in range(clients)))
    seconds = time.monotonic() - started
    done.set()
    await sampler
    bad = [r for r in results if r != (200, want)]
    if bad:
        raise RuntimeError(f"{len(bad)} clients got a wrong answer, e.g. {bad[0]}")
    return {
        "seconds": round(seconds, 2),
        "idle_rss_mib": round(idle / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "growth_mib": round((peak - idle) / 1024, 1),
    }


@contextlib.asynccontextmanager
async def _proxy(name: str, scratch: Path, origin: str, gosumdb: str) -> AsyncIterator[str]:
    if name == "gomodproxy":
        async with _gomodproxy(scratch, origin, gosumdb) as (url, _pid):
            yield url
    elif name in peers.PEER_NAMES:
        async with peer(name, scratch, origin, gosumdb) as url:
            yield url
    else:
        async with _nginx(scratch, origin) as url:
            yield url


async def _run(args: argparse.Namespace) -> dict[str, object]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="gomodproxy-m1-", dir=args.tmp) as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o755)  # nginx's worker process runs as another user
        root = scratch / "origin"
        print(f"writing a {args.size_mb} MB module zip ...", flush=True)
        want = await asyncio.to_thread(_write_module, root, args.size_mb << 20)
        origin = DelayedOrigin(root, 0.0)
        await origin.start()
        try:
            async with _sumdb(scratch, root) as gosumdb:
                for name in args.proxies.split(","):
                    if name == "nginx" and not shutil.which("nginx"):
                        continue
                    (scratch / name).mkdir()
                    async with _proxy(name, scratch / name, origin.url, gosumdb) as url:
                        pid = _server_pid(int(url.rsplit(":", 1)[1]))
                        results[name] = {}
                        for phase in ("cold", "warm"):
                            origin.reset()
                            cell = await _phase(url, pid, args.clients, want)
                            cell["origin_requests"] = origin.requests
                            results[name][phase] = cell
                            print(f"{name:10} {phase}: {cell}", flush=True)
        finally:
            await origin.stop()
    return {
        "benchmark": f"M1 memory: {args.clients} clients fetch one {args.size_mb} MB zip",
        "machine": machine_info(),
        "settings": {"size_mb": args.size_mb, "clients": args.clients, "proxies": args.proxies},
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "peer_builds": peers.builds(),
        "results": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--proxies", default=",".join(("gomodproxy", "nginx", *peers.PEER_NAMES)))
    parser.add_argument("--tmp", default="/dev/shm", help="where the zip and caches live")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/memory.json")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

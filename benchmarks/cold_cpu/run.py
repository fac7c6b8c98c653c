"""Proxy CPU seconds per cold MB: what a miss costs the proxy itself (issue 15, section 1).

Every zip of the Prometheus project's build list (``scripts/fetch-corpus``) is asked for once
through ``gomodproxy serve`` with an empty cache, by a loopback client eight at a time, then
once more (warm). The origin serves the project's ``cache/download`` folder with no delay (in
this process, so its CPU is not counted); our checksum database (``gomodproxy sumdb serve
--from-cache``) stands in for the public one, so every zip is verified as in production. The
proxy runs pinned to core 0, with prefetch off when the code has it (``--proxy-arg``); its CPU
time (utime+stime from /proc) is read before and after each pass.

Compare code versions by running it twice with another ``PYTHONPATH`` (the proxy is started
as ``python -m gomodproxy``), each with its own ``--label``; results are merged by label into
``benchmarks/results/cold_cpu.json``::

    PYTHONPATH=<old checkout>/src .venv/bin/python -m benchmarks.cold_cpu.run --label before
    PYTHONPATH=src .venv/bin/python -m benchmarks.cold_cpu.run --label after \\
        --proxy-arg=--no-prefetch
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
from benchmarks.cold_cache.origin import DelayedOrigin
from benchmarks.cold_cache.run import DOWNLOAD, REPO, _start_logged, _stop, _sumdb
from benchmarks.http_stacks.machine import core_times, machine_info
from benchmarks.output import write_result

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _zips(root: Path) -> list[tuple[str, int]]:
    out = []
    for path in sorted(root.rglob("*.zip")):
        if "/@v/" in path.as_posix():
            out.append((path.relative_to(root).as_posix(), path.stat().st_size))
    return out


@contextlib.asynccontextmanager
async def _proxy(
    scratch: Path, origin: str, gosumdb: str, extra: Sequence[str]
) -> AsyncIterator[tuple[str, int]]:
    cache = scratch / "cache"
    proc = await _start_logged(
        ["taskset", "-c", "0", sys.executable, "-m", "gomodproxy", "serve",
         "--cache-dir", str(cache), "--upstream", origin, "--sumdb", gosumdb,
         "--listen", "127.0.0.1:0", "--retries", "0", *extra],
        scratch / "gomodproxy.log",
        env={k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line.startswith("gomodproxy: serving "):
            raise RuntimeError(f"gomodproxy did not start: {line!r}")
        yield line.split()[-1], proc.pid
    finally:
        await _stop(proc)
        await asyncio.to_thread(shutil.rmtree, cache, True)


async def _pass(url: str, zips: list[tuple[str, int]], parallel: int) -> tuple[int, int]:
    """Ask for every zip; (bytes received, failures)."""
    queue = list(zips)
    received = failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal received, failures
        while queue:
            rel, _ = queue.pop()
            async with session.get(f"{url}/{rel}") as resp:
                body = await resp.read()
                if resp.status != 200:
                    failures += 1
                received += len(body)

    timeout = aiohttp.ClientTimeout(total=1800)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(parallel)))
    return received, failures


async def _run(args: argparse.Namespace) -> dict[str, object]:
    zips = _zips(DOWNLOAD)
    if not zips:
        raise SystemExit("the Prometheus project is missing: run scripts/fetch-corpus first")
    total = sum(size for _, size in zips)
    passes: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="gomodproxy-cpu-") as tmp:
        scratch = Path(tmp)
        origin = DelayedOrigin(DOWNLOAD, 0.0)
        await origin.start()
        try:
            async with (
                _sumdb(scratch) as gosumdb,
                _proxy(scratch, origin.url, gosumdb, args.proxy_arg) as (url, pid),
            ):
                for phase in ("cold", "warm"):
                    cores = core_times()
                    cpu = _cpu_seconds(pid)
                    started = time.monotonic()
                    received, failures = await _pass(url, zips, args.parallel)
                    wall = time.monotonic() - started
                    used = _cpu_seconds(pid) - cpu
                    later = core_times()
                    mb = received / 1e6
                    passes[phase] = {
                        "zips": len(zips),
                        "mb": round(mb, 1),
                        "failures": failures,
                        "wall_seconds": round(wall, 2),
                        "proxy_cpu_seconds": round(used, 2),
                        "proxy_cpu_seconds_per_mb": round(used / mb, 4),
                        "core0_busy_seconds": round(later.busy_seconds_since(cores, 0), 2),
                        "core1_busy_seconds": round(later.busy_seconds_since(cores, 1), 2),
                    }
                    print(f"{args.label} {phase}: {passes[phase]}", flush=True)
        finally:
            await origin.stop()
    return {
        "zips": len(zips),
        "zip_mb": round(total / 1e6, 1),
        "proxy_args": list(args.proxy_arg),
        "parallel": args.parallel,
        "passes": passes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--label", required=True, help="the code version measured")
    parser.add_argument("--proxy-arg", action="append", default=[], help="extra serve flag")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/cold_cpu.json")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    doc: dict[str, object] = {}
    if args.output.is_file():
        doc = json.loads(args.output.read_text())
    doc["benchmark"] = "proxy CPU seconds per cold MB: every Prometheus zip once, then warm"
    doc["machine"] = machine_info()
    runs = doc.get("runs")
    runs = dict(runs) if isinstance(runs, dict) else {}
    runs[args.label] = result
    doc["runs"] = runs
    write_result(args.output, doc)
    failed = any(p["failures"] for p in result["passes"].values())  # type: ignore[attr-defined]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

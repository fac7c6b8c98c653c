"""Benchmark runner: every candidate HTTP stack serving the same cached files, nginx as ceiling.

``.venv/bin/python -m benchmarks.http_stacks.run`` (from the repository root). Starts each server
on 127.0.0.1 pinned to core 0, drives it with wrk pinned to core 1, interleaves the servers
cell by cell, repeats each cell, stops every server it started, writes
``benchmarks/results/http_stacks.json`` and prints the table. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchmarks import peers
from benchmarks.http_stacks.abort_probe import STACKS as ABORT_STACKS
from benchmarks.http_stacks.abort_probe import probe
from benchmarks.http_stacks.corpus import KINDS, CachedFile, make_tree
from benchmarks.http_stacks.machine import CLOCK_TICKS, core_times, machine_info
from benchmarks.http_stacks.report import Cell, format_table, summarise
from benchmarks.http_stacks.servers import (
    DESCRIPTIONS,
    HOST,
    SERVER_NAMES,
    Launch,
    Server,
    command,
    fetch,
)
from benchmarks.http_stacks.wrk import run_wrk

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = Path("benchmarks") / "results" / "http_stacks.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default=",".join(SERVER_NAMES), help="comma-separated")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated")
    parser.add_argument("--connections", default="1,16,64,256", help="comma-separated")
    parser.add_argument("--duration", type=int, default=3, help="seconds per cell")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per server and kind")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--zip-kib", type=int, default=200, help="size of the zip")
    parser.add_argument(
        "--gomodproxy-workers", type=int, default=1, help="gomodproxy serve --workers (one core)"
    )
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument(
        "--no-abort-probe", action="store_true", help="skip the mid-zip failure probe"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="relative to the repository root"
    )
    return parser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _verify(server: Server, files: dict[str, CachedFile]) -> dict[str, list[str]]:
    """Check every file comes back whole with its length; return the header names sent."""
    sent: dict[str, list[str]] = {}
    for kind, cached in files.items():
        status, headers, body = fetch(server.port, cached.url_path)
        if status != 200 or body != cached.path.read_bytes():
            raise RuntimeError(f"{server.name} served {kind} wrongly (status {status})")
        if headers.get("content-length") != str(cached.size):
            raise RuntimeError(f"{server.name} sent no Content-Length {cached.size} for {kind}")
        sent[kind] = sorted(headers)
    return sent


def _measure(
    server: Server, cached: CachedFile, connections: int, repeat: int, args: argparse.Namespace
) -> Cell:
    url = f"http://{HOST}:{server.port}{cached.url_path}"
    before, cores_before, t0 = server.stat(), core_times(), time.monotonic()
    result = run_wrk(url, connections=connections, duration_s=args.duration, core=args.client_core)
    wall = time.monotonic() - t0
    after, cores_after = server.stat(), core_times()
    server_cpu = (after.cpu_ticks - before.cpu_ticks) / CLOCK_TICKS
    core0 = cores_after.busy_seconds_since(cores_before, args.server_core)
    core1 = cores_after.busy_seconds_since(cores_before, args.client_core)
    return Cell(
        server=server.name,
        kind=cached.kind,
        connections=connections,
        repeat=repeat,
        requests=result.requests,
        requests_per_s=round(result.requests_per_s, 1),
        mib_per_s=round(result.mib_per_s, 2),
        p50_ms=result.p50_us / 1000,
        p90_ms=result.p90_us / 1000,
        p99_ms=result.p99_us / 1000,
        max_ms=result.max_us / 1000,
        socket_errors=result.errors,
        status_errors=result.status_errors,
        server_cpu_s=round(server_cpu, 3),
        cpu_us_per_request=round(1e6 * server_cpu / max(result.requests, 1), 2),
        server_core_busy=round(server_cpu / wall, 3),
        wrk_core_busy=round(result.cpu_s / wall, 3),
        other_busy_core0=round(max(0.0, core0 - server_cpu) / wall, 3),
        other_busy_core1=round(max(0.0, core1 - result.cpu_s) / wall, 3),
        rss_mib=round(after.rss_kib / 1024, 1),
    )


def _check_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install -y nginx wrk util-linux")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 cores: the server on one, wrk on the other")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 0 when every server answered every cell."""
    args = _parser().parse_args(argv)
    names = [n for n in args.servers.split(",") if n]
    kinds = [k for k in args.kinds.split(",") if k]
    conns = [int(c) for c in args.connections.split(",") if c]
    _check_tools()
    if any(n in peers.PEER_NAMES for n in names):
        peers.require_binaries()
    cells_total = len(names) * len(kinds) * len(conns) * args.repeats
    estimate = cells_total * (args.duration + 0.4) + len(names) * len(kinds) * args.warmup
    print(f"{cells_total} cells, about {estimate / 60:.1f} min", flush=True)
    machine = machine_info()
    load_before = os.getloadavg()
    cells: list[Cell] = []
    headers: dict[str, dict[str, list[str]]] = {}
    memory: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="http-stacks-") as tmp:
        os.chmod(tmp, 0o755)  # nginx's worker runs unprivileged and must read the tree
        files = make_tree(Path(tmp) / "root", args.zip_kib * 1024)
        running: dict[str, Server] = {}
        try:
            for name in names:
                scratch = Path(tmp) / name
                scratch.mkdir()
                launch = Launch(
                    sys.executable,
                    Path(tmp) / "root",
                    _free_port(),
                    scratch,
                    REPO,
                    args.gomodproxy_workers,
                )
                running[name] = Server(name, launch, args.server_core)
            for server in running.values():
                server.wait_ready()
                headers[server.name] = _verify(server, files)
                idle = server.stat()
                memory[server.name] = {"idle_rss_mib": round(idle.rss_kib / 1024, 1)}
                for kind in kinds:
                    run_wrk(
                        f"http://{HOST}:{server.port}{files[kind].url_path}",
                        connections=16,
                        duration_s=args.warmup,
                        core=args.client_core,
                    )
            step = 0
            for repeat in range(args.repeats):
                for kind in kinds:
                    for connections in conns:
                        order = names[step % len(names) :] + names[: step % len(names)]
                        step += 1
                        for name in order:
                            cell = _measure(running[name], files[kind], connections, repeat, args)
                            cells.append(cell)
                            print(
                                f"[{len(cells)}/{cells_total}] {name} {kind} c={connections} "
                                f"r{repeat}: {cell.requests_per_s:.0f} req/s "
                                f"p99 {cell.p99_ms:.2f} ms other0 {cell.other_busy_core0:.2f}",
                                flush=True,
                            )
            for name, server in running.items():
                final = server.stat()
                memory[name]["peak_rss_mib"] = round(final.hwm_kib / 1024, 1)
                memory[name]["processes"] = final.processes
        finally:
            for server in running.values():
                server.stop()
        aborts: dict[str, dict[str, dict[str, object]]] = {}
        if not args.no_abort_probe:
            for name in (n for n in names if n in ABORT_STACKS):
                aborts[name] = probe(name, Path(tmp))
    summary = summarise(cells)
    placeholder = Launch("python", Path("<root>"), 0, Path("<scratch>"), Path("."))
    result = {
        "machine": machine,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "duration_s": args.duration,
            "warmup_s_per_kind": args.warmup,
            "connections": conns,
            "repeats": args.repeats,
            "kinds": {k: files[k].size for k in kinds},
            "server_core": args.server_core,
            "gomodproxy_workers": args.gomodproxy_workers,
            "client_core": args.client_core,
            "peers": "goproxy and Athens pre-filled in their own cache layouts, no upstream",
            "load_generator": "wrk -t1 --latency --timeout 5s, keep-alive, one URL per run",
            "order": "servers interleaved cell by cell, rotating which goes first",
        },
        "servers": {
            name: {
                "description": DESCRIPTIONS[name],
                # Relative to the repository: no path of this machine in the results.
                "command": " ".join(command(name, placeholder)).replace(f"{REPO}/", ""),
                "response_headers": headers.get(name, {}),
                **memory.get(name, {}),
            }
            for name in names
        },
        "peer_builds": peers.builds(),
        "abort_probe": aborts,
        "summary": [asdict(s) for s in summary],
        "cells": [asdict(c) for c in cells],
    }
    output = REPO / args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(format_table(summary, names))
    for name, outcomes in aborts.items():
        for path, outcome in outcomes.items():
            print(f"abort probe: {name:<16} {path:<9} {outcome['verdict']}")
    print(f"\nwrote {args.output}")
    errors = sum(s.errors for s in summary)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

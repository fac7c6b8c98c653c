"""W1: a warm cache answering the go command's URL mix over a real project's modules.

The modules are the Prometheus build list (``tests/projects/prometheus``: 418 modules, zips
from a few KiB to tens of MiB, as ``scripts/fetch-corpus`` downloaded them). Its
``cache/download`` folder is copied to /dev/shm; nginx serves it as static files (the
ceiling), ``gomodproxy serve --upstream off --sumdb off`` adopts it as its cache, goproxy uses
it as its dir cacher (the same layout) and Athens gets it in its disk storage's layout (hard
links; see ``benchmarks/peers.py``). All are warmed by one pass over every URL, then loaded by
wrk with the mix the go command produces for ``go mod download``: for each module version its
``.info``, ``.mod`` and ``.zip``, so zips come in the project's real size distribution. Each
connection walks the list from its own offset.

Server pinned to core 0, wrk (one thread) to core 1, cells interleaved server by server,
repeated; per cell: requests/s, MiB/s, p50/p99 latency, server CPU per request, RSS.

Run from the repository root: ``.venv/bin/python -m benchmarks.warm_mix.run``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import peers
from benchmarks.http_stacks.machine import CLOCK_TICKS, core_times, machine_info
from benchmarks.http_stacks.servers import HOST, Launch, Server
from benchmarks.http_stacks.wrk import run_wrk
from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[2]
DOWNLOAD = REPO / ".cache/corpus/projects/prometheus/pkg/mod/cache/download"
MIX_LUA = Path(__file__).with_name("mix.lua")
SERVERS = ("nginx", "nginx-front", "gomodproxy", *peers.PEER_NAMES)


_DESCRIBED = {
    "nginx": "nginx static files, 1 worker",
    "gomodproxy": "gomodproxy serve --upstream off --sumdb off, the folder as its cache",
    "nginx-front": "gomodproxy's static front: nginx with the file 'gomodproxy front nginx' "
    "generates (pcre_jit on), gomodproxy serve behind it on the same core, the folder as its "
    "cache",
}


def url_mix(root: Path) -> list[str]:
    """``.info``, ``.mod``, ``.zip`` of every module version that has a zip, in path order."""
    paths: list[str] = []
    for zip_file in sorted(root.glob("**/@v/*.zip")):
        stem = zip_file.relative_to(root).as_posix().removesuffix(".zip")
        paths += [f"/{stem}.info", f"/{stem}.mod", f"/{stem}.zip"]
    return paths


def _warm(port: int, root: Path, paths: Sequence[str]) -> dict[str, int]:
    """Ask for every path once; every answer must be a 200 carrying the file whole. Returns how
    many answers of each file kind came without a Content-Length (chunked)."""
    chunked: dict[str, int] = {}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        for path in paths:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            size = (root / path[1:]).stat().st_size
            if resp.status != 200 or len(body) != size:
                raise RuntimeError(f"{path}: {resp.status}, {len(body)} bytes of {size}")
            if resp.headers["Content-Length"] is None:
                kind = path.rsplit(".", 1)[1]
                chunked[kind] = chunked.get(kind, 0) + 1
    finally:
        conn.close()
    return chunked


def _cell(server: Server, mix_file: Path, conns: int, args: argparse.Namespace) -> dict[str, float]:
    before, cores_before, t0 = server.stat(), core_times(), time.monotonic()
    result = run_wrk(
        f"http://{HOST}:{server.port}/",
        connections=conns,
        duration_s=args.duration,
        core=args.client_core,
        script=MIX_LUA,
        script_args=[str(mix_file)],
    )
    after, cores_after = server.stat(), core_times()
    wall = time.monotonic() - t0
    if result.errors or result.status_errors:
        raise RuntimeError(f"{server.name}: {result.errors} errors, {result.status_errors} non-2xx")
    cpu = (after.cpu_ticks - before.cpu_ticks) / CLOCK_TICKS
    core0 = cores_after.busy_seconds_since(cores_before, args.server_core)
    core1 = cores_after.busy_seconds_since(cores_before, args.client_core)
    return {
        "req_s": result.requests_per_s,
        "mib_s": result.mib_per_s,
        "p50_ms": result.p50_us / 1000,
        "p99_ms": result.p99_us / 1000,
        "cpu_us_per_req": cpu / max(result.requests, 1) * 1e6,
        "server_core_busy": cpu / wall,
        "rss_mib": after.rss_kib / 1024,
        # How busy each core was with anything else: the noise on a shared machine.
        "other_busy_core0": round(max(0.0, core0 - cpu) / wall, 3),
        "other_busy_core1": round(max(0.0, core1 - result.cpu_s) / wall, 3),
    }


def _run(args: argparse.Namespace) -> dict[str, object]:
    if not DOWNLOAD.is_dir():
        raise SystemExit("the Prometheus project is missing: run scripts/fetch-corpus first")
    connections = [int(c) for c in args.connections.split(",")]
    names = [n for n in args.servers.split(",") if n]
    unknown = sorted(set(names) - set(SERVERS))
    if unknown:
        raise SystemExit(f"unknown servers {unknown}: choose from {', '.join(SERVERS)}")
    if any(n in peers.PEER_NAMES for n in names):
        peers.require_binaries()
    cells: list[dict[str, object]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gomodproxy-w1-", dir=args.tmp) as tmp:
        Path(tmp).chmod(0o755)  # nginx's worker process runs as another user
        root = Path(tmp) / "root"
        print("copying the project's cache/download ...", flush=True)
        shutil.copytree(DOWNLOAD, root, ignore=shutil.ignore_patterns("sumdb", "lock"))
        paths = url_mix(root)
        mix_file = Path(tmp) / "mix.txt"
        mix_file.write_text("\n".join(paths) + "\n")
        zips = [(root / p[1:]).stat().st_size for p in paths if p.endswith(".zip")]
        print(f"{len(paths)} URLs, {len(zips)} zips, median zip {statistics.median(zips):.0f} B")
        servers: dict[str, Server] = {}
        chunked: dict[str, dict[str, int]] = {}
        try:
            for i, name in enumerate(names):
                scratch = Path(tmp) / name
                scratch.mkdir()
                # Two ports each: the static front's gomodproxy listens on the next one.
                launch = Launch(sys.executable, root, 18200 + 2 * i, scratch, REPO)
                server = Server(name, launch, args.server_core)
                servers[name] = server  # stopped in the finally below, whatever happens next
                server.wait_ready(60, connect_only=True)
                chunked[name] = _warm(server.port, root, paths)
            for repeat in range(args.repeats):
                for conns in connections:
                    for name in names:
                        cell = _cell(servers[name], mix_file, conns, args)
                        cells.append(
                            {"server": name, "connections": conns, "repeat": repeat, **cell}
                        )
                        print(
                            f"{name:10} c={conns:<3} r{repeat}: {cell['req_s']:8.0f} req/s "
                            f"{cell['mib_s']:7.1f} MiB/s p99 {cell['p99_ms']:6.2f} ms "
                            f"{cell['cpu_us_per_req']:6.0f} us/req "
                            f"other0 {cell['other_busy_core0']:.2f}",
                            flush=True,
                        )
        finally:
            for server in servers.values():
                server.stop()
    load_after = os.getloadavg()
    return {
        "benchmark": "W1 warm cache, go command URL mix over tests/projects/prometheus",
        "machine": machine_info(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "settings": {
            "servers": names,
            "servers_described": {
                n: _DESCRIBED.get(n, peers.DESCRIPTIONS.get(n, "")) for n in names
            },
            "connections": connections,
            "urls": len(paths),
            "zips": len(zips),
            "zip_bytes_median": statistics.median(zips),
            "zip_bytes_total": sum(zips),
            "duration_s": args.duration,
            "repeats": args.repeats,
            "server_core": args.server_core,
            "client_core": args.client_core,
        },
        "answers_without_content_length": chunked,
        "peer_builds": peers.builds(),
        "cells": cells,
        "medians": _medians(cells, connections, names),
    }


def _medians(
    cells: list[dict[str, object]], connections: list[int], names: list[str]
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    fields = ("req_s", "mib_s", "p50_ms", "p99_ms", "cpu_us_per_req", "rss_mib", "other_busy_core0")
    for conns in connections:
        row: dict[str, object] = {"connections": conns}
        for name in names:
            mine = [c for c in cells if c["server"] == name and c["connections"] == conns]
            for field in fields:
                row[f"{name}_{field}"] = statistics.median(float(str(c[field])) for c in mine)
        if "gomodproxy" in names and "nginx" in names:
            row["ratio_req_s"] = float(str(row["gomodproxy_req_s"])) / float(
                str(row["nginx_req_s"])
            )
        if "nginx-front" in names and "nginx" in names:
            row["ratio_req_s_front"] = float(str(row["nginx-front_req_s"])) / float(
                str(row["nginx_req_s"])
            )
        for peer in peers.PEER_NAMES:
            if "gomodproxy" in names and peer in names:
                row[f"ratio_req_s_{peer}"] = float(str(row["gomodproxy_req_s"])) / float(
                    str(row[f"{peer}_req_s"])
                )
        out.append(row)
        print(json.dumps(row))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--duration", type=int, default=5, help="seconds per cell")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--tmp", default="/dev/shm", help="where the copied cache lives")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/warm_mix.json")
    args = parser.parse_args(argv)
    result = _run(args)
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

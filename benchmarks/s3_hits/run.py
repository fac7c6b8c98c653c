"""Cache hits through S3, with and without the local tier, against the filesystem backend.

Three ``gomodproxy serve`` processes answer the same warm cache, the go command's URL mix over
Helm's build list (``tests/projects/helm``: for each module version its ``.info``, ``.mod`` and
``.zip``, as ``scripts/fetch-corpus`` downloaded them):

- ``filesystem``: ``--storage filesystem`` over a copy of the project's ``cache/download``;
- ``s3``: ``--storage s3`` on versitygw (loopback, over a folder), filled by a warm-up pass
  through the proxy itself (upstream: the project's folder as a ``file://`` GOPROXY);
- ``s3+local``: the same bucket with ``--local-cache-mb 1024`` (the warm-up pass fills it).

Each runs with ``--sumdb off`` (no verification on hits anyway), pinned to core 0; versitygw
is not pinned (on a 2-core machine it competes with wrk on core 1: the S3 figures include
the S3 server's own cost, as a local S3 gateway would). wrk: one thread on core 1, cells
interleaved, repeated. Output: requests/s, MiB/s, p50/p99 and the ratio to filesystem.

Run from the repository root: ``.venv/bin/python -m benchmarks.s3_hits.run``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.http_stacks.machine import machine_info
from benchmarks.http_stacks.wrk import run_wrk
from benchmarks.output import write_result
from benchmarks.warm_mix.run import MIX_LUA, url_mix
from tests.realservers import free_port, running_versitygw

REPO = Path(__file__).resolve().parents[2]
DOWNLOAD = REPO / ".cache/corpus/projects/helm/pkg/mod/cache/download"
KINDS = ("filesystem", "s3", "s3+local")


def _serve(
    kind: str, tmp: Path, endpoint: str, env: dict[str, str], core: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    args = ["--listen", f"127.0.0.1:{port}", "--sumdb", "off", "--list-ttl", "3600"]
    if kind == "filesystem":
        args += ["--storage", "filesystem", "--cache-dir", str(tmp / "fs"), "--upstream", "off"]
    else:
        args += [
            "--storage", "s3", "--s3-endpoint", endpoint, "--s3-bucket", "bench",
            "--cache-dir", str(tmp / kind), "--upstream", f"file://{DOWNLOAD}",
        ]  # fmt: skip
        if kind == "s3+local":
            args += ["--local-cache-mb", "1024"]
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), sys.executable, "-m", "gomodproxy", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(tmp / f"{kind}.log", "ab"),  # noqa: SIM115 - lives as long as the server
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(b"gomodproxy: serving "):
        raise RuntimeError(f"{kind} did not start: {line!r}, see {tmp / f'{kind}.log'}")
    return proc, port


def _warm(port: int, paths: Sequence[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for path in paths:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or len(body) != int(resp.headers["Content-Length"]):
                raise RuntimeError(f"{path}: {resp.status}, {len(body)} bytes")
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", default="16")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/s3_hits.json")
    args = parser.parse_args(argv)
    connections = [int(c) for c in args.connections.split(",")]
    cells: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="gomodproxy-s3hits-") as tmp_name:
        tmp = Path(tmp_name)
        shutil.copytree(DOWNLOAD, tmp / "fs", ignore=shutil.ignore_patterns("sumdb", "lock"))
        paths = url_mix(tmp / "fs")
        mix_file = tmp / "mix.txt"
        mix_file.write_text("\n".join(paths) + "\n")
        with running_versitygw(tmp / "s3") as s3:
            s3.make_bucket("bench")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY"))}
            env.update(s3.environ(), HOME=str(tmp / "home"))
            procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
            try:
                for kind in KINDS:
                    procs[kind] = _serve(kind, tmp, s3.endpoint, env, core=0)
                    started = time.monotonic()
                    _warm(procs[kind][1], paths)
                    print(f"{kind}: warmed {len(paths)} URLs in {time.monotonic() - started:.0f} s")
                for repeat in range(args.repeats):
                    for conns in connections:
                        for kind in KINDS:
                            r = run_wrk(
                                f"http://127.0.0.1:{procs[kind][1]}/",
                                connections=conns,
                                duration_s=args.duration,
                                core=1,
                                script=MIX_LUA,
                                script_args=[str(mix_file)],
                            )
                            if r.errors or r.status_errors:
                                raise RuntimeError(
                                    f"{kind}: {r.errors} errors, {r.status_errors} non-2xx"
                                )
                            cell = {
                                "kind": kind, "connections": conns, "repeat": repeat,
                                "req_s": r.requests_per_s, "mib_s": r.mib_per_s,
                                "p50_ms": r.p50_us / 1000, "p99_ms": r.p99_us / 1000,
                            }  # fmt: skip
                            cells.append(cell)
                            print(json.dumps(cell), flush=True)
            finally:
                for proc, _ in procs.values():
                    proc.terminate()
                    proc.wait(30)
    medians: list[dict[str, object]] = []
    for conns in connections:
        row: dict[str, object] = {"connections": conns}
        for kind in KINDS:
            mine = [c for c in cells if c["kind"] == kind and c["connections"] == conns]
            for field in ("req_s", "mib_s", "p50_ms", "p99_ms"):
                row[f"{kind}_{field}"] = statistics.median(float(str(c[field])) for c in mine)
        fs = float(str(row["filesystem_req_s"]))
        row["s3_ratio"] = float(str(row["s3_req_s"])) / fs
        row["s3_local_ratio"] = float(str(row["s3+local_req_s"])) / fs
        medians.append(row)
        print(json.dumps(row))
    write_result(
        args.output,
        {
            "benchmark": "cache hits: filesystem vs S3 vs S3 + local tier, helm URL mix",
            "machine": machine_info(),
            "settings": {"urls": len(paths), "duration_s": args.duration, "repeats": args.repeats},
            "cells": cells,
            "medians": medians,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

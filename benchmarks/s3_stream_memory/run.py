"""Memory of a replica streaming big zips from S3: flat in zip size?

Stores zips of 30, 100 and 300 MiB (random bytes at a version's ``.zip`` key: a hit is served
as stored) in a bucket of versitygw (loopback, over a folder), starts ``gomodproxy serve
--storage s3``, and downloads each zip once, smallest first, reading the body in 64 KiB pieces.
After each download it records the replica's resident set (VmRSS) and its peak (VmHWM) from
/proc. Flat means the peak after the 300 MiB zip is about the peak after the 30 MiB one.

Run from the repository root: ``.venv/bin/python -m benchmarks.s3_stream_memory.run``.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.http_stacks.machine import machine_info
from benchmarks.output import write_result
from tests.realservers import free_port, running_versitygw

from gomodproxy.storage import StorageSettings, open_storage

REPO = Path(__file__).resolve().parents[2]
SIZES_MIB = (30, 100, 300)


def _status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


async def _fill(settings: StorageSettings, tmp: Path) -> dict[int, str]:
    opened = open_storage(settings)
    digests: dict[int, str] = {}
    for mib in SIZES_MIB:
        src = tmp / f"{mib}.zip"
        digest = hashlib.sha256()
        with open(src, "wb") as f:  # noqa: ASYNC230 - a benchmark's set-up
            for _ in range(mib):
                block = os.urandom(1 << 20)
                digest.update(block)
                f.write(block)
        await opened.store.put(f"example.com/big/@v/v1.0.{mib}.zip", src)
        digests[mib] = digest.hexdigest()
    await opened.aclose()
    return digests


def main() -> int:
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="gomodproxy-s3mem-") as tmp_name:
        tmp = Path(tmp_name)
        with running_versitygw(tmp / "s3") as s3:
            s3.make_bucket("bench")
            settings = StorageSettings(
                "s3", tmp / "fill", s3_endpoint=s3.endpoint, s3_bucket="bench",
                environ=s3.environ(),
            )  # fmt: skip
            digests = asyncio.run(_fill(settings, tmp))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY"))}
            env.update(s3.environ(), HOME=str(tmp / "home"))
            port = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gomodproxy",
                    "serve",
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--storage",
                    "s3",
                    "--s3-endpoint",
                    s3.endpoint,
                    "--s3-bucket",
                    "bench",
                    "--cache-dir",
                    str(tmp / "replica"),
                    "--upstream",
                    "off",
                    "--sumdb",
                    "off",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            try:
                assert proc.stdout is not None
                proc.stdout.readline()
                base = _status(proc.pid)
                print(f"idle: {base}")
                for mib in SIZES_MIB:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    started = time.monotonic()
                    conn.request("GET", f"/example.com/big/@v/v1.0.{mib}.zip")
                    resp = conn.getresponse()
                    digest = hashlib.sha256()
                    while piece := resp.read(65536):
                        digest.update(piece)
                    conn.close()
                    elapsed = time.monotonic() - started
                    if resp.status != 200 or digest.hexdigest() != digests[mib]:
                        raise RuntimeError(f"{mib} MiB zip: {resp.status}, wrong bytes")
                    row = {"zip_mib": mib, "seconds": round(elapsed, 2), **_status(proc.pid)}
                    row["mib_s"] = round(mib / elapsed, 1)
                    rows.append(row)
                    print(row, flush=True)
            finally:
                proc.terminate()
                proc.wait(30)
    write_result(
        REPO / "benchmarks/results/s3_stream_memory.json",
        {
            "benchmark": "replica memory streaming big zips from S3 (versitygw, loopback)",
            "machine": machine_info(),
            "idle": base,
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

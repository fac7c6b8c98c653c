"""W2 on the scale-out set-up: ``go mod download all`` through a cold cluster, 1 replica vs 3.

The cluster is the one of ``tests/integration/test_cluster.py`` (``tests/cluster.py``): N
``gomodproxy serve`` replicas with ``--storage s3`` on versitygw and ``--redis-url``, nginx
(``deploy/nginx/gomodproxy.conf``) in front, our checksum database logging the project's sums,
and the project's ``cache/download`` served by an origin that waits ``--delay`` seconds before
every answer (a distant upstream). For each N: a fresh bucket and Redis, then one go command
(fresh module cache, the project's go.mod with an empty go.sum), timed from start to exit, and
the number of upstream requests (one per file when the cluster fetches each file once).

Nothing is pinned: on the 2-core machine these figures come from, three replicas share the same
two cores as one (plus nginx, versitygw, Redis, the origin and the go command), so the figure
to read is the cost of the extra hop and the shared lease, not a speed-up.

Run from the repository root: ``.venv/bin/python -m benchmarks.cluster_cold.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

from benchmarks.http_stacks.machine import machine_info
from benchmarks.output import write_result
from tests.cluster import Cluster
from tests.corpus_data import project
from tests.gotool import go_environ, run_go
from tests.origin import Fault, Origin
from tests.proxykit import running_sumdb
from tests.realservers import running_redis, running_versitygw

from gomodproxy.sumdbserver import sums_from_cache

REPO = Path(__file__).resolve().parents[2]


async def _one(name: str, replicas: int, delay: float, tmp: Path) -> dict[str, object]:
    proj = project(name)
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    with running_versitygw(tmp / "s3") as s3, running_redis(tmp / "redis") as redis:
        bucket = f"w2-{secrets.token_hex(4)}"
        s3.make_bucket(bucket)
        async with running_sumdb(tmp / "sumdb") as db:
            await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
            origin = Origin(proj.download_dir)
            await origin.start()
            origin.inject(Fault(delay=delay))
            cluster = Cluster(tmp, s3, bucket, redis, origin.url, db.gosumdb)
            try:
                await cluster.start(replicas)
                work = tmp / "go" / "work"
                work.mkdir(parents=True)
                (work / "go.mod").write_bytes(proj.go_mod)
                (work / "go.sum").write_text("")
                env = go_environ(tmp / "go", goproxy=cluster.url, gosumdb=db.key.verifier_key)
                started = time.monotonic()
                run = await asyncio.to_thread(
                    run_go, ["mod", "download", "all"], cwd=work, env=env, timeout=1800
                )
                seconds = time.monotonic() - started
                if run.returncode != 0:
                    raise RuntimeError(run.stderr[-2000:])
                return {
                    "replicas": replicas,
                    "seconds": round(seconds, 1),
                    "upstream_requests": len(origin.requests),
                    "zips": len(proj.zips()),
                }
            finally:
                await cluster.stop()
                await origin.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", default="helm")
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--replicas", default="1,3")
    args = parser.parse_args()
    rows = []
    for n in (int(x) for x in args.replicas.split(",")):
        with tempfile.TemporaryDirectory(prefix="gomodproxy-w2c-") as tmp:
            row = asyncio.run(_one(args.project, n, args.delay, Path(tmp)))
        print(row, flush=True)
        rows.append(row)
    write_result(
        REPO / "benchmarks/results/cluster_cold.json",
        {
            "benchmark": "W2 cold through a cluster on S3 + Redis behind nginx, 1 vs 3 replicas",
            "machine": machine_info(),
            "settings": {"project": args.project, "delay_s": args.delay},
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What each request costs in S3 and Redis operations, counted on the servers themselves.

One ``gomodproxy serve`` replica with ``--storage s3`` (versitygw, whose request log counts S3
operations by method) and ``--redis-url`` (Redis ``INFO commandstats`` counts commands), our
checksum database logging Helm's sums and the project's folder as the upstream. For the first
``--modules`` module versions of Helm's build list, in the go command's order (``.info``,
``.mod``, ``.zip``), it counts the operations of: a cold miss of each kind; a hit of each kind
(small files then come from the replica's memory); a hit of each kind after a restart (memory
empty); and with ``--local-cache-mb``, a zip hit once the local tier holds it. Figures are per
request (the total divided by the number of module versions).

Run from the repository root: ``.venv/bin/python -m benchmarks.request_costs.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp
import redis
from benchmarks.output import write_result
from tests.cluster import Cluster
from tests.corpus_data import project
from tests.origin import Origin
from tests.proxykit import running_sumdb
from tests.realservers import S3Server, running_redis, running_versitygw

from gomodproxy.sumdbserver import sums_from_cache

REPO = Path(__file__).resolve().parents[2]
_S3_LINE = re.compile(r"\| vgw \| \d+ \|[^|]*\|[^|]*\| (\w+) \| (\S+)")


def _s3_ops(server: S3Server) -> Counter[str]:
    counts: Counter[str] = Counter()
    for log in server.data.parent.glob("versitygw-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            m = _S3_LINE.search(line)
            if m:
                kind = m.group(1)
                if kind == "GET" and "list-type=2" in m.group(2):
                    kind = "LIST"
                counts[kind] += 1
    return counts


def _redis_ops(url: str) -> Counter[str]:
    stats = redis.Redis.from_url(url).info("commandstats")
    return Counter(
        {
            k.removeprefix("cmdstat_").upper(): int(v["calls"])
            for k, v in stats.items()
            if k not in ("cmdstat_info", "cmdstat_client|setinfo")
        }
    )


async def _run(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    proj = project("helm")
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    zips = [z.relative_to(proj.download_dir).as_posix() for z in proj.zips()][: args.modules]
    stems = [z.removesuffix(".zip") for z in zips]
    n = len(stems)
    scenarios: dict[str, dict[str, float]] = {}
    with running_versitygw(tmp / "s3") as s3, running_redis(tmp / "redis") as rds:
        s3.make_bucket("costs")
        async with running_sumdb(tmp / "sumdb") as db:
            await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
            origin = Origin(proj.download_dir)
            await origin.start()
            extra = ["--local-cache-mb", "512"] if args.local else []
            cluster = Cluster(tmp, s3, "costs", rds, origin.url, db.gosumdb, extra)
            try:
                await cluster.start(1)
                replica = cluster.replicas[0]
                async with aiohttp.ClientSession() as session:

                    async def measure(name: str, suffix: str) -> None:
                        s3_before, redis_before = _s3_ops(s3), _redis_ops(rds.url)
                        for stem in stems:
                            async with session.get(f"{replica.url}/{stem}{suffix}") as resp:
                                assert resp.status == 200, (stem, suffix, resp.status)
                                await resp.read()
                        await asyncio.sleep(0.5)  # versitygw flushes its log line by line
                        s3_delta = _s3_ops(s3) - s3_before
                        redis_delta = _redis_ops(rds.url) - redis_before
                        row = {f"s3_{k}": round(v / n, 2) for k, v in sorted(s3_delta.items())}
                        row |= {
                            f"redis_{k}": round(v / n, 2) for k, v in sorted(redis_delta.items())
                        }
                        scenarios[name] = row
                        print(name, row, flush=True)

                    for kind in (".info", ".mod", ".zip"):
                        await measure(f"miss {kind}", kind)
                    for kind in (".info", ".mod", ".zip"):
                        await measure(f"hit {kind}", kind)
                    await cluster.kill(replica)
                    await cluster.start_replica(replica)
                    for kind in (".info", ".mod", ".zip"):
                        await measure(f"hit after restart {kind}", kind)
                    if args.local:
                        await measure("hit .zip, local tier filled", ".zip")
            finally:
                await cluster.stop()
                await origin.stop()
    return {
        "benchmark": "S3 and Redis operations per request (counted on the servers)",
        "settings": {"modules": n, "local_cache_mb": 512 if args.local else 0},
        "per_request": scenarios,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=20)
    parser.add_argument("--local", action="store_true", help="with a local tier")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gomodproxy-costs-") as tmp:
        result = asyncio.run(_run(args, Path(tmp)))
    name = "request_costs_local.json" if args.local else "request_costs.json"
    write_result(REPO / "benchmarks/results" / name, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

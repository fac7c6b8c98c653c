"""Which Python S3 client should the S3 storage backend use? aiobotocore against obstore.

Starts versitygw (tests/realservers.py; build it with scripts/build-versitygw) over a temporary
folder on 127.0.0.1, then runs each client in a fresh process of its own, one after the other:

- hit latency: sequential GETs of a 1 KiB object (median and p99, ms);
- small-object requests/s with 16 concurrent GETs;
- throughput: one PUT of an N MiB file (multipart) and one streamed GET of it (MiB/s);
- memory: the peak growth of the process's resident set while streaming that GET (MiB,
  sampled at every chunk, from /proc/self/statm).

Usage: .venv/bin/python -m benchmarks.s3_client.bench [--mib 300] [--hits 300]
Writes benchmarks/results/s3-client-<date>.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.realservers import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, running_versitygw

BUCKET = "bench"
CHUNK = 256 << 10


def _rss_mib() -> float:
    """The process's current resident set (not the peak: the PUT before the GET sets that)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / (1 << 20)


async def _run_obstore(endpoint: str, big: Path, hits: int) -> dict[str, float]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=S3_REGION,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key=S3_SECRET_KEY,
        client_options={"allow_http": True},
        virtual_hosted_style_request=False,
    )
    await obstore.put_async(store, "small", b"x" * 1024)
    lat = []
    for _ in range(hits):
        t = time.perf_counter()
        await (await obstore.get_async(store, "small")).bytes_async()
        lat.append(time.perf_counter() - t)

    async def one() -> None:
        await (await obstore.get_async(store, "small")).bytes_async()

    t = time.perf_counter()
    for _ in range(hits // 16):
        await asyncio.gather(*(one() for _ in range(16)))
    rps = (hits // 16) * 16 / (time.perf_counter() - t)
    size = big.stat().st_size  # noqa: ASYNC240 - a benchmark, not the product
    t = time.perf_counter()
    await obstore.put_async(store, "big", big, chunk_size=8 << 20, max_concurrency=4)
    put_s = time.perf_counter() - t
    before = _rss_mib()
    t = time.perf_counter()
    got = 0
    result = await obstore.get_async(store, "big")
    peak = before
    async for chunk in result.stream(min_chunk_size=CHUNK):
        got += len(chunk)
        peak = max(peak, _rss_mib())
    get_s = time.perf_counter() - t
    assert got == size
    return _figures(lat, rps, size, put_s, get_s, peak - before)


async def _run_aiobotocore(endpoint: str, big: Path, hits: int) -> dict[str, float]:
    from aiobotocore.session import get_session
    from botocore.config import Config

    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
    ) as s3:
        await s3.put_object(Bucket=BUCKET, Key="small", Body=b"x" * 1024)
        lat = []
        for _ in range(hits):
            t = time.perf_counter()
            resp = await s3.get_object(Bucket=BUCKET, Key="small")
            async with resp["Body"] as body:
                await body.read()
            lat.append(time.perf_counter() - t)

        async def one() -> None:
            resp = await s3.get_object(Bucket=BUCKET, Key="small")
            async with resp["Body"] as body:
                await body.read()

        t = time.perf_counter()
        for _ in range(hits // 16):
            await asyncio.gather(*(one() for _ in range(16)))
        rps = (hits // 16) * 16 / (time.perf_counter() - t)
        size = big.stat().st_size  # noqa: ASYNC240 - a benchmark, not the product
        part = 8 << 20
        t = time.perf_counter()
        up = await s3.create_multipart_upload(Bucket=BUCKET, Key="big")
        parts = []
        with open(big, "rb") as f:  # noqa: ASYNC230 - a benchmark, not the product
            n = 1
            while data := f.read(part):
                r = await s3.upload_part(
                    Bucket=BUCKET, Key="big", UploadId=up["UploadId"], PartNumber=n, Body=data
                )
                parts.append({"PartNumber": n, "ETag": r["ETag"]})
                n += 1
        await s3.complete_multipart_upload(
            Bucket=BUCKET, Key="big", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
        )
        put_s = time.perf_counter() - t
        before = _rss_mib()
        t = time.perf_counter()
        got = 0
        resp = await s3.get_object(Bucket=BUCKET, Key="big")
        async with resp["Body"] as body:
            peak = before
            async for chunk in body.iter_chunks(CHUNK):
                got += len(chunk)
                peak = max(peak, _rss_mib())
        get_s = time.perf_counter() - t
        assert got == size
        return _figures(lat, rps, size, put_s, get_s, peak - before)


def _figures(
    lat: list[float], rps: float, size: int, put_s: float, get_s: float, rss: float
) -> dict[str, float]:
    lat.sort()
    mib = size / (1 << 20)
    return {
        "hit_median_ms": round(statistics.median(lat) * 1000, 3),
        "hit_p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3),
        "small_get_rps_16": round(rps, 1),
        "put_mib_s": round(mib / put_s, 1),
        "get_mib_s": round(mib / get_s, 1),
        "get_peak_rss_growth_mib": round(rss, 1),
    }


def _child(client: str, endpoint: str, big: str, hits: int) -> None:
    run = _run_obstore if client == "obstore" else _run_aiobotocore
    figures = asyncio.run(run(endpoint, Path(big), hits))
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=300)
    parser.add_argument("--hits", type=int, default=300)
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.child[2], int(args.child[3]))
        return
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        with running_versitygw(Path(tmp) / "s3") as server:
            server.make_bucket(BUCKET)
            for client in ("aiobotocore", "obstore"):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.s3_client.bench",
                        "--child",
                        client,
                        server.endpoint,
                        str(big),
                        str(args.hits),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[client] = json.loads(out.stdout.strip().splitlines()[-1])
    record = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "object_mib": args.mib,
        "hits": args.hits,
        "server": "versitygw v1.8.0 posix, loopback",
        "results": results,
    }
    out_dir = Path(__file__).resolve().parent.parent / "results"
    out_dir.mkdir(exist_ok=True)
    name = f"s3-client-{time.strftime('%Y%m%d-%H%M%S')}.json"
    (out_dir / name).write_text(json.dumps(record, indent=2) + "\n")
    keys = list(next(iter(results.values())))
    print("client".ljust(14) + "".join(k.rjust(26) for k in keys))
    for client, figures in results.items():
        print(client.ljust(14) + "".join(str(figures[k]).rjust(26) for k in keys))
    print(f"written to benchmarks/results/{name}")


if __name__ == "__main__":
    main()

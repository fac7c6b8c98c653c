"""Scale-out, whole: three ``gomodproxy serve`` replicas behind nginx (deploy/nginx/), one cold
S3 bucket (versitygw) and one Redis between them, the go command downloading a real project's
build list through the load balancer.

The project's ``cache/download`` folder (tests/projects/helm, as scripts/fetch-corpus had the go
command download it) is the upstream, served by an origin of ours that records every request;
our checksum database logs the project's sums (checked against its released go.sum in
test_proxy_projects.py). Round robin sends the go command's parallel requests for one module to
different replicas, so a replica often asks for a file another is fetching: the Redis lease
makes it wait and then read the shared bucket. Claims tested:

- every upstream file is fetched exactly once among the replicas (the origin's request log);
- what the go command accepted equals the logged sums, and every zip and go.mod in its module
  cache is byte for byte the one of a direct download (the project's own folder);
- faults: a replica SIGKILLed while streaming a zip (nothing partial in the bucket, a rerun
  completes), Redis stopped mid-run (hits still served, misses still right), the S3 server
  stopped (clear 503s, nothing poisoned, recovery when it returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.sumdbserver import ModuleSums, sums_from_cache
from tests.cluster import Cluster
from tests.corpus_data import Project, project
from tests.gotool import go_environ, run_go
from tests.integration.test_proxy_projects import _assert_all_downloaded
from tests.origin import Fault, Origin
from tests.proxykit import running_sumdb
from tests.realservers import S3Server, running_redis

# Each test runs the go command over Helm's 330 modules two or three times through a cluster of
# processes: minutes on a loaded 2-core machine, more than the suite's default timeout.
pytestmark = [pytest.mark.gocmd, pytest.mark.corpus, pytest.mark.slow, pytest.mark.timeout(1200)]


@contextlib.asynccontextmanager
async def _cluster(
    tmp_path: Path,
    s3_server: S3Server,
    proj: Project,
    replicas: int = 3,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[tuple[Cluster, Origin, dict[tuple[str, str], ModuleSums], str]]:
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    logged = {(s.path, s.version): s for s in sums}
    bucket = f"cluster-{secrets.token_hex(4)}"
    s3_server.make_bucket(bucket)
    with running_redis(tmp_path / "redis") as redis:
        async with running_sumdb(tmp_path / "sumdb") as db:
            await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
            origin = Origin(proj.download_dir)
            await origin.start()
            cluster = Cluster(
                tmp_path, s3_server, bucket, redis, origin.url, db.gosumdb, [*extra_args]
            )
            try:
                await cluster.start(replicas)
                yield cluster, origin, logged, db.key.verifier_key
            finally:
                await cluster.stop()
                await origin.stop()


async def _download_all(
    proj: Project, home: Path, goproxy: str, gosumdb: str, gonosumdb: str = ""
) -> subprocess.CompletedProcess[str]:
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_bytes(proj.go_mod)
    (work / "go.sum").write_text("")
    env = go_environ(home, goproxy=goproxy, gosumdb=gosumdb, gonosumdb=gonosumdb)
    return await asyncio.to_thread(
        run_go, ["mod", "download", "-json", "all"], cwd=work, env=env, timeout=1800
    )


def _same_as_direct_download(home: Path, proj: Project) -> int:
    """Every zip and go.mod in the module cache equals the direct download's file."""
    ours = home / "gopath" / "pkg" / "mod" / "cache" / "download"
    compared = 0
    for path in sorted(ours.glob("**/@v/*")):
        if path.suffix not in (".zip", ".mod"):
            continue
        direct = proj.download_dir / path.relative_to(ours)
        assert path.read_bytes() == direct.read_bytes(), path.relative_to(ours)
        compared += 1
    return compared


def _per_file(origin: Origin) -> Counter[str]:
    return Counter(r.path for r in origin.requests if "/@v/" in r.path)


@pytest.mark.asyncio
async def test_three_replicas_behind_nginx_fetch_every_upstream_file_once(
    tmp_path: Path, s3_server: S3Server
) -> None:
    proj = project("helm")
    async with _cluster(tmp_path, s3_server, proj) as (cluster, origin, logged, key):
        # Two go commands at once on a cold bucket: round robin sends their requests for one
        # file to different replicas at about the same time (each upstream answer takes
        # 50 ms, so the fetches overlap); the Redis lease lets one replica fetch, the other
        # waits and reads the bucket.
        origin.inject(Fault(delay=0.05))
        runs = await asyncio.gather(
            _download_all(proj, tmp_path / "go1", cluster.url, key),
            _download_all(proj, tmp_path / "go2", cluster.url, key),
        )
        for run, home in zip(runs, ("go1", "go2"), strict=True):
            results = _assert_all_downloaded(run, logged)
            assert len(results) == len(proj.zips())
            assert _same_as_direct_download(tmp_path / home, proj) >= len(proj.zips())
        fetched = _per_file(origin)
        twice = {path: n for path, n in fetched.items() if n > 1}
        assert not twice, f"fetched more than once: {sorted(twice.items())[:10]}"
        assert sum(1 for p in fetched if p.endswith(".zip")) == len(proj.zips())
        # A third go command in a fresh module cache: answered wholly from the bucket.
        before = len(origin.requests)
        again = await _download_all(proj, tmp_path / "go3", cluster.url, key)
        _assert_all_downloaded(again, logged)
        assert len(origin.requests) == before


def _url(base: str, rel: str) -> str:
    return f"{base}/{rel}"


@pytest.mark.asyncio
async def test_faults_replica_killed_mid_zip_redis_stopped_s3_stopped(
    tmp_path: Path, s3_server: S3Server
) -> None:
    proj = project("helm")
    biggest = max(proj.zips(), key=lambda p: p.stat().st_size)
    rel = biggest.relative_to(proj.download_dir).as_posix()
    async with (
        _cluster(tmp_path, s3_server, proj) as (cluster, origin, logged, key),
        aiohttp.ClientSession() as session,
    ):
        first = cluster.replicas[0]
        # 1. A replica SIGKILLed while it streams a zip it is fetching (the origin trickles it).
        origin.inject(Fault(trickle=0.05, trickle_chunk=16384, times=1), rel)
        async with session.get(_url(first.url, rel)) as resp:
            assert resp.status == 200
            await resp.content.read(16384)
            await cluster.kill(first)
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        bucket_file = cluster.s3.data / cluster.bucket / "goproxy" / rel
        assert not bucket_file.exists()  # nothing partial in the bucket
        # Another replica takes over once the dead one's lease has expired.
        other = cluster.replicas[1]
        async with session.get(_url(other.url, rel)) as resp:
            assert resp.status == 200
            assert await resp.read() == biggest.read_bytes()
        await cluster.start_replica(first)

        # 2. Redis stopped mid-run. Hits keep being served from the bucket. A miss needs a
        # verification: a replica holding a tree head (committed through Redis earlier) proves
        # it within that head, which every later valid head extends; a replica without one (just
        # restarted) cannot read the shared head and answers a clear 503 rather than trusting
        # the store's copy. Once Redis is back, the miss is fetched and verified there too.
        run = await _download_all(proj, tmp_path / "go1", cluster.url, key)
        _assert_all_downloaded(run, logged)
        missing = next(p for p in proj.zips() if p != biggest)
        missing_rel = missing.relative_to(proj.download_dir).as_posix()
        missing_mod = missing_rel.removesuffix(".zip") + ".mod"
        in_bucket = cluster.s3.data / cluster.bucket / "goproxy"
        (in_bucket / missing_rel).unlink()
        (in_bucket / missing_mod).unlink()
        cluster.redis.stop()
        for path in [p for p in proj.zips() if p != missing][:20]:
            hit = path.relative_to(proj.download_dir).as_posix()
            async with session.get(_url(cluster.url, hit)) as resp:
                assert resp.status == 200
                assert await resp.read() == path.read_bytes()
        fresh = cluster.replicas[2]
        await cluster.kill(fresh)
        await cluster.start_replica(fresh)
        async with session.get(_url(fresh.url, missing_mod)) as resp:
            body = await resp.read()
            assert resp.status == 503, body[:200]
            assert b"Redis is unreachable" in body
        # A zip streams while it is fetched: the failed verification cuts it (zip-verify-first
        # turns that into a 503 before the first byte); either way nothing unverified is kept.
        with contextlib.suppress(aiohttp.ClientPayloadError):
            async with session.get(_url(fresh.url, missing_rel)) as resp:
                assert resp.status != 200 or await resp.read() != missing.read_bytes()
        assert not (in_bucket / missing_rel).exists()
        assert not (in_bucket / missing_mod).exists()
        assert "Redis is unreachable" in fresh.log.read_text()
        cluster.redis.start()
        for rel_path, original in (
            (missing_mod, (proj.download_dir / missing_mod).read_bytes()),
            (missing_rel, missing.read_bytes()),
        ):
            async with session.get(_url(fresh.url, rel_path)) as resp:
                assert resp.status == 200
                assert await resp.read() == original

        # 3. The S3 server stopped: clear 503s, nothing poisoned, recovery when it returns.
        await asyncio.to_thread(cluster.s3.stop)
        try:
            async with session.get(_url(cluster.url, rel)) as resp:
                assert resp.status == 503
                assert "S3 server" in await resp.text()
        finally:
            await asyncio.to_thread(cluster.s3.start)
        third = await _download_all(proj, tmp_path / "go3", cluster.url, key)
        _assert_all_downloaded(third, logged)
        assert _same_as_direct_download(tmp_path / "go3", proj) >= len(proj.zips())


@pytest.mark.asyncio
async def test_zip_redirect_sends_stored_zips_to_presigned_urls_the_go_command_follows(
    tmp_path: Path, s3_server: S3Server
) -> None:
    """``--zip-redirect``: a stored zip is a 302 to a presigned S3 URL; the go command follows
    it and checks the zip against the checksum database as always. A zip not stored yet is
    streamed; a module that must stay behind the proxy (GONOSUMDB here) is never redirected,
    nor is a request that carries credentials."""
    proj = project("helm")
    private = "github.com/spf13"
    args = ["--zip-redirect", "120", "--gonosumdb", f"{private}/*"]
    async with (
        _cluster(tmp_path, s3_server, proj, replicas=1, extra_args=args) as (
            cluster,
            _,
            logged,
            key,
        ),
        aiohttp.ClientSession() as session,
    ):
        # The go command is told the same private pattern (the relay refuses their lookups).
        nosum = f"{private}/*"
        first = await _download_all(proj, tmp_path / "go1", cluster.url, key, nosum)
        _assert_all_downloaded(first, logged)  # every zip a miss: streamed
        second = await _download_all(proj, tmp_path / "go2", cluster.url, key, nosum)
        _assert_all_downloaded(second, logged)
        assert _same_as_direct_download(tmp_path / "go2", proj) >= len(proj.zips())
        log = cluster.replicas[0].log.read_text()
        redirected = [line for line in log.splitlines() if ".zip 302 " in line]
        privates = [
            p for p in proj.zips() if f"/{private}/" in f"/{p.relative_to(proj.download_dir)}"
        ]
        assert privates
        assert len(redirected) == len(proj.zips()) - len(privates)
        assert not any(f"GET /{private}/" in line for line in redirected)
        assert "X-Amz-Signature" not in log  # the signed URL is never logged
        # Followed by hand: the URL is the bucket's, of limited life, and serves the zip.
        some = next(p for p in proj.zips() if p not in privates)
        rel = some.relative_to(proj.download_dir).as_posix()
        async with session.get(_url(cluster.url, rel), allow_redirects=False) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
            assert location.startswith(cluster.s3.endpoint)
            assert "X-Amz-Expires=120" in location
        async with session.get(location) as resp:
            assert resp.status == 200
            assert await resp.read() == some.read_bytes()
        headers = {"Authorization": "Bearer x"}
        async with session.get(
            _url(cluster.url, rel), headers=headers, allow_redirects=False
        ) as resp:
            assert resp.status == 200
            assert await resp.read() == some.read_bytes()

"""The cache commands on an S3 store: ``cache ls|rm|gc|verify|audit`` and ``bundle import``
open the bucket from the same storage settings as ``serve`` (flags, ``GOMODPROXY_*``, the
``--config`` file), against a real S3 server (versitygw) with a real ``gomodproxy serve``
process filling the bucket from a recording origin and our checksum database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import obstore
import pytest
import pytest_asyncio

from gomodproxy.cli.main import main
from gomodproxy.storage.s3 import S3Location, open_s3_store
from tests.integration.test_bundle import _A, _B, _C, _make_bundle
from tests.origin import Origin, running_origin
from tests.proxykit import SumDB, publish, running_sumdb, synth
from tests.realservers import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3Server, running_redis

A1 = synth("example.com/s3/a", "v1.0.0", size=200_000)
A2 = synth("example.com/s3/a", "v1.1.0", size=50_000)
B = synth("example.org/s3/b", "v0.2.0", size=20_000)
ALL = (A1, A2, B)
PREFIX = "goproxy/"
REASON = "CVE-2099-0002: compromised release"


@dataclass
class Bucket:
    s3: S3Server
    name: str
    origin: Origin
    db: SumDB
    url: str
    config: Path
    http: aiohttp.ClientSession

    async def get(self, rel: str) -> tuple[int, str]:
        async with self.http.get(f"{self.url}/{rel}") as resp:
            return resp.status, (await resp.read()).decode("utf-8", "replace")

    def stored(self, rel: str) -> Path:
        """The object's file in versitygw's folder (one folder per bucket)."""
        return self.s3.data / self.name / PREFIX / rel


def _environ(root: Path, s3: S3Server) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_", "AWS"))}
    env |= {"HOME": str(root), "PYTHONUNBUFFERED": "1"}
    env |= {"AWS_CONFIG_FILE": str(root / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(root / "no")}
    return env | s3.environ()


@contextlib.asynccontextmanager
async def _serve(
    root: Path, s3: S3Server, config: Path, origin: Origin, db: SumDB
) -> AsyncIterator[str]:
    log = await asyncio.to_thread(open, root / "serve.log", "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gomodproxy", "serve", "--listen=127.0.0.1:0",
            f"--config={config}", f"--cache-dir={root / 'serve'}", f"--upstream={origin.url}",
            f"--sumdb={db.gosumdb}", "--list-ttl=0", "--retries=0",
            env=_environ(root, s3), stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
    finally:
        await asyncio.to_thread(log.close)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"gomodproxy: serving "), line
        yield line.split()[-1].decode()
    finally:
        proc.kill()
        await proc.wait()


@pytest.fixture
def s3_env(tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The test's environment holds the S3 credentials (the standard AWS variables) and
    nothing else of gomodproxy's or AWS's."""
    for key in [k for k in os.environ if k.startswith(("GOMODPROXY_", "AWS"))]:
        monkeypatch.delenv(key)
    for key, value in s3_server.environ().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    return s3_server


@pytest_asyncio.fixture
async def bucket(tmp_path: Path, s3_env: S3Server) -> AsyncIterator[Bucket]:
    """A bucket filled with every file of ALL through a ``serve`` process on S3 with a Redis of
    its own; ``config`` is the settings file naming both, as ``serve`` and the commands read it."""
    s3_server = s3_env
    name = f"cache-{secrets.token_hex(4)}"
    s3_server.make_bucket(name)
    with contextlib.ExitStack() as stack:
        redis = await asyncio.to_thread(stack.enter_context, running_redis(tmp_path / "redis"))
        config = tmp_path / "gomodproxy.toml"
        config.write_text(
            f'storage = "s3"\ns3-endpoint = "{s3_server.endpoint}"\ns3-bucket = "{name}"\n'
            f's3-prefix = "{PREFIX}"\ncache-dir = "{tmp_path / "admin"}"\n'
            f'redis-url = "{redis.url}"\n'
        )
        try:
            async for world in _filled(tmp_path, s3_server, name, config):
                yield world
        finally:
            await asyncio.to_thread(stack.close)


async def _filled(
    tmp_path: Path, s3_server: S3Server, name: str, config: Path
) -> AsyncIterator[Bucket]:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", ALL) as db,
        _serve(tmp_path, s3_server, config, origin, db) as url,
        aiohttp.ClientSession() as http,
    ):
        publish(origin, *ALL)
        world = Bucket(s3_server, name, origin, db, url, config, http)
        for m in ALL:
            for ext in ("info", "mod", "zip"):
                status, body = await world.get(m.rel(ext))
                assert status == 200, (m.rel(ext), body)
        yield world


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _flags(b: Bucket) -> list[str]:
    """The bucket as flags (the other tests name it through the settings file)."""
    return [
        "--storage", "s3", "--s3-endpoint", b.s3.endpoint, "--s3-bucket", b.name,
        "--s3-prefix", PREFIX, "--cache-dir", str(b.config.parent / "admin"),
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_ls_and_gc_dry_run_read_the_bucket(
    bucket: Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await _cli(capsys, "cache", "ls", "--json", *_flags(bucket))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["cache_dir"] == f"s3://{bucket.name}/{PREFIX}"
    held = {(v["path"], v["version"]): v for v in doc["versions"]}
    assert set(held) == {(m.path, m.version) for m in ALL}
    for m in ALL:
        assert held[(m.path, m.version)]["files"]["zip"]["size"] == len(m.zip)
    # The same through the settings file, with a pattern.
    code, out, _ = await _cli(
        capsys, "cache", "ls", "--json", "--config", str(bucket.config), "example.com/s3/a"
    )
    assert code == 0
    assert {v["version"] for v in json.loads(out)["versions"]} == {"v1.0.0", "v1.1.0"}

    # A size limit below what is held: the dry run names versions and deletes nothing.
    limit = doc["total_size"] - 1
    code, out, err = await _cli(
        capsys, "cache", "gc", "--dry-run", "--json", "--cache-max-size", str(limit),
        "--config", str(bucket.config),
    )  # fmt: skip
    assert code == 0, err
    gc = json.loads(out)
    assert gc["dry_run"] is True
    assert gc["held"] == doc["total_size"]
    assert gc["evicted"]
    assert gc["freed"] > 0
    assert gc["left"] <= limit
    for m in ALL:
        for ext in ("info", "mod", "zip"):
            assert bucket.stored(m.rel(ext)).is_file()


@pytest.mark.asyncio
async def test_rm_denies_the_version_in_a_running_serve_on_the_bucket(
    bucket: Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await _cli(
        capsys, "cache", "rm", f"{A2.path}@{A2.version}", "--reason", REASON, "--json",
        "--config", str(bucket.config),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(json.loads(out)["removed"]) == sorted(A2.rel(e) for e in ("info", "mod", "zip"))
    for ext in ("info", "mod", "zip"):
        assert not bucket.stored(A2.rel(ext)).exists()
    fetched = bucket.origin.count(A2.rel("zip"))
    # The serve process on the bucket (never restarted) refuses it with the reason.
    for ext in ("zip", "mod", "info"):
        status, body = await bucket.get(A2.rel(ext))
        assert status == 403, (ext, body)
        assert REASON in body
    assert bucket.origin.count(A2.rel("zip")) == fetched
    assert await bucket.get(A1.list_rel) == (200, "v1.0.0\n")
    code, out, _ = await _cli(capsys, "cache", "audit", "--json", *_flags(bucket))
    assert code == 0
    [entry] = json.loads(out)["entries"]
    assert (entry["target"], entry["reason"]) == (f"{A2.path}@{A2.version}", REASON)


@pytest.mark.asyncio
async def test_verify_quarantines_an_object_damaged_in_the_bucket(
    bucket: Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    # Bit rot: one byte of the stored zip flipped by a direct PUT, its metadata kept.
    client = open_s3_store(
        S3Location(bucket=bucket.name, endpoint=bucket.s3.endpoint, region=S3_REGION),
        {"access_key_id": S3_ACCESS_KEY, "secret_access_key": S3_SECRET_KEY},
    )
    key = PREFIX + A1.rel("zip")
    result = await obstore.get_async(client, key)
    data = bytearray(await result.bytes_async())
    data[len(data) // 2] ^= 0x01
    await obstore.put_async(client, key, bytes(data), attributes=result.attributes)

    code, out, err = await _cli(capsys, "cache", "verify", "--json", *_flags(bucket))
    assert code == 1, err
    report = json.loads(out)
    assert report["checked"] >= 3 * len(ALL)
    [failure] = report["failures"]
    assert failure["key"] == A1.rel("zip")
    assert failure["quarantined"] is True
    assert not bucket.stored(A1.rel("zip")).exists()
    # The proxy fetches it again, whole, and the bucket verifies clean.
    assert bucket.origin.count(A1.rel("zip")) == 1
    status, _ = await bucket.get(A1.rel("zip"))
    assert status == 200
    assert bucket.stored(A1.rel("zip")).read_bytes() == A1.zip
    assert bucket.origin.count(A1.rel("zip")) == 2
    code, out, _ = await _cli(capsys, "cache", "verify", "--config", str(bucket.config))
    assert code == 0, out


@pytest.mark.asyncio
async def test_bundle_import_fills_a_bucket(
    tmp_path: Path, s3_env: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "mods.bundle"
    db, _, _ = await _make_bundle(tmp_path, bundle)
    name = f"import-{secrets.token_hex(4)}"
    s3_env.make_bucket(name)
    flags = [
        "--storage", "s3", "--s3-endpoint", s3_env.endpoint, "--s3-bucket", name,
        "--s3-prefix", PREFIX, "--cache-dir", str(tmp_path / "admin"),
    ]  # fmt: skip
    code, _, err = await _cli(
        capsys, "bundle", "import", str(bundle), "--verifier-key", db.key.verifier_key, *flags
    )
    assert code == 0, err
    assert f"added to s3://{name}/{PREFIX}" in err
    in_bucket = s3_env.data / name / PREFIX
    assert (in_bucket / "sumdb" / db.name / "latest").is_file()
    assert (in_bucket / _B.rel("zip")).read_bytes() == _B.zip
    assert (in_bucket / _C.rel("mod")).read_bytes() == _C.mod
    code, out, _ = await _cli(capsys, "cache", "ls", "--json", *flags)
    assert code == 0
    listed = {(v["path"], v["version"]) for v in json.loads(out)["versions"]}
    assert {(_A.path, _A.version), (_B.path, _B.version)} <= listed

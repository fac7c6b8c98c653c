"""Size and age limits: ``cache gc`` and the server's background eviction, on a cache filled by
the real proxy from a local origin.

Last use comes from the proxy's own access records (a hit writes one) and fetch times; pins
from go.mod/go.sum files; an evicted version is fetched again on the next request (eviction is
not denial); a client reading a file keeps reading it whole while it is evicted.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.cache.access import access_key
from gomodproxy.cache.eviction import EvictionPolicy, collect_garbage
from gomodproxy.cli.main import main
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.storage import FileLocks, FilesystemStorage, OpenedStorage
from tests.origin import Origin, running_origin
from tests.proxykit import (
    RunningProxy,
    SumDB,
    SynthModule,
    publish,
    running_proxy,
    running_sumdb,
    synth,
)

A = synth("example.com/a", "v1.0.0", size=20_000)
B = synth("example.com/b", "v1.0.0", size=20_000)
C = synth("example.com/c", "v1.0.0", size=20_000)
ALL = (A, B, C)


def _size(*modules: SynthModule) -> int:
    return sum(len(m.info) + len(m.mod) + len(m.zip) for m in modules)


@dataclass
class Filled:
    origin: Origin
    db: SumDB
    proxy: RunningProxy
    cache: Path
    http: aiohttp.ClientSession

    async def get(self, rel: str, proxy: RunningProxy | None = None) -> tuple[int, bytes]:
        async with self.http.get(f"{(proxy or self.proxy).url}/{rel}") as resp:
            return resp.status, await resp.read()

    def held(self) -> list[str]:
        return sorted(m.path for m in ALL if (self.cache / m.rel("zip")).exists())


async def _wait_for(path: Path) -> None:
    for _ in range(600):
        if await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{path} never appeared")


@pytest_asyncio.fixture
async def filled(tmp_path: Path) -> AsyncIterator[Filled]:
    """A, B, C fetched through the proxy in that order; then A asked for again (a hit)."""
    cache = tmp_path / "cache"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", ALL) as db,
        running_proxy(cache, upstream=origin.url, sumdb=db) as proxy,
        aiohttp.ClientSession() as http,
    ):
        publish(origin, *ALL)
        world = Filled(origin, db, proxy, cache, http)
        for m in ALL:
            for ext in ("info", "mod", "zip"):
                assert (await world.get(m.rel(ext)))[0] == 200
        # Fetches are misses (their time is the fetch time); A's hit is the newest use.
        record = cache / access_key(A.path, A.version)
        assert not await asyncio.to_thread(record.exists)
        assert (await world.get(A.rel("info")))[0] == 200
        await _wait_for(record)
        yield world


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.asyncio
async def test_gc_evicts_least_recently_used_first_down_to_the_size(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = str(_size(A, C) + 100)
    where = ("--cache-dir", str(filled.cache))
    code, out, _ = await _cli(
        capsys, "cache", "gc", "--cache-max-size", limit, "--dry-run", "--json", *where
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["dry_run"] is True
    assert [(e["path"], e["reason"]) for e in doc["evicted"]] == [("example.com/b", "size")]
    assert doc["held"] >= _size(*ALL)
    assert filled.held() == ["example.com/a", "example.com/b", "example.com/c"]  # dry run

    code, out, _ = await _cli(capsys, "cache", "gc", "--cache-max-size", limit, *where)
    assert code == 0
    assert out.startswith("evicted example.com/b v1.0.0\t")
    assert out.splitlines()[-1].startswith("3 versions (0 pinned), ")
    assert filled.held() == ["example.com/a", "example.com/c"]
    for ext in ("info", "mod", "zip"):
        assert not (filled.cache / B.rel(ext)).exists()
    # Not denied: the next request fetches it again.
    assert await filled.get(B.rel("zip")) == (200, B.zip)
    assert filled.origin.count(B.rel("zip")) == 2


@pytest.mark.asyncio
async def test_gc_by_age_keeps_the_pinned_versions(
    filled: Filled, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gosum = tmp_path / "go.sum"
    gosum.write_text(f"{A.path} {A.version} {A.zip_h1}\n{A.path} {A.version}/go.mod {A.mod_h1}\n")
    gomod = tmp_path / "go.mod"
    gomod.write_text(f"module example.com/app\n\ngo 1.21\n\nrequire {C.path} {C.version}\n")
    argv = ("cache", "gc", "--cache-max-age", "1s", "--json", "--cache-dir", str(filled.cache))
    await asyncio.sleep(1.1)  # every use is over a second old now
    code, out, _ = await _cli(capsys, *argv, "--keep", str(gosum), "--keep", str(gomod))
    assert code == 0
    doc = json.loads(out)
    assert [(e["path"], e["reason"]) for e in doc["evicted"]] == [("example.com/b", "age")]
    assert doc["pinned"] == 2
    assert filled.held() == ["example.com/a", "example.com/c"]
    code, out, _ = await _cli(capsys, *argv)
    assert code == 0
    assert [e["path"] for e in json.loads(out)["evicted"]] == ["example.com/c", "example.com/a"]
    assert filled.held() == []


@pytest.mark.asyncio
async def test_gc_needs_a_limit(filled: Filled, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await _cli(capsys, "cache", "gc", "--cache-dir", str(filled.cache))
    assert code == 1
    assert err.startswith("gomodproxy: cache gc needs a limit: give --cache-max-size or")
    code, _, err = await _cli(
        capsys, "cache", "gc", "--cache-max-size", "lots", "--cache-dir", str(filled.cache)
    )
    assert code == 1
    assert err.startswith("gomodproxy: invalid size 'lots'")
    assert filled.held() == ["example.com/a", "example.com/b", "example.com/c"]


@pytest.mark.asyncio
async def test_the_server_applies_the_limits_in_the_background(filled: Filled) -> None:
    """A second proxy over the same cache, started with a size limit, brings it under the
    limit on its own (least recently used first) and keeps serving."""
    limit = str(_size(A) + 100)
    async with running_proxy(
        filled.cache, upstream=filled.origin.url, sumdb=filled.db, cache_max_size=limit
    ) as limited:
        for _ in range(600):
            if filled.held() == ["example.com/a"]:
                break
            await asyncio.sleep(0.05)
        assert filled.held() == ["example.com/a"]
        assert await filled.get(A.rel("zip"), limited) == (200, A.zip)


@pytest.mark.asyncio
async def test_eviction_never_cuts_a_reader_holding_the_file(tmp_path: Path) -> None:
    """The filesystem backend unlinks: a reader that opened the zip before the eviction reads
    it whole afterwards, checked against its recorded hash."""
    store = FilesystemStorage(tmp_path / "cache")
    opened = OpenedStorage(store, FileLocks(store.locks_dir))
    big = synth("example.com/big", "v1.0.0", size=3_000_000)
    for ext in ("info", "mod", "zip"):
        await store.put(big.rel(ext), getattr(big, ext))
    path = tmp_path / "cache" / big.rel("zip")
    async with store.open(big.rel("zip")) as reader:
        chunks = reader.chunks(65536)
        first = await anext(chunks)
        report = await collect_garbage(opened, EvictionPolicy(max_bytes=0))
        assert [e.version.path for e in report.evicted] == ["example.com/big"]
        assert not path.exists()
        rest = [chunk async for chunk in chunks]
    data = first + b"".join(rest)
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(big.zip).hexdigest()
    assert await store.list("") == []


@pytest.mark.asyncio
async def test_a_download_in_progress_survives_the_eviction_of_its_zip(filled: Filled) -> None:
    """Through the proxy: a client has read the start of a 32 MiB zip (far more than the
    socket buffers hold) when the zip is evicted; it still receives every byte."""
    huge = synth("example.com/huge", "v1.0.0", size=32 << 20)
    data = await asyncio.to_thread(lambda: huge.zip)  # built once: it is slow to build
    h1 = await asyncio.to_thread(hash_zip, io.BytesIO(data))
    record = f"{huge.path} {huge.version} {h1}\n{huge.path} {huge.version}/go.mod {huge.mod_h1}\n"
    await asyncio.to_thread(filled.db.store.append, [record.encode()])
    for ext, body in (("info", huge.info), ("mod", huge.mod), ("zip", data)):
        filled.origin.serve_file(huge.rel(ext), body)
    assert await filled.get(huge.rel("zip")) == (200, data)  # fetched and stored
    store = filled.proxy.storage
    opened = OpenedStorage(store, FileLocks(store.locks_dir))
    stored = filled.cache / huge.rel("zip")
    async with filled.http.get(f"{filled.proxy.url}/{huge.rel('zip')}") as resp:
        assert resp.status == 200
        first = await resp.content.readexactly(1 << 16)
        report = await collect_garbage(opened, EvictionPolicy(max_bytes=0))
        assert "example.com/huge" in [e.version.path for e in report.evicted]
        assert not await asyncio.to_thread(stored.exists)
        async with asyncio.timeout(60):  # a cut body would leave the client waiting
            rest = await resp.content.read()
    assert hashlib.sha256(first + rest).hexdigest() == hashlib.sha256(data).hexdigest()

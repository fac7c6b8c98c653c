"""Cache hits answered with headers built once per body (``server.prebuilt``): HEAD, ETag and
304 stay right on the second and later hits, a changed body gets a new ETag, and a version
removed by ``cache rm`` is refused even though its answer was built and held in memory."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from gomodproxy.cli.main import main
from tests.origin import Origin, running_origin
from tests.proxykit import RunningProxy, publish, running_proxy, running_sumdb, synth

A1 = synth("example.com/pre", "v1.0.0")
A2 = synth("example.com/pre", "v1.1.0")
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class World:
    origin: Origin
    proxy: RunningProxy
    cache: Path
    http: aiohttp.ClientSession

    async def get(
        self, rel: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, CIMultiDict[str]]:
        async with self.http.request(
            method, f"{self.proxy.url}/{rel}", headers=headers or {}
        ) as resp:
            return resp.status, await resp.read(), CIMultiDict(resp.headers)


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    cache = tmp_path / "cache"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [A1, A2]) as db,
        running_proxy(cache, upstream=origin.url, sumdb=db) as proxy,
        aiohttp.ClientSession(auto_decompress=False) as http,
    ):
        publish(origin, A1)
        yield World(origin, proxy, cache, http)


@pytest.mark.asyncio
@pytest.mark.parametrize("ext", ["info", "mod"])
async def test_repeated_hits_keep_etag_head_and_304(world: World, ext: str) -> None:
    body = A1.info if ext == "info" else A1.mod
    etag = f'"sha256-{hashlib.sha256(body).hexdigest()}"'
    for _ in range(3):  # the miss, then hits answered from the built headers
        status, got, headers = await world.get(A1.rel(ext))
        assert (status, got) == (200, body)
        assert headers["ETag"] == etag
        assert headers["Cache-Control"] == IMMUTABLE
        assert headers["Content-Length"] == str(len(body))
    status, got, headers = await world.get(A1.rel(ext), method="HEAD")
    assert (status, got, headers["ETag"]) == (200, b"", etag)
    assert headers["Content-Length"] == str(len(body))
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, got, headers = await world.get(A1.rel(ext), headers={"If-None-Match": tag})
        assert (status, got) == (304, b""), tag
        assert headers["ETag"] == etag
        assert headers["Cache-Control"] == IMMUTABLE
        assert "Content-Type" not in headers
    status, got, _ = await world.get(A1.rel(ext), headers={"If-None-Match": '"sha256-00"'})
    assert (status, got) == (200, body)
    assert world.origin.count(A1.rel(ext)) == 1


@pytest.mark.asyncio
async def test_a_changed_list_gets_a_new_etag(world: World) -> None:
    """The same target answered with another body: the headers built for the old body are not
    reused (the list's ETag follows its bytes)."""
    status, first, headers = await world.get(A1.list_rel)
    assert (status, first) == (200, b"v1.0.0\n")
    old = headers["ETag"]
    assert old == f'"sha256-{hashlib.sha256(first).hexdigest()}"'
    publish(world.origin, A2)
    status, second, headers = await world.get(A1.list_rel)
    assert status == 200
    assert b"v1.1.0\n" in second
    assert headers["ETag"] == f'"sha256-{hashlib.sha256(second).hexdigest()}"' != old
    status, _, _ = await world.get(A1.list_rel, headers={"If-None-Match": old})
    assert status == 200


@pytest.mark.asyncio
async def test_a_removed_version_is_not_answered_from_built_headers(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        for ext in ("info", "mod"):
            assert (await world.get(A1.rel(ext)))[0] == 200
    argv = ["cache", "rm", "example.com/pre@v1.0.0", "--reason", "withdrawn"]
    code = await asyncio.to_thread(main, [*argv, "--cache-dir", str(world.cache)])
    assert code == 0, capsys.readouterr()
    statuses: tuple[int, int] = (200, 200)
    for _ in range(300):  # the proxy's deny list follows the cache every 2 s
        info = await world.get(A1.rel("info"))
        mod = await world.get(A1.rel("mod"))
        statuses = (info[0], mod[0])
        if statuses == (403, 403):
            assert b"withdrawn" in info[1]
            assert b"withdrawn" in mod[1]
            break
        assert info[1] == A1.info  # until then, the right bytes
        await asyncio.sleep(0.02)
    assert statuses == (403, 403)
    status, _, _ = await world.get(A1.rel("info"), method="HEAD")
    assert status == 403
    assert world.origin.count(A1.rel("info")) == 1


@pytest.mark.asyncio
async def test_a_small_stored_zip_goes_out_whole_with_head_range_and_304(world: World) -> None:
    """A stored zip small enough to go out as one answer keeps Range, HEAD and 304."""
    size = len(A1.zip)
    status, got, headers = await world.get(A1.rel("zip"))  # the miss, streamed
    assert (status, got) == (200, A1.zip)
    for _ in range(2):  # stored hits
        status, got, headers = await world.get(A1.rel("zip"))
        assert (status, got) == (200, A1.zip)
        assert headers["Content-Length"] == str(size)
        assert headers["Accept-Ranges"] == "bytes"
    etag = headers["ETag"]
    status, got, headers = await world.get(A1.rel("zip"), method="HEAD")
    assert (status, got, headers["Content-Length"], headers["ETag"]) == (200, b"", str(size), etag)
    status, got, _ = await world.get(A1.rel("zip"), headers={"If-None-Match": etag})
    assert (status, got) == (304, b"")
    status, got, headers = await world.get(A1.rel("zip"), headers={"Range": "bytes=1-10"})
    assert (status, got) == (206, A1.zip[1:11])
    assert headers["Content-Range"] == f"bytes 1-10/{size}"
    assert world.origin.count(A1.rel("zip")) == 1

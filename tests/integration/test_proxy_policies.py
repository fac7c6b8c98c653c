"""GOSUMDB=off, GOPRIVATE and GONOSUMDB as the proxy applies them (fault catalogue G, INV-5).

The real proxy app over a recording origin and our checksum database, on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from tests.origin import Origin, running_origin
from tests.proxykit import RunningProxy, SumDB, publish, running_proxy, running_sumdb, synth

LOGGED = synth("example.com/logged", "v1.0.0")
UNLOGGED = synth("example.com/unlogged", "v1.0.0")
PRIVATE = synth("corp.example/secret", "v0.1.0")


@dataclass
class World:
    origin: Origin
    db: SumDB
    tmp: Path
    http: aiohttp.ClientSession

    async def get(self, proxy: RunningProxy, raw: str) -> tuple[int, str]:
        async with self.http.get(URL(proxy.url + raw, encoded=True)) as resp:
            return resp.status, (await resp.read()).decode("utf-8", "replace")


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [LOGGED]) as db,
        aiohttp.ClientSession() as http,
    ):
        publish(origin, LOGGED, UNLOGGED, PRIVATE)
        yield World(origin, db, tmp_path, http)


@pytest.mark.asyncio
async def test_g_gosumdb_off_serves_unlogged_modules_without_asking_any_database(
    world: World,
) -> None:
    async with running_proxy(
        world.tmp / "off", upstream=world.origin.url, sumdb=world.db, sumdb_off=True
    ) as proxy:
        assert await world.get(proxy, "/" + UNLOGGED.rel("zip")) == (200, _text(UNLOGGED.zip))
        # No relay either: the database is not configured.
        status, _ = await world.get(proxy, f"/sumdb/{world.db.name}/supported")
        assert status == 404
    assert world.db.stats.lookups == 0
    assert proxy.metrics.verifications.value("zip", "ok") == 0


@pytest.mark.asyncio
async def test_g_an_unlogged_module_is_refused_when_the_database_is_on(world: World) -> None:
    async with running_proxy(world.tmp / "on", upstream=world.origin.url, sumdb=world.db) as proxy:
        status, body = await world.get(proxy, "/" + UNLOGGED.rel("mod"))
        # Not a not-found (a client must not fall through to a source that skips the check).
        assert status == 502, body
        assert "no entry in checksum database for example.com/unlogged@v1.0.0" in body
        assert await world.get(proxy, "/" + LOGGED.rel("mod")) == (200, LOGGED.mod.decode())
        assert not await proxy.storage.exists(UNLOGGED.rel("mod"))


@pytest.mark.asyncio
async def test_inv5_goprivate_modules_never_reach_an_upstream_proxy_nor_the_database(
    world: World,
) -> None:
    async with running_proxy(
        world.tmp / "private", upstream=world.origin.url, sumdb=world.db, goprivate="corp.example"
    ) as proxy:
        status, body = await world.get(proxy, "/" + PRIVATE.rel("info"))
        assert status == 404, body
        status, body = await world.get(
            proxy, f"/sumdb/{world.db.name}/lookup/corp.example/secret@v0.1.0"
        )
        assert status == 403, body
        assert await world.get(proxy, "/" + LOGGED.rel("mod")) == (200, LOGGED.mod.decode())
    assert not [r for r in world.origin.requests if "corp.example" in r.path]
    assert "corp.example/secret@v0.1.0" not in world.db.stats.lookups_by_module


@pytest.mark.asyncio
async def test_g_gonosumdb_modules_are_fetched_but_never_looked_up(world: World) -> None:
    async with running_proxy(
        world.tmp / "nosum", upstream=world.origin.url, sumdb=world.db, gonosumdb="corp.example"
    ) as proxy:
        assert await world.get(proxy, "/" + PRIVATE.rel("zip")) == (200, _text(PRIVATE.zip))
    assert world.origin.count(PRIVATE.rel("zip")) == 1
    assert "corp.example/secret@v0.1.0" not in world.db.stats.lookups_by_module


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@pytest.mark.asyncio
async def test_inv5_the_status_page_shows_counts_and_no_module_path(world: World) -> None:
    async with running_proxy(
        world.tmp / "status", upstream=world.origin.url, sumdb=world.db, goprivate="corp.example"
    ) as proxy:
        assert (await world.get(proxy, "/" + LOGGED.rel("mod")))[0] == 200
        assert (await world.get(proxy, "/" + PRIVATE.rel("info")))[0] == 404
        status, page = await world.get(proxy, "/status")
    assert status == 200
    assert "<h1>gomodproxy status</h1>" in page
    assert f"<td>checksum database</td><td>{world.db.name}</td>" in page
    assert "<td>mod</td><td>0</td><td>1</td><td>0.0%</td>" in page  # one miss, fetched
    # Counts only: neither the private module nor the public one is named.
    assert "corp.example" not in page
    assert "example.com/logged" not in page

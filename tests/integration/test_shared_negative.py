"""Replicas share their not-found answers through Redis (fault catalogue B14 across hosts).

Two module services, as two replicas are, over one store and one Redis (each its own Redis
client, its own in-process memory): a path one of them found missing upstream is answered as
missing by the other without asking upstream again, for the negative TTL. The shared side is
best effort: with Redis stopped, a replica asks upstream itself and still answers right.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.cache import ChecksumPolicy, ModuleService, ServiceOptions
from gomodproxy.errors import ModuleNotFound
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.storage import OpenedStorage, StorageSettings, open_storage
from gomodproxy.upstream.chain import build_chain
from gomodproxy.upstream.proxyclient import FetchPolicy
from tests.origin import Origin, running_origin
from tests.proxykit import publish, running_sumdb, synth
from tests.realservers import RedisServer, running_redis

M = synth("example.com/shared", "v1.0.0")
MISSING = "v1.9.9"


@contextlib.asynccontextmanager
async def _replicas(
    tmp_path: Path,
) -> AsyncIterator[tuple[list[ModuleService], Origin, RedisServer]]:
    with running_redis(tmp_path / "redis") as redis:
        async with (
            running_origin() as origin,
            running_sumdb(tmp_path / "sumdb", [M]) as db,
            aiohttp.ClientSession() as session,
        ):
            publish(origin, M)
            settings = StorageSettings("filesystem", tmp_path / "cache", redis_url=redis.url)
            opened: list[OpenedStorage] = []
            services: list[ModuleService] = []
            for _ in range(3):
                storage = await asyncio.to_thread(open_storage, settings)
                opened.append(storage)
                chain = build_chain(
                    parse_goproxy(origin.url), session=session, policy=FetchPolicy()
                )
                services.append(
                    ModuleService(
                        storage.store,
                        chain,
                        checksums=ChecksumPolicy(db.verifier(session)),
                        locks=storage.locks,
                        shared_values=storage.expiring,
                        options=ServiceOptions(negative_ttl=60.0),
                    )
                )
            try:
                yield services, origin, redis
            finally:
                for service in services:
                    await service.close()
                for storage in opened:
                    await storage.aclose()


@pytest.mark.asyncio
async def test_b14_a_not_found_seen_by_one_replica_is_not_fetched_by_another(
    tmp_path: Path,
) -> None:
    async with _replicas(tmp_path) as ([first, second, third], origin, redis):
        for kind in ("info", "mod", "zip"):
            rel = M.rel(kind).replace(M.version, MISSING)
            with pytest.raises(ModuleNotFound):
                await _ask(first, kind)
            asked = origin.count(rel)
            assert asked >= 1
            with pytest.raises(ModuleNotFound):
                await _ask(second, kind)
            assert origin.count(rel) == asked  # answered from the shared memory
        # Redis stopped: the third replica asks upstream itself, and still answers right.
        redis.stop()
        rel = M.rel("mod").replace(M.version, MISSING)
        before = origin.count(rel)
        with pytest.raises(ModuleNotFound):
            await _ask(third, "mod")
        assert origin.count(rel) == before + 1
        assert await third.mod(M.path, M.version) == M.mod  # found paths unaffected


async def _ask(service: ModuleService, kind: str) -> None:
    if kind == "info":
        await service.info(M.path, MISSING)
    elif kind == "mod":
        await service.mod(M.path, MISSING)
    else:
        async with service.open_zip(M.path, MISSING) as source:
            del source

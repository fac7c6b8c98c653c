"""Checksum-database prefetch through the relay (issue 15, section 1): lookups and tiles.

Our checksum database runs on 127.0.0.1 and records every path asked of it, in order
(``SumDB.requests``); its log holds a graph of synthetic modules (``app`` requires ``b`` and
``c``, ``b`` requires ``d``, ``d`` requires ``e``) spread among filler records, so proving a
record takes full and partial tiles on two levels. The go command reaches the database through
the proxy's ``/sumdb/`` path (GOSUMDB names it by key only).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.errors import ModuleNotFound
from gomodproxy.server.app import SERVICE_KEY, SUMDB_PREFETCH_KEY
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.storage import MemoryStorage
from gomodproxy.sumdb.fetch import SumDBHTTPFetcher
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher
from tests.gotool import go_environ, run_go
from tests.origin import Origin, running_origin
from tests.proxykit import RunningProxy, SumDB, SynthModule, publish, running_proxy, running_sumdb

pytestmark = pytest.mark.asyncio


def _module(path: str, *requires: SynthModule) -> SynthModule:
    """A module at ``go 1.16`` (unpruned: the go command reads its requirements' go.mod)."""
    lines = "".join(f"\t{r.path} {r.version}\n" for r in requires)
    block = f"\nrequire (\n{lines})\n" if requires else ""
    files = {"go.mod": f"module {path}\n\ngo 1.16\n{block}".encode(), "m.go": b"package m\n"}
    return SynthModule(path, "v1.0.0", files)


E = _module("example.com/e")
D = _module("example.com/d", E)
B = _module("example.com/b", D)
C = _module("example.com/c")
APP = _module("example.com/app", B, C)
GRAPH = (APP, B, C, D, E)


def _filler(start: int, count: int) -> list[bytes]:
    """Record texts of modules nobody asks for, to give the log several tiles."""

    def h1(seed: str) -> str:
        return "h1:" + base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()

    return [
        f"example.com/filler{i} v1.0.0 {h1(f'{i}z')}\n"
        f"example.com/filler{i} v1.0.0/go.mod {h1(f'{i}m')}\n".encode()
        for i in range(start, start + count)
    ]


@dataclass
class Setup:
    origin: Origin
    db: SumDB
    tmp: Path


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with running_origin() as origin, running_sumdb(tmp_path / "sumdb") as db:
        # Records 0-199 filler, app 200, filler, b and c 301-302, filler, d and e, filler:
        # 658 records, so tiles 8/0/000..002 are full, 8/0/002.p/146 and 8/1/000.p/2 partial.
        texts = [
            *_filler(0, 200),
            APP.record(),
            *_filler(200, 100),
            B.record(),
            C.record(),
            *_filler(300, 300),
            D.record(),
            E.record(),
            *_filler(600, 51),
        ]
        await asyncio.to_thread(db.store.append, texts)
        publish(origin, *GRAPH)
        yield Setup(origin, db, tmp_path)


def _proxy(
    s: Setup, *, prefetch: str = "true", **overrides: str
) -> contextlib.AbstractAsyncContextManager[RunningProxy]:
    return running_proxy(
        s.tmp / "cache", upstream=s.origin.url, sumdb=s.db, prefetch=prefetch, **overrides
    )


async def _idle(proxy: RunningProxy) -> None:
    assert proxy.app is not None
    prefetcher = proxy.app[SERVICE_KEY].prefetcher
    assert prefetcher is not None
    sumdb = proxy.app[SUMDB_PREFETCH_KEY]
    while prefetcher.pending or sumdb.pending:
        await prefetcher.wait_idle()
        await sumdb.wait_idle()


async def _get(proxy: RunningProxy, rel: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{proxy.url}/{rel}") as resp,
    ):
        return resp.status, await resp.read()


def _lookup(db: SumDB, m: SynthModule) -> str:
    return f"sumdb/{db.name}/lookup/{m.path}@{m.version}"


def _asked(db: SumDB, prefix: str) -> list[str]:
    return [p for p in db.requests if p.startswith(prefix)]


async def test_relay_single_flight_shares_one_fetch_and_does_not_keep_failures(
    tmp_path: Path,
) -> None:
    """N concurrent requests for one lookup or one tile: one fetch from the database. A failed
    fetch (a lookup the database does not have) reaches every waiter and is not kept."""
    async with (
        aiohttp.ClientSession() as session,
        running_sumdb(tmp_path / "db", GRAPH) as db,
    ):
        fetcher = HTTPFetcher(db.url, session, policy=FetchPolicy(retries=0, deadline=5))
        relay = SumDBRelay({db.name: SumDBHTTPFetcher(fetcher)}, MemoryStorage())
        lookup = f"{db.name}/lookup/{B.path}@{B.version}"
        tile = f"{db.name}/tile/8/0/000.p/5"
        answers = await asyncio.gather(*(relay.answer(r) for r in [lookup, tile] * 8))
        assert len({a.body for a in answers[::2]}) == len({a.body for a in answers[1::2]}) == 1
        assert Counter(db.requests) == {
            f"lookup/{B.path}@{B.version}": 1,
            "tile/8/0/000.p/5": 1,
        }
        missing = f"{db.name}/lookup/example.com/none@v1.0.0"
        failures = await asyncio.gather(
            *(relay.answer(missing) for _ in range(8)), return_exceptions=True
        )
        assert all(isinstance(f, ModuleNotFound) for f in failures), failures
        assert db.stats.lookups_not_found == 1
        with pytest.raises(ModuleNotFound):
            await relay.answer(missing)
        assert db.stats.lookups_not_found == 2  # not kept: asked again
        await relay.close()


async def test_lookups_and_tiles_are_prefetched_while_clients_look_up(setup: Setup) -> None:
    """A client's lookup opens the window: the go.mod files read before it and after it are
    looked up ahead of the client, and the tiles proving each answer are fetched too."""
    db = setup.db
    async with _proxy(setup) as proxy:
        assert await _get(proxy, APP.rel("mod")) == (200, APP.mod)
        await _idle(proxy)
        assert _asked(db, "lookup/") == []  # no client looks up: nothing looked up ahead
        status, _ = await _get(proxy, _lookup(db, APP))
        assert status == 200
        await _idle(proxy)
        # b, c (depth 1) and d (depth 2) were prefetched by the module prefetcher before the
        # window opened; the window's opening looks them up.
        assert set(_asked(db, "lookup/")) == {
            f"lookup/{m.path}@{m.version}" for m in (APP, B, C, D)
        }
        # app is record 200 of 658: the tree-hash tiles and app's own tile; b, c: tile 001;
        # d: tile 002 (full).
        assert set(_asked(db, "tile/")) == {
            "tile/8/1/000.p/2",
            "tile/8/0/002.p/146",
            "tile/8/0/000",
            "tile/8/0/001",
            "tile/8/0/002",
        }
        assert max(Counter(db.requests).values()) == 1
        # The client's own requests are now answered from what the relay kept.
        before = len(db.requests)
        for m in (B, C, D):
            assert (await _get(proxy, _lookup(db, m)))[0] == 200
        for tile in ("tile/8/1/000.p/2", "tile/8/0/001"):
            assert (await _get(proxy, f"sumdb/{db.name}/{tile}"))[0] == 200
        await _idle(proxy)
        assert db.requests[before:] == []
        metrics = proxy.metrics
        assert metrics.prefetch_bytes_total.value("lookup", "used") > 0
        assert metrics.prefetch_bytes_total.value("tile", "used") == 2 * 32 + 256 * 32
        assert metrics.prefetch_decisions.value("lookup", "scheduled") == 3


async def test_prefetch_off_sends_only_the_clients_requests(setup: Setup) -> None:
    db = setup.db
    async with _proxy(setup, prefetch="false") as proxy:
        assert proxy.app is not None
        assert SUMDB_PREFETCH_KEY not in proxy.app
        assert (await _get(proxy, _lookup(db, APP)))[0] == 200
        assert (await _get(proxy, B.rel("mod")))[0] == 200
        assert (await _get(proxy, _lookup(db, B)))[0] == 200
        await asyncio.sleep(0)
        assert db.requests == [f"lookup/{m.path}@{m.version}" for m in (APP, B)]
        assert proxy.metrics.prefetch_decisions.value("lookup", "scheduled") == 0
        assert proxy.metrics.prefetch_decisions.value("tile", "scheduled") == 0


async def test_private_module_lookups_are_never_prefetched(tmp_path: Path) -> None:
    """A module matching the proxy's GONOSUMDB is served (unverified) but never looked up."""
    private = _module("corp.example/private")
    public = _module("example.com/public")
    root = _module("example.com/root", private, public)
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", (root, public)) as db,
    ):
        publish(origin, root, private, public)
        async with running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            prefetch="true",
            gonosumdb="corp.example",
        ) as proxy:
            assert (await _get(proxy, _lookup(db, root)))[0] == 200  # clients look up
            assert await _get(proxy, root.rel("mod")) == (200, root.mod)
            assert await _get(proxy, private.rel("mod")) == (200, private.mod)
            await _idle(proxy)
            lookups = _asked(db, "lookup/")
            assert f"lookup/{public.path}@{public.version}" in lookups  # the control
            assert not any("corp.example" in p for p in db.requests), lookups
            assert proxy.metrics.prefetch_decisions.value("lookup", "refused") == 1


@pytest.mark.gocmd
async def test_go_command_through_the_relay_with_prefetch_matches_direct(setup: Setup) -> None:
    """The real go command with an empty go.sum, ``go mod download -json all``: directly from
    the origin and the database, then through the proxy (GOSUMDB by key only, so through its
    relay) with prefetch on. Same modules and hashes, the same go.sum; every lookup and tile
    reached the database at most once, exactly the ones the go command asked for directly, and
    some were fetched before the go command asked (the used bytes)."""
    db = setup.db
    direct = await _download_all(setup.tmp / "direct", setup.origin.url, db.gosumdb)
    direct_asked = Counter(db.requests)
    assert max(direct_asked.values()) == 1
    assert any(p.startswith("tile/8/1/") for p in direct_asked)  # the log has two levels
    db.requests.clear()
    async with _proxy(setup) as proxy:
        through = await _download_all(setup.tmp / "proxy", proxy.url, db.key.verifier_key)
        await _idle(proxy)
        assert through == direct
        asked = Counter(p for p in db.requests if p != "latest")
        assert max(asked.values()) == 1  # single flight: nothing fetched twice
        assert asked == direct_asked  # exactly what the go command reads, no more
        metrics = proxy.metrics
        assert metrics.prefetch_bytes_total.value("lookup", "used") > 0
        assert metrics.prefetch_bytes_total.value("tile", "used") > 0
        assert metrics.prefetch_decisions.value("lookup", "failed") == 0
        assert metrics.prefetch_decisions.value("tile", "failed") == 0


async def _download_all(home: Path, goproxy: str, gosumdb: str) -> tuple[list[object], str]:
    """``go mod download -json all`` of a main module requiring app with an empty go.sum:
    the modules with their hashes, and the go.sum it leaves."""
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_text(
        f"module example.com/main\n\ngo 1.16\n\nrequire {APP.path} {APP.version}\n"
    )
    (work / "go.sum").write_text("")
    env = go_environ(home, goproxy=goproxy, gosumdb=gosumdb)
    run = await asyncio.to_thread(
        run_go, ["mod", "download", "-json", "all"], cwd=work, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    decoder = json.JSONDecoder()
    results: list[object] = []
    text, pos = run.stdout.strip(), 0
    while pos < len(text):
        doc, pos = decoder.raw_decode(text, pos)
        assert "Error" not in doc, doc
        results.append(tuple(doc.get(k) for k in ("Path", "Version", "Sum", "GoModSum")))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    assert results
    return sorted(results, key=str), (work / "go.sum").read_text()

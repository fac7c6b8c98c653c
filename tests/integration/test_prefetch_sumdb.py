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
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.cache.prefetch import PrefetchOptions
from gomodproxy.errors import ModuleNotFound
from gomodproxy.server.app import SERVICE_KEY, SUMDB_PREFETCH_KEY
from gomodproxy.server.sumdbprefetch import SumDBPrefetcher
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.storage import MemoryStorage
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.fetch import RoutedFetcher, SumDBHTTPFetcher
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.tlog.tileplan import record_tiles, tree_tiles
from gomodproxy.tlog.tlog import parse_record, parse_tree
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
        # 656 records: tiles 8/0/000 and 001 are full, 8/0/002.p/144 and 8/1/000.p/2 partial.
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


def _proxy(s: Setup, *, prefetch: str = "true") -> AbstractAsyncContextManager[RunningProxy]:
    return running_proxy(s.tmp / "cache", upstream=s.origin.url, sumdb=s.db, prefetch=prefetch)


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


async def test_the_verifier_and_the_relays_clients_share_one_fetch(tmp_path: Path) -> None:
    """The proxy's verifier reads through the relay (RoutedFetcher): when it and clients of the
    relay want the same lookup and tiles at once, the database is asked each once."""
    async with (
        aiohttp.ClientSession() as session,
        running_sumdb(tmp_path / "db", GRAPH) as db,
    ):
        fetcher = SumDBHTTPFetcher(
            HTTPFetcher(db.url, session, policy=FetchPolicy(retries=0, deadline=5))
        )
        relay = SumDBRelay({db.name: fetcher}, MemoryStorage())
        routed = RoutedFetcher(fetcher)
        routed.route = lambda sub: relay.read(db.name, sub)
        verifier = SumDBClient(db.key.verifier_key, routed, MemoryVerifierState())
        tile = f"tile/8/0/000.p/{len(GRAPH)}"
        lines, *_ = await asyncio.gather(
            verifier.lookup(B.path, B.version),
            relay.answer(f"{db.name}/{_sub(B)}"),
            relay.answer(f"{db.name}/{tile}"),
        )
        assert lines
        assert Counter(db.requests) == {_sub(B): 1, tile: 1}
        await relay.close()


class _Observer:
    def __init__(self) -> None:
        self.decisions: Counter[tuple[str, str]] = Counter()
        self.bytes: Counter[tuple[str, str]] = Counter()

    def sumdb_prefetch_decision(self, kind: str, decision: str) -> None:
        self.decisions[kind, decision] += 1

    def sumdb_prefetch_bytes(self, kind: str, outcome: str, size: int) -> None:
        self.bytes[kind, outcome] += size


@contextlib.asynccontextmanager
async def _relay(
    db: SumDB, *, private: str = "", allowed: Callable[[str, str], bool] = lambda p, v: True
) -> AsyncIterator[tuple[SumDBRelay, SumDBPrefetcher, _Observer]]:
    """The relay over ``db`` with its prefetcher (no verifier of its own in front)."""
    async with aiohttp.ClientSession() as session:
        fetcher = HTTPFetcher(db.url, session, policy=FetchPolicy(retries=0, deadline=5))
        relay = SumDBRelay(
            {db.name: SumDBHTTPFetcher(fetcher)}, MemoryStorage(), nosumdb_patterns=private
        )
        observer = _Observer()
        prefetcher = SumDBPrefetcher(
            relay, PrefetchOptions(enabled=True), allowed=allowed, observer=observer
        )
        relay.listener = prefetcher
        try:
            yield relay, prefetcher, observer
        finally:
            await prefetcher.close()
            await relay.close()


def _sub(m: SynthModule) -> str:
    return f"lookup/{m.path}@{m.version}"


async def test_lookups_and_tiles_run_ahead_while_clients_look_up(setup: Setup) -> None:
    """A client's lookup opens the window: the go.mod files seen before it and after it are
    looked up ahead of the client, and the tiles proving each answer (in the tree of 656
    records: full and partial, two levels) are fetched too, each once."""
    db = setup.db
    async with _relay(db) as (relay, prefetcher, observer):
        prefetcher.mod_seen(B.path, B.version, None)
        await prefetcher.wait_idle()
        assert db.requests == []  # no client looks up: nothing looked up ahead
        await relay.answer(f"{db.name}/{_sub(APP)}")
        await prefetcher.wait_idle()
        tree = {"tile/8/1/000.p/2", "tile/8/0/002.p/144"}  # the tree hash: 512 + 144
        # app is record 200 (tile 000), b record 301 (tile 001).
        assert Counter(db.requests) == dict.fromkeys(
            [_sub(APP), _sub(B), *tree, "tile/8/0/000", "tile/8/0/001"], 1
        )
        prefetcher.mod_seen(D.path, D.version, None)  # within the window
        await prefetcher.wait_idle()
        # d is record 603, in the partial tile the tree hash needed already.
        assert db.requests[-1:] == [_sub(D)]
        # The client's own requests are now answered from what the relay kept.
        before = len(db.requests)
        for sub in (_sub(B), _sub(D), *tree, "tile/8/0/001"):
            await relay.answer(f"{db.name}/{sub}")
        await prefetcher.wait_idle()
        assert db.requests[before:] == []
        lookups = [await relay.answer(f"{db.name}/{_sub(m)}") for m in (B, D)]
        assert observer.bytes["lookup", "used"] == sum(len(a.body) for a in lookups)
        assert observer.bytes["tile", "used"] == (2 + 144 + 256) * 32
        assert observer.decisions["lookup", "failed"] == observer.decisions["tile", "failed"] == 0


async def test_a_grown_tree_prefetches_the_tiles_that_check_the_old_head(setup: Setup) -> None:
    """A client that saw the tree at 656 records and looks up a record logged since checks the
    old head inside the new tree (checkTrees) before proving the record: both tile sets are
    fetched ahead (the go command reads exactly these: the test below)."""
    db = setup.db
    late = _module("example.com/late")
    async with _relay(db) as (relay, prefetcher, _observer):
        await relay.answer(f"{db.name}/{_sub(APP)}")
        await prefetcher.wait_idle()
        await asyncio.to_thread(db.store.append, [*_filler(651, 300), late.record()])
        before = len(db.requests)
        await relay.answer(f"{db.name}/{_sub(late)}")
        await prefetcher.wait_idle()
        planned = tree_tiles(656, 957) + record_tiles(956, 957)
        assert set(db.requests[before + 1 :]) == {t.path() for t in planned}
        assert max(Counter(db.requests).values()) == 1


async def test_private_module_lookups_are_never_prefetched(setup: Setup) -> None:
    """A module matching the relay's GONOSUMDB patterns, or refused by the prefetch predicate
    (rules, client credentials), is never looked up on the proxy's initiative."""
    db = setup.db
    refused = {"example.com/c"}
    async with _relay(
        db, private="example.com/b", allowed=lambda path, _v: path not in refused
    ) as (relay, prefetcher, observer):
        await relay.answer(f"{db.name}/{_sub(APP)}")  # clients look up
        for m in (B, C, D):
            prefetcher.mod_seen(m.path, m.version, None)
        await prefetcher.wait_idle()
        lookups = [p for p in db.requests if p.startswith("lookup/")]
        assert lookups == [_sub(APP), _sub(D)]  # d is the control
        assert observer.decisions["lookup", "refused"] == 2


@pytest.mark.parametrize("prefetch", ["true", "false"])
async def test_prefetch_setting_turns_it_on_and_off(setup: Setup, prefetch: str) -> None:
    """Through the proxy, whose verifier proves b (record 301, tile 001) when it caches b's
    go.mod: a client's lookup of app (record 200) then needs tile 000, which the proxy fetches
    ahead only with prefetch on; with it off only the client's own requests go out."""
    db = setup.db
    async with _proxy(setup, prefetch=prefetch) as proxy:
        assert proxy.app is not None
        assert await _get(proxy, B.rel("mod")) == (200, B.mod)
        modules = proxy.app[SERVICE_KEY].prefetcher
        if modules is not None:  # d and e's go.mod prefetched (and verified) meanwhile
            await modules.wait_idle()
        verified = list(db.requests)
        assert _sub(B) in verified
        assert "tile/8/0/001" in verified
        assert (await _get(proxy, f"sumdb/{db.name}/{_sub(APP)}"))[0] == 200
        if prefetch == "true":
            await proxy.app[SUMDB_PREFETCH_KEY].wait_idle()
            assert db.requests[len(verified) :] == [_sub(APP), "tile/8/0/000"]
            assert proxy.metrics.prefetch_decisions.value("tile", "fetched") == 1
            # b, d and e, seen before the window opened: proven by the verifier already.
            assert proxy.metrics.prefetch_decisions.value("lookup", "cached") == 3
        else:
            assert SUMDB_PREFETCH_KEY not in proxy.app
            await asyncio.sleep(0.2)  # a prefetch, were there one, would have been sent
            assert db.requests[len(verified) :] == [_sub(APP)]
        # The client's tiles: b's proven by the proxy's verifier, app's fetched (once).
        for tile in ("tile/8/1/000.p/2", "tile/8/0/002.p/144", "tile/8/0/000", "tile/8/0/001"):
            assert (await _get(proxy, f"sumdb/{db.name}/{tile}"))[0] == 200
        assert max(Counter(db.requests).values()) == 1


@pytest.mark.gocmd
async def test_go_command_through_the_relay_with_prefetch_matches_direct(setup: Setup) -> None:
    """The real go command with an empty go.sum, ``go mod download -json all``: directly from
    the origin and the database, then through the proxy (GOSUMDB by key only, so through its
    relay) with prefetch on. Same modules and hashes, the same go.sum; every lookup and tile
    reached the database at most once, exactly the ones the go command asked for directly, and
    some were fetched before the go command asked (the used bytes)."""
    db = setup.db
    direct = await _download_all(setup.tmp / "direct", setup.origin.url, db.gosumdb)
    assert f"{APP.path} {APP.version} h1:" in direct[1]  # go.sum written from the lookups
    direct_asked = Counter(db.requests)
    assert max(direct_asked.values()) == 1
    assert any(p.startswith("tile/8/1/") for p in direct_asked)  # the log has two levels
    # The planner names exactly the tiles the go command read to prove its lookups.
    planned: set[str] = set()
    async with aiohttp.ClientSession() as session:
        for lookup in (p for p in direct_asked if p.startswith("lookup/")):
            async with session.get(f"{db.url}/{lookup}") as resp:
                record_id, _, note = parse_record(await resp.read())
            planned.update(t.path() for t in record_tiles(record_id, parse_tree(note).n))
    assert planned == {p for p in direct_asked if p.startswith("tile/")}
    db.requests.clear()
    async with _proxy(setup) as proxy:
        through = await _download_all(setup.tmp / "proxy", proxy.url, db.key.verifier_key)
        await _idle(proxy)
        assert through == direct
        asked = Counter(p for p in db.requests if p != "latest")
        assert max(asked.values()) == 1  # single flight: nothing fetched twice
        assert asked == direct_asked  # exactly what the go command reads, no more
        metrics = proxy.metrics
        assert metrics.prefetch_decisions.value("lookup", "scheduled") > 0
        assert metrics.prefetch_decisions.value("tile", "scheduled") > 0
        assert metrics.prefetch_decisions.value("lookup", "failed") == 0
        assert metrics.prefetch_decisions.value("tile", "failed") == 0


@pytest.mark.gocmd
async def test_tile_plan_after_the_tree_grew_matches_the_go_command(setup: Setup) -> None:
    """checkTrees: a go command that saw the tree at 656 records and looks up a record logged
    since reads the tiles of the old tree's hash inside the new tree, then the record's; the
    planner (given the size the relay saw before) names exactly those."""
    db = setup.db
    home = setup.tmp / "grew"
    await _download_all(home, setup.origin.url, db.gosumdb, requires=C)  # sees 656 records
    late = _module("example.com/late")
    publish(setup.origin, late)
    await asyncio.to_thread(db.store.append, [*_filler(651, 300), late.record()])
    db.requests.clear()
    # Same GOPATH (its sumdb/<name>/latest says 656), a fresh module and tile cache.
    await _download_all(
        home, setup.origin.url, db.gosumdb, requires=late, modcache=setup.tmp / "modcache2"
    )
    at = db.requests.index(_sub(late))
    # Before its lookup, the go command checked the head it kept (tree hash of 656 records,
    # tiles the relay kept when it served that tree); after it, what the planner names.
    assert set(db.requests[:at]) == {t.path() for t in tree_tiles(656, 656)}
    asked = {p for p in db.requests[at + 1 :] if p.startswith("tile/")}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{db.url}/{_sub(late)}") as resp,
    ):
        record_id, _, note = parse_record(await resp.read())
    size = parse_tree(note).n
    assert size == 957
    planned = tree_tiles(656, size) + record_tiles(record_id, size)
    assert {t.path() for t in planned} == asked
    assert "tile/8/0/002" in asked  # the tile that was partial at 656 is now read full


async def _download_all(
    home: Path,
    goproxy: str,
    gosumdb: str,
    *,
    requires: SynthModule = APP,
    modcache: Path | None = None,
) -> tuple[list[object], str]:
    """``go mod download -json all`` of a main module requiring ``requires`` with an empty
    go.sum: the modules with their hashes, and the go.sum it leaves."""
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(
        f"module example.com/main\n\ngo 1.16\n\nrequire {requires.path} {requires.version}\n"
    )
    (work / "go.sum").write_text("")
    extra = {"GOMODCACHE": str(modcache)} if modcache is not None else None
    env = go_environ(home, goproxy=goproxy, gosumdb=gosumdb, extra=extra)
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

"""Predictive prefetch (issue 15): the proxy runs ahead of the go command on a cold cache.

A graph of synthetic modules is served by a recording origin on 127.0.0.1 and logged in our
checksum database: ``app`` requires ``b`` and ``c``, ``b`` requires ``d``, ``d`` requires
``e``. A client asking the proxy for ``app``'s go.mod makes it fetch, in the background, the
``.mod`` of the requirements down to ``--prefetch-depth`` levels, each verified
and kept exactly as a client's miss would be; the origin's record shows what was fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.cache.service import ModuleService
from gomodproxy.server.app import SERVICE_KEY
from gomodproxy.sumdbserver import sums_from_cache
from tests.corpus_data import project
from tests.gotool import go_environ, run_go
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import RunningProxy, SumDB, SynthModule, publish, running_proxy, running_sumdb

pytestmark = pytest.mark.asyncio


def _module(path: str, *requires: SynthModule, go: str = "1.16") -> SynthModule:
    """A module requiring ``requires``; at ``go 1.16`` (unpruned) by default, so the go
    command reads its requirements' go.mod files too (graph pruning)."""
    lines = "".join(f"\t{r.path} {r.version}\n" for r in requires)
    block = f"\nrequire (\n{lines})\n" if requires else ""
    files = {
        "go.mod": f"module {path}\n\ngo {go}\n{block}".encode(),
        "m.go": b"package m\n",
    }
    return SynthModule(path, "v1.0.0", files)


E = _module("example.com/e")
D = _module("example.com/d", E)
B = _module("example.com/b", D)
C = _module("example.com/c")
APP = _module("example.com/app", B, C)
GRAPH = (APP, B, C, D, E)


@dataclass
class Setup:
    origin: Origin
    db: SumDB
    tmp: Path


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", GRAPH) as db,
    ):
        publish(origin, *GRAPH)
        yield Setup(origin, db, tmp_path)


def _proxy(
    s: Setup,
    *,
    prefetch: str = "true",
    prefetch_depth: str = "2",
    prefetch_fanout: str = "128",
    prefetch_budget: str = "512MiB",
) -> contextlib.AbstractAsyncContextManager[RunningProxy]:
    return running_proxy(
        s.tmp / "cache",
        upstream=s.origin.url,
        sumdb=s.db,
        prefetch=prefetch,
        prefetch_depth=prefetch_depth,
        prefetch_fanout=prefetch_fanout,
        prefetch_budget=prefetch_budget,
    )


def _service(proxy: RunningProxy) -> ModuleService:
    assert proxy.app is not None
    return proxy.app[SERVICE_KEY]


async def _idle(proxy: RunningProxy) -> None:
    prefetcher = _service(proxy).prefetcher
    assert prefetcher is not None
    await prefetcher.wait_idle()


async def _get(proxy: RunningProxy, rel: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{proxy.url}/{rel}") as resp,
    ):
        return resp.status, await resp.read()


def _fetched(origin: Origin, m: SynthModule, ext: str) -> int:
    return origin.count(m.rel(ext))


async def test_requirements_go_mod_are_fetched_before_the_client_asks(
    setup: Setup,
) -> None:
    async with _proxy(setup) as proxy:
        assert await _get(proxy, APP.rel("mod")) == (200, APP.mod)
        await _idle(proxy)
        origin = setup.origin
        for m in (B, C, D):  # depth 1 (b, c) and 2 (d)
            assert _fetched(origin, m, "mod") == 1, m.path
            assert _fetched(origin, m, "info") == 0, m.path  # not read by graph loading
            assert await proxy.storage.stat(m.rel("mod")) is not None
        assert _fetched(origin, E, "mod") == 0  # depth 3: beyond the default depth of 2
        assert origin.count(suffix=".zip") == 0  # no zip before clients download zips

        # The client's own requests are now hits: the origin is not asked again.
        before = len(origin.requests)
        for m in (B, C, D):
            assert await _get(proxy, m.rel("mod")) == (200, m.mod)
        await _idle(proxy)
        # d's go.mod, asked by the client, is a new top: its requirement e is prefetched.
        assert [r.path for r in origin.requests[before:]] == [E.rel("mod")]
        used = proxy.metrics.prefetch_bytes_total.value("mod", "used")
        assert used == sum(len(m.mod) for m in (B, C, D))
        assert proxy.metrics.prefetch_bytes_total.value("mod", "prefetched") == used + len(E.mod)


async def test_requirements_of_a_pruned_go_mod_are_not_prefetched(tmp_path: Path) -> None:
    """Graph pruning: the go command never reads the go.mod files of the requirements of a
    go.mod at go 1.17 or later, so neither does the prefetch."""
    leaf = _module("example.com/leaf")
    pruned = _module("example.com/pruned", leaf, go="1.21")
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", (pruned, leaf)) as db,
    ):
        publish(origin, pruned, leaf)
        async with running_proxy(
            tmp_path / "cache", upstream=origin.url, sumdb=db, prefetch="true"
        ) as proxy:
            assert await _get(proxy, pruned.rel("mod")) == (200, pruned.mod)
            await _idle(proxy)
            assert [r.path for r in origin.requests] == [pruned.rel("mod")]


async def test_prefetch_is_off_with_no_prefetch(setup: Setup) -> None:
    async with _proxy(setup, prefetch="false") as proxy:
        assert _service(proxy).prefetcher is None
        assert await _get(proxy, APP.rel("mod")) == (200, APP.mod)
        assert await _get(proxy, APP.rel("info")) == (200, APP.info)
        assert [r.path for r in setup.origin.requests] == [APP.rel("mod"), APP.rel("info")]


async def test_depth_one_stops_below_the_direct_requirements(setup: Setup) -> None:
    async with _proxy(setup, prefetch_depth="1") as proxy:
        await _get(proxy, APP.rel("mod"))
        await _idle(proxy)
        assert _fetched(setup.origin, B, "mod") == _fetched(setup.origin, C, "mod") == 1
        assert _fetched(setup.origin, D, "mod") == 0


async def test_fanout_limits_the_requirements_taken_from_one_go_mod(setup: Setup) -> None:
    async with _proxy(setup, prefetch_fanout="1") as proxy:
        await _get(proxy, APP.rel("mod"))
        await _idle(proxy)
        assert _fetched(setup.origin, B, "mod") == 1  # the first requirement
        assert _fetched(setup.origin, C, "mod") == 0
        assert proxy.metrics.prefetch_decisions.value("mod", "fanout") == 1


async def test_budget_stops_prefetch_once_that_many_bytes_wait_unused(setup: Setup) -> None:
    async with _proxy(setup, prefetch_budget="1") as proxy:
        await _get(proxy, APP.rel("mod"))
        await _idle(proxy)
        # b and c were scheduled with nothing outstanding; once b's go.mod was fetched the
        # budget was spent, so b's requirement d was not fetched.
        assert _fetched(setup.origin, B, "mod") == 1
        assert _fetched(setup.origin, D, "mod") == 0
        assert proxy.metrics.prefetch_decisions.value("mod", "budget") >= 1


async def test_a_client_asking_during_a_prefetch_joins_it(setup: Setup) -> None:
    """Single flight: the file being prefetched is fetched once, whoever asks meanwhile."""
    setup.origin.inject(Fault(delay=0.5), B.rel("mod"))
    async with _proxy(setup) as proxy:
        await _get(proxy, APP.rel("mod"))
        # b's go.mod is being prefetched (the origin holds it back): ask for it meanwhile.
        assert await _get(proxy, B.rel("mod")) == (200, B.mod)
        await _idle(proxy)
        assert _fetched(setup.origin, B, "mod") == 1
        assert proxy.metrics.fetches_deduplicated.value("mod") >= 1


async def test_tampered_requirement_is_neither_cached_nor_served(setup: Setup) -> None:
    """The origin serves a go.mod of b that our checksum database does not list: the prefetch
    fetches it, verification refuses it, nothing is kept, and the client gets the refusal."""
    tampered = B.mod + b"\nrequire example.com/evil v1.0.0\n"
    setup.origin.serve_file(B.rel("mod"), tampered)
    async with _proxy(setup) as proxy:
        await _get(proxy, APP.rel("mod"))
        await _idle(proxy)
        assert _fetched(setup.origin, B, "mod") == 1  # the prefetch did try
        assert await proxy.storage.stat(B.rel("mod")) is None
        assert _fetched(setup.origin, D, "mod") == 0  # nothing expanded from refused bytes
        assert proxy.metrics.verifications.value("mod", "mismatch") == 1
        assert proxy.metrics.prefetch_decisions.value("mod", "failed") >= 1
        status, body = await _get(proxy, B.rel("mod"))
        assert status == 502, body
        assert await proxy.storage.stat(B.rel("mod")) is None


async def test_private_denied_and_authenticated_modules_are_never_prefetched(
    tmp_path: Path,
) -> None:
    private = _module("corp.example/private")
    denied = _module("example.com/denied")
    direct = _module("example.com/gitonly")
    authed = _module("example.com/authed")
    public = _module("example.com/public")
    root = _module("example.com/root", private, denied, direct, authed, public)
    modules = (root, private, denied, direct, authed, public)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nmatch = "example.com/denied"\naction = "deny"\n\n'
        '[[rule]]\nmatch = "example.com/gitonly"\naction = "direct"\n'
    )
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", modules) as db,
    ):
        publish(origin, *modules)
        async with running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            prefetch="true",
            goprivate="corp.example",
            rules=str(rules),
            client_auth="example.com/authed=sha256:" + "0" * 64,
        ) as proxy:
            assert await _get(proxy, root.rel("mod")) == (200, root.mod)
            await _idle(proxy)
            asked = {r.path for r in origin.requests}
            assert public.rel("mod") in asked  # the control: prefetch ran
            for m in (private, denied, direct, authed):
                assert not any(p.startswith(m.path) for p in asked), m.path
            assert proxy.metrics.prefetch_decisions.value("mod", "refused") == 4


async def test_zips_of_asked_modules_are_prefetched_once_clients_download_zips(
    setup: Setup,
) -> None:
    async with _proxy(setup, prefetch_depth="1") as proxy:
        for m in (APP, B, C):  # the graph the client loaded
            await _get(proxy, m.rel("mod"))
        await _idle(proxy)
        assert setup.origin.count(suffix=".zip") == 0
        assert await _get(proxy, APP.rel("zip")) == (200, APP.zip)  # download begins
        await _idle(proxy)
        for m in (B, C):
            assert _fetched(setup.origin, m, "zip") == 1, m.path
            assert _fetched(setup.origin, m, "info") == 1, m.path  # go mod download asks it
            assert await proxy.storage.stat(m.rel("zip")) is not None
        assert _fetched(setup.origin, D, "zip") == 0  # prefetched .mod only: no zip
        assert await _get(proxy, B.rel("zip")) == (200, B.zip)
        assert _fetched(setup.origin, B, "zip") == 1
        assert proxy.metrics.prefetch_bytes_total.value("zip", "used") == len(B.zip)
        assert proxy.metrics.verifications.value("zip", "ok") == 3


async def test_many_clients_and_prefetch_fetch_each_file_once(setup: Setup) -> None:
    async with _proxy(setup, prefetch_depth="3") as proxy:
        answers = await asyncio.gather(
            *(_get(proxy, m.rel(ext)) for m in GRAPH for ext in ("mod", "info") for _ in "xy")
        )
        assert all(status == 200 for status, _ in answers)
        await _idle(proxy)
        for m in GRAPH:
            for ext in ("mod", "info"):
                assert _fetched(setup.origin, m, ext) == 1, m.rel(ext)


@pytest.mark.gocmd
@pytest.mark.corpus
async def test_go_mod_download_all_through_prefetch_matches_direct(tmp_path: Path) -> None:
    """The real go command, ``go mod download -json all`` of a real project (fzf), directly
    from the origin and through the proxy with prefetch on: the same modules and hashes, the
    proxy ran ahead (prefetched files the go command then used), and no file was fetched
    from the origin twice."""
    proj = project("fzf")
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
        async with running_origin(proj.download_dir) as origin:
            direct = await _download_all(proj.go_mod, tmp_path / "direct", origin.url, db)
            origin.requests.clear()
            async with running_proxy(
                tmp_path / "cache", upstream=origin.url, sumdb=db, prefetch="true"
            ) as proxy:
                through = await _download_all(proj.go_mod, tmp_path / "proxy", proxy.url, db)
                await _idle(proxy)
                assert through == direct
                asked = [
                    r.path for r in origin.requests if r.path.endswith((".info", ".mod", ".zip"))
                ]
                assert len(asked) == len(set(asked))  # single flight: nothing fetched twice
                metrics = proxy.metrics
                assert metrics.prefetch_bytes_total.value("mod", "used") > 0
                assert metrics.verifications.value("mod", "mismatch") == 0
                assert metrics.verifications.value("zip", "mismatch") == 0


async def _download_all(go_mod: bytes, home: Path, goproxy: str, db: SumDB) -> list[object]:
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_bytes(go_mod)
    (work / "go.sum").write_text("")
    env = go_environ(home, goproxy=goproxy, gosumdb=db.gosumdb)
    run = await asyncio.to_thread(
        run_go, ["mod", "download", "-json", "all"], cwd=work, env=env, timeout=600
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
    return sorted(results, key=str)

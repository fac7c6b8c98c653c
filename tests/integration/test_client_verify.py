"""Verification by ``gomodproxy download``: go.sum first, then our checksum database.

Synthetic modules are served by a recording loopback origin; our checksum database
(tests/proxykit.py) logs their go.sum lines and is named by key and URL. With an empty go.sum
it is really asked (its lookups counted); its tree head is kept where the go command keeps its
own, and the go command, run on the same GOPATH, uses what we learned and never sees the head
go backwards. A tampered go.sum line, a tampered zip and a wrong hash in the database are each
refused with the go command's SECURITY ERROR wording, and leave nothing of that module in the
cache (fault catalogue C and E).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.integration.clientkit import Home, normalized_json
from tests.origin import Origin, running_origin
from tests.proxykit import SumDB, SynthModule, publish, running_proxy, running_sumdb, synth

pytestmark = [pytest.mark.gocmd]

A = synth("example.com/a", "v1.0.0")
B = synth("example.com/b", "v1.1.0", size=4096)
C = synth("example.com/c", "v1.2.0")
D = synth("example.com/d", "v1.3.0")

_GO_MOD = """module example.com/main

go 1.21

require (
	example.com/a v1.0.0
	example.com/b v1.1.0
)
"""


@dataclass
class World:
    origin: Origin
    db: SumDB
    home: Home


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_origin() as origin, running_sumdb(tmp_path / "sumdb", [A, B]) as db:
        publish(origin, A, B, C, D)
        yield World(origin, db, Home(tmp_path / "home", origin.url, db.gosumdb).setup(_GO_MOD))


def _tree_size(home: Home, db: SumDB) -> int:
    latest = home.root / "gopath" / "pkg" / "sumdb" / db.name / "latest"
    return int(latest.read_text().split("\n")[1])


def _module_files(home: Home, m: SynthModule) -> list[str]:
    vdir = home.modcache / "cache" / "download" / m.path / "@v"
    files = sorted(p.name for p in vdir.iterdir()) if vdir.is_dir() else []
    tree = home.modcache / f"{m.path}@{m.version}"
    return files + (["<tree>"] if tree.exists() else [])


def _wrong_hash(seed: str) -> str:
    return "h1:" + base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


@pytest.mark.asyncio
async def test_f57_empty_go_sum_asks_our_database_and_shares_its_state_with_the_go_command(
    world: World,
) -> None:
    home, db = world.home, world.db
    run = await asyncio.to_thread(home.ours)
    assert (run.returncode, run.stderr) == (0, "")
    assert set(db.stats.lookups_by_module) == {"example.com/a@v1.0.0", "example.com/b@v1.1.0"}
    assert db.stats.lookups == 2
    # Without arguments only the graph's go.mod sums are recorded, as the go command does.
    assert home.go_sum() == f"{A.path} {A.version}/go.mod {A.mod_h1}\n" + (
        f"{B.path} {B.version}/go.mod {B.mod_h1}\n"
    )
    first = _tree_size(home, db)
    lookups_dir = home.modcache / "cache" / "download" / "sumdb" / db.name / "lookup"
    assert sorted(p.name for p in lookups_dir.iterdir()) == ["example.com"]

    # The go command on the same GOPATH finds everything proven: no new lookup.
    go_run = await asyncio.to_thread(home.go, "mod", "download", "-json")
    assert go_run.returncode == 0, go_run.stderr
    assert db.stats.lookups == 2

    # Alternate while the log grows: the remembered head only moves forward.
    await db.add(C)
    go_c = await asyncio.to_thread(home.go, "mod", "download", f"{C.path}@{C.version}")
    assert go_c.returncode == 0, go_c.stderr
    second = _tree_size(home, db)
    assert second > first
    again = await asyncio.to_thread(home.ours, "all")
    assert again.returncode == 0, again.stderr
    assert _tree_size(home, db) == second
    await db.add(D)
    ours_d = await asyncio.to_thread(home.ours, f"{D.path}@{D.version}")
    assert ours_d.returncode == 0, ours_d.stderr
    third = _tree_size(home, db)
    assert third > second
    go_all = await asyncio.to_thread(home.go, "mod", "download", "all")
    assert go_all.returncode == 0, go_all.stderr
    assert _tree_size(home, db) == third


@pytest.mark.asyncio
async def test_f37_a_tampered_go_sum_line_is_refused_and_nothing_is_cached(world: World) -> None:
    """Fault catalogue C: go.sum records another hash for the zip."""
    home = world.home
    bad = _wrong_hash("tampered")
    (home.work / "go.sum").write_text(
        f"{A.path} {A.version} {bad}\n{A.path} {A.version}/go.mod {A.mod_h1}\n"
    )
    before = home.go_sum()
    run = await asyncio.to_thread(home.ours, "all")
    assert run.returncode == 1
    assert f"verifying {A.path}@{A.version}: checksum mismatch" in run.stderr
    assert f"downloaded: {A.zip_h1}" in run.stderr
    assert f"go.sum:     {bad}" in run.stderr
    assert "SECURITY ERROR" in run.stderr
    assert run.stderr.startswith("gomodproxy: ")
    assert not [f for f in _module_files(home, A) if f.endswith((".zip", ".ziphash", "<tree>"))]
    assert not [f for f in _module_files(home, A) if f.endswith(".tmp")]
    assert home.go_sum() == before


@pytest.mark.asyncio
async def test_f22_a_tampered_zip_from_the_proxy_is_refused_and_nothing_is_cached(
    world: World,
) -> None:
    """Fault catalogue E: the proxy serves other bytes than the database logged."""
    home, origin = world.home, world.origin
    evil = SynthModule(B.path, B.version, {**B.files, "evil.go": b"package m // injected\n"})
    origin.serve_file(B.rel("zip"), evil.zip)
    run = await asyncio.to_thread(home.ours, "-json", "all")
    assert run.returncode == 1
    assert f'"Error": "{B.path}@{B.version}: verifying module: checksum mismatch' in run.stdout
    assert f"downloaded: {evil.zip_h1}" in run.stdout
    assert f"{world.db.name}: {B.zip_h1}" in run.stdout
    assert "SECURITY ERROR" in run.stdout
    assert [f for f in _module_files(home, B) if f.endswith((".zip", ".ziphash", ".tmp"))] == []
    assert "<tree>" not in _module_files(home, B)
    # The honest module was downloaded; go.sum gained nothing for the refused zip.
    assert "<tree>" in _module_files(home, A)
    assert f"{B.path} {B.version} h1:" not in home.go_sum()


@pytest.mark.asyncio
async def test_f38_a_wrong_hash_in_the_checksum_database_is_refused(world: World) -> None:
    """Fault catalogue E: the database answers (provably) a hash the download does not have."""
    home, db = world.home, world.db
    liar = (
        f"{C.path} {C.version} {_wrong_hash('liar')}\n{C.path} {C.version}/go.mod {C.mod_h1}\n"
    ).encode()
    await asyncio.to_thread(db.store.append, [liar])
    run = await asyncio.to_thread(home.ours, f"{C.path}@{C.version}")
    assert run.returncode == 1
    assert f"{C.path}@{C.version}: verifying module: checksum mismatch" in run.stderr
    assert "SECURITY ERROR" in run.stderr
    assert [f for f in _module_files(home, C) if f.endswith((".zip", ".ziphash"))] == []
    assert "<tree>" not in _module_files(home, C)
    # The go command refuses it just the same.
    go_run = await asyncio.to_thread(home.go, "mod", "download", f"{C.path}@{C.version}")
    assert go_run.returncode == 1
    assert "SECURITY ERROR" in go_run.stderr


@pytest.mark.asyncio
async def test_f27_a_zip_breaking_the_zip_rules_is_refused_before_anything_is_written(
    world: World,
) -> None:
    """Fault catalogue C: an entry outside ``path@version/`` is never extracted anywhere."""
    home, origin = world.home, world.origin
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{A.path}@{A.version}/go.mod", A.mod)
        z.writestr("example.com/other@v1.0.0/evil.go", b"package evil\n")
    origin.serve_file(A.rel("zip"), buf.getvalue())
    run = await asyncio.to_thread(home.ours, f"{A.path}@{A.version}")
    assert run.returncode == 1
    assert f"{A.path}@{A.version}" in run.stderr
    assert "example.com/other@v1.0.0/evil.go" in run.stderr
    assert [f for f in _module_files(home, A) if f.endswith((".zip", ".ziphash", ".tmp"))] == []
    assert "<tree>" not in _module_files(home, A)
    assert not (home.modcache / "example.com" / "other@v1.0.0").exists()


@pytest.mark.asyncio
async def test_gonosumdb_paths_are_not_asked_of_the_database(world: World) -> None:
    home, db = world.home, world.db
    run = await asyncio.to_thread(home.ours, "all", GONOSUMDB="example.com/a")
    assert (run.returncode, run.stderr) == (0, "")
    assert set(db.stats.lookups_by_module) == {"example.com/b@v1.1.0"}
    # Both are in go.sum now all the same, as the go command writes them.
    assert f"{A.path} {A.version} {A.zip_h1}\n" in home.go_sum()
    assert f"{B.path} {B.version} {B.zip_h1}\n" in home.go_sum()


@contextlib.asynccontextmanager
async def _tampering_relay(db: SumDB) -> AsyncIterator[str]:
    """A relay in front of the database that swaps the zip hash in every lookup answer (the
    record text no longer matches the signed tree)."""

    async def handle(request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession() as session,
            session.get(db.url + request.path_qs) as upstream,
        ):
            body = await upstream.read()
            status = upstream.status
        if request.path.startswith("/lookup/") and status == 200:
            body = body.replace(A.zip_h1.encode(), _wrong_hash("relay").encode())
        return web.Response(body=body, status=status)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_f53_a_tampered_checksum_database_answer_is_refused(world: World) -> None:
    """Fault catalogue E: the lookup's record text was changed on its way; its hash no longer
    proves against the signed tree, so nothing is accepted and nothing of the module cached."""
    home, db = world.home, world.db
    async with _tampering_relay(db) as relay:
        gosumdb = f"{db.key.verifier_key} {relay}"
        run = await asyncio.to_thread(home.ours, "-json", f"{A.path}@{A.version}", GOSUMDB=gosumdb)
        go_run = await asyncio.to_thread(
            home.go, "mod", "download", f"{A.path}@{A.version}", GOSUMDB=gosumdb
        )
    assert run.returncode == 1
    assert go_run.returncode == 1
    assert f'"Error": "{A.path}@{A.version}: verifying go.mod: ' in run.stdout
    assert "cannot authenticate record data" in run.stdout
    assert "cannot authenticate record data" in go_run.stderr
    assert [f for f in _module_files(home, A) if f.endswith((".mod", ".zip", ".ziphash"))] == []
    assert "<tree>" not in _module_files(home, A)


@pytest.mark.asyncio
async def test_through_our_proxy_with_the_database_named_by_key_only(
    world: World, tmp_path: Path
) -> None:
    """GOSUMDB without a URL: the client finds the database through its proxy (``/sumdb/<name>
    /supported``), as the go command does, here ``gomodproxy serve`` relaying our database."""
    async with running_proxy(
        tmp_path / "proxy-cache", upstream=world.origin.url, sumdb=world.db
    ) as proxy:
        home = Home(tmp_path / "client", proxy.url, world.db.key.verifier_key).setup(_GO_MOD)
        run = await asyncio.to_thread(home.ours, "-json", "all")
        go_home = Home(tmp_path / "go", proxy.url, world.db.key.verifier_key).setup(_GO_MOD)
        go_run = await asyncio.to_thread(go_home.go, "mod", "download", "-json", "all")
    assert run.returncode == 0, run.stderr
    assert go_run.returncode == 0, go_run.stderr
    assert normalized_json(run.stdout, home.root) == normalized_json(go_run.stdout, go_home.root)
    assert home.go_sum() == go_home.go_sum()
    lookups = home.modcache / "cache" / "download" / "sumdb" / world.db.name / "lookup"
    assert sorted(p.name for p in (lookups / "example.com").iterdir()) == [
        "a@v1.0.0",
        "b@v1.1.0",
    ]

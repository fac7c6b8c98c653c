"""``bundle create --go-mod``: the go.mod's build, carried offline, judged by the go command.

A small module graph of synthetic modules (a pruned main module at go 1.21, one unpruned
dependency whose requirements are followed, one pruned dependency whose are not) is served by a
local origin and logged in our own checksum database. The bundle made from the main go.mod holds
exactly what the real go command's ``go mod download`` fetches for it from the same origin, and
after import into a fresh cache, with the origin and database stopped, ``gomodproxy serve
--upstream off`` alone lets the go command download and build the program with an empty go.sum.
The ``toolchain`` line brings the ``golang.org/toolchain`` versions of the chosen platforms
(a synthetic toolchain module: nothing real is downloaded).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.admin.bundleformat import BundleModule, read_archive, remove_spool
from gomodproxy.cli.main import main
from tests.gotool import go_environ, run_go
from tests.origin import running_origin
from tests.proxykit import SynthModule, publish, running_proxy, running_sumdb


def _mod(
    path: str, version: str, go: str, requires: str = "", *, files: dict[str, bytes]
) -> SynthModule:
    go_mod = f"module {path}\n\ngo {go}\n"
    if requires:
        go_mod += f"\nrequire (\n{requires})\n"
    return SynthModule(path, version, {"go.mod": go_mod.encode(), **files})


_P = "example.com/graph"
_B0 = _mod(f"{_P}/b", "v1.0.0", "1.21", files={"b.go": b'package b\n\nconst Name = "b0"\n'})
_B1 = _mod(f"{_P}/b", "v1.1.0", "1.21", files={"b.go": b'package b\n\nconst Name = "b1"\n'})
_C = _mod(f"{_P}/c", "v0.1.0", "1.21", files={"c.go": b"package c\n"})
_A = _mod(
    f"{_P}/a",
    "v1.0.0",
    "1.21",
    f"\t{_P}/b v1.1.0\n\t{_P}/c v0.1.0\n",
    files={"a.go": f'package a\n\nimport "{_P}/b"\n\nconst Name = "a+" + b.Name\n'.encode()},
)
_F = _mod(f"{_P}/f", "v0.1.0", "1.16", files={"f.go": b"package f\n"})
_E = _mod(f"{_P}/e", "v1.0.0", "1.16", f"\t{_P}/f v0.1.0\n", files={"e.go": b"package e\n"})
# Unpruned (go 1.16): its requirements' go.mod files are part of the graph.
_D = _mod(
    f"{_P}/d",
    "v1.0.0",
    "1.16",
    f"\t{_P}/b v1.0.0\n\t{_P}/e v1.0.0\n",
    files={"d.go": b'package d\n\nconst Name = "d"\n'},
)
# d replaced by this version in one case.
_D11 = dataclasses.replace(
    _D, version="v1.1.0", files={**_D.files, "d.go": b'package d\n\nconst Name = "d11"\n'}
)
_GRAPH = [_A, _B0, _B1, _C, _D, _D11, _E, _F]

_MAIN_GO_MOD = f"""module example.com/app

go {{go}}

require (
\t{_P}/a v1.0.0
\t{_P}/d v1.0.0
)

require {_P}/b v1.1.0 // indirect
{{replace}}"""
_MAIN_GO = f"""package main

import (
\t"fmt"

\t"{_P}/a"
\t"{_P}/d"
)

func main() {{ fmt.Println(a.Name, d.Name) }}
"""

_TC = "golang.org/toolchain"
_TOOLCHAINS = [
    _mod(_TC, f"v0.0.1-go1.99.1.{p}", "1.13", files={"bin/go": f"go for {p}\n".encode()})
    for p in ("linux-amd64", "darwin-arm64", "windows-amd64")
]


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _download_dir_files(home: Path, ext: str) -> set[tuple[str, str]]:
    """(path, version) of every ``.ext`` file the go command stored (lower-case paths only)."""
    root = home / "gopath" / "pkg" / "mod" / "cache" / "download"
    out = set()
    for file in root.rglob(f"*.{ext}"):
        rel = file.relative_to(root)
        if rel.parts[0] == "sumdb":
            continue
        path = "/".join(rel.parts[:-2])
        out.add((path, rel.name.removesuffix(f".{ext}")))
    return out


def _manifest_modules(bundle: Path) -> tuple[BundleModule, ...]:
    spool = bundle.with_suffix(".spool")
    spool.mkdir()
    try:
        manifest, _ = read_archive(bundle, spool)
    finally:
        remove_spool(spool)
    return manifest.modules


_PRUNED_ZIPS = {(_A.path, "v1.0.0"), (_B1.path, "v1.1.0"), (_D.path, "v1.0.0")}
_ALL = {(m.path, m.version) for m in _GRAPH if m is not _D11}
_D_REPLACED = f"\nreplace {_P}/d => {_P}/d v1.1.0\n"


@pytest.mark.gocmd
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("go", "replace", "expected_zips", "expected_mod_only", "output"),
    [
        # Pruned: the zips of the go.mod's requirements at their selected versions (b raised
        # by a); d (go 1.16) has its graph read, a (go 1.21) not: c's go.mod is not needed.
        (
            "1.21",
            "",
            _PRUNED_ZIPS,
            {(_B0.path, "v1.0.0"), (_E.path, "v1.0.0"), (_F.path, "v0.1.0")},
            "a+b1 d",
        ),
        # Unpruned: the whole build list, every go.mod of the graph.
        ("1.16", "", _ALL - {(_B0.path, "v1.0.0")}, {(_B0.path, "v1.0.0")}, "a+b1 d"),
        # A replacement: the replacing version is bundled, never the replaced one.
        (
            "1.21",
            _D_REPLACED,
            _PRUNED_ZIPS - {(_D.path, "v1.0.0")} | {(_D.path, "v1.1.0")},
            {(_B0.path, "v1.0.0"), (_E.path, "v1.0.0"), (_F.path, "v0.1.0")},
            "a+b1 d11",
        ),
    ],
    ids=["pruned", "unpruned", "replaced"],
)
async def test_a_go_mod_bundle_holds_what_go_mod_download_fetches_and_builds_offline(
    tmp_path: Path,
    go: str,
    replace: str,
    expected_zips: set[tuple[str, str]],
    expected_mod_only: set[tuple[str, str]],
    output: str,
) -> None:
    main_go_mod = _MAIN_GO_MOD.format(go=go, replace=replace)
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text(main_go_mod)
    (app / "main.go").write_text(_MAIN_GO)
    bundle = tmp_path / "app.bundle"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", _GRAPH) as db,
    ):
        publish(origin, *_GRAPH)
        argv = ["bundle", "create", "--go-mod", str(app / "go.mod"), "-o", str(bundle)]
        argv += ["--upstream", origin.url, "--sumdb", db.gosumdb]
        assert await asyncio.to_thread(main, argv) == 0

        # The judge: what the go command fetches for the same go.mod from the same origin.
        oracle_home = tmp_path / "oracle"
        oracle_work = oracle_home / "work"
        oracle_work.mkdir(parents=True)
        (oracle_work / "go.mod").write_text(main_go_mod)
        (oracle_work / "go.sum").write_text("")
        env = go_environ(oracle_home, goproxy=origin.url, gosumdb=db.gosumdb)
        run = await asyncio.to_thread(run_go, ["mod", "download"], cwd=oracle_work, env=env)
        assert run.returncode == 0, run.stderr
    origin_requests = len(origin.requests)
    db_requests = (db.stats.lookups, db.stats.tiles, db.stats.latest)

    modules = await asyncio.to_thread(_manifest_modules, bundle)
    zips = {(m.path, m.version) for m in modules if m.zip}
    mods = {(m.path, m.version) for m in modules}
    assert zips == await asyncio.to_thread(_download_dir_files, oracle_home, "zip")
    assert mods == await asyncio.to_thread(_download_dir_files, oracle_home, "mod")
    assert zips == expected_zips
    assert mods - zips == expected_mod_only

    cache = tmp_path / "offline-cache"
    argv = ["bundle", "import", str(bundle), "--verifier-key", db.key.verifier_key]
    assert await asyncio.to_thread(main, [*argv, "--cache-dir", str(cache)]) == 0

    offline_db = dataclasses.replace(db, url=_closed_port_url())
    async with running_proxy(cache, upstream="off", sumdb=offline_db) as proxy:
        home = tmp_path / "go"
        work = home / "work"
        work.mkdir(parents=True)
        (work / "go.mod").write_text(main_go_mod)
        (work / "main.go").write_text(_MAIN_GO)
        (work / "go.sum").write_text("")
        env = go_environ(home, goproxy=proxy.url, gosumdb=db.key.verifier_key)
        run = await asyncio.to_thread(run_go, ["mod", "download"], cwd=work, env=env)
        assert run.returncode == 0, run.stderr
        run = await asyncio.to_thread(run_go, ["build", "-o", "app", "."], cwd=work, env=env)
        assert run.returncode == 0, run.stderr
    built = await asyncio.to_thread(
        subprocess.run, [str(work / "app")], capture_output=True, text=True, check=True
    )
    assert built.stdout == output + "\n"  # b at its selected version, v1.1.0
    assert await asyncio.to_thread(_download_dir_files, home, "zip") == zips
    assert (home / "gopath" / "pkg" / "sumdb" / db.name / "latest").is_file()
    # Nothing reached the stopped servers after the bundle was made.
    assert len(origin.requests) == origin_requests
    assert db_requests == (db.stats.lookups, db.stats.tiles, db.stats.latest)


@pytest.mark.asyncio
async def test_a_go_mod_bundle_carries_the_toolchain_line_for_each_platform(
    tmp_path: Path,
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text("module example.com/tc\n\ngo 1.21\n\ntoolchain go1.99.1\n")
    bundle = tmp_path / "tc.bundle"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", _TOOLCHAINS) as db,
    ):
        publish(origin, *_TOOLCHAINS)
        argv = ["bundle", "create", "--go-mod", str(app / "go.mod"), "-o", str(bundle)]
        argv += ["--upstream", origin.url, "--sumdb", db.gosumdb]
        argv += ["--platform", "linux/amd64", "--platform", "darwin/arm64"]
        assert await asyncio.to_thread(main, argv) == 0

    modules = await asyncio.to_thread(_manifest_modules, bundle)
    assert set(modules) == {
        BundleModule(_TC, "v0.0.1-go1.99.1.linux-amd64", True),
        BundleModule(_TC, "v0.0.1-go1.99.1.darwin-arm64", True),
    }

    cache = tmp_path / "offline-cache"
    argv = ["bundle", "import", str(bundle), "--verifier-key", db.key.verifier_key]
    assert await asyncio.to_thread(main, [*argv, "--cache-dir", str(cache)]) == 0
    wanted, darwin, other = _TOOLCHAINS
    assert (cache / wanted.rel("zip")).read_bytes() == wanted.zip
    assert not (cache / other.rel("zip")).exists()

    offline_db = dataclasses.replace(db, url=_closed_port_url())
    async with (
        running_proxy(cache, upstream="off", sumdb=offline_db) as proxy,
        aiohttp.ClientSession() as session,
    ):
        for m in (wanted, darwin):
            async with session.get(f"{proxy.url}/{m.rel('zip')}") as resp:
                assert resp.status == 200
                assert await resp.read() == m.zip
        async with session.get(f"{proxy.url}/{other.rel('zip')}") as resp:
            assert resp.status in (404, 410)

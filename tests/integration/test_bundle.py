"""Air-gapped bundles: create against a live origin and database, then serve offline.

Synthetic modules are served by a local origin and logged in our own checksum database, both
on 127.0.0.1. ``bundle create`` fetches and verifies them from a go.sum; then both servers are
stopped, the bundle is imported into a fresh cache, and ``gomodproxy serve --upstream off``
answers the real go command, which finds the database by name and key only (through the
proxy's ``/sumdb/<name>/supported``) and verifies every download against the relayed proofs.
The database URL the offline proxy is given is a closed port: every answer comes from the cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import socket
import tarfile
from pathlib import Path

import pytest

from gomodproxy.admin.bundlecreate import create_bundle, wanted_from_go_sum
from gomodproxy.admin.bundleformat import BundleError, file_entry
from gomodproxy.admin.bundleimport import import_bundle
from gomodproxy.assembly import check_settings
from gomodproxy.cli.main import main
from gomodproxy.config import build_settings
from gomodproxy.module.gosum import parse_go_sum
from gomodproxy.storage import StorageSettings, open_storage
from gomodproxy.tlog import note
from tests.gotool import go_environ, run_go
from tests.origin import running_origin
from tests.proxykit import SumDB, SynthModule, publish, running_proxy, running_sumdb, synth

_A = synth("example.com/bundle/a", "v1.0.0")
_B = synth("example.com/bundle/b", "v1.2.0", size=3000)
_C = synth("example.com/bundle/c", "v0.1.0")  # go.mod line only in the go.sum


def _go_sum() -> bytes:
    lines = [
        f"{_A.path} {_A.version} {_A.zip_h1}",
        f"{_A.path} {_A.version}/go.mod {_A.mod_h1}",
        f"{_B.path} {_B.version} {_B.zip_h1}",
        f"{_B.path} {_B.version}/go.mod {_B.mod_h1}",
        f"{_C.path} {_C.version}/go.mod {_C.mod_h1}",
    ]
    return ("\n".join(lines) + "\n").encode()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _make_bundle(tmp_path: Path, target: Path) -> tuple[SumDB, int, tuple[int, int, int]]:
    """Create the bundle; return the (stopped) database, and the request counts of the origin
    and the database once both are stopped."""
    modules: list[SynthModule] = [_A, _B, _C]
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", modules) as db,
    ):
        publish(origin, *modules)
        values = {
            "upstream": origin.url,
            "sumdb": db.gosumdb,
            "cache-dir": str(tmp_path / "unused"),
            "retries": "0",
            "listen": "127.0.0.1:0",
        }
        settings = build_settings(values, {"HOME": str(tmp_path)}, go_env=lambda names: {})
        wanted = wanted_from_go_sum(parse_go_sum(_go_sum()))
        manifest = await create_bundle(check_settings(settings), wanted, target)
        assert manifest.sumdb_name == db.name
        assert manifest.tree_size == 3
    stats = db.stats
    return db, len(origin.requests), (stats.lookups, stats.tiles, stats.latest)


def _module_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file() and ".gomodproxy" not in p.parts]


@pytest.mark.gocmd
@pytest.mark.asyncio
async def test_a_bundle_imported_offline_serves_the_go_command_with_proofs(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "mods.bundle"
    db, origin_requests, db_requests = await _make_bundle(tmp_path, bundle)
    assert origin_requests > 0
    assert db_requests[0] > 0

    cache = tmp_path / "offline-cache"
    argv = ["bundle", "import", str(bundle), "--verifier-key", db.key.verifier_key]
    status = await asyncio.to_thread(main, [*argv, "--cache-dir", str(cache)])
    assert status == 0
    assert (cache / "sumdb" / db.name / "supported").is_file()
    assert (cache / "sumdb" / db.name / "latest").is_file()
    assert (cache / _C.rel("mod")).read_bytes() == _C.mod
    assert not (cache / _C.rel("zip")).exists()
    assert (cache / _B.list_rel).read_bytes() == b"v1.2.0\n"

    offline_db = dataclasses.replace(db, url=_closed_port_url())
    async with running_proxy(cache, upstream="off", sumdb=offline_db) as proxy:
        home = tmp_path / "go"
        work = home / "work"
        work.mkdir(parents=True)
        (work / "go.mod").write_text("module example.com/offline\n\ngo 1.21\n")
        (work / "go.sum").write_text("")
        env = go_environ(home, goproxy=proxy.url, gosumdb=db.key.verifier_key)
        ids = [f"{m.path}@{m.version}" for m in (_A, _B)]
        run = await asyncio.to_thread(run_go, ["mod", "download", "-json", *ids], cwd=work, env=env)
        assert run.returncode == 0, run.stderr
        docs = [json.loads(chunk) for chunk in run.stdout.replace("}\n{", "}\n\x00{").split("\x00")]
        assert {d["Path"]: d["Sum"] for d in docs} == {_A.path: _A.zip_h1, _B.path: _B.zip_h1}
        assert all("Error" not in d for d in docs)
    # The go command proved the downloads against the database: it remembers its tree head.
    assert (home / "gopath" / "pkg" / "sumdb" / db.name / "latest").is_file()
    # Nothing reached the stopped servers after the bundle was made.
    assert db_requests == (db.stats.lookups, db.stats.tiles, db.stats.latest)


async def _rewrite(
    bundle: Path, target: Path, member_suffix: str, *, fix_manifest: bool, swap: bytes = b""
) -> None:
    """Copy ``bundle`` to ``target`` with one byte of the member ending in ``member_suffix``
    flipped (or the member replaced by ``swap``); with ``fix_manifest``, the manifest records
    the altered member's new hash."""

    def rewrite() -> None:
        with tarfile.open(bundle) as tar:
            members = {}
            for info in tar:
                handle = tar.extractfile(info)
                assert handle is not None
                members[info.name] = handle.read()
        name = next(n for n in members if n.endswith(member_suffix))
        data = bytearray(members[name])
        data[len(data) // 2] ^= 0x01
        members[name] = swap or bytes(data)
        if fix_manifest:
            doc = json.loads(members["manifest.json"])
            for entry in doc["files"]:
                if entry["name"] == name:
                    entry["sha256"], entry["size"] = file_entry(members[name])
            members["manifest.json"] = json.dumps(doc).encode()
        with tarfile.open(target, "w") as out:
            for member, content in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(content)
                out.addfile(info, io.BytesIO(content))

    await asyncio.to_thread(rewrite)


# A valid zip of the same module version with other content: only the h1: check refuses it.
_B_OTHER = dataclasses.replace(_B, files={**_B.files, "m.go": b"package m // changed\n"})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("suffix", "fix_manifest", "swap"),
    [
        (".zip", False, b""),  # the manifest's SHA-256 refuses it
        (".zip", True, b""),  # the zip no longer reads (CRC)
        (".mod", True, b""),  # the go.mod's h1: is not the proven one
        (".zip", True, _B_OTHER.zip),  # the zip's h1: is not the proven one
    ],
    ids=["zip-byte", "zip-byte-manifest-fixed", "mod-byte-manifest-fixed", "zip-swapped"],
)
async def test_an_altered_bundle_is_refused_whole(
    tmp_path: Path, suffix: str, fix_manifest: bool, swap: bytes
) -> None:
    bundle = tmp_path / "mods.bundle"
    db, _, _ = await _make_bundle(tmp_path, bundle)
    altered = tmp_path / "altered.bundle"
    await _rewrite(bundle, altered, _B.rel(suffix[1:]), fix_manifest=fix_manifest, swap=swap)
    cache = tmp_path / "cache"
    opened = await asyncio.to_thread(open_storage, StorageSettings("filesystem", cache))
    with pytest.raises(BundleError):
        await import_bundle(altered, db.key.verifier_key, opened.store)
    assert await asyncio.to_thread(_module_files, cache) == []
    # The same bundle unaltered is accepted.
    await import_bundle(bundle, db.key.verifier_key, opened.store)
    assert (cache / _B.rel("zip")).read_bytes() == _B.zip


@pytest.mark.asyncio
async def test_a_bundle_checked_with_another_verifier_key_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "mods.bundle"
    db, _, _ = await _make_bundle(tmp_path, bundle)
    other_key = note.generate_key(db.name)[1]
    cache = tmp_path / "cache"
    opened = await asyncio.to_thread(open_storage, StorageSettings("filesystem", cache))
    with pytest.raises(BundleError):
        await import_bundle(bundle, other_key, opened.store)
    assert await asyncio.to_thread(_module_files, cache) == []
    status = await asyncio.to_thread(
        main,
        ["bundle", "import", str(bundle), "--verifier-key", other_key, "--cache-dir", str(cache)],
    )
    assert status == 1
    assert await asyncio.to_thread(_module_files, cache) == []

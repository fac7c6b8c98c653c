"""The proof at a real project's scale: the go command downloads a whole build list through us.

Each project of ``tests/projects`` is a real project's released go.mod and go.sum (Helm: 330
modules, Prometheus: 418). ``scripts/fetch-corpus`` had the go command download the project's
build list (``go mod download all``); that ``cache/download`` folder is the project's local
upstream here, served by an origin of ours on 127.0.0.1 that counts requests.

Our checksum database logs every version of that folder: the zip and go.mod lines of the build
list, and the go.mod line alone of the versions whose go.mod the module graph needed. Before it
is used, each logged hash is compared with the project's own released go.sum, which the
project's developers recorded against the public checksum database.

The go command then gets a fresh GOMODCACHE, the project's go.mod with an empty go.sum,
``GOPROXY=<our proxy>`` and ``GOSUMDB=<name+key>`` without a URL, so every go.mod and zip it
accepts was verified through our relay, and runs ``go mod download -json all``. A second run
in a fresh module cache, with the origin stopped, must be answered wholly from our cache.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from gomodproxy.sumdbserver import ModuleSums, sums_from_cache
from tests.corpus_data import PROJECTS, Project, project
from tests.gotool import go_environ, run_go
from tests.origin import Origin
from tests.proxykit import running_proxy, running_sumdb

pytestmark = [pytest.mark.gocmd, pytest.mark.corpus, pytest.mark.slow]


def _json_stream(stdout: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    text, pos = stdout.strip(), 0
    while pos < len(text):
        doc, pos = decoder.raw_decode(text, pos)
        out.append(doc)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _check_against_released_go_sum(proj: Project, sums: Sequence[ModuleSums]) -> int:
    """Our hash of every logged file equals the project's go.sum line, where it has one."""
    released = proj.go_sum()
    compared = 0
    for s in sums:
        mod_line = released.get((s.path, s.version + "/go.mod"))
        if mod_line is not None:
            assert s.mod_hash == mod_line, f"{s.path}@{s.version}/go.mod"
            compared += 1
        zip_line = released.get((s.path, s.version))
        if zip_line is not None and s.zip_hash is not None:
            assert s.zip_hash == zip_line, f"{s.path}@{s.version}"
            compared += 1
    return compared


async def _go_mod_download_all(
    proj: Project, home: Path, goproxy: str, gosumdb: str
) -> subprocess.CompletedProcess[str]:
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_bytes(proj.go_mod)
    (work / "go.sum").write_text("")
    env = go_environ(home, goproxy=goproxy, gosumdb=gosumdb)
    return await asyncio.to_thread(
        run_go, ["mod", "download", "-json", "all"], cwd=work, env=env, timeout=1200
    )


def _assert_all_downloaded(
    run: subprocess.CompletedProcess[str], logged: dict[tuple[str, str], ModuleSums]
) -> list[dict[str, object]]:
    assert run.returncode == 0, run.stderr[-4000:]
    results = _json_stream(run.stdout)
    errors = [r for r in results if "Error" in r]
    assert not errors, errors[:3]
    for r in results:
        s = logged[(str(r["Path"]), str(r["Version"]))]
        # What the go command accepted is what the database logged (and so the released go.sum).
        assert (r["Sum"], r["GoModSum"]) == (s.zip_hash, s.mod_hash), r["Path"]
    return results


def _identity(result: dict[str, object]) -> tuple[object, ...]:
    return tuple(result.get(k) for k in ("Path", "Version", "Sum", "GoModSum"))


@pytest.mark.asyncio
@pytest.mark.parametrize("name", PROJECTS)
async def test_go_mod_download_all_of_a_real_project_verifies_every_module_through_our_relay(
    name: str, tmp_path: Path
) -> None:
    proj = project(name)
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    logged = {(s.path, s.version): s for s in sums}
    assert len(proj.zips()) >= 100
    assert _check_against_released_go_sum(proj, sums) >= len(proj.zips())

    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
        origin = Origin(proj.download_dir)
        await origin.start()
        try:
            async with running_proxy(
                tmp_path / "proxy-cache", upstream=origin.url, sumdb=db
            ) as proxy:
                first = await _go_mod_download_all(
                    proj, tmp_path / "first", proxy.url, db.key.verifier_key
                )
                results = _assert_all_downloaded(first, logged)
                assert len(results) == len(proj.zips())

                # Every module the go command took was looked up in our database, through the
                # relay (the name alone does not resolve), and each zip was verified once.
                stats = db.stats
                zips = {f"{r['Path']}@{r['Version']}" for r in results}
                assert zips <= set(stats.lookups_by_module), zips - set(stats.lookups_by_module)
                assert stats.lookups_not_found == 0
                assert proxy.metrics.verifications.value("zip", "ok") == len(zips)
                assert proxy.metrics.verifications.value("zip", "mismatch") == 0
                assert proxy.metrics.verifications.value("mod", "mismatch") == 0
                zip_fetches = origin.count(suffix=".zip")
                assert zip_fetches == len(zips)

                await origin.stop()
                served_before = len(origin.requests)
                second = await _go_mod_download_all(
                    proj, tmp_path / "second", proxy.url, db.key.verifier_key
                )
                again = _assert_all_downloaded(second, logged)
                assert [_identity(r) for r in again] == [_identity(r) for r in results]
                assert len(origin.requests) == served_before
        finally:
            await origin.stop()

"""``gomodproxy download`` against ``go mod download`` on real go.mod files (issue 11, proof).

Helm's released go.mod (tests/projects/helm) with an empty go.sum, fzf's released go.mod with
its released go.sum (tests/projects/fzf: a command-line tool with a small build list; its
go.sum lacks lines the go command adds, so go.sum updates are compared), and the corpus's go.mod
(tests/corpus) with its full go.sum, each downloaded twice from one loopback origin that serves
the real modules and counts requests: once by the go command, once by us, each into a scratch
GOPATH of its own. For Helm the checksum database is ours (tests/proxykit.py) holding exactly
the hashes of the project's modules, named by key and URL, so with the empty go.sum both
clients really ask it. The two runs must print the same ``-json`` objects (cache roots aside),
write the same go.sum and the same module cache. Then the go command, offline, accepts our
cache (``go mod download all``, ``go mod verify``), and a second run of ours fetches nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gomodproxy.sumdbserver import sums_from_cache
from tests.corpus_data import CORPUS_DIR, corpus_download_dir, project
from tests.integration.clientkit import Home, cache_listing, normalized_json, run_ours
from tests.origin import Origin
from tests.proxykit import running_sumdb

pytestmark = [pytest.mark.gocmd, pytest.mark.corpus, pytest.mark.slow]


def _without_sumdb_cache(listing: set[str]) -> set[str]:
    # Which tiles a verifier caches depends on how it walks the tree; what it proved is the
    # same (the lookups are compared separately).
    return {e for e in listing if "cache/download/sumdb/" not in e.split(" ", 1)[1] + "/"}


def _lookups(listing: set[str]) -> set[str]:
    return {e for e in listing if "/lookup/" in e}


@pytest.mark.asyncio
async def test_helm_no_arguments_matches_the_go_command_with_our_checksum_database(
    tmp_path: Path,
) -> None:
    proj = project("helm")
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
        origin = Origin(proj.download_dir)
        await origin.start()
        try:
            theirs = Home(tmp_path / "go", origin.url, db.gosumdb).setup(proj.go_mod)
            ours = Home(tmp_path / "ours", origin.url, db.gosumdb).setup(proj.go_mod)
            go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json")
            assert go_run.returncode == 0, go_run.stderr[-3000:]
            go_lookups = db.stats.lookups
            our_run = await asyncio.to_thread(ours.ours, "-json")
            assert our_run.returncode == 0, our_run.stderr[-3000:]
            assert our_run.stderr == ""
            # Really asked: the empty go.sum left every hash to the database.
            assert db.stats.lookups - go_lookups >= 100

            ours_json = normalized_json(our_run.stdout, ours.root)
            assert len(ours_json) >= 50
            assert ours_json == normalized_json(go_run.stdout, theirs.root)
            assert ours.go_sum() == theirs.go_sum()
            assert ours.go_sum().count("\n") >= 200
            ours_cache = await asyncio.to_thread(cache_listing, ours.modcache)
            go_cache = await asyncio.to_thread(cache_listing, theirs.modcache)
            assert _without_sumdb_cache(ours_cache) == _without_sumdb_cache(go_cache)
            assert _lookups(ours_cache) == _lookups(go_cache)
            latest = ours.root / "gopath" / "pkg" / "sumdb" / db.name / "latest"
            assert (
                latest.read_bytes()
                == (theirs.root / "gopath" / "pkg" / "sumdb" / db.name / "latest").read_bytes()
            )

            # A second run is answered by the cache alone.
            served = len(origin.requests)
            again = await asyncio.to_thread(ours.ours, "-json")
            assert again.returncode == 0, again.stderr[-3000:]
            assert again.stdout == our_run.stdout
            assert len(origin.requests) == served
        finally:
            await origin.stop()

    # The go command, offline and without the database, takes our cache as its own.
    offline = {"GOPROXY": "off", "GOSUMDB": "off"}
    listed = await asyncio.to_thread(ours.go, "mod", "download", "-json", **offline)
    assert listed.returncode == 0, listed.stderr[-3000:]
    verify = await asyncio.to_thread(ours.go, "mod", "verify", **offline)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    assert "all modules verified" in verify.stdout


FZF_MAIN = """package main

import (
\t"fmt"

\t"github.com/charlievieth/fastwalk"
\t"github.com/gdamore/tcell/v2"
\t"github.com/junegunn/go-shellwords"
\t"github.com/rivo/uniseg"
)

func main() {
\targs, _ := shellwords.Parse("a 'b c'")
\tfmt.Println(args, uniseg.StringWidth("fzf"), tcell.ColorRed, fastwalk.DefaultConfig)
}
"""


@pytest.mark.asyncio
async def test_fzf_with_its_released_go_sum_matches_the_go_command(tmp_path: Path) -> None:
    """fzf v0.65.2's go.mod and go.sum as released, ``download -json all``: the same -json,
    the same go.sum after (the lines the go command adds for ``all``, and only those), the
    same cache; the hashes go.sum lacks are asked of our checksum database by both, as many
    lookups each; then the go command builds a program of fzf's dependencies offline against
    our cache."""
    proj = project("fzf")
    released = (proj.source_dir / "go.sum").read_bytes()
    sums = await asyncio.to_thread(sums_from_cache, proj.download_dir)
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [s.record_text() for s in sums])
        origin = Origin(proj.download_dir)
        await origin.start()
        try:
            theirs = Home(tmp_path / "go", origin.url, db.gosumdb).setup(proj.go_mod, released)
            ours = Home(tmp_path / "ours", origin.url, db.gosumdb).setup(proj.go_mod, released)
            go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json", "all")
            assert go_run.returncode == 0, go_run.stderr[-3000:]
            go_lookups = db.stats.lookups
            our_run = await asyncio.to_thread(ours.ours, "-json", "all")
            assert our_run.returncode == 0, our_run.stderr[-3000:]
            assert our_run.stderr == ""
            assert go_lookups > 0
            assert db.stats.lookups - go_lookups == go_lookups

            ours_json = normalized_json(our_run.stdout, ours.root)
            assert len(ours_json) == len(proj.zips())
            assert ours_json == normalized_json(go_run.stdout, theirs.root)
            assert ours.go_sum() == theirs.go_sum()
            assert ours.go_sum().encode() != released  # the go command added lines: so did we
            ours_cache = await asyncio.to_thread(cache_listing, ours.modcache)
            go_cache = await asyncio.to_thread(cache_listing, theirs.modcache)
            assert _without_sumdb_cache(ours_cache) == _without_sumdb_cache(go_cache)
            assert _lookups(ours_cache) == _lookups(go_cache)

            served = len(origin.requests)
            again = await asyncio.to_thread(ours.ours, "-json", "all")
            assert again.returncode == 0, again.stderr[-3000:]
            assert again.stdout == our_run.stdout
            assert len(origin.requests) == served
        finally:
            await origin.stop()

    # A program of fzf's own dependencies builds offline from our cache.
    (ours.work / "main.go").write_text(FZF_MAIN)
    offline = {"GOPROXY": "off", "GOSUMDB": "off"}
    build = await asyncio.to_thread(ours.go, "build", "-o", "fzf-deps", ".", **offline)
    assert build.returncode == 0, build.stderr[-3000:]
    verify = await asyncio.to_thread(ours.go, "mod", "verify", **offline)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    assert "all modules verified" in verify.stdout


@pytest.mark.asyncio
async def test_corpus_with_its_go_sum_matches_the_go_command_and_leaves_go_sum_alone(
    tmp_path: Path,
) -> None:
    go_mod = (CORPUS_DIR / "go.mod").read_bytes()
    go_sum = (CORPUS_DIR / "go.sum").read_bytes()
    origin = Origin(corpus_download_dir())
    await origin.start()
    try:
        theirs = Home(tmp_path / "go", origin.url).setup(go_mod, go_sum)
        ours = Home(tmp_path / "ours", origin.url).setup(go_mod, go_sum)
        go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json")
        assert go_run.returncode == 0, go_run.stderr[-3000:]
        our_run = await asyncio.to_thread(ours.ours, "-json")
        assert our_run.returncode == 0, our_run.stderr[-3000:]
        ours_json = normalized_json(our_run.stdout, ours.root)
        assert len(ours_json) >= 80
        assert ours_json == normalized_json(go_run.stdout, theirs.root)
        assert ours.go_sum().encode() == go_sum
        ours_cache = await asyncio.to_thread(cache_listing, ours.modcache)
        assert ours_cache == await asyncio.to_thread(cache_listing, theirs.modcache)

        served = len(origin.requests)
        again = await asyncio.to_thread(ours.ours)
        assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
        assert len(origin.requests) == served
    finally:
        await origin.stop()
    offline = await asyncio.to_thread(ours.go, "mod", "verify", GOPROXY="off")
    assert offline.returncode == 0, offline.stdout[-3000:] + offline.stderr[-3000:]


@pytest.mark.asyncio
async def test_f79_the_go_command_and_we_fill_one_module_cache_at_the_same_time(
    tmp_path: Path,
) -> None:
    """Both take the same locks (``<v>.lock``, ``list``, ``cache/lock``): run together on one
    GOMODCACHE, each finishes, and the cache is whole for the go command offline."""
    go_mod = (CORPUS_DIR / "go.mod").read_bytes()
    go_sum = (CORPUS_DIR / "go.sum").read_bytes()
    origin = Origin(corpus_download_dir())
    await origin.start()
    try:
        theirs = Home(tmp_path / "shared", origin.url).setup(go_mod, go_sum)
        ours = Home(tmp_path / "shared", origin.url)
        our_work = tmp_path / "shared" / "ours-work"
        our_work.mkdir()
        (our_work / "go.mod").write_bytes(go_mod)
        (our_work / "go.sum").write_bytes(go_sum)
        go_task = asyncio.to_thread(theirs.go, "mod", "download", "-json")
        our_task = asyncio.to_thread(run_ours, ["-json"], cwd=our_work, env=ours.env())
        go_run, our_run = await asyncio.gather(go_task, our_task)
    finally:
        await origin.stop()
    assert go_run.returncode == 0, go_run.stderr[-3000:]
    assert our_run.returncode == 0, our_run.stderr[-3000:]
    assert our_run.stdout == go_run.stdout
    verify = await asyncio.to_thread(theirs.go, "mod", "verify", GOPROXY="off")
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    download = theirs.modcache / "cache" / "download"
    leftovers = [p for p in download.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    leftovers += [p for p in theirs.modcache.glob("*/*") if ".tmp-" in p.name]
    assert leftovers == []

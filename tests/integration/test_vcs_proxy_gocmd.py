"""The go command builds private modules fetched by gomodproxy from git, and nothing private
leaves for a public upstream or checksum database (issue 12 sections 5 and 6).

gomodproxy runs with ``--goprivate github.com/gmptest`` and ``--vcs-rewrite`` to the loopback
git server, in front of a recording upstream (tests/origin.py) and a recording checksum
database (our own). The go command uses it as GOPROXY with GONOSUMDB for the private prefix (not
GOPRIVATE: that would make the go command fetch directly and skip the proxy). Its go.mod and
go.sum must equal those of the go command fetching the same repositories directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.modzip.extract import remove_tree
from tests.gotool import go_environ, run_go
from tests.origin import running_origin
from tests.proxykit import running_proxy, running_sumdb
from tests.vcsrepos import ORG, Site, serving_test_repos

pytestmark = [pytest.mark.gocmd, pytest.mark.slow]

_MAIN = f"""package main

import (
\t"fmt"

\t"{ORG}/alpha"
\t"{ORG}/alpha/sub"
\tbeta "{ORG}/beta/v2"
\t"{ORG}/gamma"
)

func main() {{ fmt.Println(alpha.Version, sub.Name, beta.V, beta.More, gamma.G) }}
"""
_GO_MOD = "module example.com/app\n\ngo 1.21\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving_test_repos(tmp_path_factory.mktemp("vcs")) as served:
        yield served


def _tidy_and_run(home: Path, env: dict[str, str]) -> tuple[str, str, str]:
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_text(_GO_MOD)
    (work / "main.go").write_text(_MAIN)
    tidy = run_go(["mod", "tidy"], cwd=work, env=env, timeout=300)
    assert tidy.returncode == 0, tidy.stderr
    ran = run_go(["run", "."], cwd=work, env=env, timeout=300)
    assert ran.returncode == 0, ran.stderr
    return (work / "go.mod").read_text(), (work / "go.sum").read_text(), ran.stdout


@pytest.mark.asyncio
async def test_go_builds_private_modules_through_us_and_nothing_leaks(
    site: Site, tmp_path: Path
) -> None:
    direct = await asyncio.to_thread(_tidy_and_run, tmp_path / "direct", dict(site.env))
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=ORG,
            vcs_rewrite=site.rewrite,
        ) as proxy,
    ):
        env = go_environ(tmp_path / "ours", goproxy=proxy.url, gosumdb=db.gosumdb, gonosumdb=ORG)
        ours = await asyncio.to_thread(_tidy_and_run, tmp_path / "ours", env)
        assert ours == direct
        assert "v1.4.0" not in ours[0]  # retracted: tidy picked v1.3.0, as directly
        assert f"{ORG}/gamma v3.1.0+incompatible" in ours[0]
        # Privacy: the public upstream and the checksum database were never asked about them.
        assert not [r.path for r in origin.requests if "gmptest" in r.path]
        assert db.stats.lookups == 0
        assert db.stats.lookups_not_found == 0
        assert site.server.requests  # what was fetched came from the loopback git server
    await asyncio.to_thread(remove_tree, tmp_path)


def _records(site: Site) -> list[bytes]:
    """Checksum-database records of every tagged version of the private modules, hashed by
    the go command in direct mode (what a company would log as it tags)."""
    records = []
    for name in ("alpha", "alpha/sub", "beta", "beta/v2", "gamma"):
        path = f"{ORG}/{name}"
        listed = run_go(
            ["list", "-m", "-retracted", "-versions", "-json", path],
            cwd=site.root / "home",
            env=site.env,
            check=True,
        )
        for version in json.loads(listed.stdout)["Versions"]:
            got = run_go(
                ["mod", "download", "-json", f"{path}@{version}"],
                cwd=site.root / "home",
                env=site.env,
                check=True,
            )
            d = json.loads(got.stdout)
            records.append(
                f"{path} {version} {d['Sum']}\n{path} {version}/go.mod {d['GoModSum']}\n".encode()
            )
    return records


@pytest.mark.asyncio
async def test_private_modules_verified_by_our_own_checksum_database(
    site: Site, tmp_path: Path
) -> None:
    """``--gonoproxy`` alone routes the private modules to git while ``--gonosumdb`` stays
    empty, so the proxy verifies them; the go command verifies them too, against the
    company's own checksum database (ours) that logged them. The public upstream is never
    asked; the database is."""
    _mod, go_sum, _out = await asyncio.to_thread(_tidy_and_run, tmp_path / "direct", dict(site.env))
    records = await asyncio.to_thread(_records, site)
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            gonoproxy=ORG,
            vcs_rewrite=site.rewrite,
        ) as proxy,
    ):
        await asyncio.to_thread(db.store.append, records)
        env = go_environ(tmp_path / "ours", goproxy=proxy.url, gosumdb=db.gosumdb)
        ours = await asyncio.to_thread(_tidy_and_run, tmp_path / "ours", env)
        assert ours[1] == go_sum
        assert db.stats.lookups > 0
        assert not [r.path for r in origin.requests if "gmptest" in r.path]
    await asyncio.to_thread(remove_tree, tmp_path)


@pytest.mark.asyncio
async def test_a_private_module_unknown_to_the_database_is_refused(
    site: Site, tmp_path: Path
) -> None:
    """The same set-up with nothing logged: the proxy refuses what it cannot verify (its
    database does not know the private module) instead of serving it unverified."""
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            gonoproxy=ORG,
            vcs_rewrite=site.rewrite,
        ) as proxy,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{proxy.url}/{ORG}/gamma/@v/v1.0.0.mod") as r:
            assert r.status >= 400
        assert db.stats.lookups_not_found >= 1
        assert not (tmp_path / "cache" / ORG / "gamma" / "@v" / "v1.0.0.mod").exists()
        assert not [r.path for r in origin.requests if "gmptest" in r.path]

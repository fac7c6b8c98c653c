"""``gomodproxy download`` of private modules through ``direct`` (issues 11 and 12).

The repositories of :mod:`tests.vcsrepos` are served by the real ``git http-backend`` on
loopback under ``github.com/gmptest/...`` module paths. The user's git configuration
(``GIT_CONFIG_GLOBAL``) rewrites ``https://github.com/gmptest/`` to that server with
``url.<base>.insteadOf``; both the go command and gomodproxy get exactly the same environment
(GOPRIVATE set, so GONOSUMDB too), each with a module cache of its own. gomodproxy finds the
repository as the go command does: ``github.com/<org>/<repo>`` is a host of the go command's
table (no meta tags), cloned from ``https://github.com/<org>/<repo>``, which the user's
``insteadOf`` sends to loopback. Nothing leaves loopback: no DNS name is resolved (the git
server sees every request; the public proxy, when in the list, sees none for private paths).

The two runs must print the same ``-json`` (cache roots aside), write the same go.sum and the
same cache files (``.info`` with its Origin, ``.mod``, ``.ziphash``, extracted trees); then the
go command builds a program offline against the cache we wrote.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.sumdbserver import ModuleSums
from tests.corpus_data import corpus_download_dir
from tests.integration.clientkit import Home, cache_listing, normalized_json, run_ours
from tests.origin import Origin
from tests.proxykit import SumDB, running_sumdb
from tests.vcsrepos import ORG, Site, serving_test_repos

pytestmark = [pytest.mark.gocmd, pytest.mark.slow, pytest.mark.asyncio]

PUBLIC = "github.com/cespare/xxhash/v2"

GO_MOD = f"""module example.com/app

go 1.21

require (
\t{ORG}/alpha v1.1.0
\t{ORG}/alpha/sub v0.2.0
\t{ORG}/beta/v2 v2.1.0
\t{ORG}/gamma v2.0.0+incompatible
)
"""

MAIN_GO = f"""package main

import (
\t"fmt"

\t"{ORG}/alpha"
\t"{ORG}/alpha/sub"
\tbeta "{ORG}/beta/v2"
\t"{ORG}/gamma"
)

func main() {{
\tfmt.Println(alpha.Version, sub.Name, beta.More, gamma.G)
}}
"""

PUBLIC_MAIN_GO = f"""package main

import (
\t"fmt"

\t"{ORG}/alpha"
\t"{PUBLIC}"
)

func main() {{
\tfmt.Println(alpha.Version, xxhash.Sum64String("x"))
}}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving_test_repos(tmp_path_factory.mktemp("vcs")) as served:
        yield served


def _user_env(site: Site) -> dict[str, str]:
    """What the user has set: GOPRIVATE and a git configuration with ``insteadOf``."""
    return {
        "GOPRIVATE": ORG,
        "GIT_CONFIG_GLOBAL": str(site.git_config),
        "GIT_TERMINAL_PROMPT": "0",
    }


def _cache_files(modcache: Path) -> dict[str, bytes]:
    """``cache/download`` files by relative path (``.info``, ``.mod``, ``.ziphash``, ``list``,
    zips), lock files aside."""
    root = modcache / "cache" / "download"
    out: dict[str, bytes] = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and not f.name.endswith(".lock"):
            out[f.relative_to(root).as_posix()] = f.read_bytes()
    return out


def _without_clones(listing: set[str]) -> set[str]:
    """The listing less each program's own git clones (``cache/vcs`` for the go command,
    ``cache/gomodproxy-vcs`` for us)."""
    return {e for e in listing if not e.split(" ", 1)[1].startswith(("cache/vcs", "cache/gomod"))}


def _compare(
    ours: Home, theirs: Home, our_out: str, go_out: str, *, in_module: bool = True
) -> list[dict[str, object]]:
    ours_json = normalized_json(our_out, ours.root)
    assert ours_json == normalized_json(go_out, theirs.root)
    if in_module:
        assert ours.go_sum() == theirs.go_sum()
    our_files = _cache_files(ours.modcache)
    go_files = _cache_files(theirs.modcache)
    assert sorted(our_files) == sorted(go_files)
    for name, data in go_files.items():
        if name.endswith(".info"):
            # Compared as test_vcs_gocmd.py compares them: as JSON (Origin's URL included
            # here: both name the module's own https URL, not where insteadOf sent git).
            assert json.loads(our_files[name]) == json.loads(data), name
        elif not name.endswith(".zip"):
            # Zips hold the same files (their .ziphash, the h1: of the content, are equal) in
            # an order of each program's own.
            assert our_files[name] == data, name
    our_cache = _without_clones(cache_listing(ours.modcache))
    assert our_cache == _without_clones(cache_listing(theirs.modcache))
    assert (ours.modcache / "cache" / "gomodproxy-vcs" / "repos").is_dir()
    return ours_json


async def test_private_modules_through_direct_match_the_go_command(
    site: Site, tmp_path: Path
) -> None:
    """GOPROXY=direct: the required private modules (a module in a subdirectory, v2 on a
    branch, ``+incompatible``) and then branch queries (pseudo-versions) are downloaded as the
    go command downloads them; the go command builds offline against our cache."""
    env = _user_env(site)
    theirs = Home(tmp_path / "go", "direct").setup(GO_MOD)
    ours = Home(tmp_path / "ours", "direct").setup(GO_MOD)
    for home in (theirs, ours):
        (home.work / "main.go").write_text(MAIN_GO)
    go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json", **env)
    assert go_run.returncode == 0, go_run.stdout + go_run.stderr
    before = len(site.server.requests)
    our_run = await asyncio.to_thread(ours.ours, "-json", **env)
    assert our_run.returncode == 0, our_run.stdout + our_run.stderr
    assert our_run.stderr == ""
    assert len(site.server.requests) > before  # fetched from the loopback git server
    listed = _compare(ours, theirs, our_run.stdout, go_run.stdout)
    assert {str(m["Path"]) for m in listed} == {
        f"{ORG}/alpha",
        f"{ORG}/alpha/sub",
        f"{ORG}/beta/v2",
        f"{ORG}/gamma",
    }

    queries = (
        f"{ORG}/alpha@feature",
        f"{ORG}/gamma@main",
        f"{ORG}/delta/v3@trunk",
        f"{ORG}/beta@v1.0.0",
        f"{ORG}/delta@{site.repos.delta_head[:12]}",
    )
    go_q = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *queries, **env)
    assert go_q.returncode == 0, go_q.stdout + go_q.stderr
    our_q = await asyncio.to_thread(ours.ours, "-json", *queries, **env)
    assert our_q.returncode == 0, our_q.stdout + our_q.stderr
    pseudo = _compare(ours, theirs, our_q.stdout, go_q.stdout)
    branches = [m for m in pseudo if m.get("Query") in ("feature", "main", "trunk")]
    assert len(branches) == 3
    assert all(str(m["Version"]).count("-") >= 2 for m in branches)  # pseudo-versions

    # The go command, offline, builds against the cache we wrote.
    offline = {**env, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    build = await asyncio.to_thread(ours.go, "build", "-o", "app", ".", **offline)
    assert build.returncode == 0, build.stderr
    verify = await asyncio.to_thread(ours.go, "mod", "verify", **offline)
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_private_modules_direct_beside_a_proxy_never_reach_the_proxy(
    site: Site, tmp_path: Path
) -> None:
    """GOPROXY=<loopback proxy>,direct with GOPRIVATE and a checksum database of ours: the
    public module comes from the proxy and is looked up in the database, the private one comes
    from git, and neither the proxy nor the database is ever asked about a private path
    (issue 12 section 5); same output, go.sum and cache as the go command."""
    env = _user_env(site)
    go_mod = GO_MOD.replace(
        f"\t{ORG}/alpha/sub v0.2.0\n\t{ORG}/beta/v2 v2.1.0\n\t{ORG}/gamma v2.0.0+incompatible\n",
        f"\t{PUBLIC} v2.3.0\n",
    )
    files = corpus_download_dir() / PUBLIC / "@v"
    record = await asyncio.to_thread(_sums, files, PUBLIC, "v2.3.0")
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [record.record_text()])
        await _beside_a_proxy(site, tmp_path, go_mod, env, db)


def _sums(folder: Path, path: str, version: str) -> ModuleSums:
    with (folder / f"{version}.zip").open("rb") as f:
        zip_hash = hash_zip(f)
    mod_hash = hash_go_mod((folder / f"{version}.mod").read_bytes())
    return ModuleSums(path, version, zip_hash, mod_hash)


async def _beside_a_proxy(
    site: Site, tmp_path: Path, go_mod: str, env: dict[str, str], db: SumDB
) -> None:
    origin = Origin(corpus_download_dir())
    await origin.start()
    try:
        goproxy = f"{origin.url},direct"
        theirs = Home(tmp_path / "go", goproxy, db.gosumdb).setup(go_mod)
        ours = Home(tmp_path / "ours", goproxy, db.gosumdb).setup(go_mod)
        for home in (theirs, ours):
            (home.work / "main.go").write_text(PUBLIC_MAIN_GO)
        go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json", **env)
        assert go_run.returncode == 0, go_run.stdout + go_run.stderr
        go_lookups = db.stats.lookups
        our_run = await asyncio.to_thread(ours.ours, "-json", **env)
        assert our_run.returncode == 0, our_run.stdout + our_run.stderr
        listed = _compare(ours, theirs, our_run.stdout, go_run.stdout)
        assert {str(m["Path"]) for m in listed} == {f"{ORG}/alpha", PUBLIC}
        # Each asked the database about the public module once, and about nothing else.
        assert go_lookups == 1
        assert db.stats.lookups == 2
        assert set(db.stats.lookups_by_module) == {f"{PUBLIC}@v2.3.0"}
        assert db.stats.lookups_not_found == 0
        asked = [str(r) for r in origin.requests]
        assert any(PUBLIC in r for r in asked)
        assert not [r for r in asked if "gmptest" in r]
    finally:
        await origin.stop()
    offline = {**env, "GOPROXY": "off"}
    build = await asyncio.to_thread(ours.go, "build", "-o", "app", ".", **offline)
    assert build.returncode == 0, build.stderr


async def test_direct_without_git_fails_that_module_naming_the_fix(
    site: Site, tmp_path: Path
) -> None:
    """No git on PATH: the private module fails with a message that says to install git; no
    traceback, nothing in the module cache for it."""
    empty = tmp_path / "bin"
    empty.mkdir()
    home = Home(tmp_path / "ours", "direct")
    home.work.mkdir(parents=True)
    env = {**home.env(**_user_env(site)), "PATH": str(empty)}
    run = await asyncio.to_thread(
        run_ours, ["-json", f"{ORG}/alpha@v1.1.0"], cwd=home.work, env=env
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (obj,) = normalized_json(run.stdout, home.root)
    assert str(obj["Error"]).startswith(f"{ORG}/alpha@v1.1.0: cannot run git: ")
    assert "install git" in str(obj["Error"])
    assert not (home.modcache / "cache" / "download" / ORG).exists()


#: Queries that choose from the version list, outside a module: the go command prints the tag
#: list's Origin (TagPrefix, TagSum) merged with the picked tag's (Hash, Ref).
LIST_QUERIES = (
    f"{ORG}/alpha@latest",
    f"{ORG}/alpha@v1.1",
    f"{ORG}/alpha@<v1.3.0",
    f"{ORG}/alpha@>v1.0.0",
    f"{ORG}/alpha/sub@latest",
    f"{ORG}/alpha/sub@v0.1",
    f"{ORG}/beta/v2@latest",
    f"{ORG}/gamma@latest",
    f"{ORG}/delta@latest",
)


async def test_version_list_queries_print_the_go_commands_origin(
    site: Site, tmp_path: Path
) -> None:
    """``@latest``, ``v1.1`` and ``v0.1`` prefixes, comparisons (a module in a subdirectory,
    v2, ``+incompatible``), a prefix that matches nothing (its Error with the list's Origin),
    then ``@upgrade`` and ``@patch`` inside a module: the same ``-json`` (Origin field for
    field: TagPrefix and TagSum of the tag list merged with the tag's Hash and Ref), go.sum
    and cache files as the go command's."""
    env = _user_env(site)
    theirs = Home(tmp_path / "go", "direct")
    ours = Home(tmp_path / "ours", "direct")
    for home in (theirs, ours):
        home.work.mkdir(parents=True)
    go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *LIST_QUERIES, **env)
    assert go_run.returncode == 0, go_run.stdout + go_run.stderr
    our_run = await asyncio.to_thread(ours.ours, "-json", *LIST_QUERIES, **env)
    assert our_run.returncode == 0, our_run.stdout + our_run.stderr
    listed = _compare(ours, theirs, our_run.stdout, go_run.stdout, in_module=False)
    origins = {f"{m['Path']}@{m['Query']}": m["Origin"] for m in listed}
    assert all(isinstance(o, dict) and o["TagSum"] for o in origins.values())
    prefix = origins[f"{ORG}/alpha@v1.1"]
    assert isinstance(prefix, dict)
    assert (prefix["TagPrefix"], prefix["Ref"]) == ("v1.1.", "refs/tags/v1.1.0")
    sub = origins[f"{ORG}/alpha/sub@latest"]
    assert isinstance(sub, dict)
    assert (sub["Subdir"], sub["TagPrefix"]) == ("sub", "sub/")

    # No tag v1.2.x (only a non-canonical "v1.2"): the Error carries the list's Origin.
    missing = (f"{ORG}/alpha@v1.2",)
    go_miss = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *missing, **env)
    our_miss = await asyncio.to_thread(ours.ours, "-json", *missing, **env)
    assert (our_miss.returncode, go_miss.returncode) == (1, 1), our_miss.stderr + go_miss.stderr
    (failed,) = normalized_json(our_miss.stdout, ours.root)
    assert failed == normalized_json(go_miss.stdout, theirs.root)[0]
    assert isinstance(failed["Origin"], dict)
    assert failed["Origin"]["TagPrefix"] == "v1.2."

    # upgrade and patch need a module (the go command refuses them outside one).
    go_mod = f"module example.com/app\n\ngo 1.21\n\nrequire {ORG}/alpha v1.1.0\n"
    for home in (theirs, ours):
        (home.work / "go.mod").write_text(go_mod)
    inside = (f"{ORG}/alpha@upgrade", f"{ORG}/alpha@patch")
    go_in = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *inside, **env)
    assert go_in.returncode == 0, go_in.stdout + go_in.stderr
    our_in = await asyncio.to_thread(ours.ours, "-json", *inside, **env)
    assert our_in.returncode == 0, our_in.stdout + our_in.stderr
    upgrade, patch = _compare(ours, theirs, our_in.stdout, go_in.stdout)
    assert isinstance(patch["Origin"], dict)
    assert patch["Origin"]["TagPrefix"] == "v1.1."
    assert isinstance(upgrade["Origin"], dict)
    assert upgrade["Origin"]["TagSum"]


async def test_upgrade_outside_a_module_fails_as_the_go_command_fails(
    site: Site, tmp_path: Path
) -> None:
    """``@upgrade`` and ``@patch`` need the current version: outside a module both programs
    stop with the same message and exit 1, downloading nothing."""
    env = _user_env(site)
    for query in ("upgrade", "patch"):
        theirs = Home(tmp_path / f"go-{query}", "direct")
        ours = Home(tmp_path / f"ours-{query}", "direct")
        for home in (theirs, ours):
            home.work.mkdir(parents=True)
        arg = f"{ORG}/alpha@{query}"
        go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json", arg, **env)
        our_run = await asyncio.to_thread(ours.ours, "-json", arg, **env)
        assert (our_run.returncode, go_run.returncode) == (1, 1)
        assert our_run.stdout == go_run.stdout == ""
        words = f'cannot match "{arg}": go.mod file not found in current directory'
        assert words in go_run.stderr
        assert our_run.stderr.startswith(f"gomodproxy: {words}"), our_run.stderr
        assert not (ours.modcache / "cache" / "download" / ORG).exists()

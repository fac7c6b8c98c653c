"""Hostile repositories and inputs for the git fetcher: fault catalogue group F, one test per
item (59-66; 67 is covered by tests/unit/test_vcs_pure.py), plus a symbolic link escaping the
tree and submodules. Where the go command has an answer (a version list, a zip) it is the
reference; where it has none (a query shaped like an option) the input is refused before git
runs, and nothing is executed or cached.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.errors import ConfigError, ModuleNotFound, UpstreamError, UpstreamTimeout
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.upstream.netrc import NetrcCredentials, parse_netrc
from gomodproxy.vcs.fetcher import GitFetcher
from gomodproxy.vcs.gitcmd import GitRunner, UnsafeArgument
from gomodproxy.vcs.gitrepo import GitRepo
from gomodproxy.vcs.resolve import parse_rewrite, parse_rewrites, resolve_repo
from tests.gitrepos import RepoBuilder
from tests.gitserver import GitServer, running_git_server
from tests.gotool import go_environ, run_go
from tests.origin import running_origin
from tests.proxykit import running_proxy, running_sumdb

pytestmark = [pytest.mark.gocmd, pytest.mark.slow]

ORG = "github.com/gmphostile"


@dataclass(frozen=True)
class Hostile:
    root: Path
    served: Path
    server: GitServer
    env: dict[str, str]
    builders: dict[str, RepoBuilder]

    @property
    def rules(self) -> str:
        return f"{ORG}/={self.server.url}"

    def marker(self) -> Path:
        return self.root / "EXECUTED"


def _module(root: Path, name: str, start: int = 1_630_000_000) -> RepoBuilder:
    r = RepoBuilder(root / "work" / name, start=start)
    r.write("go.mod", f"module {ORG}/{name}\n\ngo 1.21\n")
    r.write(f"{name}.go", f"package {name}\n")
    return r


def _build(root: Path) -> dict[str, RepoBuilder]:
    served = root / "served"
    marker = root / "EXECUTED"
    out: dict[str, RepoBuilder] = {}

    r = _module(root, "optag")
    r.commit("one")
    r.tag("v1.0.0")
    r.write("more.go", "package optag\n")
    r.commit("two")
    for name in (f"--upload-pack=touch {marker}".replace(" ", "_"), "--output=evil", "-c"):
        r.tag(name)
    r.git("update-ref", "refs/heads/-evil", "HEAD")
    r.publish(served, "optag")
    out["optag"] = r

    r = _module(root, "submod")
    r.write(".gitmodules", f'[submodule "dep"]\n\tpath = dep\n\turl = https://{ORG}/optag\n')
    r.commit("with a submodule")
    r.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},dep")
    r.git(
        "commit",
        "-q",
        "-m",
        "gitlink",
        env={"GIT_COMMITTER_DATE": "@1630010000 +0000", "GIT_AUTHOR_DATE": "@1630010000 +0000"},
    )
    r.tag("v1.0.0")
    r.publish(served, "submod")
    out["submod"] = r

    r = _module(root, "symlinks")
    r.write("real.go", "package symlinks\n\nconst Real = 1\n")
    for link, target in (
        ("escape.go", "../../../../../../etc/passwd"),
        ("abs.go", "/etc/passwd"),
        ("inside.go", "real.go"),
        ("dir", "."),
    ):
        os.symlink(target, r.path / link)
    r.commit("links")
    r.tag("v1.0.0")
    r.publish(served, "symlinks")
    out["symlinks"] = r

    r = _module(root, "big")
    r.write("blob.bin", os.urandom(9 << 20))
    r.commit("a 9 MiB tree")
    r.tag("v1.0.0")
    r.publish(served, "big")
    out["big"] = r

    r = RepoBuilder(root / "work" / "renamed", start=1_630_000_000)
    r.write("go.mod", "module example.com/original/name\n\ngo 1.21\n")
    r.write("r.go", "package name\n")
    r.commit("a fork keeping its original path")
    r.tag("v1.0.0")
    r.publish(served, "renamed")
    out["renamed"] = r

    r = RepoBuilder(root / "work" / "wrongmajor", start=1_630_000_000)
    r.write("go.mod", f"module {ORG}/wrongmajor/v3\n\ngo 1.21\n")
    r.write("w.go", "package wrongmajor\n")
    r.commit("a go.mod claiming v3")
    r.tag("v1.0.0")
    r.publish(served, "wrongmajor")
    out["wrongmajor"] = r

    for name in ("hooked", "stall", "moving", "authrepo"):
        r = _module(root, name)
        r.commit("one")
        r.tag("v1.0.0")
        r.write("two.go", f"package {name}\n\nconst Two = 2\n")
        r.commit("two")
        r.publish(served, name)
        out[name] = r
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("hostile")
    builders = _build(root)
    with running_git_server(root / "served") as server:
        cfg = root / "gitconfig"
        cfg.write_text(f'[url "{server.url}"]\n\tinsteadOf = https://{ORG}/\n')
        home = root / "home"
        home.mkdir()
        env = go_environ(
            home,
            goproxy="direct",
            goprivate=ORG,
            extra={"GIT_CONFIG_GLOBAL": str(cfg), "GIT_TERMINAL_PROMPT": "0"},
        )
        yield Hostile(root, root / "served", server, env, builders)


@pytest_asyncio.fixture
async def fetcher(hostile: Hostile, tmp_path: Path) -> AsyncIterator[GitFetcher]:
    yield GitFetcher(tmp_path / "vcs", parse_rewrites([hostile.rules]), timeout=30)


def _go(hostile: Hostile, *args: str) -> dict[str, object]:
    proc = run_go(list(args), cwd=hostile.root / "home", env=hostile.env, check=True)
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


async def _zip_h1(fetcher: GitFetcher, path: str, version: str, spool: Path) -> str:
    async with fetcher.zip(path, version) as body:
        data = b"".join([c async for c in body.chunks()])

    def h1() -> str:
        spool.write_bytes(data)
        with spool.open("rb") as f:
            return hash_zip(f)

    return await asyncio.to_thread(h1)


@pytest.mark.asyncio
async def test_f59_option_shaped_tags_and_queries(hostile: Hostile, fetcher: GitFetcher) -> None:
    """Tags and branches named like options (``--upload-pack=...``, ``-c``, ``-evil``): the
    version list is the go command's (they name no version), and a query shaped like an
    option is refused before git runs; nothing is executed."""
    path = f"{ORG}/optag"
    want = await asyncio.to_thread(_go, hostile, "list", "-m", "-versions", "-json", path)
    assert (await fetcher.list(path)).decode().split() == want["Versions"]
    for query in ("--upload-pack=touch_x", "-c", "-evil", "--output=evil"):
        with pytest.raises(UnsafeArgument, match="could be read as a git option"):
            await fetcher.info(path, query)
        with pytest.raises(UnsafeArgument):
            await fetcher.mod(path, query)
    # The tip of the branch the option-shaped refs sit on resolves as the go command says.
    head = hostile.builders["optag"].git("rev-parse", "HEAD")[:12]
    go_info = await asyncio.to_thread(_go, hostile, "mod", "download", "-json", f"{path}@{head}")
    assert json.loads(await fetcher.info(path, head))["Version"] == go_info["Version"]
    assert not hostile.marker().exists()
    with pytest.raises(ModuleNotFound):
        await fetcher.list(f"{ORG}/-optag")


@pytest.mark.asyncio
async def test_f60_dangerous_transports_are_refused(hostile: Hostile, tmp_path: Path) -> None:
    """ext::, fd::, local paths, an ssh host or user starting with '-' are refused in rules;
    a path without a rule reaches only https; and git itself refuses a transport outside
    GIT_ALLOW_PROTOCOL, running nothing."""
    marker = tmp_path / "ran"
    for bad in (
        f"example.com/x/=ext::sh -c touch% {marker}",
        "example.com/x/=fd::3",
        "example.com/x=/srv/git/",
        "example.com/x/=ssh://-oProxyCommand=touch/",
        "example.com/x/=ssh://-user@host/",
        "example.com/x/=/srv/git/",
    ):
        with pytest.raises(ConfigError):
            parse_rewrite(bad)
    root = resolve_repo("git.example.com/team/repo.git/sub", ())
    assert root.urls == ("https://git.example.com/team/repo",)
    assert root.protocols == ("https",)
    runner = GitRunner(home=tmp_path, timeout=20)
    repo = GitRepo(
        runner, f"ext::sh -c touch% {marker}", tmp_path / "clone", protocols=("https", "ssh")
    )
    with pytest.raises(UpstreamError):
        await repo.refs()
    file_repo = GitRepo(
        runner, hostile.served.joinpath("optag").as_uri(), tmp_path / "c2", protocols=("https",)
    )
    with pytest.raises((UpstreamError, ModuleNotFound)):
        await file_repo.refs()
    assert not marker.exists()


@pytest.mark.asyncio
async def test_f61_hooks_and_user_config_never_run(
    hostile: Hostile, fetcher: GitFetcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks planted in our own clone (a poisoned cache) and a user git configuration with
    hooks, fsmonitor and URL rewrites are not honoured: a later fetch runs nothing."""
    path = f"{ORG}/hooked"
    assert (await fetcher.list(path)).decode().split() == ["v1.0.0"]
    assert not (await fetcher.info(path, "main")).startswith(b'{"Version":"v1.0.0"')
    marker = hostile.root / "HOOK-RAN"
    script = f"#!/bin/sh\ntouch {marker}\n"
    clones = [p for p in (tmp_path / "vcs" / "repos").iterdir() if p.is_dir()]
    assert clones
    for clone in clones:
        for hook in ("reference-transaction", "post-update", "pre-auto-gc", "post-checkout"):
            hook_file = clone / "hooks" / hook
            hook_file.parent.mkdir(exist_ok=True)
            hook_file.write_text(script)
            hook_file.chmod(hook_file.stat().st_mode | stat.S_IEXEC)
    user = tmp_path / "user.gitconfig"
    user.write_text(
        f"[core]\n\thooksPath = {clones[0] / 'hooks'}\n"
        f"\tfsmonitor = {clones[0] / 'hooks'}/post-update\n"
        f'[url "ext::sh -c touch% {marker}"]\n\tinsteadOf = {hostile.server.url}\n'
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user))
    monkeypatch.setenv("HOME", str(tmp_path))
    # A new tag makes the next answer fetch.
    b = hostile.builders["hooked"]
    b.write("new.go", "package hooked\n")
    b.commit("three")
    b.tag("v1.1.0")
    b.publish(hostile.served, "hooked")
    again = GitFetcher(tmp_path / "vcs", parse_rewrites([hostile.rules]), timeout=30)
    assert (await again.list(path)).decode().split() == ["v1.0.0", "v1.1.0"]
    info = json.loads(await again.info(path, "v1.1.0"))
    assert info["Version"] == "v1.1.0"
    assert not marker.exists()


@pytest.mark.asyncio
async def test_f61_submodules_are_never_fetched(hostile: Hostile, fetcher: GitFetcher) -> None:
    """A submodule (``.gitmodules`` and a gitlink): its content is not fetched, the zip is the
    go command's (the gitlink left out), and the submodule's repository is never asked."""
    path = f"{ORG}/submod"
    want = await asyncio.to_thread(_go, hostile, "mod", "download", "-json", f"{path}@v1.0.0")
    before = len(hostile.server.requests)
    assert await _zip_h1(fetcher, path, "v1.0.0", hostile.root / "sub.zip") == want["Sum"]
    after = hostile.server.requests[before:]
    assert after
    assert all(p.startswith("/submod") for p in after)


@pytest.mark.asyncio
async def test_symlinks_escaping_the_tree_are_left_out(
    hostile: Hostile, fetcher: GitFetcher
) -> None:
    """Symbolic links (out of the tree, absolute, inside, to a folder) never make it into the
    zip and are never followed; the zip is the go command's."""
    path = f"{ORG}/symlinks"
    want = await asyncio.to_thread(_go, hostile, "mod", "download", "-json", f"{path}@v1.0.0")
    assert await _zip_h1(fetcher, path, "v1.0.0", hostile.root / "links.zip") == want["Sum"]


@pytest.mark.asyncio
async def test_f63_a_moved_tag_does_not_change_what_was_served(
    hostile: Hostile, tmp_path: Path
) -> None:
    """Fault catalogue 63: once v1.0.0 is served and cached, moving the tag in the repository
    changes nothing that is served again (INV-2)."""
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=ORG,
            vcs_rewrite=hostile.rules,
        ) as proxy,
        aiohttp.ClientSession() as session,
    ):
        rel = f"/{ORG}/moving/@v/v1.0.0"
        first = {}
        for ext in ("info", "mod", "zip"):
            async with session.get(f"{proxy.url}{rel}.{ext}") as r:
                assert r.status == 200
                first[ext] = await r.read()
        b = hostile.builders["moving"]
        b.git("tag", "-f", "v1.0.0", "HEAD")
        b.publish(hostile.served, "moving")
        for ext in ("info", "mod", "zip"):
            async with session.get(f"{proxy.url}{rel}.{ext}") as r:
                assert r.status == 200
                assert await r.read() == first[ext]
        assert not [r for r in origin.requests if "gmphostile" in r.path]


@pytest.mark.asyncio
async def test_f64_bad_pseudo_versions_are_refused_as_go_does(
    hostile: Hostile, fetcher: GitFetcher
) -> None:
    """Fault catalogue 64: a revision prefix shorter or longer than 12 digits, a timestamp
    that is not the commit's, a base tag that is not an ancestor, v1 without a tag, a
    negative patch: "invalid pseudo-version", as the go command says; the good one passes."""
    path = f"{ORG}/optag"
    b = hostile.builders["optag"]
    head = b.git("rev-parse", "HEAD")
    first = b.git("rev-list", "--max-parents=0", "HEAD")
    good = json.loads(await fetcher.info(path, head[:12]))["Version"]
    stamp = good.split("-")[-2].split(".")[-1]
    base = good.split("-")[0]
    bad = [
        f"{base}-0.{stamp}-{head[:11]}",
        f"{base}-0.{stamp}-{head[:13]}",
        f"{base}-0.20000101000000-{head[:12]}",
        f"v1.0.0-{stamp}-{head[:12]}",
        f"v0.0.0-0.{stamp}-{head[:12]}",
        f"v1.0.1-0.{stamp}-{first[:12]}",
    ]
    for version in bad:
        go = await asyncio.to_thread(
            run_go,
            ["mod", "download", "-json", f"{path}@{version}"],
            cwd=hostile.root / "home",
            env=hostile.env,
        )
        assert go.returncode != 0, version
        with pytest.raises(ModuleNotFound) as caught:
            await fetcher.info(path, version)
        assert "invalid" in str(caught.value), version
    assert json.loads(await fetcher.info(path, good))["Version"] == good


@pytest.mark.asyncio
async def test_f65_tree_over_the_size_cap_is_refused_and_not_cached(
    hostile: Hostile, tmp_path: Path
) -> None:
    """Fault catalogue 65: with an 8 MiB cap a 9 MiB tree is refused while the archive is
    read; nothing is cached and no temporary file is left behind."""
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=ORG,
            vcs_rewrite=hostile.rules,
            vcs_max_zip_mb="8",
            vcs_cache_dir=str(tmp_path / "vcs"),
        ) as proxy,
        aiohttp.ClientSession() as session,
    ):
        rel = f"/{ORG}/big/@v/v1.0.0"
        async with session.get(f"{proxy.url}{rel}.mod") as r:
            assert r.status == 200  # a .mod builds no zip
        async with session.get(f"{proxy.url}{rel}.zip") as r:
            body = await r.read()
            assert r.status == 502
        assert b"larger than the limit" in body
        async with session.get(f"{proxy.url}{rel}.zip") as r:
            assert r.status == 502
        assert not (tmp_path / "cache" / ORG / "big" / "@v" / "v1.0.0.zip").exists()
        assert list((tmp_path / "vcs" / "tmp").iterdir()) == []


@pytest.mark.asyncio
async def test_f65_slow_server_hits_the_deadline(hostile: Hostile, tmp_path: Path) -> None:
    """A server that does not answer: the git call ends at its deadline (504 class), its
    process group killed."""
    hostile.server.stall = 20
    slow = GitFetcher(tmp_path / "vcs", parse_rewrites([hostile.rules]), timeout=2)
    with pytest.raises(UpstreamTimeout, match="did not finish"):
        await slow.list(f"{ORG}/stall")


@pytest.mark.asyncio
async def test_f66_credentials_never_show(hostile: Hostile, tmp_path: Path) -> None:
    """A token in a rewrite URL never appears in an .info Origin or an error message."""
    url = hostile.server.url.replace("http://", "http://robot:s3cr3t-t0ken@")
    f = GitFetcher(tmp_path / "vcs", parse_rewrites([f"{ORG}/={url}"]), timeout=30)
    info = await f.info(f"{ORG}/hooked", "v1.0.0")
    assert b"s3cr3t" not in info
    assert b"robot:***@" in info
    with pytest.raises(ModuleNotFound) as caught:
        await f.list(f"{ORG}/missing")
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.asyncio
async def test_git_errors_are_404_for_missing_and_502_for_auth(
    hostile: Hostile, fetcher: GitFetcher
) -> None:
    """An unknown repository or revision is a not-found (404); a repository that wants
    credentials is a 502 naming the cause, and git never prompts."""
    with pytest.raises(ModuleNotFound, match="repository not found") as missing:
        await fetcher.list(f"{ORG}/missing")
    assert "127.0.0.1" not in str(missing.value)  # no internal host name (fault 66)
    assert f"{ORG}/missing" in str(missing.value)
    with pytest.raises(ModuleNotFound, match="unknown revision"):
        await fetcher.info(f"{ORG}/hooked", "no-such-branch")
    with pytest.raises(UpstreamError) as caught:
        await fetcher.list(f"{ORG}/authrepo")
    assert not isinstance(caught.value, ModuleNotFound)
    assert caught.value.status_hint == 502
    assert "terminal prompts disabled" in str(caught.value) or "Authentication" in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


@pytest.mark.asyncio
async def test_f66_netrc_credentials_reach_git_and_never_show(
    hostile: Hostile, tmp_path: Path
) -> None:
    """A .netrc login for the git host is sent by git (as a header given through the
    environment, never on a command line), and the password shows in no answer or error."""
    user, password = hostile.server.auth
    netrc = NetrcCredentials(parse_netrc(f"machine 127.0.0.1 login {user} password {password}"))
    f = GitFetcher(tmp_path / "vcs", parse_rewrites([hostile.rules]), timeout=30, netrc=netrc)
    path = f"{ORG}/authrepo"
    assert (await f.list(path)).decode().split() == ["v1.0.0"]
    info = await f.info(path, "v1.0.0")
    assert password.encode() not in info
    assert hostile.server.authorizations
    with pytest.raises(ModuleNotFound) as caught:
        await f.info(path, "v9.9.9")
    assert password not in str(caught.value)
    wrong = NetrcCredentials(parse_netrc(f"machine 127.0.0.1 login {user} password nope"))
    g = GitFetcher(tmp_path / "vcs2", parse_rewrites([hostile.rules]), timeout=30, netrc=wrong)
    with pytest.raises(UpstreamError) as failed:
        await g.list(path)
    assert "nope" not in str(failed.value)


@pytest.mark.asyncio
async def test_d42_another_path_same_major_is_served_a_major_mismatch_refused(
    hostile: Hostile, fetcher: GitFetcher
) -> None:
    """Fault catalogue 42, as the go command does in direct mode: a go.mod naming another path
    with the same major version is served as is; one naming another major version is
    refused."""
    renamed = f"{ORG}/renamed"
    want = await asyncio.to_thread(_go, hostile, "mod", "download", "-json", f"{renamed}@v1.0.0")
    assert await fetcher.mod(renamed, "v1.0.0") == b"module example.com/original/name\n\ngo 1.21\n"
    assert await _zip_h1(fetcher, renamed, "v1.0.0", hostile.root / "renamed.zip") == want["Sum"]
    wrong = f"{ORG}/wrongmajor"
    go = await asyncio.to_thread(
        run_go,
        ["mod", "download", "-json", f"{wrong}@v1.0.0"],
        cwd=hostile.root / "home",
        env=hostile.env,
    )
    assert go.returncode != 0
    assert "post-v1 module path" in go.stdout + go.stderr
    with pytest.raises(ModuleNotFound, match="post-v1 module path"):
        await fetcher.info(wrong, "v1.0.0")
    with pytest.raises(ModuleNotFound, match="post-v1 module path"):
        await fetcher.mod(wrong, "v1.0.0")

"""Finding repositories through go-import meta tags over HTTPS, with the address guard
(fault catalogue 25, 60, 67). Run only inside a network namespace, by
tests/integration/test_vcs_netns.py.

``git.corp.test`` is the namespace's 127.0.0.1 (its hosts file). A meta-tag server on
``https://git.corp.test:443`` answers ``?go-get=1`` with meta tags and the real
``git http-backend`` serves the repositories at ``https://git.corp.test:PORT/`` (a throw-away
CA, given to gomodproxy as ``--ca-file``). The host is reachable only because the test names it
as internal (``--vcs-internal-hosts``); without that the lookup is refused before any request.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from gomodproxy.errors import ModuleNotFound, UpstreamError
from gomodproxy.vcs.discover import UnsafeAddress
from gomodproxy.vcs.fetcher import GitFetcher
from tests.gitserver import GitServer, running_git_server
from tests.netns import INSIDE_VARIABLE
from tests.origin import running_origin
from tests.proxykit import SynthModule, publish, running_proxy, running_sumdb
from tests.tlscert import LocalTLS, make_local_tls
from tests.vcsrepos import build_test_repos

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

HOST = "git.corp.test"


@pytest.fixture(scope="module", autouse=True)
def _inside_the_namespace() -> None:
    if os.environ.get(INSIDE_VARIABLE) != "1":
        pytest.fail("run through tests/integration/test_vcs_netns.py (needs its namespace)")


@dataclass
class Meta:
    """The meta-tag server: path -> page, and the paths it was asked."""

    pages: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class World:
    tls: LocalTLS
    git: GitServer

    @property
    def url(self) -> str:
        """The git server's base URL by host name."""
        return f"https://{HOST}:{self.git.httpd.server_address[1]}/"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("discovery")
    repos = build_test_repos(root)
    tls = make_local_tls(root / "tls", names=(HOST,))
    with running_git_server(repos.served, tls=tls.server_context()) as git:
        yield World(tls, git)


@pytest_asyncio.fixture
async def meta(world: World) -> AsyncIterator[Meta]:
    state = Meta()

    async def handle(request: web.Request) -> web.StreamResponse:
        state.asked.append(request.path_qs)
        if request.path in state.pages and request.query.get("go-get") == "1":
            page = state.pages[request.path]
            if page.startswith("REDIRECT "):
                raise web.HTTPFound(page.split(" ", 1)[1])
            return web.Response(text=page, content_type="text/html")
        return web.Response(status=404, text="not found")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 443, ssl_context=world.tls.server_context())
    await site.start()
    try:
        yield state
    finally:
        await runner.cleanup()


def _page(*contents: str) -> str:
    tags = "".join(f'<meta name="go-import" content="{c}">' for c in contents)
    return f"<html><head>{tags}</head><body>go get</body></html>"


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _fetcher(
    tmp: Path, world: World, meta: Meta, session: aiohttp.ClientSession, *, exempt: bool
) -> GitFetcher:
    return GitFetcher(
        tmp / "vcs",
        (),
        session=session,
        ca_file=world.tls.cert,
        exempt=(HOST, "127.0.0.1") if exempt else (),
        timeout=30,
    )


async def test_f67_meta_tags_lead_to_the_repository(
    world: World, meta: Meta, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A repository root above the module path (verified at the prefix), over https with the
    company CA; the go.mod names another path with the same major version and is served
    (fault catalogue 42)."""
    tag = f"git.corp.test/corp/alpha git {world.url}alpha"
    meta.pages["/corp/alpha/sub"] = _page(tag)
    meta.pages["/corp/alpha"] = _page(tag)
    f = _fetcher(tmp_path, world, meta, session, exempt=True)
    assert (await f.list("git.corp.test/corp/alpha/sub")).decode().split() == ["v0.1.0", "v0.2.0"]
    assert meta.asked == ["/corp/alpha/sub?go-get=1", "/corp/alpha?go-get=1"]
    mod = await f.mod("git.corp.test/corp/alpha/sub", "v0.2.0")
    assert mod.startswith(b"module github.com/gmptest/alpha/sub\n")


async def test_f67_disagreeing_prefix_page_is_refused(
    world: World, meta: Meta, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    meta.pages["/corp/alpha/sub"] = _page(f"git.corp.test/corp/alpha git {world.url}alpha")
    meta.pages["/corp/alpha"] = _page(f"git.corp.test/corp/alpha git {world.url}beta")
    f = _fetcher(tmp_path, world, meta, session, exempt=True)
    with pytest.raises(ModuleNotFound, match="disagree"):
        await f.list("git.corp.test/corp/alpha/sub")


async def test_f67_ambiguous_and_non_git_tags_are_refused(
    world: World, meta: Meta, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    meta.pages["/corp/two"] = _page(
        f"git.corp.test/corp/two git {world.url}alpha", f"git.corp.test/corp/two git {world.url}x"
    )
    meta.pages["/corp/svn"] = _page("git.corp.test/corp/svn svn https://127.0.0.1/svn")
    meta.pages["/corp/plain"] = _page(
        f"git.corp.test/corp/plain git {world.url.replace('https', 'http')}alpha"
    )
    f = _fetcher(tmp_path, world, meta, session, exempt=True)
    with pytest.raises(ModuleNotFound, match="multiple meta tags"):
        await f.list("git.corp.test/corp/two")
    with pytest.raises(ModuleNotFound, match="VCS policy disallows svn"):
        await f.list("git.corp.test/corp/svn")
    with pytest.raises(ModuleNotFound, match="only https and ssh"):
        await f.list("git.corp.test/corp/plain")


async def test_f25_internal_addresses_are_refused_before_any_request(
    world: World, meta: Meta, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Without an exemption the loopback meta host is refused before it is asked; with the
    meta host exempt, a repository URL naming another internal host is refused too, and a
    redirect to http is never followed."""
    meta.pages["/corp/alpha"] = _page(f"git.corp.test/corp/alpha git {world.url}alpha")
    f = _fetcher(tmp_path, world, meta, session, exempt=False)
    with pytest.raises(UnsafeAddress, match=r"internal address 127\.0\.0\.1"):
        await f.list("git.corp.test/corp/alpha")
    assert meta.asked == []
    port = world.git.httpd.server_address[1]
    meta.pages["/corp/inner"] = _page(
        f"git.corp.test/corp/inner git https://localhost:{port}/alpha"
    )
    meta.pages["/corp/down"] = f"REDIRECT http://{HOST}/corp/alpha?go-get=1"
    exempt = _fetcher(tmp_path, world, meta, session, exempt=True)
    before = len(world.git.requests)
    with pytest.raises(UnsafeAddress, match="refusing localhost"):
        await exempt.list("git.corp.test/corp/inner")
    with pytest.raises(UpstreamError, match="insecure"):
        await exempt.list("git.corp.test/corp/down")
    assert len(world.git.requests) == before


async def test_f67_mod_form_is_fetched_from_the_named_proxy(
    world: World, meta: Meta, tmp_path: Path
) -> None:
    """``<prefix> mod <proxy URL>``: the module comes from that proxy (the GOPROXY protocol),
    not from a repository, and wins over a git tag for the same prefix."""
    module = SynthModule(
        "git.corp.test/corp/viaproxy",
        "v1.2.3",
        {"go.mod": b"module git.corp.test/corp/viaproxy\n", "p.go": b"package p\n"},
    )
    connector = aiohttp.TCPConnector(ssl=world.tls.client_context())
    async with (
        running_origin(tls=world.tls.server_context()) as origin,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        publish(origin, module)
        meta.pages["/corp/viaproxy"] = _page(
            f"git.corp.test/corp/viaproxy git {world.url}alpha",
            f"git.corp.test/corp/viaproxy mod {origin.url}",
        )
        f = _fetcher(tmp_path, world, meta, session, exempt=True)
        assert (await f.list(module.path)).decode().split() == ["v1.2.3"]
        assert await f.mod(module.path, "v1.2.3") == module.mod
        async with f.zip(module.path, "v1.2.3") as body:
            assert b"".join([c async for c in body.chunks()]) == module.zip
        assert origin.count(module.rel("zip")) == 1


async def test_ca_file_is_trusted_for_https_upstreams_besides_the_system(
    world: World, tmp_path: Path
) -> None:
    """``--ca-file``: an upstream proxy with a company certificate is reached; without the
    setting the same upstream fails its certificate check (502)."""
    module = SynthModule("example.com/corp/tls", "v1.0.0", {"go.mod": b"module x\n"})
    async with running_origin(tls=world.tls.server_context()) as origin:
        publish(origin, module)
        for ca, want in ((str(world.tls.cert), 200), ("", 502)):
            async with (
                running_sumdb(tmp_path / f"db{want}") as db,
                running_proxy(
                    tmp_path / f"cache{want}",
                    upstream=origin.url,
                    sumdb=db,
                    sumdb_off=True,
                    ca_file=ca,
                ) as proxy,
                aiohttp.ClientSession() as s,
                s.get(f"{proxy.url}/{module.rel('mod')}") as r,
            ):
                assert r.status == want, await r.text()


async def test_f67_subdirectory_field_is_checked(
    world: World, meta: Meta, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The fourth field: a leading '-' or '/' is refused as the go command refuses it
    (``validateRepoSubDir``), and one climbing out of the repository is refused before git
    is asked for any file."""
    meta.pages["/corp/dash"] = _page(f"{HOST}/corp/dash git {world.url}alpha -x")
    meta.pages["/corp/slash"] = _page(f"{HOST}/corp/slash git {world.url}alpha /x")
    meta.pages["/corp/up"] = _page(f"{HOST}/corp/up git {world.url}alpha ../x")
    f = _fetcher(tmp_path, world, meta, session, exempt=True)
    with pytest.raises(ModuleNotFound, match="invalid subdirectory '-x'"):
        await f.list(f"{HOST}/corp/dash")
    with pytest.raises(ModuleNotFound, match="invalid subdirectory '/x'"):
        await f.list(f"{HOST}/corp/slash")
    with pytest.raises(ModuleNotFound, match=r"subdirectory '\.\./x' leaves the repository"):
        await f.list(f"{HOST}/corp/up")

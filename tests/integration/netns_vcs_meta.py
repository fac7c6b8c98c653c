"""Run only inside a network namespace, by tests/integration/test_vcs_netns.py (see there).

``git.corp.test`` is the namespace's 127.0.0.1 (its hosts file). A meta-tag server on
``https://git.corp.test:443`` answers ``?go-get=1`` and the real git http-backend serves the
repositories at ``https://git.corp.test:PORT/``, both with a certificate for that name from a
throw-away CA. The go command gets the CA through ``SSL_CERT_FILE`` (and its git through
``GIT_SSL_CAINFO``: git's libcurl does not read ``SSL_CERT_FILE``), gomodproxy through
``--ca-file``. The go command in direct mode (``GOPROXY=direct``, ``GOPRIVATE``) is the
reference; gomodproxy with ``--vcs-meta-tags`` (and ``--vcs-internal-hosts git.corp.test``,
since the host is internal) must give the same versions, ``.info``, ``.mod`` and zip ``h1:``,
for a module in a subdirectory named by the tag's fourth field too.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from tests.gitrepos import RepoBuilder
from tests.gitserver import GitServer, running_git_server
from tests.gotool import go_environ, run_go
from tests.netns import INSIDE_VARIABLE
from tests.origin import running_origin
from tests.proxykit import running_proxy, running_sumdb
from tests.tlscert import LocalTLS, make_local_tls

pytestmark = [pytest.mark.gocmd, pytest.mark.slow]

HOST = "git.corp.test"


@pytest.fixture(scope="module", autouse=True)
def _inside_the_namespace() -> None:
    if os.environ.get(INSIDE_VARIABLE) != "1":
        pytest.fail("run through tests/integration/test_vcs_netns.py (needs its namespace)")


@dataclass
class Corp:
    """The company's git host: repositories, their server, the CA and the meta pages."""

    tls: LocalTLS
    git: GitServer
    root: Path
    pages: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    @property
    def git_url(self) -> str:
        return f"https://{HOST}:{self.git.httpd.server_address[1]}/"

    def go_env(self, home: Path, **kw: str) -> dict[str, str]:
        ca = {"SSL_CERT_FILE": str(self.tls.cert), "GIT_SSL_CAINFO": str(self.tls.cert)}
        return go_environ(home, extra={**ca, "GIT_TERMINAL_PROMPT": "0"}, **kw)


def _build(root: Path) -> Path:
    served = root / "served"
    a = RepoBuilder(root / "work" / "alpha")
    a.write("go.mod", f"module {HOST}/alpha\n\ngo 1.21\n")
    a.write("alpha.go", "package alpha\n\nconst V = 1\n")
    a.write("sub/go.mod", f"module {HOST}/alpha/sub\n\ngo 1.21\n")
    a.write("sub/sub.go", "package sub\n")
    a.commit("one")
    a.tag("v1.0.0")
    a.tag("sub/v0.1.0")
    a.write("alpha.go", "package alpha\n\nconst V = 2\n")
    a.commit("two")
    a.tag("v1.1.0", annotated=True)
    a.write("more.go", "package alpha\n")
    a.commit("three")
    a.publish(served, "alpha")
    g = RepoBuilder(root / "work" / "gamma")
    g.write("g.go", "package gamma\n")
    g.commit("one")
    g.tag("v1.0.0")
    g.write("g2.go", "package gamma\n")
    g.commit("two")
    g.tag("v2.0.0")
    g.publish(served, "gamma")
    # A module in a subdirectory named by the go-import tag's fourth field (go 1.25+).
    m = RepoBuilder(root / "work" / "monorepo")
    m.write("LICENSE", "Mono license\n")
    m.write("README", "not a module\n")
    m.write("go/go.mod", f"module {HOST}/mono\n\ngo 1.21\n")
    m.write("go/m.go", "package mono\n")
    m.commit("one")
    m.tag("go/v1.0.0")
    m.write("go/m2.go", "package mono\n")
    m.write("go/v2/go.mod", f"module {HOST}/mono/v2\n\ngo 1.21\n")
    m.write("go/v2/m.go", "package mono\n")
    m.commit("two")
    m.tag("go/v1.1.0")
    m.tag("go/v2.0.0")
    m.publish(served, "monorepo")
    return served


@pytest.fixture(scope="module")
def corp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corp]:
    root = tmp_path_factory.mktemp("corp")
    served = _build(root)
    tls = make_local_tls(root / "tls", names=(HOST,))
    with running_git_server(served, tls=tls.server_context()) as git:
        corp = Corp(tls, git, root)
        tag = f"{HOST}/alpha git {corp.git_url}alpha"
        corp.pages.update(
            {
                "/alpha": tag,
                "/alpha/sub": tag,
                "/gamma": f"{HOST}/gamma git {corp.git_url}gamma",
                "/mono": f"{HOST}/mono git {corp.git_url}monorepo go",
                "/mono/v2": f"{HOST}/mono git {corp.git_url}monorepo go",
            }
        )
        yield corp


@pytest_asyncio.fixture
async def meta443(corp: Corp) -> AsyncIterator[Corp]:
    """The meta-tag server on port 443 of the namespace's loopback."""

    async def handle(request: web.Request) -> web.StreamResponse:
        corp.asked.append(request.path_qs)
        content = corp.pages.get(request.path)
        if content is None or request.query.get("go-get") != "1":
            return web.Response(status=404, text="not found")
        page = f'<html><head><meta name="go-import" content="{content}"></head></html>'
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 443, ssl_context=corp.tls.server_context())
    await site.start()
    try:
        yield corp
    finally:
        await runner.cleanup()


def _go_json(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, object]:
    proc = run_go(args, cwd=cwd, env=env, timeout=240)
    assert proc.returncode == 0, f"go {' '.join(args)}: {proc.stderr}"
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def _observe(env: dict[str, str], home: Path) -> dict[str, object]:
    """Versions, and for each query: version, .info, .mod and the zip's h1 (``go mod download
    -json``), as the go command sees them with ``env``."""
    home.mkdir(parents=True, exist_ok=True)
    seen: dict[str, object] = {}
    for path in (f"{HOST}/alpha", f"{HOST}/alpha/sub", f"{HOST}/gamma", f"{HOST}/mono"):
        listed = _go_json(["list", "-m", "-versions", "-json", path], env, home)
        seen[f"list {path}"] = listed.get("Versions")
    for query in (
        f"{HOST}/alpha@v1.1.0",
        f"{HOST}/alpha@latest",
        f"{HOST}/alpha@main",
        f"{HOST}/alpha/sub@v0.1.0",
        f"{HOST}/gamma@v2.0.0+incompatible",
        f"{HOST}/mono@v1.1.0",
        f"{HOST}/mono@latest",
        f"{HOST}/mono/v2@v2.0.0",
    ):
        got = _go_json(["mod", "download", "-json", query], env, home)
        info = json.loads(Path(str(got["Info"])).read_bytes())
        info.get("Origin", {}).pop("URL", None)
        seen[query] = {
            "Version": got["Version"],
            "Info": info,
            "GoMod": Path(str(got["GoMod"])).read_bytes().decode(),
            "Sum": got["Sum"],
            "GoModSum": got["GoModSum"],
        }
    return seen


@pytest.mark.asyncio
async def test_meta_tags_on_443_give_what_the_go_command_gets(
    meta443: Corp, tmp_path: Path
) -> None:
    corp = meta443
    direct_env = corp.go_env(tmp_path / "direct", goproxy="direct", goprivate=HOST)
    want = await asyncio.to_thread(_observe, direct_env, tmp_path / "direct")
    assert "/alpha/sub?go-get=1" in corp.asked
    assert "/alpha?go-get=1" in corp.asked
    assert want[f"list {HOST}/gamma"] == ["v1.0.0", "v2.0.0+incompatible"]
    assert want[f"list {HOST}/mono"] == ["v1.0.0", "v1.1.0"]
    corp.asked.clear()
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=HOST,
            vcs_meta_tags="true",
            vcs_internal_hosts=HOST,
            ca_file=str(corp.tls.cert),
        ) as proxy,
    ):
        env = corp.go_env(tmp_path / "ours", goproxy=proxy.url, gonosumdb=HOST)
        got = await asyncio.to_thread(_observe, env, tmp_path / "ours")
        assert origin.requests == []
    assert got == want
    assert "/alpha?go-get=1" in corp.asked


@pytest.mark.asyncio
async def test_internal_host_is_refused_unless_named(meta443: Corp, tmp_path: Path) -> None:
    """Fault catalogue 25: without ``--vcs-internal-hosts`` the host, which resolves to
    loopback, is refused before any request; the go command gets a 404 with the reason."""
    corp = meta443
    corp.asked.clear()
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "cache",
            upstream=origin.url,
            sumdb=db,
            goprivate=HOST,
            vcs_meta_tags="true",
            ca_file=str(corp.tls.cert),
        ) as proxy,
    ):
        env = corp.go_env(tmp_path / "ours", goproxy=proxy.url, gonosumdb=HOST)
        (tmp_path / "ours").mkdir()
        proc = await asyncio.to_thread(
            run_go,
            ["mod", "download", "-json", f"{HOST}/alpha@v1.1.0"],
            cwd=tmp_path / "ours",
            env=env,
        )
    assert proc.returncode != 0
    assert "internal address 127.0.0.1" in proc.stdout + proc.stderr
    assert corp.asked == []

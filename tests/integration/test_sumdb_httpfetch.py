"""The HTTP fetcher and the verifier against our own checksum database on 127.0.0.1.

The database is our server (``gomodproxy.sumdbserver``: a real log built with our tlog and note
code) on port 0; "proxies" are small aiohttp apps of our own that answer
``/sumdb/<name>/supported`` and relay database paths byte for byte, or refuse. Nothing leaves
the loopback interface. The last test runs the real go command on the same state folders.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import socket
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.typedefs import Middleware

from gomodproxy.errors import (
    ChecksumMismatch,
    ModuleNotFound,
    SumDBError,
    UpstreamError,
    UpstreamTimeout,
)
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.goproxy import ProxyList, parse_goproxy
from gomodproxy.sumdb.client import NoSumDBEntry, SumDBClient
from gomodproxy.sumdb.fetch import SumDBEndpoint, SumDBHTTPFetcher
from gomodproxy.sumdb.filestate import FileVerifierState
from gomodproxy.sumdb.gosumdb import SumDBConfig, parse_gosumdb
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.sumdbserver import LogStore, ModuleSums, make_app, server_key
from gomodproxy.tlog import note
from gomodproxy.upstream.chain import transport_for
from gomodproxy.upstream.proxyclient import FetchPolicy
from tests.gotool import go_environ, run_go

NAME = "sumdb.example.test"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _h1(label: str) -> str:
    return "h1:" + base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()


#: A version the database knows only by its go.mod (its zip was never fetched).
GOMOD_ONLY = ModuleSums("example.com/graph-only", "v0.9.0", None, _h1("graph-only mod"))
SUMS = (
    [ModuleSums(f"example.com/m{i}", "v1.0.0", _h1(f"zip{i}"), _h1(f"mod{i}")) for i in range(300)]
    + [GOMOD_ONLY]
    + [ModuleSums("example.com/Upper", "v1.2.3", _h1("upper zip"), _h1("upper mod"))]
)


def _zip_hash(s: ModuleSums) -> str:
    assert s.zip_hash is not None, s
    return s.zip_hash


@dataclass
class Server:
    """A running aiohttp app and the raw request paths it saw."""

    url: str
    seen: list[str] = field(default_factory=list)


@dataclass
class Env:
    """The database, the keys, and a way to start more servers."""

    db: Server
    vkey: str
    start: Callable[[web.Application], Awaitable[Server]]
    session: aiohttp.ClientSession

    def config(self, url: str | None = None) -> SumDBConfig:
        return SumDBConfig(NAME, self.vkey, url)


def _recording(seen: list[str]) -> Middleware:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(request.raw_path)
        return await handler(request)

    return record


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    skey, vkey = note.generate_key(NAME)
    key = server_key(skey)
    store = await asyncio.to_thread(LogStore.open, tmp_path / "log", key.signer, key.verifier)
    await asyncio.to_thread(store.append, [s.record_text() for s in SUMS])
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> Server:
        server = Server("")
        app.middlewares.append(_recording(server.seen))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        server.url = f"http://{host}:{port}"
        return server

    try:
        async with aiohttp.ClientSession() as session:
            db = await start(make_app(store))
            yield Env(db, vkey, start, session)
    finally:
        for runner in runners:
            await runner.cleanup()
        store.close()


def relay_app(env: Env, *, supported: int = 200) -> web.Application:
    """A GOPROXY that proxies the database (``supported`` 200) or answers ``supported``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        prefix = f"/sumdb/{NAME}/"
        raw = request.raw_path
        if not raw.startswith(prefix):
            return web.Response(status=404, text="not found")
        rest = raw[len(prefix) :]
        if rest == "supported":
            return web.Response(status=supported, text="")
        if supported != 200:
            return web.Response(status=404, text="not found")
        async with env.session.get(env.db.url + "/" + rest) as upstream:
            body = await upstream.read()
            return web.Response(
                status=upstream.status,
                body=body,
                headers={"Content-Type": upstream.headers.get("Content-Type", "text/plain")},
            )

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fetcher_for(
    env: Env, config: SumDBConfig, proxies: ProxyList | None = None, *, timeout: float = 30.0
) -> SumDBHTTPFetcher:
    """The proxy's own database fetcher (no retries): straight to ``config``'s database, or
    located through ``proxies`` as the go command locates it."""
    policy = FetchPolicy(retries=0, deadline=timeout, read_timeout=timeout)
    endpoint = SumDBEndpoint(
        config,
        proxies if proxies is not None else parse_goproxy("off"),
        lambda url: transport_for(url, env.session, policy=policy),
    )
    return SumDBHTTPFetcher(endpoint)


def client_for(env: Env, fetcher: SumDBHTTPFetcher) -> SumDBClient:
    return SumDBClient(env.vkey, fetcher, MemoryVerifierState())


# --- straight to the database ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_verifier_proves_lines_served_by_our_database(env: Env, tmp_path: Path) -> None:
    fetcher = fetcher_for(env, env.config(env.db.url))
    state = FileVerifierState.go_layout(tmp_path / "gopath", tmp_path / "modcache")
    client = SumDBClient(env.vkey, fetcher, state)
    for s in (SUMS[0], SUMS[255], SUMS[299]):
        await client.verify(s.path, s.version, "zip", _zip_hash(s))
        await client.verify(s.path, s.version, "mod", s.mod_hash)
    assert client.latest.n == len(SUMS)
    latest = tmp_path / "gopath" / "pkg" / "sumdb" / NAME / "latest"
    assert latest.read_bytes() == await fetcher.fetch("latest")


@pytest.mark.asyncio
async def test_e_a_go_mod_only_record_proves_the_go_mod_and_never_a_zip(env: Env) -> None:
    """Fault catalogue E (CVE-2026-42501): a proven record without the zip's own line vouches
    for the go.mod only; a zip checked against it is refused, never passed."""
    client = client_for(env, fetcher_for(env, env.config(env.db.url)))
    await client.verify(GOMOD_ONLY.path, GOMOD_ONLY.version, "mod", GOMOD_ONLY.mod_hash)
    with pytest.raises(ChecksumMismatch):
        await client.verify(GOMOD_ONLY.path, GOMOD_ONLY.version, "mod", _h1("another go.mod"))
    with pytest.raises(NoSumDBEntry, match=r"example.com/graph-only@v0.9.0"):
        await client.verify(GOMOD_ONLY.path, GOMOD_ONLY.version, "zip", _h1("any zip"))


@pytest.mark.asyncio
async def test_bang_escaped_path_goes_on_the_wire_as_the_go_command_sends_it(env: Env) -> None:
    client = client_for(env, fetcher_for(env, env.config(env.db.url)))
    upper = SUMS[-1]
    assert await client.lookup(upper.path, upper.version) == [
        f"{upper.path} {upper.version} {upper.zip_hash}"
    ]
    # cmd/go web.Join keeps "!" in RawPath, which is a valid encoding: it is sent as is.
    assert "/lookup/example.com/!upper@v1.2.3" in env.db.seen


@pytest.mark.asyncio
async def test_e54_unknown_version_is_no_entry(env: Env) -> None:
    client = client_for(env, fetcher_for(env, env.config(env.db.url)))
    with pytest.raises(NoSumDBEntry, match=r"example\.com/absent@v1\.0\.0"):
        await client.verify("example.com/absent", "v1.0.0", "zip", _h1("x"))


@pytest.mark.asyncio
async def test_e54_database_that_refuses_connections_is_an_error(env: Env) -> None:
    client = client_for(env, fetcher_for(env, env.config(closed_port_url())))
    with pytest.raises(SumDBError, match="unavailable"):
        await client.verify(SUMS[0].path, SUMS[0].version, "zip", _zip_hash(SUMS[0]))


@pytest.mark.asyncio
async def test_e54_database_answering_503_is_an_error(env: Env) -> None:
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=503, text="overloaded, try later")

    app = web.Application()
    app.router.add_get("/{tail:.*}", fail)
    down = await env.start(app)
    fetcher = fetcher_for(env, env.config(down.url))
    with pytest.raises(UpstreamError, match="503 Service Unavailable") as info:
        await fetcher.fetch("lookup/example.com/m0@v1.0.0")
    assert info.value.status == 503
    assert "overloaded, try later" in str(info.value)
    with pytest.raises(SumDBError, match="unavailable"):
        await client_for(env, fetcher).lookup("example.com/m0", "v1.0.0")


@pytest.mark.asyncio
async def test_e54_database_that_never_answers_times_out(env: Env) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hang)
    slow = await env.start(app)
    fetcher = fetcher_for(env, env.config(slow.url), timeout=0.3)
    try:
        with pytest.raises(UpstreamTimeout, match=r"did not answer .* in time"):
            await fetcher.fetch("lookup/example.com/m0@v1.0.0")
    finally:
        never.set()  # let the server's handler finish so the server stops at once


@pytest.mark.asyncio
async def test_oversized_answers_are_refused(env: Env) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (70 << 10))

    app = web.Application()
    app.router.add_get("/{tail:.*}", big)
    server = await env.start(app)
    fetcher = fetcher_for(env, env.config(server.url))
    with pytest.raises(SumDBError, match="over 65536"):
        await fetcher.fetch("lookup/example.com/m0@v1.0.0")
    with pytest.raises(SumDBError, match="over 8192"):
        await fetcher.fetch("tile/8/0/000")
    with pytest.raises(SumDBError, match="over 96"):
        await fetcher.fetch("tile/8/1/000.p/3")


@pytest.mark.asyncio
async def test_malformed_tile_path_is_refused_before_any_request(env: Env) -> None:
    fetcher = fetcher_for(env, env.config(env.db.url))
    with pytest.raises(SumDBError, match="malformed tile path"):
        await fetcher.fetch("tile/8/0/1")
    assert env.db.seen == []


# --- item 55: finding the database through GOPROXY ------------------------------------------------


@pytest.mark.asyncio
async def test_e55_supported_200_routes_every_request_through_that_proxy(env: Env) -> None:
    absent = await env.start(relay_app(env, supported=404))
    relay = await env.start(relay_app(env))
    proxies = parse_goproxy(f"{absent.url},{relay.url},direct")
    fetcher = fetcher_for(env, env.config(), proxies)
    client = client_for(env, fetcher)
    await client.verify(SUMS[7].path, SUMS[7].version, "zip", _zip_hash(SUMS[7]))
    assert await fetcher.base_url() == f"{relay.url}/sumdb/{NAME}"
    assert absent.seen == [f"/sumdb/{NAME}/supported"]
    assert relay.seen[0] == f"/sumdb/{NAME}/supported"
    assert f"/sumdb/{NAME}/lookup/example.com/m7@v1.0.0" in relay.seen
    assert any(p.startswith(f"/sumdb/{NAME}/tile/8/") for p in relay.seen)
    # The database saw only what the relay forwarded.
    assert len(env.db.seen) == len(relay.seen) - 1


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [404, 410])
async def test_e55_not_found_everywhere_means_the_database_itself(env: Env, status: int) -> None:
    absent = await env.start(relay_app(env, supported=status))
    fetcher = fetcher_for(env, env.config(), parse_goproxy(f"{absent.url},direct"))
    assert await fetcher.base_url() == f"https://{NAME}"
    fetcher = fetcher_for(env, env.config(), parse_goproxy(absent.url))
    assert await fetcher.base_url() == f"https://{NAME}"


@pytest.mark.asyncio
@pytest.mark.parametrize("value", ["off", "direct"])
async def test_e55_direct_or_off_means_the_database_itself(env: Env, value: str) -> None:
    fetcher = fetcher_for(env, env.config(), parse_goproxy(value))
    assert await fetcher.base_url() == f"https://{NAME}"


@pytest.mark.asyncio
async def test_e55_supported_503_is_unavailable_with_no_fallback(env: Env) -> None:
    failing = await env.start(relay_app(env, supported=503))
    relay = await env.start(relay_app(env))
    fetcher = fetcher_for(env, env.config(), parse_goproxy(f"{failing.url},{relay.url},direct"))
    with pytest.raises(SumDBError, match=r"unavailable.*503"):
        await fetcher.fetch("lookup/example.com/m0@v1.0.0")
    assert relay.seen == []
    assert env.db.seen == []


@pytest.mark.asyncio
async def test_e55_pipe_falls_through_after_any_error(env: Env) -> None:
    failing = await env.start(relay_app(env, supported=503))
    relay = await env.start(relay_app(env))
    fetcher = fetcher_for(env, env.config(), parse_goproxy(f"{failing.url}|{relay.url}"))
    assert await fetcher.base_url() == f"{relay.url}/sumdb/{NAME}"
    refused = fetcher_for(env, env.config(), parse_goproxy(f"{closed_port_url()}|{relay.url}"))
    assert await refused.base_url() == f"{relay.url}/sumdb/{NAME}"


@pytest.mark.asyncio
async def test_e55_pipe_error_then_only_not_found_is_unavailable(env: Env) -> None:
    # cmd/go TryProxies reports the proxy's error, which outranks a later not-found.
    failing = await env.start(relay_app(env, supported=503))
    absent = await env.start(relay_app(env, supported=404))
    fetcher = fetcher_for(env, env.config(), parse_goproxy(f"{failing.url}|{absent.url}"))
    with pytest.raises(SumDBError, match="unavailable"):
        await fetcher.base_url()
    # ... unless the list reaches direct.
    fetcher = fetcher_for(env, env.config(), parse_goproxy(f"{failing.url}|{absent.url},direct"))
    assert await fetcher.base_url() == f"https://{NAME}"


@pytest.mark.asyncio
async def test_e55_implicit_noproxy_entry_is_skipped(env: Env) -> None:
    relay = await env.start(relay_app(env))
    proxies = parse_goproxy(relay.url, gonoproxy="corp.example")
    assert proxies.entries[0].url == "noproxy"
    fetcher = fetcher_for(env, env.config(), proxies)
    assert await fetcher.base_url() == f"{relay.url}/sumdb/{NAME}"


@pytest.mark.asyncio
async def test_e55_file_proxy_with_supported_but_no_lookups_fails_without_fallback(
    env: Env, tmp_path: Path
) -> None:
    root = tmp_path / "fileproxy"
    (root / "sumdb" / NAME).mkdir(parents=True)
    (root / "sumdb" / NAME / "supported").write_bytes(b"")
    relay = await env.start(relay_app(env))
    fetcher = fetcher_for(env, env.config(), parse_goproxy(f"{root.as_uri()},{relay.url}"))
    assert await fetcher.base_url() == f"{root.as_uri()}/sumdb/{NAME}"
    with pytest.raises(ModuleNotFound):
        await fetcher.fetch("lookup/example.com/m0@v1.0.0")
    with pytest.raises(NoSumDBEntry):
        await client_for(env, fetcher).lookup("example.com/m0", "v1.0.0")
    assert relay.seen == []


@pytest.mark.asyncio
async def test_base_is_found_once_and_the_gosumdb_url_skips_the_walk(env: Env) -> None:
    relay = await env.start(relay_app(env))
    fetcher = fetcher_for(env, env.config(), parse_goproxy(relay.url))
    client = client_for(env, fetcher)
    await asyncio.gather(*(client.lookup(s.path, s.version) for s in SUMS[:20]))
    assert relay.seen.count(f"/sumdb/{NAME}/supported") == 1
    cfg = parse_gosumdb(f"{env.vkey} {env.db.url}")
    assert cfg is not None
    direct = fetcher_for(env, cfg, parse_goproxy(relay.url))
    assert await direct.base_url() == env.db.url
    assert relay.seen.count(f"/sumdb/{NAME}/supported") == 1


# --- sharing state with the real go command -------------------------------------------------------


def _module_zip(path: str, version: str, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(f"{path}@{version}/{name}", data)
    return out.getvalue()


def _publish(root: Path, path: str, version: str, mod: bytes, zip_data: bytes) -> None:
    vdir = root / path / "@v"
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / f"{version}.info").write_text(f'{{"Version":"{version}"}}')
    (vdir / f"{version}.mod").write_bytes(mod)
    (vdir / f"{version}.zip").write_bytes(zip_data)
    (vdir / "list").write_text(version + "\n")


@pytest.fixture
def go_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.mark.gocmd
@pytest.mark.asyncio
async def test_go_command_and_our_verifier_share_latest_lookups_and_tiles(
    tmp_path: Path, go_home: Path
) -> None:
    """Go writes state our client reads offline, and our client writes state Go reads."""
    skey, vkey = note.generate_key(NAME)
    key = server_key(skey)
    proxy = tmp_path / "goproxy"
    modules = {}
    for name in ("alpha", "beta"):
        path = f"example.com/{name}"
        mod = f"module {path}\n\ngo 1.21\n".encode()
        zip_data = _module_zip(path, "v1.0.0", {"go.mod": mod, f"{name}.go": b"package x\n"})
        _publish(proxy, path, "v1.0.0", mod, zip_data)
        modules[name] = ModuleSums(path, "v1.0.0", hash_zip(io.BytesIO(zip_data)), hash_go_mod(mod))
    store = await asyncio.to_thread(LogStore.open, tmp_path / "log", key.signer, key.verifier)
    await asyncio.to_thread(
        store.append, [modules["alpha"].record_text(), modules["beta"].record_text()]
    )
    runner = web.AppRunner(make_app(store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    db_url = f"http://{host}:{port}"
    gopath = go_home / "gopath"
    gomodcache = gopath / "pkg" / "mod"
    work = tmp_path / "work"
    work.mkdir()
    try:
        env = go_environ(go_home, goproxy=proxy.as_uri(), gosumdb=f"{vkey} {db_url}")
        done = await asyncio.to_thread(
            run_go, ["mod", "download", "-json", "example.com/alpha@v1.0.0"], cwd=work, env=env
        )
        assert done.returncode == 0, done.stderr
        latest = gopath / "pkg" / "sumdb" / NAME / "latest"
        assert latest.exists()

        async with aiohttp.ClientSession() as session:
            # 1. Offline, our client trusts what the go command proved and cached.
            offline = SumDBHTTPFetcher(
                transport_for(closed_port_url(), session, policy=FetchPolicy(retries=0))
            )
            ours = SumDBClient(vkey, offline, FileVerifierState.go_layout(gopath, gomodcache))
            alpha = modules["alpha"]
            await ours.verify(alpha.path, alpha.version, "zip", _zip_hash(alpha))
            await ours.verify(alpha.path, alpha.version, "mod", alpha.mod_hash)

            # 2. Online, our client proves beta and caches it where the go command looks.
            online = SumDBHTTPFetcher(transport_for(db_url, session))
            ours = SumDBClient(vkey, online, FileVerifierState.go_layout(gopath, gomodcache))
            beta = modules["beta"]
            await ours.verify(beta.path, beta.version, "zip", _zip_hash(beta))
    finally:
        await runner.cleanup()
        store.close()

    # 3. With the database gone, the go command accepts beta from our cached, proven lookup,
    # and only because of it: without that file it cannot verify beta.
    env = go_environ(go_home, goproxy=proxy.as_uri(), gosumdb=f"{vkey} {closed_port_url()}")
    lookup = gomodcache / "cache" / "download" / "sumdb" / NAME / "lookup" / "example.com"
    assert (lookup / "alpha@v1.0.0").exists()  # written by the go command
    ours_file = lookup / "beta@v1.0.0"
    saved = ours_file.read_bytes()
    ours_file.unlink()
    args = ["mod", "download", "-json", "example.com/beta@v1.0.0"]
    refused = await asyncio.to_thread(run_go, args, cwd=work, env=env)
    assert refused.returncode != 0
    assert "verifying go.mod" in refused.stdout + refused.stderr
    ours_file.write_bytes(saved)
    done = await asyncio.to_thread(run_go, args, cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert f'"Sum": "{modules["beta"].zip_hash}"' in done.stdout

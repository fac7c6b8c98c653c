"""The hit lane (``gomodproxy.server.hitlane``): immutable small-file hits answered below aiohttp.

The proxy runs as ``gomodproxy serve`` runs it (the app behind our own listener, whose
connection wrapper offers each chunk to the lane), in this process so the tests can read the
lane's count of answers. Every test checks what a client sees: the lane's answer is the one
aiohttp would give, anything the lane must not answer (a request in pieces, a body, pipelined
requests, a request behind a slower answer on its connection, a guarded or denied module) gets
the full path's answer in order, and the keep-alive deadline still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from gomodproxy.assembly import check_settings
from gomodproxy.cache.denylist import DenyEntry, deny_key
from gomodproxy.config import build_settings
from gomodproxy.logthrottle import LogThrottle
from gomodproxy.server.app import HIT_LANE_KEY, SERVICE_KEY, make_app
from gomodproxy.server.connguard import GuardedConnection
from gomodproxy.server.connlimits import ConnectionCaps, ConnectionGate
from gomodproxy.server.hitlane import HitLane
from gomodproxy.server.listener import Listener
from gomodproxy.server.metrics import ProxyMetrics
from tests.gotool import go_environ, run_go
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import SumDB, SynthModule, publish, running_sumdb, synth

pytestmark = pytest.mark.asyncio

MOD = synth("example.com/lane", "v1.0.0")
#: A .mod big enough to fill a small socket buffer in a few answers.
BIG = synth(
    "example.com/big",
    "v1.0.0",
    files={"go.mod": b"module example.com/big\n\n" + b"// padding\n" * 36_000},
)
GUARDED = synth("corp.example.com/private", "v1.0.0")
SLOW = synth("example.com/slow", "v1.0.0")


@dataclass
class LaneProxy:
    """The proxy behind our listener, its lane and its metrics."""

    port: int
    lane: HitLane
    metrics: ProxyMetrics
    app: web.Application
    caps: ConnectionCaps
    server: web.Server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def lane_proxy(
    tmp_path: Path,
    origin: Origin,
    sumdb: SumDB,
    *,
    keepalive: float = 75.0,
    overrides: Mapping[str, str] | None = None,
) -> AsyncIterator[LaneProxy]:
    """``gomodproxy serve``'s app and listener (as ``cli.serve.serve`` wires them)."""
    values = {
        "upstream": origin.url,
        "sumdb": sumdb.gosumdb,
        "cache-dir": str(tmp_path / "cache"),
        "list-ttl": "0",
        "retries": "0",
        "read-timeout": "5",
        "instance-id": "lane-test",
    }
    values.update({k.replace("_", "-"): v for k, v in (overrides or {}).items()})
    settings = await asyncio.to_thread(
        build_settings, values, {"HOME": str(tmp_path)}, go_env=lambda names: {}
    )
    plan = await asyncio.to_thread(check_settings, settings)
    metrics = ProxyMetrics()
    app = make_app(plan, instance_id="lane-test", metrics=metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=keepalive)
    await runner.setup()
    assert runner.server is not None
    caps = ConnectionCaps(total=256, per_client=256, header_timeout=10.0)
    listener = Listener(runner.server, caps, lane=app[HIT_LANE_KEY])
    await listener.start("127.0.0.1", 0)
    try:
        port = listener.sockets[0].getsockname()[1]
        yield LaneProxy(port, app[HIT_LANE_KEY], metrics, app, caps, runner.server)
    finally:
        listener.close()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def world(tmp_path: Path, **overrides: str) -> AsyncIterator[tuple[Origin, LaneProxy]]:
    async with running_origin() as origin, running_sumdb(tmp_path / "sumdb") as sumdb:
        publish(origin, MOD, GUARDED, SLOW, BIG)
        await sumdb.add(MOD, SLOW, BIG)
        async with lane_proxy(tmp_path, origin, sumdb, overrides=overrides) as proxy:
            yield origin, proxy


class Client:
    """One keep-alive connection, raw: what is sent is exactly what the test wrote."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Client:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.writer is not None
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[bytes, dict[str, str], bytes]:
        """The next response: status line, headers (names lowercased), body."""
        assert self.reader is not None
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await asyncio.wait_for(self.reader.readexactly(int(headers["content-length"])), 10)
        return lines[0].encode(), headers, body


def get(rel: str, **headers: str) -> bytes:
    extra = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    return f"GET /{rel} HTTP/1.1\r\nHost: proxy\r\n{extra}\r\n".encode()


async def warm(proxy: LaneProxy, module: SynthModule) -> None:
    """Fetch the module's .info and .mod once (a miss, through aiohttp), so memory holds them."""
    async with Client(proxy.port) as c:
        for ext in ("info", "mod"):
            await c.send(get(module.rel(ext)))
            status, _, _ = await c.response()
            assert status == b"HTTP/1.1 200 OK"


def count(metrics: ProxyMetrics, kind: str) -> float:
    value = metrics._registry.get_sample_value(
        "gomodproxy_requests_total", {"kind": kind, "status": "200"}
    )
    return value or 0.0


def without_date(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "date"}


async def test_the_lane_answers_what_aiohttp_answers_and_counts_it(tmp_path: Path) -> None:
    """A hit of a canonical .info/.mod is answered by the lane with aiohttp's status line,
    headers and body, and is counted and logged like any request."""
    async with world(tmp_path) as (origin, proxy):
        await warm(proxy, MOD)
        before = proxy.lane.answered
        async with Client(proxy.port) as c:
            for ext, body in (("info", MOD.info), ("mod", MOD.mod)):
                counted = count(proxy.metrics, ext)
                await c.send(get(MOD.rel(ext)))
                lane_status, lane_headers, lane_body = await c.response()
                # An If-None-Match that matches nothing: the same answer, through aiohttp.
                await c.send(get(MOD.rel(ext), If_None_Match='"other"'))
                full_status, full_headers, full_body = await c.response()
                assert lane_status == full_status == b"HTTP/1.1 200 OK"
                assert lane_body == full_body == body
                assert without_date(lane_headers) == without_date(full_headers)
                assert count(proxy.metrics, ext) == counted + 2
        assert proxy.lane.answered == before + 2
        assert origin.count(MOD.rel("info")) == 1  # the warm-up's miss only


async def test_a_request_in_pieces_or_with_a_body_is_never_read_by_the_lane(
    tmp_path: Path,
) -> None:
    """Split headers go to aiohttp; a body that looks like a request is a body, not a request
    (no smuggling past aiohttp's parser): from then on the connection stays aiohttp's."""
    async with world(tmp_path) as (_, proxy):
        await warm(proxy, MOD)
        before = proxy.lane.answered
        async with Client(proxy.port) as c:
            whole = get(MOD.rel("info"))
            await c.send(whole[:20])
            await asyncio.sleep(0.1)
            await c.send(whole[20:])
            status, _, body = await c.response()
            assert (status, body) == (b"HTTP/1.1 200 OK", MOD.info)
        assert proxy.lane.answered == before
        async with Client(proxy.port) as c:
            smuggled = get(MOD.rel("mod"))
            await c.send(
                f"POST /{MOD.rel('info')} HTTP/1.1\r\nHost: proxy\r\n"
                f"Content-Length: {len(smuggled)}\r\n\r\n".encode()
            )
            await asyncio.sleep(0.1)
            await c.send(smuggled)
            status, _, body = await c.response()
            assert status == b"HTTP/1.1 405 Method Not Allowed"
            await c.send(get(MOD.rel("info")))  # the connection goes on, through aiohttp
            status, _, body = await c.response()
            assert (status, body) == (b"HTTP/1.1 200 OK", MOD.info)
        assert proxy.lane.answered == before


async def test_malformed_requests_get_aiohttps_answer(tmp_path: Path) -> None:
    """A header line without a colon, and line ends that are a bare LF, are aiohttp's to judge
    (its 400), never answered by the lane."""
    async with world(tmp_path) as (_, proxy):
        await warm(proxy, MOD)
        before = proxy.lane.answered
        whole = get(MOD.rel("info"))
        for bad in (
            whole.replace(b"Host: proxy", b"Host proxy"),
            whole.replace(b"Host: proxy\r\n", b"Host: proxy\nX-A: b\r\n"),
            whole.replace(b"Host: proxy", b"Host: proxy\r\n folded"),
        ):
            async with Client(proxy.port) as c:
                await c.send(bad)
                status, _, _ = await c.response()
                assert status.split()[1] == b"400", bad
        assert proxy.lane.answered == before


async def test_pipelined_requests_and_a_hit_behind_a_slow_answer_keep_their_order(
    tmp_path: Path,
) -> None:
    """Two requests in one packet, and a hit sent while a slow miss is being answered on the
    same connection: answers come back in request order."""
    async with world(tmp_path) as (origin, proxy):
        await warm(proxy, MOD)
        before = proxy.lane.answered
        async with Client(proxy.port) as c:
            await c.send(get(MOD.rel("mod")) + get(MOD.rel("info")))
            assert (await c.response())[2] == MOD.mod
            assert (await c.response())[2] == MOD.info
        assert proxy.lane.answered == before
        origin.inject(Fault(delay=0.5), SLOW.rel("info"))
        async with Client(proxy.port) as c:
            await c.send(get(SLOW.rel("info")))
            await asyncio.sleep(0.2)  # the miss is waiting for the origin
            await c.send(get(MOD.rel("info")))
            assert (await c.response())[2] == SLOW.info
            assert (await c.response())[2] == MOD.info
        assert proxy.lane.answered == before


async def test_a_hit_arriving_while_aiohttp_holds_a_request_waits_its_turn(
    tmp_path: Path,
) -> None:
    """Two requests delivered in one turn of the event loop, the first for aiohttp (its handler
    has not started yet when the second arrives), the second a hit: the lane holds the second
    until aiohttp has answered the first, then answers it, so the answers keep their order."""
    async with world(tmp_path) as (_, proxy):
        await warm(proxy, MOD)
        before = proxy.lane.answered
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        slot = ConnectionGate(8, 8).acquire("test")
        assert slot is not None
        _, protocol = await loop.connect_accepted_socket(
            lambda: GuardedConnection(
                proxy.server(),
                slot,
                header_timeout=10.0,
                throttle=LogThrottle(logging.getLogger("test"), 10.0),
                lane=proxy.lane,
            ),
            ours,
        )
        await asyncio.sleep(0.05)  # aiohttp's handler waits for a request
        protocol.data_received(get(MOD.rel("info"), If_None_Match='"other"'))
        protocol.data_received(get(MOD.rel("mod")))
        reader, writer = await asyncio.open_connection(sock=theirs)
        try:
            received = b""
            while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(MOD.mod):
                chunk = await asyncio.wait_for(reader.read(65536), 10)
                assert chunk, received
                received += chunk
            assert received.index(MOD.info) < received.index(MOD.mod)
        finally:
            writer.close()
            protocol.connection_lost(None)
        assert proxy.lane.answered == before + 1  # held, not given up to aiohttp


async def test_a_client_that_does_not_read_is_not_answered_without_bounds(
    tmp_path: Path,
) -> None:
    """A client sends hit after hit and reads nothing: once the connection's send buffer is
    full the lane stops writing and leaves the requests to aiohttp, which waits for the client;
    when it reads, every answer arrives, in order."""
    async with world(tmp_path) as (_, proxy):
        await warm(proxy, BIG)
        before = proxy.lane.answered
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", proxy.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            sent = 40
            for _ in range(sent):  # one request per segment, as a client without pipelining
                writer.write(get(BIG.rel("mod")))
                await writer.drain()
                await asyncio.sleep(0.01)
            answered = proxy.lane.answered - before
            # 40 answers are 16 MB; the kernel buffers at most tcp_wmem's maximum of them (4 MiB
            # here), the transport 64 KiB more: the lane stopped once they were full.
            assert 0 < answered <= _kernel_send_buffer() // len(BIG.mod) + 5 < sent
            for _ in range(sent):
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                assert head.startswith(b"HTTP/1.1 200 OK")
                assert await asyncio.wait_for(reader.readexactly(len(BIG.mod)), 10) == BIG.mod
        finally:
            writer.close()


def _kernel_send_buffer() -> int:
    """The most a TCP socket buffers for sending (Linux's tcp_wmem maximum)."""
    return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


async def test_guarded_rules_and_denied_modules_get_the_full_paths_answer(
    tmp_path: Path,
) -> None:
    """A module behind --client-auth, one a --rules rule names, and one denied with
    `cache rm` after it was in memory: the lane leaves each to the full path (401, 403, 403)."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nmatch = "example.com/slow"\naction = "deny"\n')
    token_hash = "sha256:" + "0" * 64
    async with world(
        tmp_path, client_auth=f"corp.example.com/*={token_hash}", rules=str(rules)
    ) as (_, proxy):
        await warm(proxy, MOD)
        service = proxy.app[SERVICE_KEY]
        for module in (GUARDED, SLOW):  # in memory, fetched past the door
            await service.info(module.path, module.version)
        before = proxy.lane.answered
        async with Client(proxy.port) as c:
            await c.send(get(GUARDED.rel("info")))
            assert (await c.response())[0] == b"HTTP/1.1 401 Unauthorized"
            await c.send(get(SLOW.rel("info")))
            assert (await c.response())[0] == b"HTTP/1.1 403 Forbidden"
            entry = DenyEntry(MOD.path, MOD.version, "test", "tester", time.time())
            await service.storage.put(deny_key(MOD.path, MOD.version), entry.to_json())
            await service.deny.refresh()
            await c.send(get(MOD.rel("info")))
            status, _, body = await c.response()
            assert status == b"HTTP/1.1 403 Forbidden"
            assert b"cache rm" in body
        assert proxy.lane.answered == before


async def test_the_keep_alive_deadline_counts_from_the_last_lane_answer(tmp_path: Path) -> None:
    """A connection served by the lane alone is kept while requests come, and closed by the
    keep-alive deadline once idle."""
    async with running_origin() as origin, running_sumdb(tmp_path / "sumdb") as sumdb:
        publish(origin, MOD)
        await sumdb.add(MOD)
        async with lane_proxy(tmp_path, origin, sumdb, keepalive=1.0) as proxy:
            await warm(proxy, MOD)
            before = proxy.lane.answered
            async with Client(proxy.port) as c:
                for _ in range(6):  # 1.8 s in all: beyond the deadline had it not moved
                    await c.send(get(MOD.rel("info")))
                    assert (await c.response())[2] == MOD.info
                    await asyncio.sleep(0.3)
                assert proxy.lane.answered == before + 6
                assert c.reader is not None
                assert await asyncio.wait_for(c.reader.read(1), 5) == b""  # closed when idle


@pytest.mark.gocmd
async def test_the_go_command_reads_lane_answers(tmp_path: Path) -> None:
    """The go command downloads through the proxy twice, each time with an empty module cache:
    the second time the .info and .mod come from the lane, and it gets the same result."""
    async with world(tmp_path) as (_, proxy):
        outputs = []
        before = 0
        for run in ("first", "second"):
            home = tmp_path / run
            home.mkdir()
            env = go_environ(home, goproxy=proxy.url)
            result = await asyncio.to_thread(
                run_go,
                ["mod", "download", "-json", f"{MOD.path}@{MOD.version}"],
                cwd=home,
                env=env,
                check=True,
            )
            outputs.append(result.stdout.replace(str(home), "<home>"))
            if run == "first":
                before = proxy.lane.answered
        assert outputs[0] == outputs[1]
        assert '"Error"' not in outputs[1]
        assert proxy.lane.answered >= before + 2

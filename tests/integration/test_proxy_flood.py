"""``gomodproxy serve`` under a connection flood with a low open-file limit (catalogue H77).

The proxy runs as a real process with ``ulimit -n 256`` in front of a local origin; the flood
is idle and slow-loris connections to 127.0.0.1, sent from other loopback source addresses
(127.0.0.2, 127.0.0.3) so that the per-client cap applies to the flood and not to the normal
client (127.0.0.1). Every flood is bounded in count (600) and in time (a few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.origin import Origin, running_origin
from tests.proxykit import SumDB, publish, running_sumdb, synth

SMALL = synth("example.com/small", "v1.0.0")
NOFILE = 256
FLOOD = 600
#: Header timeout of the flood tests: short, so a test takes seconds.
HEADER_TIMEOUT = 1.0
#: Longer for the per-client cap test: the cap must still be full when the flood ends.
CAP_HEADER_TIMEOUT = 3.0
PER_CLIENT = 32
#: The log of a whole test stays below this: a line per interval, no traceback per event.
LOG_BUDGET = 16 * 1024


@dataclass
class Proxy:
    proc: asyncio.subprocess.Process
    url: str
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Env:
    origin: Origin
    db: SumDB
    root: Path


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running_origin() as origin, running_sumdb(tmp_path / "sumdb", [SMALL]) as db:
        publish(origin, SMALL)
        yield Env(origin, db, tmp_path)


def _low_nofile() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@contextlib.asynccontextmanager
async def _proxy(
    env: Env, args: Sequence[str], header_timeout: float = HEADER_TIMEOUT
) -> AsyncIterator[Proxy]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
    environ.update(
        {
            "HOME": str(env.root / "home"),
            "XDG_CACHE_HOME": str(env.root / "xdg"),
            "GOPROXY": env.origin.url,
            "GOSUMDB": env.db.gosumdb,
            "GOMODPROXY_LISTEN": "127.0.0.1:0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    log = env.root / "proxy.log"
    err = await asyncio.to_thread(open, log, "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gomodproxy",
            "serve",
            "--header-timeout",
            str(header_timeout),
            *args,
            env=environ,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            preexec_fn=_low_nofile,
        )
    finally:
        err.close()
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"gomodproxy: serving "), (line, log.read_text())
        url = line.split()[-1].decode()
        yield Proxy(proc, url, int(url.rsplit(":", 1)[1]), log)
        assert proc.returncode is None, "the proxy died during the flood"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _get(url: str, within: float = 10) -> tuple[int, bytes]:
    """A normal client: a new connection from 127.0.0.1, one GET."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=within)
        ) as http,
        http.get(url) as resp,
    ):
        return resp.status, await resp.read()


@dataclass
class Closed:
    after: float  # seconds from opening
    answer: bytes


@dataclass
class FloodConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float
    slowloris: bool


async def _open_flood(
    port: int, source: str, count: int, connect_timeout: float = 3
) -> list[FloodConnection]:
    """``count`` connections from ``source``; every other one starts a request (slow-loris),
    the rest send nothing (idle). Connections that cannot be made in time are left out."""

    async def one(i: int) -> FloodConnection | None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)),
                connect_timeout,
            )
        except (OSError, TimeoutError):
            return None
        slowloris = i % 2 == 1
        if slowloris:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: flood\r\n")
        return FloodConnection(reader, writer, time.monotonic(), slowloris)

    made = await asyncio.gather(*(one(i) for i in range(count)))
    return [c for c in made if c is not None]


async def _trickle(conns: Sequence[FloodConnection], stop: asyncio.Event) -> None:
    """Slow-loris: one more header byte every 0.1 s, never the blank line ending the headers."""
    while not stop.is_set():
        for c in conns:
            if c.slowloris and not c.writer.is_closing():
                c.writer.write(b"X")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def _closed_within(conn: FloodConnection, seconds: float) -> Closed | None:
    """How and when the server closed ``conn`` (None if it stayed open ``seconds`` more)."""
    try:
        answer = await asyncio.wait_for(conn.reader.read(), seconds)
    except TimeoutError:
        return None
    except OSError:
        answer = b""  # reset: closed with our bytes unread
    return Closed(time.monotonic() - conn.opened, answer)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _close_all(conns: Sequence[FloodConnection]) -> None:
    for c in conns:
        c.writer.close()
    await asyncio.gather(*(c.writer.wait_closed() for c in conns), return_exceptions=True)


@pytest.mark.asyncio
async def test_h77_idle_and_slowloris_floods_neither_lock_out_clients_nor_flood_the_log(
    env: Env,
) -> None:
    """600 connections from one address: PER_CLIENT of them (half idle, half slow-loris) are
    held until the header timeout, the rest are refused at once; 127.0.0.1 is served all the
    while, and the log gets one line per kind."""
    timeout = CAP_HEADER_TIMEOUT
    args = ["--max-connections-per-client", str(PER_CLIENT)]
    async with _proxy(env, args, header_timeout=timeout) as proxy:
        info_url = f"{proxy.url}/{SMALL.rel('info')}"
        assert await _get(info_url) == (200, SMALL.info)  # fetched and cached

        held = await _open_flood(proxy.port, "127.0.0.2", PER_CLIENT)
        rest = await _open_flood(proxy.port, "127.0.0.2", FLOOD - PER_CLIENT)
        stop = asyncio.Event()
        trickle = asyncio.create_task(_trickle([*held, *rest], stop))
        try:
            # (a) Another client is served during the flood.
            assert await _get(f"{proxy.url}/healthz", within=5) == (200, b"ok\n")
            assert await _get(info_url, within=5) == (200, SMALL.info)
            # (c) The address holds PER_CLIENT connections; every other one was refused at
            # once: an idle one reads a 503 with Connection: close, one that had sent bytes
            # may see a reset instead.
            assert len(held) == PER_CLIENT
            assert len(rest) > FLOOD - PER_CLIENT - 50, "the flood could not even connect"
            assert not any(await asyncio.gather(*(_closed_within(c, 0.2) for c in held)))
            refused = await asyncio.gather(*(_closed_within(c, 0.5) for c in rest))
            assert time.monotonic() - held[0].opened < timeout * 0.8, "too slow to tell"
            assert all(r is not None for r in refused)
            busy = [r for r, c in zip(refused, rest, strict=True) if r and not c.slowloris]
            assert all(r.answer.startswith(b"HTTP/1.1 503 ") for r in busy)
            # (b) The held ones, idle or trickling header bytes, are cut after the header
            # timeout (generous bounds: a shared 2-core machine).
            closed = await asyncio.gather(*(_closed_within(c, timeout + 10) for c in held))
            after = [c.after if c else None for c in closed]
            assert all(a is not None and timeout * 0.8 <= a <= timeout + 5 for a in after), after
            assert sum(c.slowloris for c in held) == PER_CLIENT // 2
        finally:
            stop.set()
            await trickle
            await _close_all([*held, *rest])

    # (d) The log stays small: one line per kind per interval, no traceback.
    text = proxy.log_text()
    assert "Traceback" not in text
    assert len(text.encode()) < LOG_BUDGET, text[:2000]
    assert 1 <= text.count("listener.over_capacity cap=client") <= 2
    assert 1 <= text.count("conn.header_timeout") <= 2


@pytest.mark.asyncio
async def test_h77_an_idle_keepalive_connection_is_closed_after_the_keepalive_timeout(
    env: Env,
) -> None:
    args = ["--keepalive-timeout", "1", "--header-timeout", "60"]
    async with _proxy(env, args) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        for _ in range(2):  # the connection is reused, then left idle
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(reader.readexactly(3), 5) == b"ok\n"
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        assert 0.8 <= time.monotonic() - started < 5
        writer.close()


@pytest.mark.asyncio
async def test_h77_a_refused_connection_gets_a_503_naming_the_cause(env: Env) -> None:
    async with _proxy(env, ["--max-connections-per-client", "1"], header_timeout=30) as proxy:
        first = await _open_flood(proxy.port, "127.0.0.2", 1)
        assert len(first) == 1
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.port, local_addr=("127.0.0.2", 0)
        )
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"Connection: close\r\n" in answer
        assert answer.endswith(b"\r\n\r\ntoo many connections\n")
        # Another address is not affected by that client's cap.
        assert (await _get(f"{proxy.url}/healthz"))[0] == 200
        await _close_all(first)
    text = proxy.log_text()
    assert "listener.over_capacity cap=client limit=1 client=127.0.0.2" in text


@pytest.mark.asyncio
async def test_h77_out_of_descriptors_the_proxy_pauses_accepting_and_logs_once(
    env: Env,
) -> None:
    """--max-connections above what ulimit -n allows: accept() fails with EMFILE. The proxy
    logs one line (not a traceback per attempt), pauses accepting instead of spinning, and
    serves again as soon as the header timeout frees descriptors, while the flood is there."""
    args = ["--max-connections", "1000", "--max-connections-per-client", "1000"]
    async with _proxy(env, args) as proxy:
        cpu_before, started = _cpu_seconds(proxy.proc.pid), time.monotonic()
        conns = await _open_flood(proxy.port, "127.0.0.3", FLOOD, connect_timeout=2)
        try:
            assert len(conns) > NOFILE  # more than the proxy can hold: some wait in backlog
            status, body = await _get(f"{proxy.url}/healthz", within=15)
            assert (status, body) == (200, b"ok\n")
            cpu = _cpu_seconds(proxy.proc.pid) - cpu_before
            wall = time.monotonic() - started
        finally:
            await _close_all(conns)
        # Spinning on a readable socket whose accept() fails would burn the whole time.
        assert cpu < 0.5 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s"
        assert (await _get(f"{proxy.url}/healthz", within=10))[0] == 200
    text = proxy.log_text()
    assert "proxy.max_connections_above_fd_limit max_connections=1000 nofile=256" in text
    assert "Traceback" not in text
    assert 1 <= text.count("listener.accept_paused errno=EMFILE") <= 2
    assert len(text.encode()) < LOG_BUDGET, text[:2000]

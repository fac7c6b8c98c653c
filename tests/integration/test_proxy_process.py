"""``gomodproxy serve`` as a real process: defaults, SIGKILL mid-write, graceful stop, workers.

The origin and the checksum database run in the test's event loop on 127.0.0.1; the proxy is a
subprocess started with ``python -m gomodproxy serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import random
import resource
import signal
import sys
import time
import zipfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.storage import FilesystemStorage
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import SumDB, publish, running_sumdb, synth
from tests.tlscert import make_local_tls

BIG = synth("example.com/big", "v1.0.0", size=2_000_000)
SMALL = synth("example.com/small", "v1.0.0")


@dataclass
class Running:
    proc: asyncio.subprocess.Process
    url: str
    log: Path


@dataclass
class World:
    origin: Origin
    db: SumDB
    root: Path

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
        env.update(
            {
                "HOME": str(self.root / "home"),
                "XDG_CACHE_HOME": str(self.root / "xdg"),
                "GOPROXY": self.origin.url,
                "GOSUMDB": f"{self.db.key.verifier_key} {self.db.url}",
                "GOMODPROXY_LISTEN": "127.0.0.1:0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    @property
    def cache_dir(self) -> Path:
        return self.root / "xdg" / "gomodproxy"

    async def start(
        self, args: Sequence[str] = (), env: Mapping[str, str] | None = None, name: str = "proxy"
    ) -> Running:
        log = self.root / f"{name}.log"
        err = await asyncio.to_thread(open, log, "ab")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gomodproxy",
                "serve",
                *args,
                env=dict(env or self.environ()),
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )
        finally:
            err.close()
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line.startswith(b"gomodproxy: serving "):
            await proc.wait()
            pytest.fail(f"proxy did not start: {line!r}\n{log.read_text()}")
        return Running(proc, line.split()[-1].decode(), log)


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_origin() as origin, running_sumdb(tmp_path / "sumdb", [BIG, SMALL]) as db:
        publish(origin, BIG, SMALL)
        yield World(origin, db, tmp_path)


@contextlib.asynccontextmanager
async def _stopping(running: Running) -> AsyncIterator[Running]:
    try:
        yield running
    finally:
        if running.proc.returncode is None:
            if os.getpgid(running.proc.pid) == running.proc.pid:
                # Its own process group (workers): kill the workers too, or they would keep
                # its pipes open and the wait below would never end.
                os.killpg(running.proc.pid, signal.SIGKILL)
            else:
                running.proc.kill()
            await running.proc.wait()


def _age_spool(folder: Path) -> list[Path]:
    """Make the spool files look two hours old (a dead process's leftovers); return them."""
    old = time.time() - 7200
    files = list(folder.iterdir())
    for f in files:
        os.utime(f, (old, old))
    return files


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.read()


@pytest.mark.asyncio
async def test_serve_without_flags_takes_the_go_environment_and_the_user_cache(
    world: World,
) -> None:
    async with _stopping(await world.start()) as p:
        status, body = await _get(f"{p.url}/{SMALL.rel('mod')}")
        assert (status, body) == (200, SMALL.mod)
        status, body = await _get(f"{p.url}/{SMALL.rel('zip')}")
        assert (status, body) == (200, SMALL.zip)
    assert (world.cache_dir / SMALL.rel("zip")).read_bytes() == SMALL.zip


@pytest.mark.asyncio
async def test_g_invalid_configuration_fails_at_startup_with_a_clear_message(
    world: World,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gomodproxy",
        "serve",
        "--upstream",
        "ftp://mirror.invalid",
        env=world.environ(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().startswith("gomodproxy: invalid --upstream")
    assert "Traceback" not in err.decode()


async def _serve_until_exit(
    args: Sequence[str], env: Mapping[str, str]
) -> tuple[int | None, str, str]:
    """Run ``gomodproxy serve ARGS`` to its end; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gomodproxy",
        "serve",
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.asyncio
@pytest.mark.parametrize("workers", ["1", "2"])
async def test_g_a_port_in_use_is_one_clear_line_and_never_logged_ready(
    world: World, workers: str
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await _serve_until_exit(
            ["--listen", f"127.0.0.1:{port}", "--workers", workers], world.environ()
        )
    assert code == 1
    assert out == ""
    assert f"gomodproxy: cannot listen on 127.0.0.1:{port}: address already in use\n" in err
    assert "Traceback" not in err
    assert "proxy.ready" not in err


@pytest.mark.asyncio
async def test_g_ready_is_logged_once_listening_and_names_private_patterns_in_words(
    world: World,
) -> None:
    p = await world.start(["--goprivate", "corp.example,*.internal.example"])
    async with _stopping(p):
        assert (await _get(f"{p.url}/healthz"))[0] == 200
    lines = p.log.read_text().splitlines()
    listening = next(i for i, line in enumerate(lines) if "proxy.listening" in line)
    ready = next(i for i, line in enumerate(lines) if "proxy.ready" in line)
    assert listening < ready
    assert f"upstream={world.origin.url} " in lines[ready]
    text = "\n".join(lines)
    assert "noproxy" not in text  # the upstream walk's internal entry, meaningless to a user
    private = [line for line in lines if "corp.example,*.internal.example" in line]
    assert any("never requested from an upstream proxy" in line for line in private), private
    assert any("never looked up in the checksum database" in line for line in private), private


def _no_file_may_grow() -> None:
    """Run in the proxy's process before it starts: no file may grow past 0 bytes. SIGXFSZ is
    ignored, so a write fails (EFBIG) as a write on a full disk fails (ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "unverified"),
    [
        ("zip", False),  # the spool file of the download
        ("mod", False),  # the checksum database verifier's state
        # The storage's put (no verification: GONOSUMDB). Not a .mod: outside the checksum
        # database a .mod is kept only together with its zip (passed on no-store before that).
        ("info", True),
    ],
)
async def test_i83_a_full_disk_is_a_503_disk_full_logged_as_one_error_line(
    world: World, kind: str, unverified: bool
) -> None:
    env = world.environ(GONOSUMDB="example.com/big" if unverified else "")
    # The log goes to a pipe: the file-size limit applies to regular files only.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gomodproxy",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_no_file_may_grow,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"gomodproxy: serving "), line
        url = line.split()[-1].decode()
        async with aiohttp.ClientSession() as http, http.get(f"{url}/{BIG.rel(kind)}") as resp:
            status, body, cache = resp.status, await resp.read(), resp.headers["Cache-Control"]
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = err.decode()
    assert status == 503, (body, log)
    assert cache == "no-store"
    assert b"disk full" in body
    assert b"free disk space" in body
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1, log
    assert "disk full" in errors[0]
    store = FilesystemStorage(world.cache_dir)
    assert not await store.exists(BIG.rel(kind))
    assert await asyncio.to_thread(lambda: list(store.spool_dir.glob("*"))) == []


@pytest.mark.slow
@pytest.mark.asyncio
async def test_i82_sigkill_mid_download_then_restart_serves_only_whole_files(
    world: World,
) -> None:
    world.origin.inject(Fault(trickle=0.05, trickle_chunk=65536, times=1), BIG.rel("zip"))
    first = await world.start(name="first")
    async with _stopping(first), aiohttp.ClientSession() as http:
        resp = await http.get(f"{first.url}/{BIG.rel('zip')}")
        assert resp.status == 200
        await resp.content.readexactly(65536)
        first.proc.send_signal(signal.SIGKILL)
        await first.proc.wait()
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
        resp.close()
    store = FilesystemStorage(world.cache_dir)
    assert not await store.exists(BIG.rel("zip"))
    leftovers = await asyncio.to_thread(_age_spool, store.spool_dir)
    assert leftovers, "the killed process should have left its download in the spool"
    second = await world.start(name="second")
    async with _stopping(second):
        # Swept at start, in the background (a big cache folder takes a while to walk).
        for _ in range(200):
            if not any(await asyncio.to_thread(lambda: [p.exists() for p in leftovers])):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the dead process's spool files were not swept at start")
        status, body = await _get(f"{second.url}/{BIG.rel('zip')}")
        assert (status, body) == (200, BIG.zip)
    assert await store.get(BIG.rel("zip")) == BIG.zip
    assert world.origin.count(BIG.rel("zip")) == 2


@pytest.mark.slow
@pytest.mark.asyncio
async def test_sigterm_lets_a_download_in_progress_finish(world: World) -> None:
    world.origin.inject(Fault(trickle=0.02, trickle_chunk=131072), BIG.rel("zip"))
    p = await world.start(name="graceful")
    async with _stopping(p):
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{p.url}/{BIG.rel('zip')}")
            assert resp.status == 200
            await resp.content.readexactly(1024)
            p.proc.send_signal(signal.SIGTERM)
            body = await asyncio.wait_for(resp.read(), 60)
            assert len(body) + 1024 == len(BIG.zip)
        assert await asyncio.wait_for(p.proc.wait(), 60) == 0
    text = p.log.read_text()
    assert "proxy.stopping" in text


@pytest.mark.slow
@pytest.mark.asyncio
async def test_workers_share_the_port_and_the_cache(world: World, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = world.environ(GOMODPROXY_LISTEN=f"127.0.0.1:{port}", GOMODPROXY_LOG_JSON="true")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gomodproxy",
        "serve",
        "--workers",
        "2",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    running = Running(proc, f"http://127.0.0.1:{port}", tmp_path / "unused.log")
    async with _stopping(running):
        starts = [await asyncio.wait_for(proc.stdout.readline(), 60) for _ in range(2)]
        assert all(s.startswith(b"gomodproxy: serving") for s in starts), starts
        world.origin.inject(Fault(delay=0.5), SMALL.rel("zip"))
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def fetch() -> bytes:
                async with http.get(f"{running.url}/{SMALL.rel('zip')}") as resp:
                    assert resp.status == 200
                    return await resp.read()

            bodies = await asyncio.gather(*(fetch() for _ in range(20)))
        assert all(b == SMALL.zip for b in bodies)
        # Two processes, one cache: the file lock let only one of them fetch.
        assert world.origin.count(SMALL.rel("zip")) == 1
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    access = [d for d in lines if d.get("logger") == "gomodproxy.access"]
    assert len(access) == 20
    assert {d["status"] for d in access} == {200}
    assert len({d["message"] for d in lines if "proxy.listening" in d["message"]}) == 2


@pytest.mark.asyncio
async def test_serves_tls_with_the_given_certificate(world: World, tmp_path: Path) -> None:
    tls = await asyncio.to_thread(make_local_tls, tmp_path / "tls")
    p = await world.start(["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)])
    async with _stopping(p):
        assert p.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=tls.client_context())
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(f"{p.url}/{SMALL.rel('mod')}") as resp,
        ):
            assert (resp.status, await resp.read()) == (200, SMALL.mod)


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


async def _stream_digest(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    digest = hashlib.sha256()
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers or {}) as resp:
        async for chunk in resp.content.iter_chunked(1 << 16):
            digest.update(chunk)
        return resp.status, digest.hexdigest()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_memory_does_not_grow_with_zip_size(world: World) -> None:
    """A 64 MiB zip fetched (streamed while verified), then served from the cache whole, by
    Range, and to 8 clients at once: the proxy's peak memory stays far below the zip's size."""
    data = _incompressible_zip("example.com/huge", "v1.0.0", 64 << 20)
    rel = "example.com/huge/@v/v1.0.0"
    mod = b"module example.com/huge\n"
    world.origin.serve_file(rel + ".zip", data)
    world.origin.serve_file(rel + ".mod", mod)
    world.origin.serve_file(rel + ".info", b'{"Version":"v1.0.0"}')
    record = (
        f"example.com/huge v1.0.0 {hash_zip(io.BytesIO(data))}\n"
        f"example.com/huge v1.0.0/go.mod {hash_go_mod(mod)}\n"
    )
    await asyncio.to_thread(world.db.store.append, [record.encode()])
    want = hashlib.sha256(data).hexdigest()
    del data
    async with _stopping(await world.start()) as running:
        assert (await _get(f"{running.url}/{SMALL.rel('zip')}"))[0] == 200
        baseline = _peak_rss_mib(running.proc.pid)
        url = f"{running.url}/{rel}.zip"
        assert await _stream_digest(url) == (200, want)  # fetched, streamed, verified
        assert await _stream_digest(url) == (200, want)  # stored: checked while read
        assert await _stream_digest(url) == (200, want)  # checked recently: sendfile
        assert (await _stream_digest(url, {"Range": "bytes=0-"}))[0] == 206
        together = await asyncio.gather(*(_stream_digest(url) for _ in range(8)))
        assert together == [(200, want)] * 8
        grown = _peak_rss_mib(running.proc.pid) - baseline
    assert grown < 24, f"peak memory grew by {grown:.0f} MiB serving a 64 MiB zip"


def _incompressible_zip(path: str, version: str, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{path}@{version}/go.mod", f"module {path}\n")
        z.writestr(f"{path}@{version}/data.bin", random.Random(size).randbytes(size))
    return buf.getvalue()


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        metric, _, rest = series.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and got == want:
            return float(value)
    return 0.0


@pytest.mark.slow
@pytest.mark.asyncio
async def test_one_scrape_of_metrics_counts_the_requests_of_every_worker(
    world: World, tmp_path: Path
) -> None:
    """Issue 16 §5: the workers keep their values in one folder (Prometheus multi-process
    mode), so a scrape answered by either worker sums both; a worker that dies leaves its
    counters in the sum and its gauges of live work out; the folder is gone at exit."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = world.environ(GOMODPROXY_LISTEN=f"127.0.0.1:{port}", TMPDIR=str(tmp))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gomodproxy",
        "serve",
        "--workers",
        "2",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    running = Running(proc, f"http://127.0.0.1:{port}", tmp_path / "unused.log")
    sent = 80
    async with _stopping(running):
        starts = [await asyncio.wait_for(proc.stdout.readline(), 60) for _ in range(2)]
        assert all(s.startswith(b"gomodproxy: serving") for s in starts), starts
        (folder,) = tmp.glob("gomodproxy-metrics-*")
        # One connection per request: the kernel spreads them over both workers.
        connector = aiohttp.TCPConnector(force_close=True, limit=8)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def get(rel: str) -> str:
                async with http.get(f"{running.url}/{rel}") as resp:
                    assert resp.status == 200
                    return await resp.text()

            bodies = await asyncio.gather(*(get(SMALL.rel("info")) for _ in range(sent)))
            assert len(set(bodies)) == 1
            # Each worker that answered a request made its counter file.
            workers = {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob("counter_*.db")}
            assert len(workers) == 2, sorted(folder.iterdir())
            for _ in range(6):  # whichever worker answers the scrape, it sees them all
                text = await get("metrics")
                assert _sample(text, "gomodproxy_requests_total", kind="info", status="200") == (
                    sent
                )
                hits = _sample(text, "gomodproxy_cache_requests_total", kind="info", result="hit")
                misses = _sample(
                    text, "gomodproxy_cache_requests_total", kind="info", result="miss"
                )
                assert hits + misses == sent
                assert misses >= 1
            # A worker killed: the parent marks it dead (its live gauges go), the other one
            # still reports its counts.
            victim = min(workers)
            assert (folder / f"gauge_livesum_{victim}.db").exists()
            os.kill(victim, signal.SIGKILL)
            for _ in range(200):
                if not (folder / f"gauge_livesum_{victim}.db").exists():
                    break
                await asyncio.sleep(0.05)
            assert not (folder / f"gauge_livesum_{victim}.db").exists()
            text = await get("metrics")
            assert _sample(text, "gomodproxy_requests_total", kind="info", status="200") == sent
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert list(tmp.iterdir()) == []  # the private folder is removed at exit

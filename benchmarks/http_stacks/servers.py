"""The candidate servers: how each is started (pinned to one core, loopback only), probed,
measured from ``/proc`` and stopped."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import peers
from benchmarks.http_stacks.corpus import ROOT_ENV, url_path

HOST = "127.0.0.1"

#: Benchmark order; nginx is the ceiling the others are compared with.
SERVER_NAMES: tuple[str, ...] = (
    "nginx",
    "nginx-front",
    "aiohttp-asyncio",
    "aiohttp-uvloop",
    "uvicorn-asgi",
    "granian-asgi",
    "granian-rsgi",
    "gomodproxy",
    "gomodproxy-uvloop",
    *peers.PEER_NAMES,
)

DESCRIPTIONS: dict[str, str] = {
    "nginx": "nginx static files (sendfile on, open_file_cache), 1 worker process",
    "nginx-front": "gomodproxy's static front: nginx with the file 'gomodproxy front nginx' "
    "generates (raw request-line map, try_files, open_file_cache checked every 2 s), "
    "gomodproxy serve behind it",
    "aiohttp-asyncio": "aiohttp web.Application on the default asyncio loop; zip by FileResponse",
    "aiohttp-uvloop": "aiohttp web.Application on uvloop; zip by FileResponse",
    "uvicorn-asgi": "uvicorn, uvloop + httptools, minimal ASGI app; zip by pread in a thread",
    "granian-asgi": "granian ASGI, 1 worker, 1 runtime thread, uvloop; zip by pathsend",
    "granian-rsgi": "granian RSGI, 1 worker, 1 runtime thread, uvloop; zip by response_file",
    "gomodproxy": "this project's proxy (aiohttp, asyncio loop), cache hits, access log on",
    "gomodproxy-uvloop": "the same on uvloop (uvloop.install() before the command; an "
    "experiment: uvloop has no loop.sendfile, so zips over 64 KiB are copied through Python)",
    **peers.DESCRIPTIONS,
}

_NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    open_file_cache max=64 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ application/json info; text/plain mod; application/zip zip; }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/plain;
    server {{
        listen {host}:{port} backlog=1024;
        root {root};
        location / {{ try_files $uri =404; }}
    }}
}}
"""


# The front's main file: the same http settings as the bare nginx above, less the
# open_file_cache the generated file sets itself, plus `pcre_jit on` (the main-context setting
# docs/guides/operations.md recommends for the front's request-line expression), and the
# generated server included.
_NGINX_FRONT_CONF = """\
daemon off;
master_process on;
pcre_jit on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    default_type application/octet-stream;
    include {prefix}/front.conf;
}}
"""


# `gomodproxy ARGS` with uvloop as the event loop (the experiment of gomodproxy-uvloop).
_ON_UVLOOP = (
    "import sys, uvloop; uvloop.install(); from gomodproxy.cli.main import main; "
    "sys.exit(main(sys.argv[1:]))"
)


@dataclass(frozen=True, slots=True)
class Launch:
    """Where a server runs: interpreter, tree root, port, scratch folder, repository root."""

    python: str
    root: Path
    port: int
    scratch: Path
    repo: Path
    #: ``gomodproxy serve --workers`` (all pinned to the one server core).
    workers: int = 1


def command(name: str, launch: Launch, *, failing: bool = False) -> list[str]:
    """The server's command line (without the ``taskset`` prefix).

    ``failing`` serves the apps of ``failing_apps`` (for the abort probe) instead of the files.
    """
    py, port = launch.python, str(launch.port)
    asgi = "failing_apps:create_asgi_app" if failing else "asgi_app:create_app"
    rsgi = "failing_apps:create_rsgi_app" if failing else "rsgi_app:create_app"
    if name == "nginx":
        conf = launch.scratch / "nginx.conf"
        return ["nginx", "-p", str(launch.scratch), "-e", "stderr", "-c", str(conf)]
    if name == "nginx-front":
        # gomodproxy serve in the background (the hits never reach it), nginx in its place.
        conf = launch.scratch / "nginx.conf"
        backend = " ".join(_front_backend(launch))
        nginx = f"exec nginx -p {launch.scratch} -e stderr -c {conf}"
        return ["sh", "-c", f"{backend} & {nginx}"]
    if name.startswith("aiohttp-"):
        loop = name.removeprefix("aiohttp-")
        module = "benchmarks.http_stacks.aiohttp_app"
        args = [py, "-m", module, "--root", str(launch.root), "--port", port, "--loop", loop]
        return [*args, "--failing"] if failing else args
    if name == "uvicorn-asgi":
        return [
            py, "-m", "uvicorn", "--factory", f"benchmarks.http_stacks.{asgi}",
            "--host", HOST, "--port", port, "--loop", "uvloop", "--http", "httptools",
            "--lifespan", "on", "--no-access-log", "--log-level", "warning", "--backlog", "1024",
        ]  # fmt: skip
    if name.startswith("granian-"):
        interface = name.removeprefix("granian-")
        app = f"benchmarks.http_stacks.{asgi if interface == 'asgi' else rsgi}"
        return [
            py, "-m", "granian", "--interface", interface, "--host", HOST, "--port", port,
            "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop", "--http", "1",
            "--no-ws", "--log-level", "warning", "--backlog", "1024", "--factory", app,
        ]  # fmt: skip
    if name in ("gomodproxy", "gomodproxy-uvloop"):
        # The product itself, answering cache hits from the same tree (adopted as its cache).
        start = ["-m", "gomodproxy"]
        if name == "gomodproxy-uvloop":
            start = ["-c", _ON_UVLOOP]
        return [
            py, *start, "serve", "--cache-dir", str(launch.root), "--upstream", "off",
            "--sumdb", "off", "--listen", f"{HOST}:{port}", "--workers", str(launch.workers),
            # The load generator is one client address with up to 256 connections.
            "--max-connections-per-client", "1024", "--max-connections", "2048",
        ]  # fmt: skip
    if name == "goproxy":
        # Its dir cacher's layout is the cache/download layout: the tree is its cache as it is.
        return peers.goproxy_command(HOST, launch.port, launch.root, launch.scratch / "tmp")
    if name == "athens":
        return peers.athens_command()
    raise ValueError(f"unknown server {name!r}: choose from {', '.join(SERVER_NAMES)}")


def _front_backend_port(launch: Launch) -> int:
    return launch.port + 1 if launch.port < 65535 else launch.port - 1


def _front_backend(launch: Launch) -> list[str]:
    return [
        launch.python, "-m", "gomodproxy", "serve", "--cache-dir", str(launch.root),
        "--upstream", "off", "--sumdb", "off",
        "--listen", f"{HOST}:{_front_backend_port(launch)}",
    ]  # fmt: skip


def write_front_conf(launch: Launch) -> None:
    """Write the front's main file and generate its server with ``gomodproxy front nginx``."""
    main = _NGINX_FRONT_CONF.format(prefix=launch.scratch)
    (launch.scratch / "nginx.conf").write_text(main)
    generate = [
        launch.python, "-m", "gomodproxy", "front", "nginx",
        "--cache-dir", str(launch.root), "--upstream", "off", "--sumdb", "off",
        "--listen", f"{HOST}:{_front_backend_port(launch)}",
        "--front-listen", f"{HOST}:{launch.port} backlog=1024",
        "--output", str(launch.scratch / "front.conf"),
    ]  # fmt: skip
    subprocess.run(generate, cwd=launch.repo, check=True, capture_output=True)


def server_env(name: str, launch: Launch) -> dict[str, str]:
    """The server's environment: the harness's own, or a Go peer's settings (no upstream: hits
    only; Athens' storage filled from the tree, in its own layout, under the scratch folder)."""
    if name == "goproxy":
        (launch.scratch / "tmp").mkdir(exist_ok=True)
        return peers.goproxy_env(launch.scratch / "home")
    if name == "athens":
        storage = launch.scratch / "athens-storage"
        peers.athens_storage(launch.root, storage)
        return peers.athens_env(HOST, launch.port, storage, launch.scratch / "home")
    return dict(os.environ, **{ROOT_ENV: str(launch.root)})


def write_nginx_conf(launch: Launch) -> None:
    """Write the nginx configuration that serves ``launch.root`` on loopback."""
    text = _NGINX_CONF.format(prefix=launch.scratch, host=HOST, port=launch.port, root=launch.root)
    (launch.scratch / "nginx.conf").write_text(text)


@dataclass(frozen=True, slots=True)
class ProcStat:
    """CPU time (clock ticks) and memory (KiB) summed over a server's process tree."""

    cpu_ticks: int
    rss_kib: int
    hwm_kib: int
    processes: int


class Server:
    """One running server, pinned to ``core`` with taskset, in its own process group."""

    def __init__(self, name: str, launch: Launch, core: int, *, failing: bool = False) -> None:
        self.name = name
        self.port = launch.port
        if name == "nginx":
            write_nginx_conf(launch)
        if name == "nginx-front":
            write_front_conf(launch)
        env = server_env(name, launch)
        self._log = (launch.scratch / "server.log").open("wb")
        self._proc = subprocess.Popen(
            ["taskset", "-c", str(core), *command(name, launch, failing=failing)],
            cwd=launch.repo,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = launch.scratch / "server.log"

    @property
    def pid(self) -> int:
        """The server's main process id (taskset execs the server in place)."""
        return self._proc.pid

    def wait_ready(self, timeout: float = 30.0, *, connect_only: bool = False) -> None:
        """Poll the ``.info`` URL until it answers 200 (or, with ``connect_only``, until the
        port accepts a connection); raise if the server dies or stalls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            if connect_only:
                try:
                    socket.create_connection((HOST, self.port), timeout=1).close()
                except OSError:
                    time.sleep(0.1)
                    continue
                return
            try:
                status, _, _ = fetch(self.port, url_path("info"))
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def stat(self) -> ProcStat:
        """CPU ticks and RSS of the server's whole process tree, read from /proc."""
        pids = [self.pid, *_descendants(self.pid)]
        ticks = rss = hwm = 0
        for pid in pids:
            ticks += _cpu_ticks(pid)
            rss_one, hwm_one = _memory_kib(pid)
            rss += rss_one
            hwm += hwm_one
        return ProcStat(cpu_ticks=ticks, rss_kib=rss, hwm_kib=hwm, processes=len(pids))

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it has not exited in ``timeout``."""
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout)
        self._log.close()


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request to the server on loopback: status, headers (lower-case names), body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, body
    finally:
        conn.close()


def _read_stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _cpu_ticks(pid: int) -> int:
    try:
        fields = _read_stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0
    # proc(5): utime and stime are fields 14 and 15; fields[0] is field 3 (state).
    return int(fields[11]) + int(fields[12])


def _memory_kib(pid: int) -> tuple[int, int]:
    rss = hwm = 0
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    for line in lines:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss, hwm


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_read_stat_fields(int(entry.name))[1])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found

"""W2: ``go mod download all`` of a large real project through a cold cache, on loopback.

The project is ``tests/projects/prometheus`` (418 modules), whose build list
``scripts/fetch-corpus`` downloaded; its ``cache/download`` folder is served by a local origin
that waits ``--delay`` seconds before every answer (a distant upstream). Our checksum database
(``gomodproxy sumdb serve --from-cache`` over the same folder) stands in for the public one.

Scenarios, each with the real go command, a fresh GOMODCACHE and the project's go.mod with an
empty go.sum, timed from start to exit:

- ``direct``: the go command against the origin itself (``GOPROXY=<origin>``): the floor;
- ``gomodproxy-cold``: through ``gomodproxy serve`` with an empty cache in front of the origin;
- ``gomodproxy-warm``: the same proxy again (its cache now full), a fresh GOMODCACHE;
- ``nginx-cold`` / ``nginx-warm``: nginx with ``proxy_cache`` in front of the origin (a caching
  reverse proxy that checks nothing), when nginx is installed;
- ``goproxy-cold`` / ``goproxy-warm`` and ``athens-cold`` / ``athens-warm``: the Go peers
  (``scripts/build-peers``) with an empty cache, then warm (``peer_servers.py``).

The origin serves the project's folder completed by ``full_origin.py``: the go command asks for
only the ``.mod`` of the versions the graph names without building them, but the Go peers
fetch the whole version on a miss, so the origin also holds their ``.info`` and ``.zip``
(fetched once, before any timing, with the go command). ``--origin project`` serves the
project's folder alone (the peers then fail on those versions). Each run reports how many
modules the go command completed next to its time.

The go command runs with ``GOMAXPROCS=8`` (its download pool is GOMAXPROCS wide; pinned to one
core it would fetch one file at a time) and its module cache in /dev/shm (the extraction of
1.8 GB per run to disk made later runs up to 80% slower than earlier ones).

The go command always verifies against our database by URL (so every scenario does the same
checksum work on the client side); gomodproxy also verifies every file before caching it, as
it does in production. The proxies run pinned to core 0, everything else to core 1. Every
request goes to 127.0.0.1; the run is bounded by ``--timeout`` per go command.

``--go-command build`` runs ``go build ./...`` in the project's own source instead (fewer zips
than ``all``), with a build cache warmed at preparation so the time is mostly fetching modules
(``go_build.py``). For every gomodproxy scenario the run reports what predictive prefetch fetched
and nobody asked for within the run, from the proxy's ``/metrics`` (``waste.py``).

Run from the repository root: ``.venv/bin/python -m benchmarks.cold_cache.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import peers
from benchmarks.cold_cache import waste
from benchmarks.cold_cache.full_origin import complete_origin
from benchmarks.cold_cache.go_build import BuildTree, prepare_build
from benchmarks.cold_cache.origin import DelayedOrigin
from benchmarks.cold_cache.peer_servers import peer
from benchmarks.http_stacks.machine import core_times, machine_info
from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "projects" / "prometheus"
DOWNLOAD = REPO / ".cache" / "corpus" / "projects" / "prometheus" / "pkg" / "mod" / "cache"
DOWNLOAD = DOWNLOAD / "download"

_NGINX_CONF = """\
daemon off;
user root;
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    proxy_cache_path {scratch}/cache levels=1:2 keys_zone=mods:16m max_size=4g inactive=1d
                     use_temp_path=off;
    client_body_temp_path {scratch}/client_body;
    proxy_temp_path {scratch}/proxy;
    fastcgi_temp_path {scratch}/fastcgi;
    uwsgi_temp_path {scratch}/uwsgi;
    scgi_temp_path {scratch}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {origin};
            proxy_cache mods;
            proxy_cache_valid 200 1d;
            proxy_cache_lock on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


_GO_PARALLELISM = 8
_GO_COMMANDS = {"download": "go mod download -json all", "build": "go build ./..."}
# The go command extracts every zip (1.8 GB for this project): on disk, the writeback of one
# run slowed the next by up to 80%. In memory (tmpfs), runs measure the network path.
_GO_HOMES = "/dev/shm" if os.path.isdir("/dev/shm") else None


@dataclass
class Outcome:
    """One go command run."""

    scenario: str
    seconds: float
    modules: int
    origin_requests: int
    origin_bytes: int
    ok: bool
    error: str = ""
    #: CPU seconds of the proxy process during the run (0: not measured).
    proxy_cpu_seconds: float = 0.0
    #: Seconds each core was busy during the run, with anything (the machine may be shared).
    cores_busy_seconds: tuple[float, ...] = ()
    #: The proxy's prefetch byte counters after the run, "kind/outcome" → bytes.
    prefetch_bytes: dict[str, float] | None = None
    #: What prefetch fetched during the run and nobody asked for (``waste.waste_report``).
    waste: dict[str, object] | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _go_env(home: Path, goproxy: str, gosumdb: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
    env.update(
        HOME=str(home),
        GOPATH=str(home / "gopath"),
        GOMODCACHE=str(home / "gopath" / "pkg" / "mod"),
        GOCACHE=str(home / "gocache"),
        GOENV="off",
        GOPROXY=goproxy,
        GOSUMDB=gosumdb,
        GONOSUMDB="",
        GOPRIVATE="",
        GONOPROXY="",
        GOFLAGS="-mod=mod",
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOWORK="off",
        # Pinned to one core, the go command would size its download pool to 1 (GOMAXPROCS):
        # give it the parallelism of a developer's machine.
        GOMAXPROCS=str(_GO_PARALLELISM),
    )
    return env


async def _go_download_all(
    scratch: Path, name: str, goproxy: str, gosumdb: str, limit: float
) -> tuple[float, int, str]:
    """Time ``go mod download -json all`` in a fresh module cache; (seconds, modules, error)."""
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_GO_HOMES))
    work = home / "work"
    work.mkdir(parents=True)
    shutil.copyfile(PROJECT / "go.mod", work / "go.mod")
    (work / "go.sum").write_text("")
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", "1", "go", "mod", "download", "-json", "all",
        cwd=work, env=_go_env(home, goproxy, gosumdb),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return time.monotonic() - started, 0, f"timed out after {limit:g} s"
    seconds = time.monotonic() - started
    modules = out.count(b'"Sum":')
    errors = out.count(b'"Error":')
    error = "" if proc.returncode == 0 and not errors else err.decode()[-600:]
    await asyncio.to_thread(_remove_tree, home)
    return seconds, modules, error


def _remove_tree(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(root, ignore_errors=True)


async def _start_logged(
    args: Sequence[str], log: Path, *, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=err, env=env, start_new_session=True
        )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


@contextlib.asynccontextmanager
async def _sumdb(scratch: Path, source: Path = DOWNLOAD) -> AsyncIterator[str]:
    """Our checksum database over a download folder (the project's); yields the GOSUMDB value."""
    py = sys.executable
    keys = scratch / "keys"
    keygen = await asyncio.create_subprocess_exec(
        py, "-m", "gomodproxy", "sumdb", "keygen", "sumdb.bench.local", "--out", str(keys),
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    if await keygen.wait() != 0:
        raise RuntimeError("gomodproxy sumdb keygen failed")
    proc = await _start_logged(
        ["taskset", "-c", "1", py, "-m", "gomodproxy", "sumdb", "serve",
         "--key", str(keys / "sumdb.bench.local.signer"), "--data", str(scratch / "sumdb"),
         "--listen", "127.0.0.1:0", "--from-cache", str(source)],
        scratch / "sumdb.log",
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 600)  # serving URL
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        yield line.removeprefix("GOSUMDB='").removesuffix("'")
    finally:
        await _stop(proc)


@contextlib.asynccontextmanager
async def _gomodproxy(
    scratch: Path, origin: str, gosumdb: str, extra: Sequence[str] = ()
) -> AsyncIterator[tuple[str, int]]:
    cache = scratch / "gomodproxy-cache"
    proc = await _start_logged(
        ["taskset", "-c", "0", sys.executable, "-m", "gomodproxy", "serve",
         "--cache-dir", str(cache), "--upstream", origin, "--sumdb", gosumdb,
         "--listen", "127.0.0.1:0", "--retries", "0", *extra],
        scratch / "gomodproxy.log",
        env={k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line.startswith("gomodproxy: serving "):
            raise RuntimeError(f"gomodproxy did not start: {line!r}")
        yield line.split()[-1], proc.pid
    finally:
        await _stop(proc)
        await asyncio.to_thread(shutil.rmtree, cache, True)


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def _nginx(scratch: Path, origin: str) -> AsyncIterator[str]:
    folder = scratch / "nginx"
    folder.mkdir()
    port = _free_port()
    conf = folder / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(scratch=folder, port=port, origin=origin))
    proc = await _start_logged(
        ["taskset", "-c", "0", "nginx", "-p", str(folder), "-c", str(conf)], folder / "out.log"
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        await _stop(proc)


#: (scratch, name, GOPROXY, GOSUMDB, limit) → (seconds, modules, error) of one go command run.
_GoRun = Callable[[Path, str, str, str, float], Awaitable[tuple[float, int, str]]]


async def _measure_run(
    scratch: Path,
    origin: DelayedOrigin,
    name: str,
    goproxy: str,
    gosumdb: str,
    limit: float,
    proxy_pid: int | None = None,
    *,
    go_run: _GoRun = _go_download_all,
) -> Outcome:
    ours = proxy_pid is not None and name.startswith("gomodproxy")
    counters = await waste.read_counters(goproxy) if ours else None
    origin.reset()
    cores = core_times()
    cpu = _cpu_seconds(proxy_pid)
    seconds, modules, error = await go_run(scratch, name, goproxy, gosumdb, limit)
    later = core_times()
    outcome = Outcome(
        name,
        round(seconds, 2),
        modules,
        origin.requests,
        origin.bytes_sent,
        not error,
        error,
        proxy_cpu_seconds=round(_cpu_seconds(proxy_pid) - cpu, 2),
        cores_busy_seconds=tuple(
            round(later.busy_seconds_since(cores, c), 1) for c in sorted(cores.busy)
        ),
    )
    if counters is not None:
        after = await waste.read_counters(goproxy)
        outcome.prefetch_bytes = {f"{k}/{o}": v for (k, o), v in after.prefetch_bytes.items()}
        outcome.waste = waste.waste_report(counters, after)
    print(
        f"{name:18} {seconds:7.2f} s  modules {modules:4}  origin requests {origin.requests:5}"
        f"  origin MiB {origin.bytes_sent / (1 << 20):7.1f}"
        + (f"  ERROR {error}" if error else ""),
        flush=True,
    )
    if outcome.waste is not None:
        print(waste.describe(outcome.waste), flush=True)
    return outcome


async def _run(args: argparse.Namespace) -> dict[str, object]:
    if not DOWNLOAD.is_dir():
        raise SystemExit("the Prometheus project is missing: run scripts/fetch-corpus first")
    peer_names = [p for p in args.peers.split(",") if p]
    if peer_names:
        peers.require_binaries()
    outcomes: list[Outcome] = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    served, completed = DOWNLOAD, dict[str, object]()
    if args.origin == "complete":
        served, completed = await asyncio.to_thread(complete_origin, DOWNLOAD)
    tree: BuildTree | None = None
    if args.go_command == "build":
        tree = await asyncio.to_thread(prepare_build, served, _go_env, _GO_HOMES)
    _measure = functools.partial(_measure_run, go_run=tree or _go_download_all)
    with tempfile.TemporaryDirectory(prefix="gomodproxy-w2-") as tmp:
        scratch = Path(tmp)
        origin = DelayedOrigin(served, args.delay)
        await origin.start()
        try:
            async with _sumdb(scratch, served) as gosumdb:
                for r in range(args.repeats):
                    tag = f"r{r}"
                    (scratch / tag).mkdir()
                    outcomes.append(
                        await _measure(scratch, origin, "direct", origin.url, gosumdb, args.timeout)
                    )
                    for variant in args.variant or [""]:
                        label, _, flags = variant.partition("=")
                        where = scratch / tag / (label or "default")
                        where.mkdir(parents=True)
                        name = f"gomodproxy-{label}-" if label else "gomodproxy-"
                        # --sumdb-via-proxy: the go command names the database by key only,
                        # so it reaches it through the proxy's relay.
                        client_sumdb = gosumdb.split()[0] if args.sumdb_via_proxy else gosumdb
                        async with _gomodproxy(where, origin.url, gosumdb, flags.split()) as (
                            proxy,
                            pid,
                        ):
                            for phase in ("cold", "warm"):
                                outcomes.append(
                                    await _measure(
                                        scratch,
                                        origin,
                                        f"{name}{phase}",
                                        proxy,
                                        client_sumdb,
                                        args.timeout,
                                        pid,
                                    )
                                )
                    if shutil.which("nginx") and not args.no_nginx:
                        async with _nginx(scratch / tag, origin.url) as nginx:
                            for phase in ("cold", "warm"):
                                outcomes.append(
                                    await _measure(
                                        scratch,
                                        origin,
                                        f"nginx-{phase}",
                                        nginx,
                                        gosumdb,
                                        args.timeout,
                                    )
                                )
                    for name in peer_names:
                        async with peer(name, scratch / tag, origin.url, gosumdb) as url:
                            for phase in ("cold", "warm"):
                                outcomes.append(
                                    await _measure(
                                        scratch,
                                        origin,
                                        f"{name}-{phase}",
                                        url,
                                        gosumdb,
                                        args.timeout,
                                    )
                                )
        finally:
            await origin.stop()
            if tree is not None:
                await asyncio.to_thread(tree.remove)
    result = _summary(args, outcomes)
    if tree is not None:
        result["build"] = tree.summary()
    result["origin"] = {"folder": args.origin, **completed}
    result["load_average_before"] = load_before
    result["sumdb_via_proxy"] = args.sumdb_via_proxy
    result["peer_builds"] = peers.builds()
    return result


def _summary(args: argparse.Namespace, outcomes: list[Outcome]) -> dict[str, object]:
    medians: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(o.scenario for o in outcomes):
        runs = [o for o in outcomes if o.scenario == name and o.ok]
        if not runs:
            # Failed every time: still report its time and what it completed, marked failed.
            runs = [o for o in outcomes if o.scenario == name]
            medians[name] = {
                "seconds": statistics.median(o.seconds for o in runs),
                "origin_requests": statistics.median(o.origin_requests for o in runs),
                "origin_mib": round(statistics.median(o.origin_bytes for o in runs) / 2**20, 1),
                "modules": max(o.modules for o in runs),
                "failed_runs": len(runs),
            }
            continue
        if runs:
            medians[name] = {
                "seconds": statistics.median(o.seconds for o in runs),
                "origin_requests": statistics.median(o.origin_requests for o in runs),
                "origin_mib": round(statistics.median(o.origin_bytes for o in runs) / 2**20, 1),
                "modules": runs[0].modules,
            }
    print("\nmedians:")
    for name, m in medians.items():
        ratio = m["seconds"] / medians["direct"]["seconds"] if "direct" in medians else 0.0
        print(f"  {name:18} {m['seconds']:7.2f} s  ({ratio:.2f}x direct)  {m}")
    return {
        "benchmark": f"W2 cold cache: {_GO_COMMANDS[args.go_command]} of tests/projects/prometheus",
        "machine": machine_info(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "delay_seconds": args.delay,
            "repeats": args.repeats,
            "variants": args.variant,
            "peers": args.peers,
            "origin": args.origin,
            "proxy_core": 0,
            "go_command_core": 1,
            "go_maxprocs": _GO_PARALLELISM,
            "go_command": _GO_COMMANDS[args.go_command],
        },
        "runs": [o.__dict__ for o in outcomes],
        "medians": medians,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--delay", type=float, default=0.05, help="origin delay per request, s")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0, help="per go command, s")
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=FLAGS: a gomodproxy scenario with these serve flags (repeatable), e.g. "
        "'prefetch=--prefetch' 'noprefetch=--no-prefetch'; default: one, the default settings",
    )
    parser.add_argument(
        "--peers", default=",".join(peers.PEER_NAMES), help="Go peers to run ('' for none)"
    )
    parser.add_argument(
        "--origin",
        choices=("complete", "project"),
        default="complete",
        help="serve the project's folder completed for the peers (default) or as it is",
    )
    parser.add_argument(
        "--sumdb-via-proxy",
        action="store_true",
        help="gomodproxy scenarios: GOSUMDB names the database by key only (no URL), so the "
        "go command's lookups and tiles go through the proxy's relay",
    )
    parser.add_argument(
        "--go-command",
        choices=tuple(_GO_COMMANDS),
        default="download",
        help="what the go command runs: go mod download -json all (default) or go build ./... "
        "in the project's source",
    )
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/cold_cache.json")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    write_result(args.output, result)
    failed = [r for r in result["runs"] if not r["ok"]]  # type: ignore[attr-defined]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

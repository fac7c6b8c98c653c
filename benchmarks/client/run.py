"""W3: ``gomodproxy download`` against ``go mod download`` on the same go.mod (issue 11).

Each project's go.mod and released go.sum (Helm and Prometheus from ``tests/projects``, with
``all``; the corpus of ``tests/corpus`` without arguments) is downloaded into an empty module
cache (in /dev/shm) by the go command and by ``gomodproxy download``, alternately, from one
local proxy: the project's ``cache/download`` folder served on 127.0.0.1 by
``benchmarks/cold_cache/origin.py``, once with ``--delay`` seconds before every answer (a
distant proxy) and once without. GOSUMDB is off and go.sum complete, so both verify every file
against go.sum and do the same work. The go command runs with its defaults (GOMAXPROCS = the
number of cores); ours with its defaults too.

Measured per run: wall time from start to exit, peak RSS of the process tree (sampled every
20 ms from /proc: the go command, or our process and its zip workers), requests and bytes
served by the proxy. Every run must succeed and both tools must end with the same set of
extracted module trees. Bounded: ``--timeout`` per run, loopback only.

Run from the repository root: ``.venv/bin/python -m benchmarks.client.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.cold_cache.origin import DelayedOrigin
from benchmarks.http_stacks.machine import machine_info
from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[2]
_CACHE = REPO / ".cache" / "corpus"
PROJECTS: dict[str, tuple[Path, Path, tuple[str, ...]]] = {
    "helm": (
        REPO / "tests" / "projects" / "helm",
        _CACHE / "projects" / "helm" / "pkg" / "mod" / "cache" / "download",
        ("all",),
    ),
    "prometheus": (
        REPO / "tests" / "projects" / "prometheus",
        _CACHE / "projects" / "prometheus" / "pkg" / "mod" / "cache" / "download",
        ("all",),
    ),
    "corpus": (
        REPO / "tests" / "corpus",
        _CACHE / "gopath" / "pkg" / "mod" / "cache" / "download",
        (),
    ),
}
TOOLS = ("go", "gomodproxy")
_HOMES = "/dev/shm" if os.path.isdir("/dev/shm") else None


@dataclass
class Run:
    """One download."""

    project: str
    tool: str
    delay: float
    seconds: float
    peak_rss_mib: float
    requests: int
    bytes_served: int
    trees: int
    ok: bool
    error: str = ""


def _env(home: Path, goproxy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
    env.update(
        HOME=str(home),
        GOPATH=str(home / "gopath"),
        GOMODCACHE=str(home / "gopath" / "pkg" / "mod"),
        GOCACHE=str(home / "gocache"),
        GOENV="off",
        GOPROXY=goproxy,
        GOSUMDB="off",
        GOFLAGS="-mod=mod",
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOWORK="off",
        PYTHONPATH=str(REPO / "src"),
    )
    return env


def _tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and all its descendants, KiB (0 when it is gone)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


async def _timed(
    argv: list[str], cwd: Path, env: dict[str, str], limit: float
) -> tuple[float, int, int, str]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, await asyncio.to_thread(_tree_rss_kib, proc.pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        _, err = await asyncio.wait_for(proc.communicate(), limit)
    finally:
        sampler.cancel()
    seconds = time.monotonic() - started
    assert proc.returncode is not None
    return seconds, peak, proc.returncode, err.decode(errors="replace")[-2000:]


def _trees(modcache: Path) -> set[str]:
    out = set()
    for top in modcache.iterdir() if modcache.is_dir() else []:
        if top.name == "cache":
            continue
        for dirpath, dirnames, _ in os.walk(top):
            kept = []
            for d in dirnames:
                if "@" in d:
                    out.add(os.path.relpath(os.path.join(dirpath, d), modcache))
                else:
                    kept.append(d)
            dirnames[:] = kept
    return out


def _remove(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(root, ignore_errors=True)


async def _one(
    project: str, tool: str, origin: DelayedOrigin, limit: float
) -> tuple[Run, set[str]]:
    source, _, args = PROJECTS[project]
    home = Path(tempfile.mkdtemp(prefix=f"w3-{project}-{tool}-", dir=_HOMES))
    try:
        work = home / "work"
        work.mkdir()
        shutil.copyfile(source / "go.mod", work / "go.mod")
        shutil.copyfile(source / "go.sum", work / "go.sum")
        env = _env(home, origin.url)
        if tool == "go":
            argv = ["go", "mod", "download", *args]
        else:
            argv = [sys.executable, "-m", "gomodproxy", "download", *args]
        origin.reset()
        seconds, peak, code, err = await _timed(argv, work, env, limit)
        trees = _trees(home / "gopath" / "pkg" / "mod")
        run = Run(
            project,
            tool,
            origin.delay,
            round(seconds, 3),
            round(peak / 1024, 1),
            origin.requests,
            origin.bytes_sent,
            len(trees),
            code == 0,
            err if code else "",
        )
        return run, trees
    finally:
        _remove(home)


async def _run(args: argparse.Namespace) -> dict[str, object]:
    runs: list[Run] = []
    for project in args.projects:
        _, folder, _ = PROJECTS[project]
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: run scripts/fetch-corpus")
        for delay in args.delays:
            origin = DelayedOrigin(folder, delay)
            await origin.start()
            try:
                for repeat in range(args.repeats):
                    seen: dict[str, set[str]] = {}
                    order = TOOLS if repeat % 2 == 0 else tuple(reversed(TOOLS))
                    for tool in order:
                        run, trees = await _one(project, tool, origin, args.timeout)
                        seen[tool] = trees
                        runs.append(run)
                        print(
                            f"{project:11} delay={delay:.3f} {tool:10} {run.seconds:7.2f} s "
                            f"{run.peak_rss_mib:7.1f} MiB {run.requests:5} req "
                            f"{run.trees:4} trees {'ok' if run.ok else 'FAILED ' + run.error}",
                            flush=True,
                        )
                    if seen["go"] != seen["gomodproxy"]:
                        print(f"{project}: the two tools extracted different trees", flush=True)
                        runs[-1].ok = False
            finally:
                await origin.stop()
    return _summary(args, runs)


def _summary(args: argparse.Namespace, runs: list[Run]) -> dict[str, object]:
    medians = []
    for project in args.projects:
        for delay in args.delays:
            cell: dict[str, object] = {"project": project, "delay": delay}
            for tool in TOOLS:
                mine = [r for r in runs if (r.project, r.delay, r.tool) == (project, delay, tool)]
                cell[f"{tool}_seconds"] = statistics.median(r.seconds for r in mine)
                cell[f"{tool}_peak_rss_mib"] = round(
                    statistics.median(r.peak_rss_mib for r in mine), 1
                )
                cell[f"{tool}_requests"] = statistics.median(r.requests for r in mine)
            ratio = float(str(cell["gomodproxy_seconds"])) / float(str(cell["go_seconds"]))
            cell["ratio"] = round(ratio, 3)
            medians.append(cell)
            print(
                f"median {project:11} delay={delay:.3f} go {cell['go_seconds']:.2f} s "
                f"ours {cell['gomodproxy_seconds']:.2f} s (x{ratio:.2f}); peak RSS go "
                f"{cell['go_peak_rss_mib']} MiB, ours {cell['gomodproxy_peak_rss_mib']} MiB"
            )
    return {
        "benchmark": "W3 gomodproxy download vs go mod download",
        "machine": machine_info(),
        "settings": {
            "projects": args.projects,
            "delays": args.delays,
            "repeats": args.repeats,
            "homes": _HOMES or "temporary folder",
        },
        "runs": [asdict(r) for r in runs],
        "medians": medians,
        "ok": all(r.ok for r in runs),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--projects", type=lambda s: s.split(","), default=list(PROJECTS))
    parser.add_argument(
        "--delays", type=lambda s: [float(x) for x in s.split(",")], default=[0.05, 0.0]
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0, help="per run, s")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/client.json")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    write_result(args.output, result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""W2 with ``go build ./...`` (``--go-command build``): a build needs fewer zips than ``all``.

``go mod download all`` fetches every module of the build list; ``go build ./...`` of the same
project fetches only the zips of the modules that provide the packages it compiles (and the
go.mod files of the graph). Predictive prefetch guesses zips from the go.mod files asked for, so
its waste (bytes prefetched and never asked for within the run) is larger for a build: issue 15
asks for it measured both ways.

Preparation, outside any timing:

1. The project's source: ``tests/projects/prometheus`` holds the go.mod and go.sum of
   ``github.com/prometheus/prometheus`` v0.316.0 (docs/design/testing.md); its module zip is
   downloaded by the go command itself (``go mod download -json <module>@<version>`` with the
   machine's own Go environment) into a scratch module cache and copied to a scratch
   directory, with the project's go.mod (the same file as the zip's) and an empty go.sum, as the
   download mode runs.
2. A warm build cache: one ``go build ./...`` with ``GOPROXY=file://<the origin folder>`` and
   nothing after it (so a zip missing from the folder the origin serves fails here, before any
   timing) compiles everything once into a scratch ``GOCACHE`` (on both cores, to be quicker);
   a second build with the module cache and the build cache in place, pinned to core 1 like a
   measured run, measures what is left when nothing is fetched (the floor).

Each measured run gets a fresh module cache and its own copy of that warm build cache (hard
links), so the time measured is mostly fetching modules, not compiling: a cold compile of
Prometheus takes minutes on this 2-core machine (the go command pinned to one core), far more
than the fetch the benchmark is about. Every build runs with ``-trimpath``: without it the
compiler's cache keys include the package's directory, which lies in each run's fresh module
cache, so nothing would hit. What the warm cache cannot remove is linking: ``go build ./...``
links every main package (into a temporary folder) and links are not cached, so the floor
(``warm_build_seconds``: 19–39 s measured here, the cold compile 571–818 s) is part of every
measured run (about half of a 42 s direct run).

The number reported as a run's modules is the count of zips in its module cache afterwards
(the zips the go command downloaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuildTree", "go_build", "prepare_build"]

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "projects" / "prometheus"
#: The release whose go.mod and go.sum ``tests/projects/prometheus`` holds.
MODULE, VERSION = "github.com/prometheus/prometheus", "v0.316.0"
#: With -trimpath the build cache's keys do not name the module cache's directory.
GOFLAGS = "-mod=mod -trimpath"

#: (home, GOPROXY, GOSUMDB) → the go command's environment (``run._go_env``).
GoEnv = Callable[[Path, str, str], dict[str, str]]


@dataclass(frozen=True, slots=True)
class BuildTree:
    """The prepared source tree and warm build cache, and what preparing them took."""

    #: The scratch folder holding everything below (removed by :meth:`remove`).
    root: Path
    source: Path
    gocache: Path
    #: Seconds of the first build (fetching from the folder, compiling everything).
    cold_build_seconds: float
    #: Seconds of a build with modules and build cache in place: the floor of a measured run.
    warm_build_seconds: float
    #: Zips the first build downloaded: every module ``go build ./...`` needs.
    zips_needed: int
    go_env: GoEnv
    #: Where the runs' homes go (the same file system as ``root``, for hard links).
    homes: str | None

    def summary(self) -> dict[str, object]:
        """The figures for the results file."""
        return {
            "module": f"{MODULE}@{VERSION}",
            "goflags": GOFLAGS,
            "cold_build_seconds": self.cold_build_seconds,
            "warm_build_seconds": self.warm_build_seconds,
            "zips_needed": self.zips_needed,
        }

    def remove(self) -> None:
        """Remove the scratch folder (blocking)."""
        remove_tree(self.root)

    async def __call__(
        self, scratch: Path, name: str, goproxy: str, gosumdb: str, limit: float
    ) -> tuple[float, int, str]:
        """One measured run (``run._go_download_all``'s signature; ``scratch`` unused)."""
        return await go_build(self, name, goproxy, gosumdb, limit)


def _download_source(scratch: Path) -> Path:
    """The module's extracted zip, downloaded by the go command with the machine's settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOFLAGS", "GOMODCACHE", "GOPATH")}
    env.update(
        GOMODCACHE=str(scratch / "source-modcache"),
        GOPATH=str(scratch / "source-gopath"),
        GOFLAGS="-modcacherw",
        GOTOOLCHAIN="local",
        GOWORK="off",
        GOTELEMETRY="off",
    )
    with tempfile.TemporaryDirectory(prefix="w2-source-") as cwd:  # outside any module
        proc = subprocess.run(
            ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
            cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {}
    if proc.returncode != 0 or "Dir" not in info:
        raise RuntimeError(
            f"go mod download {MODULE}@{VERSION} failed: {info.get('Error') or proc.stderr}"
        )
    return Path(info["Dir"])


def _reset_module_files(source: Path) -> None:
    shutil.copyfile(PROJECT / "go.mod", source / "go.mod")
    (source / "go.sum").write_text("")


def _build(source: Path, env: dict[str, str], limit: float, *, pinned: bool) -> float:
    pin = ["taskset", "-c", "1"] if pinned else []
    started = time.monotonic()
    proc = subprocess.run(
        [*pin, "go", "build", "./..."],
        cwd=source, env=env, capture_output=True, text=True, check=False, timeout=limit,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"go build ./... failed while preparing: {proc.stderr[-2000:]}")
    return round(time.monotonic() - started, 2)


def _count_zips(home: Path) -> int:
    return sum(1 for _ in (home / "gopath" / "pkg" / "mod" / "cache" / "download").rglob("*.zip"))


def prepare_build(served: Path, go_env: GoEnv, homes: str | None, limit: float = 3600) -> BuildTree:
    """Download and extract the source, warm a build cache over ``served`` (blocking)."""
    root = Path(tempfile.mkdtemp(prefix="w2-build-", dir=homes))
    try:
        return _prepare(root, served, go_env, homes, limit)
    except BaseException:
        remove_tree(root)
        raise


def _prepare(root: Path, served: Path, go_env: GoEnv, homes: str | None, limit: float) -> BuildTree:
    source = root / "source"
    print(f"preparing go build ./...: {MODULE}@{VERSION} and a warm build cache ...", flush=True)
    shutil.copytree(_download_source(root), source, symlinks=True)
    for dirpath, dirnames, _ in os.walk(source):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    _reset_module_files(source)
    home = root / "warm-home"
    env = go_env(home, served.as_uri(), "off")
    env.update(GOFLAGS=GOFLAGS, GOCACHE=str(root / "gocache"))
    cold = _build(source, env, limit, pinned=False)  # both cores: preparation only
    zips = _count_zips(home)
    warm = _build(source, env, limit, pinned=True)  # as a measured run
    _reset_module_files(source)
    remove_tree(home)
    remove_tree(root / "source-modcache")
    remove_tree(root / "source-gopath")
    tree = BuildTree(root, source, root / "gocache", cold, warm, zips, go_env, homes)
    print(f"  {tree.summary()}", flush=True)
    return tree


def remove_tree(root: Path) -> None:
    """Remove ``root``, read-only module cache folders included."""
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, name), 0o755)
    shutil.rmtree(root, ignore_errors=True)


def _link_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _fresh_home(tree: BuildTree, name: str, homes: str | None) -> Path:
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=homes))
    shutil.copytree(tree.source, home / "work", symlinks=True)
    shutil.copytree(tree.gocache, home / "gocache", copy_function=_link_copy)
    return home


async def go_build(
    tree: BuildTree, name: str, goproxy: str, gosumdb: str, limit: float
) -> tuple[float, int, str]:
    """Time ``go build ./...`` with a fresh module cache; (seconds, zips downloaded, error)."""
    home = await asyncio.to_thread(_fresh_home, tree, name, tree.homes)
    env = tree.go_env(home, goproxy, gosumdb)
    env.update(GOFLAGS=GOFLAGS, GOCACHE=str(home / "gocache"))
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", "1", "go", "build", "./...",
        cwd=home / "work", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        await asyncio.to_thread(remove_tree, home)
        return time.monotonic() - started, 0, f"timed out after {limit:g} s"
    seconds = time.monotonic() - started
    zips = await asyncio.to_thread(_count_zips, home)
    error = "" if proc.returncode == 0 else err.decode()[-600:]
    await asyncio.to_thread(remove_tree, home)
    return seconds, zips, error

"""``gomodproxy download``: what ``go mod download`` does (cmd/go ``modcmd/download.go``).

1. Find the main module (or workspace), read its go.mod and go.sum.
2. Decide the modules: the arguments; with none, at ``go 1.17`` or later the module paths the
   go.mod requires (after loading the whole pruned graph, so every go.mod the graph needs is
   cached), older go.mod files and workspaces ``all``.
3. Resolve them (``ListModules``): ``all`` and patterns over the build list, a plain path to its
   selected version, ``path@query`` through the proxy; replacements by a module are followed,
   replacements by a folder skipped.
4. Download each (``.info``, ``.mod``, ``.zip`` + ``.ziphash``, the extracted tree), verified
   against go.sum and the checksum database; in parallel, each version once.
5. Print ``-json`` objects (or the errors), update go.sum when the go command would, and exit
   1 when any module failed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gomodproxy.assembly import Plan, check_settings, open_upstreams, with_defaults
from gomodproxy.client.checksums import GoSumMismatch, SumChecker
from gomodproxy.client.fetch import ModuleFetcher
from gomodproxy.client.goauth import GoAuth
from gomodproxy.client.goenv import GoEnvironment
from gomodproxy.client.graph import PRUNING_VERSION, go_version_at_least
from gomodproxy.client.jsonout import ModuleResult, format_json
from gomodproxy.client.mainmod import find_main_modules
from gomodproxy.client.modcache import ModCache
from gomodproxy.client.progress import progress_for
from gomodproxy.client.resolve import (
    DownloadFailed,
    Resolver,
    keep_sums,
    list_modules,
    module_error,
)
from gomodproxy.client.reuse import ReuseIndex, read_reuse
from gomodproxy.client.trace import TracingFetcher
from gomodproxy.config import Settings, build_settings
from gomodproxy.errors import ConfigError, ProxyError
from gomodproxy.module.modfile import ModuleVersion
from gomodproxy.sumdb.filestate import FileVerifierState
from gomodproxy.sumdb.gosumdb import goproxy_is_single_file
from gomodproxy.upstream.base import Fetcher

__all__ = ["DownloadRequest", "DownloadStats", "run_download"]

#: Module downloads running at once (each fetches, hashes and extracts one module).
PARALLEL_DOWNLOADS = 16


@dataclass(frozen=True, slots=True)
class DownloadRequest:
    """The command line of ``gomodproxy download``."""

    args: tuple[str, ...] = ()
    json: bool = False
    x: bool = False
    reuse: str = ""
    cwd: Path = field(default_factory=Path.cwd)


@dataclass
class DownloadStats:
    """What a run did (for tests and the benchmark)."""

    #: Modules listed (results printed), and how many of them failed.
    modules: int = 0
    failed: int = 0
    #: Files fetched from the upstreams, checksum-database lookups made.
    fetched: int = 0
    sumdb_lookups: int = 0


async def _download_all(ctx: Resolver, results: list[ModuleResult]) -> None:
    slots = asyncio.Semaphore(PARALLEL_DOWNLOADS)

    progress = ctx.fetcher.progress
    progress.total(sum(1 for r in results if not r.error and not r.reuse))

    async def one(res: ModuleResult) -> None:
        async with slots:
            name = f"{res.path}@{res.version}"
            progress.started(name)
            try:
                got = await ctx.fetcher.download(res.path, res.version)
            except GoSumMismatch:
                raise
            except ProxyError as exc:
                res.error = module_error(ModuleVersion(res.path, res.version), exc)
                return
            finally:
                progress.finished(name)
        res.info, res.go_mod, res.zip = str(got.info), str(got.go_mod), str(got.zip)
        res.dir, res.sum, res.go_mod_sum = str(got.dir), got.sum, got.go_mod_sum

    try:
        async with asyncio.TaskGroup() as tg:
            for res in results:
                if not res.error and not res.reuse:
                    tg.create_task(one(res))
    except* GoSumMismatch as group:
        # go.sum disagrees: the go command stops at once (base.Fatalf), so do we.
        raise group.exceptions[0] from None


def _zip_workers(environ: dict[str, str]) -> int:
    """GOMODPROXY_DOWNLOAD_WORKERS: worker processes for zip checks, hashing and extraction;
    0 keeps that work in threads. Unset: one per core this process may run on, threads on a
    single core (on an idle 2-core machine processes halved the wall time: the zip work holds
    the interpreter lock in threads; docs/reports/benchmarks.md, W3)."""
    text = environ.get("GOMODPROXY_DOWNLOAD_WORKERS")
    if text is None:
        cores = len(os.sched_getaffinity(0))
        return cores if cores >= 2 else 0
    try:
        return max(0, int(text))
    except ValueError:
        raise ConfigError(
            f"invalid GOMODPROXY_DOWNLOAD_WORKERS {text!r}: give a whole number"
        ) from None


def vcs_clones(gomodcache: Path) -> Path:
    """Where the git clones of modules fetched ``direct`` are kept: beside the go command's
    own (``cache/vcs``) in the module cache, in a folder of ours, so ``go clean -modcache``
    removes them too and neither program ever touches the other's clones."""
    return gomodcache / "cache" / "gomodproxy-vcs"


def _settings_for(env: GoEnvironment, environ: dict[str, str]) -> Settings:
    settings = build_settings(
        {
            "upstream": env.goproxy,
            "sumdb": env.gosumdb,
            "goprivate": env.goprivate,
            "gonoproxy": env.gonoproxy,
            "gonosumdb": env.gonosumdb,
            "cache-dir": str(env.gomodcache),
            "vcs-cache-dir": str(vcs_clones(env.gomodcache)),
            "vcs-meta-tags": True,
            "listen": "127.0.0.1:0",
        },
        {},
        go_env=lambda _names: {},
    )
    return with_defaults(settings, environ)


async def run_download(
    request: DownloadRequest,
    env: GoEnvironment,
    *,
    environ: dict[str, str] | None = None,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    stats: DownloadStats | None = None,
) -> int:
    """Run the command; returns the exit code (0, or 1 when anything failed)."""
    stats = stats if stats is not None else DownloadStats()
    environ = dict(os.environ if environ is None else environ)
    mains = await asyncio.to_thread(find_main_modules, request.cwd, env.gowork)
    explicit = bool(request.args)
    args = list(request.args)
    reuse: ReuseIndex = {}
    if request.reuse:
        if mains.in_module:
            raise DownloadFailed("gomodproxy download -reuse cannot be used inside a module")
        reuse = await asyncio.to_thread(read_reuse, request.cwd / request.reuse)
    if mains.in_module and explicit:
        for main_path in sorted(mains.paths):
            for arg in args:
                if arg in (main_path, main_path + "@upgrade", main_path + "@patch"):
                    stderr.write(
                        f"gomodproxy: skipping download of {arg} that resolves to the main module\n"
                    )
    settings = _settings_for(env, environ)
    plan = check_settings(settings)
    state = FileVerifierState.go_layout(env.gopath, env.gomodcache)

    def trace(inner: Fetcher) -> Fetcher:
        return TracingFetcher(inner, stderr)

    # GOFLAGS applies -x to commands that take it, as the go command does.
    wrap = trace if request.x or "-x" in env.goflags else None
    goauth = await _goauth(env, plan, environ, request.cwd, stderr if wrap else None)
    try:
        async with open_upstreams(
            plan, None, verifier_state=state, trace=wrap, for_user=environ, request_auth=goauth
        ) as upstreams:
            checker = await asyncio.to_thread(
                SumChecker.read,
                mains.go_sum_file,
                upstreams.verifier,
                gonosumdb=plan.private.gonosumdb,
                goproxy_is_single_file=goproxy_is_single_file(env.goproxy),
                workspace_go_sums=mains.workspace_go_sums,
            )
            display = progress_for(stderr, json_output=request.json)
            fetcher = ModuleFetcher(
                upstreams.chain,
                ModCache(env.gomodcache),
                checker,
                keep_writable=env.modcache_rw,
                progress=display,
                workers=_zip_workers(environ),
            )
            ctx = Resolver(env, mains, fetcher, checker, reuse=reuse)
            try:
                with display:
                    code = await _run(ctx, request, args, explicit, stdout, stderr, stats)
            finally:
                await asyncio.to_thread(fetcher.close)
                stats.fetched = fetcher.fetched
                stats.sumdb_lookups = checker.lookups
    finally:
        if goauth is not None:
            await goauth.aclose()
    return code


async def _goauth(
    env: GoEnvironment, plan: Plan, environ: dict[str, str], cwd: Path, trace: TextIO | None
) -> GoAuth | None:
    """GOAUTH for the https proxies and the checksum database. Checked (with the go
    command's fatal errors) only when some URL is https: the go command checks it at its
    first https request."""
    urls = list(plan.proxies.proxy_urls)
    if plan.sumdb is not None:
        urls.append(plan.sumdb.url or plan.sumdb.direct_url)
    if not any(u.startswith("https:") for u in urls):
        return None
    return await asyncio.to_thread(GoAuth.from_spec, env.goauth, environ, cwd=cwd, trace=trace)


async def _run(
    ctx: Resolver,
    request: DownloadRequest,
    args: list[str],
    explicit: bool,
    stdout: TextIO,
    stderr: TextIO,
    stats: DownloadStats,
) -> int:
    mains = ctx.mains
    for file, f in mains.modules:
        go = f.go.version if f.go is not None else ""
        if go and ctx.too_new(go):
            raise DownloadFailed(f"{file.name} requires go >= {go} {ctx.running()}")
    if mains.in_module and not explicit:
        if mains.work_file is not None:
            args = ["all"]
        elif not go_version_at_least(mains.go_version, PRUNING_VERSION):
            if mains.requirements():
                args = ["all"]
        else:
            await ctx.load_graph()
            args = [r.path for r in mains.requirements()]
    if not args:
        if mains.in_module:
            stderr.write("gomodproxy: no module dependencies to download\n")
            return 0
        raise DownloadFailed("no modules specified (see 'gomodproxy download --help')")
    results = await list_modules(ctx, args)
    if mains.in_module and not explicit and mains.work_file is None:
        await ctx.checker.write(keep_sums(ctx), ctx.fetcher.cache.side_lock)
    await _download_all(ctx, results)
    ctx.fetcher.progress.stop()
    failed = False
    stats.modules = len(results)
    stats.failed = sum(1 for res in results if res.error)
    for res in results:
        if request.json:
            stdout.write(format_json(res))
        elif res.error:
            stderr.write(f"gomodproxy: {res.error}\n")
        failed = failed or bool(res.error)
    stdout.flush()
    if failed and not request.json:
        # base.ExitIfErrors: without -json the go command stops before updating go.sum.
        return 1
    if explicit or mains.work_file is not None:
        await ctx.checker.write(keep_sums(ctx), ctx.fetcher.cache.side_lock)
    return 1 if failed else 0

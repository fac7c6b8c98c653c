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
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gomodproxy.assembly import check_settings, open_upstreams, with_defaults
from gomodproxy.client.checksums import GoSumMismatch, SumChecker
from gomodproxy.client.fetch import ModuleFetcher
from gomodproxy.client.goenv import GoEnvironment
from gomodproxy.client.graph import (
    PRUNED,
    PRUNING_VERSION,
    UNPRUNED,
    WORKSPACE,
    ModSummary,
    ModuleGraph,
    go_version_at_least,
    go_version_key,
    load_graph,
    root_versions,
)
from gomodproxy.client.jsonout import ModuleResult, format_json
from gomodproxy.client.mainmod import MainModules, find_main_modules
from gomodproxy.client.modcache import ModCache
from gomodproxy.client.progress import progress_for
from gomodproxy.client.query import QuerySource, resolve_query
from gomodproxy.client.trace import TracingFetcher
from gomodproxy.config import Settings, build_settings
from gomodproxy.errors import ConfigError, ProxyError
from gomodproxy.module.modfile import ModFile, ModuleVersion, VersionInterval, parse_lax
from gomodproxy.protocol.answers import info_version
from gomodproxy.sumdb.filestate import FileVerifierState
from gomodproxy.sumdb.gosumdb import goproxy_is_single_file
from gomodproxy.upstream.base import Fetcher

__all__ = ["DownloadRequest", "DownloadStats", "run_download"]

#: Module downloads running at once (each fetches, hashes and extracts one module).
PARALLEL_DOWNLOADS = 16
#: gover.GoStrictVersion: go.mod files at or above it must not need a newer toolchain.
_GO_STRICT = "1.21"
_NO_MOD_ROOT = (
    "go.mod file not found in current directory or any parent directory; see 'go help modules'"
)


class DownloadFailed(ProxyError):
    """The command cannot go on (the go command's base.Fatalf)."""


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

    modules: int = 0
    failed: int = 0
    fetched: int = 0
    sumdb_lookups: int = 0
    go_sum_written: bool = False


@dataclass
class _Context:
    env: GoEnvironment
    mains: MainModules
    fetcher: ModuleFetcher
    checker: SumChecker
    graph: ModuleGraph | None = None
    retractions: dict[str, tuple[VersionInterval, ...]] = field(default_factory=dict)

    def resolve(self, m: ModuleVersion) -> ModuleVersion:
        """``m``'s replacement (a module or a folder), or ``m``."""
        return self.mains.replacement(m) or m

    async def summary(self, m: ModuleVersion) -> ModSummary:
        """goModSummary: the requirements of ``m`` (its replacement's), less exclusions."""
        main = self.mains.main_file(m)
        if main is not None:
            return _summary_of(main, self.mains)
        actual = self.resolve(m)
        if actual.version == "":
            go_mod = Path(actual.path) / "go.mod"
            try:
                data = await asyncio.to_thread(go_mod.read_bytes)
            except FileNotFoundError:
                data = b"module " + m.path.encode() + b"\n"
            except OSError as exc:
                raise ProxyError(f"reading {go_mod}: {exc.strerror or exc}") from exc
            name = str(go_mod)
        else:
            data = await self.fetcher.go_mod(actual.path, actual.version)
            name = "go.mod"
        try:
            f = parse_lax(name, data)
        except ProxyError as exc:
            raise ProxyError(f"{actual}: parsing go.mod:\n{exc}") from exc
        go = f.go.version if f.go is not None else ""
        if go_version_at_least(go, _GO_STRICT) and self.too_new(go):
            raise ProxyError(f"module {m} requires go >= {go} {self.running()}")
        declared = f.module.path if f.module is not None else ""
        if actual == m and declared and declared != m.path:
            raise ProxyError(
                f"{m}: parsing go.mod:\n\tmodule declares its path as: {declared}\n"
                f"\t        but was required as: {m.path}"
            )
        return _summary_of(f, self.mains)

    def too_new(self, go: str) -> bool:
        """Whether ``go`` is newer than the local toolchain (unknown: never)."""
        local = self.env.local_go
        return bool(local) and go_version_key(go) > go_version_key(local)

    def running(self) -> str:
        """``(running go 1.26.8; GOTOOLCHAIN=local)``, as the go command explains it."""
        return f"(running go {self.env.local_go}; GOTOOLCHAIN={self.env.gotoolchain or 'auto'})"

    async def load_graph(self) -> ModuleGraph:
        if self.graph is None:
            mains = self.mains
            if mains.work_file is not None:
                roots = [ModuleVersion(p, "") for p in mains.ordered_paths()]
                pruning = WORKSPACE
            else:
                roots = mains.requirements()
                pruned = go_version_at_least(mains.go_version, PRUNING_VERSION)
                pruning = PRUNED if pruned else UNPRUNED
            self.graph = await load_graph(mains.paths, roots, pruning=pruning, load=self.summary)
            failure = self.graph.first_error()
            if failure is not None:
                raise DownloadFailed(_module_error(failure[0], failure[1]))
        return self.graph

    async def retracted(self, path: str, newest: str) -> tuple[VersionInterval, ...]:
        if path not in self.retractions:
            intervals: tuple[VersionInterval, ...] = ()
            try:
                data = await self.fetcher.go_mod(path, newest)
                f = parse_lax("go.mod", data)
                intervals = tuple(r.interval for r in f.retract)
            except ProxyError:
                intervals = ()
            self.retractions[path] = intervals
        return self.retractions[path]

    def query_source(self) -> QuerySource:
        chain = self.fetcher.chain

        async def list_versions(path: str) -> bytes:
            try:
                return (await chain.list(path)).data
            except ProxyError:
                return b""

        fetcher = self.fetcher

        async def remembered(path: str, data: bytes) -> bytes:
            # Stat writes the resolved version's .info into the cache (writeDiskStat).
            version = info_version(data, path, what=f"{path} .info")
            await fetcher.write_info(path, version, data)
            return data

        async def latest_info(path: str) -> bytes:
            fetched = await chain.latest(path)
            fetcher.fetched += 1
            return await remembered(path, fetched.data)

        async def query_info(path: str, query: str) -> bytes:
            return await remembered(path, await fetcher.query_info(path, query))

        return QuerySource(
            list_versions=list_versions,
            latest_info=latest_info,
            query_info=query_info,
            retractions=self.retracted,
            excluded=self.mains.is_excluded,
        )


def _summary_of(f: ModFile, mains: MainModules) -> ModSummary:
    requires = tuple(r.mod for r in f.require if not mains.is_excluded(r.mod.path, r.mod.version))
    return ModSummary(f.go.version if f.go is not None else "", requires)


def _module_error(m: ModuleVersion, exc: BaseException) -> str:
    text = str(exc)
    where = f"{m.path}@{m.version}" if m.version else m.path
    if m.version and text.startswith(m.path + ": "):
        text = where + text[len(m.path) :]
    return text if text.startswith((m.path + "@", m.path + ":", "module ")) else f"{where}: {text}"


def _match_pattern(pattern: str, path: str) -> bool:
    """pkgpattern.MatchPattern: ``...`` matches any string; ``x/...`` also matches ``x``."""
    import re

    rx = re.escape(pattern).replace(r"\.\.\.", ".*")
    if pattern.endswith("/..."):
        rx = rx[: -len("/.*")] + "(/.*)?"
    return re.fullmatch(rx, path) is not None


async def _list_modules(ctx: _Context, args: list[str], stderr: TextIO) -> list[ModuleResult]:
    """ListModules: one result per argument (``all`` and patterns: per matched module)."""
    mains = ctx.mains
    roots = root_versions(mains.requirements())
    pruned = go_version_at_least(mains.go_version, PRUNING_VERSION) and mains.work_file is None
    need_graph = False
    for arg in args:
        if "\\" in arg:
            raise DownloadFailed("module paths never use backslash")
        if arg.startswith(("./", "../")) or arg in (".", "..") or os.path.isabs(arg):
            raise DownloadFailed(f"cannot use relative path {arg} to specify module")
        if arg == "all" or "..." in arg:
            need_graph = True
            if not mains.in_module:
                raise DownloadFailed(f'cannot match "{arg}": {_NO_MOD_ROOT}')
            continue
        path, at, vers = arg.partition("@")
        if at:
            if vers in ("upgrade", "patch") and (path not in roots or not pruned):
                need_graph = True
            continue
        if path not in roots or not pruned:
            need_graph = True
            if not mains.in_module:
                raise DownloadFailed(
                    f'cannot match "{arg}" without -versions or an explicit version: '
                    + _NO_MOD_ROOT
                )
    graph = await ctx.load_graph() if need_graph and mains.in_module else None

    def current(path: str) -> str:
        if graph is not None:
            v = graph.selected_version(path)
            return "" if v == "none" else v
        return roots.get(path, "")

    results: list[ModuleResult] = []
    matched: set[ModuleVersion] = set()
    source = ctx.query_source()

    def from_build_list(m: ModuleVersion) -> ModuleResult | None:
        r = ctx.resolve(m)
        if r.version == "":
            return None  # replaced by a folder: nothing to download
        return ModuleResult(r.path, r.version)

    for arg in args:
        path, at, vers = arg.partition("@")
        if at:
            if path in mains.paths:
                continue
            try:
                version = await resolve_query(path, vers, current(path), source)
                # Query ends with Stat of the version: its .info, a failure of the query's.
                info = await ctx.fetcher.info(path, version)
            except ProxyError as exc:
                results.append(ModuleResult(path, vers, error=_query_error(path, vers, exc)))
                continue
            queried = ModuleResult(path, version, query=vers if vers != version else "")
            queried.origin = _origin(info)
            results.append(queried)
            continue
        if arg == "all" or "..." in arg:
            assert graph is not None
            for m in graph.build_list():
                if (arg == "all" or _match_pattern(arg, m.path)) and m not in matched:
                    matched.add(m)
                    res = from_build_list(m)
                    if res is not None:
                        results.append(res)
            continue
        if path in mains.paths:
            continue
        v = current(path)
        if not v:
            results.append(ModuleResult(path, error=f"module {path}: not a known dependency"))
            continue
        res = from_build_list(ModuleVersion(path, v))
        if res is not None:
            results.append(res)
    return results


def _origin(info: bytes) -> object:
    """The ``Origin`` of a cached ``.info`` (what the go command prints for a query)."""
    try:
        doc = json.loads(info)
    except ValueError:
        return None
    return doc.get("Origin") if isinstance(doc, dict) else None


def _query_error(path: str, vers: str, exc: ProxyError) -> str:
    text = str(exc)
    if text.startswith(f"{path}@"):
        return text
    return f"{path}@{vers}: {text}"


def _keep_sums(ctx: _Context) -> set[tuple[str, str]]:
    """keepSums(addBuildListZipSums): the go.mod sums of the graph, the build list's zips."""
    keep: set[tuple[str, str]] = set()

    def add(m: ModuleVersion, zip_too: bool) -> None:
        r = ctx.resolve(m)
        if r.version == "":
            return
        keep.add((r.path, r.version + "/go.mod"))
        if zip_too:
            keep.add((r.path, r.version))

    if ctx.graph is None:
        for m in ctx.mains.requirements():
            add(m, True)
    else:
        for m in ctx.graph.required:
            add(m, False)
        for m in ctx.graph.build_list():
            add(m, True)
    return keep


async def _download_all(ctx: _Context, results: list[ModuleResult]) -> None:
    slots = asyncio.Semaphore(PARALLEL_DOWNLOADS)

    progress = ctx.fetcher.progress
    progress.total(sum(1 for r in results if not r.error))

    async def one(res: ModuleResult) -> None:
        async with slots:
            name = f"{res.path}@{res.version}"
            progress.started(name)
            try:
                got = await ctx.fetcher.download(res.path, res.version)
            except GoSumMismatch:
                raise
            except ProxyError as exc:
                res.error = _module_error(ModuleVersion(res.path, res.version), exc)
                return
            finally:
                progress.finished(name)
        res.info, res.go_mod, res.zip = str(got.info), str(got.go_mod), str(got.zip)
        res.dir, res.sum, res.go_mod_sum = str(got.dir), got.sum, got.go_mod_sum

    try:
        async with asyncio.TaskGroup() as tg:
            for res in results:
                if not res.error:
                    tg.create_task(one(res))
    except* GoSumMismatch as group:
        # go.sum disagrees: the go command stops at once (base.Fatalf), so do we.
        raise group.exceptions[0] from None


def _zip_workers(environ: dict[str, str]) -> int:
    """GOMODPROXY_DOWNLOAD_WORKERS: worker processes for zip checks, hashing and extraction
    (default 0: threads; on a busy 2-core machine processes measured no faster)."""
    text = environ.get("GOMODPROXY_DOWNLOAD_WORKERS", "0")
    try:
        return max(0, int(text))
    except ValueError:
        raise ConfigError(
            f"invalid GOMODPROXY_DOWNLOAD_WORKERS {text!r}: give a whole number"
        ) from None


def _settings_for(env: GoEnvironment, environ: dict[str, str]) -> Settings:
    settings = build_settings(
        {
            "upstream": env.goproxy,
            "sumdb": env.gosumdb,
            "goprivate": env.goprivate,
            "gonoproxy": env.gonoproxy,
            "gonosumdb": env.gonosumdb,
            "cache-dir": str(env.gomodcache),
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
    on_result: Callable[[ModuleResult], None] | None = None,
) -> int:
    """Run the command; returns the exit code (0, or 1 when anything failed)."""
    stats = stats if stats is not None else DownloadStats()
    environ = dict(os.environ if environ is None else environ)
    mains = await asyncio.to_thread(find_main_modules, request.cwd, env.gowork)
    explicit = bool(request.args)
    args = list(request.args)
    if request.reuse:
        if mains.in_module:
            raise DownloadFailed("gomodproxy download -reuse cannot be used inside a module")
        raise DownloadFailed(
            "-reuse is not supported yet (it needs the Origin checks of direct fetching); "
            "run without -reuse"
        )
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

    wrap = trace if request.x else None
    async with open_upstreams(plan, None, verifier_state=state, wrap=wrap) as upstreams:
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
        ctx = _Context(env, mains, fetcher, checker)
        try:
            with display:
                code = await _run(ctx, request, args, explicit, stdout, stderr, on_result)
        finally:
            await asyncio.to_thread(fetcher.close)
            stats.fetched = fetcher.fetched
            stats.sumdb_lookups = checker.lookups
    return code


async def _run(
    ctx: _Context,
    request: DownloadRequest,
    args: list[str],
    explicit: bool,
    stdout: TextIO,
    stderr: TextIO,
    on_result: Callable[[ModuleResult], None] | None,
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
    results = await _list_modules(ctx, args, stderr)
    if mains.in_module and not explicit and mains.work_file is None:
        await ctx.checker.write(_keep_sums(ctx), ctx.fetcher.cache.side_lock)
    await _download_all(ctx, results)
    ctx.fetcher.progress.stop()
    failed = False
    for res in results:
        if on_result is not None:
            on_result(res)
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
        await ctx.checker.write(_keep_sums(ctx), ctx.fetcher.cache.side_lock)
    return 1 if failed else 0

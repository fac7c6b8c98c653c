"""Which module versions a ``gomodproxy download`` means (cmd/go ``modload`` ListModules).

:class:`Resolver` holds the main module(s), the fetcher and the graph once loaded: the go.mod
summary of any module (replacements, exclusions, the toolchain rule), the module graph, version
queries through the proxy, and :meth:`Resolver.list_modules`, which turns the arguments into
one :class:`~gomodproxy.client.jsonout.ModuleResult` per module, as the go command lists them.
:func:`keep_sums` is the go command's ``keepSums``: which go.sum lines are kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.client.checksums import SumChecker
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
from gomodproxy.client.jsonout import ModuleResult
from gomodproxy.client.mainmod import MainModules
from gomodproxy.client.origins import Origin, list_origin, merge_origin
from gomodproxy.client.query import QueryError, QuerySource, resolve_query
from gomodproxy.client.reuse import ReuseIndex, check_reuse, origin_json
from gomodproxy.errors import ProxyError
from gomodproxy.module.modfile import ModFile, ModuleVersion, VersionInterval, parse_lax
from gomodproxy.protocol.answers import info_version
from gomodproxy.upstream.modulefetch import ModuleFetcher as Upstream
from gomodproxy.vcs.coderepo import legacy_go_mod

__all__ = ["DownloadFailed", "Resolver", "keep_sums", "list_modules", "module_error"]

#: gover.GoStrictVersion: go.mod files at or above it must not need a newer toolchain.
_GO_STRICT = "1.21"
_NO_MOD_ROOT = (
    "go.mod file not found in current directory or any parent directory; see 'go help modules'"
)


class DownloadFailed(ProxyError):
    """The command cannot go on (the go command's base.Fatalf)."""


@dataclass
class Resolver:
    """The main modules, the fetcher, and what was learned of the graph."""

    env: GoEnvironment
    mains: MainModules
    fetcher: ModuleFetcher
    checker: SumChecker
    graph: ModuleGraph | None = None
    retractions: dict[str, tuple[VersionInterval, ...]] = field(default_factory=dict)
    #: The ``.info`` answers of queries (branch, commit, latest), by the version they name.
    answers: dict[tuple[str, str], bytes] = field(default_factory=dict)
    #: The -reuse file's entries (see :mod:`gomodproxy.client.reuse`).
    reuse: ReuseIndex = field(default_factory=dict)
    #: The Origin of the last version list read for a module (None: from a module proxy).
    list_origins: dict[str, Origin | None] = field(default_factory=dict)

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
        f = (
            self.fetcher.parsed_mods.get((actual.path, actual.version))
            if name == "go.mod"
            else None
        )
        if f is None:
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
                raise DownloadFailed(module_error(failure[0], failure[1]))
        return self.graph

    async def retracted(self, path: str, newest: str) -> tuple[VersionInterval, ...]:
        if path not in self.retractions:
            intervals: tuple[VersionInterval, ...] = ()
            try:
                # Query("latest") Stat's the version (its .info cached), then reads its go.mod.
                await self.fetcher.info(path, newest)
                data = await self.fetcher.go_mod(path, newest)
                f = self.fetcher.parsed_mods.get((path, newest)) or parse_lax("go.mod", data)
                intervals = tuple(r.interval for r in f.retract)
            except ProxyError:
                intervals = ()
            self.retractions[path] = intervals
        return self.retractions[path]

    def query_source(self) -> QuerySource:
        chain = self.fetcher.chain

        list_origins = self.list_origins

        async def list_versions(path: str, prefix: str) -> bytes:
            # A failed list fails the query, as the go command's proxyRepo.Versions does.
            # The upstream that answers also gives the list's Origin (a git repository's).
            async def listed(upstream: Upstream) -> bytes:
                data = await upstream.list(path)
                list_origins[path] = await list_origin(upstream, path, prefix)
                return data

            list_origins.pop(path, None)
            return (await chain.walk(path, "@v/list", listed)).data

        fetcher = self.fetcher
        ctx_answers = self.answers

        async def remembered(path: str, data: bytes) -> bytes:
            # Stat writes the resolved version's .info into the cache (writeDiskStat).
            version = info_version(data, path, what=f"{path} .info")
            await fetcher.write_info(path, version, data)
            ctx_answers[(path, version)] = data
            return data

        async def latest_info(path: str) -> bytes:
            fetched = await chain.latest(path)
            fetcher.fetched += 1
            return await remembered(path, fetched.data)

        async def query_info(path: str, query: str) -> bytes:
            return await remembered(path, await fetcher.query_info(path, query))

        async def has_go_mod(path: str, version: str) -> bool:
            return await fetcher.go_mod(path, version) != legacy_go_mod(path)

        return QuerySource(
            list_versions=list_versions,
            latest_info=latest_info,
            query_info=query_info,
            retractions=self.retracted,
            excluded=self.mains.is_excluded,
            has_go_mod=has_go_mod,
        )


def _summary_of(f: ModFile, mains: MainModules) -> ModSummary:
    requires = tuple(r.mod for r in f.require if not mains.is_excluded(r.mod.path, r.mod.version))
    return ModSummary(f.go.version if f.go is not None else "", requires)


def module_error(m: ModuleVersion, exc: BaseException) -> str:
    text = (exc.go_text if isinstance(exc, ProxyError) else "") or str(exc)
    where = f"{m.path}@{m.version}" if m.version else m.path
    if m.version and text.startswith(m.path + ": "):
        text = where + text[len(m.path) :]
    return text if text.startswith((m.path + "@", m.path + ":", "module ")) else f"{where}: {text}"


def _match_pattern(pattern: str, path: str) -> bool:
    """pkgpattern.MatchPattern: ``...`` matches any string; ``x/...`` also matches ``x``."""
    rx = re.escape(pattern).replace(r"\.\.\.", ".*")
    if pattern.endswith("/..."):
        rx = rx[: -len("/.*")] + "(/.*)?"
    return re.fullmatch(rx, path) is not None


async def list_modules(ctx: Resolver, args: list[str]) -> list[ModuleResult]:
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
                if not mains.in_module:
                    raise DownloadFailed(f'cannot match "{arg}": {_NO_MOD_ROOT}')
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
            results.append(await _query_result(ctx, path, vers, current(path), source))
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


async def _query_result(
    ctx: Resolver, path: str, vers: str, current: str, source: QuerySource
) -> ModuleResult:
    """One ``path@query`` argument (``queryReuse`` then ``moduleInfo``): resolved (or settled
    by a -reuse entry whose Origin still holds), then marked reused when the entry for the
    version still holds. Its Origin is the query's (see :mod:`gomodproxy.client.origins`)."""
    version = vers
    chain = ctx.fetcher.chain
    ctx.list_origins.pop(path, None)
    try:
        old = ctx.reuse.get((path, vers))
        if old is not None and await check_reuse(chain, path, vers, old.origin):
            version = old.version
            origin: object = origin_json(old.origin)
            info = b""
        else:
            version = await resolve_query(path, vers, current, source)
            # The go command prints the Origin of the query's own answer (for a branch
            # through direct, with its Ref and TagSum), not the cleaned cache file's.
            info = ctx.answers.get((path, version), b"")
            origin = None
        same = ctx.reuse.get((path, version))
        if same is not None and await check_reuse(chain, path, version, same.origin):
            if origin is None:
                origin = _with_list(ctx, path, _origin(info or await _stat(ctx, path, version)))
            return ModuleResult(
                same.path,
                same.version,
                query=vers if vers != same.version else "",
                error=same.error,
                origin=origin,
                reuse=True,
            )
        # Query ends with Stat of the version: its .info, a failure of the query's (named by
        # the version it resolved to, as the go command names it).
        cached = await _stat(ctx, path, version)
        if origin is None:
            origin = _with_list(ctx, path, _origin(info or cached))
    except ProxyError as exc:
        # A query that read the list and matched nothing prints the list's Origin.
        failed = ctx.list_origins.get(path) if isinstance(exc, QueryError) else None
        return ModuleResult(
            path, vers, error=_query_error(path, version, exc), origin=_json(failed)
        )
    return ModuleResult(path, version, query=vers if vers != version else "", origin=origin)


async def _stat(ctx: Resolver, path: str, version: str) -> bytes:
    """``Stat`` of a version: its ``.info`` as fetched this run (whole Origin), else cached."""
    cached = await ctx.fetcher.info(path, version)
    return ctx.fetcher.fetched_infos.get((path, version), cached)


def _with_list(ctx: Resolver, path: str, origin: object) -> object:
    """The version's Origin merged into the version list's when the query read one."""
    if path not in ctx.list_origins:
        return origin  # a revision query: the version's own Origin
    mine = origin if isinstance(origin, dict) else None
    return _json(merge_origin(ctx.list_origins[path], mine))


def _json(origin: Origin | None) -> object:
    return origin_json(origin) if origin is not None else None


def _origin(info: bytes) -> object:
    """The ``Origin`` of a cached ``.info`` (what the go command prints for a query)."""
    try:
        doc = json.loads(info)
    except ValueError:
        return None
    origin = doc.get("Origin") if isinstance(doc, dict) else None
    # codehost.Origin as the go command re-encodes it: known fields, in order, no empties.
    return origin_json(origin) if isinstance(origin, dict) else None


def _query_error(path: str, vers: str, exc: ProxyError) -> str:
    if isinstance(exc, QueryError):
        # modload.NoMatchingVersionError: the module, not the query, leads.
        text = exc.message
        if text.startswith(f"{path}@") and ": " in text:
            text = text.split(": ", 1)[1]
        return f"module {path}: {text}"
    text = exc.go_text or str(exc)
    if text.startswith(f"module {path}: "):
        return text
    if text.startswith(f"{path}: "):
        text = text[len(path) + 2 :]
    if text.startswith(f"{path}@"):
        return text
    return f"{path}@{vers}: {text}"


def keep_sums(ctx: Resolver) -> set[tuple[str, str]]:
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

"""``bundle create --go-mod``: what the go command fetches for a go.mod, as bundle entries.

The module graph is the download client's (:func:`gomodproxy.client.graph.load_graph`, with
pruning and MVS), its go.mod files read through the proxy's cache service, so each is verified
against the checksum database as ``serve`` verifies it. As ``go mod download`` with no arguments
(cmd/go ``modcmd/download.go``): a main module at go 1.17 or later brings the zips of the
modules its go.mod requires, at their selected versions; an older one the zips of the whole
build list. Every other go.mod the graph read comes as a go.mod-only entry, so that the go
command can load the same graph offline. Replacements apply (a module replaced by a folder is
not bundled; its go.mod is read from the folder).

The ``toolchain`` line (:func:`toolchain_modules`) adds the ``golang.org/toolchain`` module
versions the go command would switch to, one per platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from gomodproxy.admin.bundlecreate import Wanted, WantedSource
from gomodproxy.admin.bundleformat import BundleError, BundleModule
from gomodproxy.cache.service import ModuleService
from gomodproxy.client.graph import (
    PRUNED,
    PRUNING_VERSION,
    UNPRUNED,
    ModSummary,
    go_version_at_least,
    go_version_key,
    load_graph,
)
from gomodproxy.client.mainmod import MainModules, main_module_of
from gomodproxy.errors import ConfigError, ProxyError
from gomodproxy.module.modfile import ModFile, ModuleVersion, parse_lax

__all__ = [
    "TOOLCHAIN_MODULE",
    "go_mod_source",
    "load_main_module",
    "modules_of_graph",
    "parse_platform",
    "toolchain_modules",
]

TOOLCHAIN_MODULE = "golang.org/toolchain"
"""The module the go command downloads a toolchain as (``v0.0.1-go1.22.3.linux-amd64``)."""

# gover: from go 1.21 on, a language version (1.22) names the toolchain go1.22.0.
_FIRST_DOT_ZERO = "1.21"


def parse_platform(text: str) -> tuple[str, str]:
    """``GOOS/GOARCH`` (``linux/amd64``), or a ConfigError saying so."""
    goos, slash, goarch = text.partition("/")
    if not slash or not goos.isalnum() or not goarch.isalnum():
        raise ConfigError(f"--platform {text!r}: want GOOS/GOARCH, such as linux/amd64")
    return goos, goarch


async def load_main_module(go_mod: Path) -> MainModules:
    """Parse ``go_mod`` with its replacements and exclusions (a clear error if it cannot)."""
    try:
        return await asyncio.to_thread(lambda: main_module_of(go_mod, Path.cwd()))
    except ProxyError as exc:
        raise ConfigError(f"--go-mod {go_mod}: {exc}") from exc


def _toolchain_of_go_line(go: str) -> str:
    _, _, patch, kind, _ = go_version_key(go)
    if patch == -1 and not kind and go_version_at_least(go, _FIRST_DOT_ZERO):
        return f"go{go}.0"
    return f"go{go}"


def toolchain_modules(
    f: ModFile, local_go: str, platforms: Sequence[tuple[str, str]]
) -> list[BundleModule]:
    """The ``golang.org/toolchain`` versions for ``f``: its ``toolchain`` line's (when it names
    a release at or above the go line), else its go line's when newer than ``local_go`` (the
    go version running here; "" when unknown: never); one per ``(GOOS, GOARCH)``."""
    go = f.go.version if f.go is not None else ""
    name = ""
    if f.toolchain is not None and f.toolchain.name != "default":
        tc = f.toolchain.name.removeprefix("go")
        if "-" not in tc and go_version_key(tc) >= go_version_key(go or "0"):
            name = f.toolchain.name
    if not name and go and local_go and go_version_key(go) > go_version_key(local_go):
        name = _toolchain_of_go_line(go)
    if not name:
        return []
    return [
        BundleModule(TOOLCHAIN_MODULE, f"v0.0.1-{name}.{goos}-{goarch}", True)
        for goos, goarch in platforms
    ]


async def modules_of_graph(mains: MainModules, service: ModuleService) -> list[BundleModule]:
    """The module versions ``go mod download`` fetches for the main module, zips first (in
    build-list order), then the go.mod-only versions the graph read."""
    main_file = mains.modules[0][1]

    def resolve(m: ModuleVersion) -> ModuleVersion:
        return mains.replacement(m) or m

    async def summary(m: ModuleVersion) -> ModSummary:
        f = mains.main_file(m)
        if f is None:
            actual = resolve(m)
            if actual.version == "":
                go_mod = Path(actual.path) / "go.mod"
                try:
                    data = await asyncio.to_thread(go_mod.read_bytes)
                except FileNotFoundError:
                    data = f"module {m.path}\n".encode()
                except OSError as exc:
                    raise ProxyError(f"reading {go_mod}: {exc.strerror or exc}") from exc
            else:
                data = await service.mod(actual.path, actual.version)
            f = parse_lax("go.mod", data)
            declared = f.module.path if f.module is not None else ""
            if actual == m and declared and declared != m.path:
                raise ProxyError(
                    f"{m.path}@{m.version}: go.mod declares its path as {declared} "
                    f"but was required as {m.path}"
                )
        requires = tuple(
            r.mod for r in f.require if not mains.is_excluded(r.mod.path, r.mod.version)
        )
        return ModSummary(f.go.version if f.go is not None else "", requires)

    roots = mains.requirements()
    pruned = go_version_at_least(mains.go_version, PRUNING_VERSION)
    graph = await load_graph(
        mains.paths, roots, pruning=PRUNED if pruned else UNPRUNED, load=summary
    )
    failure = graph.first_error()
    if failure is not None:
        m, exc = failure
        raise BundleError(f"loading the module graph: {m.path}@{m.version}: {exc}")
    if pruned:
        paths = dict.fromkeys(r.mod.path for r in main_file.require)
        with_zip = [ModuleVersion(p, graph.selected_version(p)) for p in paths]
    else:
        with_zip = graph.build_list()
    out: dict[ModuleVersion, BundleModule] = {}
    for m in with_zip:
        r = resolve(m)
        if r.version and r.version != "none":
            out.setdefault(r, BundleModule(r.path, r.version, True))
    for m in graph.required:
        r = resolve(m)
        if r.version and r.path not in mains.paths:
            out.setdefault(r, BundleModule(r.path, r.version, False))
    return list(out.values())


def go_mod_source(
    mains: MainModules, local_go: str, platforms: Sequence[tuple[str, str]]
) -> WantedSource:
    """The bundle's versions for a go.mod: its graph's (:func:`modules_of_graph`), then the
    toolchain's (:func:`toolchain_modules`)."""

    async def wanted(service: ModuleService) -> list[Wanted]:
        modules = await modules_of_graph(mains, service)
        modules += toolchain_modules(mains.modules[0][1], local_go, platforms)
        return [(m, (), ()) for m in modules]

    return wanted

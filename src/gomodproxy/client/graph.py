"""The module graph and minimal version selection, as cmd/go ``modload`` loads them.

Graph pruning (``readModGraph`` in ``modload/buildlist.go``): a main module at ``go 1.17`` or
later is *pruned*: the go.mod files of its roots (its ``require`` lines) are read, but a
requirement of a root is only followed further when that root's own go.mod is unpruned (older
than 1.17), and then everything below it is followed. A main module older than 1.17 is
*unpruned*: the whole transitive graph is read. Each module's go.mod is read at most once per
pruning mode.

MVS (``mvs.Graph``): the selected version of a path is the highest version any loaded go.mod
(or the main module) requires; the build list is the main module then every other selected
module, sorted by path. Reading go.mod files (replacements, excludes, checksums) is the
caller's: it passes :data:`SummaryLoader`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from gomodproxy.module import semver
from gomodproxy.module.modfile import ModuleVersion
from gomodproxy.module.paths import module_sort_key

__all__ = [
    "ModSummary",
    "ModuleGraph",
    "SummaryLoader",
    "go_version_at_least",
    "load_graph",
]

#: The first go version whose go.mod files allow graph pruning (gover.ExplicitIndirectVersion).
PRUNING_VERSION = "1.17"


_GO_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?")


def go_version_key(v: str) -> tuple[int, int, int, str, int]:
    """A sort key ordering go versions as gover.Compare does: ``1.21`` < ``1.21rc1`` <
    ``1.21.0`` < ``1.21.1``; an unparsable version sorts first."""
    m = _GO_VERSION.fullmatch(v.removeprefix("go"))
    if m is None:
        return (0, 0, -1, "", 0)
    major, minor, patch, kind, pre = m.groups()
    return (
        int(major),
        int(minor or 0),
        int(patch) if patch is not None else -1,
        kind or "",
        int(pre or 0),
    )


def go_version_at_least(version: str, minimum: str) -> bool:
    """``version >= minimum`` for go versions such as ``1.21``, ``1.21.3``, ``1.22rc1``
    (an empty version is 1.16, Go's default for a go.mod without a go line)."""
    return go_version_key(version or "1.16") >= go_version_key(minimum)


@dataclass(frozen=True, slots=True)
class ModSummary:
    """What the graph needs of one go.mod: its go version and requirements (after the main
    module's replacements and exclusions)."""

    go_version: str
    requires: tuple[ModuleVersion, ...]

    @property
    def pruned(self) -> bool:
        """Whether the go.mod supports graph pruning (go 1.17 or later)."""
        return go_version_at_least(self.go_version, PRUNING_VERSION)


SummaryLoader = Callable[[ModuleVersion], Awaitable[ModSummary]]


@dataclass
class ModuleGraph:
    """A loaded requirement graph; ``required[m]`` is set for every module whose go.mod was
    read, ``errors[m]`` for every one that failed."""

    mains: frozenset[str]
    roots: tuple[ModuleVersion, ...]
    required: dict[ModuleVersion, tuple[ModuleVersion, ...]] = field(default_factory=dict)
    errors: dict[ModuleVersion, Exception] = field(default_factory=dict)
    selected: dict[str, str] = field(default_factory=dict)

    def note(self, m: ModuleVersion) -> None:
        """Record that ``m`` is required by a loaded module (it may raise the selection)."""
        if m.path in self.mains or m.version == "none":
            return
        current = self.selected.get(m.path)
        if current is None or semver.compare(current, m.version) < 0:
            self.selected[m.path] = m.version

    def selected_version(self, path: str) -> str:
        """The selected version of ``path``, or ``none``."""
        return self.selected.get(path, "none")

    def build_list(self) -> list[ModuleVersion]:
        """Every selected module but the main module, sorted by path (module.Sort)."""
        mods = [ModuleVersion(p, v) for p, v in self.selected.items()]
        mods.sort(key=lambda m: module_sort_key(m.path, m.version))
        return mods

    def first_error(self) -> tuple[ModuleVersion, Exception] | None:
        """The error of the first failed module in module order (deterministic)."""
        if not self.errors:
            return None
        m = min(self.errors, key=lambda k: module_sort_key(k.path, k.version))
        return m, self.errors[m]


#: How a module's requirements are followed (modload's modPruning).
PRUNED, UNPRUNED, WORKSPACE = "pruned", "unpruned", "workspace"


async def load_graph(
    mains: Collection[str],
    roots: Sequence[ModuleVersion],
    *,
    pruning: str,
    load: SummaryLoader,
) -> ModuleGraph:
    """Load the graph (readModGraph). Outside a workspace ``roots`` are the main module's
    requirements and ``pruning`` is PRUNED or UNPRUNED; in a workspace ``roots`` are the main
    modules themselves (version "") and ``pruning`` is WORKSPACE."""
    graph = ModuleGraph(frozenset(mains), tuple(roots))
    if pruning != WORKSPACE:
        for r in roots:
            graph.note(r)
    queued: set[tuple[ModuleVersion, str]] = set()
    summaries: dict[ModuleVersion, asyncio.Future[ModSummary | None]] = {}

    async def summary_of(m: ModuleVersion) -> ModSummary | None:
        fut = summaries.get(m)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            summaries[m] = fut
            try:
                s = await load(m)
            except Exception as exc:
                graph.errors[m] = exc
                fut.set_result(None)
            else:
                graph.required[m] = s.requires
                for r in s.requires:
                    graph.note(r)
                fut.set_result(s)
        return await fut

    async def run(first: Iterable[tuple[ModuleVersion, str]]) -> None:
        async with asyncio.TaskGroup() as tg:

            def enqueue(m: ModuleVersion, mode: str) -> None:
                if m.version == "none" or (m, mode) in queued:
                    return
                if m.version and m.path in graph.mains:
                    return
                queued.add((m, mode))
                tg.create_task(visit(m, mode))

            async def visit(m: ModuleVersion, mode: str) -> None:
                s = await summary_of(m)
                if s is None:
                    return
                own = PRUNED if s.pruned else UNPRUNED
                next_mode = UNPRUNED if mode == UNPRUNED else own
                if mode != PRUNED or own == UNPRUNED:
                    for r in s.requires:
                        enqueue(r, next_mode)

            for m, mode in first:
                enqueue(m, mode)

    await run((r, pruning) for r in roots)
    if pruning == WORKSPACE:
        # Reload the dependencies of the main modules that are not at their selected
        # versions: their requirements may matter to the packages in "all".
        has_deps_in_all = {r.path for r in roots}
        seen: set[ModuleVersion] = set()
        while True:
            needs: set[ModuleVersion] = set()
            for p in has_deps_in_all:
                m = ModuleVersion(p, "" if p in graph.mains else graph.selected_version(p))
                if m not in seen:
                    needs.add(m)
                    continue
                for r in graph.required.get(m, ()):
                    if r.path in graph.mains:
                        continue
                    s = ModuleVersion(r.path, graph.selected_version(r.path))
                    if semver.compare(s.version, r.version) > 0 and s not in seen:
                        needs.add(s)
            if not needs:
                break
            seen |= needs
            has_deps_in_all |= {m.path for m in needs}
            await run((m, WORKSPACE) for m in needs)
    return graph


def root_versions(roots: Iterable[ModuleVersion]) -> dict[str, str]:
    """The highest version of each root path (Requirements.rootSelected)."""
    out: dict[str, str] = {}
    for r in roots:
        if r.path not in out or semver.compare(out[r.path], r.version) < 0:
            out[r.path] = r.version
    return out

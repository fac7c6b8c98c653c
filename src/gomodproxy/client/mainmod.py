"""The main module(s): finding go.mod (or go.work) and reading what the graph needs of it.

As cmd/go ``modload``: the main module is the go.mod in the current folder or the nearest one
above it; a go.work (``$GOWORK``, else the nearest one above, ``GOWORK=off`` disables it) makes
every module it ``use``s a main module. The main module's ``replace`` and ``exclude``
directives apply to the whole graph (in a workspace, go.work's replacements come first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.errors import GoModSyntaxError, ProxyError
from gomodproxy.module.modfile import (
    GoModParseError,
    ModFile,
    ModuleVersion,
    parse,
    parse_work,
)

__all__ = ["MainModuleError", "MainModules", "find_main_modules", "main_module_of"]


class MainModuleError(ProxyError):
    """The main module's go.mod or go.work cannot be used."""


@dataclass
class MainModules:
    """The main module(s) and their rules; ``modules`` is empty outside a module."""

    modules: list[tuple[Path, ModFile]] = field(default_factory=list)
    work_file: Path | None = None
    #: (path, version) → replacement; version "" replaces every version.
    replacements: dict[tuple[str, str], ModuleVersion] = field(default_factory=dict)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    go_version: str = ""

    @property
    def in_module(self) -> bool:
        """Whether there is a main module."""
        return bool(self.modules)

    @property
    def paths(self) -> set[str]:
        """The main modules' paths."""
        return {f.module.path for _, f in self.modules if f.module is not None}

    @property
    def root_dir(self) -> Path | None:
        """The folder of the (first) main module."""
        return self.modules[0][0].parent if self.modules else None

    @property
    def go_sum_file(self) -> Path | None:
        """go.sum of the main module, or go.work.sum in a workspace."""
        if self.work_file is not None:
            return self.work_file.with_name(self.work_file.name + ".sum")
        return self.modules[0][0].with_name("go.sum") if self.modules else None

    def ordered_paths(self) -> list[str]:
        """The main modules' paths in go.work (or go.mod) order."""
        return [f.module.path for _, f in self.modules if f.module is not None]

    def main_file(self, m: ModuleVersion) -> ModFile | None:
        """The parsed go.mod of main module ``m`` (version ""), else None."""
        if m.version:
            return None
        for _, f in self.modules:
            if f.module is not None and f.module.path == m.path:
                return f
        return None

    @property
    def workspace_go_sums(self) -> list[Path]:
        """In a workspace, each module's go.sum (read for checking, never written)."""
        if self.work_file is None:
            return []
        return [file.with_name("go.sum") for file, _ in self.modules]

    def replacement(self, m: ModuleVersion) -> ModuleVersion | None:
        """The replacement of ``m`` (an exact version's first, then the path's), or None."""
        return self.replacements.get((m.path, m.version)) or self.replacements.get((m.path, ""))

    def is_excluded(self, path: str, version: str) -> bool:
        """Whether a main module excludes ``path@version``."""
        return (path, version) in self.excluded

    def requirements(self) -> list[ModuleVersion]:
        """Every main module's require lines, in file order."""
        return [r.mod for _, f in self.modules for r in f.require]


def _find_upward(start: Path, name: str) -> Path | None:
    d = start
    while True:
        candidate = d / name
        if candidate.is_file():
            return candidate
        if d.parent == d:
            return None
        d = d.parent


def _short_path(file: Path, cwd: Path) -> str:
    """base.ShortPath: the path relative to ``cwd`` when that is shorter."""
    try:
        rel = os.path.relpath(file, cwd)
    except ValueError:
        return str(file)
    return rel if len(rel) < len(str(file)) else str(file)


def _parse_go_mod(file: Path, cwd: Path) -> ModFile:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise MainModuleError(f"reading {file}: {exc.strerror or exc}") from exc
    try:
        return parse(_short_path(file, cwd), data)
    except GoModParseError as exc:
        raise MainModuleError(f"errors parsing {file.name}:\n{exc}") from exc
    except GoModSyntaxError as exc:
        raise MainModuleError(f"errors parsing {file.name}:\n{exc}") from exc


def _add_rules(mains: MainModules, f: ModFile, base: Path) -> None:
    for r in f.replace:
        new = r.new
        if not new.version and not os.path.isabs(new.path):
            new = ModuleVersion(str((base / new.path).resolve()), "")
        mains.replacements.setdefault((r.old.path, r.old.version), new)
    for e in f.exclude:
        mains.excluded.add((e.mod.path, e.mod.version))


def find_main_modules(cwd: Path, gowork: str) -> MainModules:
    """Find and parse the main module(s) for a command run in ``cwd`` (blocking)."""
    mains = MainModules()
    work: Path | None = None
    if gowork == "off":
        work = None
    elif gowork:
        work = Path(gowork)
        if not work.is_absolute():
            raise MainModuleError(f"invalid GOWORK: not an absolute path: {gowork}")
    else:
        work = _find_upward(cwd, "go.work")
    if work is not None:
        try:
            data = work.read_bytes()
        except OSError as exc:
            raise MainModuleError(f"reading {work}: {exc.strerror or exc}") from exc
        try:
            wf = parse_work(_short_path(work, cwd), data)
        except GoModSyntaxError as exc:
            raise MainModuleError(f"errors parsing {work.name}:\n{exc}") from exc
        mains.work_file = work
        mains.go_version = wf.go.version if wf.go is not None else ""
        _add_rules_work(mains, wf, work.parent)
        for use in wf.use:
            d = Path(use.path)
            d = d if d.is_absolute() else work.parent / d
            f = _parse_go_mod(d / "go.mod", cwd)
            mains.modules.append((d / "go.mod", f))
            _add_rules(mains, f, d)
        return mains
    go_mod = _find_upward(cwd, "go.mod")
    if go_mod is None:
        return mains
    return main_module_of(go_mod, cwd)


def main_module_of(go_mod: Path, cwd: Path) -> MainModules:
    """The main module of the go.mod file ``go_mod`` (any name), outside a workspace
    (blocking)."""
    mains = MainModules()
    f = _parse_go_mod(go_mod, cwd)
    if f.module is None:
        raise MainModuleError(f"error reading {go_mod}: missing module declaration")
    mains.modules.append((go_mod, f))
    mains.go_version = f.go.version if f.go is not None else ""
    _add_rules(mains, f, go_mod.parent)
    return mains


def _add_rules_work(mains: MainModules, wf: object, base: Path) -> None:
    for r in getattr(wf, "replace", []):
        new = r.new
        if not new.version and not os.path.isabs(new.path):
            new = ModuleVersion(str((base / new.path).resolve()), "")
        mains.replacements.setdefault((r.old.path, r.old.version), new)

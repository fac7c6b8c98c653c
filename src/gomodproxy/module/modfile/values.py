"""The interpreted directives of go.mod and go.work files, as frozen values.

Each value keeps ``syntax``, the :class:`~gomodproxy.module.modfile.syntax.Line` it was read from,
so edits can change the file text in place (x/mod ``modfile`` File, Module, Require, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.module.modfile.syntax import Line

__all__ = [
    "Exclude",
    "Go",
    "Godebug",
    "Ignore",
    "Module",
    "ModuleVersion",
    "Replace",
    "Require",
    "Retract",
    "Tool",
    "Toolchain",
    "Use",
    "VersionInterval",
]


@dataclass(frozen=True, slots=True)
class ModuleVersion:
    """A module path and version (x/mod ``module.Version``); ``version`` may be empty."""

    path: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.path}@{self.version}" if self.version else self.path


@dataclass(frozen=True, slots=True)
class VersionInterval:
    """A closed interval of versions; a single retracted version has ``low == high``."""

    low: str
    high: str


@dataclass(frozen=True, slots=True)
class Module:
    """The ``module`` directive; ``deprecated`` is the ``Deprecated:`` paragraph, or ""."""

    mod: ModuleVersion
    syntax: Line
    deprecated: str = ""

    @property
    def path(self) -> str:
        """The module path."""
        return self.mod.path


@dataclass(frozen=True, slots=True)
class Go:
    """The ``go`` directive: the language version, like ``1.23`` or ``1.23.0``."""

    version: str
    syntax: Line


@dataclass(frozen=True, slots=True)
class Toolchain:
    """The ``toolchain`` directive: a name like ``go1.21rc1`` or ``default``."""

    name: str
    syntax: Line


@dataclass(frozen=True, slots=True)
class Godebug:
    """One ``godebug key=value`` setting."""

    key: str
    value: str
    syntax: Line


@dataclass(frozen=True, slots=True)
class Require:
    """One requirement; ``indirect`` when its line has an ``// indirect`` comment.

    ``syntax`` is None only for requirements built by a caller to pass to
    :meth:`~gomodproxy.module.modfile.rules.ModFile.set_require`.
    """

    mod: ModuleVersion
    indirect: bool = False
    syntax: Line | None = None


@dataclass(frozen=True, slots=True)
class Exclude:
    """One excluded module version."""

    mod: ModuleVersion
    syntax: Line


@dataclass(frozen=True, slots=True)
class Replace:
    """One replacement: ``old`` (version may be empty: all versions) by ``new``.

    ``new.version`` is empty exactly when ``new.path`` is a local directory.
    """

    old: ModuleVersion
    new: ModuleVersion
    syntax: Line


@dataclass(frozen=True, slots=True)
class Retract:
    """One retracted version or ``[low, high]`` interval, with its comment as ``rationale``."""

    low: str
    high: str
    rationale: str
    syntax: Line

    @property
    def interval(self) -> VersionInterval:
        """The retracted interval."""
        return VersionInterval(self.low, self.high)


@dataclass(frozen=True, slots=True)
class Tool:
    """One ``tool`` directive: a package path."""

    path: str
    syntax: Line


@dataclass(frozen=True, slots=True)
class Ignore:
    """One ``ignore`` directive: a directory the go command should skip."""

    path: str
    syntax: Line


@dataclass(frozen=True, slots=True)
class Use:
    """One go.work ``use`` directive: a module directory.

    ``module_path`` is only what an edit said the directory holds; parsing leaves it "".
    """

    path: str
    syntax: Line
    module_path: str = ""

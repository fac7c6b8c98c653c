"""What to probe: the mirrors list and the modules file, parsed without I/O.

``--mirrors`` is a GOPROXY-style list (``,`` or ``|`` between URLs) or, read by the caller,
a file of ``name url`` lines. ``--modules`` is a go.sum, a go.mod, or lines of
``module@version``; a line that is none of these is an error naming its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gomodproxy.errors import ConfigError, GoModSyntaxError, InvalidModulePath, InvalidVersion
from gomodproxy.module import modfile
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.module.gosum import GoSum, parse_go_sum
from gomodproxy.module.paths import canonical_version, check_path

__all__ = [
    "Mirror",
    "ModuleVersion",
    "ProbeInputError",
    "Targets",
    "parse_mirrors",
    "parse_modules",
]

_COMMENT = re.compile(r"(^|\s)(#|//).*$")


class ProbeInputError(ConfigError):
    """A mirrors list or modules file that cannot be used (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Mirror:
    """One mirror to probe: a display name and its GOPROXY base URL."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ModuleVersion:
    """One module version to fetch from every mirror."""

    path: str
    version: str

    def __str__(self) -> str:
        return f"{self.path}@{self.version}"


@dataclass(frozen=True, slots=True)
class Targets:
    """The module versions to probe and, from a go.sum, the hashes they must have."""

    modules: tuple[ModuleVersion, ...]
    go_sum: GoSum | None = None


def _mirror_url(entry: str, where: str) -> str:
    try:
        proxies = parse_goproxy(entry)
    except ConfigError as exc:
        raise ProbeInputError(f"{where}: {exc}") from exc
    urls = proxies.proxy_urls
    if len(urls) != 1 or len(proxies) != 1:
        raise ProbeInputError(
            f"{where}: {entry!r} is not a mirror URL (direct/off cannot be probed)"
        )
    return urls[0]


def parse_mirrors(value: str, *, file_text: str | None = None, filename: str = "") -> list[Mirror]:
    """The mirrors of ``--mirrors``: ``value`` as a GOPROXY list, or ``file_text`` (the content
    of ``@FILE``) with one ``name url`` a line (``#`` comments and blank lines skipped)."""
    mirrors: list[Mirror] = []
    if file_text is None:
        for entry in re.split(r"[,|]", value):
            entry = entry.strip()
            if entry:
                url = _mirror_url(entry, "--mirrors")
                mirrors.append(Mirror(url, url))
    else:
        for lineno, line in enumerate(file_text.splitlines(), start=1):
            fields = _COMMENT.sub("", line).split()
            if not fields:
                continue
            where = f"{filename}:{lineno}"
            if len(fields) != 2:
                raise ProbeInputError(f"{where}: want 'name url', got {line.strip()!r}")
            mirrors.append(Mirror(fields[0], _mirror_url(fields[1], where)))
    if not mirrors:
        raise ProbeInputError("--mirrors: no mirror given")
    names = [m.name for m in mirrors]
    if len(set(names)) != len(names):
        raise ProbeInputError("--mirrors: each mirror needs a name of its own")
    return mirrors


def _module_version(path: str, version: str, where: str) -> ModuleVersion:
    try:
        check_path(path)
    except InvalidModulePath as exc:
        raise ProbeInputError(f"{where}: {exc}") from exc
    if canonical_version(version) != version:
        raise ProbeInputError(f"{where}: {version!r} is not a canonical version")
    return ModuleVersion(path, version)


def _from_go_sum(data: bytes, filename: str) -> Targets:
    try:
        go_sum = parse_go_sum(data, filename)
    except GoModSyntaxError as exc:
        raise ProbeInputError(str(exc)) from exc
    seen: dict[ModuleVersion, None] = {}
    text = data.decode("utf-8", "replace").split("\n")
    for lineno, line in enumerate(text, start=1):
        fields = line.split()
        if not fields:
            continue
        if not fields[2].startswith("h1:"):
            raise ProbeInputError(f"{filename}:{lineno}: not an h1: hash: {fields[2]!r}")
        version = fields[1].removesuffix("/go.mod")
        seen[_module_version(fields[0], version, f"{filename}:{lineno}")] = None
    return Targets(tuple(seen), go_sum)


def _from_go_mod(data: bytes, filename: str) -> Targets:
    try:
        parsed = modfile.parse(filename, data)
    except (GoModSyntaxError, InvalidVersion) as exc:
        raise ProbeInputError(str(exc)) from exc
    mods = [ModuleVersion(r.mod.path, r.mod.version) for r in parsed.require]
    return Targets(tuple(dict.fromkeys(mods)))


def _from_list(data: bytes, filename: str) -> Targets:
    seen: dict[ModuleVersion, None] = {}
    for lineno, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        entry = _COMMENT.sub("", line).strip()
        if not entry:
            continue
        path, at, version = entry.partition("@")
        where = f"{filename}:{lineno}"
        if not at or " " in entry or "\t" in entry:
            raise ProbeInputError(f"{where}: want module@version, got {line.strip()!r}")
        seen[_module_version(path, version, where)] = None
    return Targets(tuple(seen))


def parse_modules(data: bytes, filename: str) -> Targets:
    """Parse ``--modules``: a go.mod (it has a ``module`` line), a go.sum (three fields a line,
    the third an ``h1:`` hash), or ``module@version`` lines. Raises :class:`ProbeInputError`
    naming the file and line of the first bad line, or when no module version is listed."""
    lines = [ln.split() for ln in data.decode("utf-8", "replace").split("\n")]
    first = next((f for f in lines if f and not f[0].startswith(("//", "#"))), None)
    if first is None:
        raise ProbeInputError(f"{filename}: no module versions listed")
    if first[0] == "module":
        targets = _from_go_mod(data, filename)
    elif len(first) == 3 and first[2].startswith("h1:"):
        targets = _from_go_sum(data, filename)
    else:
        targets = _from_list(data, filename)
    if not targets.modules:
        raise ProbeInputError(f"{filename}: no module versions listed")
    return targets

"""A module inside a git repository: versions, ``.info``, ``go.mod`` and zips exactly as the go
command computes them in direct mode (``cmd/go/internal/modfetch/coderepo.go``).

``code_root`` is the import path of the repository root; the module ``path`` lies in the
subdirectory ``code_dir`` (for ``/vN`` paths also in ``code_dir/vN`` when that has the go.mod).
Tag to version mapping is in :mod:`gomodproxy.vcs.tags`, pseudo-versions in
:mod:`gomodproxy.module.pseudo`; this module asks the repository and applies the rules.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from gomodproxy.errors import InvalidVersion, ModuleNotFound
from gomodproxy.module import semver
from gomodproxy.module.modfile import auto_quote, module_path
from gomodproxy.module.paths import canonical_version, match_path_major, split_path_version
from gomodproxy.module.pseudo import (
    is_pseudo_version,
    pseudo_version,
    pseudo_version_base,
    pseudo_version_rev,
    pseudo_version_time,
)
from gomodproxy.vcs.gitrepo import GitRepo, RevInfo
from gomodproxy.vcs.resolve import has_path_prefix
from gomodproxy.vcs.tags import (
    highest_for_retractions,
    path_major_prefix,
    retraction_checker,
    tag_sum,
    tag_to_version,
    version_candidates,
)

__all__ = ["MAX_GO_MOD", "MAX_LICENSE", "CodeRepo", "ResolvedDir", "legacy_go_mod"]

MAX_GO_MOD = 16 << 20
MAX_LICENSE = 16 << 20


def legacy_go_mod(path: str) -> bytes:
    """The go.mod the go command makes up for a version without one (fault catalogue 43)."""
    return f"module {auto_quote(path)}\n".encode()


def _is_major(mpath: str, path_major: str) -> bool:
    """coderepo ``isMajor``."""
    if mpath == "":
        return False
    _prefix, mpath_major, ok = split_path_version(mpath)
    if not ok:
        return False
    if path_major == "":
        return path_major_prefix(mpath_major) in ("", "v0", "v1")
    if mpath_major == "":
        return False
    return path_major[1:] == mpath_major[1:]


@dataclass(frozen=True, slots=True)
class ResolvedDir:
    """Where a version's module is: the git revision, the directory, the go.mod if read."""

    rev: str
    dir: str
    go_mod: bytes | None


class CodeRepo:
    """One module path in one repository (see the module docstring)."""

    def __init__(self, repo: GitRepo, code_root: str, path: str, subdir: str = "") -> None:
        if not has_path_prefix(path, code_root):
            raise ModuleNotFound(f"mismatched repo: found {code_root} for {path}", path=path)
        prefix, path_major, ok = split_path_version(path)
        if not ok:
            raise ModuleNotFound(f"invalid module path {path!r}", path=path)
        if code_root == path:
            prefix = path
        code_dir = ""
        if code_root != path:
            if not has_path_prefix(prefix, code_root):
                raise ModuleNotFound(
                    f"repository rooted at {code_root} cannot contain module {path}", path=path
                )
            code_dir = prefix[len(code_root) :].strip("/")
        if subdir:
            # A go-import tag's subdirectory, joined after the path's own as the go command
            # does (coderepo.go newCodeRepo: filepath.Join(codeDir, subdir), cleaned).
            code_dir = posixpath.normpath(posixpath.join(code_dir, subdir))
            if code_dir == "." or code_dir.startswith("../") or code_dir == "..":
                raise ModuleNotFound(
                    f"{path}: go-import subdirectory {subdir!r} leaves the repository", path=path
                )
        self.repo = repo
        self.path = path
        self.code_root = code_root
        self.code_dir = code_dir
        self.path_prefix = prefix
        self.path_major = path_major
        self.pseudo_major = path_major_prefix(path_major)

    def _error(self, version: str, reason: str) -> ModuleNotFound:
        return ModuleNotFound(
            f"{self.path}@{version}: invalid version: {reason}", path=self.path, version=version
        )

    # -- versions -------------------------------------------------------------------------

    async def versions(self) -> list[str]:
        """The tagged versions (``@v/list``), ``+incompatible`` ones included as Go does."""
        refs = await self.repo.sync()
        c = version_candidates(refs, self.code_dir, self.path_major)
        out = list(c.compatible)
        if not c.incompatible or self.path_major != "":
            return out
        if out and await self._has_go_mod(out[-1]):
            return out
        last_major = ""
        last_has = False
        for i, v in enumerate(c.incompatible):
            m = semver.major(v)
            if m != last_major:
                rest = [w for w in c.incompatible[i:] if semver.major(w) == m]
                last_major, last_has = m, await self._has_go_mod(rest[-1])
            if not last_has:
                out.append(v + "+incompatible")
        return out

    async def _has_go_mod(self, tag: str) -> bool:
        info = await self.repo.stat(tag)
        return await self.repo.read_file(info.name, "go.mod", MAX_GO_MOD) is not None

    async def _retracted(self) -> Callable[[str], bool]:
        try:
            highest = highest_for_retractions(await self.versions())
            if not highest:
                return lambda _v: False
            return retraction_checker(await self.go_mod(highest))
        except ModuleNotFound:
            return lambda _v: False

    # -- stat -----------------------------------------------------------------------------

    def _rev_to_rev(self, rev: str) -> str:
        if semver.is_valid(rev):
            if is_pseudo_version(rev):
                return pseudo_version_rev(rev)
            if semver.build(rev) == "+incompatible":
                rev = rev[: -len("+incompatible")]
            return f"{self.code_dir}/{rev}" if self.code_dir else rev
        return rev

    async def stat(self, rev: str) -> RevInfo:
        """The ``.info`` of a version or query (codeRepo ``Stat``)."""
        if rev == "latest":
            return await self.latest()
        info = await self.repo.stat(self._rev_to_rev(rev))
        return await self._convert(info, rev)

    async def latest(self) -> RevInfo:
        """The ``@latest`` of a repository: its HEAD, as a version (codeRepo ``Latest``)."""
        return await self._convert(await self.repo.latest(), "")

    async def _convert(self, info: RevInfo, stat_vers: str) -> RevInfo:
        out = await self._convert_version(info, stat_vers)
        origin = out.origin
        origin.subdir = self.code_dir
        v = out.version
        if is_pseudo_version(v) and (v != stat_vers or not v.startswith("v0.0.0-")):
            prefix = f"{self.code_dir}/" if self.code_dir else ""
            if self.path_major:
                prefix += self.path_major[1:] + "."
            origin.tag_prefix = prefix
            origin.tag_sum = tag_sum(await self.repo.refs(), prefix)
        return out

    async def _convert_version(self, info: RevInfo, stat_vers: str) -> RevInfo:
        incompatible_ok: dict[str, bool] = {}

        async def can_use_incompatible(v: str) -> bool:
            if self.code_dir or self.path_major:
                return False
            if "" not in incompatible_ok:
                incompatible_ok[""] = (
                    await self.repo.read_file(info.name, "go.mod", MAX_GO_MOD) is None
                )
            if not incompatible_ok[""]:
                return False
            if v and not stat_vers.endswith("+incompatible"):
                m = semver.major(v)
                if m not in incompatible_ok:
                    sub = posixpath.join(m, "go.mod")
                    incompatible_ok[m] = (
                        await self.repo.read_file(info.name, sub, MAX_GO_MOD) is None
                    )
                if not incompatible_ok[m]:
                    return False
            return True

        async def check_canonical(v: str) -> RevInfo:
            try:
                await self.find_dir(v)
            except ModuleNotFound as exc:
                raise ModuleNotFound(
                    f"{self.path}@{v}: invalid version: {exc.message}", path=self.path, version=v
                ) from None
            if v == stat_vers.removesuffix("+incompatible"):
                v = stat_vers
            base = v.removesuffix("+incompatible")
            err: ModuleNotFound | None = None
            if not match_path_major(base, self.path_major):
                if await can_use_incompatible(base):
                    v = base + "+incompatible"
                elif self.path_major:
                    err = self._error(
                        v,
                        "module path includes a major version suffix, so major version must match",
                    )
                else:
                    want = posixpath.join(self.path_prefix, semver.major(v))
                    err = self._error(
                        v,
                        "module contains a go.mod file, so module path must "
                        f'match major version ("{want}")',
                    )
            elif v.endswith("+incompatible"):
                err = self._error(
                    v,
                    "+incompatible suffix not allowed: major version "
                    f"{semver.major(v)} is compatible",
                )
            if stat_vers and stat_vers == canonical_version(stat_vers):
                stat_base = stat_vers.removesuffix("+incompatible")
                if stat_base != base:
                    raise self._error(
                        stat_vers, f"resolves to version {v} ({stat_base} is not a tag)"
                    )
            if err is not None:
                raise err
            return RevInfo(info.name, info.short, info.time, v, info.tags, info.origin)

        if is_pseudo_version(stat_vers):
            out = await check_canonical(stat_vers)
            await self._validate_pseudo_version(info, stat_vers)
            return out

        tag_prefix = f"{self.code_dir}/" if self.code_dir else ""
        is_retracted = await self._retracted()

        v, canonical = tag_to_version(info.version, tag_prefix)
        if canonical:
            try:
                return await check_canonical(v)
            except ModuleNotFound:
                pass

        highest = ""
        pseudo_base = ""
        for tag in info.tags:
            v, canonical = tag_to_version(tag, tag_prefix)
            if stat_vers and v and semver.compare(v, stat_vers) == 0:
                if canonical:
                    return await check_canonical(v)
                pseudo_base = v
            usable = canonical and semver.compare(highest, v) < 0 and not is_retracted(v)
            if usable and (match_path_major(v, self.path_major) or await can_use_incompatible(v)):
                highest = v
        if highest:
            return await check_canonical(highest)

        if not pseudo_base:
            allowed_cache: dict[str, bool] = {}
            # RecentTag calls ``allowed`` synchronously: decide every candidate tag first.
            for tag in sorted(
                t[len("refs/tags/") :]
                for t in (await self.repo.refs())
                if t.startswith("refs/tags/")
            ):
                tv, _ = tag_to_version(tag, tag_prefix)
                ok = (
                    bool(tv)
                    and (match_path_major(tv, self.path_major) or await can_use_incompatible(tv))
                    and not is_retracted(tv)
                )
                allowed_cache[tag] = ok
            tag = await self.repo.recent_tag(
                info.name, tag_prefix, lambda t: allowed_cache.get(t, False)
            )
            if tag:
                pseudo_base, _ = tag_to_version(tag, tag_prefix)
        return await check_canonical(
            pseudo_version(self.pseudo_major, pseudo_base, info.time, info.short)
        )

    async def _validate_pseudo_version(self, info: RevInfo, version: str) -> None:
        def fail(reason: str) -> ModuleNotFound:
            return ModuleNotFound(
                f"{self.path}@{version}: invalid pseudo-version: {reason}",
                path=self.path,
                version=version,
            )

        try:
            rev = pseudo_version_rev(version)
            if rev != info.short:
                if rev.startswith(info.short):
                    raise fail(f"revision is longer than canonical (expected {info.short})")
                if info.short.startswith(rev):
                    raise fail(f"revision is shorter than canonical (expected {info.short})")
                raise fail(f"does not match short name of revision (expected {info.short})")
            t = pseudo_version_time(version)
            if t != info.time:
                stamp = info.time.strftime("%Y%m%d%H%M%S")
                raise fail(f"does not match version-control timestamp (expected {stamp})")
            base = pseudo_version_base(version.removesuffix("+incompatible"))
        except InvalidVersion as exc:
            raise fail(exc.message.split(": invalid pseudo-version: ")[-1]) from None
        tag_prefix = f"{self.code_dir}/" if self.code_dir else ""
        if base == "":
            if self.pseudo_major == "" and semver.major(version) == "v1":
                raise fail("major version without preceding tag must be v0, not v1")
            return
        for tag in info.tags:
            if tag.removeprefix(tag_prefix) == base:
                raise fail(
                    f"tag ({tag}) found on revision {rev} is already canonical, so should not be "
                    "replaced with a pseudo-version derived from that tag"
                )
        last_tag = ""
        found = False
        refs = await self.repo.refs()
        for ref in sorted(refs):
            if not ref.startswith("refs/tags/" + tag_prefix + base):
                continue
            tag = ref[len("refs/tags/") :]
            if semver.compare(tag.removeprefix(tag_prefix), base) == 0:
                last_tag = tag
                found = await self.repo.descends_from(info.name, tag)
                if found:
                    break
        if not last_tag:
            raise fail(f"preceding tag ({base}) not found")
        if not found:
            raise fail(f"revision {rev} is not a descendent of preceding tag ({last_tag})")

    # -- go.mod and the module's directory --------------------------------------------------

    async def find_dir(self, version: str) -> ResolvedDir:
        """coderepo ``findDir``: the revision and directory of ``version``'s module."""
        if not semver.is_valid(version):
            raise self._error(version, "syntax error")
        rev = (await self.repo.stat(self._rev_to_rev(version))).name
        file1 = posixpath.join(self.code_dir, "go.mod")
        gomod1 = await self.repo.read_file(rev, file1, MAX_GO_MOD)
        mpath1 = module_path(gomod1) if gomod1 is not None else ""
        found1 = gomod1 is not None and (
            _is_major(mpath1, self.path_major)
            or (self.path_major == "" and mpath1.startswith("gopkg.in/"))
        )
        file2 = ""
        if self.path_major and self.code_root != self.path and not self.path_major.startswith("."):
            dir2 = posixpath.join(self.code_dir, self.path_major[1:])
            file2 = posixpath.join(dir2, "go.mod")
            gomod2 = await self.repo.read_file(rev, file2, MAX_GO_MOD)
            mpath2 = module_path(gomod2) if gomod2 is not None else ""
            found2 = gomod2 is not None and _is_major(mpath2, self.path_major)
            if found1 and found2:
                raise ModuleNotFound(
                    f"{self.path_prefix}/{file1} and ...{self.path_major}/go.mod both have "
                    f"...{self.path_major} module paths at revision {rev}"
                )
            if found2:
                return ResolvedDir(rev, dir2, gomod2)
            if gomod2 is not None:
                if mpath2 == "":
                    raise ModuleNotFound(
                        f"{self.code_root}/{file2} is missing module path at revision {rev}"
                    )
                raise ModuleNotFound(
                    f"{self.code_root}/{file2} has non-...{self.path_major} module path "
                    f'"{mpath2}" at revision {rev}'
                )
        if found1:
            return ResolvedDir(rev, self.code_dir, gomod1)
        if gomod1 is not None:
            suffix = f" (and ...{self.path_major}/go.mod does not exist)" if file2 else ""
            if mpath1 == "":
                raise ModuleNotFound(f"{file1} is missing module path{suffix} at revision {rev}")
            if self.path_major:
                raise ModuleNotFound(
                    f'{file1} has non-...{self.path_major} module path "{mpath1}"{suffix} at '
                    f"revision {rev}"
                )
            if not split_path_version(mpath1)[2]:
                raise ModuleNotFound(
                    f'{file1} has malformed module path "{mpath1}"{suffix} at revision {rev}'
                )
            raise ModuleNotFound(
                f'{file1} has post-{semver.major(version)} module path "{mpath1}"{suffix} at '
                f"revision {rev}"
            )
        if self.code_dir == "" and (self.path_major == "" or self.path_major.startswith(".")):
            return ResolvedDir(rev, "", None)
        if file2:
            raise ModuleNotFound(
                f"missing {self.path_prefix}/go.mod and ...{self.path_major}/go.mod at "
                f"revision {rev}"
            )
        raise ModuleNotFound(f"missing {self.path_prefix}/go.mod at revision {rev}")

    async def go_mod(self, version: str) -> bytes:
        """The go.mod of a canonical version (made up when the commit has none)."""
        if version != canonical_version(version):
            raise self._error(version, f"version {version} is not canonical")
        if is_pseudo_version(version):
            await self.stat(version)
        try:
            found = await self.find_dir(version)
        except ModuleNotFound as exc:
            raise ModuleNotFound(
                f"{self.path}@{version}: {exc.message}", path=self.path, version=version
            ) from None
        if found.go_mod is not None:
            return found.go_mod
        data = await self.repo.read_file(found.rev, posixpath.join(found.dir, "go.mod"), MAX_GO_MOD)
        return data if data is not None else legacy_go_mod(self.path)

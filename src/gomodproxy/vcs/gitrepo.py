"""One remote git repository and its bare clone in our cache (``codehost/git.go``'s gitRepo).

The clone is a bare repository gomodproxy created itself (``git init --bare`` and a remote
named ``origin``), so nothing of the remote's configuration or hooks is ever read. The remote's
refs are listed with ``git ls-remote`` (remembered for ``refs_ttl`` seconds); when they differ
from the clone's, heads and tags are fetched (only what is missing travels), never other refs,
so no commit unreachable from a branch or tag (a rejected pull request) gets a version.
Everything else is read from the clone: commit times and tags, files, ancestry, archives.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from gomodproxy.errors import ModuleNotFound, UpstreamError
from gomodproxy.module import semver
from gomodproxy.vcs.gitcmd import GitFailed, GitRunner, check_arg, mask_secrets

__all__ = ["GitRepo", "Origin", "RevInfo", "UnknownRevision"]

_HEX = frozenset("0123456789abcdef")
_MIN_HASH_DIGITS = 7
_ATTRIBUTES = "\n* -export-subst -export-ignore\n"


class UnknownRevision(ModuleNotFound):
    """A branch, tag or commit the repository does not have (404)."""


@dataclass(slots=True)
class Origin:
    """Where an answer came from (codehost ``Origin``); JSON keys as the go command's."""

    url: str
    hash: str = ""
    ref: str = ""
    subdir: str = ""
    tag_prefix: str = ""
    tag_sum: str = ""
    repo_sum: str = ""

    def to_json(self) -> dict[str, str]:
        """The ``Origin`` object of an ``.info`` (empty fields left out, Go's order)."""
        fields = [
            ("VCS", "git"),
            ("URL", mask_secrets(self.url)),
            ("Subdir", self.subdir),
            ("Hash", self.hash),
            ("TagPrefix", self.tag_prefix),
            ("TagSum", self.tag_sum),
            ("Ref", self.ref),
            ("RepoSum", self.repo_sum),
        ]
        return {k: v for k, v in fields if v}


@dataclass(slots=True)
class RevInfo:
    """A commit as the repository describes it (codehost ``RevInfo``)."""

    name: str
    short: str
    time: datetime
    version: str
    tags: list[str]
    origin: Origin = field(default_factory=lambda: Origin(""))


def all_hex(s: str) -> bool:
    """Whether ``s`` is lower-case hexadecimal (codehost ``AllHex``)."""
    return all(c in _HEX for c in s)


class GitRepo:
    """A remote repository reached through its bare clone in ``git_dir``."""

    def __init__(
        self,
        runner: GitRunner,
        url: str,
        git_dir: Path,
        *,
        protocols: tuple[str, ...],
        refs_ttl: float = 30.0,
        max_file: int = 16 << 20,
        display: str = "",
        config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self._config = dict(config or {})
        self._env = dict(env or {})
        #: How the repository is named in messages to clients (its root import path): the URL
        #: may name an internal host.
        self.display = display or "the repository"
        self._runner = runner
        self._dir = git_dir
        self._protocols = protocols
        self._refs_ttl = refs_ttl
        self._max_file = max_file
        self._lock = asyncio.Lock()
        self._refs_lock = asyncio.Lock()
        self._refs: dict[str, str] | None = None
        self._refs_at = 0.0
        self._synced: dict[str, str] | None = None

    async def _git(self, *args: str, max_output: int = 64 << 20) -> bytes:
        return await self._runner.run(
            args,
            git_dir=self._dir,
            protocols=self._protocols,
            max_output=max_output,
            config=self._config,
            env=self._env,
        )

    # -- the clone -----------------------------------------------------------------------

    async def _ensure_clone(self) -> None:
        if await asyncio.to_thread((self._dir / "objects").is_dir):
            return
        tmp = self._dir.with_name(f"{self._dir.name}.init-{os.getpid()}-{secrets.token_hex(4)}")
        await asyncio.to_thread(shutil.rmtree, tmp, True)
        await asyncio.to_thread(tmp.mkdir, parents=True)
        try:
            await self._runner.run(["init", "--bare", "--quiet"], git_dir=tmp)
            await self._runner.run(["remote", "add", "origin", "--", self.url], git_dir=tmp)
            await asyncio.to_thread(_write_attributes, tmp)
            await asyncio.to_thread(_move_into_place, tmp, self._dir)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
            raise

    async def refs(self) -> dict[str, str]:
        """HEAD, branches and tags of the remote (annotated tags peeled), remembered for a
        while; a remote that does not exist is a not-found, any other failure a 502."""
        if self._refs is not None and time.monotonic() - self._refs_at < self._refs_ttl:
            return self._refs
        async with self._refs_lock:
            if self._refs is not None and time.monotonic() - self._refs_at < self._refs_ttl:
                return self._refs
            return await self._list_remote()

    async def _list_remote(self) -> dict[str, str]:
        now = time.monotonic()
        await self._ensure_clone()
        try:
            out = await self._git("ls-remote", "-q", "--end-of-options", "origin")
        except GitFailed as exc:
            raise _classify(exc, self.url, self.display) from None
        refs: dict[str, str] = {}
        peeled: dict[str, str] = {}
        for line in out.decode("utf-8", "surrogateescape").split("\n"):
            fields = line.split()
            if len(fields) != 2:
                continue
            h, ref = fields
            if ref.endswith("^{}"):
                peeled[ref[:-3]] = h
            elif ref == "HEAD" or ref.startswith(("refs/heads/", "refs/tags/")):
                refs[ref] = h
        refs.update({k: v for k, v in peeled.items() if k in refs})
        self._refs, self._refs_at = refs, now
        return refs

    async def sync(self) -> dict[str, str]:
        """Make the clone hold every branch and tag of the remote; returns the refs."""
        refs = await self.refs()
        if self._synced == refs:
            return refs
        async with self._lock:
            if self._synced == refs:
                return refs
            # Other processes (workers) may share the clone: one fetch at a time.
            fd = await asyncio.to_thread(_lock_file, self._dir.with_name(self._dir.name + ".lock"))
            try:
                await self._fetch_missing(refs)
            finally:
                await asyncio.to_thread(os.close, fd)
            self._synced = refs
        return refs

    async def _fetch_missing(self, refs: Mapping[str, str]) -> None:
        local = await self._local_refs()
        wanted = {k: v for k, v in refs.items() if k != "HEAD"}
        if local == wanted and ("HEAD" not in refs or refs["HEAD"] in local.values()):
            return
        try:
            await self._git(
                "fetch",
                "-f",
                "--prune",
                "--no-tags",
                "--no-recurse-submodules",
                "--end-of-options",
                "origin",
                "refs/heads/*:refs/heads/*",
                "refs/tags/*:refs/tags/*",
            )
        except GitFailed as exc:
            raise _classify(exc, self.url, self.display) from None

    async def _local_refs(self) -> dict[str, str]:
        out = await self._git(
            "for-each-ref",
            "--format=%(objectname) %(*objectname) %(refname)",
            "refs/heads",
            "refs/tags",
        )
        local: dict[str, str] = {}
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3:
                local[parts[2]] = parts[1] or parts[0]
        return local

    # -- revisions ------------------------------------------------------------------------

    async def stat(self, rev: str) -> RevInfo:
        """Resolve a tag, branch, ``HEAD`` or (prefix of a) commit hash (git.go ``stat``)."""
        refs = await self.sync()
        ref = ""
        hash_ = ""
        version = rev
        if refs.get("refs/tags/" + rev):
            ref = "refs/tags/" + rev
            hash_ = refs[ref]
        elif refs.get("refs/heads/" + rev):
            ref = "refs/heads/" + rev
            hash_ = version = refs[ref]
        elif rev == "HEAD" and refs.get("HEAD"):
            ref = "HEAD"
            hash_ = version = refs["HEAD"]
        elif _MIN_HASH_DIGITS <= len(rev) <= 40 and all_hex(rev):
            hash_ = rev
        else:
            raise UnknownRevision(f"unknown revision {rev}", version=rev)
        info = await self._stat_local(version, hash_, refs)
        info.origin.hash = info.name
        if ref and ref != info.name:
            info.origin.ref = ref
        return info

    async def latest(self) -> RevInfo:
        """The commit of the remote's HEAD (git.go ``Latest``)."""
        refs = await self.sync()
        head = refs.get("HEAD", "")
        if not head:
            raise ModuleNotFound("no commits")
        info = await self.stat(head)
        info.origin.ref = "HEAD"
        info.origin.hash = head
        return info

    async def _stat_local(self, version: str, rev: str, refs: Mapping[str, str]) -> RevInfo:
        try:
            out = await self._git(
                "-c",
                "log.showsignature=false",
                "log",
                "--no-decorate",
                "-n1",
                "--format=format:%H %ct",
                "--end-of-options",
                check_arg(rev, "revision"),
                "--",
            )
        except GitFailed:
            raise UnknownRevision(f"unknown revision {version}", version=version) from None
        fields = out.decode().split()
        if len(fields) < 2:
            raise UpstreamError(
                f"unexpected response from git log: {out[:200]!r}", upstream="direct"
            )
        h, stamp = fields[0], fields[1]
        if h.startswith(version):
            version = h
        tags = sorted(
            {
                r[len("refs/tags/") :]
                for r, v in refs.items()
                if v == h and r.startswith("refs/tags/")
            }
        )
        info = RevInfo(
            name=h,
            short=h[:12] if len(h) == 40 and all_hex(h) else h,
            time=datetime.fromtimestamp(int(stamp), UTC),
            version=version if version in tags else h,
            tags=tags,
            origin=Origin(self.url, hash=h),
        )
        return info

    async def read_file(self, rev: str, path: str, max_size: int | None = None) -> bytes | None:
        """The bytes of ``path`` at commit ``rev`` (a full hash), None if it does not exist."""
        try:
            return await self._git(
                "cat-file",
                "--end-of-options",
                "blob",
                f"{check_arg(rev, 'revision')}:{path}",
                max_output=max_size or self._max_file,
            )
        except GitFailed:
            return None

    async def recent_tag(self, rev: str, prefix: str, allowed: Callable[[str], bool]) -> str:
        """The highest allowed tag with ``prefix`` among the ancestors of ``rev`` (a full hash)
        (git.go ``RecentTag``); the clone holds every branch and tag, so one look is enough."""
        out = await self._git(
            "for-each-ref", "--format=%(refname)", f"--merged={check_arg(rev, 'revision')}"
        )
        highest = ""
        for line in out.decode("utf-8", "surrogateescape").split("\n"):
            line = line.strip()
            if not line.startswith("refs/tags/"):
                continue
            tag = line[len("refs/tags/") :]
            if not tag.startswith(prefix) or not allowed(tag):
                continue
            semtag = tag[len(prefix) :]
            if semver.compare(semtag, highest) > 0:
                highest = semtag
        return prefix + highest if highest else ""

    async def descends_from(self, rev: str, tag: str) -> bool:
        """Whether commit ``rev`` descends from ``tag`` (``merge-base --is-ancestor``)."""
        try:
            await self._git(
                "merge-base", "--is-ancestor", "--", "refs/tags/" + tag, check_arg(rev, "revision")
            )
        except GitFailed as exc:
            if exc.returncode == 1:
                return False
            raise
        return True

    async def archive(self, rev: str, subdir: str, out: BinaryIO, max_size: int) -> int:
        """Write ``git archive --format=zip`` of ``rev`` (limited to ``subdir``) to ``out``,
        stopping as soon as it passes ``max_size``; returns the size written."""
        args = [
            "-c",
            "core.autocrlf=input",
            "-c",
            "core.eol=lf",
            "archive",
            "--format=zip",
            "--prefix=prefix/",
            "--end-of-options",
            check_arg(rev, "revision"),
        ]
        if subdir:
            args.append(check_arg(subdir, "subdirectory"))
        await asyncio.to_thread(_write_attributes, self._dir)
        try:
            return await self._runner.run_to_file(
                args,
                out,
                git_dir=self._dir,
                max_output=max_size,
                too_large=f"the repository tree is larger than the limit of {max_size} bytes",
            )
        except GitFailed as exc:
            if "did not match any files" in exc.stderr:
                raise ModuleNotFound(f"no files in {subdir} at revision {rev}") from None
            raise


def _lock_file(path: Path) -> int:
    """Open and lock ``path`` exclusively (waits in its thread); closing the fd unlocks."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the new clone into place; another process (a worker) that got there first wins
    and ours is dropped."""
    try:
        os.rename(tmp, target)
    except OSError:
        if not (target / "objects").is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _write_attributes(git_dir: Path) -> None:
    """Switch off export-subst and export-ignore (git.go ``ensureGitAttributes``)."""
    info = git_dir / "info"
    info.mkdir(exist_ok=True)
    attrs = info / "attributes"
    data = attrs.read_bytes() if attrs.exists() else b""
    if not data.endswith(_ATTRIBUTES.encode()):
        with attrs.open("ab") as f:
            f.write(_ATTRIBUTES.encode())


_NOT_FOUND_SIGNS = (
    "not found",
    "does not appear to be a git repository",
    "does not exist",
    "404",
    "no such file or directory",
)


def _classify(exc: GitFailed, url: str, display: str) -> UpstreamError | ModuleNotFound:
    """A failed ls-remote/fetch: 404 for a repository that does not exist, 502 otherwise
    (authentication, network, a refused transport); the cause kept, the URL (an internal host,
    perhaps a token) replaced by the repository's import path."""
    text = exc.stderr
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    forms = [(url, display), (mask_secrets(url), display)]
    if parts.netloc:
        host = display.split("/", 1)[0]
        forms += [(base, host), (mask_secrets(base), host)]
    for form, name in forms:
        text = text.replace(form.rstrip("/"), name)
    lower = text.lower()
    if any(sign in lower for sign in _NOT_FOUND_SIGNS) and "authentication" not in lower:
        return ModuleNotFound(f"repository not found: {text}")
    return UpstreamError(f"git could not read {display}: {text}", upstream="direct")

"""``direct`` for real: a :class:`~gomodproxy.upstream.modulefetch.ModuleFetcher` that reads
modules from their git repositories, as the go command does with ``GOPROXY=direct``.

The repository of a module path comes from the rewrite rules or a ``.git`` qualifier
(:mod:`gomodproxy.vcs.resolve`); its bare clone lives under the cache folder, named by a hash of
the URL, and is reused by every later fetch (only what is missing is fetched). Answers are the
go command's own: the ``@v/list`` of tags, ``.info`` with ``Origin`` (cleaned as the go command
cleans what it writes to its module cache), the go.mod of the commit (no zip is built for a
``.mod``), zips by the foundation rules.

Acting for a user (the download client, ``for_user``), it also knows the go command's hosts
that need no meta tags (``github.com/<o>/<r>`` and the rest of ``vcsPaths``), applies the user's
own ``url.<base>.insteadOf`` git settings (only those: hooks, prompts, protocols and deadlines
stay ours), and does not guard against internal addresses (the go command reaches whatever
host the user's configuration names).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import aiohttp

from gomodproxy.errors import ModuleNotFound
from gomodproxy.module.pseudo import is_pseudo_version
from gomodproxy.upstream.base import UpstreamBody
from gomodproxy.upstream.modulefetch import ModuleFetcher, ProxyFetcher
from gomodproxy.upstream.netrc import NetrcCredentials
from gomodproxy.upstream.proxyclient import HTTPFetcher
from gomodproxy.vcs.coderepo import MAX_LICENSE, CodeRepo
from gomodproxy.vcs.credentials import GitAuth
from gomodproxy.vcs.discover import AddressGuard, MetaDiscovery, exempt_hosts
from gomodproxy.vcs.gitcmd import GitRunner, check_arg, read_user_instead_of
from gomodproxy.vcs.gitrepo import GitRepo, RevInfo
from gomodproxy.vcs.resolve import (
    ALLOWED_SCHEMES,
    RepoRoot,
    RewriteRule,
    match_instead_of,
    resolve_repo,
)
from gomodproxy.vcs.zipbuild import build_module_zip

__all__ = ["DEFAULT_MAX_ZIP", "GitFetcher", "info_json"]

Headers = Mapping[str, str] | None
DEFAULT_MAX_ZIP = 500 << 20
_CHUNK = 256 * 1024


def info_json(info: RevInfo, *, clean: bool = True) -> bytes:
    """The ``.info`` of a resolved version, its Origin cleaned as the go command writes it to
    its module cache (``writeDiskStat``: no TagSum/TagPrefix/RepoSum, no Ref for a
    pseudo-version); with ``clean=False`` the whole Origin of the query (what the go command
    prints for it; its own cache writer cleans it)."""
    origin = info.origin
    if clean:
        origin.tag_sum = origin.tag_prefix = origin.repo_sum = ""
        if is_pseudo_version(info.version):
            origin.ref = ""
    t = info.time.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"Version": info.version, "Time": t, "Origin": origin.to_json()}
    return json.dumps(body, separators=(",", ":")).encode()


def _write_ca_bundle(ca_file: Path, bundle: Path) -> None:
    """The system's CA bundle followed by ``ca_file``, for ``GIT_SSL_CAINFO``."""
    parts = []
    system = ssl.get_default_verify_paths().cafile
    if system and os.path.isfile(system):
        parts.append(Path(system).read_bytes())
    parts.append(ca_file.read_bytes())
    data = b"\n".join(parts)
    if bundle.exists() and bundle.read_bytes() == data:
        return
    tmp = bundle.with_name(bundle.name + f".{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, bundle)


def _flushed_size(f: BinaryIO) -> int:
    f.flush()
    return os.fstat(f.fileno()).st_size


def _temp_file(folder: Path) -> BinaryIO:
    return tempfile.TemporaryFile(mode="w+b", dir=folder)


class _SpoolBody:
    """A built zip in a temporary file, streamed and removed afterwards."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self._size = size

    @property
    def content_length(self) -> int | None:
        return self._size

    @property
    def content_type(self) -> str | None:
        """Built here, not received: no declared media type (as a ``file://`` upstream)."""
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        await asyncio.to_thread(self._f.seek, 0)
        while chunk := await asyncio.to_thread(self._f.read, _CHUNK):
            yield chunk


class GitFetcher:
    """Modules straight from their git repositories (see the module docstring)."""

    def __init__(
        self,
        cache_dir: Path,
        rules: Sequence[RewriteRule],
        *,
        timeout: float = 120.0,
        max_zip: int = DEFAULT_MAX_ZIP,
        refs_ttl: float = 30.0,
        git: str = "git",
        session: aiohttp.ClientSession | None = None,
        ssl_context: ssl.SSLContext | None = None,
        exempt: Collection[str] = (),
        ca_file: Path | None = None,
        netrc: NetrcCredentials | None = None,
        auth: GitAuth | None = None,
        for_user: Mapping[str, str] | None = None,
    ) -> None:
        self._auth = auth or GitAuth(netrc=netrc or NetrcCredentials())
        #: The user's environment when acting for a user (see the module docstring).
        self._user = dict(for_user) if for_user is not None else None
        self._instead_of: tuple[tuple[str, str], ...] | None = None
        self._git = git
        self._dir = cache_dir
        self._rules = tuple(rules)
        self._max_zip = max_zip
        self._refs_ttl = refs_ttl
        # git takes one CA bundle: the system's and the company's together, written on first
        # use (see _prepare).
        self._ca_file = ca_file
        self._ca_bundle = cache_dir / "home" / "ca-bundle.pem"
        extra_env = {"GIT_SSL_CAINFO": str(self._ca_bundle)} if ca_file is not None else {}
        self._runner = GitRunner(
            home=cache_dir / "home",
            timeout=timeout,
            git=git,
            extra_env=extra_env,
            redact=lambda text: self._auth.mask(text),
        )
        if ca_file is not None and ssl_context is None:
            ssl_context = ssl.create_default_context()
            ssl_context.load_verify_locations(cafile=str(ca_file))
        self._repos: dict[str, GitRepo] = {}
        self._chosen: dict[str, str] = {}
        self._ssl = ssl_context
        self._session = session
        self._discovered: dict[str, tuple[float, RepoRoot | ModuleFetcher]] = {}
        self.reconfigure(rules, exempt=exempt)

    def reconfigure(
        self, rules: Sequence[RewriteRule], *, auth: GitAuth | None = None, exempt: Collection[str]
    ) -> None:
        """Put new rewrite rules, credentials and internal hosts in force (a reload of the
        settings): repositories are looked up again, their clones on disk are kept; a git call
        already running finishes with what it started with."""
        self._rules = tuple(rules)
        if auth is not None:
            self._auth = auth
        self._guard = AddressGuard(
            exempt_hosts([*(r.host for r in rules), *exempt]), enabled=self._user is None
        )
        self._discovery = (
            MetaDiscovery(self._session, self._guard, ssl_context=self._ssl)
            if self._session is not None
            else None
        )
        self._repos.clear()
        self._chosen.clear()
        self._discovered.clear()

    @property
    def name(self) -> str:
        """``direct``."""
        return "direct"

    async def _prepare(self) -> None:
        for sub in ("home", "repos", "tmp"):
            await asyncio.to_thread((self._dir / sub).mkdir, parents=True, exist_ok=True)
        if self._ca_file is not None:
            await asyncio.to_thread(_write_ca_bundle, self._ca_file, self._ca_bundle)
        if self._user is not None and self._instead_of is None:
            self._instead_of = await read_user_instead_of(
                self._user, git=self._git, cwd=self._dir / "home"
            )

    def _repo(self, url: str, protocols: tuple[str, ...], display: str) -> GitRepo:
        repo = self._repos.get(url)
        if repo is None:
            config, env = self._auth.for_url(url)
            fetched_from = url
            rewrite = match_instead_of(url, self._instead_of or ())
            if rewrite is not None:
                # The user's rewrite, given to git as the user wrote it (the Origin URL stays
                # the module's, as the go command's); its transport is allowed: the user chose it.
                base, prefix = rewrite
                config[f"url.{base}.insteadOf"] = prefix
                fetched_from = base + url[len(prefix) :]
                scheme = urlsplit(fetched_from).scheme
                if scheme in ALLOWED_SCHEMES:
                    protocols = tuple(dict.fromkeys((*protocols, ALLOWED_SCHEMES[scheme])))
            # The clone is named by where it is fetched from (as the go command names its own).
            digest = hashlib.sha256(fetched_from.encode()).hexdigest()[:32]
            repo = GitRepo(
                self._runner,
                url,
                self._dir / "repos" / digest,
                protocols=protocols,
                refs_ttl=self._refs_ttl,
                display=display,
                config=config,
                env=env,
            )
            self._repos[url] = repo
        return repo

    async def _where(self, path: str) -> RepoRoot | ModuleFetcher:
        """A rule or ``.git`` qualifier, else the go-import meta tags (remembered a while);
        a ``mod`` tag gives a proxy fetcher."""
        try:
            root = resolve_repo(path, self._rules, known_hosts=self._user is not None)
        except ModuleNotFound:
            if self._discovery is None or self._session is None:
                raise
            cached = self._discovered.get(path)
            if cached is not None and time.monotonic() - cached[0] < self._refs_ttl:
                return cached[1]
            found = await self._discovery.discover(path)
            where: RepoRoot | ModuleFetcher
            if found.vcs == "mod":
                where = ProxyFetcher(HTTPFetcher(found.url, self._session))
            else:
                where = RepoRoot(
                    found.root, (found.url,), ("https", "ssh"), explicit=False, subdir=found.subdir
                )
            self._discovered[path] = (time.monotonic(), where)
            return where
        if not root.explicit:
            for url in root.urls:
                parts = urlsplit(url)
                await self._guard.check(parts.hostname or "", parts.port or 443)
        return root

    async def _target(self, path: str) -> CodeRepo | ModuleFetcher:
        where = await self._where(path)
        if isinstance(where, RepoRoot):
            return await self._code_repo(path, where)
        return where

    async def code_repo(self, path: str) -> CodeRepo:
        """The module ``path`` in its git repository."""
        target = await self._target(path)
        if not isinstance(target, CodeRepo):
            raise ModuleNotFound(f"{path}: served by a module proxy, not a repository", path=path)
        return target

    async def _code_repo(self, path: str, root: RepoRoot) -> CodeRepo:
        """The module ``path`` in its repository (the first of the URLs that exists)."""
        await self._prepare()
        last: ModuleNotFound | None = None
        chosen = self._chosen.get(root.root)
        urls = (chosen, *(u for u in root.urls if u != chosen)) if chosen else root.urls
        for url in urls:
            repo = self._repo(url, root.protocols, root.root)
            try:
                await repo.refs()
            except ModuleNotFound as exc:
                last = exc
                continue
            # Remember which URL exists (``.git`` or not) so later fetches try it first.
            self._chosen[root.root] = url
            return CodeRepo(repo, root.root, path, root.subdir)
        assert last is not None
        raise ModuleNotFound(f"{path}: {last.message}", path=path)

    async def list(self, path: str, *, headers: Headers = None) -> bytes:
        """The tagged versions, one a line."""
        repo = await self._target(path)
        if not isinstance(repo, CodeRepo):
            return await repo.list(path, headers=headers)
        return "".join(v + "\n" for v in await repo.versions()).encode()

    async def latest(self, path: str, *, headers: Headers = None) -> bytes:
        """The repository's HEAD as a version."""
        repo = await self._target(path)
        if not isinstance(repo, CodeRepo):
            return await repo.latest(path, headers=headers)
        return info_json(await repo.latest(), clean=self._user is None)

    async def info(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """A version or a query (branch, tag, commit hash) resolved."""
        check_arg(version, "version")
        repo = await self._target(path)
        if not isinstance(repo, CodeRepo):
            return await repo.info(path, version, headers=headers)
        return info_json(await repo.stat(version), clean=self._user is None)

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """The go.mod of a canonical version."""
        check_arg(version, "version")
        repo = await self._target(path)
        if not isinstance(repo, CodeRepo):
            return await repo.mod(path, version, headers=headers)
        return await repo.go_mod(version)

    @contextlib.asynccontextmanager
    async def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AsyncIterator[UpstreamBody]:
        """The zip of a canonical version, built in a temporary file."""
        check_arg(version, "version")
        target = await self._target(path)
        if not isinstance(target, CodeRepo):
            async with target.zip(path, version, headers=headers) as proxied:
                yield proxied
            return
        repo = target
        await repo.go_mod(version)  # validates the version as Zip does (Stat, findDir)
        found = await repo.find_dir(version)
        tmp = self._dir / "tmp"
        archive = await asyncio.to_thread(_temp_file, tmp)
        out = await asyncio.to_thread(_temp_file, tmp)
        try:
            size = await repo.repo.archive(found.rev, found.dir, archive, self._max_zip)
            del size
            license_ = None
            if found.dir:
                license_ = await repo.repo.read_file(found.rev, "LICENSE", MAX_LICENSE)
            await asyncio.to_thread(
                build_module_zip, archive, out, path, version, found.dir, license_
            )
            length = await asyncio.to_thread(_flushed_size, out)
            yield _SpoolBody(out, length)
        finally:
            await asyncio.to_thread(archive.close)
            await asyncio.to_thread(out.close)

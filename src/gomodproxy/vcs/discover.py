"""Finding a module's repository through ``<meta name="go-import">`` tags over HTTPS, as the
go command does (``vcs.go`` ``repoRootForImportDynamic``), with an SSRF guard.

``https://<module path>?go-get=1`` is fetched (at most 1 MiB read, redirects followed by hand
up to 10 hops, never from https to http); when the matching tag's prefix is not the module
path itself, ``https://<prefix>?go-get=1`` must agree. Every host asked, and the host of the
repository URL found, is resolved first and refused when any of its addresses is loopback,
private, link-local or otherwise not global, unless the host is named by an explicit
``--vcs-rewrite`` rule (fault catalogue 25, 60, 67). Only https and ssh repository URLs and
the git or ``mod`` kinds are accepted (fault catalogue 62).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from gomodproxy.errors import ModuleNotFound, UpstreamError, UpstreamTimeout
from gomodproxy.vcs.metatags import (
    MAX_META_BYTES,
    MetaImport,
    check_vcs_policy,
    match_go_import,
    parse_meta_go_imports,
)

__all__ = ["AddressGuard", "MetaDiscovery", "UnsafeAddress"]

_MAX_HOPS = 10


class UnsafeAddress(UpstreamError):
    """A host resolves to an address the proxy must not reach on a module's behalf."""

    status_hint = 502


@dataclass(frozen=True, slots=True)
class AddressGuard:
    """Refuses hosts with non-global addresses, except ``exempt`` host names."""

    exempt: frozenset[str] = frozenset()
    #: False when acting for a user (the download client): every host may be reached.
    enabled: bool = True

    async def check(self, host: str, port: int) -> None:
        """Resolve ``host`` and raise :class:`UnsafeAddress` for an internal address."""
        if not self.enabled or host.lower() in self.exempt:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UpstreamError(f"cannot resolve {host}: {exc}", upstream="direct") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                raise UnsafeAddress(
                    f"refusing {host}: it resolves to the internal address {address}; name it in "
                    "--vcs-internal-hosts (or a --vcs-rewrite rule) if it is meant to be reached",
                    upstream="direct",
                )


@dataclass(frozen=True, slots=True)
class Discovered:
    """What the meta tags say: the repository root's import path, its kind and URL."""

    root: str
    vcs: str
    url: str
    subdir: str


class MetaDiscovery:
    """Meta-tag lookups over one HTTP client session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        guard: AddressGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._guard = guard
        self._ssl = ssl_context
        self._timeout = timeout

    def _url(self, import_path: str) -> str:
        host, _, rest = import_path.partition("/")
        return f"https://{host}/{rest}?go-get=1"

    async def _get(self, url: str) -> tuple[str, bytes]:
        for _ in range(_MAX_HOPS + 1):
            parts = urlsplit(url)
            if parts.scheme != "https":
                raise UpstreamError(
                    f"refusing {url}: redirected from secure URL to insecure URL",
                    upstream="direct",
                )
            await self._guard.check(parts.hostname or "", parts.port or 443)
            try:
                async with (
                    asyncio.timeout(self._timeout),
                    self._session.get(url, allow_redirects=False, ssl=self._ssl or True) as resp,
                ):
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    body = await resp.content.read(MAX_META_BYTES)
                    return str(resp.url), body
            except TimeoutError:
                raise UpstreamTimeout(f"https fetch: {url}: timed out", upstream="direct") from None
            except aiohttp.ClientError as exc:
                raise UpstreamError(f"https fetch: {url}: {exc}", upstream="direct") from None
        raise UpstreamError(f"https fetch: {url}: more than {_MAX_HOPS} redirects")

    async def _imports(self, import_path: str) -> tuple[str, list[MetaImport]]:
        where, body = await self._get(self._url(import_path))
        return where, parse_meta_go_imports(body)

    async def discover(self, import_path: str) -> Discovered:
        """The repository of module ``import_path`` (see the module docstring)."""
        where, imports = await self._imports(import_path)
        mmi = match_go_import(imports, import_path)
        if mmi.prefix != import_path:
            where2, imports2 = await self._imports(mmi.prefix)
            try:
                again = match_go_import(imports2, import_path)
            except ModuleNotFound:
                again = None
            if again != mmi:
                raise ModuleNotFound(
                    f"{where} and {where2} disagree about go-import for {mmi.prefix}",
                    path=import_path,
                )
        if mmi.subdir and (mmi.subdir[0] in "/-" or any(c in mmi.subdir for c in "\x00\n\r\\")):
            # validateRepoSubDir: no leading slash or hyphen (and nothing git could misread).
            raise ModuleNotFound(
                f"{where}: invalid subdirectory {mmi.subdir!r}: it must be a relative path "
                "not starting with '-'",
                path=import_path,
            )
        if mmi.vcs != "mod":
            check_vcs_policy(mmi.vcs, mmi.prefix)
        repo = urlsplit(mmi.repo_root)
        allowed = ("https",) if mmi.vcs == "mod" else ("https", "ssh")
        if repo.scheme not in allowed or not repo.hostname or repo.hostname.startswith("-"):
            raise ModuleNotFound(
                f"{where}: invalid repo root {mmi.repo_root!r}: only {' and '.join(allowed)} "
                "URLs are fetched",
                path=import_path,
            )
        if repo.username is not None and repo.username.startswith("-"):
            raise ModuleNotFound(f"{where}: invalid repo root {mmi.repo_root!r}", path=import_path)
        await self._guard.check(repo.hostname, repo.port or (443 if repo.scheme == "https" else 22))
        return Discovered(mmi.prefix, mmi.vcs, mmi.repo_root, mmi.subdir)


def exempt_hosts(hosts: Collection[str]) -> frozenset[str]:
    """Host names compared case-insensitively."""
    return frozenset(h.lower() for h in hosts if h)

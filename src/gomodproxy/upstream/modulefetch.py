"""The per-module fetcher seam: what one entry of the upstream list can answer about a module.

:class:`ModuleFetcher` speaks in modules and versions (list, latest, info, mod, zip), not in URL
paths, so an entry that is not a proxy (``direct``: the version-control fetcher of private
modules) plugs into the chain like any other. :class:`ProxyFetcher` implements it over a proxy
reached by relative paths (HTTP or ``file://``: a :class:`~gomodproxy.upstream.base.Fetcher`),
with the paths of :mod:`gomodproxy.protocol.files`; :class:`DirectFetcher` is ``direct``, which
answers not found until version-control fetching is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from gomodproxy.errors import ModuleNotFound
from gomodproxy.protocol.files import file_key, latest_path, list_key
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import Fetcher, UpstreamBody, read_body

__all__ = ["DIRECT_NOT_SUPPORTED", "DirectFetcher", "ModuleFetcher", "ProxyFetcher"]

DIRECT_NOT_SUPPORTED = "direct fetching is not supported yet"

Headers = Mapping[str, str] | None


class ModuleFetcher(Protocol):
    """One entry of the upstream list, asked about one module at a time.

    Small answers come back whole (size caps applied); the zip is opened for streaming. Errors
    are classified as a proxy's: :class:`~gomodproxy.errors.ModuleNotFound` (not here, may be
    elsewhere), :class:`~gomodproxy.errors.UpstreamTimeout`, other
    :class:`~gomodproxy.errors.UpstreamError`.
    """

    @property
    def name(self) -> str:
        """The upstream for logs and error messages (credentials masked)."""
        ...

    async def list(self, path: str, *, headers: Headers = None) -> bytes:
        """The ``@v/list`` answer."""
        ...

    async def latest(self, path: str, *, headers: Headers = None) -> bytes:
        """The ``@latest`` answer."""
        ...

    async def info(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """The ``.info`` of a version or a query (branch, commit, ``v1.2``)."""
        ...

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """The go.mod of a canonical version."""
        ...

    def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AbstractAsyncContextManager[UpstreamBody]:
        """The zip of a canonical version, opened; entering raises the classified error."""
        ...


class ProxyFetcher:
    """A :class:`ModuleFetcher` over a proxy answering the GOPROXY protocol's relative paths."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    @property
    def name(self) -> str:
        """The proxy (credentials masked)."""
        return self._fetcher.name

    async def list(self, path: str, *, headers: Headers = None) -> bytes:
        """``<E>/@v/list``."""
        return await self._read(list_key(path), FileKind.LIST, headers)

    async def latest(self, path: str, *, headers: Headers = None) -> bytes:
        """``<E>/@latest``."""
        return await self._read(latest_path(path), FileKind.LATEST, headers)

    async def info(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """``<E>/@v/<V>.info`` (a query is escaped like a version, as the go command does)."""
        return await self._read(file_key(path, version, "info"), FileKind.INFO, headers)

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """``<E>/@v/<V>.mod``."""
        return await self._read(file_key(path, version, "mod"), FileKind.MOD, headers)

    @contextlib.asynccontextmanager
    async def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AsyncIterator[UpstreamBody]:
        """``<E>/@v/<V>.zip``, opened for streaming."""
        rel = file_key(path, version, "zip")
        async with self._fetcher.open(rel, FileKind.ZIP, headers=headers) as body:
            yield body

    async def _read(self, rel: str, kind: FileKind, headers: Headers) -> bytes:
        async with self._fetcher.open(rel, kind, headers=headers) as body:
            return await read_body(body, kind, upstream=self._fetcher.name)


class DirectFetcher:
    """``direct``: the module's own version-control repository. Not built yet: every answer is
    a not-found that says so (private modules will plug a git fetcher in here)."""

    def __init__(self, *, private: bool = False) -> None:
        self._why = " (GOPRIVATE/GONOPROXY path)" if private else ""

    @property
    def name(self) -> str:
        """``direct``."""
        return "direct"

    def _refuse(self, path: str) -> ModuleNotFound:
        return ModuleNotFound(
            f"{path}: {DIRECT_NOT_SUPPORTED}{self._why}; list a proxy that serves it in the "
            "upstream setting",
            path=path,
        )

    async def list(self, path: str, *, headers: Headers = None) -> bytes:
        """Not found (not supported yet)."""
        raise self._refuse(path)

    async def latest(self, path: str, *, headers: Headers = None) -> bytes:
        """Not found (not supported yet)."""
        raise self._refuse(path)

    async def info(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """Not found (not supported yet)."""
        raise self._refuse(path)

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """Not found (not supported yet)."""
        raise self._refuse(path)

    @contextlib.asynccontextmanager
    async def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AsyncIterator[UpstreamBody]:
        """Not found (not supported yet)."""
        raise self._refuse(path)
        yield  # pragma: no cover - makes this an async generator

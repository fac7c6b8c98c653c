"""Reading a checksum database's paths through the proxy's own HTTP fetcher.

The proxy verifies downloads with :class:`gomodproxy.sumdb.client.SumDBClient` and relays the
database to clients; both read ``latest``, ``lookup/...`` and ``tile/...`` with the timeouts,
retries, size caps and redirect rules of :class:`~gomodproxy.upstream.proxyclient.HTTPFetcher`.
This adapter gives that fetcher the shape of the client's ``SumDBFetcher`` seam.
"""

from __future__ import annotations

from collections.abc import Mapping

from gomodproxy.upstream.base import FileKind, read_body
from gomodproxy.upstream.proxyclient import HTTPFetcher

__all__ = ["SumDBHTTPFetcher"]


class SumDBHTTPFetcher:
    """``fetch("lookup/M@V") -> bytes`` over one database base URL."""

    def __init__(self, fetcher: HTTPFetcher, *, headers: Mapping[str, str] | None = None) -> None:
        self._fetcher = fetcher
        self._headers = dict(headers or {})

    @property
    def name(self) -> str:
        """The database URL (credentials masked)."""
        return self._fetcher.name

    async def fetch(self, path: str) -> bytes:
        """The body at ``path``: ModuleNotFound for 404/410, UpstreamError otherwise."""
        async with self._fetcher.open(path, FileKind.SUMDB, headers=self._headers) as body:
            return await read_body(body, FileKind.SUMDB, upstream=self._fetcher.name)

"""``-x``: every request to an upstream printed as the go command prints it.

``cmd/go/internal/web`` with ``-x``: ``# get URL`` when a request starts, then
``# get URL: 200 OK (0.004s)`` or ``# get URL: <error> (0.004s)`` when its answer arrives.
A :class:`TracingFetcher` wraps each upstream transport (module files and checksum database).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import TextIO

from gomodproxy.errors import ModuleNotFound, ProxyError
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import Fetcher, UpstreamBody

__all__ = ["TracingFetcher"]


class TracingFetcher:
    """A :class:`~gomodproxy.upstream.base.Fetcher` that prints its requests to ``out``."""

    def __init__(self, inner: Fetcher, out: TextIO) -> None:
        self._inner = inner
        self._out = out

    @property
    def name(self) -> str:
        """The wrapped upstream's name."""
        return self._inner.name

    @contextlib.asynccontextmanager
    async def open(
        self, rel_path: str, kind: FileKind, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[UpstreamBody]:
        """Print the request, open it, print the outcome."""
        url = f"{self._inner.name.rstrip('/')}/{rel_path}"
        self._out.write(f"# get {url}\n")
        started = time.monotonic()
        try:
            async with self._inner.open(rel_path, kind, headers=headers) as body:
                self._out.write(f"# get {url}: 200 OK ({time.monotonic() - started:.3f}s)\n")
                yield body
                return
        except ProxyError as exc:
            status = "404 Not Found" if isinstance(exc, ModuleNotFound) else str(exc)
            self._out.write(f"# get {url}: {status} ({time.monotonic() - started:.3f}s)\n")
            raise

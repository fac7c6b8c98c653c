"""A distant upstream on loopback: a ``cache/download`` folder served with a fixed delay.

Every request waits ``delay`` seconds before its answer (the round trip to a far-away proxy),
then gets the file (200) or 404. Requests and bytes are counted, so a run can say how much it
asked of its upstream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

__all__ = ["DelayedOrigin"]


@dataclass
class DelayedOrigin:
    """The origin's settings and counters; :meth:`start` serves it on 127.0.0.1."""

    root: Path
    delay: float
    requests: int = 0
    not_found: int = 0
    bytes_sent: int = 0
    _runner: web.AppRunner | None = field(default=None, repr=False)
    url: str = ""

    def reset(self) -> None:
        """Zero the counters."""
        self.requests = self.not_found = self.bytes_sent = 0

    async def start(self) -> str:
        """Listen on a free loopback port; return the base URL."""
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        await asyncio.sleep(self.delay)
        rel = unquote(request.path).lstrip("/")
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            self.not_found += 1
            return web.Response(status=404, text=f"not found: {rel}\n")
        self.bytes_sent += path.stat().st_size
        return web.FileResponse(path)

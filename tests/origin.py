"""A local origin server for tests: a real GOPROXY over a ``cache/download`` folder.

It listens on 127.0.0.1 (port 0), serves the files of a folder in the go command's
``cache/download`` layout (the real-module corpus, or a folder a test filled), records every
request, and injects faults on demand: status codes, delays, truncated or stalled bodies, wrong
bytes, gzip coding and redirects. Nothing here is a fake of our own code: it is an upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

__all__ = ["Fault", "Origin", "RecordedRequest", "running_origin"]


@dataclass
class Fault:
    """What to do instead of (or on top of) serving a file.

    ``times`` limits the fault to the first N matching requests (None: every request).
    ``trickle`` sends the body in ``trickle_chunk`` pieces with that many seconds between them.
    """

    status: int | None = None
    delay: float = 0.0
    body: bytes | None = None
    truncate_at: int | None = None
    stall_at: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    gzip: bool = False
    chunked: bool = False
    redirect: str | None = None
    times: int | None = None
    trickle: float = 0.0
    trickle_chunk: int = 65536


@dataclass(frozen=True)
class RecordedRequest:
    """One request the origin received (``path`` is percent-decoded, without the base)."""

    method: str
    path: str
    headers: Mapping[str, str]
    raw_path: str = ""


class Origin:
    """The origin server; use :func:`running_origin` or ``start``/``stop``."""

    def __init__(self, root: Path | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        self.root = root
        self._tls = tls
        self.files: dict[str, bytes] = {}
        self.requests: list[RecordedRequest] = []
        self._faults: list[tuple[Callable[[str], bool], Fault]] = []
        self._runner: web.ServerRunner | None = None
        self._stalled: list[asyncio.Event] = []
        # Its own threads: a proxy in the same process may keep the default pool busy
        # hashing zips, and an origin queued behind it would look like a slow upstream.
        self._reads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="origin")
        self.url = ""
        self._port = 0

    # -- set-up -----------------------------------------------------------------------------

    def serve_file(self, rel_path: str, data: bytes) -> None:
        """Serve ``data`` at ``rel_path`` (escaped, e.g. ``example.com/m/@v/v1.0.0.mod``)."""
        self.files[rel_path] = data

    def inject(self, fault: Fault, path: str | None = None, *, suffix: str | None = None) -> None:
        """Apply ``fault`` to requests for ``path`` (or ending in ``suffix``; else to all)."""

        def matches(p: str) -> bool:
            if path is not None:
                return p == path
            if suffix is not None:
                return p.endswith(suffix)
            return True

        self._faults.append((matches, fault))

    def clear_faults(self) -> None:
        """Serve normally again."""
        self._faults.clear()

    def count(self, path: str | None = None, *, suffix: str | None = None) -> int:
        """How many requests asked for ``path`` (or a path ending in ``suffix``, or any)."""
        return sum(
            1
            for r in self.requests
            if (path is None or r.path == path) and (suffix is None or r.path.endswith(suffix))
        )

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 (port 0 at first, the same port after a restart); the base URL."""
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        site = web.SockSite(self._runner, sock, ssl_context=self._tls)
        await site.start()
        port = sock.getsockname()[1]
        self._port = port
        self.url = f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening and end stalled responses."""
        for event in self._stalled:
            event.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- serving ----------------------------------------------------------------------------

    def _lookup(self, rel: str) -> bytes | None:
        if rel in self.files:
            return self.files[rel]
        if self.root is None:
            return None
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return None
        target = self.root.joinpath(*parts)
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError:
            return None

    def _fault_for(self, rel: str) -> Fault | None:
        for matches, fault in self._faults:
            if not matches(rel):
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            return fault
        return None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        rel = request.path.removeprefix("/")
        self.requests.append(
            RecordedRequest(request.method, rel, dict(request.headers), request.raw_path)
        )
        fault = self._fault_for(rel)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.redirect is not None:
            return web.Response(status=302, headers={"Location": fault.redirect})
        if fault is not None and fault.status is not None:
            return web.Response(
                status=fault.status,
                text=f"injected status {fault.status} for {rel}\n",
                headers=fault.headers,
            )
        data = fault.body if fault is not None and fault.body is not None else None
        if data is None:
            data = await asyncio.get_running_loop().run_in_executor(self._reads, self._lookup, rel)
        if data is None:
            return web.Response(status=404, text=f"not found: {rel}\n")
        return await self._send(request, data, fault or Fault())

    async def _send(
        self, request: web.BaseRequest, data: bytes, fault: Fault
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers=fault.headers)
        if fault.gzip:
            data = gzip.compress(data)
            resp.headers["Content-Encoding"] = "gzip"
        if fault.chunked:
            resp.enable_chunked_encoding()
        else:
            resp.content_length = len(data)
        if "Content-Type" not in resp.headers:  # a fault's headers may declare another type
            resp.content_type = "application/octet-stream"
        await resp.prepare(request)
        cut = fault.truncate_at if fault.truncate_at is not None else fault.stall_at
        if cut is None:
            if fault.trickle:
                for start in range(0, len(data), fault.trickle_chunk):
                    await resp.write(data[start : start + fault.trickle_chunk])
                    await asyncio.sleep(fault.trickle)
            else:
                await resp.write(data)
            await resp.write_eof()
            return resp
        await resp.write(data[:cut])
        if fault.stall_at is not None:
            release = asyncio.Event()
            self._stalled.append(release)
            await release.wait()
        # Close the connection with the body incomplete: no terminating chunk, short body.
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError


@contextlib.asynccontextmanager
async def running_origin(
    root: Path | None = None, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Origin]:
    """An :class:`Origin` serving ``root`` (over TLS with ``tls``) for the block's duration."""
    origin = Origin(root, tls=tls)
    await origin.start()
    try:
        yield origin
    finally:
        await origin.stop()

"""Minimal ASGI app for the benchmark, served by uvicorn and by granian (``--interface asgi``).

Small files come from memory. A zip goes out by the ``http.response.pathsend`` extension where
the server offers it (granian does); otherwise (uvicorn) it is read in 256 KiB chunks with
``os.pread`` in a worker thread and sent as body messages, the way a streaming handler would.
The factory reads the tree's root from ``HTTP_STACKS_ROOT``, since neither server passes
arguments to an app factory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from benchmarks.http_stacks.corpus import SMALL_KINDS, CachedFile, root_from_environ, scan_tree

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CHUNK = 256 * 1024
_PATHSEND = "http.response.pathsend"
_NOT_FOUND = b"not found: only the benchmark files are served\n"


def _open_for_read(path: Path) -> tuple[int, int]:
    fd = os.open(path, os.O_RDONLY)
    return fd, os.fstat(fd).st_size


class _BenchApp:
    """The ASGI callable; holds the small files' bytes and the zips' paths."""

    def __init__(self, root: Path) -> None:
        files = scan_tree(root)
        self._small: dict[str, tuple[bytes, list[tuple[bytes, bytes]]]] = {}
        self._zips: dict[str, CachedFile] = {}
        for f in files.values():
            if f.kind in SMALL_KINDS:
                body = f.path.read_bytes()
                self._small[f.url_path] = (body, _headers(f.content_type, len(body)))
            else:
                self._zips[f.url_path] = f

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        head = scope["method"] == "HEAD"
        path: str = scope["path"]
        small = self._small.get(path)
        if small is not None:
            body, headers = small
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head else body})
            return
        cached = self._zips.get(path)
        if cached is None:
            headers = _headers("text/plain; charset=utf-8", len(_NOT_FOUND))
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": _NOT_FOUND})
            return
        if _PATHSEND in scope.get("extensions", {}) and not head:
            headers = _headers(cached.content_type, cached.size)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": _PATHSEND, "path": str(cached.path)})
            return
        await _stream_file(cached, send, head=head)


async def _stream_file(cached: CachedFile, send: Send, *, head: bool) -> None:
    fd, size = await asyncio.to_thread(_open_for_read, cached.path)
    try:
        headers = _headers(cached.content_type, size)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        offset = 0
        while not head and offset < size:
            chunk = await asyncio.to_thread(os.pread, fd, min(_CHUNK, size - offset), offset)
            if not chunk:
                raise OSError(f"{cached.path} shrank while being sent")
            offset += len(chunk)
            more = offset < size
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
        if head:
            await send({"type": "http.response.body", "body": b""})
    finally:
        os.close(fd)


def _headers(content_type: str, length: int) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type.encode()), (b"content-length", str(length).encode())]


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app() -> ASGIApp:
    """App factory for ``uvicorn --factory`` and ``granian --factory``."""
    return _BenchApp(root_from_environ())

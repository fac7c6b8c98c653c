"""Apps that fail halfway through a zip, for the abort probe (``abort_probe.py``).

The proxy streams a zip while fetching it and must never let a client take a truncated zip
for a whole one: when the upstream fails or verification fails, the connection has to end
without the response's proper end (short of ``Content-Length``, or no last chunk). Each app
sends the response head and half of the body, then raises. ``/length`` declares the full
``Content-Length`` first; ``/chunked`` declares none (chunked transfer coding).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from benchmarks.http_stacks.asgi_app import ASGIApp, Receive, Scope, Send
from granian._granian import RSGIHTTPProtocol
from granian.rsgi import Scope as RSGIScope

FULL_SIZE = 200 * 1024
HALF = b"z" * (FULL_SIZE // 2)


class UpstreamFailed(RuntimeError):
    """Raised on purpose mid-response, standing in for a failed upstream fetch."""


def _fail() -> UpstreamFailed:
    return UpstreamFailed("deliberate failure halfway through the zip (abort probe)")


async def _aiohttp_handler(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/zip"})
    if request.path == "/length":
        response.content_length = FULL_SIZE
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(HALF)
    raise _fail()


def make_aiohttp_app(root: Path) -> web.Application:
    """aiohttp app (``root`` unused; the signature matches ``aiohttp_app.make_app``)."""
    del root
    app = web.Application()
    app.router.add_get("/{tail:.+}", _aiohttp_handler)
    return app


async def _asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-type", b"application/zip")]
    if scope["path"] == "/length":
        headers.append((b"content-length", str(FULL_SIZE).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": HALF, "more_body": True})
    raise _fail()


def create_asgi_app() -> ASGIApp:
    """ASGI factory for uvicorn and granian."""
    return _asgi_app


async def _rsgi_app(scope: RSGIScope, protocol: RSGIHTTPProtocol) -> None:
    headers = [("content-type", "application/zip")]
    if scope.path == "/length":
        headers.append(("content-length", str(FULL_SIZE)))
    transport = protocol.response_stream(200, headers)
    await transport.send_bytes(HALF)
    raise _fail()


def create_rsgi_app() -> object:
    """RSGI factory for granian."""
    return _rsgi_app

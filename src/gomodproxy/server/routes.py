"""The request handlers: GOPROXY files, the checksum-database relay, health, metrics and the
root page.

Every module request is parsed by :func:`~gomodproxy.protocol.requests.parse_request_path`
before anything else happens, so a malformed one touches neither storage nor an upstream.
GET and HEAD are served; other methods get 405. A request that already passed this proxy (its
``Via`` names us) gets 508. Responses carry ``Content-Type`` by kind and ``Cache-Control``:
``immutable`` for the files of canonical versions, short for list/@latest, ``no-store`` for
errors (see :mod:`gomodproxy.server.errors`). Zips have an ``ETag`` from their SHA-256 and
support single ``Range`` requests and ``If-None-Match``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from types import MappingProxyType

from aiohttp import web

from gomodproxy import __version__
from gomodproxy.cache.service import ModuleService, StoredZip, StreamingZip
from gomodproxy.errors import LoopDetected, ModuleNotFound, ProxyError
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import ModuleRequest, SumDBRequest, parse_request_path
from gomodproxy.server.accesslog import KIND_KEY, SENT_KEY
from gomodproxy.server.home import render_home
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.server.prebuilt import SmallHeaders
from gomodproxy.server.ranges import UNSATISFIABLE, etag_matches, parse_range
from gomodproxy.server.status import StatusInfo, render_status
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.storage.base import CorruptObject, ObjectReader
from gomodproxy.webtext import text_response

__all__ = ["ProxyRoutes"]

logger = logging.getLogger(__name__)
_RANGE_PIECE = 256 << 10
#: Stored zips up to this size that are not sent by ``sendfile`` go out as one response
#: (headers and body in one write) rather than streamed.
_WHOLE_ZIP = 256 << 10

_IMMUTABLE = "public, max-age=31536000, immutable"
_CONTENT_TYPES = {
    FileKind.LIST: "text/plain; charset=utf-8",
    FileKind.MOD: "text/plain; charset=utf-8",
    FileKind.INFO: "application/json",
    FileKind.LATEST: "application/json",
    FileKind.ZIP: "application/zip",
}


class ProxyRoutes:
    """The handlers, bound to one service (see the module docstring)."""

    def __init__(
        self,
        metrics: ProxyMetrics,
        *,
        service: ModuleService | None = None,
        relay: SumDBRelay | None = None,
        prefix: str = "",
        instance_id: str,
        list_max_age: int = 60,
        zip_verify_first: bool = False,
        zip_redirect: float = 0.0,
        may_redirect: Callable[[str], bool] = lambda path: False,
        ready: Callable[[], bool] = lambda: True,
        status: StatusInfo | None = None,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._relay = relay
        self._prefix = prefix
        self._via = f"gomodproxy-{instance_id}"
        # The forwarded headers of a request that came with no Via: the same every time.
        self._forward = MappingProxyType(
            {"Via": f"1.1 {self._via}", "User-Agent": f"gomodproxy/{__version__}"}
        )
        self._prebuilt = SmallHeaders()
        self._list_cache = f"public, max-age={list_max_age}"
        self._zip_verify_first = zip_verify_first
        self._zip_redirect = zip_redirect
        self._may_redirect = may_redirect
        self._ready = ready
        self._status = status

    def bind(self, service: ModuleService, relay: SumDBRelay | None) -> None:
        """Attach the service and relay opened at start-up."""
        self._service = service
        self._relay = relay

    @property
    def forward_headers(self) -> Mapping[str, str]:
        """The headers sent upstream for a request that came with no ``Via``."""
        return self._forward

    @property
    def service(self) -> ModuleService:
        """The bound service (503 before start-up finished)."""
        if self._service is None:
            raise _NotReady("the proxy is starting; retry shortly")
        return self._service

    def register(self, app: web.Application) -> None:
        """Add the routes to ``app``: health, metrics, then everything else."""
        app.router.add_get("/healthz", self.healthz, allow_head=True)
        app.router.add_get("/readyz", self.readyz, allow_head=True)
        app.router.add_get("/metrics", self.metrics, allow_head=True)
        if self._status is not None:
            app.router.add_get("/status", self.status, allow_head=True)
        for root in dict.fromkeys(("/", self._prefix or "/", self._prefix + "/")):
            app.router.add_get(root, self.home, allow_head=True)
        # [\s\S] rather than '.': a decoded %0A must reach the parser (and be refused there).
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.module)

    # -- operations endpoints ---------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        """Liveness: the process answers."""
        request[KIND_KEY] = "health"
        return _text("ok\n", "no-store")

    async def readyz(self, request: web.Request) -> web.Response:
        """Readiness: started, not shutting down, storage answering."""
        request[KIND_KEY] = "health"
        if not self._ready():
            return _text("not ready: starting or shutting down\n", "no-store", status=503)
        try:
            await self.service.storage.stat(".gomodproxy/readyz")
        except ProxyError as exc:
            return _text(f"not ready: storage: {exc}\n", "no-store", status=503)
        return _text("ready\n", "no-store")

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text exposition."""
        request[KIND_KEY] = "metrics"
        return web.Response(
            text=await self._read_metrics(self._metrics.render),
            content_type="text/plain",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def _read_metrics(self, render: Callable[[], str]) -> str:
        """``render()``; in a thread when it reads the workers' metric files."""
        if self._metrics.multiprocess:
            return await asyncio.to_thread(render)
        return render()

    async def status(self, request: web.Request) -> web.Response:
        """The status page (HTML)."""
        request[KIND_KEY] = "status"
        assert self._status is not None
        status = self._status
        return web.Response(
            text=await self._read_metrics(lambda: render_status(self._metrics, status)),
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def home(self, request: web.Request) -> web.Response:
        """The root page: what this server is, its GOPROXY URL, the status page (HTML)."""
        request[KIND_KEY] = "status"
        url = f"{request.scheme}://{request.host}{self._prefix}"
        return web.Response(
            text=render_home(url, status_path="/status" if self._status is not None else None),
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    # -- the GOPROXY protocol ---------------------------------------------------------------

    async def module(self, request: web.Request) -> web.StreamResponse:
        """Every other path: a module file, or the checksum-database relay."""
        if request.method not in ("GET", "HEAD"):
            request[KIND_KEY] = "other"
            return web.Response(
                status=405,
                text="method not allowed: this proxy serves GET and HEAD only\n",
                content_type="text/plain",
                headers={"Allow": "GET, HEAD", "Cache-Control": "no-store"},
            )
        target = parse_request_path(request.raw_path, prefix=self._prefix)
        forward = self._forward_headers(request)
        if isinstance(target, SumDBRequest):
            request[KIND_KEY] = "sumdb"
            return await self._sumdb(target, forward)
        request[KIND_KEY] = target.kind.value
        path, version = target.path, target.version
        s = self.service
        if target.kind is FileKind.ZIP:
            return await self._zip(request, target, forward)
        if target.kind is FileKind.LIST:
            return self._bytes(request, await s.list(path, headers=forward), target, False)
        if target.kind is FileKind.LATEST:
            return self._bytes(request, await s.latest(path, headers=forward), target, False)
        if target.kind is FileKind.INFO:
            data = await s.info(path, version, headers=forward)
            return self._bytes(request, data, target, target.immutable)
        mod = await s.mod_file(path, version, headers=forward)
        if not mod.kept:
            return self._bytes(request, mod.data, target, False, cache="no-store")
        return self._bytes(request, mod.data, target, target.immutable)

    def _forward_headers(self, request: web.Request) -> Mapping[str, str]:
        if "Via" not in request.headers:
            return self._forward
        incoming = [v.strip() for v in request.headers.getall("Via", []) if v.strip()]
        for hop in ", ".join(incoming).split(","):
            if hop.strip().split(" ")[-1] == self._via:
                raise LoopDetected(
                    f"request loop: {request.raw_path} already passed through this proxy "
                    f"({self._via}); an upstream points back here, fix the upstream setting"
                )
        return {
            "Via": ", ".join([*incoming, f"1.1 {self._via}"]),
            "User-Agent": f"gomodproxy/{__version__}",
        }

    def _bytes(
        self,
        request: web.Request,
        data: bytes,
        target: ModuleRequest,
        immutable: bool,
        *,
        cache: str = "",
    ) -> web.Response:
        cache = cache or (_IMMUTABLE if immutable else self._list_cache)
        built = self._prebuilt.get(
            request.raw_path, data, _CONTENT_TYPES[target.kind], cache_control=cache
        )
        if etag_matches(request.headers.get("If-None-Match"), built.etag):
            return web.Response(status=304, headers=built.not_modified)
        return web.Response(body=data, headers=built.ok)

    async def _sumdb(self, target: SumDBRequest, forward: Mapping[str, str]) -> web.Response:
        if self._relay is None:
            raise ModuleNotFound("no checksum database is proxied here (GOSUMDB is off)")
        answer = await self._relay.answer(target.rest, headers=forward)
        return web.Response(
            body=answer.body,
            headers={"Content-Type": answer.content_type, "Cache-Control": answer.cache_control},
        )

    # -- zips -------------------------------------------------------------------------------

    async def _zip(
        self, request: web.Request, target: ModuleRequest, forward: Mapping[str, str]
    ) -> web.StreamResponse:
        if (
            self._zip_redirect > 0
            and request.method == "GET"
            and "Authorization" not in request.headers
            and self._may_redirect(target.path)
        ):
            url = await self.service.zip_url(target.path, target.version, self._zip_redirect)
            if url is not None:
                # Stored means verified; the URL carries a signature: no-store, never logged.
                return web.Response(
                    status=302, headers={"Location": url, "Cache-Control": "no-store"}
                )
        ranged = any(h in request.headers for h in ("Range", "If-Range"))
        whole = (
            self._zip_verify_first
            or ranged
            or request.method == "HEAD"
            or "If-None-Match" in request.headers
        )
        async with self.service.open_zip(
            target.path, target.version, whole=whole, checked=ranged, headers=forward
        ) as source:
            if isinstance(source, StoredZip):
                return await self._send_stored(request, source.reader)
            return await self._send_streaming(request, source)

    async def _send_stored(self, request: web.Request, reader: ObjectReader) -> web.StreamResponse:
        """A stored zip (opened by the service; checked whole already when a range is asked)."""
        info = reader.info
        headers = {
            "Cache-Control": _IMMUTABLE,
            "ETag": info.etag,
            "Accept-Ranges": "bytes",
        }
        if etag_matches(request.headers.get("If-None-Match"), info.etag):
            return web.Response(status=304, headers=headers)
        span = parse_range(request.headers, info.size, info.etag)
        if span == UNSATISFIABLE:
            return web.Response(
                status=416,
                headers={"Content-Range": f"bytes */{info.size}", "Cache-Control": "no-store"},
            )
        if span is None and request.method == "GET" and info.size <= _WHOLE_ZIP:
            fd = reader.checked_fd()
            if fd is None:
                return await _small_stored(reader, headers)
        resp = web.StreamResponse(headers={**headers, "Content-Type": "application/zip"})
        if span is not None:
            start, end = span
            resp.set_status(206)
            resp.headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
            resp.content_length = end - start + 1
            await resp.prepare(request)
            if request.method != "HEAD":
                # In bounded pieces: memory must not grow with the range asked for.
                pos = start
                while pos <= end:
                    want = min(_RANGE_PIECE, end - pos + 1)
                    piece = await reader.read_range(pos, want)
                    if len(piece) != want:  # shrank after the check: stop, never pad
                        raise CorruptObject(info.key, "shorter than recorded")
                    await resp.write(piece)
                    pos += len(piece)
                request[SENT_KEY] = end - start + 1
            await resp.write_eof()
            return resp
        resp.content_length = info.size
        await resp.prepare(request)
        fd = reader.checked_fd()
        if request.method != "HEAD" and fd is not None:
            return await _send_file(request, resp, fd, info.size)
        if request.method != "HEAD":
            return await self._pump(request, resp, reader.chunks())
        await resp.write_eof()
        return resp

    async def _send_streaming(
        self, request: web.Request, source: StreamingZip
    ) -> web.StreamResponse:
        async with source.reader:
            chunks = source.reader.chunks()
            # Nothing is sent before the first safe chunk: a zip small enough to be held back
            # whole (an empty body too) is answered only after verification, so its failure
            # is a clear error answer rather than a complete-looking 200.
            first = await anext(chunks, b"")
            flight = source.reader.flight
            # Long-lived caching only for verified bytes: a stream that may still be cut must
            # not be kept by a cache in front of us.
            cache = _IMMUTABLE if flight.done and not flight.failed else "no-store"
            resp = web.StreamResponse(
                headers={"Content-Type": "application/zip", "Cache-Control": cache}
            )
            if source.content_length is not None:
                resp.content_length = source.content_length
            await resp.prepare(request)
            return await self._pump(request, resp, _prepend(first, chunks))

    async def _pump(
        self, request: web.Request, resp: web.StreamResponse, chunks: AsyncIterator[bytes]
    ) -> web.StreamResponse:
        """Copy chunks to the client; on a failure, cut the connection (no clean end)."""
        request[SENT_KEY] = 0
        try:
            async for chunk in chunks:
                await resp.write(chunk)
                request[SENT_KEY] += len(chunk)
        except (ProxyError, OSError) as exc:
            if isinstance(exc, ConnectionError):
                raise  # the client went away
            logger.error("zip.aborted path=%s reason=%s", request.raw_path, exc)
            transport = request.transport
            if transport is not None:
                transport.abort()
            return resp
        await resp.write_eof()
        return resp


async def _small_stored(reader: ObjectReader, headers: Mapping[str, str]) -> web.Response:
    """A small stored zip as one answer: headers and body leave in one write. Its bytes are
    gathered (and, if the backend checks them as they are read, checked) before anything is
    sent, so a failure is a clear error answer, never a short 200."""
    info = reader.info
    body = b"".join([chunk async for chunk in reader.chunks()])
    if len(body) != info.size:
        raise CorruptObject(info.key, f"{len(body)} bytes where {info.size} were recorded")
    return web.Response(body=body, headers={**headers, "Content-Type": "application/zip"})


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def _send_file(
    request: web.Request, resp: web.StreamResponse, fd: int, size: int
) -> web.StreamResponse:
    """Send a checked stored file with ``loop.sendfile`` (zero-copy on plain TCP; asyncio
    falls back to reads and writes on TLS)."""
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    loop = asyncio.get_running_loop()
    with os.fdopen(os.dup(fd), "rb") as f:
        await loop.sendfile(transport, f, 0, size)
    request[SENT_KEY] = size
    await resp.write_eof()
    return resp


class _NotReady(ProxyError):
    """Asked before start-up finished."""

    status_hint = 503


def _text(body: str, cache: str, *, status: int = 200) -> web.Response:
    return text_response(body, status=status, cache_control=cache)

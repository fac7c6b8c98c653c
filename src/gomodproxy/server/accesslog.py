"""One access-log line per request (written by :mod:`gomodproxy.server.accessline`).

The middleware also feeds the request metrics (count by kind and status, latency, bytes,
in-flight). Log lines never carry credentials: request paths have none, and upstream URLs are
logged masked.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gomodproxy.server.accessline import AccessLine, JSONFormatter
from gomodproxy.server.metrics import ProxyMetrics

__all__ = ["KIND_KEY", "SENT_KEY", "JSONFormatter", "access_log_middleware", "request_kind"]

#: The request kind (list, info, mod, zip, latest, sumdb, health, metrics, other), set by routes.
KIND_KEY = web.RequestKey("kind", str)
#: Body bytes a streaming handler sent (handlers that stream count them here).
SENT_KEY = web.RequestKey("sent", int)


def request_kind(request: web.Request) -> str:
    """The kind a handler recorded for ``request`` (``other`` if none)."""
    return str(request.get(KIND_KEY, "other"))


def access_log_middleware(metrics: ProxyMetrics) -> Middleware:
    """A middleware logging one line per request and counting it in ``metrics``."""

    line = AccessLine()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        metrics.in_flight_requests.inc()
        status = 0
        size = 0
        try:
            response = await handler(request)
            status = response.status
            if isinstance(response, web.Response) and isinstance(response.body, bytes):
                size = 0 if request.method == "HEAD" else len(response.body)
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except BaseException:
            status = 499  # the client went away (or the task was cancelled)
            raise
        finally:
            size = request.get(SENT_KEY, size)
            seconds = time.monotonic() - started
            kind = request_kind(request)
            metrics.in_flight_requests.dec()
            metrics.requests.inc(kind, str(status))
            metrics.request_seconds.observe(seconds, kind)
            metrics.bytes_served.inc(kind, amount=size)
            line.emit(
                request.remote or "-", request.method, request.raw_path, status, size, seconds, kind
            )

    return middleware

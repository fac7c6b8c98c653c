"""One access-log line per request, and the JSON log formatter of ``--log-json``.

The middleware also feeds the request metrics (count by kind and status, latency, bytes,
in-flight). Log lines never carry credentials: request paths have none, and upstream URLs are
logged masked.
"""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gomodproxy.server.metrics import ProxyMetrics

__all__ = ["KIND_KEY", "SENT_KEY", "JSONFormatter", "access_log_middleware", "request_kind"]

logger = logging.getLogger("gomodproxy.access")

#: The request kind (list, info, mod, zip, latest, sumdb, health, metrics, other), set by routes.
KIND_KEY = web.RequestKey("kind", str)
#: Body bytes a streaming handler sent (handlers that stream count them here).
SENT_KEY = web.RequestKey("sent", int)


def request_kind(request: web.Request) -> str:
    """The kind a handler recorded for ``request`` (``other`` if none)."""
    return str(request.get(KIND_KEY, "other"))


def access_log_middleware(metrics: ProxyMetrics) -> Middleware:
    """A middleware logging one line per request and counting it in ``metrics``."""

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
            logger.info(
                "%s %s %s %d %d %.3f",
                request.remote or "-",
                request.method,
                request.raw_path,
                status,
                size,
                seconds,
                extra={
                    "remote": request.remote or "-",
                    "method": request.method,
                    "path": request.raw_path,
                    "status": status,
                    "bytes": size,
                    "seconds": round(seconds, 6),
                    "kind": kind,
                },
            )

    return middleware


class JSONFormatter(logging.Formatter):
    """Log records as one JSON object per line (``--log-json``)."""

    _FIELDS = ("remote", "method", "path", "status", "bytes", "seconds", "kind")

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with its time, level, logger, message and access-log fields."""
        doc: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self._FIELDS:
            if hasattr(record, name):
                doc[name] = getattr(record, name)
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)

"""The one error middleware: every ``ProxyError`` becomes a short ``text/plain`` answer.

404/410 read ``not found: <reason>`` on one line (the GOPROXY fall-through codes, which the go
command prints after "server response:"); 502/503/504 name the upstream failure and are marked
``no-store``; anything unexpected is logged with its traceback and answered 500. Not-found
answers carry a short ``Cache-Control``; every other error ``no-store``.
"""

from __future__ import annotations

import asyncio
import logging
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from gomodproxy.errors import ProxyError, StorageError
from gomodproxy.upstream.base import UpstreamThrottled
from gomodproxy.webtext import text_response

__all__ = ["error_middleware", "error_response", "not_found_max_age"]

logger = logging.getLogger(__name__)

_MAX_AGE_KEY = web.AppKey("not_found_max_age", int)


def not_found_max_age(app: web.Application, seconds: float) -> None:
    """Set the ``max-age`` of not-found answers (the negative-cache TTL)."""
    app[_MAX_AGE_KEY] = max(0, int(seconds))


def error_response(exc: ProxyError, *, max_age: int = 60) -> web.Response:
    """The response for ``exc``: its ``status_hint`` and a text/plain reason."""
    status = exc.status_hint
    if status in (404, 410):
        reason = " ".join(str(exc).split())  # one line
        body = reason if reason.startswith("not found") else f"not found: {reason}"
        cache = f"public, max-age={max_age}"
    else:
        body = str(exc)
        cache = "no-store"
    headers = {}
    if isinstance(exc, UpstreamThrottled) and exc.retry_after > 0:
        headers["Retry-After"] = str(math.ceil(exc.retry_after))
    return text_response(body + "\n", status=status, cache_control=cache, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ``ProxyError`` into its answer; anything else unexpected into a logged 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except ProxyError as exc:
        if exc.status_hint >= 500:
            # The cache folder failing (disk full, permissions) needs someone to act: ERROR.
            level = logging.ERROR if isinstance(exc, StorageError) else logging.WARNING
            logger.log(
                level,
                "request.failed path=%s status=%d error=%s",
                request.path,
                exc.status_hint,
                exc,
            )
        return error_response(exc, max_age=request.app.get(_MAX_AGE_KEY, 60))
    except Exception:
        logger.exception("request.crashed method=%s path=%s", request.method, request.path)
        return text_response(
            "internal error: see the proxy's log\n", status=500, cache_control="no-store"
        )

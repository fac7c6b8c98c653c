"""Plain-text HTTP answers, the one helper both servers (the proxy and the checksum database)
build their text answers and errors with."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

__all__ = ["TEXT_PLAIN", "text_response"]

TEXT_PLAIN = "text/plain; charset=utf-8"


def text_response(
    body: str | bytes,
    *,
    status: int = 200,
    cache_control: str | None = None,
    content_type: str = TEXT_PLAIN,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A ``text/plain`` answer (UTF-8) with an optional ``Cache-Control``."""
    data = body.encode() if isinstance(body, str) else body
    out = {"Content-Type": content_type, **(headers or {})}
    if cache_control is not None:
        out["Cache-Control"] = cache_control
    return web.Response(body=data, status=status, headers=out)

"""One timed request to a mirror: outcome, time to first byte, total time and body.

The body is read through the upstream transport (``transport_for``), so HTTP and ``file://``
mirrors are read as the proxy reads them. A 200 answer that is an HTML page (a captive portal, a
login page, a web front end) is an error, never content to audit: the mirror declared it
``text/html`` or ``application/xhtml+xml``, or its body starts with ``<`` (no GOPROXY answer
does; a page served as ``application/octet-stream`` is still caught).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gomodproxy.errors import ModuleNotFound, ProxyError, UpstreamTimeout
from gomodproxy.probe.samples import Kind, Outcome
from gomodproxy.protocol.answers import clean_version_list, info_version, validate_info
from gomodproxy.protocol.files import file_key, latest_path, list_key
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import BodyTooLarge, Fetcher

__all__ = ["HTML_TYPES", "Answer", "fetch_timed", "looks_like_html", "request_path"]

#: Media types of web pages: a mirror declaring one for a GOPROXY file answered a page.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_FILE_KINDS = {
    Kind.LIST: FileKind.LIST,
    Kind.LATEST: FileKind.LATEST,
    Kind.INFO: FileKind.INFO,
    Kind.MOD: FileKind.MOD,
    Kind.ZIP: FileKind.ZIP,
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: ``data`` only for ``ok``; ``detail`` says why not."""

    outcome: Outcome
    ttfb: float | None
    total: float
    data: bytes = b""
    detail: str = ""


def request_path(kind: Kind, path: str, version: str) -> str:
    """The relative GOPROXY path of a request."""
    if kind is Kind.LIST:
        return list_key(path)
    if kind is Kind.LATEST:
        return latest_path(path)
    return file_key(path, version, kind.value)


def looks_like_html(data: bytes, content_type: str | None = None) -> bool:
    """A page declared as HTML (``content_type``, the media type without parameters), or a
    body starting (after white space) with ``<``: no GOPROXY answer does."""
    if content_type is not None and content_type.lower() in HTML_TYPES:
        return True
    return data.lstrip()[:1] == b"<"


def _check_answer(kind: Kind, path: str, version: str, data: bytes, upstream: str) -> None:
    """Raise for an .info, @latest or list answer that breaks the protocol."""
    if kind is Kind.INFO:
        validate_info(data, path, version, upstream=upstream)
    elif kind is Kind.LATEST:
        info_version(data, path, what="@latest", upstream=upstream)
    elif kind is Kind.LIST:
        data.decode("utf-8")
        clean_version_list(data, path)


async def fetch_timed(transport: Fetcher, kind: Kind, path: str, version: str) -> Answer:
    """Send one request and read the whole answer; never raises for a mirror's failure."""
    file_kind = _FILE_KINDS[kind]
    started = time.perf_counter()
    ttfb: float | None = None
    body = bytearray()
    content_type: str | None = None
    try:
        async with transport.open(request_path(kind, path, version), file_kind) as opened:
            content_type = opened.content_type
            async for chunk in opened.chunks():
                if ttfb is None:
                    ttfb = time.perf_counter() - started
                body += chunk
                if len(body) > file_kind.max_size:
                    raise BodyTooLarge(file_kind, upstream=transport.name)
    except ModuleNotFound as exc:
        return Answer(Outcome.NOT_FOUND, ttfb, time.perf_counter() - started, detail=str(exc))
    except UpstreamTimeout as exc:
        return Answer(Outcome.TIMEOUT, ttfb, time.perf_counter() - started, detail=str(exc))
    except ProxyError as exc:
        return Answer(Outcome.ERROR, ttfb, time.perf_counter() - started, detail=str(exc))
    total = time.perf_counter() - started
    data = bytes(body)
    if looks_like_html(data, content_type):
        shown = f" ({content_type})" if content_type else ""
        return Answer(Outcome.HTML, ttfb, total, detail=f"an HTML page{shown} answered with 200")
    try:
        _check_answer(kind, path, version, data, transport.name)
    except (ProxyError, UnicodeDecodeError) as exc:
        return Answer(Outcome.INVALID, ttfb, total, detail=str(exc))
    return Answer(Outcome.OK, total if ttfb is None else ttfb, total, data)

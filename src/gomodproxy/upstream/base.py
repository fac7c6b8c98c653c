"""What an upstream is: the seams, and the errors of an upstream answer.

A :class:`Fetcher` reads one relative path (``<escaped module>/@v/<escaped version>.zip``) from
one upstream; a :class:`UpstreamBody` yields the decoded bytes with the size cap of its kind and
the ``Content-Length`` enforced. Errors are classified the way the go command classifies them
(``cmd/go/internal/web/api.go``): 404 and 410 are :class:`~gomodproxy.errors.ModuleNotFound`
("not here, may be elsewhere"), timeouts :class:`~gomodproxy.errors.UpstreamTimeout`, anything
else :class:`~gomodproxy.errors.UpstreamError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from gomodproxy.errors import UpstreamError
from gomodproxy.protocol.kinds import FileKind

__all__ = [
    "BodyTooLarge",
    "Fetcher",
    "UpstreamBody",
    "UpstreamLoop",
    "UpstreamThrottled",
    "read_body",
]


class BodyTooLarge(UpstreamError):
    """An upstream body passed the size cap of its kind (checked after decoding)."""

    def __init__(self, kind: FileKind, *, upstream: str = "") -> None:
        super().__init__(f"{upstream}: {kind.too_large_message}", upstream=upstream)
        self.kind = kind


class UpstreamLoop(UpstreamError):
    """An upstream answered 508 Loop Detected: the request came back around; answered as 508.

    Not retried: a loop is a configuration fault that another try cannot mend.
    """

    status_hint = 508


class UpstreamThrottled(UpstreamError):
    """The upstream kept answering 429 Too Many Requests: answered as 503."""

    status_hint = 503

    def __init__(self, message: str, *, upstream: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message, upstream=upstream, status=429)
        self.retry_after = retry_after


class UpstreamBody(Protocol):
    """A response body being received from an upstream."""

    @property
    def content_length(self) -> int | None:
        """The decoded length when known in advance (no content coding), else None."""
        ...

    @property
    def content_type(self) -> str | None:
        """The media type the upstream declared (``text/html``, lowercase, without
        parameters), or None when it declared none (a ``file://`` upstream declares none)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """Yield the decoded body; raise UpstreamError/UpstreamTimeout if it is cut or too big."""
        ...


class Fetcher(Protocol):
    """One upstream: reads a path relative to its base."""

    @property
    def name(self) -> str:
        """The upstream for logs and error messages (credentials masked)."""
        ...

    def open(
        self, rel_path: str, kind: FileKind, *, headers: Mapping[str, str] | None = None
    ) -> AbstractAsyncContextManager[UpstreamBody]:
        """Request ``rel_path``; entering raises the not-found/error/timeout classification."""
        ...


async def read_body(body: UpstreamBody, kind: FileKind, *, upstream: str = "") -> bytes:
    """Read a whole body (for the small kinds), enforcing the size cap of ``kind``."""
    out = bytearray()
    async for chunk in body.chunks():
        out += chunk
        if len(out) > kind.max_size:
            raise BodyTooLarge(kind, upstream=upstream)
    return bytes(out)

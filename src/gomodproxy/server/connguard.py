"""The header-read timeout of a client connection, and its place under the connection caps.

aiohttp closes idle keep-alive connections (``keepalive_timeout``) but has no deadline for
*reading the request headers*: a slow-loris client that sends one header byte every few
seconds keeps its connection, and its file descriptor, for as long as it likes (catalogue H77).
:class:`GuardedConnection` wraps aiohttp's protocol (it forwards every protocol call) and
disconnects a client that has not completed its request headers ``header_timeout`` seconds
after connecting, or after it started sending the next request on a keep-alive connection.
:func:`request_phase_middleware` tells the guard when a request's headers are complete (the
request reached the application) and when it is answered. A response in progress is never cut
by this timer, however slowly the client reads it.

With a :class:`~gomodproxy.server.hitlane.HitLane`, each chunk is offered to the lane first
while aiohttp is idle on the connection; what the lane does not answer goes to aiohttp.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from gomodproxy.logthrottle import LogThrottle
from gomodproxy.server.connlimits import ConnectionSlot
from gomodproxy.server.hitlane import ANSWERED, CANDIDATE, DIRTY, HitLane

__all__ = ["GuardedConnection", "request_phase_middleware"]

logger = logging.getLogger(__name__)

#: Turns of the event loop a request the lane could answer waits for aiohttp to finish the
#: previous answer on its connection (it usually needs one or two) before aiohttp gets it.
_HOLD_TURNS = 8


class GuardedConnection(asyncio.Protocol):
    """aiohttp's request handler ``inner`` with a header-read deadline; gives ``slot`` back
    when the connection is lost."""

    def __init__(
        self,
        inner: asyncio.Protocol,
        slot: ConnectionSlot,
        *,
        header_timeout: float,
        throttle: LogThrottle,
        lane: HitLane | None = None,
    ) -> None:
        self._inner = inner
        # The lane needs to see that aiohttp is idle: its handler waits for a request, nothing
        # is queued, and it keeps no partial request (every chunk it got ended at a boundary).
        self._lane = lane if lane is not None and _observable(inner) else None
        self._slot = slot
        self._header_timeout = header_timeout
        self._throttle = throttle
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._in_request = False
        # The transport's buffer is over its high-water mark: the client does not read its
        # answers. The lane then leaves requests to aiohttp, which waits for the buffer to drain.
        self._writing_paused = False
        # A request the lane could answer, held while aiohttp finishes the previous answer.
        self._held: bytes | None = None
        self._retry: asyncio.Handle | None = None

    # -- asyncio.Protocol, forwarded to aiohttp ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the header deadline, then let aiohttp take the connection."""
        self._transport = transport
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Offered to the hit lane first when aiohttp is idle; otherwise the first bytes of a
        request start the header deadline (if not already running) and aiohttp gets them."""
        lane = self._lane
        if lane is not None:
            if self._held is not None:
                # More bytes behind a held request: both go to aiohttp, in their order.
                data = self._take_held() + data
            elif self._lane_ready():
                outcome = lane.offer(data, self._transport_of(), self._slot.client)
                if outcome == ANSWERED:
                    self._answered()
                    return
            elif not self._in_request and lane.classify(data) == CANDIDATE:
                # aiohttp is finishing the previous answer (its handler has not come back to
                # wait for a request yet): hold this one a few turns of the loop.
                self._held = data
                self._retry_held(_HOLD_TURNS)
                return
            if lane.classify(data) == DIRTY:
                self._lane = None  # aiohttp's parser may hold part of a request from now on
        self._forward(data)

    def _forward(self, data: bytes) -> None:
        if not self._in_request and self._timer is None:
            self._arm()
        self._inner.data_received(data)

    def _lane_ready(self) -> bool:
        return (
            not self._in_request
            and not self._writing_paused
            and self._transport is not None
            and self._inner_idle()
        )

    def _transport_of(self) -> asyncio.BaseTransport:
        assert self._transport is not None
        return self._transport

    def _answered(self) -> None:
        self._disarm()
        self._keep_alive()

    def _take_held(self) -> bytes:
        held, self._held = self._held or b"", None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        return held

    def _retry_held(self, turns: int) -> None:
        """Offer the held request to the lane once aiohttp is idle, or give it to aiohttp
        after ``turns`` more turns of the event loop (or once aiohttp is in a request)."""
        self._retry = None
        data = self._held
        lane = self._lane
        if data is None or lane is None:
            return
        if self._lane_ready():
            self._held = None
            if lane.offer(data, self._transport_of(), self._slot.client) == ANSWERED:
                self._answered()
                return
            self._forward(data)
            return
        if turns > 0 and not self._in_request and self._transport is not None:
            self._retry = asyncio.get_running_loop().call_soon(self._retry_held, turns - 1)
            return
        self._forward(self._take_held())

    def eof_received(self) -> bool | None:
        """Forwarded (after a held request, if any)."""
        if self._held is not None:
            self._forward(self._take_held())
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the deadline and give the connection's place back."""
        self._take_held()
        self._disarm()
        self._slot.release()
        self._transport = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        """Forwarded (flow control of responses); the lane stops answering meanwhile."""
        self._writing_paused = True
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        """Forwarded (flow control of responses)."""
        self._writing_paused = False
        self._inner.resume_writing()

    # -- aiohttp's state, for the hit lane ------------------------------------------------------

    def _inner_idle(self) -> bool:
        inner = self._inner
        waiter: asyncio.Future[None] | None = getattr(inner, "_waiter")  # noqa: B009
        return waiter is not None and not waiter.done() and not getattr(inner, "_messages")  # noqa: B009

    def _keep_alive(self) -> None:
        """Move aiohttp's keep-alive deadline as a request it answered itself would."""
        inner = self._inner
        timeout: float = getattr(inner, "_keepalive_timeout")  # noqa: B009
        loop = asyncio.get_running_loop()
        setattr(inner, "_next_keepalive_close_time", loop.time() + timeout)  # noqa: B010

    # -- request phases, from request_phase_middleware -----------------------------------------

    def request_started(self) -> None:
        """A request's headers are complete: no header deadline while it is handled."""
        self._in_request = True
        self._disarm()

    def request_finished(self) -> None:
        """The request was answered; an idle connection is aiohttp's keep-alive business."""
        self._in_request = False

    # -- the deadline ---------------------------------------------------------------------------

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        transport = self._transport
        if self._in_request or transport is None or transport.is_closing():
            return
        self._throttle.log(
            logging.INFO,
            "header_timeout",
            "conn.header_timeout client=%s seconds=%g",
            self._slot.client,
            self._header_timeout,
        )
        transport.close()


def _observable(inner: asyncio.Protocol) -> bool:
    """Whether ``inner`` has the state :class:`GuardedConnection` reads to use the hit lane
    (aiohttp's ``RequestHandler``; another version may not: then no lane, nothing else
    changes)."""
    return all(
        hasattr(inner, name)
        for name in ("_waiter", "_messages", "_keepalive_timeout", "_next_keepalive_close_time")
    )


@web.middleware
async def request_phase_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Mark the request's connection busy while the request is handled (see the module
    docstring); a no-op for connections not opened by our listener (tests' servers)."""
    transport = request.transport
    connection = transport.get_protocol() if transport is not None else None
    if not isinstance(connection, GuardedConnection):
        return await handler(request)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_finished()

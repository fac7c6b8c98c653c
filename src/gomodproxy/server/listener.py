"""The proxy's accept loop: connection caps, header deadline, and no spin when out of descriptors.

Used instead of aiohttp's ``TCPSite`` (which hands the socket to ``loop.create_server``) for two
reasons (catalogue H77):

* Caps. A new connection over the total or the per-client cap (:mod:`.connlimits`) is answered
  at once, before any protocol object exists: a plain-HTTP listener writes a short 503 with
  ``Connection: close``, a TLS one just closes.
* Out of descriptors. When ``accept()`` fails with EMFILE, CPython 3.11's accept loop logs a
  traceback and schedules a retry, then tries again up to the backlog (128) times in the same
  turn, each time logging and scheduling another retry: 650,000 tracebacks (290 MB) in 80
  seconds. Here the listener stops reading the socket for :attr:`Listener.pause` seconds and
  logs one line per interval (:class:`~gomodproxy.logthrottle.LogThrottle`); the kernel keeps
  the waiting connections in the backlog meanwhile.

Admitted connections go to aiohttp's server through :class:`.connguard.GuardedConnection`
(header-read deadline, place given back when closed); the TLS handshake gets the header
deadline too. Small immutable hits may be answered by the hit lane before aiohttp
(:mod:`.hitlane`). Closing the listener only stops accepting: established connections are
aiohttp's to finish (``AppRunner.cleanup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable

from gomodproxy.logthrottle import LogThrottle
from gomodproxy.server.connguard import GuardedConnection
from gomodproxy.server.connlimits import ConnectionCaps, ConnectionGate, ConnectionSlot
from gomodproxy.server.hitlane import HitLane

__all__ = ["Listener"]

logger = logging.getLogger(__name__)

#: At most this many accept() calls per wake-up, so a flood cannot starve the event loop.
_ACCEPT_BATCH = 128
_BUSY_BODY = b"too many connections\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n"
    b"Cache-Control: no-store\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n\r\n" + _BUSY_BODY
)


class Listener:
    """Accepts connections for ``handler_factory`` (aiohttp's ``runner.server``) under
    ``caps``."""

    def __init__(
        self,
        handler_factory: Callable[[], asyncio.Protocol],
        caps: ConnectionCaps,
        *,
        ssl_context: ssl.SSLContext | None = None,
        pause: float = 0.5,
        log_interval: float = 10.0,
        lane: HitLane | None = None,
    ) -> None:
        self._handler_factory = handler_factory
        self._lane = lane
        self._caps = caps
        self._ssl = ssl_context
        self.pause = pause
        self.gate = ConnectionGate(caps.total, caps.per_client)
        self._throttle = LogThrottle(logger, log_interval)
        self._sockets: list[socket.socket] = []
        self._resume: dict[int, asyncio.TimerHandle] = {}
        self._handshakes: set[asyncio.Task[None]] = set()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""
        return tuple(self._sockets)

    async def start(
        self, host: str, port: int, *, reuse_port: bool = False, backlog: int = 128
    ) -> None:
        """Bind ``host:port`` (every address the name resolves to) and start accepting;
        raise OSError when it cannot be bound."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                try:
                    sock = socket.socket(family, kind, proto)
                except OSError:
                    continue  # a family this host does not support (as loop.create_server)
                self._sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog)
                sock.setblocking(False)
        except OSError:
            self.close()
            raise
        if not self._sockets:
            raise OSError(errno.EADDRNOTAVAIL, f"no address to listen on for {host}")
        for sock in self._sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (open connections stay)."""
        loop = asyncio.get_running_loop()
        for handle in self._resume.values():
            handle.cancel()
        self._resume.clear()
        for sock in self._sockets:
            if sock.fileno() >= 0:
                loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
        for task in self._handshakes:
            task.cancel()

    # -- accepting ------------------------------------------------------------------------------

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while waiting in the backlog
            except OSError as exc:
                # EMFILE/ENFILE/ENOBUFS/ENOMEM, or anything unexpected: the socket stays
                # readable, so keep trying would spin. Wait, then try again.
                self._pause_accepting(sock, exc)
                return
            self._admit(conn, address)

    def _pause_accepting(self, sock: socket.socket, exc: OSError) -> None:
        loop = asyncio.get_running_loop()
        fd = sock.fileno()
        loop.remove_reader(fd)
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        self._throttle.log(
            logging.WARNING,
            "accept_" + code,
            "listener.accept_paused errno=%s open=%d seconds=%g",
            code,
            self.gate.open,
            self.pause,
        )
        self._resume[fd] = loop.call_later(self.pause, self._resume_accepting, sock)

    def _resume_accepting(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        self._resume.pop(fd, None)
        if fd >= 0:
            asyncio.get_running_loop().add_reader(fd, self._accept, sock)

    def _admit(self, conn: socket.socket, address: object) -> None:
        client = str(address[0]) if isinstance(address, tuple) and address else "-"
        slot = self.gate.acquire(client)
        if slot is None:
            self._refuse(conn, client)
            return
        task = asyncio.get_running_loop().create_task(self._connect(conn, slot))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    def _refuse(self, conn: socket.socket, client: str) -> None:
        scope = self.gate.over_cap(client) or "total"
        limit = self.gate.total if scope == "total" else self.gate.per_client
        self._throttle.log(
            logging.WARNING,
            "over_cap_" + scope,
            "listener.over_capacity cap=%s limit=%d client=%s open=%d",
            scope,
            limit,
            client,
            self.gate.open,
        )
        with contextlib.suppress(OSError):
            if self._ssl is None:
                conn.setblocking(False)
                conn.send(_BUSY)  # fits an empty socket buffer: never blocks
        conn.close()

    async def _connect(self, conn: socket.socket, slot: ConnectionSlot) -> None:
        loop = asyncio.get_running_loop()
        caps = self._caps

        def protocol() -> asyncio.Protocol:
            return GuardedConnection(
                self._handler_factory(),
                slot,
                header_timeout=caps.header_timeout,
                throttle=self._throttle,
                lane=self._lane,
            )

        try:
            if self._ssl is None:
                await loop.connect_accepted_socket(protocol, conn)
            else:
                await loop.connect_accepted_socket(
                    protocol, conn, ssl=self._ssl, ssl_handshake_timeout=caps.header_timeout
                )
        except OSError as exc:  # TLS handshake failed or timed out, client reset
            logger.debug("listener.handshake_failed client=%s error=%r", slot.client, exc)
            slot.release()
            conn.close()
        except BaseException:
            slot.release()
            conn.close()
            raise

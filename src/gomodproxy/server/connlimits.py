"""Caps on open client connections, in total and per client address (catalogue H77).

Every open connection costs a file descriptor, and a process has few of them (the usual soft
limit, ``ulimit -n``, is 1024). Without a cap, idle or slow-loris connections take them all:
``accept()`` then fails with EMFILE, cache files cannot be opened, and every client is locked
out. :func:`connection_cap` derives the total cap from the open-file limit: each connection may
hold two descriptors (its socket, and a cache file while a zip is streamed), and
:data:`FD_RESERVE` descriptors stay for everything else (the upstream connection pool of 100
sockets, spool files, the listening sockets, logs). :class:`ConnectionGate` counts the open
connections and refuses one over either cap. Pure: no sockets, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FD_RESERVE",
    "ConnectionCaps",
    "ConnectionGate",
    "ConnectionSlot",
    "connection_cap",
]

#: Descriptors kept for the upstream pool, spool and cache files, listening sockets and logs.
FD_RESERVE = 128
#: The automatic cap never goes below this (a tiny ``ulimit -n`` still serves someone).
_MIN_AUTO = 16
#: The automatic cap when the open-file limit is unlimited.
_UNLIMITED_AUTO = 16384


def connection_cap(setting: int, nofile: int | None) -> int:
    """The total cap: ``setting`` when above 0, else derived from the open-file soft limit
    ``nofile`` (None: unlimited) as ``(nofile - FD_RESERVE) // 2``, at least 16."""
    if setting > 0:
        return setting
    if nofile is None:
        return _UNLIMITED_AUTO
    return max(_MIN_AUTO, (nofile - FD_RESERVE) // 2)


@dataclass(frozen=True, slots=True)
class ConnectionCaps:
    """The caps and timeouts a listener applies to its client connections."""

    total: int
    per_client: int
    header_timeout: float


class ConnectionSlot:
    """One admitted connection; :meth:`release` (idempotent) gives its place back."""

    __slots__ = ("_gate", "client")

    def __init__(self, gate: ConnectionGate, client: str) -> None:
        self._gate: ConnectionGate | None = gate
        self.client = client

    def release(self) -> None:
        """Count the connection as closed (only the first call counts)."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._release(self.client)


class ConnectionGate:
    """Counts open connections in total and per client address; refuses those over a cap."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self._open = 0
        self._by_client: dict[str, int] = {}

    @property
    def open(self) -> int:
        """Connections open now."""
        return self._open

    def open_from(self, client: str) -> int:
        """Connections open now from ``client``."""
        return self._by_client.get(client, 0)

    def over_cap(self, client: str) -> str | None:
        """``"total"`` or ``"client"`` when a new connection from ``client`` is over that
        cap, else None."""
        if self._open >= self.total:
            return "total"
        if self._by_client.get(client, 0) >= self.per_client:
            return "client"
        return None

    def acquire(self, client: str) -> ConnectionSlot | None:
        """A slot for a new connection from ``client``, or None when it is over a cap."""
        if self.over_cap(client) is not None:
            return None
        self._open += 1
        self._by_client[client] = self._by_client.get(client, 0) + 1
        return ConnectionSlot(self, client)

    def _release(self, client: str) -> None:
        self._open -= 1
        left = self._by_client[client] - 1
        if left:
            self._by_client[client] = left
        else:
            del self._by_client[client]  # the table holds only clients with open connections

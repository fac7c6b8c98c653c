"""What the cache service reports as it works (the server's metrics implement this seam)."""

from __future__ import annotations

from typing import Protocol

from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.chain import UpstreamObserver

__all__ = ["CacheObserver", "NullObserver"]


class CacheObserver(UpstreamObserver, Protocol):
    """Told about cache hits, shared fetches and checksum verifications."""

    def cache_result(self, kind: FileKind, hit: bool) -> None:
        """A request for ``kind`` was answered from the cache (hit) or needed a fetch."""
        ...

    def fetch_started(self, kind: FileKind, deduplicated: bool) -> None:
        """A fetch began, or a request joined one already in flight (``deduplicated``)."""
        ...

    def fetch_finished(self, kind: FileKind) -> None:
        """A fetch that began ended (either way)."""
        ...

    def verification(self, kind: FileKind, outcome: str) -> None:
        """A checksum verification ended: ``ok``, ``mismatch``, ``error`` or ``skipped``."""
        ...


class NullObserver:
    """Observes nothing (tests and tools without metrics)."""

    def upstream_result(self, upstream: str, kind: FileKind, outcome: str, seconds: float) -> None:
        """Ignored."""

    def cache_result(self, kind: FileKind, hit: bool) -> None:
        """Ignored."""

    def fetch_started(self, kind: FileKind, deduplicated: bool) -> None:
        """Ignored."""

    def fetch_finished(self, kind: FileKind) -> None:
        """Ignored."""

    def verification(self, kind: FileKind, outcome: str) -> None:
        """Ignored."""

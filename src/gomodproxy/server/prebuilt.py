"""Response headers of small files (``.info``, ``.mod``, list, ``@latest``), built once per body.

A cache hit on a ``.info`` or ``.mod`` used to hash the body for its ``ETag`` and build the
header set on every request. :class:`SmallHeaders` keeps, per request target, the body it was
built for, its ``ETag`` and the ready header sets of the 200 and 304 answers. An entry is used
only for the *same bytes object* the service has just handed out (an identity check, not a
comparison): the service is still asked on every request, so its deny list (``cache rm``), its
hit metrics, its access records for size-bounded eviction and its in-memory cache decide what
is served; this only skips recomputing what follows from those bytes. A changed body (a
refetch, a different ``@latest``) gets a new entry. Bounded in entries and in the bytes the
entries keep alive.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Prebuilt", "SmallHeaders"]


@dataclass(frozen=True, slots=True)
class Prebuilt:
    """What follows from one body: its ``ETag`` and the headers of the 200 and 304 answers."""

    body: bytes
    etag: str
    ok: Mapping[str, str]
    not_modified: Mapping[str, str]


class SmallHeaders:
    """An LRU of :class:`Prebuilt` by target (see the module docstring)."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = 16 << 20) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], Prebuilt] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, target: str, body: bytes, content_type: str, *, cache_control: str) -> Prebuilt:
        """The prebuilt answer of ``body`` served for ``target`` with ``cache_control``."""
        key = (target, cache_control)
        entry = self._entries.get(key)
        if entry is not None and entry.body is body:
            self._entries.move_to_end(key)
            return entry
        etag = f'"sha256-{hashlib.sha256(body).hexdigest()}"'
        not_modified = {"Cache-Control": cache_control, "ETag": etag}
        ok = {**not_modified, "Content-Type": content_type}
        entry = Prebuilt(body, etag, MappingProxyType(ok), MappingProxyType(not_modified))
        self._put(key, entry)
        return entry

    def _put(self, key: tuple[str, str], entry: Prebuilt) -> None:
        if len(entry.body) > self._max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._entries[key] = entry
        self._bytes += len(entry.body)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.body)

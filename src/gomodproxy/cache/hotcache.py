"""A bounded in-memory LRU of small immutable files (.info and .mod of canonical versions)."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["HotCache"]


class HotCache:
    """Bytes by key, at most ``max_bytes`` in total and ``max_item`` per entry."""

    def __init__(self, max_bytes: int, max_item: int) -> None:
        self._max_bytes = max_bytes
        self._max_item = max_item
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def get(self, key: str) -> bytes | None:
        """The bytes of ``key`` (marking it recently used), or None."""
        data = self._entries.get(key)
        if data is not None:
            self._entries.move_to_end(key)
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` unless it is too big; evict the least recently used to make room."""
        if len(data) > self._max_item or len(data) > self._max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old)
        self._entries[key] = data
        self._size += len(data)
        while self._size > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)

    def drop(self, key: str) -> None:
        """Forget ``key``."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old)

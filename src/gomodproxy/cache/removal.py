"""Deleting a module version's files from a store that live proxies serve (``cache rm``,
eviction): each file under the lock a fetch of it holds, the zip first, then the version out of
the module's ``list`` under the list lock, and its access record.

The filesystem backend unlinks, so a client already reading a file (an open descriptor) reads
it to its end; a backend without that property must keep deleted objects readable by open
readers the same way.
"""

from __future__ import annotations

from gomodproxy.cache.access import access_key
from gomodproxy.cache.listing import format_list
from gomodproxy.module import semver
from gomodproxy.protocol.files import list_key
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.storage import ObjectNotFound, ObjectStore
from gomodproxy.storage.locks import Locks

__all__ = ["delete_keys", "unlist_version"]


async def delete_keys(store: ObjectStore, locks: Locks, keys: list[str]) -> tuple[list[str], int]:
    """Delete ``keys`` (zips first), each under its lock; returns the keys that were there and
    the bytes they held."""
    removed: list[str] = []
    freed = 0
    for key in sorted(keys, key=lambda k: (not k.endswith(".zip"), k)):
        async with locks.lock(key):
            info = await store.stat(key)
            if await store.delete(key) and info is not None:
                removed.append(key)
                freed += info.size
    return removed, freed


async def unlist_version(store: ObjectStore, locks: Locks, path: str, version: str) -> None:
    """Take ``version`` out of the module's ``list`` (the go command's cache layout) and drop
    its access record."""
    await store.delete(access_key(path, version))
    key = list_key(path)
    async with locks.lock(key):
        try:
            current = (await store.get(key)).decode("ascii", "replace").split()
        except ObjectNotFound:
            return
        if version not in current:
            return
        kept = [v for v in current if v != version and is_canonical(v)]
        if kept:
            await store.put(key, format_list(semver.sort_versions(kept)))
        else:
            await store.delete(key)

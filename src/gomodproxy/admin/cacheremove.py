"""What ``gomodproxy cache rm`` does, through the object-store and lock seams only.

Removing ``MODULE@VERSION`` (or every version of ``MODULE``) from a cache that live proxies
serve, in an order that leaves no window for the version to come back:

1. the deny entry is written first (:mod:`gomodproxy.cache.denylist`): from then on every
   proxy using the store refuses to fetch the version (each fetch reads the entry under the
   file's lock) and, within its refresh interval, to serve it from memory;
2. the version's files are deleted, each under the same lock a fetch holds, the zip first (a
   fetch that passed its check before step 1 has stored its files before we get the lock);
3. the version goes out of the module's ``list`` (under the list lock), or the whole module
   folder and its kept upstream answers go;
4. an entry is appended to the audit log (:mod:`gomodproxy.admin.auditlog`).

Running it again is harmless (the entry is rewritten with the new reason, nothing left to
delete). :func:`allow_again` (``cache allow``) deletes a deny entry, also with a reason in the
log; the proxies drop it at their next refresh and fetch the version again on request.
"""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass

from gomodproxy.admin.auditlog import AuditEntry, append_audit
from gomodproxy.cache.access import ACCESS_PREFIX
from gomodproxy.cache.denylist import DenyEntry, deny_key
from gomodproxy.cache.keys import upstream_latest_key, upstream_list_key
from gomodproxy.cache.removal import delete_keys, unlist_version
from gomodproxy.errors import ConfigError, InvalidVersion
from gomodproxy.module.paths import check, check_path, escape_path, escape_version
from gomodproxy.protocol.files import module_dir
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.storage import OpenedStorage

__all__ = ["Removal", "allow_again", "current_user", "parse_target", "remove_from_cache"]


@dataclass(frozen=True, slots=True)
class Removal:
    """What ``cache rm`` did: the deny entry written, the files deleted and the bytes they
    held, and the key of its audit-log entry."""

    deny: DenyEntry
    removed: tuple[str, ...]
    freed: int
    audit_key: str


def parse_target(text: str) -> tuple[str, str]:
    """``MODULE[@VERSION]`` → (path, version or ""); the version must be canonical."""
    path, sep, version = text.partition("@")
    if not sep:
        check_path(path)
        return path, ""
    check(path, version)
    if not is_canonical(version):
        raise InvalidVersion(
            version, "give the canonical version as the go command lists it", path=path
        )
    return path, version


def current_user() -> str:
    """Who runs the command, for the audit log (the sudo caller too, when there is one)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo by {sudo})" if sudo and sudo != user else user


async def remove_from_cache(
    opened: OpenedStorage,
    path: str,
    version: str,
    *,
    reason: str,
    user: str,
    now: float | None = None,
) -> Removal:
    """Deny and remove ``path@version`` (every version when ``version`` is ""); see the
    module docstring for the order."""
    if not reason.strip():
        raise ConfigError("cache rm needs --reason TEXT: say why, for the audit log")
    store, locks = opened.store, opened.locks
    when = time.time() if now is None else now
    entry = DenyEntry(path, version, reason.strip(), user, when)
    await store.put(deny_key(path, version), entry.to_json())
    keys = await store.list(module_dir(path))
    if version:
        # The version's own files only: v1.2.3-pre.1.zip is not a file of v1.2.3-pre (fault
        # catalogue 87), so what follows "<version>." must be a bare extension.
        prefix = module_dir(path) + escape_version(version) + "."
        keys = [k for k in keys if k.startswith(prefix) and "." not in k[len(prefix) :]]
    else:
        keys += [upstream_list_key(path), upstream_latest_key(path)]
    removed, freed = await delete_keys(store, locks, keys)
    if not version:  # bookkeeping, not counted as removed files
        for key in await store.list(f"{ACCESS_PREFIX}{escape_path(path)}/@v/"):
            await store.delete(key)
    if version:
        await unlist_version(store, locks, path, version)
    audit = AuditEntry("rm", entry.target, entry.reason, user, when, tuple(removed), freed)
    audit_key = await append_audit(store, audit)
    return Removal(entry, tuple(removed), freed, audit_key)


async def allow_again(
    opened: OpenedStorage,
    path: str,
    version: str,
    *,
    reason: str,
    user: str,
    now: float | None = None,
) -> str:
    """Delete the deny entry of ``path@version`` (of the whole module when ``version`` is "")
    and log it; returns the audit entry's key. ConfigError when there is no such entry."""
    if not reason.strip():
        raise ConfigError("cache allow needs --reason TEXT: say why, for the audit log")
    target = f"{path}@{version}" if version else path
    if not await opened.store.delete(deny_key(path, version)):
        raise ConfigError(
            f"{target} is not denied; 'gomodproxy cache audit' lists what was removed "
            "(a version and its whole module are denied separately)"
        )
    when = time.time() if now is None else now
    entry = AuditEntry("allow", target, reason.strip(), user, when)
    return await append_audit(opened.store, entry)

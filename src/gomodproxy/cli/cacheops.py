"""``gomodproxy cache rm|audit``: removing a module version for good, and the record of it.

``rm MODULE[@VERSION] --reason TEXT`` denies the version (or every version) in the shared store,
deletes its files and appends to the audit log (:mod:`gomodproxy.admin.cacheremove`); every
proxy serving from the store refuses it from then on, without a restart. ``audit`` prints the
log. The cache is found as ``cache ls`` finds it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from gomodproxy.admin.auditlog import AuditEntry, read_audit
from gomodproxy.admin.cacheremove import Removal, current_user, parse_target, remove_from_cache
from gomodproxy.cache.denylist import deny_key
from gomodproxy.cli.cache import _add_location, _human, _when, cache_location
from gomodproxy.storage import OpenedStorage, StorageSettings, open_storage

__all__ = ["register_actions"]


def register_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rm`` and ``audit`` to the ``cache`` command's actions."""
    rm = actions.add_parser(
        "rm",
        help="remove a module version (or every version) for good, with a reason",
        description="Remove MODULE@VERSION (or every version of MODULE) from the cache and "
        "deny it: every proxy serving this cache answers 403 with the reason and never "
        "fetches it again. Recorded in the audit log (cache audit).",
    )
    rm.add_argument("target", metavar="MODULE[@VERSION]")
    rm.add_argument(
        "--reason", required=True, metavar="TEXT", help="why (shown to clients, kept in the log)"
    )
    _add_location(rm)
    rm.set_defaults(func=_run_rm)
    audit = actions.add_parser(
        "audit",
        help="what was removed from the cache, when, by whom and why",
        description="Print the cache's audit log, oldest first.",
    )
    _add_location(audit)
    audit.set_defaults(func=_run_audit)


async def _open(backend: str, folder: Path) -> OpenedStorage:
    return await asyncio.to_thread(open_storage, StorageSettings(backend, folder))


def _run_rm(args: argparse.Namespace) -> int:
    path, version = parse_target(args.target)
    backend, folder = cache_location(args, os.environ)

    async def body() -> Removal:
        opened = await _open(backend, folder)
        return await remove_from_cache(
            opened, path, version, reason=args.reason, user=current_user()
        )

    removal = asyncio.run(body())
    deny = removal.deny
    if args.json:
        doc = {
            "target": deny.target,
            "path": deny.path,
            "version": deny.version,
            "reason": deny.reason,
            "user": deny.user,
            "time": _when(deny.time),
            "removed": list(removal.removed),
            "freed": removal.freed,
            "deny_key": deny_key(deny.path, deny.version),
            "audit_key": removal.audit_key,
        }
        print(json.dumps(doc, indent=2))
        return 0
    what = deny.target if deny.version else f"every version of {deny.path}"
    print(
        f"removed {what}: {len(removal.removed)} files, {_human(removal.freed)}; "
        f"denied from now on: {deny.reason}"
    )
    return 0


def _run_audit(args: argparse.Namespace) -> int:
    backend, folder = cache_location(args, os.environ)

    async def body() -> list[tuple[str, AuditEntry]]:
        return await read_audit((await _open(backend, folder)).store)

    entries = asyncio.run(body())
    if args.json:
        docs = [json.loads(e.to_json()) | {"key": key} for key, e in entries]
        for doc in docs:
            doc["time"] = _when(doc["time"])
        print(json.dumps({"entries": docs}, indent=2))
        return 0
    for _, e in entries:
        print(
            f"{_when(e.time)}\t{e.user}\t{e.action} {e.target}\t"
            f"{len(e.removed)} files, {_human(e.freed)}\t{e.reason}"
        )
    return 0

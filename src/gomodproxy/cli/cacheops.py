"""``gomodproxy cache rm|allow|audit|gc``: removing a module version for good (and lifting
that), the record of it, and keeping the cache within its limits.

``rm MODULE[@VERSION] --reason TEXT`` denies the version (or every version) in the shared store,
deletes its files and appends to the audit log (:mod:`gomodproxy.admin.cacheremove`); every
proxy serving from the store refuses it from then on, without a restart. ``audit`` prints the
log. ``gc`` applies ``cache-max-size``/``cache-max-age`` once (:mod:`gomodproxy.cache.eviction`),
as ``serve`` does in the background; the limits and ``keep`` files come from the flags, else the
``GOMODPROXY_*`` environment, else the settings file. The store is opened as ``cache ls``
opens it (filesystem or S3, the settings of ``serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from gomodproxy.admin.auditlog import AuditEntry, read_audit
from gomodproxy.admin.cacheremove import (
    Removal,
    allow_again,
    current_user,
    parse_target,
    remove_from_cache,
)
from gomodproxy.cache.denylist import deny_key
from gomodproxy.cache.eviction import (
    EVICT_SECONDS,
    EvictionPolicy,
    GCReport,
    collect_garbage,
    load_pins,
)
from gomodproxy.cli.cache import _add_location, _human, _when, opened_store, store_settings
from gomodproxy.config import env_name, load_toml, parse_age, parse_size
from gomodproxy.errors import ConfigError

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
    allow = actions.add_parser(
        "allow",
        help="lift the denial cache rm wrote (the version is fetched again on request)",
        description="Delete the deny entry of MODULE@VERSION (or of MODULE, for the entry "
        "denying every version); recorded in the audit log.",
    )
    allow.add_argument("target", metavar="MODULE[@VERSION]")
    allow.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the log)")
    _add_location(allow)
    allow.set_defaults(func=_run_allow)
    audit = actions.add_parser(
        "audit",
        help="what was removed from the cache, when, by whom and why",
        description="Print the cache's audit log, oldest first.",
    )
    _add_location(audit)
    audit.set_defaults(func=_run_audit)
    gc = actions.add_parser(
        "gc",
        help="evict least recently used module versions beyond the size and age limits",
        description="Apply cache-max-size and cache-max-age now (serve does it every "
        f"{EVICT_SECONDS:g} s): unpinned versions unused for longer than the age go, then the "
        "least recently used until the cache fits the size.",
    )
    gc.add_argument("--cache-max-size", metavar="SIZE", help="e.g. 50GiB, 800MB")
    gc.add_argument("--cache-max-age", metavar="AGE", help="e.g. 90d, 12h")
    gc.add_argument(
        "--keep",
        action="append",
        type=Path,
        metavar="FILE",
        help="go.mod or go.sum whose module versions are never evicted (repeatable)",
    )
    gc.add_argument("--dry-run", action="store_true", help="only say what would be evicted")
    _add_location(gc)
    gc.set_defaults(func=_run_gc)


def _run_rm(args: argparse.Namespace) -> int:
    path, version = parse_target(args.target)
    settings = store_settings(args, os.environ)

    async def body() -> Removal:
        async with opened_store(settings) as opened:
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


def _run_allow(args: argparse.Namespace) -> int:
    path, version = parse_target(args.target)
    settings = store_settings(args, os.environ)

    async def body() -> str:
        async with opened_store(settings) as opened:
            return await allow_again(opened, path, version, reason=args.reason, user=current_user())

    audit_key = asyncio.run(body())
    target = f"{path}@{version}" if version else path
    if args.json:
        print(json.dumps({"target": target, "audit_key": audit_key}, indent=2))
    else:
        print(f"allowed {target} again (proxies drop the denial within seconds)")
    return 0


def _run_audit(args: argparse.Namespace) -> int:
    settings = store_settings(args, os.environ)

    async def body() -> list[tuple[str, AuditEntry]]:
        async with opened_store(settings) as opened:
            return await read_audit(opened.store)

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


def _gc_policy(args: argparse.Namespace) -> EvictionPolicy:
    """The limits in the precedence of ``serve``: flags, environment, settings file."""
    file_values = load_toml(args.config) if args.config is not None else {}

    def setting(name: str) -> object:
        flag = getattr(args, name.replace("-", "_"))
        if flag:
            return flag
        env = os.environ.get(env_name(name))
        if env:
            return env.split(os.pathsep) if name == "keep" else env
        return file_values.get(name, file_values.get(name.replace("-", "_")))

    size, age, keep = setting("cache-max-size"), setting("cache-max-age"), setting("keep") or []
    if not size and not age:
        raise ConfigError(
            "cache gc needs a limit: give --cache-max-size or --cache-max-age (or set them in "
            "the settings file or GOMODPROXY_CACHE_MAX_SIZE/GOMODPROXY_CACHE_MAX_AGE)"
        )
    if not isinstance(keep, list):
        raise ConfigError("keep must be a list of go.mod or go.sum files")
    return EvictionPolicy(
        parse_size(str(size)) if size else None,
        parse_age(str(age)) if age else None,
        load_pins([Path(os.path.expanduser(str(k))) for k in keep]),
    )


def _run_gc(args: argparse.Namespace) -> int:
    policy = _gc_policy(args)
    settings = store_settings(args, os.environ)

    async def body() -> GCReport:
        async with opened_store(settings) as opened:
            return await collect_garbage(opened, policy, dry_run=args.dry_run)

    report = asyncio.run(body())
    verb = "would evict" if report.dry_run else "evicted"
    if args.json:
        doc = {
            "dry_run": report.dry_run,
            "held": report.held,
            "versions": report.versions,
            "pinned": report.pinned,
            "freed": report.freed,
            "left": report.held - report.freed,
            "evicted": [
                {
                    "path": e.version.path,
                    "version": e.version.version,
                    "size": e.version.size,
                    "last_used": _when(e.version.last_used),
                    "reason": e.reason,
                }
                for e in report.evicted
            ],
        }
        print(json.dumps(doc, indent=2))
        return 0
    for e in report.evicted:
        v = e.version
        print(
            f"{verb} {v.path} {v.version}\t{_human(v.size)}\tlast used {_when(v.last_used)}"
            f"\t({e.reason})"
        )
    print(
        f"{report.versions} versions ({report.pinned} pinned), {_human(report.held)}: "
        f"{verb} {len(report.evicted)}, {_human(report.freed)}; "
        f"{_human(report.held - report.freed)} left"
    )
    return 0

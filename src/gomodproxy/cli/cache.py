"""``gomodproxy cache ls|verify``: what the cache holds, and whether it is intact.

The cache is found as ``serve`` finds it: ``--cache-dir``, else the ``cache-dir`` key of
``--config``, else ``GOMODPROXY_CACHE_DIR``, else the default folder. Both commands read through
the storage backend's object store, so they are safe beside a running proxy; ``verify`` leaves
only the backend's own quarantine behind (the proxy fetches a quarantined file again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from gomodproxy.admin.cacheaudit import (
    CachedVersion,
    Progress,
    VerifyReport,
    list_versions,
    verify_store,
)
from gomodproxy.assembly import check_settings, open_upstreams, with_defaults
from gomodproxy.config import build_settings, default_cache_dir, env_name, load_toml
from gomodproxy.errors import ConfigError
from gomodproxy.storage import ObjectStore, StorageSettings, open_storage

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cache`` subcommand with ``ls`` and ``verify``."""
    parser = sub.add_parser(
        "cache",
        help="list or verify what the proxy's cache holds",
        description="List or verify the proxy's cache (safe while the proxy runs).",
    )
    actions = parser.add_subparsers(dest="cache_command", metavar="ACTION")
    actions.required = True
    ls = actions.add_parser(
        "ls",
        help="modules and versions held, with sizes and fetch times",
        description="List the module versions held. PATTERN is a module path (its sub-modules "
        "match too) or a glob such as 'github.com/*/x'.",
    )
    ls.add_argument("pattern", nargs="?", default="", metavar="PATTERN")
    _add_location(ls)
    ls.set_defaults(func=_run_ls)
    verify = actions.add_parser(
        "verify",
        help="re-hash every object, check zips and go.mod files; exit 1 on any failure",
        description="Read back every object, check every zip against the module zip rules "
        "and every .mod parses; with --check-sums also look every zip's and .mod's h1: up in "
        "the checksum database. What fails is quarantined and fetched again by the proxy.",
    )
    verify.add_argument(
        "--check-sums",
        action="store_true",
        help="also check every h1: against the checksum database (settings as 'serve')",
    )
    verify.add_argument("--sumdb", metavar="GOSUMDB", help="the database (implies --check-sums)")
    verify.add_argument(
        "--upstream", metavar="GOPROXY", help="proxies to reach the database through"
    )
    _add_location(verify)
    verify.set_defaults(func=_run_verify)
    from gomodproxy.cli import cacheops  # it imports this module's helpers

    cacheops.register_actions(actions)


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, metavar="DIR", help="the cache folder")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file to take cache-dir from"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def cache_location(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, Path]:
    """The backend name and cache folder, in the precedence ``serve`` uses."""
    file_values = load_toml(args.config) if args.config is not None else {}
    backend = str(environ.get(env_name("storage")) or file_values.get("storage", "filesystem"))
    folder = args.cache_dir or environ.get(env_name("cache-dir"))
    folder = folder or file_values.get("cache-dir") or file_values.get("cache_dir")
    path = Path(os.path.expanduser(str(folder))) if folder else default_cache_dir(environ)
    if backend != "filesystem":
        raise ConfigError(f"cache commands need a stored cache; storage {backend!r} keeps none")
    if not path.is_dir():
        raise ConfigError(f"cache folder {path} does not exist; give --cache-dir DIR")
    return backend, path


async def _open(backend: str, folder: Path) -> ObjectStore:
    opened = await asyncio.to_thread(open_storage, StorageSettings(backend, folder))
    return opened.store


def _run_ls(args: argparse.Namespace) -> int:
    backend, folder = cache_location(args, os.environ)

    async def body() -> list[CachedVersion]:
        return await list_versions(await _open(backend, folder), args.pattern)

    versions = asyncio.run(body())
    if args.json:
        doc = {
            "cache_dir": str(folder),
            "versions": [_version_doc(v) for v in versions],
            "total_size": sum(v.size for v in versions),
        }
        print(json.dumps(doc, indent=2))
        return 0
    for v in versions:
        files = ",".join(k for k in ("info", "mod", "zip") if k in v.sizes)
        used = "" if v.accessed is None else f"\tused {_when(v.accessed)}"
        print(f"{v.path} {v.version}\t{files}\t{_human(v.size)}\t{_when(v.last_fetched)}{used}")
    modules = len({v.path for v in versions})
    total = _human(sum(v.size for v in versions))
    print(f"{modules} modules, {len(versions)} versions, {total}", file=sys.stderr)
    return 0


def _version_doc(v: CachedVersion) -> dict[str, object]:
    return {
        "path": v.path,
        "version": v.version,
        "size": v.size,
        "fetched": _when(v.last_fetched),
        "accessed": None if v.accessed is None else _when(v.accessed),
        "files": {
            kind: {"size": v.sizes[kind], "fetched": _when(v.fetched[kind])} for kind in v.sizes
        },
    }


def _run_verify(args: argparse.Namespace) -> int:
    backend, folder = cache_location(args, os.environ)
    plan = None
    if args.check_sums or args.sumdb:
        file_values = load_toml(args.config) if args.config is not None else None
        flags = {"upstream": args.upstream, "sumdb": args.sumdb, "listen": "127.0.0.1:0"}
        settings = build_settings(flags, os.environ, file_values=file_values)
        plan = check_settings(with_defaults(settings, os.environ))
        if plan.sumdb is None:
            raise ConfigError("--check-sums needs a checksum database: GOSUMDB is off")
    show = not args.json and sys.stderr.isatty()

    async def body() -> VerifyReport:
        opened = await asyncio.to_thread(open_storage, StorageSettings(backend, folder))
        with _progress(show) as progress:
            if plan is None:
                return await verify_store(opened.store, opened.locks, progress=progress)
            async with open_upstreams(plan, opened) as upstreams:
                return await verify_store(
                    opened.store, opened.locks, checksums=upstreams.checksums, progress=progress
                )

    report = asyncio.run(body())
    total = sum(report.checked.values())
    if args.json:
        doc = {
            "ok": report.ok,
            "checked": total,
            "by_kind": report.checked,
            "failures": [
                {"key": f.key, "reason": f.reason, "quarantined": f.quarantined}
                for f in report.failures
            ],
        }
        print(json.dumps(doc, indent=2))
    else:
        for f in report.failures:
            note = " (quarantined; the proxy fetches it again)" if f.quarantined else ""
            print(f"FAIL {f.key}: {f.reason}{note}")
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.checked.items()))
        print(f"checked {total} objects ({kinds}): {len(report.failures)} failed")
    return 0 if report.ok else 1


@contextlib.contextmanager
def _progress(show: bool) -> Iterator[Progress | None]:
    """A progress bar on the terminal (stderr), or nothing."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[key]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("verify", total=None, key="")

        def advance(done: int, total: int, key: str) -> None:
            bar.update(task, completed=done, total=total, key=key[-60:])

        yield advance


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _when(mtime: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))

"""``gomodproxy cache ls|verify``: what the cache holds, and whether it is intact.

The store is opened as ``serve`` opens it (:func:`gomodproxy.assembly.storage_settings`): the
storage settings (``storage``, ``cache-dir``, ``s3-*``, ``redis-url``) come from the flags, else
the ``GOMODPROXY_*`` environment, else ``--config``, else the defaults, so every command here
works on a filesystem cache and on an S3 bucket alike. Both commands read through the backend's
object store, so they are safe beside a running proxy; ``verify`` leaves only the backend's own
quarantine behind (the proxy fetches a quarantined file again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path

from gomodproxy.admin.cacheaudit import (
    CachedVersion,
    Progress,
    VerifyReport,
    list_versions,
    verify_store,
)
from gomodproxy.assembly import check_settings, open_upstreams, storage_settings, with_defaults
from gomodproxy.config import Settings, build_settings, load_toml, read_go_env
from gomodproxy.errors import ConfigError
from gomodproxy.storage import OpenedStorage, open_storage

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


#: The settings naming the store, as flags of every cache command (and of ``bundle import``).
STORE_OPTIONS = ("storage", "s3-endpoint", "s3-bucket", "s3-prefix", "s3-region", "redis-url")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir``, ``--config`` and the storage flags of ``serve``."""
    parser.add_argument("--cache-dir", type=Path, metavar="DIR", help="the cache folder")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (as 'serve') to find the store"
    )
    parser.add_argument("--storage", metavar="NAME", help="filesystem or s3 (as 'serve')")
    parser.add_argument("--s3-endpoint", metavar="URL", help="S3 endpoint of --storage s3")
    parser.add_argument("--s3-bucket", metavar="NAME", help="bucket of --storage s3")
    parser.add_argument("--s3-prefix", metavar="PREFIX", help="key prefix inside the bucket")
    parser.add_argument("--s3-region", metavar="REGION", help="region of the bucket")
    parser.add_argument("--redis-url", metavar="URL", help="Redis shared by the replicas")


def _add_location(parser: argparse.ArgumentParser) -> None:
    add_store_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def store_settings(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    upstream: str | None = "off",
    sumdb: str | None = "off",
    must_exist: bool = True,
) -> Settings:
    """The settings ``serve`` would run with, for the store (and, given, the upstream side).

    The storage must keep what it stores: ``memory`` is refused, and a filesystem cache folder
    must exist unless ``must_exist`` is false (only ``bundle import`` makes a new cache).
    """
    file_values = load_toml(args.config) if args.config is not None else None
    flags: dict[str, object | None] = {
        name: getattr(args, name.replace("-", "_"), None) for name in STORE_OPTIONS
    }
    cache_dir = getattr(args, "cache_dir", None)
    flags |= {"cache-dir": None if cache_dir is None else str(cache_dir)}
    flags |= {"upstream": upstream, "sumdb": sumdb, "listen": "127.0.0.1:0"}
    no_go: Callable[[Sequence[str]], Mapping[str, str]] = lambda names: {}  # noqa: E731
    settings = build_settings(
        flags,
        environ,
        file_values=file_values,
        file_name=str(args.config or "config file"),
        go_env=read_go_env if upstream is None or sumdb is None else no_go,
    )
    if settings.storage == "memory":
        raise ConfigError("cache commands need a stored cache; storage 'memory' keeps none")
    if must_exist and settings.storage == "filesystem" and not settings.cache_dir.is_dir():
        raise ConfigError(
            f"cache folder {settings.cache_dir} does not exist; give --cache-dir DIR "
            "(or --storage s3 and the bucket settings)"
        )
    return settings


def describe_store(settings: Settings) -> str:
    """Where the store is, for messages: the folder or the S3 URL."""
    if settings.storage == "s3":
        return f"s3://{settings.s3_bucket}/{settings.s3_prefix}"
    return str(settings.cache_dir)


@contextlib.asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[OpenedStorage]:
    """The configured store and its locks, closed afterwards. No local tier: an operator's
    command reads and writes the shared store itself."""
    wanted = dataclasses.replace(storage_settings(settings), local_cache_mb=0)
    opened = await asyncio.to_thread(open_storage, wanted)
    try:
        yield opened
    finally:
        await opened.aclose()


def _run_ls(args: argparse.Namespace) -> int:
    settings = store_settings(args, os.environ)

    async def body() -> list[CachedVersion]:
        async with opened_store(settings) as opened:
            return await list_versions(opened.store, args.pattern)

    versions = asyncio.run(body())
    if args.json:
        doc = {
            "cache_dir": describe_store(settings),
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
    check = bool(args.check_sums or args.sumdb)
    if check:
        settings = store_settings(args, os.environ, upstream=args.upstream, sumdb=args.sumdb)
        plan = check_settings(with_defaults(settings, os.environ))
        if plan.sumdb is None:
            raise ConfigError("--check-sums needs a checksum database: GOSUMDB is off")
    else:
        settings, plan = store_settings(args, os.environ), None
    show = not args.json and sys.stderr.isatty()

    async def body() -> VerifyReport:
        async with opened_store(settings) as opened:
            with _progress(show) as progress:
                if plan is None:
                    return await verify_store(opened.store, opened.locks, progress=progress)
                async with open_upstreams(plan, opened) as upstreams:
                    return await verify_store(
                        opened.store, opened.locks, checksums=upstreams.checksums,
                        progress=progress,
                    )  # fmt: skip

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

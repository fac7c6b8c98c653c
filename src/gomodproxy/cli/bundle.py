"""``gomodproxy bundle create|import``: carry verified modules into an air-gapped site.

``create`` takes the upstream and checksum-database settings as ``serve`` does (defaults <
``--config`` file < ``GOMODPROXY_*`` variables < the Go environment's GOPROXY/GOSUMDB when unset
< flags); ``import`` needs only the operator's verifier key and the store, opened as the cache
commands open it (filesystem or S3, the storage settings of ``serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from pathlib import Path

from gomodproxy.admin.bundlecreate import create_bundle, wanted_from_go_sum, wanted_from_list
from gomodproxy.admin.bundleformat import Manifest
from gomodproxy.admin.bundlegraph import go_mod_source, load_main_module, parse_platform
from gomodproxy.admin.bundleimport import import_bundle
from gomodproxy.assembly import Plan, check_settings, with_defaults
from gomodproxy.cli.cache import add_store_options, describe_store, opened_store, store_settings
from gomodproxy.client.goenv import read_go_environment
from gomodproxy.config import build_settings, load_toml
from gomodproxy.errors import ConfigError
from gomodproxy.module.gosum import parse_go_sum

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bundle`` subcommand with ``create`` and ``import``."""
    parser = sub.add_parser(
        "bundle",
        help="carry verified modules and their checksum-database proofs to an offline cache",
        description="Build a bundle of module versions verified against the checksum database, "
        "with the proofs to check them offline; import it into a cache that "
        "'gomodproxy serve --upstream off' serves.",
    )
    actions = parser.add_subparsers(dest="bundle_command", metavar="ACTION")
    actions.required = True
    create = actions.add_parser(
        "create",
        help="fetch, verify and pack the module versions of a go.mod, a go.sum or a list",
        description="Fetch every module version a go.mod's build needs (--go-mod: what 'go mod "
        "download' fetches for it, the go.mod files of its module graph, and the "
        "golang.org/toolchain module its toolchain line names, for each --platform), named by "
        "--go-sum (zip lines bring the zip, go.mod lines the .mod) or by --list "
        "(module@version lines) through the upstreams, verify each against the checksum "
        "database as 'serve' does, and write them with the signed tree head, lookup records "
        "and tiles that prove them.",
    )
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--go-mod", type=Path, metavar="FILE", help="a go.mod to build offline")
    source.add_argument("--go-sum", type=Path, metavar="FILE", help="a go.sum to bundle")
    source.add_argument("--list", type=Path, metavar="FILE", help="module@version lines")
    create.add_argument(
        "--platform",
        action="append",
        metavar="GOOS/GOARCH",
        help="with --go-mod: a platform to carry the toolchain for (repeatable; default: the "
        "local one, $GOOS/$GOARCH if set)",
    )
    create.add_argument("-o", "--output", type=Path, required=True, metavar="BUNDLE")
    create.add_argument("--config", type=Path, metavar="FILE", help="TOML settings as 'serve'")
    create.add_argument("--upstream", metavar="GOPROXY", help="upstream proxies (as 'serve')")
    create.add_argument("--sumdb", metavar="GOSUMDB", help="checksum database (as 'serve')")
    create.set_defaults(func=_run_create)
    imp = actions.add_parser(
        "import",
        help="check a bundle against a verifier key and add it to a cache",
        description="Check every file's hash, the signed tree head against --verifier-key, "
        "every lookup record's inclusion in that tree and every file's h1: hash against its "
        "record; a bundle failing any check is refused whole. Then add the module files and "
        "the checksum-database files to the cache.",
    )
    imp.add_argument("bundle", type=Path, metavar="BUNDLE")
    imp.add_argument(
        "--verifier-key", required=True, metavar="KEY", help="the database's verifier key"
    )
    add_store_options(imp)
    imp.set_defaults(func=_run_import)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _run_create(args: argparse.Namespace) -> int:
    file_values = load_toml(args.config) if args.config is not None else None
    flags = {"upstream": args.upstream, "sumdb": args.sumdb, "listen": "127.0.0.1:0"}
    settings = build_settings(
        flags, os.environ, file_values=file_values, file_name=str(args.config or "config file")
    )
    plan = check_settings(with_defaults(settings, os.environ))
    if args.platform is not None and args.go_mod is None:
        raise ConfigError("--platform only applies to --go-mod")
    if args.go_mod is not None:
        manifest = asyncio.run(
            _create_from_go_mod(plan, args.go_mod, args.platform or [], args.output)
        )
    else:
        if args.go_sum is not None:
            wanted = wanted_from_go_sum(parse_go_sum(_read(args.go_sum), str(args.go_sum)))
        else:
            wanted = wanted_from_list(_read(args.list).decode("utf-8", "replace"))
        manifest = asyncio.run(create_bundle(plan, wanted, args.output))
    print(
        f"{args.output}: {len(manifest.modules)} module versions, {len(manifest.files)} files, "
        f"{manifest.sumdb_name} tree size {manifest.tree_size}",
        file=sys.stderr,
    )
    return 0


_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _local_platform() -> str:
    goos = os.environ.get("GOOS") or sys.platform.removesuffix("32").replace("win", "windows")
    machine = platform.machine().lower()
    goarch = os.environ.get("GOARCH") or _ARCHES.get(machine, machine)
    return f"{goos}/{goarch}"


async def _create_from_go_mod(
    plan: Plan, go_mod: Path, platforms: list[str], output: Path
) -> Manifest:
    pairs = [parse_platform(p) for p in platforms or [_local_platform()]]
    mains = await load_main_module(go_mod)
    env = await asyncio.to_thread(read_go_environment, os.environ)
    return await create_bundle(plan, go_mod_source(mains, env.local_go, pairs), output)


def _run_import(args: argparse.Namespace) -> int:
    # Only the storage settings matter here; the upstream side is never opened. A new
    # filesystem cache folder is made (an air-gapped site starts empty).
    settings = store_settings(args, os.environ, must_exist=False)

    async def body() -> int:
        async with opened_store(settings) as opened:
            manifest = await import_bundle(
                args.bundle, args.verifier_key, opened.store, opened.locks
            )
        return len(manifest.modules)

    count = asyncio.run(body())
    where = describe_store(settings)
    print(f"{args.bundle}: {count} module versions added to {where}", file=sys.stderr)
    return 0

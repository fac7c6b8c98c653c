"""Entry point of the ``gomodproxy`` command: builds the parser and dispatches subcommands.

Each subcommand lives in a module of its own under ``gomodproxy.cli`` exposing
``register(subparsers) -> None``; the registered parser sets ``func``, a callable taking the parsed
arguments and returning the exit code. ``ProxyError`` is caught once, here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from gomodproxy.errors import ProxyError

__all__ = ["build_parser", "main"]


def _command_modules(argv: Sequence[str] | None = None) -> list[ModuleType]:
    # Imported here, not at module import, so `gomodproxy --help` stays cheap and one
    # subcommand's heavy imports never slow another. A command named on the command line gets
    # only its own module: the download client starts as fast as it can (it races the go
    # command), and a proxy process does not keep the probe, bundle or client code in memory.
    command = _command_of(argv)
    if command in _COMMANDS:
        return [importlib.import_module(f"gomodproxy.cli.{_COMMANDS[command]}")]
    return [importlib.import_module(f"gomodproxy.cli.{name}") for name in _MODULES]


#: The modules of the subcommands, and which command each registers.
_MODULES = ("bundle", "cache", "configcmd", "download", "front", "mod", "probe", "serve", "sumdb")
_COMMANDS = {
    "bundle": "bundle",
    "cache": "cache",
    "config": "configcmd",
    "download": "download",
    "front": "front",
    "mod": "mod",
    "probe": "probe",
    "serve": "serve",
    "sumdb": "sumdb",
}


def _command_of(argv: Sequence[str] | None) -> str:
    """The subcommand named on the command line (after the global flags), or ""."""
    for arg in sys.argv[1:] if argv is None else argv:
        if arg == "--debug":
            continue
        return "" if arg.startswith("-") else arg
    return ""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered (only ``download`` when
    ``argv`` runs it)."""
    parser = argparse.ArgumentParser(
        prog="gomodproxy",
        description=(
            "A caching Go module proxy (serve), module zip tools (mod), a checksum database "
            "of its own (sumdb), a mirror prober (probe), a download client like go mod "
            "download (download), cache and configuration "
            "administration (cache, config), air-gapped bundles (bundle) and the "
            "configuration of a static front serving cache hits (front)."
        ),
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument(
        "--version", action="version", version=f"gomodproxy {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules(argv):
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
        register = module.register
        register(sub)
    return parser


def _version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    try:
        return importlib.metadata.version("gomodproxy")
    except importlib.metadata.PackageNotFoundError:
        from gomodproxy import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ProxyError as exc:
        if args.debug:
            raise
        print(f"gomodproxy: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

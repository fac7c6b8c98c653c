"""``gomodproxy sumdb``: run our own checksum database.

``gomodproxy sumdb keygen NAME --out DIR``
    writes ``DIR/NAME.signer`` (the secret signer key, mode 0600) and ``DIR/NAME.verifier`` (the
    verifier key, as GOSUMDB takes it).

``gomodproxy sumdb serve --key NAME.signer --data DIR [--listen HOST:PORT] [feeds]``
    serves the append-only log kept in ``DIR`` (created if needed; it survives restarts and only
    grows). Feeds: ``--from-cache MODCACHE`` logs every version of a module cache (its ``.mod``,
    and its ``.zip`` when present; repeatable), ``--from-list FILE`` logs go.sum lines (repeatable),
    ``--from-proxy URL`` logs a version from that GOPROXY on its first lookup. On start it prints
    ``serving URL`` and the ``GOSUMDB`` value to use; ``/stats`` answers JSON counters.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gomodproxy.config import parse_listen
from gomodproxy.sumdbserver.keys import write_key_files
from gomodproxy.sumdbserver.runner import ServeSettings, serve

__all__ = ["register"]

_DEFAULT_LISTEN = "127.0.0.1:8081"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sumdb`` command group."""
    parser = subparsers.add_parser(
        "sumdb",
        help="run our own checksum database (keygen, serve)",
        description=(__doc__ or "").replace("``", ""),  # the docstring's reST, as plain text
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="sumdb_command", metavar="SUBCOMMAND")
    sub.required = True

    keygen = sub.add_parser("keygen", help="generate a signer/verifier key pair")
    keygen.add_argument("name", metavar="NAME", help="database name, e.g. sumdb.example")
    keygen.add_argument("--out", type=Path, default=Path("."), help="folder for the key files")
    keygen.set_defaults(func=_keygen)

    srv = sub.add_parser("serve", help="serve the checksum database")
    srv.add_argument("--key", type=Path, required=True, help="the NAME.signer file")
    srv.add_argument("--data", type=Path, required=True, help="folder holding the log")
    srv.add_argument(
        "--listen",
        default=_DEFAULT_LISTEN,
        help=f"HOST:PORT to listen on (default {_DEFAULT_LISTEN}; port 0 picks a free one)",
    )
    srv.add_argument(
        "--from-cache",
        type=Path,
        action="append",
        default=[],
        metavar="MODCACHE",
        help="log every version in this module cache (GOMODCACHE or its cache/download)",
    )
    srv.add_argument(
        "--from-list",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="log the go.sum lines of FILE (a version needs its /go.mod line)",
    )
    srv.add_argument(
        "--from-proxy", metavar="URL", help="log versions from this GOPROXY on first lookup"
    )
    srv.set_defaults(func=_serve)


def _keygen(args: argparse.Namespace) -> int:
    signer, verifier, vkey = write_key_files(args.name, args.out)
    print(f"signer key:   {signer}")
    print(f"verifier key: {verifier}")
    print(vkey)
    return 0


def _ready(url: str, verifier_key: str) -> None:
    print(f"serving {url}", flush=True)
    print(f"GOSUMDB='{verifier_key} {url}'", flush=True)
    sys.stdout.flush()


def _serve(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen, default_host="127.0.0.1")
    settings = ServeSettings(
        key_file=args.key,
        data_dir=args.data,
        host=host,
        port=port,
        from_cache=tuple(args.from_cache),
        from_list=tuple(args.from_list),
        from_proxy=args.from_proxy,
    )
    asyncio.run(serve(settings, ready=_ready))
    return 0

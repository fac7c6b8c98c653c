"""``gomodproxy download``: ``go mod download`` into the go command's own module cache.

``gomodproxy download [-json] [-x] [-reuse=FILE] [modules | module@query ...]``

Inside a module: no arguments download what ``go mod download`` does (the modules go.mod
requires, or the whole build list for go.mod files older than go 1.17 and for workspaces);
``all`` the build list; ``path`` its selected version; ``path@query`` (``latest``, ``upgrade``,
``patch``, ``v1.2``, ``<v1.3``, a version, a branch or commit the proxy resolves). The
environment is the go command's: GOPROXY, GONOPROXY, GOPRIVATE, GOSUMDB, GONOSUMDB, GOFLAGS
(``-modcacherw``), GOMODCACHE, GOPATH, GOWORK, GOAUTH, from variables first and then the go env
file.

``-json`` prints one object per module as the go command does. Exit status 0, or 1 when any
module failed (each error on stderr, or in its object's ``Error`` with ``-json``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``download`` command."""
    parser = subparsers.add_parser(
        "download",
        help="download modules into the go command's module cache (go mod download)",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-json", "--json", dest="json", action="store_true", help="print JSON objects"
    )
    parser.add_argument(
        "-x", dest="x", action="store_true", help="print the requests made (to stderr)"
    )
    parser.add_argument(
        "-reuse",
        "--reuse",
        dest="reuse",
        default="",
        metavar="FILE",
        help="JSON of an earlier -json run: modules whose Origin still holds are reused",
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE[@QUERY]")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # Imported here: the client pulls in aiohttp, which other commands' --help need not load.
    from gomodproxy.client import DownloadRequest, read_go_environment, run_download

    if not args.debug:
        # The go command prints nothing but errors: keep our INFO logs out of the way.
        logging.getLogger().setLevel(logging.ERROR)
    env = read_go_environment(os.environ)
    request = DownloadRequest(
        args=tuple(args.modules), json=args.json, x=args.x, reuse=args.reuse, cwd=Path.cwd()
    )
    return asyncio.run(run_download(request, env, stdout=sys.stdout, stderr=sys.stderr))

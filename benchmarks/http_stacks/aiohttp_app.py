"""aiohttp server for the benchmark: small files from memory, zips by ``web.FileResponse``.

``python -m benchmarks.http_stacks.aiohttp_app --root DIR --port N --loop asyncio|uvloop``.
``FileResponse`` uses ``loop.sendfile``; where the loop raises NotImplementedError for it
(uvloop does), aiohttp falls back to reading chunks in the default executor.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import uvloop
from aiohttp import web
from benchmarks.http_stacks.corpus import SMALL_KINDS, scan_tree
from benchmarks.http_stacks.failing_apps import make_aiohttp_app as make_failing_app

_SMALL: web.AppKey[dict[str, tuple[bytes, str]]] = web.AppKey("small", dict)
_ZIPS: web.AppKey[dict[str, Path]] = web.AppKey("zips", dict)


async def _serve_file(request: web.Request) -> web.StreamResponse:
    path = request.path
    small = request.app[_SMALL].get(path)
    if small is not None:
        body, content_type = small
        return web.Response(body=body, headers={"Content-Type": content_type})
    zip_path = request.app[_ZIPS].get(path)
    if zip_path is None:
        raise web.HTTPNotFound(text="not found: only the benchmark files are served\n")
    return web.FileResponse(zip_path, headers={"Content-Type": "application/zip"})


def make_app(root: Path) -> web.Application:
    """The aiohttp application serving the tree under ``root``."""
    app = web.Application()
    files = scan_tree(root)
    app[_SMALL] = {
        f.url_path: (f.path.read_bytes(), f.content_type)
        for f in files.values()
        if f.kind in SMALL_KINDS
    }
    app[_ZIPS] = {f.url_path: f.path for f in files.values() if f.kind not in SMALL_KINDS}
    app.router.add_get("/{tail:.+}", _serve_file)
    return app


async def _serve(root: Path, host: str, port: int, *, failing: bool) -> None:
    app = make_failing_app(root) if failing else make_app(root)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="tree made by corpus.make_tree")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--failing", action="store_true", help="serve failing_apps instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT."""
    args = _parser().parse_args(argv)
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.loop == "uvloop":
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(args.root, args.host, args.port, failing=args.failing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

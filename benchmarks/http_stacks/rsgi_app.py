"""Minimal RSGI app for the benchmark, served by granian (``--interface rsgi``).

Small files come from memory (``response_bytes``); a zip goes out by ``response_file``, which
granian sends from Rust. The factory reads the tree's root from ``HTTP_STACKS_ROOT``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.http_stacks.corpus import SMALL_KINDS, root_from_environ, scan_tree
from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian.rsgi import Scope

RSGIApp = Callable[[Scope, HTTPProtocol], Awaitable[None]]

_NOT_FOUND = b"not found: only the benchmark files are served\n"


class _BenchApp:
    """The RSGI callable; holds the small files' bytes and the zips' paths."""

    def __init__(self, root: Path) -> None:
        files = scan_tree(root)
        self._small: dict[str, tuple[bytes, list[tuple[str, str]]]] = {}
        self._zips: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        for f in files.values():
            if f.kind in SMALL_KINDS:
                body = f.path.read_bytes()
                headers = [("content-type", f.content_type), ("content-length", str(len(body)))]
                self._small[f.url_path] = (body, headers)
            else:
                # response_file answers chunked unless told the length (granian 2.x).
                zip_headers = [("content-type", f.content_type), ("content-length", str(f.size))]
                self._zips[f.url_path] = (str(f.path), zip_headers)

    async def __call__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        small = self._small.get(scope.path)
        if small is not None:
            body, headers = small
            protocol.response_bytes(200, headers, body)
            return
        cached = self._zips.get(scope.path)
        if cached is None:
            protocol.response_bytes(404, [("content-type", "text/plain")], _NOT_FOUND)
            return
        path, headers = cached
        protocol.response_file(200, headers, path)


def create_app() -> RSGIApp:
    """App factory for ``granian --interface rsgi --factory``."""
    return _BenchApp(root_from_environ())

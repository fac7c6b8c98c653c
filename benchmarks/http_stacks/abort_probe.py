"""Abort probe: what a client sees when each Python stack's handler fails mid-zip.

``.venv/bin/python -m benchmarks.http_stacks.abort_probe`` (from the repository root). Each
stack serves ``failing_apps`` on 127.0.0.1; a raw-socket client asks for ``/length`` (full
``Content-Length`` declared, half sent) and ``/chunked`` (chunked, half sent), and records
whether the connection was closed with the response visibly incomplete (what the proxy needs),
whether the response looked complete (a truncated zip taken for whole), or whether the client
was left waiting.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.http_stacks.failing_apps import FULL_SIZE
from benchmarks.http_stacks.servers import HOST, Launch, Server

STACKS: tuple[str, ...] = (
    "aiohttp-asyncio",
    "aiohttp-uvloop",
    "uvicorn-asgi",
    "granian-asgi",
    "granian-rsgi",
)
_WAIT_S = 5.0
REPO = Path(__file__).resolve().parents[2]


def _exchange(port: int, path: str) -> tuple[bytes, bool, float]:
    """Send one GET; return the raw answer, whether the server closed, and the time taken."""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=_WAIT_S) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        received = bytearray()
        closed = False
        try:
            while chunk := sock.recv(65536):
                received += chunk
            closed = True
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
    return bytes(received), closed, time.monotonic() - started


def _verdict(path: str, raw: bytes, closed: bool) -> tuple[str, int]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if not closed:
        return f"client left waiting ({status})", len(body)
    if path == "/length":
        if len(body) < FULL_SIZE:
            return f"closed, short of Content-Length ({status})", len(body)
        return f"complete body ({status})", len(body)
    if body.endswith(b"0\r\n\r\n"):
        return f"last chunk sent: truncated body looks complete ({status})", len(body)
    return f"closed without last chunk ({status})", len(body)


def probe(name: str, tmp: Path) -> dict[str, dict[str, object]]:
    """Run one stack with the failing apps and ask it for both paths."""
    scratch = tmp / f"abort-{name}"
    scratch.mkdir()
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    server = Server(name, Launch(sys.executable, tmp, port, scratch, REPO), 0, failing=True)
    results: dict[str, dict[str, object]] = {}
    try:
        server.wait_ready(connect_only=True)
        for path in ("/length", "/chunked"):
            raw, closed, took = _exchange(port, path)
            verdict, body_bytes = _verdict(path, raw, closed)
            results[path] = {
                "verdict": verdict,
                "body_bytes_on_wire": body_bytes,
                "seconds": round(took, 3),
            }
    finally:
        server.stop()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Probe every stack; print one line per stack and path, and the JSON."""
    names = list(argv) if argv else list(STACKS)
    report: dict[str, dict[str, dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="abort-probe-") as tmp:
        for name in names:
            report[name] = probe(name, Path(tmp))
            for path, outcome in report[name].items():
                print(f"{name:<16} {path:<9} {outcome['verdict']} ({outcome['seconds']} s)")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

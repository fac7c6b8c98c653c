"""A loopback smart-HTTP git server for tests: the real ``git http-backend`` run as CGI.

Serves the bare repositories under ``root`` at ``http://127.0.0.1:PORT/<name>`` (protocol v2
included), in a thread, and records every request path so tests can assert what was asked.
Repositories whose name starts with ``stall`` answer only after ``GitServer.stall`` seconds (a
slow server, fault catalogue 65); those named ``auth*`` always answer 401 (credentials
needed) unless given ``GitServer.auth``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["GitServer", "running_git_server"]


def _http_backend() -> str:
    out = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True)
    return str(Path(out.stdout.strip()) / "git-http-backend")


class GitServer:
    """The running server: its base URL and the request paths it received."""

    def __init__(self, root: Path, httpd: ThreadingHTTPServer, *, https: bool = False) -> None:
        self.https = https
        self.root = root
        self.httpd = httpd
        self.requests: list[str] = []
        self.lock = threading.Lock()
        #: Seconds to wait before answering requests for repositories named ``stall*``.
        self.stall = 30.0
        #: The basic-auth credentials repositories named ``auth*`` accept.
        self.auth = ("robot", "s3cret-git")
        #: The Authorization headers received.
        self.authorizations: list[str] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        scheme = "https" if self.https else "http"
        return f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/"

    def record(self, path: str) -> None:
        with self.lock:
            self.requests.append(path)


def _handler(server: GitServer, backend: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            del format, args

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _run(self) -> None:
            parts = urlsplit(self.path)
            server.record(parts.path)
            if parts.path.startswith("/stall"):
                time.sleep(server.stall)
            given = self.headers.get("Authorization", "")
            if given:
                server.authorizations.append(given)
            user, password = server.auth
            wanted = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if parts.path.startswith("/auth") and given != wanted:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self._body() if self.command == "POST" else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": "127.0.0.1",
                "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": str(server.root),
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            proc = subprocess.run([backend], input=body, capture_output=True, env=env, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = proc.stdout.partition(b"\n\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._run()

        def do_POST(self) -> None:
            self._run()

    return Handler


@contextlib.contextmanager
def running_git_server(root: Path, *, tls: ssl.SSLContext | None = None) -> Iterator[GitServer]:
    """Serve the bare repositories under ``root`` for the block's duration (over TLS with
    ``tls``: then ``url`` is https)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    server = GitServer(root, httpd, https=tls is not None)
    httpd.RequestHandlerClass = _handler(server, _http_backend())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)

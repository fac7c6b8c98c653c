"""Real servers for tests: Redis (Debian's ``redis-server``) and an S3 server (versitygw over a
folder), each started on a free 127.0.0.1 port over a temporary folder and stopped afterwards.

``.ci/run`` installs ``redis-server``; ``scripts/fetch-corpus`` builds versitygw into
``.cache/bin/versitygw-VERSION`` (``scripts/build-versitygw``). A missing server fails the test
with the command that provides it: these tests never skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "S3_ACCESS_KEY",
    "S3_REGION",
    "S3_SECRET_KEY",
    "VERSITYGW_VERSION",
    "RedisServer",
    "S3Server",
    "free_port",
    "running_redis",
    "running_versitygw",
    "versitygw_binary",
    "wait_for_port",
]

VERSITYGW_VERSION = "v1.8.0"
S3_ACCESS_KEY = "gomodproxy-test"
S3_SECRET_KEY = "gomodproxy-test-secret-key"
S3_REGION = "us-east-1"

_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    """Wait until ``proc`` listens on 127.0.0.1:``port``; fail with its log if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port} in {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class RedisServer:
    """A running redis-server (``stop``/``start`` again on the same port and folder)."""

    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (no persistence: a restart begins empty, like a lost Redis)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: apt-get install -y redis-server (.ci/run does)"
            )
        log = self.folder / "redis.log"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        log.touch()
        wait_for_port(self.proc, self.port, log, 20)

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@contextlib.contextmanager
def running_redis(folder: Path) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, its files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(free_port(), folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def versitygw_binary() -> Path:
    """The versitygw binary built by scripts/build-versitygw (fails with the fix if missing)."""
    binary = _ROOT / ".cache" / "bin" / f"versitygw-{VERSITYGW_VERSION}"
    if not binary.exists():
        raise RuntimeError(f"{binary.name} is not built: run scripts/build-versitygw")
    return binary


@dataclass
class S3Server:
    """A running versitygw serving the folder ``data`` through the S3 API."""

    port: int
    data: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The ``http://`` endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """The standard AWS variables that give a client this server's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_REGION": S3_REGION,
        }

    def make_bucket(self, name: str) -> None:
        """Create a bucket (versitygw's posix backend: a top-level folder is a bucket)."""
        (self.data / name).mkdir()

    def start(self) -> None:
        """Start (or restart) the server on its port."""
        log = self.data.parent / f"versitygw-{self.port}.log"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "ROOT_ACCESS_KEY": S3_ACCESS_KEY,
            "ROOT_SECRET_KEY": S3_SECRET_KEY,
            "VGW_REGION": S3_REGION,
        }
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(versitygw_binary()),
                    "--port",
                    f"127.0.0.1:{self.port}",
                    "posix",
                    str(self.data),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_for_port(self.proc, self.port, log, 30)

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@contextlib.contextmanager
def running_versitygw(folder: Path) -> Iterator[S3Server]:
    """versitygw on a free loopback port over ``folder/data``."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    server = S3Server(free_port(), data)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""The static front (``gomodproxy front nginx``) for tests: generate its file with the command
for a proxy running on loopback, check it with ``nginx -t``, and run the real nginx with it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from tests.realservers import free_port, wait_for_port


def nginx_binary() -> str:
    """The nginx of the Debian package (``.ci/run`` installs it)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed: apt-get install -y nginx (.ci/run does)")
    return binary


@dataclass(frozen=True)
class FrontFiles:
    """A folder holding nginx.conf (main) including the generated ``front.conf``."""

    folder: Path
    port: int

    @property
    def main(self) -> Path:
        return self.folder / "nginx.conf"

    @property
    def site(self) -> Path:
        return self.folder / "front.conf"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def nginx_args(self) -> list[str]:
        """``-e``, ``-p`` and ``-c`` naming this folder's files."""
        err = str(self.folder / "error.log")
        return ["-e", err, "-p", str(self.folder), "-c", str(self.main)]

    def access_log(self) -> list[str]:
        """The request lines nginx logged (``$request $status``)."""
        path = self.folder / "access.log"
        return path.read_text().splitlines() if path.exists() else []


def front_files(folder: Path, port: int | None = None) -> FrontFiles:
    """A main nginx.conf including ``front.conf`` (generated separately)."""
    files = FrontFiles(folder, port or free_port())
    folder.mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 folders;
    # an operator gives nginx's user read access to the cache folder instead.
    user = "user root;\n" if os.geteuid() == 0 else ""
    files.main.write_text(
        f"{user}worker_processes 1;\n"
        f"pid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    log_format front '$request $status';\n"
        f"    access_log {folder}/access.log front;\n"
        f"    client_body_temp_path {folder}/body;\n"
        f"    proxy_temp_path {folder}/proxy;\n"
        f"    include {files.site};\n"
        "}\n"
    )
    return files


def generate(files: FrontFiles, cache_dir: Path, backend_port: int, *extra: str) -> tuple[int, str]:
    """Run ``gomodproxy front nginx --output front.conf`` (blocking); exit code and stderr."""
    args = [
        "front",
        "nginx",
        "--cache-dir",
        str(cache_dir),
        "--listen",
        f"127.0.0.1:{backend_port}",
        "--front-listen",
        f"127.0.0.1:{files.port}",
        "--upstream",
        "off",
        "--sumdb",
        "off",
        "--output",
        str(files.site),
        *extra,
    ]
    return _run_main(args)


def _run_main(args: Sequence[str]) -> tuple[int, str]:
    import io
    from contextlib import redirect_stderr

    err = io.StringIO()
    with redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def run_cli(*args: str) -> tuple[int, str]:
    """Any ``gomodproxy`` command (blocking); exit code and stderr."""
    return _run_main(args)


def nginx_check(files: FrontFiles) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on the folder's main file."""
    return subprocess.run(
        [nginx_binary(), "-t", *files.nginx_args()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def nginx_reload_command(files: FrontFiles) -> str:
    """The ``--reload-command`` of this folder's running nginx."""
    return " ".join([nginx_binary(), *files.nginx_args(), "-s", "reload"])


def _start_nginx(files: FrontFiles) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [nginx_binary(), *files.nginx_args(), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(proc, files.port, files.folder / "error.log", 30)
    except BaseException:
        _stop_nginx(proc)
        raise
    return proc


def _stop_nginx(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


@contextlib.asynccontextmanager
async def running_nginx(files: FrontFiles) -> AsyncIterator[subprocess.Popen[bytes]]:
    """nginx in the foreground on ``files.port``, stopped afterwards."""
    proc = await asyncio.to_thread(_start_nginx, files)
    try:
        yield proc
    finally:
        await asyncio.to_thread(_stop_nginx, proc)


@contextlib.asynccontextmanager
async def running_front(
    folder: Path, cache_dir: Path, proxy_url: str, *extra: str
) -> AsyncIterator[FrontFiles]:
    """The front generated for the proxy at ``proxy_url`` (its settings plus ``extra``) and
    nginx running with it."""
    files = await asyncio.to_thread(front_files, folder)
    backend_port = int(proxy_url.rsplit(":", 1)[1])
    code, err = await asyncio.to_thread(generate, files, cache_dir, backend_port, *extra)
    assert code == 0, err
    async with running_nginx(files):
        yield files

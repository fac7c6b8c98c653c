"""A cluster for tests: N ``gomodproxy serve`` processes over one S3 bucket and one Redis,
behind nginx (deploy/nginx/gomodproxy.conf, its replica list and port filled in), all on
127.0.0.1, started and stopped by the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.realservers import RedisServer, S3Server, free_port, wait_for_port

__all__ = ["Cluster", "Replica", "nginx_config"]

_ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = _ROOT / "deploy" / "nginx" / "gomodproxy.conf"


@dataclass
class Replica:
    """One ``gomodproxy serve`` process."""

    name: str
    port: int
    log: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def nginx_config(replica_ports: list[int], listen_port: int) -> str:
    """deploy/nginx/gomodproxy.conf with its replica list and listening port replaced."""
    text = NGINX_CONF.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in replica_ports
    )
    text, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n", "", text)
    assert n >= 1, "deploy/nginx/gomodproxy.conf lost its server lines"
    text = text.replace(
        "upstream gomodproxy_replicas {\n", "upstream gomodproxy_replicas {\n" + servers
    )
    text, n = re.subn(r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen_port};", text)
    assert n == 1
    return text


@dataclass
class Cluster:
    """Replicas sharing ``bucket`` on ``s3`` and ``redis``, nginx in front."""

    root: Path
    s3: S3Server
    bucket: str
    redis: RedisServer
    upstream: str
    gosumdb: str
    #: More ``serve`` arguments for every replica.
    extra_args: list[str] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)
    nginx_port: int = 0
    nginx: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The load balancer's URL (what the go command uses)."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
        env.update(
            {
                "HOME": str(self.root / "home"),
                "PYTHONUNBUFFERED": "1",
                "AWS_CONFIG_FILE": str(self.root / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "no-aws-credentials"),
            }
        )
        env.update(self.s3.environ())
        return env

    async def start_replica(self, replica: Replica) -> None:
        """Start (or restart) one replica on its port."""
        args = [
            "--listen", f"127.0.0.1:{replica.port}",
            "--cache-dir", str(self.root / replica.name),
            "--storage", "s3",
            "--s3-endpoint", self.s3.endpoint,
            "--s3-bucket", self.bucket,
            "--s3-prefix", "goproxy/",
            "--redis-url", self.redis.url,
            "--upstream", self.upstream,
            "--sumdb", self.gosumdb,
            "--list-ttl", "0",
            "--retries", "0",
            "--instance-id", replica.name,
            *self.extra_args,
        ]  # fmt: skip
        err = await asyncio.to_thread(open, replica.log, "ab")
        try:
            replica.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gomodproxy", "serve", *args,
                env=self.environ(), stdout=asyncio.subprocess.PIPE, stderr=err,
            )  # fmt: skip
        finally:
            err.close()
        assert replica.proc.stdout is not None
        line = await asyncio.wait_for(replica.proc.stdout.readline(), 60)
        if not line.startswith(b"gomodproxy: serving "):
            await replica.proc.wait()
            pytest.fail(f"replica did not start: {line!r}\n{replica.log.read_text()[-3000:]}")

    async def start(self, count: int) -> None:
        """Start ``count`` replicas, then nginx in front of them."""
        for i in range(count):
            name = f"replica{i + 1}"
            replica = Replica(name, free_port(), self.root / f"{name}.log")
            self.replicas.append(replica)
            await self.start_replica(replica)
        self.nginx_port = free_port()
        self.nginx = await asyncio.to_thread(self._start_nginx)

    def _start_nginx(self) -> subprocess.Popen[bytes]:
        conf_dir = self.root / "nginx"
        conf_dir.mkdir()
        site = conf_dir / "gomodproxy.conf"
        site.write_text(nginx_config([r.port for r in self.replicas], self.nginx_port))
        main = conf_dir / "nginx.conf"
        main.write_text(
            "worker_processes 1;\n"
            f"pid {conf_dir}/nginx.pid;\n"
            f"error_log {conf_dir}/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    access_log {conf_dir}/access.log;\n"
            f"    client_body_temp_path {conf_dir}/body;\n"
            f"    proxy_temp_path {conf_dir}/proxy;\n"
            f"    include {site};\n"
            "}\n"
        )
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        err = str(conf_dir / "error.log")
        subprocess.run(
            [binary, "-t", "-q", "-e", err, "-p", str(conf_dir), "-c", str(main)], check=True
        )
        proc = subprocess.Popen(
            [binary, "-e", err, "-p", str(conf_dir), "-c", str(main), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(proc, self.nginx_port, conf_dir / "error.log", 30)
        return proc

    async def kill(self, replica: Replica) -> None:
        """SIGKILL a replica (no clean-up of any kind)."""
        assert replica.proc is not None
        replica.proc.send_signal(signal.SIGKILL)
        await replica.proc.wait()

    async def stop(self) -> None:
        """Stop nginx and every replica."""
        if self.nginx is not None:
            self.nginx.terminate()
            await asyncio.to_thread(self.nginx.wait, 10)
        for replica in self.replicas:
            if replica.proc is not None and replica.proc.returncode is None:
                replica.proc.terminate()
                try:
                    await asyncio.wait_for(replica.proc.wait(), 30)
                except TimeoutError:
                    replica.proc.kill()
                    await replica.proc.wait()

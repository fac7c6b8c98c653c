"""deploy/nginx/gomodproxy-tls.conf: TLS termination in front of the replicas, checked by
``nginx -t`` with a throw-away certificate in place of the operator's, and used for real: the
go command (trusting only the test CA through SSL_CERT_FILE) downloads a corpus module over
https through nginx from a gomodproxy serve, and every byte it kept matches the corpus.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import nginx_config
from tests.corpus_data import CorpusModule, corpus_download_dir, corpus_modules
from tests.gotool import go_environ, run_go
from tests.origin import Origin
from tests.proxykit import SumDB, running_proxy, running_sumdb
from tests.realservers import free_port, wait_for_port
from tests.tlscert import LocalTLS, make_local_tls

TLS_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "gomodproxy-tls.conf"
CERT = "/etc/ssl/gomodproxy/fullchain.pem"
KEY = "/etc/ssl/gomodproxy/privkey.pem"
MODULE = "github.com/pkg/errors@v0.9.1"


def _tls_config(tls: LocalTLS | None, https_port: int, http_port: int) -> str:
    """The TLS file with the certificate paths replaced (None: left as shipped) and its two
    listening ports moved to loopback."""
    text = TLS_CONF.read_text()
    cert, key = f"ssl_certificate {CERT};", f"ssl_certificate_key {KEY};"
    assert text.count(cert) == 1
    assert text.count(key) == 1
    if tls is not None:
        text = text.replace(cert, f"ssl_certificate {tls.cert};")
        text = text.replace(key, f"ssl_certificate_key {tls.key};")
    text, n = re.subn(r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", text)
    assert n == 1
    text, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
    assert n == 1
    return text


def _write(folder: Path, replica_port: int, tls: LocalTLS | None) -> tuple[Path, int, int]:
    """nginx.conf including gomodproxy.conf (its replica list: ``replica_port``) and the TLS
    file; returns the main file and the https and http ports."""
    https_port, http_port = free_port(), free_port()
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "gomodproxy.conf"
    site.write_text(nginx_config([replica_port], free_port()))
    tls_site = folder / "gomodproxy-tls.conf"
    tls_site.write_text(_tls_config(tls, https_port, http_port))
    main = folder / "nginx.conf"
    main.write_text(
        "worker_processes 1;\n"
        f"pid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {folder}/access.log;\n"
        f"    client_body_temp_path {folder}/body;\n"
        f"    proxy_temp_path {folder}/proxy;\n"
        f"    include {site};\n"
        f"    include {tls_site};\n"
        "}\n"
    )
    return main, https_port, http_port


def _nginx() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed: apt-get install -y nginx (.ci/run does)")
    return binary


def _check(main: Path) -> subprocess.CompletedProcess[str]:
    folder = main.parent
    return subprocess.run(
        [_nginx(), "-t", "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextlib.contextmanager
def _running_nginx(main: Path, port: int) -> Iterator[None]:
    folder = main.parent
    err = str(folder / "error.log")
    proc = subprocess.Popen(
        [_nginx(), "-e", err, "-p", str(folder), "-c", str(main), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(proc, port, folder / "error.log", 30)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def test_tls_config_passes_nginx_t_with_a_real_certificate(tmp_path: Path) -> None:
    tls = make_local_tls(tmp_path / "tls")
    main, _, _ = _write(tmp_path / "nginx", free_port(), tls)
    result = _check(main)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr


def test_nginx_t_refuses_the_placeholder_certificate_paths(tmp_path: Path) -> None:
    """The check is real: as shipped, the certificate does not exist and nginx says so."""
    main, _, _ = _write(tmp_path / "nginx", free_port(), None)
    result = _check(main)
    assert result.returncode != 0
    assert CERT in result.stderr


def _module() -> CorpusModule:
    [m] = [m for m in corpus_modules() if m.id == MODULE]
    return m


@pytest.mark.gocmd
@pytest.mark.corpus
@pytest.mark.asyncio
async def test_the_go_command_downloads_through_nginx_over_https(tmp_path: Path) -> None:
    m = _module()
    tls = await asyncio.to_thread(make_local_tls, tmp_path / "tls")
    record = f"{m.path} {m.version} {m.zip_sum}\n{m.path} {m.version}/go.mod {m.mod_sum}\n"
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [record.encode()])
        origin = Origin(corpus_download_dir())
        await origin.start()
        try:
            async with running_proxy(
                tmp_path / "proxy-cache", upstream=origin.url, sumdb=db
            ) as proxy:
                replica_port = int(proxy.url.rsplit(":", 1)[1])
                main, https_port, http_port = await asyncio.to_thread(
                    _write, tmp_path / "nginx", replica_port, tls
                )
                with _running_nginx(main, https_port):
                    await _download_over_https(tmp_path, tls, https_port, http_port, db, m)
        finally:
            await origin.stop()


async def _download_over_https(
    tmp_path: Path, tls: LocalTLS, https_port: int, http_port: int, db: SumDB, m: CorpusModule
) -> None:
    base = f"https://127.0.0.1:{https_port}"
    # Plain HTTP is redirected to https; https answers with HSTS.
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"http://127.0.0.1:{http_port}/{m.path}/@v/list", allow_redirects=False
        ) as resp:
            assert resp.status == 308
            assert resp.headers["Location"].startswith("https://")
        async with http.get(f"{base}/{m.path}/@v/list", ssl=tls.client_context()) as resp:
            assert resp.status == 200
            assert "Strict-Transport-Security" in resp.headers

    home = tmp_path / "go"
    work = home / "work"
    await asyncio.to_thread(work.mkdir, parents=True)
    await asyncio.to_thread((work / "go.mod").write_text, "module example.com/tls\n\ngo 1.21\n")
    env = go_environ(home, goproxy=base, gosumdb=db.key.verifier_key)
    env["SSL_CERT_FILE"] = str(tls.cert)
    env["SSL_CERT_DIR"] = str(tmp_path / "no-certs")
    run = await asyncio.to_thread(
        run_go, ["mod", "download", "-json", m.id], cwd=work, env=env, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    cached = home / "gopath" / "pkg" / "mod" / "cache" / "download"
    rel = m.zip_file.relative_to(corpus_download_dir())
    assert (cached / rel).read_bytes() == m.zip_file.read_bytes()
    assert (cached / rel.with_suffix(".mod")).read_bytes() == m.mod_file.read_bytes()

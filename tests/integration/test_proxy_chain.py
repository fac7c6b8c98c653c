"""Two gomodproxies in a chain, the outer one finding the checksum database by name alone.

On a closed network the proxy reaches nothing but its upstream proxy, so, like the go command,
it must find a database named without a URL (``GOSUMDB=name+key``) through its upstreams'
``/sumdb/<name>/supported`` (cmd/go ``initBase``). Here the inner proxy knows the database's
URL; the outer one is given the name only, and the go command talks to the outer one, also
with the name only. The database's name does not resolve: every lookup the go command or the
outer proxy makes can only have travelled through both relays.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.corpus_data import corpus_download_dir, corpus_modules
from tests.gotool import go_environ, run_go
from tests.origin import Origin
from tests.proxykit import running_proxy, running_sumdb

pytestmark = [pytest.mark.gocmd, pytest.mark.corpus]

_MODULES = ("github.com/google/uuid@v1.6.0", "gopkg.in/yaml.v3@v3.0.1", "rsc.io/quote/v3@v3.1.0")


@pytest.mark.asyncio
async def test_a_proxy_finds_a_database_named_without_url_through_its_upstream_proxy(
    tmp_path: Path,
) -> None:
    modules = [m for m in corpus_modules() if m.id in _MODULES]
    assert len(modules) == len(_MODULES)
    records = [
        f"{m.path} {m.version} {m.zip_sum}\n{m.path} {m.version}/go.mod {m.mod_sum}\n".encode()
        for m in modules
    ]
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, records)
        origin = Origin(corpus_download_dir())
        await origin.start()
        try:
            async with (
                running_proxy(
                    tmp_path / "inner", upstream=origin.url, sumdb=db, instance_id="inner"
                ) as inner,
                running_proxy(
                    tmp_path / "outer",
                    upstream=inner.url,
                    sumdb=db,
                    by_name=True,
                    instance_id="outer",
                ) as outer,
            ):
                home = tmp_path / "go"
                work = home / "work"
                work.mkdir(parents=True)
                (work / "go.mod").write_text("module example.com/chain\n\ngo 1.21\n")
                env = go_environ(home, goproxy=outer.url, gosumdb=db.key.verifier_key)
                run = await asyncio.to_thread(
                    run_go, ["mod", "download", "-json", *_MODULES], cwd=work, env=env
                )
                assert run.returncode == 0, run.stderr
                for m in modules:
                    assert f'"Sum": "{m.zip_sum}"' in run.stdout, m.id
                # Both proxies verified every zip against the database before caching it.
                for proxy in (inner, outer):
                    assert proxy.metrics.verifications.value("zip", "ok") == len(modules)
                    assert proxy.metrics.verifications.value("zip", "mismatch") == 0
                assert {m.id for m in modules} <= set(db.stats.lookups_by_module)
        finally:
            await origin.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.asyncio
async def test_two_proxies_pointing_at_each_other_answer_508_at_once(tmp_path: Path) -> None:
    """Each proxy adds itself to ``Via``; the first to see itself answers 508, and each proxy on
    the way back passes the 508 on (an upstream's loop is not retried, nor turned into 502)."""
    port_a, port_b = _free_port(), _free_port()
    async with (
        running_sumdb(tmp_path / "sumdb") as db,
        running_proxy(
            tmp_path / "a",
            upstream=f"http://127.0.0.1:{port_b}",
            sumdb=db,
            port=port_a,
            instance_id="a",
            retries="3",
        ) as a,
        running_proxy(
            tmp_path / "b",
            upstream=f"http://127.0.0.1:{port_a}",
            sumdb=db,
            port=port_b,
            instance_id="b",
            retries="3",
        ),
        aiohttp.ClientSession() as http,
        http.get(a.url + "/example.com/m/@v/v1.0.0.info") as resp,
    ):
        body = await resp.text()
    assert resp.status == 508, body
    assert "loop" in body
    # One trip around the loop: each proxy asked its upstream once, no retries.
    assert a.metrics.upstream_fetches.value(f"http://127.0.0.1:{port_b}", "info", "error") == 1

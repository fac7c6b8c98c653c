"""Issue 16 §6: the fault drills of docs/guides/operations.md, each run with the go command.

Our proxy (the real app) sits in front of a local origin with ``--faults FILE``; our checksum
database logs the genuine modules. Each drill asserts the outcome the guide promises: tampered,
truncated or reset content never reaches the client whole and is never cached, the next fetch
after the fault is spent is genuine, ``|`` falls through a failing upstream, the cached list is
served while the upstream fails, and a drill is loud (log, /status) and refused on a
``--production`` proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.config import build_settings
from gomodproxy.errors import ConfigError
from gomodproxy.modzip.extract import remove_tree
from tests.gotool import go_environ, run_go
from tests.origin import Origin, running_origin
from tests.proxykit import (
    RunningProxy,
    SumDB,
    SynthModule,
    publish,
    running_proxy,
    running_sumdb,
    synth,
)

pytestmark = pytest.mark.gocmd

ALPHA = synth("example.com/alpha", "v1.0.0", size=40_000)
ALPHA2 = synth("example.com/alpha", "v1.1.0", size=1000)
BETA = synth("example.com/beta", "v1.0.0", size=2000)
MODULES = [ALPHA, ALPHA2, BETA]


@dataclass
class Site:
    root: Path
    origin: Origin
    db: SumDB
    runs: int = 0

    def faults(self, text: str) -> str:
        """Write a drill file; its path."""
        self.runs += 1
        path = self.root / f"drill{self.runs}.toml"
        path.write_text(text)
        return str(path)

    async def go(
        self, proxy: str, args: Sequence[str]
    ) -> tuple[subprocess.CompletedProcess[str], Path]:
        """The go command in a fresh module cache, through ``proxy``."""
        self.runs += 1
        home = self.root / f"go{self.runs}"
        home.mkdir()
        env = go_environ(home, goproxy=proxy, gosumdb=self.db.gosumdb, goflags="")
        run = await asyncio.to_thread(run_go, list(args), cwd=home, env=env, timeout=300)
        return run, home


@contextlib.asynccontextmanager
async def _site(tmp_path: Path) -> AsyncIterator[Site]:
    async with running_origin() as origin, running_sumdb(tmp_path / "db", MODULES) as db:
        publish(origin, *MODULES)
        yield Site(tmp_path, origin, db)
    await asyncio.to_thread(remove_tree, tmp_path)  # read-only module cache trees


def _download(m: SynthModule) -> list[str]:
    return ["mod", "download", "-json", f"{m.path}@{m.version}"]


def _cached(proxy: RunningProxy, m: SynthModule, ext: str) -> bytes | None:
    """The file the proxy kept for ``m`` (None: not in its cache)."""
    kept = proxy.storage.root / m.rel(ext)
    return kept.read_bytes() if kept.is_file() else None


def _zip_in_go_cache(home: Path, m: SynthModule) -> Path:
    return (
        home / "gopath" / "pkg" / "mod" / "cache" / "download" / m.path / "@v" / f"{m.version}.zip"
    )


#: What the go command is told, per drill (docs/guides/operations.md, Fault drills).
_ZIP_OUTCOMES = {
    "tamper": "zip: checksum error",
    "truncate": "not a valid zip file",
    "reset": "connection reset after",
}


@pytest.mark.timeout(300)
@pytest.mark.asyncio
@pytest.mark.parametrize("action", ["tamper", "truncate", "reset"])
async def test_drill_a_bad_zip_never_reaches_the_client_whole_nor_the_cache(
    tmp_path: Path, action: str
) -> None:
    """Drills "tampered zip", "truncated zip", "reset mid-zip" (faults 22, 13, 12): the go
    command fails (it never reports the bad zip verified), nothing is cached, and once the
    fault is spent (count = 1) the same proxy serves the genuine zip."""
    async with _site(tmp_path) as site:
        drill = site.faults(
            f'[[fault]]\naction = "{action}"\nmodules = ["{ALPHA.path}"]\nkinds = ["zip"]\n'
            "count = 1\n"
        )
        async with running_proxy(
            tmp_path / "cache", upstream=site.origin.url, sumdb=site.db, faults=drill
        ) as proxy:
            failed, home = await site.go(proxy.url, _download(ALPHA))
            assert failed.returncode != 0, failed.stdout
            error = json.loads(failed.stdout)["Error"]
            assert "502 Bad Gateway" in error
            assert _ZIP_OUTCOMES[action] in error
            assert not _zip_in_go_cache(home, ALPHA).exists()
            assert _cached(proxy, ALPHA, "zip") is None
            again, _ = await site.go(proxy.url, _download(ALPHA))
            assert again.returncode == 0, again.stdout + again.stderr
            assert json.loads(again.stdout)["Sum"] == ALPHA.zip_h1
            assert _cached(proxy, ALPHA, "zip") == ALPHA.zip
        assert site.origin.count(ALPHA.rel("zip")) == 2


@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_drill_a_tampered_go_mod_is_refused_and_never_cached(tmp_path: Path) -> None:
    """Drill "tampered go.mod" (fault 22): the proxy proves the go.mod against the checksum
    database before it answers, so the client gets an error, never the altered file."""
    async with _site(tmp_path) as site:
        drill = site.faults(
            f'[[fault]]\naction = "tamper"\nmodules = ["{BETA.path}"]\nkinds = ["mod"]\n'
        )
        async with running_proxy(
            tmp_path / "cache", upstream=site.origin.url, sumdb=site.db, faults=drill
        ) as proxy:
            failed, home = await site.go(proxy.url, _download(BETA))
            assert _cached(proxy, BETA, "mod") is None
    assert failed.returncode != 0
    assert "502" in failed.stdout + failed.stderr
    assert not (
        home / "gopath" / "pkg" / "mod" / "cache" / "download" / BETA.path / "@v" / "v1.0.0.mod"
    ).exists()


@pytest.mark.timeout(300)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault", ['action = "error"\nstatus = 503', 'action = "timeout"'], ids=["error", "timeout"]
)
async def test_drill_a_failing_upstream_is_passed_over_with_a_pipe(
    tmp_path: Path, fault: str
) -> None:
    """Drill "first upstream down" (fault 2): with ``A|B`` every request failing at A is
    answered from B; the go command succeeds and sees nothing."""
    async with _site(tmp_path) as site, running_origin() as second:
        publish(second, *MODULES)
        drill = site.faults(f'[[fault]]\n{fault}\nupstreams = ["{site.origin.url}"]\n')
        async with running_proxy(
            tmp_path / "cache",
            upstream=f"{site.origin.url}|{second.url}",
            sumdb=site.db,
            faults=drill,
        ) as proxy:
            run, _ = await site.go(proxy.url, _download(ALPHA))
        assert run.returncode == 0, run.stdout + run.stderr
        assert json.loads(run.stdout)["Sum"] == ALPHA.zip_h1
        assert site.origin.count() == 0  # the faults struck before any request left
        assert second.count(ALPHA.rel("zip")) == 1


@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_drill_the_cached_list_is_served_while_the_upstream_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Drill "upstream down, list cached" (fault H81, stale-if-error): a proxy restarted on
    the same cache with every list and @latest failing still answers the versions it knew."""
    query = ["list", "-m", "-json", "-versions", f"{ALPHA.path}@latest"]
    async with _site(tmp_path) as site:
        async with running_proxy(tmp_path / "cache", upstream=site.origin.url, sumdb=site.db) as p:
            warm, _ = await site.go(p.url, query)
        assert warm.returncode == 0, warm.stderr
        drill = site.faults(
            '[[fault]]\naction = "error"\nstatus = 503\nkinds = ["list", "latest"]\n'
        )
        async with running_proxy(
            tmp_path / "cache", upstream=site.origin.url, sumdb=site.db, faults=drill
        ) as p:
            stale, _ = await site.go(p.url, query)
    assert stale.returncode == 0, stale.stderr
    assert "listing.stale_served" in caplog.text
    assert "fault.injected" in caplog.text
    assert json.loads(stale.stdout)["Versions"] == ["v1.0.0", "v1.1.0"]
    assert json.loads(stale.stdout)["Version"] == json.loads(warm.stdout)["Version"] == "v1.1.0"


@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_drill_latency_slows_but_never_breaks_a_download(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Drill "slow upstream": half the requests wait 0.2 s; the download succeeds."""
    async with _site(tmp_path) as site:
        drill = site.faults('seed = 7\n[[fault]]\naction = "latency"\nseconds = 0.2\nshare = 0.5\n')
        async with running_proxy(
            tmp_path / "cache", upstream=site.origin.url, sumdb=site.db, faults=drill
        ) as proxy:
            run, _ = await site.go(proxy.url, _download(ALPHA))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["Sum"] == ALPHA.zip_h1
    assert "action=latency" in caplog.text  # seed 7 picks at least one of the requests


def test_a_drill_is_refused_on_a_production_proxy(tmp_path: Path) -> None:
    drill = tmp_path / "drill.toml"
    drill.write_text('[[fault]]\naction = "reset"\n')
    values = {"upstream": "http://127.0.0.1:9", "faults": str(drill), "production": "true"}
    with pytest.raises(ConfigError, match="refused on a --production proxy"):
        build_settings(values, {"HOME": str(tmp_path)}, go_env=lambda names: {})
    env = {"HOME": str(tmp_path), "GOMODPROXY_PRODUCTION": "1"}
    with pytest.raises(ConfigError, match="refused on a --production proxy"):
        build_settings(
            {"upstream": "http://127.0.0.1:9", "faults": str(drill)}, env, go_env=lambda names: {}
        )


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_a_drill_is_loud_in_the_log_and_on_the_status_page(tmp_path: Path) -> None:
    """``gomodproxy serve --faults``: WARNING lines at start-up and for every injection, and
    a banner with each rule's count on /status; refused outright with ``--production``."""
    async with _site(tmp_path) as site:
        drill = site.faults('[[fault]]\naction = "error"\nstatus = 502\nkinds = ["info"]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
        env |= {"HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
        args = [
            sys.executable,
            "-m",
            "gomodproxy",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            site.origin.url,
            "--sumdb",
            site.db.gosumdb,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--retries",
            "0",
            "--faults",
            drill,
        ]
        refused = await asyncio.create_subprocess_exec(
            *args,
            "--production",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(refused.communicate(), 60)
        assert out == b""
        assert refused.returncode != 0
        assert b"refused on a --production proxy" in err

        log = tmp_path / "serve.log"
        with log.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=log_file
            )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line.startswith(b"gomodproxy: serving "), line
            url = line.split()[-1].decode()
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{url}/{ALPHA.rel('info')}") as resp:
                    assert resp.status == 502
                async with session.get(f"{url}/status") as resp:
                    page = await resp.text()
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        text = log.read_text()
    assert "faults.enabled" in text
    assert "FAULT DRILL ACTIVE" in text
    assert "fault.injected" in text
    assert f"module={ALPHA.path}" in text
    assert "FAULT DRILL ACTIVE" in page
    assert "<td>1</td><td>error 502 on info, all modules, share 1</td><td>1</td>" in page


@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_drill_the_circuit_opens_on_a_failing_upstream_and_closes_after_a_probe(
    tmp_path: Path,
) -> None:
    """Drill "circuit breaker": with ``A|B`` and A failing every request, two failures open
    A's circuit; from then on A is not asked (its requests go straight to B) until the
    cool-down ends and one probe finds A working again, which closes the circuit. Shown in
    the metrics and on /status."""
    async with _site(tmp_path) as site, running_origin() as second:
        publish(second, *MODULES)
        a = site.origin.url
        drill = site.faults(f'[[fault]]\naction = "error"\nupstreams = ["{a}"]\ncount = 2\n')
        async with running_proxy(
            tmp_path / "cache",
            upstream=f"{a}|{second.url}",
            sumdb=site.db,
            faults=drill,
            breaker_failures="2",
            breaker_cooldown="0.5",
        ) as proxy:
            m = proxy.metrics
            first, _ = await site.go(proxy.url, _download(ALPHA))
            assert first.returncode == 0, first.stdout + first.stderr
            assert m.circuit_states.value(a) == 2  # open
            assert m.circuit_openings.value(a) == 1
            assert m.circuit_rejections.value(a) >= 1  # the zip at least
            assert site.origin.count() == 0
            assert m.circuit_states.value(second.url) == 0
            await asyncio.sleep(0.6)  # past the cool-down: the next request is a probe
            later, _ = await site.go(proxy.url, _download(BETA))
            assert later.returncode == 0, later.stdout + later.stderr
            assert m.circuit_states.value(a) == 0  # closed: the probe was answered
            assert site.origin.count(BETA.rel("zip")) == 1  # A serves again
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{proxy.url}/metrics") as resp:
                    exposition = await resp.text()
                async with session.get(f"{proxy.url}/status") as resp:
                    page = await resp.text()
        assert f'gomodproxy_upstream_circuit_opened_total{{upstream="{a}"}} 1.0' in exposition
        assert f"<td>{a}</td><td>closed</td><td>1</td>" in page


@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_drill_a_slow_upstream_is_hedged_to_the_next_one(tmp_path: Path) -> None:
    """Drill "slow first upstream, hedged": with ``A|B`` and ``--hedge-after 100``, A's small
    files wait 20 s; after 0.1 s the same request goes to B, whose answer is served, and A's
    request is cancelled before it leaves. The go command gets every file from B well before
    A would have answered; the zip (never hedged) still comes from A. Shown in the metrics."""
    async with _site(tmp_path) as site, running_origin() as second:
        publish(second, *MODULES)
        a, b = site.origin.url, second.url
        drill = site.faults(
            f'[[fault]]\naction = "latency"\nseconds = 20.0\nupstreams = ["{a}"]\n'
            'kinds = ["info", "mod", "list", "latest"]\n'
        )
        async with running_proxy(
            tmp_path / "cache",
            upstream=f"{a}|{b}",
            sumdb=site.db,
            faults=drill,
            hedge_after="100",
        ) as proxy:
            m = proxy.metrics
            run, _ = await site.go(proxy.url, ["mod", "download", "-json", f"{ALPHA.path}@latest"])
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{proxy.url}/metrics") as resp,
            ):
                exposition = await resp.text()
        assert run.returncode == 0, run.stdout + run.stderr
        assert json.loads(run.stdout)["Version"] == ALPHA2.version
        assert json.loads(run.stdout)["Sum"] == ALPHA2.zip_h1
        # Every small file came from B; A's slow requests were cancelled in the drill's
        # wait, before they reached A's origin.
        # The go command asked list, .info, .mod, .zip. Every small file came from B; A's
        # slow requests were cancelled in the drill's wait, before they reached A's origin.
        small = (ALPHA.list_rel, ALPHA2.rel("info"), ALPHA2.rel("mod"))
        assert [second.count(rel) for rel in small] == [1, 1, 1]
        assert [site.origin.count(rel) for rel in small] == [0, 0, 0]
        assert site.origin.count(ALPHA2.rel("zip")) == 1  # zips are not hedged
        assert second.count(ALPHA2.rel("zip")) == 0
        for kind in ("list", "info", "mod"):
            assert m.hedges_sent.value(b, kind) == 1, kind
            assert m.hedges_won.value(b, kind) == 1, kind
        assert f'gomodproxy_upstream_hedges_won_total{{kind="mod",upstream="{b}"}} 1.0' in (
            exposition
        )

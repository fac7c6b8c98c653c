"""The proof: the real go command downloads through our proxy and verifies via our relay.

Set-up: the local origin serves the real-module corpus (``cache/download`` written by the go
command); our checksum database (``gomodproxy.sumdbserver``) holds the go.sum lines the go
command recorded for the corpus; our proxy sits in front of the origin with that database as
its checksum database. The go command gets a fresh GOMODCACHE, an empty go.sum,
``GOPROXY=<our proxy>`` and ``GOSUMDB=<name+key>`` without a URL: it can only reach the
database through our relay (the name does not resolve), so every verified download proves the
relay. The go command runs in a worker thread so the servers keep answering.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.storage import FilesystemStorage
from tests.corpus_data import CorpusModule, corpus_download_dir, corpus_modules
from tests.gotool import go_environ, run_go
from tests.origin import Fault, Origin
from tests.proxykit import SumDB, running_proxy, running_sumdb

pytestmark = [pytest.mark.gocmd, pytest.mark.corpus]

# A spread of shapes: upper-case paths, +incompatible, /vN, gopkg.in, pseudo-versions, no go.mod.
SAMPLE = (
    "github.com/Azure/go-autorest@v14.2.0+incompatible",
    "github.com/BurntSushi/toml@v1.4.1-0.20240526193622-a339e1f7089c",
    "github.com/Masterminds/semver/v3@v3.3.1",
    "github.com/google/uuid@v1.6.0",
    "github.com/pkg/errors@v0.9.1",
    "gopkg.in/yaml.v3@v3.0.1",
    "gopkg.in/check.v1@v1.0.0-20201130134442-10cb98267c6c",
    "rsc.io/quote/v3@v3.1.0",
    "rsc.io/sampler@v1.99.99",
    "github.com/kr/text@v0.2.0",
)


def _modules(ids: Sequence[str] | None = None) -> list[CorpusModule]:
    everything = corpus_modules()
    if ids is None:
        return everything
    by_id = {m.id: m for m in everything}
    missing = [i for i in ids if i not in by_id]
    assert not missing, f"not in the corpus: {missing}"
    return [by_id[i] for i in ids]


def _record(m: CorpusModule) -> bytes:
    return f"{m.path} {m.version} {m.zip_sum}\n{m.path} {m.version}/go.mod {m.mod_sum}\n".encode()


@dataclass
class Stack:
    """Origin, database and proxy on 127.0.0.1, and a scratch folder for go runs."""

    origin: Origin
    db: SumDB
    proxy_url: str
    storage: FilesystemStorage
    metrics: ProxyMetrics
    root: Path
    runs: int = 0

    def env(self, home: Path) -> dict[str, str]:
        return go_environ(home, goproxy=self.proxy_url, gosumdb=self.db.key.verifier_key)

    async def go(
        self, args: Sequence[str], *, home: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the go command in a fresh module folder (fresh GOMODCACHE unless ``home``)."""
        self.runs += 1
        home = home or self.root / f"home{self.runs}"
        work = home / "work"
        work.mkdir(parents=True, exist_ok=True)
        (work / "go.mod").write_text("module example.com/proxytest\n\ngo 1.21\n")
        (work / "go.sum").write_text("")
        return await asyncio.to_thread(
            run_go, list(args), cwd=work, env=self.env(home), timeout=600
        )


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    modules = _modules()
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [_record(m) for m in modules])
        origin = Origin(corpus_download_dir())
        await origin.start()
        try:
            async with running_proxy(
                tmp_path / "proxy-cache", upstream=origin.url, sumdb=db
            ) as proxy:
                yield Stack(origin, db, proxy.url, proxy.storage, proxy.metrics, tmp_path)
        finally:
            await origin.stop()


def _download_results(stdout: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    text = stdout.strip()
    pos = 0
    while pos < len(text):
        doc, end = decoder.raw_decode(text, pos)
        out.append(doc)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _forge(zip_file: Path) -> bytes:
    """The module zip with one file's content changed: well-formed, but not what was logged."""
    out = io.BytesIO()
    with zipfile.ZipFile(zip_file) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        changed = False
        for info in src.infolist():
            data = src.read(info)
            if not changed and info.filename.endswith(".go"):
                data += b"\n// tampered\n"
                changed = True
            dst.writestr(info, data)
    assert changed
    return out.getvalue()


def _lookup_key(db: SumDB, m: CorpusModule) -> str:
    return f"sumdb/{db.name}/lookup/{escape_path(m.path)}@{escape_version(m.version)}"


async def _assert_downloaded(
    stack: Stack, modules: Sequence[CorpusModule], run: subprocess.CompletedProcess[str]
) -> None:
    assert run.returncode == 0, run.stderr
    results = {f"{r['Path']}@{r['Version']}": r for r in _download_results(run.stdout)}
    for m in modules:
        r = results[m.id]
        assert "Error" not in r, r
        assert r["Sum"] == m.zip_sum, m.id
        assert r["GoModSum"] == m.mod_sum, m.id


@pytest.mark.slow
@pytest.mark.asyncio
async def test_go_mod_download_of_the_whole_corpus_verifies_through_our_relay(
    stack: Stack,
) -> None:
    modules = _modules()
    run = await stack.go(["mod", "download", "-json", *(m.id for m in modules)])
    await _assert_downloaded(stack, modules, run)
    for m in modules:
        # The relay kept every lookup the go command made (it could not reach the db itself),
        for key in (_lookup_key(stack.db, m),):
            assert await stack.storage.exists(key), key
        # and the proxy cached every file once, verified.
        for ext in ("info", "mod", "zip"):
            rel = f"{escape_path(m.path)}/@v/{escape_version(m.version)}.{ext}"
            assert stack.origin.count(rel) == 1, rel
    assert stack.metrics.verifications.value("zip", "mismatch") == 0
    assert stack.metrics.verifications.value("zip", "ok") == len(modules)


@pytest.mark.asyncio
async def test_a_second_run_with_the_origin_stopped_is_served_wholly_from_cache(
    stack: Stack,
) -> None:
    modules = _modules(SAMPLE)
    first = await stack.go(["mod", "download", "-json", *(m.id for m in modules)])
    await _assert_downloaded(stack, modules, first)
    listed = await stack.go(["list", "-m", "-versions", "github.com/google/uuid"])
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["github.com/google/uuid", "v1.6.0"]
    requests_before = len(stack.origin.requests)
    await stack.origin.stop()
    second = await stack.go(["mod", "download", "-json", *(m.id for m in modules)])
    await _assert_downloaded(stack, modules, second)
    listed = await stack.go(["list", "-m", "-versions", "github.com/google/uuid"])
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["github.com/google/uuid", "v1.6.0"]
    assert len(stack.origin.requests) == requests_before


@pytest.mark.asyncio
async def test_the_proxy_cache_folder_serves_the_go_command_as_a_file_goproxy(
    stack: Stack,
) -> None:
    """The cache folder has the go command's ``cache/download`` layout: after a download through
    the proxy, ``GOPROXY=file://<cache-dir>`` alone gives the go command the same modules,
    versions in ``list`` included (and our bookkeeping folder never gets in its way)."""
    modules = _modules(SAMPLE)
    run = await stack.go(["mod", "download", "-json", *(m.id for m in modules)])
    await _assert_downloaded(stack, modules, run)
    home = stack.root / "file-goproxy"
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_text("module example.com/fileproxy\n\ngo 1.21\n")
    env = go_environ(
        home, goproxy="file://" + stack.storage.root.as_posix(), gosumdb=stack.db.gosumdb
    )
    args = ["mod", "download", "-json", *(m.id for m in modules)]
    again = await asyncio.to_thread(run_go, args, cwd=work, env=env)
    await _assert_downloaded(stack, modules, again)
    listed = await asyncio.to_thread(
        run_go, ["list", "-m", "-versions", "github.com/google/uuid"], cwd=work, env=env
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["github.com/google/uuid", "v1.6.0"]


@pytest.mark.asyncio
async def test_the_cache_folder_as_a_file_goproxy_serves_the_checksum_database_by_name(
    tmp_path: Path,
) -> None:
    """With an empty go.sum the go command must verify, and a database named without a URL is
    found through the proxy (``<GOPROXY>/sumdb/<name>/supported``): the cache folder, as
    ``GOPROXY=file://<cache-dir>``, has the marker and every lookup and tile the relay passed
    on, so the go command verifies with nothing running at all."""
    modules = _modules(
        [
            "github.com/Azure/go-autorest@v14.2.0+incompatible",
            "github.com/google/uuid@v1.6.0",
            "gopkg.in/yaml.v3@v3.0.1",
            "rsc.io/quote/v3@v3.1.0",
        ]
    )
    args = ["mod", "download", "-json", *(m.id for m in modules)]
    cache = tmp_path / "proxy-cache"
    async with running_sumdb(tmp_path / "sumdb") as db:
        await asyncio.to_thread(db.store.append, [_record(m) for m in _modules()])
        origin = Origin(corpus_download_dir())
        await origin.start()
        try:
            async with running_proxy(cache, upstream=origin.url, sumdb=db) as proxy:
                stack = Stack(origin, db, proxy.url, proxy.storage, proxy.metrics, tmp_path)
                await _assert_downloaded(stack, modules, await stack.go(args))
        finally:
            await origin.stop()
    # Proxy, origin and database are stopped: only the cache folder is left.
    home = tmp_path / "offline"
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_text("module example.com/offline\n\ngo 1.21\n")
    (work / "go.sum").write_text("")
    # Anything the go command tried to reach over HTTP would go to a closed loopback port.
    nowhere = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    env = go_environ(home, goproxy=cache.as_uri(), gosumdb=db.key.verifier_key, extra=nowhere)
    again = await asyncio.to_thread(run_go, args, cwd=work, env=env)
    await _assert_downloaded(stack, modules, again)
    # The go command verified each module against the database (its own cache of lookups).
    own = home / "gopath" / "pkg" / "mod" / "cache" / "download" / "sumdb" / db.name / "lookup"
    for m in modules:
        assert (own / f"{escape_path(m.path)}@{escape_version(m.version)}").is_file(), m.id


@pytest.mark.asyncio
async def test_go_get_latest_and_a_major_version_query(stack: Stack) -> None:
    run = await stack.go(["get", "github.com/google/uuid@latest"])
    assert run.returncode == 0, run.stderr
    assert "github.com/google/uuid v1.6.0" in run.stderr
    run = await stack.go(["get", "github.com/pkg/errors@v0"])
    assert run.returncode == 0, run.stderr
    assert "github.com/pkg/errors v0.9.1" in run.stderr
    run = await stack.go(["get", "github.com/google/uuid@v1"])
    assert run.returncode == 0, run.stderr
    listed = await stack.go(["list", "-m", "-json", "github.com/google/uuid@v1"])
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["Version"] == "v1.6.0"


@pytest.mark.asyncio
async def test_b22_a_tampered_zip_at_the_origin_is_refused_and_the_go_command_fails(
    stack: Stack,
) -> None:
    victim, other = _modules(["github.com/google/uuid@v1.6.0", "github.com/pkg/errors@v0.9.1"])
    rel = f"{escape_path(victim.path)}/@v/{victim.version}.zip"
    forged = await asyncio.to_thread(_forge, victim.zip_file)
    stack.origin.inject(Fault(body=forged), rel)
    run = await stack.go(["mod", "download", "-json", victim.id])
    assert run.returncode != 0
    assert not await stack.storage.exists(rel)
    assert (
        stack.metrics.verifications.value("zip", "mismatch")
        + stack.metrics.verifications.value("zip", "error")
        >= 1
    )
    # Nothing bad was cached: with the origin repaired the next run succeeds.
    stack.origin.clear_faults()
    run = await stack.go(["mod", "download", "-json", victim.id, other.id])
    await _assert_downloaded(stack, [victim, other], run)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "expect"),
    [
        (Fault(status=500), "502"),
        (Fault(delay=10), "504 Gateway Timeout"),
        (Fault(stall_at=100), ""),
        (Fault(truncate_at=2000), ""),
        # Small enough to be held back whole: refused with a 502, never a complete empty 200.
        (Fault(body=b""), "502 Bad Gateway"),
    ],
)
async def test_upstream_faults_give_clear_errors_and_the_next_good_fetch_works(
    stack: Stack, fault: Fault, expect: str
) -> None:
    (m,) = _modules(["github.com/kr/text@v0.2.0"])
    rel = f"{escape_path(m.path)}/@v/{m.version}.zip"
    stack.origin.inject(fault, rel)
    run = await stack.go(["mod", "download", "-json", m.id])
    assert run.returncode != 0
    assert expect in run.stdout + run.stderr
    assert not await stack.storage.exists(rel)
    stack.origin.clear_faults()
    run = await stack.go(["mod", "download", "-json", m.id])
    await _assert_downloaded(stack, [m], run)


@pytest.mark.asyncio
async def test_b22_with_zip_verify_first_the_go_command_is_told_why_a_big_zip_was_refused(
    stack: Stack,
) -> None:
    big = [m for m in _modules() if m.zip_file.stat().st_size > 512 << 10]
    victim = min(big, key=lambda m: m.zip_file.stat().st_size)
    rel = f"{escape_path(victim.path)}/@v/{victim.version}.zip"
    forged = await asyncio.to_thread(_forge, victim.zip_file)
    stack.origin.inject(Fault(body=forged), rel)
    # Streamed (the default): the go command sees only a cut connection.
    run = await stack.go(["mod", "download", "-json", victim.id])
    assert run.returncode != 0
    assert "checksum mismatch" not in run.stdout + run.stderr
    async with running_proxy(
        stack.root / "strict-cache",
        upstream=stack.origin.url,
        sumdb=stack.db,
        zip_verify_first="true",
    ) as strict:
        home = stack.root / "strict-home"
        work = home / "work"
        work.mkdir(parents=True)
        (work / "go.mod").write_text("module example.com/proxytest\n\ngo 1.21\n")
        env = go_environ(home, goproxy=strict.url, gosumdb=stack.db.key.verifier_key)
        run = await asyncio.to_thread(
            run_go, ["mod", "download", "-json", victim.id], cwd=work, env=env
        )
        assert run.returncode != 0
        out = run.stdout + run.stderr
        assert "502 Bad Gateway" in out
        assert "checksum mismatch" in out, out
        assert not await strict.storage.exists(rel)

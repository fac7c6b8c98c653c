"""``gomodproxy cache ls|verify`` on a cache filled by the real proxy from a local origin."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.cli.main import main
from tests.origin import Origin, running_origin
from tests.proxykit import RunningProxy, SumDB, publish, running_proxy, running_sumdb, synth

A1 = synth("example.com/a", "v1.0.0", size=300_000)
A2 = synth("example.com/a", "v1.1.0")
SUB = synth("example.com/a/sub", "v0.1.0")
B = synth("example.org/b", "v2.0.0+incompatible")
ALL = (A1, A2, SUB, B)


@dataclass
class Filled:
    origin: Origin
    db: SumDB
    proxy: RunningProxy
    cache: Path
    http: aiohttp.ClientSession

    async def get(self, rel: str) -> tuple[int, bytes]:
        async with self.http.get(f"{self.proxy.url}/{rel}") as resp:
            return resp.status, await resp.read()


@pytest_asyncio.fixture
async def filled(tmp_path: Path) -> AsyncIterator[Filled]:
    """A proxy whose cache holds every file of ALL, fetched through it."""
    cache = tmp_path / "cache"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", ALL) as db,
        running_proxy(cache, upstream=origin.url, sumdb=db) as proxy,
        aiohttp.ClientSession() as http,
    ):
        publish(origin, *ALL)
        world = Filled(origin, db, proxy, cache, http)
        for m in ALL:
            for ext in ("info", "mod", "zip"):
                status, _ = await world.get(m.rel(ext))
                assert status == 200, m.rel(ext)
        yield world


async def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command line in a thread of its own (it runs its own event loop)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.asyncio
async def test_ls_lists_versions_with_sizes_and_times(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await _run(capsys, "cache", "ls", "--cache-dir", str(filled.cache))
    assert code == 0
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "example.com/a v1.0.0",
        "example.com/a v1.1.0",
        "example.com/a/sub v0.1.0",
        "example.org/b v2.0.0+incompatible",
    ]
    assert all(line.split("\t")[1] == "info,mod,zip" for line in lines)
    assert lines[0].split("\t")[2].endswith(" KiB")  # the 300 kB incompressible file
    assert "3 modules, 4 versions, " in err


@pytest.mark.asyncio
async def test_ls_json_with_a_pattern(filled: Filled, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("cache", "ls", "example.com/a", "--json", "--cache-dir", str(filled.cache))
    code, out, _ = await _run(capsys, *argv)
    assert code == 0
    doc = json.loads(out)
    assert [(v["path"], v["version"]) for v in doc["versions"]] == [
        ("example.com/a", "v1.0.0"),
        ("example.com/a", "v1.1.0"),
        ("example.com/a/sub", "v0.1.0"),
    ]
    first = doc["versions"][0]
    assert first["files"]["zip"]["size"] == len(A1.zip)
    assert first["files"]["mod"]["size"] == len(A1.mod)
    assert first["size"] == len(A1.zip) + len(A1.mod) + len(A1.info)
    assert first["fetched"].endswith("Z")
    assert doc["total_size"] == sum(v["size"] for v in doc["versions"])
    globbed = ("cache", "ls", "example.*/b", "--json", "--cache-dir", str(filled.cache))
    code, out, _ = await _run(capsys, *globbed)
    assert [v["path"] for v in json.loads(out)["versions"]] == ["example.org/b"]


@pytest.mark.asyncio
async def test_verify_passes_on_an_intact_cache(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await _run(capsys, "cache", "verify", "--json", "--cache-dir", str(filled.cache))
    doc = json.loads(out)
    assert code == 0, doc
    assert doc["ok"] is True
    assert doc["by_kind"]["zip"] == doc["by_kind"]["mod"] == doc["by_kind"]["info"] == 4
    assert doc["failures"] == []


@pytest.mark.asyncio
async def test_verify_quarantines_a_flipped_byte_and_the_proxy_fetches_it_again(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = filled.cache / A1.rel("zip")
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    code, out, _ = await _run(capsys, "cache", "verify", "--cache-dir", str(filled.cache))
    assert code == 1
    [failure] = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert failure.startswith(f"FAIL {A1.rel('zip')}: corrupt")
    assert failure.endswith("(quarantined; the proxy fetches it again)")
    assert out.splitlines()[-1].endswith(": 1 failed")
    assert not stored.exists()
    quarantine = filled.cache / ".gomodproxy" / ".store" / "quarantine"
    assert [p.read_bytes() for p in quarantine.iterdir()] == [bytes(data)]
    # Nothing else was touched, and the proxy serves the zip again, fetched anew.
    assert filled.origin.count(A1.rel("zip")) == 1
    assert await filled.get(A1.rel("zip")) == (200, A1.zip)
    assert filled.origin.count(A1.rel("zip")) == 2
    code, out, _ = await _run(capsys, "cache", "verify", "--cache-dir", str(filled.cache))
    assert code == 0, out


@pytest.mark.asyncio
async def test_verify_reports_a_mod_that_does_not_parse(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    # Stored through the store, so its recorded hash matches: only the parse can catch it.
    await filled.proxy.storage.put(B.rel("mod"), b"module (\n")
    code, out, _ = await _run(capsys, "cache", "verify", "--json", "--cache-dir", str(filled.cache))
    assert code == 1
    [failure] = json.loads(out)["failures"]
    assert failure["key"] == B.rel("mod")
    assert "parsing go.mod" in failure["reason"]
    assert failure["quarantined"] is True
    assert not (filled.cache / B.rel("mod")).exists()
    [moved] = [k for k in await filled.proxy.storage.list(".gomodproxy/") if "quarantine" in k]
    assert moved.startswith(".gomodproxy/quarantine/")
    assert moved.endswith("/" + B.rel("mod"))
    assert await filled.proxy.storage.get(moved) == b"module (\n"


@pytest.mark.asyncio
async def test_missing_cache_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await _run(capsys, "cache", "ls", "--cache-dir", str(tmp_path / "nope"))
    assert code == 1
    assert (
        err == f"gomodproxy: cache folder {tmp_path / 'nope'} does not exist; give --cache-dir DIR "
        "(or --storage s3 and the bucket settings)\n"
    )


@pytest.mark.asyncio
async def test_verify_against_the_checksum_database_quarantines_a_tampered_zip(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    """A zip stored through the store (its recorded SHA-256 matches, its zip rules pass) whose
    h1 the database does not list: only the lookup catches it."""
    tampered = synth(B.path, B.version, files={"go.mod": B.mod, "m.go": b"package m // evil\n"})
    await filled.proxy.storage.put(B.rel("zip"), tampered.zip)
    argv = ("cache", "verify", "--json", "--cache-dir", str(filled.cache))
    code, out, _ = await _run(capsys, *argv, "--sumdb", filled.db.gosumdb)
    assert code == 1
    doc = json.loads(out)
    [failure] = doc["failures"]
    assert failure["key"] == B.rel("zip")
    assert failure["reason"] == (
        f"zip hashes to {tampered.zip_h1} but the checksum database lists {B.zip_h1}: "
        "its content is not the module's (tampered)"
    )
    assert failure["quarantined"] is True
    assert not (filled.cache / B.rel("zip")).exists()
    # The proxy fetches the real zip again; then everything matches the database.
    assert await filled.get(B.rel("zip")) == (200, B.zip)
    code, out, _ = await _run(capsys, *argv, "--sumdb", filled.db.gosumdb)
    assert code == 0, out


@pytest.mark.asyncio
async def test_verify_with_the_database_unreachable_reports_without_quarantine(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    """Versions the proxy verified are checked against the records it proved then (kept in
    the store); one copied in some other way needs a lookup, which fails: reported, kept."""
    copied = synth("example.com/d", "v1.0.0")
    for ext in ("info", "mod", "zip"):
        await filled.proxy.storage.put(copied.rel(ext), getattr(copied, ext))
    gone = f"{filled.db.key.verifier_key} http://127.0.0.1:9"
    argv = ("cache", "verify", "--json", "--cache-dir", str(filled.cache), "--sumdb", gone)
    code, out, _ = await _run(capsys, *argv, "--upstream", "off")
    assert code == 1
    failures = json.loads(out)["failures"]
    assert sorted(f["key"] for f in failures) == [copied.rel("mod"), copied.rel("zip")]
    assert all(
        f["reason"].startswith("not checked against the checksum database: ") for f in failures
    )
    assert not any(f["quarantined"] for f in failures)
    assert all((filled.cache / m.rel("zip")).exists() for m in (*ALL, copied))


def _verify_on_a_terminal(cache: Path) -> tuple[int, bytes, bytes]:
    """``cache verify`` as a process whose stderr is a terminal (a pseudo-terminal)."""
    main_fd, term_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOMODPROXY_")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gomodproxy", "cache", "verify", "--cache-dir", str(cache)],
        stdout=subprocess.PIPE,
        stderr=term_fd,
        env=env,
    )
    os.close(term_fd)
    shown = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(main_fd)
    return proc.returncode, out, shown


@pytest.mark.asyncio
async def test_verify_shows_progress_on_a_terminal_only(
    filled: Filled, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, shown = await asyncio.to_thread(_verify_on_a_terminal, filled.cache)
    assert code == 0, shown
    assert b"verifying" in shown
    total = out.decode().split()[1]  # "checked N objects (...)"
    assert f"{total}/{total}".encode() in shown
    # Not on a pipe (the in-process runs above and here write no bar).
    code, _, err = await _run(capsys, "cache", "verify", "--cache-dir", str(filled.cache))
    assert code == 0
    assert "verifying" not in err

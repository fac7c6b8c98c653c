"""Two processes on one cache folder: waiting for the other's fetch is bounded (fault H79).

Another process (here a small Python program holding the cache's real file lock, as a worker
in the middle of a fetch would) owns the lock of a file; the service waits for it, takes the
file it stored, or gives up after ``lock_wait`` with a clear 504 instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.cache import ChecksumPolicy, ModuleService, ServiceOptions, StoredZip
from gomodproxy.errors import UpstreamTimeout
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.storage import FileLocks, FilesystemStorage
from gomodproxy.upstream.chain import build_chain
from gomodproxy.upstream.proxyclient import FetchPolicy
from tests.origin import Origin, running_origin
from tests.proxykit import publish, running_sumdb, synth

M = synth("example.com/shared", "v1.0.0", size=100_000)

_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from gomodproxy.storage import FileLocks, FilesystemStorage

    async def main() -> None:
        fs = FilesystemStorage(Path(sys.argv[1]))
        async with FileLocks(fs.locks_dir).lock(sys.argv[2]):
            print("locked", flush=True)
            if sys.stdin.readline().strip() == "store":
                await fs.put(sys.argv[2], Path(sys.argv[3]).read_bytes())

    asyncio.run(main())
    """
)


async def _hold(cache: Path, key: str, data_file: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, str(cache), key, str(data_file),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"locked\n"
    return proc


async def _release(proc: asyncio.subprocess.Process, word: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(word.encode() + b"\n")
    await proc.stdin.drain()
    assert await asyncio.wait_for(proc.wait(), 30) == 0


@contextlib.asynccontextmanager
async def _service(
    tmp_path: Path, lock_wait: float
) -> AsyncIterator[tuple[ModuleService, FilesystemStorage, Origin]]:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [M]) as db,
        aiohttp.ClientSession() as session,
    ):
        publish(origin, M)
        storage = FilesystemStorage(tmp_path / "cache")
        chain = build_chain(parse_goproxy(origin.url), session=session, policy=FetchPolicy())
        service = ModuleService(
            storage,
            chain,
            checksums=ChecksumPolicy(db.verifier(session)),
            locks=FileLocks(storage.locks_dir),
            options=ServiceOptions(lock_wait=lock_wait),
        )
        try:
            yield service, storage, origin
        finally:
            await service.close()


@pytest.mark.asyncio
async def test_h79_a_stuck_fetch_in_another_process_is_a_504_after_lock_wait(
    tmp_path: Path,
) -> None:
    async with _service(tmp_path, lock_wait=0.5) as (service, storage, origin):
        data = tmp_path / "mod"
        data.write_bytes(M.mod)
        holder = await _hold(storage.root, M.rel("mod"), data)
        try:
            with pytest.raises(UpstreamTimeout, match="another process sharing the cache") as info:
                await asyncio.wait_for(service.mod(M.path, M.version), 10)
            assert info.value.status_hint == 504
            assert origin.requests == []
        finally:
            await _release(holder, "quit")
        # Once the other process is gone, the next request fetches it itself.
        assert await service.mod(M.path, M.version) == M.mod


async def _read_zip(service: ModuleService) -> tuple[type, bytes]:
    async with service.open_zip(M.path, M.version) as source:
        return type(source), b"".join([c async for c in source.reader.chunks()])


@pytest.mark.asyncio
async def test_h79_a_file_the_other_process_stores_is_taken_without_a_fetch(
    tmp_path: Path,
) -> None:
    async with _service(tmp_path, lock_wait=30) as (service, storage, origin):
        data = tmp_path / "zip"
        data.write_bytes(M.zip)
        holder = await _hold(storage.root, M.rel("zip"), data)
        source = asyncio.create_task(_read_zip(service))
        await asyncio.sleep(0.3)
        await _release(holder, "store")
        kind, body = await asyncio.wait_for(source, 30)
        assert kind is StoredZip
        assert body == M.zip
        assert await storage.get(M.rel("zip")) == M.zip
        assert origin.count(M.rel("zip")) == 0

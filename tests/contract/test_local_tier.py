"""The local tier in front of S3 (``--local-cache-mb``), against a real S3 server.

The storage contract already runs over ``s3+local``; these are the tier's own claims: a hot
immutable file costs no S3 request (shown by stopping the S3 server), ``list`` never comes from
the tier, the folder stays under its size limit by evicting the least recently used file, a
damaged local copy is never served, and a streamed zip is kept only when read whole.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.errors import StorageError
from gomodproxy.storage import StorageSettings, open_storage
from gomodproxy.storage.tiered import TieredStorage, is_immutable_key
from tests.realservers import S3Server, running_versitygw

A = "example.com/m/@v/v1.0.0.zip"
B = "example.com/m/@v/v1.1.0.zip"
C = "example.com/m/@v/v1.2.0.zip"
LIST = "example.com/m/@v/list"


async def _open(server: S3Server, tmp_path: Path, mb: int = 1) -> TieredStorage:
    bucket = f"tier-{secrets.token_hex(6)}"
    server.make_bucket(bucket)
    settings = StorageSettings(
        "s3",
        tmp_path / "replica",
        s3_endpoint=server.endpoint,
        s3_bucket=bucket,
        local_cache_mb=mb,
        environ=server.environ(),
    )
    opened = await asyncio.to_thread(open_storage, settings)
    assert isinstance(opened.store, TieredStorage)
    return opened.store


@pytest_asyncio.fixture
async def tier(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[TieredStorage]:
    yield await _open(s3_server, tmp_path)


def _local_files(tmp_path: Path) -> set[str]:
    root = tmp_path / "replica" / "local"
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".gomodproxy" not in p.parts
    }


def test_only_a_versions_files_are_immutable() -> None:
    assert is_immutable_key(A)
    assert is_immutable_key("example.com/m/@v/v1.0.0.info")
    assert is_immutable_key("example.com/m/@v/v1.0.0.mod")
    assert not is_immutable_key(LIST)
    assert not is_immutable_key(".gomodproxy/upstream/example.com/m/@v/v1.0.0.info")
    assert not is_immutable_key(".gomodproxy/sumdb/cache/x/lookup/example.com/m@v1.0.0")


@pytest.mark.asyncio
async def test_a_hot_file_is_served_without_s3_and_list_never_is(tmp_path: Path) -> None:
    with running_versitygw(tmp_path / "s3") as server:
        tier = await _open(server, tmp_path)
        zip_data = os.urandom(300_000)
        await tier.put(A, zip_data)
        await tier.put(LIST, b"v1.0.0\n")
        assert await tier.get(A) == zip_data  # from S3, kept locally
        assert await tier.list("example.com/") == [LIST, A]
        await asyncio.to_thread(server.stop)
        assert await tier.get(A) == zip_data
        async with tier.open(A) as reader:
            assert b"".join([c async for c in reader.chunks()]) == zip_data
        assert tier.local_hits == 2
        with pytest.raises(StorageError):
            await tier.get(LIST)
        with pytest.raises(StorageError):
            await tier.list("example.com/")
        await asyncio.to_thread(server.start)


@pytest.mark.asyncio
async def test_the_tier_keeps_under_its_limit_evicting_the_least_recently_used(
    tier: TieredStorage, tmp_path: Path
) -> None:
    bodies = {key: os.urandom(400_000) for key in (A, B, C)}  # 3 x 400 kB > 1 MiB
    for key, body in bodies.items():
        await tier.put(key, body)
    await tier.get(A)
    await tier.get(B)
    await tier.get(A)  # A is now more recent than B
    await tier.get(C)  # over the limit: B goes
    assert _local_files(tmp_path) == {A, C}
    assert tier.shared_reads == 3
    assert await tier.get(B) == bodies[B]  # from S3 again; now A is the oldest
    assert _local_files(tmp_path) == {B, C}


@pytest.mark.asyncio
async def test_a_damaged_local_copy_is_never_served(tier: TieredStorage, tmp_path: Path) -> None:
    body = os.urandom(50_000)
    await tier.put(A, body)
    await tier.get(A)
    await asyncio.to_thread(_flip_a_bit, tmp_path / "replica" / "local" / A)
    assert await tier.get(A) == body  # the local check fails; the shared copy answers
    assert await tier.get(A) == body
    assert tier.local_hits == 1


def _flip_a_bit(path: Path) -> None:
    """Bit rot in place (the file keeps its inode and its record)."""
    with open(path, "r+b") as f:
        f.seek(100)
        byte = f.read(1)[0]
        f.seek(100)
        f.write(bytes([byte ^ 0x01]))


@pytest.mark.asyncio
async def test_a_streamed_zip_is_kept_only_when_read_whole(
    tier: TieredStorage, tmp_path: Path
) -> None:
    body = os.urandom(600_000)
    await tier.put(A, body)
    async with tier.open(A) as reader:
        async for _ in reader.chunks(65536):
            break  # a client that went away
    assert _local_files(tmp_path) == set()
    async with tier.open(A) as reader:
        assert b"".join([c async for c in reader.chunks(65536)]) == body
    assert _local_files(tmp_path) == {A}

"""S3 backend specifics against a real S3 server (versitygw over a folder on loopback).

The contract suite (test_storage_contract.py) already runs over S3; these are what only S3 has:
the bucket layout, damage found through the recorded metadata (fault catalogue I84), uploads
in parts that are whole or invisible, objects adopted from other tools, and a stopped server
answered with a clear 503 that names the bucket and never a credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.errors import StorageError
from gomodproxy.storage import CorruptObject, ObjectNotFound, StorageSettings, open_storage
from gomodproxy.storage.s3 import MULTIPART_THRESHOLD, S3Storage
from tests.realservers import S3_SECRET_KEY, S3Server, running_versitygw

ZIP_KEY = "github.com/!azure/go-autorest/@v/v14.2.0+incompatible.zip"


def _settings(server: S3Server, tmp_path: Path, bucket: str) -> StorageSettings:
    return StorageSettings(
        "s3",
        tmp_path / "spool-root",
        s3_endpoint=server.endpoint,
        s3_bucket=bucket,
        s3_prefix="goproxy/",
        environ=server.environ(),
    )


async def _open(server: S3Server, tmp_path: Path) -> tuple[S3Storage, Path]:
    bucket = f"test-{secrets.token_hex(6)}"
    server.make_bucket(bucket)
    opened = await asyncio.to_thread(open_storage, _settings(server, tmp_path, bucket))
    assert isinstance(opened.store, S3Storage)
    return opened.store, server.data / bucket / "goproxy"


@pytest_asyncio.fixture
async def s3(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[tuple[S3Storage, Path]]:
    yield await _open(s3_server, tmp_path)


@pytest.mark.asyncio
async def test_the_bucket_holds_the_go_commands_cache_download_layout(
    s3: tuple[S3Storage, Path],
) -> None:
    store, folder = s3
    await store.put(ZIP_KEY, b"PK zip")
    assert (folder / ZIP_KEY).read_bytes() == b"PK zip"
    assert await store.list("github.com/") == [ZIP_KEY]


@pytest.mark.asyncio
async def test_i84_a_damaged_object_is_detected_quarantined_and_never_served(
    s3: tuple[S3Storage, Path],
) -> None:
    store, folder = s3
    data = os.urandom(20_000)
    await store.put(ZIP_KEY, data)
    rotten = bytearray(data)
    rotten[1000] ^= 0x01
    _overwrite_in_place(folder / ZIP_KEY, bytes(rotten))  # the recorded metadata stays
    with pytest.raises(CorruptObject):
        await store.get(ZIP_KEY)
    assert await store.stat(ZIP_KEY) is None
    assert not (folder / ZIP_KEY).exists()
    kept = list((folder / ".gomodproxy/.store/quarantine").rglob("*.zip.*"))
    assert len(kept) == 1
    assert await store.list(".gomodproxy/") == []  # quarantine is never listed


@pytest.mark.asyncio
async def test_i84_damage_found_while_streaming_withholds_the_last_chunk(
    s3: tuple[S3Storage, Path],
) -> None:
    store, folder = s3
    data = os.urandom(3 << 20)
    await store.put(ZIP_KEY, data)
    rotten = bytearray(data)
    rotten[-1] ^= 0x80
    _overwrite_in_place(folder / ZIP_KEY, bytes(rotten))
    received = bytearray()
    with pytest.raises(CorruptObject):
        await _collect(store, received)
    assert 0 < len(received) < len(data)
    assert await store.stat(ZIP_KEY) is None


@pytest.mark.asyncio
async def test_a_big_file_goes_up_in_parts_and_reads_back_whole(
    s3: tuple[S3Storage, Path], tmp_path: Path
) -> None:
    store, _ = s3
    src = tmp_path / "big.zip"
    size = MULTIPART_THRESHOLD + (5 << 20) + 123
    data = os.urandom(size)
    await asyncio.to_thread(src.write_bytes, data)
    info = await store.put(ZIP_KEY, src)
    assert not src.exists()
    assert (info.size, info.sha256) == (size, hashlib.sha256(data).hexdigest())
    digest = hashlib.sha256()
    async with store.open(ZIP_KEY) as reader:
        async for chunk in reader.chunks():
            digest.update(chunk)
    assert digest.hexdigest() == info.sha256


@pytest.mark.asyncio
async def test_an_upload_cut_by_the_server_stopping_leaves_no_object(
    tmp_path: Path,
) -> None:
    """The S3 server dies in the middle of a multipart upload: the put fails with a clear
    error, and after the restart no object (whole or partial) is visible under the key."""
    with running_versitygw(tmp_path / "s3") as server:
        store, folder = await _open(server, tmp_path)
        src = tmp_path / "big.zip"
        await asyncio.to_thread(src.write_bytes, os.urandom(200 << 20))
        upload = asyncio.create_task(store.put(ZIP_KEY, src))
        parts = folder.parent / ".sgwtmp"
        while not upload.done() and not await asyncio.to_thread(_has_files, parts):  # noqa: ASYNC110 - a folder, not an event
            await asyncio.sleep(0.005)
        assert not upload.done(), "the upload finished before the server could be stopped"
        await asyncio.to_thread(server.stop)
        with pytest.raises(StorageError, match="cannot write"):
            await upload
        await asyncio.to_thread(server.start)
        assert await store.stat(ZIP_KEY) is None
        assert await store.list("github.com/") == []
        await store.put(ZIP_KEY, b"PK again")
        assert await store.get(ZIP_KEY) == b"PK again"


@pytest.mark.asyncio
async def test_an_object_copied_in_by_another_tool_is_adopted(s3: tuple[S3Storage, Path]) -> None:
    """No recorded metadata (an `aws s3 sync` of a cache/download folder): hashed when read."""
    store, folder = s3
    await store.put("example.com/m/@v/list", b"v1.0.0\n")  # makes the prefix's folder
    path = folder / "example.com/m/@v/v1.0.0.mod"
    path.write_bytes(b"module example.com/m\n")
    assert await store.get("example.com/m/@v/v1.0.0.mod") == b"module example.com/m\n"
    info = await store.stat("example.com/m/@v/v1.0.0.mod")
    assert info is not None
    assert info.sha256 == hashlib.sha256(b"module example.com/m\n").hexdigest()


@pytest.mark.asyncio
async def test_a_stopped_s3_server_is_a_clear_503_without_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_versitygw(tmp_path / "s3") as server:
        store, _ = await _open(server, tmp_path)
        await store.put(ZIP_KEY, b"PK zip")
        await asyncio.to_thread(server.stop)
        for attempt in (store.get(ZIP_KEY), store.put("example.com/m/@v/list", b"v1\n")):
            with pytest.raises(StorageError) as caught:
                await attempt
            message = str(caught.value)
            assert caught.value.status_hint == 503
            assert server.endpoint in message
            assert "check that the S3 server is up" in message
            assert S3_SECRET_KEY not in message
        assert S3_SECRET_KEY not in caplog.text
        await asyncio.to_thread(server.start)
        assert await store.get(ZIP_KEY) == b"PK zip"  # recovers, nothing poisoned


@pytest.mark.asyncio
async def test_a_missing_object_is_not_found_not_an_error(s3: tuple[S3Storage, Path]) -> None:
    store, _ = s3
    with pytest.raises(ObjectNotFound):
        await store.get(ZIP_KEY)
    assert await store.delete(ZIP_KEY) is False


async def _collect(store: S3Storage, out: bytearray) -> None:
    async with store.open(ZIP_KEY) as reader:
        async for chunk in reader.chunks(256 << 10):
            out += chunk


def _has_files(folder: Path) -> bool:
    return folder.exists() and any(p.is_file() for p in folder.rglob("*"))


def _overwrite_in_place(path: Path, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate(len(data))

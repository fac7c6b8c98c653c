"""One behaviour spec for every storage backend (fault catalogue I), plus filesystem specifics.

The ``storage`` fixture is parametrized over every registered backend, like bandersnatch's
``backend`` fixture; a new backend joins the suite by joining ``gomodproxy.storage.BACKENDS``.
The ``s3`` backend runs against a real S3 server (versitygw on loopback, a bucket per test).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.errors import ModuleNotFound, StorageError
from gomodproxy.storage import (
    BACKENDS,
    CorruptObject,
    FilesystemStorage,
    InvalidStorageKey,
    ObjectNotFound,
    ObjectStore,
    StorageSettings,
    open_storage,
)
from gomodproxy.storage.base import HashedFile
from tests.realservers import S3Server

ZIP_KEY = "example.com/m/@v/v1.0.0.zip"


def storage_settings(request: pytest.FixtureRequest, name: str, tmp_path: Path) -> StorageSettings:
    """Settings of backend ``name`` for one test (for ``s3``, a fresh bucket of the session's
    S3 server, credentials passed as the AWS environment variables would be; ``s3+local``
    with a 2 MiB local tier in front)."""
    name, _, tier = name.partition("+")
    if name != "s3":
        return StorageSettings(name, tmp_path / "cache")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = f"test-{secrets.token_hex(6)}"
    server.make_bucket(bucket)
    return StorageSettings(
        name,
        tmp_path / "cache",
        s3_endpoint=server.endpoint,
        s3_bucket=bucket,
        s3_prefix="cache",
        local_cache_mb=2 if tier == "local" else 0,
        environ=server.environ(),
    )


@pytest_asyncio.fixture(params=[*sorted(BACKENDS), "s3+local"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    name: str = request.param
    settings = storage_settings(request, name, tmp_path)
    opened = await asyncio.to_thread(open_storage, settings)
    yield opened.store
    await opened.aclose()


async def _exists(storage: ObjectStore, key: str) -> bool:
    return await storage.stat(key) is not None


async def _read_streamed(storage: ObjectStore, key: str, chunk_size: int = 7) -> bytes:
    out = bytearray()
    async with storage.open(key) as reader:
        async for chunk in reader.chunks(chunk_size):
            out += chunk
    return bytes(out)


# -- the contract ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_put_then_get_returns_the_same_bytes_and_records_hash(storage: ObjectStore) -> None:
    data = b"PK\x03\x04 not really a zip"
    info = await storage.put(ZIP_KEY, data)
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert await storage.get(ZIP_KEY) == data
    assert await storage.stat(ZIP_KEY) == info
    assert await _exists(storage, ZIP_KEY)


@pytest.mark.asyncio
async def test_empty_object_is_stored_and_read(storage: ObjectStore) -> None:
    await storage.put("example.com/m/@v/list", b"")
    assert await storage.get("example.com/m/@v/list") == b""
    assert await _read_streamed(storage, "example.com/m/@v/list") == b""


@pytest.mark.asyncio
async def test_missing_object_is_not_found(storage: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        await storage.get(ZIP_KEY)
    assert isinstance(caught.value, ModuleNotFound)
    assert await storage.stat(ZIP_KEY) is None
    assert not await _exists(storage, ZIP_KEY)
    with pytest.raises(ObjectNotFound):
        async with storage.open(ZIP_KEY):
            pass


@pytest.mark.asyncio
async def test_put_from_path_consumes_the_file(storage: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "download.tmp"
    data = os.urandom(300_000)
    src.write_bytes(data)
    info = await storage.put(ZIP_KEY, src)
    assert not src.exists()
    assert info.size == len(data)
    assert await storage.get(ZIP_KEY) == data


@pytest.mark.asyncio
async def test_put_of_a_hashed_file_records_its_writers_hash(
    storage: ObjectStore, tmp_path: Path
) -> None:
    """A spool file whose size and SHA-256 were computed as it was written (a zip flight) is
    stored like a Path, under that record, and reads back checked against it."""
    src = tmp_path / "spool.zip"
    data = os.urandom(300_000)
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    info = await storage.put(ZIP_KEY, HashedFile(src, len(data), digest))
    assert not src.exists()
    assert (info.size, info.sha256) == (len(data), digest)
    assert await storage.get(ZIP_KEY) == data
    async with storage.open(ZIP_KEY) as reader:
        assert b"".join([c async for c in reader.chunks()]) == data
        assert reader.info.sha256 == digest


@pytest.mark.asyncio
async def test_put_from_a_stream_stores_it_whole(storage: ObjectStore) -> None:
    data = os.urandom(700_000)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    info = await storage.put(ZIP_KEY, chunks())
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert await storage.get(ZIP_KEY) == data


@pytest.mark.asyncio
async def test_a_failing_stream_stores_nothing_and_keeps_the_old_object(
    storage: ObjectStore,
) -> None:
    await storage.put(ZIP_KEY, b"old")

    async def broken() -> AsyncIterator[bytes]:
        yield b"new bytes"
        raise ConnectionResetError("upstream went away")

    with pytest.raises(ConnectionResetError):
        await storage.put(ZIP_KEY, broken())
    assert await storage.get(ZIP_KEY) == b"old"
    leftovers = await asyncio.to_thread(storage.sweep_orphans, everywhere=True, grace=0)
    assert leftovers == (0, 0)


@pytest.mark.asyncio
async def test_put_replaces_an_existing_object_whole(storage: ObjectStore) -> None:
    await storage.put("example.com/m/@v/list", b"v1.0.0\n")
    await storage.put("example.com/m/@v/list", b"v1.0.0\nv1.1.0\n")
    assert await storage.get("example.com/m/@v/list") == b"v1.0.0\nv1.1.0\n"


@pytest.mark.asyncio
async def test_open_streams_the_whole_object_and_reads_ranges(storage: ObjectStore) -> None:
    data = os.urandom(100_003)
    await storage.put(ZIP_KEY, data)
    assert await _read_streamed(storage, ZIP_KEY, chunk_size=4096) == data
    async with storage.open(ZIP_KEY) as reader:
        assert reader.info.size == len(data)
        assert await reader.read_range(10, 20) == data[10:30]
        assert await reader.read_range(len(data) - 5, 100) == data[-5:]


@pytest.mark.asyncio
async def test_i87_list_keeps_keys_that_share_a_prefix_apart(storage: ObjectStore) -> None:
    for key in (
        "example.com/two/@v/v1.0.0.mod",
        "example.com/two-other/@v/v1.0.0.mod",
        "example.com/two/v2/@v/v2.0.0.mod",
        "example.com/m/@v/v1.2.3-pre.mod",
        "example.com/m/@v/v1.2.3-pre.1.mod",
    ):
        await storage.put(key, b"module x\n")
    assert await storage.list("example.com/two/@v/") == ["example.com/two/@v/v1.0.0.mod"]
    assert await storage.list("example.com/two/") == [
        "example.com/two/@v/v1.0.0.mod",
        "example.com/two/v2/@v/v2.0.0.mod",
    ]
    assert await storage.list("example.com/m/@v/") == [
        "example.com/m/@v/v1.2.3-pre.1.mod",
        "example.com/m/@v/v1.2.3-pre.mod",
    ]
    assert await storage.list("example.com/none/") == []


@pytest.mark.asyncio
async def test_internal_keys_are_listed_only_under_their_prefix(storage: ObjectStore) -> None:
    await storage.put("example.com/m/@v/list", b"v1.0.0\n")
    await storage.put(".gomodproxy/upstream/example.com/m/@v/list", b"{}")
    assert await storage.list("") == ["example.com/m/@v/list"]
    assert await storage.list(".gomodproxy/") == [".gomodproxy/upstream/example.com/m/@v/list"]
    assert await storage.get(".gomodproxy/upstream/example.com/m/@v/list") == b"{}"


@pytest.mark.asyncio
async def test_i87_delete_of_a_missing_key_is_false(storage: ObjectStore) -> None:
    assert await storage.delete(ZIP_KEY) is False
    await storage.put(ZIP_KEY, b"x")
    assert await storage.delete(ZIP_KEY) is True
    assert not await _exists(storage, ZIP_KEY)
    assert await storage.list("example.com/") == []


@pytest.mark.asyncio
async def test_a9_case_aliases_are_separate_entries(storage: ObjectStore) -> None:
    upper = "github.com/!sirupsen/logrus/@v/v1.0.0.mod"
    lower = "github.com/sirupsen/logrus/@v/v1.0.0.mod"
    await storage.put(upper, b"module github.com/Sirupsen/logrus\n")
    await storage.put(lower, b"module github.com/sirupsen/logrus\n")
    assert await storage.get(upper) == b"module github.com/Sirupsen/logrus\n"
    assert await storage.get(lower) == b"module github.com/sirupsen/logrus\n"


BAD_KEYS = [
    "",
    "../etc/passwd",
    "example.com/../../x",
    "example.com/./m",
    "/abs/path",
    "example.com//m",
    "example.com/m/",
    "example.com/M/@v/list",
    "example.com\\m",
    "example.com/m\x00/x",
    "example.com/m\n/x",
    "example.com/.hidden",
    "example.com/m/@v/.v1.0.0.zip.abc.tmp",
    ".gomodproxy",
    ".gomodproxy/.store/meta/x",
    "example.com/" + "a" * 256,
    "example.com/" + "/".join(["abcdefgh"] * 500),
    "example.com/%2e%2e/x",
    "exämple.com/m",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("key", BAD_KEYS)
async def test_i88_invalid_keys_are_refused_before_any_io(
    storage: ObjectStore, key: str, tmp_path: Path
) -> None:
    before = _tree(tmp_path)
    with pytest.raises(InvalidStorageKey):
        await storage.put(key, b"x")
    with pytest.raises(InvalidStorageKey):
        await storage.get(key)
    with pytest.raises(InvalidStorageKey):
        await storage.stat(key)
    with pytest.raises(InvalidStorageKey):
        await storage.delete(key)
    assert _tree(tmp_path) == before


@pytest.mark.asyncio
async def test_invalid_key_is_answered_as_not_found_status() -> None:
    err = InvalidStorageKey("../x", "element '..' is not allowed")
    assert err.status_hint == 404
    assert isinstance(err, StorageError)


@pytest.mark.asyncio
async def test_concurrent_puts_leave_one_whole_object(storage: ObjectStore) -> None:
    bodies = [bytes([i]) * 50_000 for i in range(8)]
    await asyncio.gather(*(storage.put(ZIP_KEY, body) for body in bodies))
    assert await storage.get(ZIP_KEY) in bodies


# -- filesystem specifics (fault catalogue I82, I84, I86) ----------------------------------


@pytest.mark.asyncio
async def test_filesystem_layout_is_the_go_commands_cache_download(tmp_path: Path) -> None:
    fs = FilesystemStorage(tmp_path)
    await fs.put("github.com/!azure/go-autorest/@v/v14.2.0+incompatible.info", b"{}")
    assert (tmp_path / "github.com/!azure/go-autorest/@v/v14.2.0+incompatible.info").read_bytes()
    visible = [p for p in _tree(tmp_path) if ".gomodproxy" not in p]
    assert visible == [
        "github.com",
        "github.com/!azure",
        "github.com/!azure/go-autorest",
        "github.com/!azure/go-autorest/@v",
        "github.com/!azure/go-autorest/@v/v14.2.0+incompatible.info",
    ]


@pytest.mark.asyncio
async def test_i84_bit_rot_is_detected_quarantined_and_never_served(tmp_path: Path) -> None:
    fs = FilesystemStorage(tmp_path)
    data = os.urandom(10_000)
    await fs.put(ZIP_KEY, data)
    path = tmp_path / ZIP_KEY
    rotten = bytearray(data)
    rotten[5000] ^= 0x01
    _overwrite_in_place(path, bytes(rotten))
    with pytest.raises(CorruptObject):
        await fs.get(ZIP_KEY)
    assert not path.exists()
    assert not await _exists(fs, ZIP_KEY)
    assert list((tmp_path / ".gomodproxy/.store/quarantine").iterdir())


@pytest.mark.asyncio
async def test_i84_bit_rot_while_streaming_withholds_the_last_chunk(tmp_path: Path) -> None:
    fs = FilesystemStorage(tmp_path)
    data = os.urandom(3 << 20)  # over the read-at-open size: checked while streaming
    await fs.put(ZIP_KEY, data)
    rotten = bytearray(data)
    rotten[-1] ^= 0x80
    _overwrite_in_place(tmp_path / ZIP_KEY, bytes(rotten))
    received = bytearray()
    with pytest.raises(CorruptObject):
        await _collect(fs, received, 256 << 10)
    assert 0 < len(received) < len(data)
    assert not await _exists(fs, ZIP_KEY)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [10_000, 3 << 20], ids=["read-at-open", "streamed"])
async def test_i84_a_rewrite_after_a_checked_read_is_caught_on_the_next_read(
    tmp_path: Path, size: int
) -> None:
    """A checked read is remembered with the file's identity; any later write changes that
    identity (its change time at least), so the next read checks the hash again."""
    fs = FilesystemStorage(tmp_path, rehash_after=3600.0)
    data = os.urandom(size)
    await fs.put(ZIP_KEY, data)
    for _ in range(2):  # checked, then remembered: both whole and right
        received = bytearray()
        await _collect(fs, received, 256 << 10)
        assert received == data
    rotten = bytearray(data)
    rotten[size // 2] ^= 0x01
    _overwrite_in_place(tmp_path / ZIP_KEY, bytes(rotten))
    received = bytearray()
    with pytest.raises(CorruptObject):
        await _collect(fs, received, 256 << 10)
    assert len(received) < size
    assert not await _exists(fs, ZIP_KEY)


@pytest.mark.asyncio
async def test_i84_truncated_file_reads_as_corrupt(tmp_path: Path) -> None:
    fs = FilesystemStorage(tmp_path)
    await fs.put(ZIP_KEY, b"0123456789")
    _overwrite_in_place(tmp_path / ZIP_KEY, b"01234")
    with pytest.raises(CorruptObject):
        async with fs.open(ZIP_KEY):
            pass
    assert await fs.stat(ZIP_KEY) is None


@pytest.mark.asyncio
async def test_files_written_by_the_go_command_are_adopted(tmp_path: Path) -> None:
    path = tmp_path / "example.com/m/@v/v1.0.0.mod"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"module example.com/m\n")
    fs = FilesystemStorage(tmp_path)
    assert await fs.get("example.com/m/@v/v1.0.0.mod") == b"module example.com/m\n"
    info = await fs.stat("example.com/m/@v/v1.0.0.mod")
    assert info is not None
    assert info.sha256 == hashlib.sha256(b"module example.com/m\n").hexdigest()


@pytest.mark.asyncio
async def test_a_copied_cache_folder_keeps_its_records(tmp_path: Path) -> None:
    fs = FilesystemStorage(tmp_path / "a")
    await fs.put(ZIP_KEY, b"zip bytes")
    await asyncio.to_thread(shutil.copytree, tmp_path / "a", tmp_path / "b")
    copy = FilesystemStorage(tmp_path / "b")
    assert await copy.get(ZIP_KEY) == b"zip bytes"


@pytest.mark.asyncio
async def test_i82_leftovers_of_a_crashed_writer_are_never_served(tmp_path: Path) -> None:
    fs = FilesystemStorage(tmp_path)
    await fs.put("example.com/m/@v/v1.0.0.mod", b"module example.com/m\n")
    folder = tmp_path / "example.com/m/@v"
    # A temp file (crash before the rename) and a record without data (crash between renames).
    (folder / ".v1.1.0.zip.abcdef.tmp").write_bytes(b"PK partial")
    meta = tmp_path / ".gomodproxy/.store/meta/example.com/m/@v/v1.1.0.zip.json"
    meta.write_text(json.dumps({"size": 10, "sha256": "0" * 64, "time": 0, "ino": 1}))
    assert await fs.list("example.com/") == ["example.com/m/@v/v1.0.0.mod"]
    assert not await _exists(fs, "example.com/m/@v/v1.1.0.zip")
    with pytest.raises(ObjectNotFound):
        await fs.get("example.com/m/@v/v1.1.0.zip")


@pytest.mark.asyncio
async def test_i86_put_from_another_filesystem_copies_into_the_target_folder(
    tmp_path: Path,
) -> None:
    shm = Path("/dev/shm")
    if os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.fail("this test needs /dev/shm on another filesystem than the temp folder")
    src = shm / f"gomodproxy-test-{os.getpid()}.zip"
    _write(src, b"z" * 4096)
    fs = FilesystemStorage(tmp_path)
    await fs.put(ZIP_KEY, src)
    assert not src.exists()
    assert await fs.get(ZIP_KEY) == b"z" * 4096


_FULL_DISK_WRITER = textwrap.dedent(
    """
    import asyncio, resource, signal, sys
    from pathlib import Path
    from gomodproxy.errors import StorageError
    from gomodproxy.storage import FilesystemStorage

    async def main() -> None:
        fs = FilesystemStorage(Path(sys.argv[1]))
        await fs.put("example.com/m/@v/v1.0.0.mod", b"module example.com/m\\n")
        # Files may not grow past 64 KiB from here on: writes fail like on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            await fs.put("example.com/m/@v/v1.0.0.zip", b"z" * (1 << 20))
        except StorageError as exc:
            print("refused:", exc)
        print(await fs.get("example.com/m/@v/v1.0.0.mod"))

    asyncio.run(main())
    """
)


def test_i83_a_failed_write_leaves_no_temp_file_and_old_entries_whole(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_WRITER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "refused: cannot write example.com/m/@v/v1.0.0.zip in the cache" in proc.stdout
    assert "b'module example.com/m\\n'" in proc.stdout
    assert sorted(os.listdir(tmp_path / "example.com/m/@v")) == ["v1.0.0.mod"]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


async def _collect(storage: ObjectStore, out: bytearray, chunk_size: int = 1024) -> None:
    async with storage.open(ZIP_KEY) as reader:
        async for chunk in reader.chunks(chunk_size):
            out += chunk


def _overwrite_in_place(path: Path, data: bytes) -> None:
    """Change a file's bytes keeping its inode, as bit rot or a stray writer would."""
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate(len(data))

"""A cache folder written by an earlier version is served by this one (issue 10, item 7).

``tests/data/cache-v1`` was written by ``gomodproxy serve`` before the cache folder had a format
version (see ``tests/data/README.md``). It is copied (the copy gets new inodes, as a restored
backup would), then served with no upstream: every file it holds comes back byte for byte, with
the answers a fresh cache would give, and its bookkeeping is never served.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from gomodproxy.assembly import check_settings
from gomodproxy.config import build_settings
from gomodproxy.errors import ConfigError
from gomodproxy.server.app import make_app
from gomodproxy.storage import FileLocks, FilesystemStorage, StorageSettings, open_storage
from gomodproxy.storage.fsformat import FORMAT
from gomodproxy.sumdb.storestate import StorageVerifierState

OLD_CACHE = Path(__file__).resolve().parents[1] / "data" / "cache-v1"
FILES = [
    f"{module}/@v/{version}.{ext}"
    for module, version in (
        ("example.com/alpha", "v1.0.0"),
        ("example.com/alpha", "v1.1.0"),
        ("github.com/!upper/!case", "v0.2.0"),
        ("private.example/p", "v0.1.0"),
    )
    for ext in ("info", "mod", "zip")
]


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    cache = tmp_path / "cache"
    await asyncio.to_thread(shutil.copytree, OLD_CACHE, cache, symlinks=True)
    settings = build_settings(
        {
            "upstream": "off",
            "sumdb": "off",
            "cache-dir": str(cache),
            "gonosumdb": "private.example",
            "instance-id": "format-test",
        },
        {"HOME": str(tmp_path)},
        go_env=lambda names: {},
    )
    # The configured backend, opened as the server opens it (which upgrades its format).
    app = make_app(check_settings(settings), instance_id="format-test")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), cache
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_every_file_of_a_version_1_cache_is_served_as_it_was_written(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    async with aiohttp.ClientSession() as http:
        for rel in FILES:
            want = await asyncio.to_thread((OLD_CACHE / rel).read_bytes)
            for _ in range(2):  # the first read re-records the copied file, the second trusts it
                async with http.get(f"{url}/{rel}") as resp:
                    assert resp.status == 200, rel
                    assert await resp.read() == want, rel
                    assert "immutable" in resp.headers["Cache-Control"], rel
        async with http.get(f"{url}/example.com/alpha/@v/list") as resp:
            assert resp.status == 200
            assert (await resp.text()).split() == ["v1.0.0", "v1.1.0"]
        async with http.get(f"{url}/github.com/!upper/!case/@v/list") as resp:
            assert (await resp.text()).split() == ["v0.2.0"]
        async with http.get(f"{url}/example.com/alpha/@latest") as resp:
            assert resp.status == 200
            assert '"v1.1.0"' in await resp.text()
        for internal in (
            ".gomodproxy/upstream/example.com/alpha/@v/list",
            ".gomodproxy/.store/meta/example.com/alpha/@v/v1.0.0.zip.json",
        ):
            async with http.get(f"{url}/{internal}") as resp:
                assert resp.status == 404, internal


@pytest.mark.asyncio
async def test_the_go_command_cache_layout_of_a_version_1_cache_is_kept(
    served: tuple[str, Path],
) -> None:
    url, cache = served
    async with aiohttp.ClientSession() as http, http.get(f"{url}/{FILES[2]}") as resp:
        assert resp.status == 200
    for rel in FILES:
        assert (cache / rel).is_file(), rel
    # Old records naming other inodes were re-recorded, never quarantined.
    assert not (cache / ".gomodproxy/.store/quarantine").exists()


@pytest.mark.asyncio
async def test_a_version_1_cache_is_upgraded_and_keeps_its_verifier_state(
    served: tuple[str, Path],
) -> None:
    _, cache = served
    assert (cache / ".gomodproxy/.store/format").read_text() == f"{FORMAT}\n"
    old_head = (OLD_CACHE / ".gomodproxy/.sumdb/config/sumdb.test/latest").read_bytes()
    assert old_head.startswith(b"go.sum database tree\n")
    # The remembered tree head (fault catalogue E57) survives the upgrade: the verifier,
    # whichever backend, now reads it from the store's keys.
    storage = FilesystemStorage(cache)
    state = StorageVerifierState(storage, FileLocks(storage.locks_dir))
    assert await state.read_config("sumdb.test/latest") == old_head
    tile = "sumdb.test/tile/8/0/000.p/3"
    assert (
        await state.read_cache(tile) == (OLD_CACHE / ".gomodproxy/.sumdb/cache" / tile).read_bytes()
    )
    assert not (cache / ".gomodproxy/.sumdb").exists()


def test_a_cache_of_a_newer_format_is_refused_not_misread(tmp_path: Path) -> None:
    (tmp_path / ".gomodproxy/.store").mkdir(parents=True)
    (tmp_path / ".gomodproxy/.store/format").write_text(f"{FORMAT + 1}\n")
    with pytest.raises(ConfigError, match="written by a newer gomodproxy"):
        open_storage(StorageSettings("filesystem", tmp_path))


def test_a_new_cache_folder_is_stamped_with_the_current_format(tmp_path: Path) -> None:
    opened = open_storage(StorageSettings("filesystem", tmp_path / "new"))
    assert opened.store.spool_dir.is_relative_to(tmp_path / "new")
    assert (tmp_path / "new/.gomodproxy/.store/format").read_text() == f"{FORMAT}\n"

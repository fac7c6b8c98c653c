"""The proxy over HTTP on 127.0.0.1: protocol answers, headers, faults (catalogue A, B, H).

A real origin and our own checksum database run beside it; storage is the filesystem backend
wrapped in a recorder, so the group-A tests can assert that a refused request touched neither
storage nor the origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from gomodproxy.assembly import check_settings
from gomodproxy.cache.denylist import DENY_PREFIX
from gomodproxy.config import build_settings
from gomodproxy.server.app import make_app
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.storage import (
    FileLocks,
    FilesystemStorage,
    ObjectInfo,
    ObjectReader,
    OpenedStorage,
    PutSource,
)
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import SumDB, publish, running_sumdb, synth

M1 = synth("example.com/m", "v1.0.0", size=200_000)
M2 = synth("example.com/m", "v1.1.0")
BIG = synth("example.com/big", "v1.0.0", size=3_000_000)
UPPER = synth("github.com/Sirupsen/logrus", "v1.0.0")
LOWER = synth("github.com/sirupsen/logrus", "v1.0.0")
PRIVATE = synth("private.example/p", "v0.1.0")
INSTANCE = "test-instance"


@dataclass
class RecordingStorage:
    """The filesystem backend, with every call recorded (the 'guarded storage' of group A)."""

    inner: FilesystemStorage
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        return await self.inner.get(key)

    @contextlib.asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[ObjectReader]:
        self.calls.append(("open", key))
        async with self.inner.open(key) as reader:
            yield reader

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        self.calls.append(("put", key))
        return await self.inner.put(key, source)

    async def stat(self, key: str) -> ObjectInfo | None:
        self.calls.append(("stat", key))
        return await self.inner.stat(key)

    async def exists(self, key: str) -> bool:
        self.calls.append(("exists", key))
        return await self.inner.exists(key)

    async def list(self, prefix: str) -> list[str]:
        if prefix != DENY_PREFIX:  # the deny list's refresh is maintenance, not a request's
            self.calls.append(("list", prefix))
        return await self.inner.list(prefix)

    async def delete(self, key: str) -> bool:
        self.calls.append(("delete", key))
        return await self.inner.delete(key)

    @property
    def spool_dir(self) -> Path:
        return self.inner.spool_dir

    def sweep_orphans(self, *, everywhere: bool = False, grace: float = 10.0) -> tuple[int, int]:
        return self.inner.sweep_orphans(everywhere=everywhere, grace=grace)


@dataclass
class RecordingLocks:
    """The filesystem backend's file locks, with every call recorded."""

    inner: FileLocks
    calls: list[tuple[str, str]]

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        self.calls.append(("lock", key))
        async with self.inner.lock(key):
            yield


@dataclass
class Proxy:
    url: str
    origin: Origin
    db: SumDB
    storage: RecordingStorage
    metrics: ProxyMetrics
    http: aiohttp.ClientSession

    async def get(
        self, raw: str, *, method: str = "GET", headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes, CIMultiDict[str]]:
        url = URL(self.url + raw, encoded=True)
        async with self.http.request(method, url, headers=headers or {}) as resp:
            return resp.status, await resp.read(), CIMultiDict(resp.headers)


async def _start(
    tmp_path: Path, origin: Origin, db: SumDB, http: aiohttp.ClientSession, **flags: str
) -> tuple[Proxy, TestServer]:
    settings = build_settings(
        {
            "upstream": origin.url,
            "sumdb": db.gosumdb,
            "cache-dir": str(tmp_path / "cache"),
            "gonosumdb": "private.example",
            "retries": "0",
            "read-timeout": "1",
            "fetch-timeout": "3",
            "zip-timeout": "5",
            "instance-id": INSTANCE,
            **flags,
        },
        {"HOME": str(tmp_path)},
        go_env=lambda names: {},
    )
    storage = RecordingStorage(FilesystemStorage(settings.cache_dir))
    locks = RecordingLocks(FileLocks(storage.inner.locks_dir), storage.calls)
    metrics = ProxyMetrics()
    app = make_app(
        check_settings(settings),
        instance_id=INSTANCE,
        storage=OpenedStorage(storage, locks),
        metrics=metrics,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    return Proxy(url, origin, db, storage, metrics, http), server


@pytest_asyncio.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[Proxy]:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [M1, M2, BIG, UPPER, LOWER]) as db,
        aiohttp.ClientSession(auto_decompress=False) as http,
    ):
        publish(origin, M1, M2, BIG, UPPER, LOWER, PRIVATE)
        p, server = await _start(tmp_path, origin, db, http)
        try:
            yield p
        finally:
            await server.close()


async def _raw_http(url: str, request: bytes) -> bytes:
    """Send raw request bytes (no client-side normalization); return the whole answer."""
    u = URL(url)
    assert u.host is not None
    reader, writer = await asyncio.open_connection(u.host, u.port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(1 << 20), 10)
    writer.close()
    await writer.wait_closed()
    return data


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# -- the protocol -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_serves_every_kind_with_its_content_type_and_cache_control(proxy: Proxy) -> None:
    cases = [
        ("/example.com/m/@v/list", b"v1.0.0\nv1.1.0\n", "text/plain; charset=utf-8", "max-age=60"),
        ("/example.com/m/@v/v1.0.0.info", M1.info, "application/json", "immutable"),
        ("/example.com/m/@v/v1.0.0.mod", M1.mod, "text/plain; charset=utf-8", "immutable"),
        # The first answer streams while the zip is verified (not cacheable yet, see the
        # b17 tests); the stored zip is immutable.
        ("/example.com/m/@v/v1.0.0.zip", M1.zip, "application/zip", ""),
        ("/example.com/m/@v/v1.0.0.zip", M1.zip, "application/zip", "immutable"),
    ]
    for raw, body, ctype, cache in cases:
        status, got, headers = await proxy.get(raw)
        assert (status, got) == (200, body), raw
        assert headers["Content-Type"] == ctype
        assert cache in headers["Cache-Control"]
    proxy.origin.serve_file("example.com/m/@latest", M2.info)
    status, got, headers = await proxy.get("/example.com/m/@latest")
    assert (status, got, headers["Content-Type"]) == (200, M2.info, "application/json")
    assert "immutable" not in headers["Cache-Control"]


@pytest.mark.asyncio
async def test_a_query_info_is_resolved_and_not_marked_immutable(proxy: Proxy) -> None:
    proxy.origin.serve_file("example.com/m/@v/master.info", M2.info)
    status, body, headers = await proxy.get("/example.com/m/@v/master.info")
    assert (status, body) == (200, M2.info)
    assert "immutable" not in headers["Cache-Control"]


@pytest.mark.asyncio
async def test_a9_case_aliases_are_two_modules(proxy: Proxy) -> None:
    _, upper, _ = await proxy.get("/github.com/%21sirupsen/logrus/@v/v1.0.0.mod")
    _, lower, _ = await proxy.get("/github.com/sirupsen/logrus/@v/v1.0.0.mod")
    assert upper == b"module github.com/Sirupsen/logrus\n\ngo 1.21\n"
    assert lower == b"module github.com/sirupsen/logrus\n\ngo 1.21\n"
    assert proxy.origin.count("github.com/!sirupsen/logrus/@v/v1.0.0.mod") == 1


@pytest.mark.asyncio
async def test_not_found_is_a_one_line_text_404_never_a_500(proxy: Proxy) -> None:
    status, body, headers = await proxy.get("/example.com/m/@v/v1.9.9.info")
    assert status == 404
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.startswith(b"not found: ")
    assert body.count(b"\n") == 1
    assert "max-age=" in headers["Cache-Control"]
    status, _, _ = await proxy.get("/nothing.example/x/@v/list")
    assert status == 404


@pytest.mark.asyncio
async def test_b14_410_from_the_upstream_is_passed_on(proxy: Proxy) -> None:
    proxy.origin.inject(Fault(status=410), "example.com/m/@v/v1.9.0.mod")
    status, body, _ = await proxy.get("/example.com/m/@v/v1.9.0.mod")
    assert status == 410
    assert body.startswith(b"not found: ")


@pytest.mark.asyncio
async def test_b15_upstream_500_is_a_502_no_store_and_the_next_good_fetch_works(
    proxy: Proxy,
) -> None:
    proxy.origin.inject(Fault(status=500, times=1), M1.rel("mod"))
    status, body, headers = await proxy.get("/" + M1.rel("mod"))
    assert status == 502
    assert headers["Cache-Control"] == "no-store"
    assert b"answered 500" in body
    status, body, _ = await proxy.get("/" + M1.rel("mod"))
    assert (status, body) == (200, M1.mod)


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["mod", "zip"])
async def test_an_upstream_answer_with_an_oversized_header_is_a_502_no_store(
    proxy: Proxy, kind: str
) -> None:
    proxy.origin.inject(Fault(headers={"X-Padding": "x" * 20_000}, times=1), M1.rel(kind))
    status, body, headers = await proxy.get("/" + M1.rel(kind))
    assert status == 502, body
    assert headers["Cache-Control"] == "no-store"
    assert b"malformed answer" in body
    status, body, _ = await proxy.get("/" + M1.rel(kind))
    assert (status, body) == (200, M1.mod if kind == "mod" else M1.zip)


@pytest.mark.asyncio
async def test_b15_upstream_429_is_a_503_with_retry_after(proxy: Proxy) -> None:
    proxy.origin.inject(Fault(status=429, headers={"Retry-After": "2"}), M1.rel("info"))
    status, _, headers = await proxy.get("/" + M1.rel("info"))
    assert status == 503
    assert headers["Retry-After"] == "2"
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.asyncio
async def test_b16_upstream_timeout_is_a_504_no_store(proxy: Proxy) -> None:
    proxy.origin.inject(Fault(stall_at=10), M1.rel("mod"))
    status, _, headers = await proxy.get("/" + M1.rel("mod"))
    assert status == 504
    assert headers["Cache-Control"] == "no-store"
    assert not await proxy.storage.inner.exists(M1.rel("mod"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault", [Fault(truncate_at=1_000_000), Fault(body=M1.zip + b"x")], ids=["cut", "tampered"]
)
async def test_b17_b22_a_bad_zip_cuts_the_connection_and_nothing_is_cached(
    proxy: Proxy, fault: Fault
) -> None:
    fault.times = 1
    proxy.origin.inject(fault, BIG.rel("zip"))
    with pytest.raises(aiohttp.ClientPayloadError):
        await proxy.get("/" + BIG.rel("zip"))
    assert not await proxy.storage.inner.exists(BIG.rel("zip"))
    status, body, _ = await proxy.get("/" + BIG.rel("zip"))
    assert (status, body) == (200, BIG.zip)


@pytest.mark.asyncio
async def test_b22_a_tampered_small_zip_is_a_502_naming_the_hashes(proxy: Proxy) -> None:
    tampered = synth(M2.path, M2.version, files={**M2.files, "x.go": b"package m\n"})
    proxy.origin.inject(Fault(body=tampered.zip), M2.rel("zip"))
    # Small enough to be held back whole: answered only after verification, so a clear 502.
    status, body, headers = await proxy.get("/" + M2.rel("zip"))
    assert (status, headers["Cache-Control"]) == (502, "no-store")
    assert M2.zip_h1.encode() in body
    status, body, _ = await proxy.get("/" + M2.rel("zip"), method="HEAD")
    assert status == 502
    status, body, headers = await proxy.get("/" + M2.rel("zip"), headers={"Range": "bytes=0-1"})
    assert status == 502
    assert M2.zip_h1.encode() in body
    assert tampered.zip_h1.encode() in body
    assert b"example.com/m@v1.1.0" in body
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"", b"PK\x05\x06" + bytes(18)], ids=["empty", "no-entries"])
async def test_b17_an_empty_upstream_zip_is_a_502_never_a_complete_cacheable_200(
    proxy: Proxy, body: bytes
) -> None:
    proxy.origin.inject(Fault(body=body), M2.rel("zip"))
    status, text, headers = await proxy.get("/" + M2.rel("zip"))
    assert status == 502
    assert headers["Cache-Control"] == "no-store"
    assert b"example.com/m@v1.1.0" in text or b"zip" in text
    assert not await proxy.storage.inner.exists(M2.rel("zip"))


@pytest.mark.asyncio
async def test_b17_a_zip_still_streaming_is_not_marked_cacheable_until_stored(
    proxy: Proxy,
) -> None:
    # The origin trickles the zip, so the first client is answered while it is still fetched.
    proxy.origin.inject(Fault(trickle=0.05, trickle_chunk=256 << 10, times=1), BIG.rel("zip"))
    status, body, headers = await proxy.get("/" + BIG.rel("zip"))
    assert (status, body) == (200, BIG.zip)
    assert headers["Cache-Control"] == "no-store"
    status, body, headers = await proxy.get("/" + BIG.rel("zip"))
    assert (status, body) == (200, BIG.zip)
    assert "immutable" in headers["Cache-Control"]


@pytest.mark.asyncio
async def test_b17_zip_verify_first_answers_a_bad_big_zip_with_a_clear_502(
    tmp_path: Path, proxy: Proxy
) -> None:
    strict, server = await _start(
        tmp_path / "strict", proxy.origin, proxy.db, proxy.http, **{"zip-verify-first": "true"}
    )
    try:
        proxy.origin.inject(Fault(truncate_at=1_000_000, times=1), BIG.rel("zip"))
        status, body, headers = await strict.get("/" + BIG.rel("zip"))
        assert (status, headers["Cache-Control"]) == (502, "no-store")
        assert b"example.com/big/@v/v1.0.0.zip was cut short" in body
        status, body, headers = await strict.get("/" + BIG.rel("zip"))
        assert (status, body) == (200, BIG.zip)
        assert "immutable" in headers["Cache-Control"]
    finally:
        await server.close()


# -- group A: malformed requests never reach storage or the origin ---------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_a1_methods_other_than_get_and_head_are_405(proxy: Proxy, method: str) -> None:
    status, body, headers = await proxy.get("/" + M1.rel("zip"), method=method)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert body.startswith(b"method not allowed")
    assert proxy.origin.requests == []
    assert proxy.storage.calls == []


BAD_PATHS = [
    # A2: traversal and normalization tricks
    "/../etc/passwd/@v/list",
    "/%2e%2e/x/@v/list",
    "/x.y%2Fz/@v/list",
    "/x.y%5Cz/@v/list",
    "//x.y/z/@v/list",
    "/x.y/z/@v/list/",
    "/x.y/./z/@v/list",
    "/x.y/z%00/@v/list",
    "/x.y/z%01/@v/list",
    # A3: bad escapes
    "/github.com/Azure/x/@v/list",
    "/github.com/!!google/x/@v/list",
    "/github.com/!0google/x/@v/list",
    "/github.com/x!/@v/list",
    "/github.com/%C3%A9/x/@v/list",
    # A4: invalid paths
    "/cache/@v/list",
    "/-x.y/z/@v/list",
    "/x./z/@v/list",
    "/x.y/com1/@v/list",
    "/x.y/z/v1/@v/list",
    # A5: non-canonical versions
    "/x.y/z/@v/v1.0.mod",
    "/x.y/z/@v/v1.0.0+meta.zip",
    "/x.y/z/@v/latest.zip",
    "/x.y/z/@v/upgrade.info",
    # A6: injection
    "/x.y/z/@v/--upload-pack=x.info",
    "/x.y/z/@v/v1.0.0%0Av9.9.9.info",
    "/x.y/z/@v/v1.0.0!.info",
    # A7: major version mismatch
    "/x.y/m/@v/v2.0.0.zip",
    "/x.y/m/v2/@v/v1.0.0.mod",
    "/gopkg.in/yaml.v2/@v/v3.0.0.mod",
    # A8: unknown shapes and internal artefacts
    "/x.y/z",
    "/x.y/z/@v/v1.0.0.ziphash",
    "/x.y/z/@v/v1.0.0.lock",
    "/x.y/z/@v/v1.0.0.partial",
    "/x.y/z/@v/.v1.0.0.zip.abcdef.tmp",
    "/.gomodproxy/upstream/example.com/m/@v/list",
    "/.gomodproxy/.store/meta/example.com/m/@v/v1.0.0.zip.json",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", BAD_PATHS)
async def test_a2_to_a8_malformed_requests_are_404_without_io(proxy: Proxy, raw: str) -> None:
    answer = await _raw_http(
        proxy.url, f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert _status(answer) == 404, answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: text/plain" in head
    assert body.startswith(b"not found: ")
    assert proxy.origin.requests == []
    assert proxy.storage.calls == []


@pytest.mark.asyncio
async def test_a10_query_strings_absolute_form_and_host_do_not_change_routing(
    proxy: Proxy,
) -> None:
    status, body, _ = await proxy.get("/example.com/m/@v/v1.0.0.mod?go-get=1")
    assert (status, body) == (200, M1.mod)
    assert proxy.origin.requests[-1].raw_path == "/example.com/m/@v/v1.0.0.mod"
    answer = await _raw_http(
        proxy.url,
        b"GET http://evil.example/example.com/m/@v/v1.0.0.mod HTTP/1.1\r\n"
        b"Host: evil.example\r\nConnection: close\r\n\r\n",
    )
    assert _status(answer) in (200, 404)
    assert all(r.path == "example.com/m/@v/v1.0.0.mod" for r in proxy.origin.requests)
    answer = await _raw_http(
        proxy.url,
        b"GET /example.com/m/@v/v1.0.0.mod HTTP/1.1\r\n"
        b"Host: ../../etc\r\nConnection: close\r\n\r\n",
    )
    assert _status(answer) == 200
    long_path = "/x.y/" + "a" * 9000 + "/@v/list"
    answer = await _raw_http(
        proxy.url, f"GET {long_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert _status(answer) in (400, 404, 414)
    huge_header = "X-Big: " + "b" * 20000
    answer = await _raw_http(
        proxy.url,
        f"GET /{M1.rel('mod')} HTTP/1.1\r\nHost: x\r\n{huge_header}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert _status(answer) in (400, 431)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "raw",
    [
        "/example.com/m/@v/list",
        "/example.com/m/@v/v1.0.0.info",
        "/example.com/m/@v/v1.0.0.mod",
        "/example.com/m/@v/v1.0.0.zip",
        "/example.com/m/@v/v1.9.9.zip",
        "/x.y/z/@v/v1.0.mod",
        "/example.com/missing/@v/list",
    ],
)
async def test_a11_head_has_the_status_type_and_length_of_get(proxy: Proxy, raw: str) -> None:
    head_status, head_body, head = await proxy.get(raw, method="HEAD")
    get_status, get_body, got = await proxy.get(raw)
    assert head_status == get_status
    assert head_body == b""
    assert head["Content-Type"] == got["Content-Type"]
    assert head["Content-Length"] == got["Content-Length"] == str(len(get_body))


@pytest.mark.asyncio
async def test_a11_head_on_an_uncached_zip_stores_it_whole(proxy: Proxy) -> None:
    status, _, headers = await proxy.get("/" + BIG.rel("zip"), method="HEAD")
    assert status == 200
    assert headers["Content-Length"] == str(len(BIG.zip))
    assert await proxy.storage.inner.get(BIG.rel("zip")) == BIG.zip


@pytest.mark.asyncio
async def test_a12_ranges_and_conditional_requests_on_zips(proxy: Proxy) -> None:
    rel = "/" + BIG.rel("zip")
    data = BIG.zip
    etag = f'"sha256-{hashlib.sha256(data).hexdigest()}"'
    # A range on an uncached zip: the whole zip is fetched and stored, never the part.
    status, body, headers = await proxy.get(rel, headers={"Range": "bytes=0-99"})
    assert (status, body) == (206, data[:100])
    assert headers["Content-Range"] == f"bytes 0-99/{len(data)}"
    assert headers["ETag"] == etag
    assert await proxy.storage.inner.get(BIG.rel("zip")) == data
    status, body, _ = await proxy.get(rel, headers={"Range": "bytes=-500"})
    assert (status, body) == (206, data[-500:])
    # A range of many read pieces (it is sent piece by piece, never read whole into memory).
    status, body, _ = await proxy.get(rel, headers={"Range": "bytes=1000-2000999"})
    assert (status, body) == (206, data[1000:2001000])
    status, body, headers = await proxy.get(rel, headers={"Range": f"bytes={len(data)}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(data)}"
    status, body, _ = await proxy.get(rel, headers={"Range": "bytes=0-1,5-6"})
    assert (status, body) == (200, data)
    status, body, _ = await proxy.get(rel, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (status, body) == (200, data)
    status, body, _ = await proxy.get(rel, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (status, body) == (206, data[:10])
    status, body, _ = await proxy.get(rel, headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert proxy.origin.count(BIG.rel("zip")) == 1


@pytest.mark.asyncio
async def test_small_files_have_etags_and_answer_304(proxy: Proxy) -> None:
    _, _, headers = await proxy.get("/" + M1.rel("mod"))
    status, body, _ = await proxy.get(
        "/" + M1.rel("mod"), headers={"If-None-Match": headers["ETag"]}
    )
    assert (status, body) == (304, b"")


# -- the checksum-database relay (A13) -------------------------------------------------------


@pytest.mark.asyncio
async def test_a13_only_the_configured_database_is_relayed(proxy: Proxy) -> None:
    name = proxy.db.name
    status, body, _ = await proxy.get(f"/sumdb/{name}/supported")
    assert (status, body) == (200, b"")
    status, body, _ = await proxy.get(f"/sumdb/{name}/latest")
    assert status == 200
    assert body.startswith(b"go.sum database tree\n")
    assert f"\u2014 {name} ".encode() in body
    for raw in (
        "/sumdb/169.254.169.254/latest",
        "/sumdb/evil.example/lookup/x.y/z@v1.0.0",
        "/sumdb/localhost:22/supported",
        "/sumdb/sum.golang.org/supported",
        f"/sumdb/{name}/other",
        f"/sumdb/{name}/../../x",
    ):
        status, _, _ = await proxy.get(raw)
        assert status == 404, raw
    assert proxy.db.stats.latest == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "tile",
    [
        "tile/3/5/123/456/078",
        "tile/3/-1/000",
        "tile/31/0/000",
        "tile/8/0/000.p/0",
        "tile/8/0/000.p/256",
    ],
)
async def test_a13_malformed_tile_paths_are_400(proxy: Proxy, tile: str) -> None:
    status, _, headers = await proxy.get(f"/sumdb/{proxy.db.name}/{tile}")
    assert status == 400
    assert headers["Cache-Control"] == "no-store"
    assert proxy.db.stats.tiles == 0


@pytest.mark.asyncio
async def test_relay_passes_lookups_and_tiles_through_and_keeps_full_tiles(proxy: Proxy) -> None:
    name = proxy.db.name
    lookup = f"/sumdb/{name}/lookup/example.com/m@v1.0.0"
    status, body, _ = await proxy.get(lookup)
    assert status == 200
    assert M1.zip_h1.encode() in body
    status, tile, headers = await proxy.get(f"/sumdb/{name}/tile/8/0/000.p/5")
    assert status == 200
    assert len(tile) == 5 * 32
    assert headers["Content-Type"] == "application/octet-stream"
    await proxy.get(lookup)
    assert proxy.db.stats.lookups_by_module["example.com/m@v1.0.0"] == 1
    # Kept where a go command reading the cache folder as GOPROXY=file://... looks (initBase):
    # the "supported" marker, the lookup and the (partial) tile.
    root = proxy.storage.inner.root / "sumdb" / name
    assert (root / "supported").read_bytes() == b""
    assert M1.zip_h1.encode() in (root / "lookup/example.com/m@v1.0.0").read_bytes()
    assert (root / "tile/8/0/000.p/5").read_bytes() == tile


@pytest.mark.asyncio
async def test_relay_keeps_full_tiles_and_serves_them_again_without_the_database(
    proxy: Proxy,
) -> None:
    # Fill the first level-0 tile (256 records) so a full tile exists.
    fillers = [
        synth(f"example.com/filler{i}", "v1.0.0", files={"go.mod": b"x"}) for i in range(260)
    ]
    await proxy.db.add(*fillers)
    raw = f"/sumdb/{proxy.db.name}/tile/8/0/000"
    status, first, headers = await proxy.get(raw)
    assert (status, len(first)) == (200, 256 * 32)
    assert "immutable" in headers["Cache-Control"]
    status, again, _ = await proxy.get(raw)
    assert (status, again) == (200, first)
    assert proxy.db.stats.tiles == 1
    assert await proxy.storage.inner.get(f"sumdb/{proxy.db.name}/tile/8/0/000") == first


@pytest.mark.asyncio
@pytest.mark.parametrize("hits", [1, 3], ids=["after-the-fetch", "after-checked-hits"])
async def test_i84_a_rotten_cached_zip_is_never_served_whole_and_is_refetched(
    proxy: Proxy, hits: int
) -> None:
    # Three hits: the stored zip is checked once, then sent by sendfile while it is unchanged.
    for _ in range(hits):
        status, body, _ = await proxy.get("/" + BIG.rel("zip"))
        assert (status, body) == (200, BIG.zip)
    path = proxy.storage.inner.root / BIG.rel("zip")
    rotten = bytearray(BIG.zip)
    rotten[-10] ^= 0xFF  # in the tail: only the final check can see it
    await asyncio.to_thread(_overwrite_in_place, path, bytes(rotten))
    with pytest.raises(aiohttp.ClientPayloadError):
        await proxy.get("/" + BIG.rel("zip"))
    status, body, _ = await proxy.get("/" + BIG.rel("zip"))
    assert (status, body) == (200, BIG.zip)
    assert proxy.origin.count(BIG.rel("zip")) == 2


def _overwrite_in_place(path: Path, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.write(data)


@pytest.mark.asyncio
async def test_inv5_lookups_of_private_modules_are_refused_with_403(proxy: Proxy) -> None:
    status, body, _ = await proxy.get(f"/sumdb/{proxy.db.name}/lookup/private.example/p@v0.1.0")
    assert status == 403
    assert b"GONOSUMDB/GOPRIVATE" in body
    assert proxy.db.stats.lookups == 0


# -- loops, operations endpoints, metrics ------------------------------------------------------


@pytest.mark.asyncio
async def test_a_request_that_already_passed_this_proxy_is_508(proxy: Proxy) -> None:
    status, body, _ = await proxy.get(
        "/" + M1.rel("mod"), headers={"Via": f"1.1 other, 1.1 gomodproxy-{INSTANCE}"}
    )
    assert status == 508
    assert b"loop" in body
    assert proxy.origin.requests == []


@pytest.mark.asyncio
async def test_via_is_forwarded_with_this_proxy_added(proxy: Proxy) -> None:
    await proxy.get("/" + M1.rel("mod"), headers={"Via": "1.1 front-proxy"})
    assert proxy.origin.requests[-1].headers["Via"] == f"1.1 front-proxy, 1.1 gomodproxy-{INSTANCE}"


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_the_root_page_says_what_this_is_and_links_the_status_page(
    proxy: Proxy, method: str
) -> None:
    status, body, headers = await proxy.get("/", method=method)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert proxy.origin.requests == []
    assert proxy.storage.calls == []
    if method == "GET":
        text = body.decode()
        assert "gomodproxy" in text
        assert "Go module proxy" in text
        assert f"GOPROXY={proxy.url}" in text
        assert '<a href="/status">' in text


@pytest.mark.asyncio
async def test_health_readiness_and_metrics(proxy: Proxy) -> None:
    assert (await proxy.get("/healthz"))[:2] == (200, b"ok\n")
    assert (await proxy.get("/readyz"))[:2] == (200, b"ready\n")
    await proxy.get("/" + M1.rel("mod"))
    await proxy.get("/" + M1.rel("mod"))
    await proxy.get("/" + M1.rel("zip"))
    await proxy.get("/example.com/m/@v/v1.9.9.mod")
    status, body, _ = await proxy.get("/metrics")
    assert status == 200
    text = body.decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("gomodproxy_requests_total", kind="mod", status="200") == 2
    assert value("gomodproxy_requests_total", kind="mod", status="404") == 1
    assert value("gomodproxy_cache_requests_total", kind="mod", result="hit") == 1
    assert value("gomodproxy_cache_requests_total", kind="mod", result="miss") == 2
    assert value("gomodproxy_checksum_verifications_total", kind="zip", outcome="ok") == 1
    assert value("gomodproxy_checksum_verifications_total", kind="mod", outcome="ok") == 1
    upstream = proxy.origin.url
    fetches = "gomodproxy_upstream_fetches_total"
    assert value(fetches, upstream=upstream, kind="mod", outcome="not_found") == 1
    assert value("gomodproxy_bytes_served_total", kind="zip") == len(M1.zip)
    assert value("gomodproxy_fetches_in_flight") == 0
    assert value("gomodproxy_request_duration_seconds_count", kind="mod") == 3
    assert "# TYPE gomodproxy_request_duration_seconds histogram" in text


@pytest.mark.asyncio
async def test_list_and_latest_hits_and_misses_are_counted(proxy: Proxy) -> None:
    """Issue 16 §5: a list or @latest answered without asking the upstreams (a fresh kept
    answer, a remembered not-found) is a hit, one that asked them a miss (the list a @latest
    falls back on is not counted)."""
    for raw in ("/example.com/m/@v/list", "/example.com/m/@latest"):
        for _ in range(3):
            assert (await proxy.get(raw))[0] == 200
    cache = proxy.metrics.cache
    assert (cache.value("list", "miss"), cache.value("list", "hit")) == (1, 2)
    # The origin has no @latest: its not-found is remembered, and a remembered answer is a hit.
    assert (cache.value("latest", "miss"), cache.value("latest", "hit")) == (1, 2)
    assert proxy.origin.count("example.com/m/@v/list") == 1


# -- load (H) ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_h74_200_concurrent_clients_on_one_uncached_zip_make_one_origin_request(
    proxy: Proxy,
) -> None:
    proxy.origin.inject(Fault(delay=0.5), M1.rel("zip"))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def fetch() -> bytes:
            async with http.get(proxy.url + "/" + M1.rel("zip")) as resp:
                assert resp.status == 200
                return await resp.read()

        bodies = await asyncio.gather(*(fetch() for _ in range(200)))
    assert all(b == M1.zip for b in bodies)
    assert proxy.origin.count(M1.rel("zip")) == 1
    joined = proxy.metrics.fetches_deduplicated.value("zip")
    assert joined > 0
    assert joined + proxy.metrics.cache.value("zip", "hit") == 199


@pytest.mark.asyncio
async def test_h77_a_slow_reader_does_not_hold_up_other_clients(proxy: Proxy) -> None:
    await proxy.get("/" + BIG.rel("zip"))  # cached now
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), read_bufsize=1024
    ) as slow_http:
        slow = await slow_http.get(proxy.url + "/" + BIG.rel("zip"))
        await slow.content.read(1024)  # then stop reading: its socket buffers fill up
        for _ in range(5):
            status, body, _ = await asyncio.wait_for(proxy.get("/" + BIG.rel("zip")), 10)
            assert (status, len(body)) == (200, len(BIG.zip))
        slow.close()


@pytest.mark.asyncio
async def test_path_prefix_serves_under_it_only(tmp_path: Path) -> None:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [M1]) as db,
        aiohttp.ClientSession() as http,
    ):
        publish(origin, M1)
        p, server = await _start(tmp_path, origin, db, http, **{"path-prefix": "/goproxy"})
        try:
            status, body, _ = await p.get("/goproxy/" + M1.rel("mod"))
            assert (status, body) == (200, M1.mod)
            status, _, _ = await p.get("/" + M1.rel("mod"))
            assert status == 404
            assert (await p.get("/healthz"))[0] == 200
            for root in ("/goproxy", "/goproxy/", "/"):
                status, body, _ = await p.get(root)
                assert status == 200, root
                assert f"GOPROXY={p.url}/goproxy\n" in body.decode(), root
        finally:
            await server.close()

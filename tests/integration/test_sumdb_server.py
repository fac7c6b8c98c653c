"""Our checksum database server over HTTP on 127.0.0.1, fed with real corpus modules."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.sumdbserver import LogStore, ServerKey, make_app, server_key, sums_from_cache
from gomodproxy.tlog import note, tlog
from gomodproxy.tlog.tlog import Tile, Tree
from tests.corpus_data import CorpusModule, corpus_download_dir, corpus_modules

pytestmark = pytest.mark.corpus

_SMALL = ("rsc.io/quote/v3@v3.1.0", "rsc.io/sampler@v1.99.99", "github.com/kr/text@v0.2.0")
_UPPER = "github.com/Azure/go-autorest@v14.2.0+incompatible"


def _module(mod_id: str) -> CorpusModule:
    for m in corpus_modules():
        if m.id == mod_id:
            return m
    raise AssertionError(f"{mod_id} is not in the corpus (tests/corpus/go.mod)")


def _expected_record(m: CorpusModule) -> bytes:
    """The record the public database holds for m: the go.sum lines the go command verified."""
    return f"{m.path} {m.version} {m.zip_sum}\n{m.path} {m.version}/go.mod {m.mod_sum}\n".encode()


def mini_cache(root: Path, modules: Sequence[CorpusModule]) -> Path:
    """A module cache download folder holding only ``modules`` (links to the corpus files)."""
    download = corpus_download_dir()
    for m in modules:
        for src in (m.mod_file, m.zip_file):
            dst = root / "cache" / "download" / src.relative_to(download)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
    return root


@dataclass
class Served:
    """A running server: its base URL, its log and its key, and an HTTP client."""

    url: str
    store: LogStore
    key: ServerKey
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, bytes, str]:
        async with self.http.get(URL(self.url + path, encoded=True)) as resp:
            return resp.status, await resp.read(), resp.headers.get("Content-Type", "")

    async def stats(self) -> dict[str, object]:
        async with self.http.get(self.url + "/stats") as resp:
            data: dict[str, object] = await resp.json()
            return data


Start = Callable[..., Awaitable[Served]]


@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Start servers over fresh logs in ``tmp_path``; all are stopped at the end."""
    stack: list[tuple[TestServer, LogStore]] = []
    key = server_key(note.generate_key("sumdb.test")[0])
    async with aiohttp.ClientSession() as http:

        async def _start(
            modules: Sequence[CorpusModule] = (), *, from_proxy: str | None = None
        ) -> Served:
            data = tmp_path / f"log{len(stack)}"
            store = await asyncio.to_thread(LogStore.open, data, key.signer, key.verifier)
            if modules:
                cache = mini_cache(tmp_path / f"cache{len(stack)}", modules)
                sums = await asyncio.to_thread(sums_from_cache, cache)
                await asyncio.to_thread(store.append, [s.record_text() for s in sums])
            server = TestServer(make_app(store, from_proxy=from_proxy), host="127.0.0.1")
            await server.start_server()
            stack.append((server, store))
            return Served(str(server.make_url("")).rstrip("/"), store, key, http)

        yield _start
    for server, store in stack:
        await server.close()
        store.close()


async def _all_tiles(served: Served, n: int) -> dict[Tile, bytes]:
    tiles: dict[Tile, bytes] = {}
    for tile in tlog.new_tiles(8, 0, n):
        status, body, ctype = await served.get("/" + tile.path())
        assert (status, ctype) == (200, "application/octet-stream"), tile.path()
        tiles[tile] = body
    return tiles


class _DictTiles:
    def __init__(self, tiles: dict[Tile, bytes]) -> None:
        self.tiles = tiles

    def height(self) -> int:
        return 8

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        return [self.tiles[t] for t in tiles]

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        pass


def _lookup_path(m: CorpusModule) -> str:
    esc = f"{escape_path(m.path)}@{escape_version(m.version)}"
    return "/lookup/" + esc.replace("!", "%21")


@pytest.mark.asyncio
async def test_lookup_answers_the_go_sum_lines_go_verified_proven_in_the_signed_tree(
    start: Start,
) -> None:
    modules = [_module(i) for i in _SMALL]
    served = await start(modules)
    for m in modules:
        status, body, ctype = await served.get(_lookup_path(m))
        assert (status, ctype) == (200, "text/plain; charset=UTF-8")
        rid, text, signed = tlog.parse_record(body)
        assert text == _expected_record(m)
        tree = tlog.parse_tree(note.open_note(signed, [served.key.verifier]).text.encode())
        assert 0 <= rid < tree.n == len(modules)
        # The record is in the signed tree: its leaf hash comes from tiles proven against it.
        reader = tlog.tile_hash_reader(tree, _DictTiles(await _all_tiles(served, tree.n)))
        leaf = reader.read_hashes([tlog.stored_hash_index(0, rid)])
        assert leaf == [tlog.record_hash(text)]
    stats = await served.stats()
    assert stats["lookups"] == len(modules)
    assert stats["lookups_by_module"] == {m.id: 1 for m in modules}


@pytest.mark.asyncio
async def test_lookup_unescapes_bang_encoded_path_sent_as_percent_21(start: Start) -> None:
    m = _module(_UPPER)
    served = await start([m])
    status, body, _ = await served.get(_lookup_path(m))
    assert "%21azure" in _lookup_path(m)
    assert status == 200
    assert tlog.parse_record(body)[1] == _expected_record(m)


@pytest.mark.parametrize(
    "path",
    [
        "/lookup/rsc.io/quote@v1.5",
        "/lookup/rsc.io/quote",
        "/lookup/rsc.io/quote@v1.5.2/go.mod",
        "/lookup/rsc.io/quote@latest",
        "/lookup/rsc.io/quote@v1.5.2+meta",
        "/lookup/@v1.5.2",
    ],
)
@pytest.mark.asyncio
async def test_lookup_with_bad_module_version_syntax_is_400(start: Start, path: str) -> None:
    served = await start()
    status, body, _ = await served.get(path)
    assert (status, body) == (400, b"invalid module@version syntax\n")


@pytest.mark.parametrize(
    "path",
    [
        "/lookup/rsc.io/quote@v1.5.2",
        "/lookup/github.com/Azure/go-autorest@v14.2.0+incompatible",
        "/lookup/rsc.io/quote@v2.0.0",
        "/lookup/..@v1.0.0",
    ],
)
@pytest.mark.asyncio
async def test_lookup_of_version_not_in_the_log_is_404_not_found(start: Start, path: str) -> None:
    served = await start([_module(_SMALL[0])])
    status, body, _ = await served.get(path)
    assert status == 404
    assert body.startswith(b"not found: ")
    assert (await served.stats())["lookups_not_found"] == 1


@pytest.mark.asyncio
async def test_latest_is_the_signed_head_lookups_carry(start: Start) -> None:
    served = await start([_module(i) for i in _SMALL])
    status, latest, ctype = await served.get("/latest")
    assert (status, ctype) == (200, "text/plain; charset=UTF-8")
    _, _, signed = tlog.parse_record((await served.get(_lookup_path(_module(_SMALL[1]))))[1])
    assert latest == signed
    tree = tlog.parse_tree(note.open_note(latest, [served.key.verifier]).text.encode())
    assert tree == served.store.tree


@pytest.mark.asyncio
async def test_hash_and_data_tiles_serve_partial_tiles_of_the_current_tree(start: Start) -> None:
    modules = [_module(i) for i in _SMALL]
    served = await start(modules)
    status, body, _ = await served.get("/tile/8/0/000.p/3")
    assert status == 200
    assert len(body) == 3 * 32
    assert body == served.store.read_tile(Tile(8, 0, 0, 3))
    status, body, _ = await served.get("/tile/8/0/000.p/2")
    assert (status, len(body)) == (200, 64)
    status, body, ctype = await served.get("/tile/8/data/000.p/3")
    assert (status, ctype) == (200, "text/plain; charset=UTF-8")
    texts = served.store.read_records(0, 3)
    assert body == b"".join(t + b"\n" for t in texts)
    assert sorted(texts) == sorted(_expected_record(m) for m in modules)


@pytest.mark.parametrize(
    "path",
    [
        "/tile/8/0/000.p/4",
        "/tile/8/0/000",
        "/tile/8/1/000.p/1",
        "/tile/4/0/000.p/3",
        "/tile/8/data/000.p/4",
        "/tile/8/0/001.p/1",
    ],
)
@pytest.mark.asyncio
async def test_tiles_beyond_the_tree_or_of_another_height_are_404(start: Start, path: str) -> None:
    served = await start([_module(i) for i in _SMALL])
    status, body, _ = await served.get(path)
    assert status == 404
    assert body.startswith(b"not found: ")


@pytest.mark.parametrize(
    "path",
    [
        "/tile/3/5/123/456/078",
        "/tile/8/-1/000",
        "/tile/31/0/000",
        "/tile/8/0/000.p/256",
        "/tile/8/0/0",
        "/tile/8/0/x000/000",
        "/tile/8/0",
    ],
)
@pytest.mark.asyncio
async def test_malformed_tile_path_is_400(start: Start, path: str) -> None:
    served = await start([_module(_SMALL[0])])
    status, body, _ = await served.get(path)
    assert (status, body) == (400, b"invalid tile syntax\n")


# --- --from-proxy -----------------------------------------------------------------------------


@dataclass
class Origin:
    """A loopback GOPROXY serving the corpus download folder, counting requests."""

    url: str
    requests: list[str]


@pytest_asyncio.fixture
async def corpus_origin() -> AsyncIterator[Origin]:
    requests: list[str] = []

    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        requests.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[count])
    app.router.add_static("/", corpus_download_dir())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield Origin(str(server.make_url("")).rstrip("/"), requests)
    await server.close()


@pytest.mark.asyncio
async def test_from_proxy_logs_a_version_on_first_lookup_only(
    start: Start, corpus_origin: Origin
) -> None:
    served = await start(from_proxy=corpus_origin.url)
    m, upper = _module(_SMALL[1]), _module(_UPPER)
    for mod in (m, upper, m, upper):
        status, body, _ = await served.get(_lookup_path(mod))
        assert status == 200, body
        assert tlog.parse_record(body)[1] == _expected_record(mod)
    stats = await served.stats()
    assert (stats["appended"], stats["tree_size"], stats["lookups"]) == (2, 2, 4)
    assert len(corpus_origin.requests) == 4  # one .mod and one .zip per version


@pytest.mark.asyncio
async def test_from_proxy_concurrent_lookups_share_one_fetch(
    start: Start, corpus_origin: Origin
) -> None:
    served = await start(from_proxy=corpus_origin.url)
    m = _module(_SMALL[2])
    answers = await asyncio.gather(*(served.get(_lookup_path(m)) for _ in range(8)))
    assert {a[0] for a in answers} == {200}
    assert {tlog.parse_record(a[1])[0] for a in answers} == {0}
    assert served.store.size == 1
    assert len(corpus_origin.requests) == 2


@pytest.mark.asyncio
async def test_from_proxy_unknown_version_is_404_and_not_logged(
    start: Start, corpus_origin: Origin
) -> None:
    served = await start(from_proxy=corpus_origin.url)
    status, body, _ = await served.get("/lookup/rsc.io/quote/v3@v3.0.99")
    assert status == 404
    assert body.startswith(b"not found: ")
    assert served.store.size == 0


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.asyncio
async def test_b21_proxy_zip_for_another_module_is_refused_and_not_logged(start: Start) -> None:
    mod = b"module example.com/a\n"
    files = {
        "/example.com/a/@v/v1.0.0.mod": mod,
        "/example.com/a/@v/v1.0.0.zip": _zip({"example.com/b@v1.0.0/go.mod": mod}),
    }

    async def serve_file(request: web.Request) -> web.Response:
        body = files.get(request.path)
        return web.Response(body=body) if body is not None else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve_file)
    origin = TestServer(app, host="127.0.0.1")
    await origin.start_server()
    try:
        served = await start(from_proxy=str(origin.make_url("")).rstrip("/"))
        status, body, _ = await served.get("/lookup/example.com/a@v1.0.0")
        assert status == 502, body
        assert b"example.com/b@v1.0.0/go.mod" in body
        assert served.store.size == 0
        assert served.store.tree == Tree(0, tlog.EMPTY_HASH)
    finally:
        await origin.close()

"""Shared pieces of the proxy tests: synthetic modules and our own checksum database.

Synthetic modules are real module zips written with Python's ``zipfile`` (independent of our
zip writer). The checksum database is ``gomodproxy.sumdbserver`` (our own server, never the
public one) on 127.0.0.1 over a fresh log, and the verifier is the real
:class:`~gomodproxy.sumdb.client.SumDBClient` reading it over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import ssl
import zipfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from gomodproxy.assembly import check_settings
from gomodproxy.config import build_settings
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.server.app import make_app as make_proxy_app
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.storage import FilesystemStorage
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.fetch import SumDBHTTPFetcher
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.sumdbserver import LogStore, ServerKey, Stats, make_app, server_key
from gomodproxy.sumdbserver.app import STATS_KEY
from gomodproxy.tlog import note
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher
from tests.origin import Origin

__all__ = [
    "RunningProxy",
    "SumDB",
    "SynthModule",
    "publish",
    "running_proxy",
    "running_sumdb",
    "synth",
]

_TIME = "2024-01-02T03:04:05Z"
_ZIP_TIME = (2024, 1, 2, 3, 4, 6)  # fixed, so a module's zip is the same bytes every time


@dataclass(frozen=True)
class SynthModule:
    """A module version with its files; ``info``, ``mod`` and ``zip`` are the served bytes."""

    path: str
    version: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    time: str = _TIME

    @property
    def mod(self) -> bytes:
        """The go.mod (the zip's, or a synthesized module line)."""
        return self.files.get("go.mod", f"module {self.path}\n".encode())

    @property
    def info(self) -> bytes:
        """The .info JSON."""
        return json.dumps({"Version": self.version, "Time": self.time}).encode()

    @property
    def zip(self) -> bytes:
        """The module zip: every file under ``path@version/``."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(self.files.items()):
                entry = zipfile.ZipInfo(f"{self.path}@{self.version}/{name}", _ZIP_TIME)
                z.writestr(entry, data, zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    @property
    def zip_h1(self) -> str:
        """The go.sum hash of the zip."""
        return hash_zip(io.BytesIO(self.zip))

    @property
    def mod_h1(self) -> str:
        """The go.sum hash of the go.mod."""
        return hash_go_mod(self.mod)

    def rel(self, ext: str) -> str:
        """The escaped request path of one of its files (``info``, ``mod``, ``zip``)."""
        return f"{escape_path(self.path)}/@v/{escape_version(self.version)}.{ext}"

    @property
    def list_rel(self) -> str:
        """The escaped request path of the module's list."""
        return f"{escape_path(self.path)}/@v/list"

    def record(self) -> bytes:
        """Its checksum-database record text."""
        return (
            f"{self.path} {self.version} {self.zip_h1}\n"
            f"{self.path} {self.version}/go.mod {self.mod_h1}\n"
        ).encode()


def synth(
    path: str, version: str, *, size: int = 0, files: Mapping[str, bytes] | None = None
) -> SynthModule:
    """A small module; ``size`` adds an incompressible file of that many bytes."""
    content = {"go.mod": f"module {path}\n\ngo 1.21\n".encode(), "m.go": b"package m\n"}
    if size:
        import random

        rnd = random.Random(f"{path}@{version}")
        content["data.bin"] = rnd.randbytes(size)
    if files is not None:
        content = dict(files)
    return SynthModule(path, version, content)


def publish(origin: Origin, *modules: SynthModule) -> None:
    """Serve the modules' files at the origin and list their versions."""
    lists: dict[str, list[str]] = {}
    for m in modules:
        origin.serve_file(m.rel("info"), m.info)
        origin.serve_file(m.rel("mod"), m.mod)
        origin.serve_file(m.rel("zip"), m.zip)
        lists.setdefault(m.list_rel, []).append(m.version)
    for rel, versions in lists.items():
        origin.serve_file(rel, "".join(v + "\n" for v in versions).encode())


@dataclass
class SumDB:
    """Our checksum database running on 127.0.0.1."""

    url: str
    key: ServerKey
    store: LogStore
    app: web.Application
    #: The paths asked of the database, in the order they arrived (``lookup/...``,
    #: ``tile/...``, ``latest``).
    requests: list[str] = field(default_factory=list)

    @property
    def stats(self) -> Stats:
        """What the server answered so far (lookups by module, tiles, latest)."""
        return self.app[STATS_KEY]

    @property
    def name(self) -> str:
        """The database name."""
        return self.key.name

    @property
    def gosumdb(self) -> str:
        """The GOSUMDB value naming this database by key and URL."""
        return f"{self.key.verifier_key} {self.url}"

    async def add(self, *modules: SynthModule) -> None:
        """Log the modules' go.sum lines."""
        await asyncio.to_thread(self.store.append, [m.record() for m in modules])

    def verifier(self, session: aiohttp.ClientSession) -> SumDBClient:
        """A fresh verifying client of this database."""
        fetcher = HTTPFetcher(self.url, session, policy=FetchPolicy(retries=0, deadline=10))
        return SumDBClient(self.key.verifier_key, SumDBHTTPFetcher(fetcher), MemoryVerifierState())


@contextlib.asynccontextmanager
async def running_sumdb(
    data_dir: Path, modules: Sequence[SynthModule] = (), *, name: str = "sumdb.test"
) -> AsyncIterator[SumDB]:
    """Our checksum database over a fresh log in ``data_dir``, holding ``modules``."""
    key = server_key(note.generate_key(name)[0])
    store = await asyncio.to_thread(LogStore.open, data_dir, key.signer, key.verifier)
    app = make_app(store)
    requests: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        requests.append(request.path.lstrip("/"))
        return await handler(request)

    app.middlewares.append(record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    db = SumDB(str(server.make_url("")).rstrip("/"), key, store, app, requests)
    try:
        if modules:
            await db.add(*modules)
        yield db
    finally:
        await server.close()
        store.close()


@dataclass
class RunningProxy:
    """Our proxy (the real app, filesystem storage) on 127.0.0.1."""

    url: str
    storage: FilesystemStorage
    metrics: ProxyMetrics
    #: The application (its cache service is ``app[SERVICE_KEY]`` once started).
    app: web.Application | None = None


@contextlib.asynccontextmanager
async def running_proxy(
    cache_dir: Path,
    *,
    upstream: str,
    sumdb: SumDB,
    by_name: bool = False,
    sumdb_off: bool = False,
    port: int = 0,
    tls: ssl.SSLContext | None = None,
    **overrides: str,
) -> AsyncIterator[RunningProxy]:
    """``gomodproxy serve``'s app in front of ``upstream``, verifying against ``sumdb``.

    ``by_name``: configure the database by name and key only (no URL), so the proxy must find
    it through its upstreams, as the go command does; ``sumdb_off``: GOSUMDB=off. Settings go
    through the same ``build_settings`` as the command line (``overrides`` are setting names,
    dashes as underscores); the Go environment is not read. ``port`` 0 picks a free port; with
    ``tls`` the proxy serves https.
    """
    values = {
        "upstream": upstream,
        "sumdb": "off" if sumdb_off else sumdb.key.verifier_key if by_name else sumdb.gosumdb,
        "cache-dir": str(cache_dir),
        "list-ttl": "0",
        "retries": "0",
        "read-timeout": "3",
        "zip-timeout": "120",
        "instance-id": "gocmd-test",
    }
    values.update({k.replace("_", "-"): v for k, v in overrides.items()})
    # In a thread: a setting may name a file to check or read (``faults``, ``rules``).
    settings = await asyncio.to_thread(
        build_settings, values, {"HOME": str(cache_dir.parent)}, go_env=lambda names: {}
    )
    plan = await asyncio.to_thread(check_settings, settings)
    storage = FilesystemStorage(settings.cache_dir)
    metrics = ProxyMetrics()
    app = make_proxy_app(
        plan,
        instance_id=values["instance-id"],
        storage=storage,
        metrics=metrics,
    )
    server = TestServer(app, host="127.0.0.1", port=port or None)
    await server.start_server(ssl=tls)
    try:
        yield RunningProxy(str(server.make_url("")).rstrip("/"), storage, metrics, app)
    finally:
        await server.close()

"""The real go command, and our verifier, against our own checksum database server.

Every server here runs as ``python -m gomodproxy sumdb serve`` on 127.0.0.1 (port 0), over the
real-module corpus: the go command downloads from ``GOPROXY=file://<corpus cache/download>`` with
an empty go.sum and ``GOSUMDB='<our verifier key> <our url>'``, so every hash it accepts was
proven by our log, and every refusal is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import select
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from gomodproxy.errors import ChecksumMismatch, SecurityError, SumDBError
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.sumdb.client import ForkDetected, SumDBClient
from gomodproxy.sumdb.fetch import SumDBEndpoint, SumDBHTTPFetcher
from gomodproxy.sumdb.gosumdb import parse_gosumdb
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.sumdbserver import LogStore, ModuleSums, load_signer_file
from gomodproxy.tlog import note, tlog
from gomodproxy.tlog.tlog import Tile
from gomodproxy.upstream.chain import transport_for
from tests.corpus_data import (
    CORPUS_DIR,
    CorpusModule,
    corpus_download_dir,
    corpus_modcache_dir,
    corpus_modules,
    go_escape,
)
from tests.gotool import go_environ, run_go

pytestmark = [pytest.mark.gocmd, pytest.mark.corpus]

_DOWNLOAD_SET = (
    "rsc.io/quote/v3@v3.1.0",
    "rsc.io/sampler@v1.99.99",
    "github.com/kr/text@v0.2.0",
    "github.com/mattn/go-isatty@v0.0.20",
    "github.com/Azure/go-autorest@v14.2.0+incompatible",
    "gopkg.in/tomb.v1@v1.0.0-20141024135613-dd632973f1e7",
)
_START_TIMEOUT = 180.0


def _module(mod_id: str) -> CorpusModule:
    for m in corpus_modules():
        if m.id == mod_id:
            return m
    raise AssertionError(f"{mod_id} is not in the corpus (tests/corpus/go.mod)")


def _zip_in_corpus(node: str) -> bool:
    path, version = node.split("@")
    return (corpus_download_dir() / go_escape(path) / "@v" / f"{go_escape(version)}.zip").is_file()


def _sums(m: CorpusModule, *, zip_sum: str | None = None) -> ModuleSums:
    return ModuleSums(m.path, m.version, zip_sum or m.zip_sum, m.mod_sum)


def _go_sum_lines(sums: Sequence[ModuleSums]) -> str:
    return "".join(s.record_text().decode() for s in sums)


# --- running servers --------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """One ``gomodproxy sumdb serve`` process we started."""

    proc: subprocess.Popen[bytes]
    url: str
    gosumdb: str
    log: Path

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as resp:
            body: bytes = resp.read()
            return body

    def stats(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.get("/stats"))
        return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class Servers:
    """Starts server processes; stops all of them at the end of the test."""

    tmp: Path
    key_file: Path
    verifier_key: str
    started: list[ServerProcess] = field(default_factory=list)

    def start(self, data: Path, *feeds: str) -> ServerProcess:
        log = self.tmp / f"server{len(self.started)}.log"
        args = [sys.executable, "-m", "gomodproxy", "sumdb", "serve", "--key", str(self.key_file)]
        args += ["--data", str(data), "--listen", "127.0.0.1:0", *feeds]
        with log.open("wb") as err:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, bufsize=0)
        server = ServerProcess(proc, "", "", log)
        self.started.append(server)
        assert proc.stdout is not None
        lines: list[str] = []
        while len(lines) < 2:
            ready, _, _ = select.select([proc.stdout], [], [], _START_TIMEOUT)
            line = proc.stdout.readline().decode() if ready else ""
            if not line:
                pytest.fail(f"sumdb server did not start:\n{log.read_text()}")
            lines.append(line.strip())
        assert lines[0].startswith("serving http://127.0.0.1:"), lines
        server.url = lines[0].removeprefix("serving ")
        server.gosumdb = lines[1].removeprefix("GOSUMDB='").removesuffix("'")
        assert server.gosumdb == f"{self.verifier_key} {server.url}"
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A key pair made by ``gomodproxy sumdb keygen`` (the CLI)."""
    out = tmp_path_factory.mktemp("keys")
    proc = subprocess.run(
        [sys.executable, "-m", "gomodproxy", "sumdb", "keygen", "sumdb.test.local", "--out", out],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    signer = out / "sumdb.test.local.signer"
    verifier_key = (out / "sumdb.test.local.verifier").read_text().strip()
    assert proc.stdout.strip().endswith(verifier_key)
    assert signer.stat().st_mode & 0o777 == 0o600
    return signer, verifier_key


@pytest.fixture
def servers(tmp_path: Path, keys: tuple[Path, str]) -> Iterator[Servers]:
    s = Servers(tmp_path, *keys)
    yield s
    s.stop_all()


@pytest.fixture(scope="module")
def corpus_server(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, str]
) -> Iterator[ServerProcess]:
    """One server fed ``--from-cache`` with the whole corpus module cache."""
    tmp = tmp_path_factory.mktemp("corpus-sumdb")
    s = Servers(tmp, *keys)
    try:
        yield s.start(tmp / "data", "--from-cache", str(corpus_modcache_dir()))
    finally:
        s.stop_all()


# --- the go command ---------------------------------------------------------------------------


@dataclass
class GoWorld:
    """A scratch GOPATH and an empty main module with an EMPTY go.sum."""

    home: Path

    @property
    def module(self) -> Path:
        return self.home / "main"

    def env(self, gosumdb: str) -> dict[str, str]:
        return go_environ(
            self.home, goproxy="file://" + corpus_download_dir().as_posix(), gosumdb=gosumdb
        )

    def download(
        self, gosumdb: str, modules: Sequence[CorpusModule]
    ) -> subprocess.CompletedProcess[str]:
        args = ["mod", "download", "-json", *(m.id for m in modules)]
        return run_go(args, cwd=self.module, env=self.env(gosumdb), timeout=300)

    def remembered_latest(self, name: str) -> bytes:
        return (self.home / "gopath" / "pkg" / "sumdb" / name / "latest").read_bytes()

    def extracted(self, m: CorpusModule) -> bool:
        esc = f"{escape_path(m.path)}@{escape_version(m.version)}"
        return (self.home / "gopath" / "pkg" / "mod" / esc).exists()


def _world(root: Path) -> GoWorld:
    world = GoWorld(root)
    world.module.mkdir(parents=True)
    (world.module / "go.mod").write_text("module example.com/sumdbcheck\n\ngo 1.21\n")
    (world.module / "go.sum").write_text("")
    return world


def _json_objects(stdout: str) -> list[dict[str, str]]:
    decoder = json.JSONDecoder()
    out, i = [], 0
    while i < len(stdout):
        if stdout[i].isspace():
            i += 1
            continue
        obj, i = decoder.raw_decode(stdout, i)
        out.append(obj)
    return out


# --- our verifier over HTTP -------------------------------------------------------------------


async def _verify_all(
    gosumdb: str,
    state: MemoryVerifierState,
    checks: Sequence[tuple[CorpusModule, str, str]],
) -> list[BaseException | None]:
    """Run our verifier (``SumDBClient.verify`` over HTTP, configured by the same GOSUMDB value
    the go command gets) for each (module, kind, h1); return each outcome."""
    config = parse_gosumdb(gosumdb)
    assert config is not None
    outcomes: list[BaseException | None] = []
    async with aiohttp.ClientSession() as session:
        endpoint = SumDBEndpoint(
            config, parse_goproxy("off"), lambda url: transport_for(url, session)
        )
        client = SumDBClient(config.verifier_key, SumDBHTTPFetcher(endpoint), state)
        for m, kind, h1 in checks:
            try:
                await client.verify(m.path, m.version, "zip" if kind == "zip" else "mod", h1)
                outcomes.append(None)
            except (SumDBError, SecurityError, ChecksumMismatch) as exc:
                outcomes.append(exc)
    return outcomes


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_go_command_verifies_corpus_modules_against_our_server_from_cache(
    corpus_server: ServerProcess, tmp_path: Path
) -> None:
    modules = [_module(i) for i in _DOWNLOAD_SET]
    world = _world(tmp_path / "go")
    before = corpus_server.stats()
    # Every version of the cache is logged: the corpus modules with both lines, and the versions
    # whose go.mod alone the go command fetched (to build the module graph) with their go.mod line.
    versions = list(corpus_download_dir().glob("**/@v/*.mod"))
    assert before["tree_size"] == len(versions) > len(corpus_modules())
    proc = world.download(corpus_server.gosumdb, modules)
    assert proc.returncode == 0, proc.stderr
    got = {(o["Path"], o["Version"]): (o["Sum"], o["GoModSum"]) for o in _json_objects(proc.stdout)}
    assert got == {(m.path, m.version): (m.zip_sum, m.mod_sum) for m in modules}
    stats = corpus_server.stats()
    assert stats["lookups"] == int(str(before["lookups"])) + len(modules)
    by_module = stats["lookups_by_module"]
    assert isinstance(by_module, dict)
    assert {m.id: by_module.get(m.id) for m in modules} == {m.id: 1 for m in modules}
    assert int(str(stats["tiles"])) > 0
    # The go command remembered our signed tree head.
    assert world.remembered_latest("sumdb.test.local") == corpus_server.get("/latest")


@pytest.mark.slow
def test_the_go_command_loads_the_whole_corpus_module_graph_against_our_server(
    corpus_server: ServerProcess, tmp_path: Path
) -> None:
    """``go mod graph`` over the corpus go.mod with an empty go.sum: every go.mod of the module
    graph, including the versions whose zip the go command never fetches, is verified against
    our ``--from-cache`` database."""
    world = GoWorld(tmp_path / "graph")
    world.module.mkdir(parents=True)
    (world.module / "go.mod").write_bytes((CORPUS_DIR / "go.mod").read_bytes())
    (world.module / "go.sum").write_text("")
    before = int(str(corpus_server.stats()["lookups"]))
    env = world.env(corpus_server.gosumdb)
    graph = run_go(["mod", "graph"], cwd=world.module, env=env, timeout=300)
    assert graph.returncode == 0, graph.stderr
    assert len(graph.stdout.splitlines()) > len(corpus_modules())
    # Every version whose requirements the graph lists (the left side of an edge: its go.mod was
    # read) had that go.mod verified, so it was looked up in our database.
    sources = {line.split()[0] for line in graph.stdout.splitlines()}
    nodes = {n for n in sources if "@" in n and not n.startswith(("go@", "toolchain@"))}
    assert len(nodes) >= 60
    by_module = corpus_server.stats()["lookups_by_module"]
    assert isinstance(by_module, dict)
    assert nodes - set(by_module) == set()
    # go.mod-only versions (no zip in the cache) were among them.
    assert any(not _zip_in_corpus(node) for node in nodes)
    stats = corpus_server.stats()
    assert int(str(stats["lookups"])) > before
    assert stats["lookups_not_found"] == 0


@pytest.mark.slow
def test_our_verifier_accepts_the_same_corpus_sums_from_our_server(
    corpus_server: ServerProcess,
) -> None:
    modules = [_module(i) for i in _DOWNLOAD_SET]
    checks = [(m, "zip", m.zip_sum) for m in modules] + [(m, "mod", m.mod_sum) for m in modules]
    outcomes = asyncio.run(_verify_all(corpus_server.gosumdb, MemoryVerifierState(), checks))
    assert outcomes == [None] * len(checks)


def test_c38_go_command_refuses_a_hash_our_server_logged_wrong(
    servers: Servers, tmp_path: Path
) -> None:
    good, bad = _module(_DOWNLOAD_SET[0]), _module(_DOWNLOAD_SET[2])
    wrong = _module(_DOWNLOAD_SET[3]).zip_sum  # a real h1, of another module
    feed = tmp_path / "tampered.sum"
    feed.write_text(_go_sum_lines([_sums(good), _sums(bad, zip_sum=wrong)]))
    server = servers.start(tmp_path / "data", "--from-list", str(feed))
    world = _world(tmp_path / "go")

    ok = world.download(server.gosumdb, [good])
    assert ok.returncode == 0, ok.stderr

    refused = world.download(server.gosumdb, [bad])
    assert refused.returncode != 0
    # With -json the go command reports the failure in the module's "Error" field.
    (answer,) = _json_objects(refused.stdout)
    message = answer.get("Error", "") + refused.stderr
    assert "SECURITY ERROR" in message
    assert "checksum server" in message
    assert f"{bad.id}: verifying module: checksum mismatch" in message
    # The go command names our database and quotes the hash our log holds.
    assert f"\tsumdb.test.local: {wrong}\n" in message
    assert f"downloaded: {bad.zip_sum}" in message
    assert not world.extracted(bad)
    assert (world.module / "go.sum").read_text() == ""
    assert server.stats()["lookups_by_module"] == {good.id: 1, bad.id: 1}


def test_c38_our_verifier_refuses_the_wrong_hash_too(servers: Servers, tmp_path: Path) -> None:
    good, bad = _module(_DOWNLOAD_SET[0]), _module(_DOWNLOAD_SET[2])
    wrong = _module(_DOWNLOAD_SET[3]).zip_sum
    feed = tmp_path / "tampered.sum"
    feed.write_text(_go_sum_lines([_sums(good), _sums(bad, zip_sum=wrong)]))
    server = servers.start(tmp_path / "data", "--from-list", str(feed))
    checks = [(good, "zip", good.zip_sum), (bad, "mod", bad.mod_sum), (bad, "zip", bad.zip_sum)]
    outcomes = asyncio.run(_verify_all(server.gosumdb, MemoryVerifierState(), checks))
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], ChecksumMismatch)
    assert outcomes[2].expected == wrong
    assert outcomes[2].received == bad.zip_sum
    assert "SECURITY ERROR" in str(outcomes[2])


def _build_log(data: Path, key_file: Path, sums: Sequence[ModuleSums]) -> bytes:
    """Write a log with our LogStore directly; return its signed tree head."""
    key = load_signer_file(key_file)
    store = LogStore.open(data, key.signer, key.verifier)
    try:
        store.append([s.record_text() for s in sums])
        return store.signed_tree()
    finally:
        store.close()


@pytest.fixture
def forked(servers: Servers, tmp_path: Path) -> tuple[ServerProcess, ServerProcess]:
    """Two servers, same key, same tree size, different records at id 1: a forked log."""
    m0, m1, m2 = (_module(i) for i in _DOWNLOAD_SET[:3])
    wrong = _module(_DOWNLOAD_SET[3]).zip_sum
    head_a = _build_log(tmp_path / "a", servers.key_file, [_sums(m0), _sums(m1), _sums(m2)])
    fork = [_sums(m0), _sums(m1, zip_sum=wrong), _sums(m2)]
    head_b = _build_log(tmp_path / "b", servers.key_file, fork)
    key = load_signer_file(servers.key_file)
    tree_a = tlog.parse_tree(note.open_note(head_a, [key.verifier]).text.encode())
    tree_b = tlog.parse_tree(note.open_note(head_b, [key.verifier]).text.encode())
    assert tree_a.n == tree_b.n == 3
    assert tree_a.hash != tree_b.hash
    return servers.start(tmp_path / "a"), servers.start(tmp_path / "b")


def test_e51_go_command_detects_our_forked_log_and_keeps_its_tree_head(
    forked: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    a, b = forked
    m0, _, m2 = (_module(i) for i in _DOWNLOAD_SET[:3])
    world = _world(tmp_path / "go")
    first = world.download(a.gosumdb, [m0])
    assert first.returncode == 0, first.stderr
    head_a = a.get("/latest")
    assert world.remembered_latest("sumdb.test.local") == head_a

    second = world.download(b.gosumdb, [m2])
    assert second.returncode != 0
    assert "SECURITY ERROR" in second.stderr
    assert "go.sum database server misbehavior detected!" in second.stderr
    assert world.remembered_latest("sumdb.test.local") == head_a
    assert not world.extracted(m2)


def test_e51_our_verifier_detects_the_fork_and_keeps_the_last_good_head(
    forked: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = forked
    m0, _, m2 = (_module(i) for i in _DOWNLOAD_SET[:3])
    state = MemoryVerifierState()
    assert asyncio.run(_verify_all(a.gosumdb, state, [(m0, "zip", m0.zip_sum)])) == [None]
    latest_file = "sumdb.test.local/latest"
    head_a = state.config[latest_file]
    assert head_a == a.get("/latest")

    (outcome,) = asyncio.run(_verify_all(b.gosumdb, state, [(m2, "zip", m2.zip_sum)]))
    assert isinstance(outcome, ForkDetected)
    assert isinstance(outcome, SecurityError)
    assert "go.sum database server misbehavior detected!" in str(outcome)
    assert state.config[latest_file] == head_a


class _HTTPTiles:
    """A TileReader fetching every tile of a small tree up front from a server."""

    def __init__(self, server: ServerProcess, n: int) -> None:
        self.tiles = {t: server.get("/" + t.path()) for t in tlog.new_tiles(8, 0, n)}

    def height(self) -> int:
        return 8

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        return [self.tiles[t] for t in tiles]

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        pass


def test_log_survives_restart_and_only_grows(
    servers: Servers, tmp_path: Path, keys: tuple[Path, str]
) -> None:
    first = [_module(i) for i in _DOWNLOAD_SET[:3]]
    later = [_module(i) for i in _DOWNLOAD_SET[3:5]]
    feed = tmp_path / "first.sum"
    feed.write_text(_go_sum_lines([_sums(m) for m in first]))
    data = tmp_path / "data"
    world = _world(tmp_path / "go")
    verifier = note.new_verifier(keys[1])

    server = servers.start(data, "--from-list", str(feed))
    head = server.get("/latest")
    ids = {m.id: tlog.parse_record(server.get(_lookup(m)))[0] for m in first}
    assert world.download(server.gosumdb, first[:1]).returncode == 0
    server.stop()

    # Same folder, no feed: the same signed head, and lookups still answer.
    server = servers.start(data)
    assert server.get("/latest") == head
    assert server.stats()["tree_size"] == 3
    assert {m.id: tlog.parse_record(server.get(_lookup(m)))[0] for m in first} == ids
    ok = world.download(server.gosumdb, first[1:2])
    assert ok.returncode == 0, ok.stderr
    server.stop()

    # New modules append after the old records, which keep their ids.
    cache = tmp_path / "cache"
    for m in later:
        for src in (m.mod_file, m.zip_file):
            dst = cache / "cache" / "download" / src.relative_to(corpus_download_dir())
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
    server = servers.start(data, "--from-list", str(feed), "--from-cache", str(cache))
    old_tree = tlog.parse_tree(note.open_note(head, [verifier]).text.encode())
    new_tree = tlog.parse_tree(note.open_note(server.get("/latest"), [verifier]).text.encode())
    assert new_tree.n == 5
    assert {m.id: tlog.parse_record(server.get(_lookup(m)))[0] for m in first} == ids
    hashes = tlog.tile_hash_reader(new_tree, _HTTPTiles(server, new_tree.n))
    assert tlog.tree_hash(old_tree.n, hashes) == old_tree.hash
    # The go command, remembering the old head, accepts the grown tree and its new records.
    grown = world.download(server.gosumdb, later)
    assert grown.returncode == 0, grown.stderr
    assert world.remembered_latest("sumdb.test.local") == server.get("/latest")


def _lookup(m: CorpusModule) -> str:
    esc = f"{escape_path(m.path)}@{escape_version(m.version)}"
    return "/lookup/" + esc.replace("!", "%21")


# --- --from-proxy, through the command line -----------------------------------------------------


@contextlib.contextmanager
def _static_goproxy(folder: Path) -> Iterator[str]:
    """Python's own static file server over a ``cache/download`` folder: a GOPROXY on loopback
    that knows nothing of gomodproxy."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        found = re.search(r"port (\d+)", line)
        assert found, f"http.server did not start: {line!r}"
        yield f"http://127.0.0.1:{found.group(1)}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_from_proxy_logs_versions_on_first_lookup_and_the_go_command_verifies_them(
    servers: Servers, tmp_path: Path
) -> None:
    modules = [_module(i) for i in _DOWNLOAD_SET[:3]]
    with _static_goproxy(corpus_download_dir()) as goproxy:
        server = servers.start(tmp_path / "data", "--from-proxy", goproxy)
        assert server.stats()["tree_size"] == 0
        proc = _world(tmp_path / "go").download(server.gosumdb, modules)
        assert proc.returncode == 0, proc.stderr
        got = {(o["Path"], o["Version"]): o["Sum"] for o in _json_objects(proc.stdout)}
        assert got == {(m.path, m.version): m.zip_sum for m in modules}
        stats = server.stats()
        assert (stats["appended"], stats["tree_size"]) == (len(modules), len(modules))
        # A second lookup is answered from the log: nothing is appended twice.
        again = _world(tmp_path / "go2").download(server.gosumdb, modules)
        assert again.returncode == 0, again.stderr
        assert server.stats()["appended"] == len(modules)

"""Unit tests of our checksum database's persistent log, feeds and key files (tmp folders only)."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.config import parse_listen
from gomodproxy.errors import ConfigError, StorageError, SumDBError
from gomodproxy.sumdbserver import (
    LogStore,
    ModuleSums,
    RecordKey,
    ServerKey,
    load_signer_file,
    record_key,
    server_key,
    sums_from_cache,
    sums_from_go_sum,
    write_key_files,
)
from gomodproxy.tlog import note, tlog
from gomodproxy.tlog.tlog import Hash, Tile, Tree


@pytest.fixture(scope="module")
def key() -> ServerKey:
    skey, _ = note.generate_key("sumdb.test")
    return server_key(skey)


@pytest.fixture
def store(tmp_path: Path, key: ServerKey) -> Iterator[LogStore]:
    s = LogStore.open(tmp_path / "log", key.signer, key.verifier)
    yield s
    s.close()


def _sums(i: int, *, tag: str = "") -> ModuleSums:
    zip_digest = hashlib.sha256(b"zip%d%s" % (i, tag.encode())).digest()
    mod_digest = hashlib.sha256(b"mod%d" % i).digest()
    return ModuleSums(
        f"example.com/m{i}",
        "v1.0.0",
        "h1:" + base64.b64encode(zip_digest).decode(),
        "h1:" + base64.b64encode(mod_digest).decode(),
    )


class _Memory:
    def __init__(self) -> None:
        self.hashes: list[Hash] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        return [self.hashes[i] for i in indexes]


def _expected_tree(texts: list[bytes]) -> Tree:
    """The tree of these records computed independently of the store, in memory."""
    mem = _Memory()
    for i, text in enumerate(texts):
        mem.hashes.extend(tlog.stored_hashes(i, text, mem))
    return Tree(len(texts), tlog.tree_hash(len(texts), mem))


def _signed_tree(store: LogStore, key: ServerKey) -> Tree:
    opened = note.open_note(store.signed_tree(), [key.verifier])
    return tlog.parse_tree(opened.text.encode())


# --- records and keys -------------------------------------------------------------------------


def test_record_text_holds_zip_line_then_go_mod_line() -> None:
    s = ModuleSums("rsc.io/quote", "v1.5.2", "h1:zip=", "h1:mod=")
    assert s.record_text() == b"rsc.io/quote v1.5.2 h1:zip=\nrsc.io/quote v1.5.2/go.mod h1:mod=\n"
    assert record_key(s.record_text()) == RecordKey("rsc.io/quote", "v1.5.2")


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"rsc.io/quote v1.5.2 h1:x=",
        b"rsc.io/quote v1.5.2\n",
        b"rsc.io/quote v1.5.2 h1:x=\nrsc.io/other v1.5.2/go.mod h1:y=\n",
        b"rsc.io/quote v1.5.2 h1:x=\nrsc.io/quote v1.5.3/go.mod h1:y=\n",
        b"rsc.io/quote v1.5.2 h1:x=\n\nrsc.io/quote v1.5.2/go.mod h1:y=\n",
        b"rsc.io/quote v1.5.2 h1:\x01=\n",
    ],
)
def test_record_key_refuses_text_that_is_not_one_versions_go_sum_lines(text: bytes) -> None:
    with pytest.raises(SumDBError):
        record_key(text)


# --- the store --------------------------------------------------------------------------------


def test_fresh_log_serves_a_signed_empty_tree(store: LogStore, key: ServerKey) -> None:
    assert store.size == 0
    assert _signed_tree(store, key) == Tree(0, tlog.EMPTY_HASH)


def test_append_assigns_ids_in_order_and_signs_the_new_tree(
    store: LogStore, key: ServerKey
) -> None:
    texts = [_sums(i).record_text() for i in range(5)]
    assert store.append(texts) == [0, 1, 2, 3, 4]
    assert store.size == 5
    assert store.lookup("example.com/m3", "v1.0.0") == 3
    assert store.lookup("example.com/m3", "v1.0.1") is None
    assert store.read_records(0, 5) == texts
    assert store.read_records(2, 2) == texts[2:4]
    assert _signed_tree(store, key) == _expected_tree(texts) == store.tree


def test_append_of_a_logged_version_returns_its_id_and_never_rewrites(
    store: LogStore, caplog: pytest.LogCaptureFixture
) -> None:
    first = _sums(1).record_text()
    store.append([_sums(0).record_text(), first])
    signed = store.signed_tree()
    caplog.set_level(logging.WARNING)
    assert store.append([_sums(1, tag="tampered").record_text(), first]) == [1, 1]
    assert store.size == 2
    assert store.read_records(1, 1) == [first]
    assert store.signed_tree() == signed
    assert "append-only" in caplog.text


def test_append_refuses_malformed_record_before_writing(store: LogStore) -> None:
    with pytest.raises(SumDBError):
        store.append([_sums(0).record_text(), b"not a record"])
    assert store.size == 0


def test_read_beyond_the_tree_is_a_storage_error(store: LogStore) -> None:
    store.append([_sums(0).record_text()])
    with pytest.raises(StorageError):
        store.read_records(0, 2)
    with pytest.raises(StorageError):
        store.read_hashes([tlog.stored_hash_count(1)])


def test_reopen_keeps_size_root_and_signed_head_and_appends_after(
    tmp_path: Path, key: ServerKey
) -> None:
    texts = [_sums(i).record_text() for i in range(7)]
    with _opened(tmp_path, key) as s:
        s.append(texts)
        signed, tree = s.signed_tree(), s.tree
    with _opened(tmp_path, key) as s:
        assert (s.size, s.tree, s.signed_tree()) == (7, tree, signed)
        assert s.lookup("example.com/m6", "v1.0.0") == 6
        assert s.append([_sums(7).record_text()]) == [7]
        assert s.tree == _expected_tree([*texts, _sums(7).record_text()])
    with _opened(tmp_path, key) as s:
        assert s.size == 8


class _opened:
    def __init__(self, tmp_path: Path, key: ServerKey) -> None:
        self.store = LogStore.open(tmp_path / "log", key.signer, key.verifier)

    def __enter__(self) -> LogStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


def test_interrupted_append_is_cut_off_on_open(tmp_path: Path, key: ServerKey) -> None:
    with _opened(tmp_path, key) as s:
        s.append([_sums(0).record_text(), _sums(1).record_text()])
        tree = s.tree
    log = tmp_path / "log"
    # An append that wrote its data files but died before committing the signed head.
    for name, junk in (("records.dat", b"junk"), ("offsets.dat", bytes(8)), ("hashes.dat", b"x")):
        with (log / name).open("ab") as f:
            f.write(junk)
    with _opened(tmp_path, key) as s:
        assert (s.size, s.tree) == (2, tree)
        s.append([_sums(2).record_text()])
        assert s.read_records(2, 1) == [_sums(2).record_text()]
    with _opened(tmp_path, key) as s:
        assert s.size == 3


@pytest.mark.parametrize("name", ["records.dat", "hashes.dat"])
def test_a_flipped_byte_in_the_log_refuses_to_open(
    tmp_path: Path, key: ServerKey, name: str
) -> None:
    with _opened(tmp_path, key) as s:
        s.append([_sums(i).record_text() for i in range(3)])
    path = tmp_path / "log" / name
    data = bytearray(path.read_bytes())
    data[5] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="damaged"):
        LogStore.open(tmp_path / "log", key.signer, key.verifier)


def test_a_truncated_log_refuses_to_open(tmp_path: Path, key: ServerKey) -> None:
    with _opened(tmp_path, key) as s:
        s.append([_sums(i).record_text() for i in range(3)])
    path = tmp_path / "log" / "offsets.dat"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(StorageError, match="damaged"):
        LogStore.open(tmp_path / "log", key.signer, key.verifier)


def test_a_log_signed_by_another_key_refuses_to_open(tmp_path: Path, key: ServerKey) -> None:
    with _opened(tmp_path, key) as s:
        s.append([_sums(0).record_text()])
    other = server_key(note.generate_key("sumdb.test")[0])
    with pytest.raises(ConfigError, match="--key"):
        LogStore.open(tmp_path / "log", other.signer, other.verifier)


def test_one_log_folder_serves_one_server_at_a_time(
    store: LogStore, tmp_path: Path, key: ServerKey
) -> None:
    with pytest.raises(StorageError, match="in use"):
        LogStore.open(tmp_path / "log", key.signer, key.verifier)


@settings(max_examples=15)
@given(batches=st.lists(st.integers(1, 40), min_size=1, max_size=6), reopen=st.booleans())
def test_tree_does_not_depend_on_batching_or_reopening(
    key: ServerKey, batches: list[int], reopen: bool
) -> None:
    texts = [_sums(i).record_text() for i in range(sum(batches))]
    with tempfile.TemporaryDirectory() as tmp:
        store = LogStore.open(Path(tmp), key.signer, key.verifier)
        try:
            done = 0
            for size in batches:
                assert store.append(texts[done : done + size]) == list(range(done, done + size))
                done += size
                assert store.tree == _expected_tree(texts[:done])
                if reopen:
                    store.close()
                    store = LogStore.open(Path(tmp), key.signer, key.verifier)
            assert store.read_records(0, done) == texts
        finally:
            store.close()


def test_package_exports_are_pinned() -> None:
    import gomodproxy.sumdbserver as pkg

    assert sorted(pkg.__all__) == [
        "LogStore",
        "ModuleSums",
        "ProxySource",
        "RecordKey",
        "ServeSettings",
        "ServerKey",
        "Stats",
        "TILE_HEIGHT",
        "load_signer_file",
        "make_app",
        "record_key",
        "serve",
        "server_key",
        "sums_from_cache",
        "sums_from_go_sum",
        "write_key_files",
    ]
    for name in pkg.__all__:
        assert hasattr(pkg, name)


# --- tiles ------------------------------------------------------------------------------------


class _StoreTiles:
    """A TileReader over the store's served tiles."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self.saved: list[Tile] = []

    def height(self) -> int:
        return 8

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        return [self.store.read_tile(t) for t in tiles]

    def save_tiles(self, tiles: Sequence[Tile], data: Sequence[bytes]) -> None:
        self.saved.extend(tiles)


def test_served_tiles_authenticate_every_record_against_the_signed_tree(
    store: LogStore, key: ServerKey
) -> None:
    texts = [_sums(i).record_text() for i in range(300)]
    store.append(texts[:100])
    store.append(texts[100:])
    tree = _signed_tree(store, key)
    assert [t.path() for t in tlog.new_tiles(8, 0, 300)] == [
        "tile/8/0/000",
        "tile/8/0/001.p/44",
        "tile/8/1/000.p/1",
    ]
    reader = _StoreTiles(store)
    hashes = tlog.tile_hash_reader(tree, reader)
    for i in (0, 1, 255, 256, 299):
        assert hashes.read_hashes([tlog.stored_hash_index(0, i)]) == [tlog.record_hash(texts[i])]
    assert reader.saved
    # An older tree is provably a prefix of the new one.
    assert tlog.tree_hash(100, hashes) == _expected_tree(texts[:100]).hash


def test_data_tiles_hold_each_record_text_and_a_newline(store: LogStore) -> None:
    texts = [_sums(i).record_text() for i in range(3)]
    store.append(texts)
    assert store.read_tile(Tile(8, -1, 0, 3)) == b"".join(t + b"\n" for t in texts)
    assert store.read_tile(Tile(8, -1, 0, 2)) == texts[0] + b"\n" + texts[1] + b"\n"


def test_tiles_beyond_the_tree_or_of_other_heights_are_unavailable(store: LogStore) -> None:
    store.append([_sums(i).record_text() for i in range(3)])
    assert store.tile_available(Tile(8, 0, 0, 3))
    assert store.tile_available(Tile(8, 0, 0, 1))
    assert not store.tile_available(Tile(8, 0, 0, 4))
    assert not store.tile_available(Tile(8, 0, 0, 256))
    assert not store.tile_available(Tile(8, 1, 0, 1))
    assert not store.tile_available(Tile(4, 0, 0, 3))
    assert not store.tile_available(Tile(8, -1, 1, 1))
    with pytest.raises(StorageError):
        store.read_tile(Tile(8, 0, 0, 4))


# --- feeds ------------------------------------------------------------------------------------


def test_go_sum_list_yields_one_record_per_version_with_a_go_mod_line() -> None:
    data = (
        b"rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=\n"
        b"rsc.io/quote v1.5.2/go.mod h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=\n"
        b"\n"
        b"rsc.io/sampler v1.3.0/go.mod h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=\n"
        b"  golang.org/x/text   v0.3.0 h1:a=  \n"
        b"golang.org/x/text v0.3.0/go.mod h1:b=\n"
        b"example.com/zip-only v1.0.0 h1:c=\n"
    )
    assert sums_from_go_sum(data) == [
        ModuleSums("golang.org/x/text", "v0.3.0", "h1:a=", "h1:b="),
        ModuleSums(
            "rsc.io/quote",
            "v1.5.2",
            "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=",
            "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=",
        ),
        # A go.mod-only line (a version whose zip the go command never needed) is logged alone;
        # the zip-only line (no go.mod hash to vouch for the module graph) is not.
        ModuleSums(
            "rsc.io/sampler", "v1.3.0", None, "h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA="
        ),
    ]


def test_a_go_mod_only_record_carries_the_go_mod_line_alone() -> None:
    sums = ModuleSums("rsc.io/sampler", "v1.3.0", None, "h1:b=")
    assert sums.record_text() == b"rsc.io/sampler v1.3.0/go.mod h1:b=\n"
    assert record_key(sums.record_text()) == RecordKey("rsc.io/sampler", "v1.3.0")


@pytest.mark.parametrize(
    "line",
    [b"rsc.io/quote v1.5.2\n", b"rsc.io/quote v1.5.2 h1:a= extra\n", b"rsc.io/quote 1.5.2 h1:a=\n"],
)
def test_go_sum_list_refuses_malformed_lines(line: bytes) -> None:
    with pytest.raises(SumDBError, match="list:1"):
        sums_from_go_sum(line, source="list")


def _write_cache_version(root: Path, esc_path: str, version: str, files: dict[str, bytes]) -> None:
    vdir = root / "cache" / "download" / esc_path / "@v"
    vdir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    (vdir / f"{version}.zip").write_bytes(buf.getvalue())
    (vdir / f"{version}.mod").write_bytes(files.get(f"{esc_path}@{version}/go.mod", b""))


def _h1(files: dict[str, bytes]) -> str:
    summary = "".join(
        f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files)
    ).encode()
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


def test_cache_feed_hashes_zip_and_mod_and_logs_go_mod_only_versions(tmp_path: Path) -> None:
    gomod = b"module example.com/m\n"
    _write_cache_version(
        tmp_path, "example.com/m", "v1.0.0", {"example.com/m@v1.0.0/go.mod": gomod}
    )
    # A version with only a .mod (a go.mod-only download) is logged with its go.mod line alone.
    vdir = tmp_path / "cache" / "download" / "example.com" / "m" / "@v"
    (vdir / "v1.1.0.mod").write_bytes(gomod)
    upper = {"github.com/Foo/bar@v0.1.0-RC1/x.go": b"package bar\n"}
    _write_cache_version(tmp_path, "github.com/!foo/bar", "v0.1.0-!r!c1", {})
    zdir = tmp_path / "cache" / "download" / "github.com" / "!foo" / "bar" / "@v"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in upper.items():
            zf.writestr(n, d)
    (zdir / "v0.1.0-!r!c1.zip").write_bytes(buf.getvalue())
    (zdir / "v0.1.0-!r!c1.mod").write_bytes(b"module github.com/Foo/bar\n")

    got = sums_from_cache(tmp_path)
    assert got == [
        ModuleSums(
            "example.com/m",
            "v1.0.0",
            "h1:yJwNngL0tCKlmRg8yireic46hRGohEbhwD/WSE0Ax3I=",
            _h1({"go.mod": gomod}),
        ),
        ModuleSums("example.com/m", "v1.1.0", None, _h1({"go.mod": gomod})),
        ModuleSums(
            "github.com/Foo/bar",
            "v0.1.0-RC1",
            _h1(upper),
            _h1({"go.mod": b"module github.com/Foo/bar\n"}),
        ),
    ]
    # Given the cache/download folder itself, the same.
    assert sums_from_cache(tmp_path / "cache" / "download") == got


# --- keys and settings ------------------------------------------------------------------------


def test_keygen_writes_private_signer_and_matching_verifier(tmp_path: Path) -> None:
    signer_path, verifier_path, vkey = write_key_files("sumdb.example", tmp_path / "keys")
    assert signer_path.name == "sumdb.example.signer"
    assert stat.S_IMODE(os.stat(signer_path).st_mode) == 0o600
    assert verifier_path.read_text().strip() == vkey
    loaded = load_signer_file(signer_path)
    assert loaded.verifier_key == vkey
    msg = note.sign("hello\n", [loaded.signer])
    assert note.open_note(msg, [note.new_verifier(vkey)]).text == "hello\n"
    with pytest.raises(ConfigError, match="exists"):
        write_key_files("sumdb.example", tmp_path / "keys")


def test_loading_a_verifier_file_as_signer_is_a_config_error(tmp_path: Path) -> None:
    _, verifier_path, _ = write_key_files("sumdb.example", tmp_path)
    with pytest.raises(ConfigError, match="keygen"):
        load_signer_file(verifier_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:8081", ("::1", 8081)), (":9", ("127.0.0.1", 9))],
)
def test_parse_listen_splits_host_and_port(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value, default_host="127.0.0.1") == expected


@pytest.mark.parametrize("value", ["127.0.0.1", "host:port", "h:70000"])
def test_parse_listen_refuses_bad_values(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_listen(value, default_host="127.0.0.1")


# --- the CLI's error paths (no server is started) -----------------------------------------------


def test_cli_keygen_then_serve_with_the_verifier_file_fails_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gomodproxy.cli.main import main

    assert main(["sumdb", "keygen", "sumdb.cli", "--out", str(tmp_path)]) == 0
    vkey = (tmp_path / "sumdb.cli.verifier").read_text().strip()
    assert capsys.readouterr().out.strip().endswith(vkey)
    code = main(
        ["sumdb", "serve", "--key", str(tmp_path / "sumdb.cli.verifier"), "--data", str(tmp_path)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("gomodproxy: ")
    assert "gomodproxy sumdb keygen" in err


def test_cli_serve_with_a_malformed_list_fails_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gomodproxy.cli.main import main

    signer, _, _ = write_key_files("sumdb.cli", tmp_path / "keys")
    bad = tmp_path / "bad.sum"
    bad.write_text("rsc.io/quote v1.5.2\n")
    args = ["sumdb", "serve", "--key", str(signer), "--data", str(tmp_path / "data")]
    assert main([*args, "--from-list", str(bad), "--listen", "127.0.0.1:0"]) == 1
    assert "bad.sum:1: malformed go.sum line" in capsys.readouterr().err

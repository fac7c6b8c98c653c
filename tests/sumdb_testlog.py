"""A real checksum-database log in memory, served through the client's fetch seam.

Like x/mod sumdb/client_test.go's testClient (which the Go team uses for exactly this): every
record is hashed into a real RFC 6962 tree with our tlog code, every tree head is signed with
our note code, and the served paths (``lookup/...``, ``tile/...``) hold exactly what a
database serves. Tests then damage single answers to play a misbehaving database.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from gomodproxy.errors import ModuleNotFound, UpstreamError
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.tlog import tlog
from gomodproxy.tlog.note import new_signer, sign
from gomodproxy.tlog.tlog import Hash, Tree

# The fixed test keys of x/mod sumdb/client_test.go.
TEST_NAME = "localhost.localdev/sumdb"
TEST_VERIFIER_KEY = "localhost.localdev/sumdb+00000c67+AcTrnkbUA+TU4heY3hkjiSES/DSQniBqIeQ/YppAUtK6"
TEST_SIGNER_KEY = (
    "PRIVATE+KEY+localhost.localdev/sumdb+00000c67+AXu6+oaVaOYuQOFrf1V59JK1owcFlJcHwwXHDfDGxSPk"
)


class TestLog:
    """An append-only log with its served files in ``remote`` (path without leading slash)."""

    __test__ = False  # not a pytest test class

    def __init__(self, tile_height: int = 2, signer_key: str = TEST_SIGNER_KEY) -> None:
        self.tile_height = tile_height
        self.signer = new_signer(signer_key)
        self.size = 0
        self.hashes: list[Hash] = []
        self.remote: dict[str, bytes] = {}

    def read_hashes(self, indexes: Sequence[int]) -> list[Hash]:
        """tlog.HashReader over the stored hashes."""
        return [self.hashes[i] for i in indexes]

    def tree(self, size: int | None = None) -> Tree:
        """The tree of the first ``size`` records (default: all)."""
        n = self.size if size is None else size
        return Tree(n, tlog.tree_hash(n, self))

    def sign_tree(self, size: int | None = None, *, extra: bytes = b"") -> bytes:
        """The signed tree head for ``size`` records; ``extra`` lines go into the signed text."""
        text = tlog.format_tree(self.tree(size)) + extra
        return sign(text.decode(), [self.signer])

    def sign_text(self, text: bytes) -> bytes:
        """Sign an arbitrary note text with the log's key."""
        return sign(text.decode(), [self.signer])

    def add_record(self, key: str, text: str) -> int:
        """Append a record served at ``lookup/<key>`` (key is !-escaped); return its id."""
        record_id = self.size
        data = text.encode()
        self.hashes += tlog.stored_hashes(record_id, data, self)
        self.size += 1
        self.remote["lookup/" + key] = tlog.format_record(record_id, data) + self.sign_tree()
        for tile in tlog.new_tiles(self.tile_height, record_id, self.size):
            self.remote[tile.path()] = tlog.read_tile_data(tile, self)
        return record_id

    def fork(self) -> TestLog:
        """An independent copy: what is added to one is not in the other."""
        return copy.deepcopy(self)

    def tile_paths(self) -> list[str]:
        """The served tile paths."""
        return [p for p in self.remote if p.startswith("tile/")]

    def flip_tile_bits(self) -> None:
        """Flip the top bit of every byte of every served tile (TestClientBadTiles)."""
        for p in self.tile_paths():
            self.remote[p] = bytes(b ^ 0x80 for b in self.remote[p])


class LogFetcher:
    """The fetch seam over a :class:`TestLog`: what an HTTP fetcher would return for it."""

    def __init__(self, log: TestLog) -> None:
        self.log = log
        self.requests: list[str] = []
        self.online = True
        self.tiles_online = True

    async def fetch(self, path: str) -> bytes:
        """The served bytes, ModuleNotFound for an absent path, UpstreamError when offline."""
        self.requests.append(path)
        if not self.online or (path.startswith("tile/") and not self.tiles_online):
            raise UpstreamError(f"disallowed remote read {path}", status=503)
        data = self.log.remote.get(path)
        if data is None:
            raise ModuleNotFound(f"not found: {path}", gone=False)
        return data


def standard_log(tile_height: int = 2) -> TestLog:
    """The records of x/mod newTestClient (before its rsc.io/Quote record)."""
    log = TestLog(tile_height)
    log.add_record(
        "rsc.io/quote@v1.5.2",
        "rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=\n"
        "rsc.io/quote v1.5.2/go.mod h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=\n"
        "rsc.io/quote v1.5.2 h2:xyzzy\n",
    )
    log.add_record(
        "golang.org/x/text@v0.0.0-20170915032832-14c0d48ead0c",
        "golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c "
        "h1:qgOY6WgZOaTkIIMiVjBQcw93ERBE4m30iBm00nkL0i8=\n"
        "golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c/go.mod "
        "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=\n",
    )
    log.add_record(
        "rsc.io/sampler@v1.3.0",
        "rsc.io/sampler v1.3.0 h1:7uVkIFmeBqHfdjD+gZwtXXI+RODJ2Wc4O7MPEh/QiW4=\n"
        "rsc.io/sampler v1.3.0/go.mod h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=\n",
    )
    return log


SAMPLER_ZIP = "rsc.io/sampler v1.3.0 h1:7uVkIFmeBqHfdjD+gZwtXXI+RODJ2Wc4O7MPEh/QiW4="
SAMPLER_MOD = "rsc.io/sampler v1.3.0/go.mod h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA="

LATEST = f"{TEST_NAME}/latest"
QUOTE_UPPER = "rsc.io/Quote v1.5.2 h1:uppercase!="


def add_upper_quote(log: TestLog) -> None:
    """Append x/mod's rsc.io/Quote record (needs !-escaping)."""
    log.add_record("rsc.io/!quote@v1.5.2", QUOTE_UPPER + "\n")


def new_test_client(
    log: TestLog, state: MemoryVerifierState | None = None
) -> tuple[SumDBClient, LogFetcher, MemoryVerifierState]:
    """A client of ``log`` remembering tree 1, as x/mod newTestClient sets it up."""
    if state is None:
        state = MemoryVerifierState({LATEST: log.sign_tree(1)})
    fetcher = LogFetcher(log)
    return (
        SumDBClient(TEST_VERIFIER_KEY, fetcher, state, tile_height=log.tile_height),
        fetcher,
        state,
    )


def latest_size(state: MemoryVerifierState) -> int:
    """The size of the tree remembered in ``state``."""
    return int(state.config[LATEST].split(b"\n")[1])


def tile_cache(state: MemoryVerifierState) -> dict[str, bytes]:
    """The cached tiles in ``state``."""
    return {k: v for k, v in state.cache.items() if "/tile/" in k}

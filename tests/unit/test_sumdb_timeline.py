"""The verifier's timeline: tiles, tree notes, forks, rollbacks and the remembered tree head.

Items 48–52, 57 and 58 of the fault catalogue, with x/mod client_test.go's TestClientBadTiles
and TestClientFork (whose expected texts we reproduce byte for byte). The logs are real, built
with our tlog and note code (tests/sumdb_testlog.py).
"""

from __future__ import annotations

import pytest

from gomodproxy.errors import SecurityError, SumDBError
from gomodproxy.sumdb.client import CorruptLatest, ForkDetected
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.tlog import tlog
from gomodproxy.tlog.note import generate_key, new_signer, sign
from gomodproxy.tlog.tlog import Tile
from tests.sumdb_testlog import (
    LATEST,
    QUOTE_UPPER,
    SAMPLER_MOD,
    SAMPLER_ZIP,
    TEST_NAME,
    TestLog,
    add_upper_quote,
    latest_size,
    new_test_client,
    standard_log,
    tile_cache,
)

# --- item 48: tile faults -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_e48_bit_flipped_tiles_at_first_contact_fail_and_nothing_is_cached() -> None:
    log = standard_log()
    add_upper_quote(log)
    client, _, state = new_test_client(log)
    log.flip_tile_bits()
    with pytest.raises(SecurityError, match=r"checking tree#1: downloaded inconsistent tile"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert tile_cache(state) == {}
    assert latest_size(state) == 1
    log.flip_tile_bits()
    fresh, _, _ = new_test_client(log, state)
    assert await fresh.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]


@pytest.mark.asyncio
async def test_e48_bit_flipped_tiles_after_first_contact_fail_and_keep_latest() -> None:
    log = standard_log()
    add_upper_quote(log)
    client, _, state = new_test_client(log)
    assert await client.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]
    cached_before = tile_cache(state)
    log.flip_tile_bits()
    with pytest.raises(
        SecurityError, match=r"checking tree#3 against tree#4: downloaded inconsistent tile"
    ):
        await client.lookup("rsc.io/Quote", "v1.5.2")
    assert tile_cache(state) == cached_before
    assert latest_size(state) == 3
    assert client.latest.n == 3
    log.flip_tile_bits()
    fresh, _, _ = new_test_client(log, state)
    assert await fresh.lookup("rsc.io/Quote", "v1.5.2") == [QUOTE_UPPER]


@pytest.mark.asyncio
async def test_e48_bad_starting_tree_hash_looks_like_bad_tiles() -> None:
    log = standard_log()
    add_upper_quote(log)
    _, _, state = new_test_client(log)
    warm, _, _ = new_test_client(log, state)
    await warm.lookup("rsc.io/sampler", "v1.3.0")
    bogus = log.sign_text(tlog.format_tree(tlog.Tree(1, bytes(32))))
    state.config[LATEST] = bogus
    client, _, _ = new_test_client(log, state)
    with pytest.raises(
        SecurityError, match=r"initializing .*: checking tree#1: downloaded inconsistent tile"
    ):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert state.config[LATEST] == bogus


def _tile_hash2(data: bytes) -> bytes:
    """The subtree hash of a full height-2 tile (4 hashes)."""
    h = [data[i : i + 32] for i in range(0, 128, 32)]
    return tlog.node_hash(tlog.node_hash(h[0], h[1]), tlog.node_hash(h[2], h[3]))


def _log_of_17() -> TestLog:
    log = TestLog(tile_height=2)
    for i in range(17):
        log.add_record(f"example.com/m{i}@v1.0.0", f"example.com/m{i} v1.0.0 h1:{i}=\n")
    return log


@pytest.mark.asyncio
async def test_e48_forged_full_tile_fails_against_its_parent_tile() -> None:
    log = _log_of_17()
    forged_leaf = tlog.record_hash(b"example.com/m5 v1.0.0 h1:forged=\n")
    leaves = log.remote["tile/2/0/001"]
    log.remote["tile/2/0/001"] = leaves[:32] + forged_leaf + leaves[64:]
    client, _, state = new_test_client(log, MemoryVerifierState({LATEST: log.sign_tree(17)}))
    with pytest.raises(SecurityError, match=r"downloaded inconsistent tile"):
        await client.lookup("example.com/m5", "v1.0.0")
    assert f"{TEST_NAME}/tile/2/0/001" not in state.cache


@pytest.mark.asyncio
async def test_e48_forged_tile_pair_consistent_with_itself_fails_against_the_parent() -> None:
    log = _log_of_17()
    forged_leaf = tlog.record_hash(b"example.com/m5 v1.0.0 h1:forged=\n")
    leaves = log.remote["tile/2/0/001"]
    forged_leaves = leaves[:32] + forged_leaf + leaves[64:]
    level1 = log.remote["tile/2/1/000"]
    forged_level1 = level1[:32] + _tile_hash2(forged_leaves) + level1[64:]
    log.remote["tile/2/0/001"] = forged_leaves
    log.remote["tile/2/1/000"] = forged_level1
    forged_text = b"example.com/m5 v1.0.0 h1:forged=\n"
    log.remote["lookup/example.com/m5@v1.0.0"] = (
        tlog.format_record(5, forged_text) + log.sign_tree()
    )
    client, _, state = new_test_client(log, MemoryVerifierState({LATEST: log.sign_tree(17)}))
    with pytest.raises(SecurityError, match=r"downloaded inconsistent tile"):
        await client.lookup("example.com/m5", "v1.0.0")
    assert f"{TEST_NAME}/tile/2/0/001" not in state.cache
    assert f"{TEST_NAME}/tile/2/1/000" not in state.cache


@pytest.mark.asyncio
@pytest.mark.parametrize("change", ["shorter", "longer"])
async def test_e48_tile_of_wrong_length_is_inconsistent(change: str) -> None:
    log = standard_log()
    for p in log.tile_paths():
        data = log.remote[p]
        log.remote[p] = data[:-1] if change == "shorter" else data + b"\0"
    client, _, state = new_test_client(log)
    with pytest.raises(SecurityError, match=r"downloaded inconsistent tile: tile/2/0/000.p/1 has"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert tile_cache(state) == {}


@pytest.mark.asyncio
async def test_e48_partial_tile_gone_falls_back_to_the_full_tile_trimmed() -> None:
    log = standard_log()
    add_upper_quote(log)  # 4 records: tile/2/0/000 is full now
    del log.remote["tile/2/0/000.p/1"]
    client, fetcher, state = new_test_client(log)
    assert await client.lookup("rsc.io/quote", "v1.5.2") == [
        "rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=",
        "rsc.io/quote v1.5.2 h2:xyzzy",
    ]
    assert fetcher.requests.index("tile/2/0/000.p/1") < fetcher.requests.index("tile/2/0/000")
    cache = tile_cache(state)
    assert cache[f"{TEST_NAME}/tile/2/0/000.p/1"] == log.remote["tile/2/0/000"][:32]
    # Only the proven prefix is cached, never the unproven full tile.
    assert f"{TEST_NAME}/tile/2/0/000" not in cache


@pytest.mark.asyncio
async def test_e48_damaged_cached_tile_is_read_again_from_the_database() -> None:
    log = standard_log()
    _, _, state = new_test_client(log)
    warm, _, _ = new_test_client(log, state)
    await warm.lookup("rsc.io/sampler", "v1.3.0")
    key = f"{TEST_NAME}/tile/2/0/000.p/3"
    good = state.cache[key]
    state.cache[key] = bytes([good[0] ^ 1]) + good[1:]
    client, fetcher, _ = new_test_client(log, state)
    assert await client.lookup("rsc.io/sampler", "v1.3.0/go.mod") == [SAMPLER_MOD]
    assert "tile/2/0/000.p/3" in fetcher.requests
    assert state.cache[key] == good


# --- item 49: note signature faults ---------------------------------------------------------------


def _resigned_lookup(log: TestLog, key: str, note: bytes) -> None:
    record = log.remote["lookup/" + key]
    record_id, text, _ = tlog.parse_record(record)
    log.remote["lookup/" + key] = tlog.format_record(record_id, text) + note


@pytest.mark.asyncio
async def test_e49_tree_note_signed_by_an_unknown_key_is_refused() -> None:
    log = standard_log()
    other_skey, _ = generate_key(TEST_NAME)
    note = sign(tlog.format_tree(log.tree()).decode(), [new_signer(other_skey)])
    _resigned_lookup(log, "rsc.io/sampler@v1.3.0", note)
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"reading tree note: note has no verifiable signatures"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 1
    assert not any("lookup/" in k for k in state.cache)


@pytest.mark.asyncio
async def test_e49_tree_note_with_a_bad_signature_is_refused() -> None:
    log = standard_log()
    note = log.sign_tree()
    sig_at = note.rindex(b" ") + 10
    bad = note[:sig_at] + (b"A" if note[sig_at : sig_at + 1] != b"A" else b"B") + note[sig_at + 1 :]
    _resigned_lookup(log, "rsc.io/sampler@v1.3.0", bad)
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"invalid signature for key localhost.localdev/sumdb"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 1


@pytest.mark.asyncio
async def test_e49_tree_note_with_over_100_signatures_is_refused() -> None:
    log = standard_log()
    note = log.sign_tree()
    text, sig = note.split(b"\n\n")
    _resigned_lookup(log, "rsc.io/sampler@v1.3.0", text + b"\n\n" + sig * 101)
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"malformed note"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 1


# --- item 50: bad tree text -----------------------------------------------------------------------


def _bad_tree_texts() -> list[tuple[str, bytes]]:
    h = tlog.format_hash(standard_log().tree().hash).encode()
    return [
        ("leading-zeros", b"go.sum database tree\n03\n" + h + b"\n"),
        ("plus-sign", b"go.sum database tree\n+3\n" + h + b"\n"),
        ("negative", b"go.sum database tree\n-3\n" + h + b"\n"),
        ("bad-base64", b"go.sum database tree\n3\n!!!!\n"),
        ("short-hash", b"go.sum database tree\n3\n" + b"A" * 40 + b"=\n"),
        ("wrong-first-line", b"go.sum database tree!\n3\n" + h + b"\n"),
        ("two-lines", b"go.sum database tree\n3\n"),
        ("over-1e6", b"go.sum database tree\n3\n" + h + b"\n" + b"x" * 1_000_000 + b"\n"),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("label", "text"), _bad_tree_texts(), ids=[c[0] for c in _bad_tree_texts()]
)
async def test_e50_bad_tree_text_is_a_malformed_tree_note(label: str, text: bytes) -> None:
    log = standard_log()
    _resigned_lookup(log, "rsc.io/sampler@v1.3.0", log.sign_text(text))
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"malformed tree note"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 1


# --- items 51, 52: forks and rollbacks ------------------------------------------------------------


@pytest.mark.asyncio
async def test_e51_fork_is_a_security_error_with_both_notes_and_the_proof() -> None:
    # x/mod TestClientFork: the texts are byte-identical to Go's, keys and records being the same.
    tc = standard_log()
    add_upper_quote(tc)
    tc2 = tc.fork()
    client, _, _ = new_test_client(tc)
    client2, _, state2 = new_test_client(tc2)

    tc.add_record("rsc.io/pkg1@v1.5.2", "rsc.io/pkg1 v1.5.2 h1:hash!=\n")
    tc.add_record("rsc.io/pkg1@v1.5.4", "rsc.io/pkg1 v1.5.4 h1:hash!=\n")
    assert await client.lookup("rsc.io/pkg1", "v1.5.2") == ["rsc.io/pkg1 v1.5.2 h1:hash!="]

    tc2.add_record("rsc.io/pkg1@v1.5.3", "rsc.io/pkg1 v1.5.3 h1:hash!=\n")
    tc2.add_record("rsc.io/pkg1@v1.5.4", "rsc.io/pkg1 v1.5.4 h1:hash!=\n")
    assert await client2.lookup("rsc.io/pkg1", "v1.5.4") == ["rsc.io/pkg1 v1.5.4 h1:hash!="]
    remembered = state2.config[LATEST]

    tc2.remote["lookup/rsc.io/pkg1@v1.5.2"] = tc.remote["lookup/rsc.io/pkg1@v1.5.2"]
    with pytest.raises(ForkDetected) as info:
        await client2.lookup("rsc.io/pkg1", "v1.5.2")
    text = str(info.value)
    assert text.startswith("SECURITY ERROR\ngo.sum database server misbehavior detected!\n")
    for want in [
        "old database:\n\tgo.sum database tree\n\t5\n",
        "— localhost.localdev/sumdb AAAMZ5/2FVAd",
        "new database:\n\tgo.sum database tree\n\t6\n",
        "— localhost.localdev/sumdb AAAMZ6oRNswl",
        "proof of misbehavior:\n\tT7i+H/8ER4nXOiw4Bj0k",
    ]:
        assert want in text, want
    # The implied hash, then the consistency proof: exactly the lines in TestClientFork's comment.
    assert info.value.proof == [
        "T7i+H/8ER4nXOiw4Bj0koZOkGjkxoNvlI34GpvhHhQg=",
        "Nsuejv72de9hYNM5bqFv8rv3gm3zJQwv/DT/WNbLDLA=",
        "mOmqqZ1aI/lzS94oq/JSbj7pD8Rv9S+xDyi12BtVSHo=",
        "/7Aw5jVSMM9sFjQhaMg+iiDYPMk6decH7QLOGrL9Lx0=",
    ]
    assert state2.config[LATEST] == remembered
    assert client2.latest.n == 6


@pytest.mark.asyncio
async def test_e51_same_size_with_another_hash_is_a_fork() -> None:
    log = standard_log()
    other = TestLog()
    for i in range(3):
        other.add_record(f"example.com/m{i}@v1.0.0", f"example.com/m{i} v1.0.0 h1:{i}=\n")
    client, _, state = new_test_client(log)
    await client.lookup("rsc.io/sampler", "v1.3.0")
    remembered = state.config[LATEST]
    log.remote["lookup/example.com/m2@v1.0.0"] = other.remote["lookup/example.com/m2@v1.0.0"]
    with pytest.raises(ForkDetected, match=r"misbehavior detected"):
        await client.lookup("example.com/m2", "v1.0.0")
    assert state.config[LATEST] == remembered
    # The remembered head stays; a later honest lookup still works.
    assert await client.lookup("rsc.io/sampler", "v1.3.0/go.mod") == [SAMPLER_MOD]


@pytest.mark.asyncio
async def test_e51_forked_database_is_refused_by_a_new_client_with_a_stored_head() -> None:
    log = standard_log()
    fork = log.fork()
    log.add_record("example.com/a@v1.0.0", "example.com/a v1.0.0 h1:a=\n")
    fork.add_record("example.com/b@v1.0.0", "example.com/b v1.0.0 h1:b=\n")
    state = MemoryVerifierState({LATEST: log.sign_tree(4)})
    client, _, _ = new_test_client(fork, state)
    # The fork's tiles cannot prove the remembered head of the same size (as in Go).
    with pytest.raises(SecurityError, match=r"checking tree#4: downloaded inconsistent tile"):
        await client.lookup("example.com/b", "v1.0.0")
    assert state.config[LATEST] == log.sign_tree(4)


@pytest.mark.asyncio
async def test_e52_older_consistent_tree_is_accepted_and_latest_never_moves_back() -> None:
    log = standard_log()
    add_upper_quote(log)
    client, _, state = new_test_client(log)
    assert await client.lookup("rsc.io/Quote", "v1.5.2") == [QUOTE_UPPER]
    assert latest_size(state) == 4
    # rsc.io/quote's lookup carries tree 1: an older head, proven to be a prefix.
    assert await client.lookup("rsc.io/quote", "v1.5.2/go.mod") == [
        "rsc.io/quote v1.5.2/go.mod h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0="
    ]
    assert latest_size(state) == 4
    assert client.latest.n == 4


@pytest.mark.asyncio
async def test_e52_older_tree_that_is_not_a_prefix_is_a_fork() -> None:
    log = standard_log()
    add_upper_quote(log)
    other = TestLog()
    other.add_record("example.com/x@v1.0.0", "example.com/x v1.0.0 h1:x=\n")
    other.add_record("example.com/y@v1.0.0", "example.com/y v1.0.0 h1:y=\n")
    client, _, state = new_test_client(log)
    await client.lookup("rsc.io/Quote", "v1.5.2")
    log.remote["lookup/example.com/y@v1.0.0"] = other.remote["lookup/example.com/y@v1.0.0"]
    with pytest.raises(ForkDetected):
        await client.lookup("example.com/y", "v1.0.0")
    assert latest_size(state) == 4


# --- item 57: two updaters ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_e57_stale_client_never_replaces_a_newer_stored_tree() -> None:
    log = standard_log()
    add_upper_quote(log)
    ahead, _, state = new_test_client(log)
    behind, _, _ = new_test_client(log, state)
    await behind.lookup("rsc.io/quote", "v1.5.2")  # initialised at tree 1
    await ahead.lookup("rsc.io/Quote", "v1.5.2")
    assert latest_size(state) == 4
    await behind.lookup("rsc.io/sampler", "v1.3.0")  # carries tree 3
    assert latest_size(state) == 4
    assert behind.latest.n == 4


class _RacingState(MemoryVerifierState):
    """Another process writes ``racer`` just before this client's first compare-and-swap."""

    def __init__(self, config: dict[str, bytes], racer: bytes) -> None:
        super().__init__(config)
        self.racer: bytes | None = racer
        self.writes = 0

    async def write_config(self, file: str, old: bytes, new: bytes) -> None:
        self.writes += 1
        if self.racer is not None:
            racer, self.racer = self.racer, None
            await super().write_config(file, old, racer)
        await super().write_config(file, old, new)


@pytest.mark.asyncio
async def test_e57_conflict_with_a_newer_write_is_merged_and_kept() -> None:
    log = standard_log()
    add_upper_quote(log)
    state = _RacingState({LATEST: log.sign_tree(1)}, racer=log.sign_tree(4))
    client, _, _ = new_test_client(log, state)
    await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 4
    assert client.latest.n == 4
    assert state.writes == 1


@pytest.mark.asyncio
async def test_e57_conflict_with_an_older_write_is_merged_and_retried() -> None:
    log = standard_log()
    add_upper_quote(log)
    state = _RacingState({LATEST: log.sign_tree(1)}, racer=log.sign_tree(2))
    client, _, _ = new_test_client(log, state)
    await client.lookup("rsc.io/Quote", "v1.5.2")
    assert latest_size(state) == 4
    assert state.writes == 2


@pytest.mark.asyncio
async def test_e57_empty_stored_latest_counts_as_not_present() -> None:
    log = standard_log()
    client, _, state = new_test_client(log, MemoryVerifierState({LATEST: b""}))
    await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 3


# --- item 58: corrupted local latest --------------------------------------------------------------


def _corrupt_latests() -> list[tuple[str, bytes]]:
    log = standard_log()
    good = log.sign_tree(1)
    other_skey, _ = generate_key("other.example/db")
    other = sign(tlog.format_tree(log.tree(1)).decode(), [new_signer(other_skey)])
    return [
        ("truncated", good[: len(good) // 2]),
        ("garbage", b"\x00\x01garbage"),
        ("other-database", other),
        ("bad-signature", good.replace(b"AAAM", b"AAAN")),
        ("not-a-tree", log.sign_text(b"hello\n")),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("label", "stored"), _corrupt_latests(), ids=[c[0] for c in _corrupt_latests()]
)
async def test_e58_corrupt_latest_is_a_loud_error_that_says_how_to_recover(
    label: str, stored: bytes
) -> None:
    log = standard_log()
    client, fetcher, state = new_test_client(log, MemoryVerifierState({LATEST: stored}))
    with pytest.raises(CorruptLatest) as info:
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert f"remove <memory>/{LATEST} if you trust the database" in str(info.value)
    assert state.config[LATEST] == stored
    assert fetcher.requests == []
    # Still refused on the next call: nothing was reset behind the user's back.
    with pytest.raises(CorruptLatest):
        await client.lookup("rsc.io/sampler", "v1.3.0")


# --- observe_tree (for the prober) ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_observe_tree_advances_on_consistent_heads_and_refuses_forks() -> None:
    log = standard_log()
    client, _, state = new_test_client(log)
    assert await client.observe_tree(log.sign_tree(3)) == log.tree(3)
    assert latest_size(state) == 3
    fork = log.fork()
    fork.hashes = fork.hashes[: tlog.stored_hash_count(2)]
    fork.size = 2
    fork.add_record("example.com/z@v1.0.0", "example.com/z v1.0.0 h1:z=\n")
    log.remote.update({p: fork.remote[p] for p in fork.tile_paths() if p not in log.remote})
    with pytest.raises(ForkDetected):
        await client.observe_tree(fork.sign_tree(3))
    assert latest_size(state) == 3


def test_tile_paths_used_by_the_tests_are_real_tile_paths() -> None:
    assert Tile(2, 0, 0, 1).path() == "tile/2/0/000.p/1"
    assert tlog.parse_tile_path("tile/2/1/000") == Tile(2, 1, 0, 4)

"""The checksum-database verifier: lookups, verify, and bad answers (x/mod client_test.go).

Items 46, 47, 53 and 54 of the fault catalogue; the timeline (tiles, notes, forks, the remembered
tree) is in test_sumdb_timeline.py. Every log here is a real RFC 6962 tree built with our tlog
code and signed with the fixed test key of x/mod's client_test.go, served through the client's
fetch seam (tests/sumdb_testlog.py); the faults are single damaged answers of an otherwise
correct database.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.errors import ChecksumMismatch, SecurityError, SumDBError
from gomodproxy.sumdb.client import NoSumDBEntry, SumDBClient
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.tlog import tlog
from tests.sumdb_testlog import (
    QUOTE_UPPER,
    SAMPLER_MOD,
    SAMPLER_ZIP,
    TEST_NAME,
    TEST_VERIFIER_KEY,
    LogFetcher,
    TestLog,
    add_upper_quote,
    latest_size,
    new_test_client,
    standard_log,
    tile_cache,
)

# --- TestClientLookup -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_lookup_returns_proven_lines_and_advances_latest() -> None:
    log = standard_log()
    add_upper_quote(log)
    client, fetcher, state = new_test_client(log)

    assert await client.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]
    assert latest_size(state) == 3
    assert client.latest == log.tree(3)

    # Everything is cached now, for the version and for its /go.mod.
    fetcher.online = False
    assert await client.lookup("rsc.io/sampler", "v1.3.0") == [SAMPLER_ZIP]
    assert await client.lookup("rsc.io/sampler", "v1.3.0/go.mod") == [SAMPLER_MOD]
    assert latest_size(state) == 3

    # An older record needs no new tiles; it has several lines for one version.
    fetcher.online = True
    fetcher.tiles_online = False
    assert await client.lookup("rsc.io/quote", "v1.5.2") == [
        "rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=",
        "rsc.io/quote v1.5.2 h2:xyzzy",
    ]
    assert latest_size(state) == 3

    # !-encoding; the only record after rsc.io/sampler, so the only one needing more tiles.
    fetcher.tiles_online = True
    assert await client.lookup("rsc.io/Quote", "v1.5.2") == [QUOTE_UPPER]
    assert "lookup/rsc.io/!quote@v1.5.2" in fetcher.requests
    assert latest_size(state) == 4


@pytest.mark.asyncio
async def test_e54_cached_lookup_and_tiles_work_offline_in_a_new_client() -> None:
    log = standard_log()
    _, _, state = new_test_client(log)
    first, _, _ = new_test_client(log, state)
    await first.lookup("rsc.io/sampler", "v1.3.0")
    second, fetcher, _ = new_test_client(log, state)
    fetcher.online = False
    assert await second.lookup("rsc.io/sampler", "v1.3.0/go.mod") == [SAMPLER_MOD]
    assert fetcher.requests == []


@pytest.mark.asyncio
async def test_concurrent_lookups_share_one_database_request() -> None:
    log = standard_log()
    client, fetcher, _ = new_test_client(log)
    results = await asyncio.gather(
        *(client.lookup("rsc.io/sampler", v) for v in ["v1.3.0", "v1.3.0/go.mod"] * 5)
    )
    assert results == [[SAMPLER_ZIP], [SAMPLER_MOD]] * 5
    assert fetcher.requests.count("lookup/rsc.io/sampler@v1.3.0") == 1


@pytest.mark.asyncio
async def test_default_tile_height_over_many_records() -> None:
    log = TestLog(tile_height=8)
    for i in range(600):
        log.add_record(f"example.com/m{i}@v1.0.0", f"example.com/m{i} v1.0.0 h1:{i}=\n")
    state = MemoryVerifierState()
    client = SumDBClient(TEST_VERIFIER_KEY, LogFetcher(log), state)
    for i in (0, 255, 256, 511, 599):
        assert await client.lookup(f"example.com/m{i}", "v1.0.0") == [
            f"example.com/m{i} v1.0.0 h1:{i}="
        ]
    assert latest_size(state) == 600
    # Full level-0 tiles, the partial one, and the level-1 tile were proven and cached.
    assert set(tile_cache(state)) >= {
        f"{TEST_NAME}/tile/8/0/000",
        f"{TEST_NAME}/tile/8/0/001",
        f"{TEST_NAME}/tile/8/0/002.p/88",
        f"{TEST_NAME}/tile/8/1/000.p/2",
    }


# --- verify ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_verify_accepts_the_hashes_the_database_proves() -> None:
    client, _, _ = new_test_client(standard_log())
    await client.verify(
        "rsc.io/sampler", "v1.3.0", "zip", "h1:7uVkIFmeBqHfdjD+gZwtXXI+RODJ2Wc4O7MPEh/QiW4="
    )
    await client.verify(
        "rsc.io/sampler", "v1.3.0", "mod", "h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA="
    )


@pytest.mark.asyncio
async def test_verify_mismatch_names_module_version_and_both_hashes() -> None:
    client, _, _ = new_test_client(standard_log())
    with pytest.raises(ChecksumMismatch) as info:
        await client.verify("rsc.io/sampler", "v1.3.0", "mod", "h1:wrong=")
    err = info.value
    assert (err.path, err.version) == ("rsc.io/sampler", "v1.3.0/go.mod")
    assert err.expected == "h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA="
    assert err.received == "h1:wrong="
    assert "verifying rsc.io/sampler@v1.3.0/go.mod: checksum mismatch" in str(err)
    assert "checksum database: h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=" in str(err)


@pytest.mark.asyncio
async def test_verify_refuses_an_unknown_kind() -> None:
    client, _, _ = new_test_client(standard_log())
    with pytest.raises(ValueError, match=r"kind"):
        await client.verify("rsc.io/sampler", "v1.3.0", "info", "h1:x")  # type: ignore[arg-type]


# --- item 46: a success answer without the needed line --------------------------------------------


@pytest.mark.asyncio
async def test_e46_record_with_only_the_go_mod_line_is_no_entry_for_the_zip() -> None:
    log = standard_log()
    log.add_record("example.com/m@v1.0.0", "example.com/m v1.0.0/go.mod h1:modhash=\n")
    client, _, _ = new_test_client(log)
    assert await client.lookup("example.com/m", "v1.0.0/go.mod") == [
        "example.com/m v1.0.0/go.mod h1:modhash="
    ]
    with pytest.raises(
        NoSumDBEntry, match=r"no entry in checksum database for example\.com/m@v1\.0\.0"
    ):
        await client.lookup("example.com/m", "v1.0.0")
    with pytest.raises(NoSumDBEntry, match=r"example\.com/m@v1\.0\.0"):
        await client.verify("example.com/m", "v1.0.0", "zip", "h1:anything=")


@pytest.mark.asyncio
async def test_e46_valid_record_of_another_module_is_no_entry() -> None:
    log = standard_log()
    log.remote["lookup/example.com/other@v1.3.0"] = log.remote["lookup/rsc.io/sampler@v1.3.0"]
    client, _, _ = new_test_client(log)
    with pytest.raises(NoSumDBEntry, match=r"example\.com/other@v1\.3\.0"):
        await client.verify("example.com/other", "v1.3.0", "zip", "h1:x=")


@pytest.mark.asyncio
async def test_e46_empty_success_body_is_a_failure() -> None:
    log = standard_log()
    log.remote["lookup/example.com/m@v1.0.0"] = b""
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"malformed record data"):
        await client.lookup("example.com/m", "v1.0.0")
    assert not any("lookup/example.com" in k for k in state.cache)


@pytest.mark.asyncio
async def test_e46_record_with_only_other_hash_kinds_is_no_entry_for_verify() -> None:
    log = standard_log()
    log.add_record("example.com/m@v1.0.0", "example.com/m v1.0.0 h2:future=\n")
    client, _, _ = new_test_client(log)
    with pytest.raises(NoSumDBEntry, match=r"no h1: hash"):
        await client.verify("example.com/m", "v1.0.0", "zip", "h1:x=")


@pytest.mark.asyncio
async def test_e46_database_not_found_is_no_entry() -> None:
    client, _, _ = new_test_client(standard_log())
    with pytest.raises(NoSumDBEntry, match=r"example\.com/private@v1\.0\.0"):
        await client.lookup("example.com/private", "v1.0.0")


# --- item 47: hash lines outside the authenticated record -----------------------------------------


def _lookup_with_note_extra(log: TestLog, key: str, text: str, extra: str) -> None:
    """Append a record whose lookup answer carries ``extra`` in the signed tree note text."""
    record_id = log.add_record(key, text)
    log.remote["lookup/" + key] = tlog.format_record(record_id, text.encode()) + log.sign_tree(
        extra=extra.encode()
    )


@pytest.mark.asyncio
async def test_e47_lines_in_the_signed_tree_note_are_ignored() -> None:
    # x/mod TestRejectUnauthenticatedLines.
    log = standard_log()
    bad = "golang.org/x/bad v1.0.0 h1:7uVkIFmeBqHfdjD+gZwtXXI+RODJ2Wc4O7MPEh/QiW4=\n"
    _lookup_with_note_extra(
        log,
        "golang.org/x/good@v1.0.0",
        "golang.org/x/good v1.0.0 h1:7uVkIFmeBqHfdjD+gZwtXXI+RODJ2Wc4O7MPEh/QiW4=\n",
        bad,
    )
    log.remote["lookup/golang.org/x/bad@v1.0.0"] = log.remote["lookup/golang.org/x/good@v1.0.0"]
    client, _, _ = new_test_client(log)
    with pytest.raises(NoSumDBEntry, match=r"golang\.org/x/bad@v1\.0\.0"):
        await client.lookup("golang.org/x/bad", "v1.0.0")


@pytest.mark.asyncio
async def test_e47_a_second_hash_in_the_note_does_not_count_for_the_module() -> None:
    log = standard_log()
    _lookup_with_note_extra(
        log,
        "example.com/m@v1.0.0",
        "example.com/m v1.0.0 h1:proven=\n",
        "example.com/m v1.0.0 h1:injected=\n",
    )
    client, _, _ = new_test_client(log)
    assert await client.lookup("example.com/m", "v1.0.0") == ["example.com/m v1.0.0 h1:proven="]
    with pytest.raises(ChecksumMismatch):
        await client.verify("example.com/m", "v1.0.0", "zip", "h1:injected=")


@pytest.mark.asyncio
async def test_e47_lines_after_the_signatures_make_the_answer_fail() -> None:
    log = standard_log()
    key = "lookup/rsc.io/sampler@v1.3.0"
    log.remote[key] += b"rsc.io/sampler v1.3.0 h1:injected=\n"
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"malformed note"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    assert latest_size(state) == 1


# --- item 53: bad records -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_e53_record_id_beyond_the_tree_cannot_be_validated() -> None:
    log = standard_log()
    log.remote["lookup/example.com/m@v1.0.0"] = (
        tlog.format_record(7, b"example.com/m v1.0.0 h1:x=\n") + log.sign_tree()
    )
    client, _, state = new_test_client(log)
    with pytest.raises(SumDBError, match=r"cannot validate record 7 in tree of size 3"):
        await client.lookup("example.com/m", "v1.0.0")
    assert not any("lookup/example.com" in k for k in state.cache)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text",
    [
        b"example.com/m v1.0.0 h1:\x01x=\n",
        b"example.com/m v1.0.0 h1:\xffx=\n",
        b"example.com/m v1.0.0 h1:x=\n\nexample.com/m v1.0.0/go.mod h1:y=\n",
        b"example.com/m v1.0.0 h1:x=",
    ],
    ids=["control-char", "invalid-utf8", "blank-line", "no-final-newline"],
)
async def test_e53_malformed_record_text_is_refused(text: bytes) -> None:
    log = standard_log()
    log.remote["lookup/example.com/m@v1.0.0"] = b"0\n" + text + b"\n" + log.sign_tree()
    client, _, state = new_test_client(log)
    # A blank line ends the record, so the rest no longer opens as the signed note.
    with pytest.raises(SumDBError, match=r"malformed|invalid signature"):
        await client.lookup("example.com/m", "v1.0.0")
    assert not any("lookup/example.com" in k for k in state.cache)


@pytest.mark.asyncio
async def test_e53_case_mixup_record_is_no_entry() -> None:
    log = standard_log()
    log.remote["lookup/rsc.io/!quote@v1.5.2"] = log.remote["lookup/rsc.io/quote@v1.5.2"]
    client, _, _ = new_test_client(log)
    with pytest.raises(NoSumDBEntry, match=r"rsc\.io/Quote@v1\.5\.2"):
        await client.verify(
            "rsc.io/Quote", "v1.5.2", "zip", "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y="
        )


@pytest.mark.asyncio
async def test_e53_record_text_that_is_not_the_leaf_is_a_security_error() -> None:
    log = standard_log()
    log.remote["lookup/example.com/evil@v1.0.0"] = (
        tlog.format_record(0, b"example.com/evil v1.0.0 h1:x=\n") + log.sign_tree()
    )
    client, _, state = new_test_client(log)
    with pytest.raises(SecurityError, match=r"cannot authenticate record data"):
        await client.lookup("example.com/evil", "v1.0.0")
    assert not any("lookup/example.com" in k for k in state.cache)


# --- item 54: database unavailable ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_e54_database_unavailable_is_an_error_never_a_skip() -> None:
    client, fetcher, state = new_test_client(standard_log())
    fetcher.online = False
    with pytest.raises(SumDBError, match=r"unavailable"):
        await client.lookup("rsc.io/sampler", "v1.3.0")
    with pytest.raises(SumDBError):
        await client.verify("rsc.io/sampler", "v1.3.0", "zip", "h1:anything=")
    assert latest_size(state) == 1


@pytest.mark.asyncio
async def test_e54_shared_failure_names_each_waiter_once() -> None:
    client, fetcher, _ = new_test_client(standard_log())
    await client.lookup("rsc.io/quote", "v1.5.2")
    fetcher.online = False
    results = await asyncio.gather(
        client.lookup("rsc.io/sampler", "v1.3.0"),
        client.lookup("rsc.io/sampler", "v1.3.0/go.mod"),
        client.lookup("rsc.io/sampler", "v1.3.0"),
        return_exceptions=True,
    )
    messages = [str(r) for r in results]
    assert fetcher.requests.count("lookup/rsc.io/sampler@v1.3.0") == 1
    assert messages[0].startswith("rsc.io/sampler@v1.3.0: checksum database")
    assert messages[1].startswith("rsc.io/sampler@v1.3.0/go.mod: checksum database")
    assert messages[2] == messages[0]


@pytest.mark.asyncio
async def test_e54_tiles_unavailable_is_an_error() -> None:
    client, fetcher, _ = new_test_client(standard_log())
    fetcher.tiles_online = False
    with pytest.raises(SumDBError, match=r"tile/2/0/000.p/1"):
        await client.lookup("rsc.io/sampler", "v1.3.0")


# --- properties: no damaged answer ever yields wrong lines --------------------------------------


def _property_log(size: int) -> TestLog:
    log = TestLog(tile_height=2)
    for i in range(size):
        log.add_record(f"example.com/m{i}@v1.0.0", f"example.com/m{i} v1.0.0 h1:{i}=\n")
    return log


async def _lookup_or_error(client: SumDBClient, i: int) -> list[str] | None:
    try:
        return await client.lookup(f"example.com/m{i}", "v1.0.0")
    except (SumDBError, SecurityError):
        return None


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_e48_any_flipped_bit_in_any_tile_gives_an_error_or_the_true_lines(
    data: st.DataObject,
) -> None:
    size = data.draw(st.integers(min_value=2, max_value=40), label="size")
    log = _property_log(size)
    paths = sorted(log.tile_paths())
    path = data.draw(st.sampled_from(paths), label="tile")
    bit = data.draw(st.integers(min_value=0, max_value=len(log.remote[path]) * 8 - 1))
    damaged = bytearray(log.remote[path])
    damaged[bit // 8] ^= 1 << (bit % 8)
    log.remote[path] = bytes(damaged)
    record = data.draw(st.integers(min_value=0, max_value=size - 1), label="record")
    client, _, state = new_test_client(log)
    got = asyncio.run(_lookup_or_error(client, record))
    assert got in (None, [f"example.com/m{record} v1.0.0 h1:{record}="])
    assert bytes(damaged) not in tile_cache(state).values()


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_e47_any_flipped_byte_in_a_lookup_gives_an_error_or_the_true_lines(
    data: st.DataObject,
) -> None:
    size = data.draw(st.integers(min_value=1, max_value=20), label="size")
    log = _property_log(size)
    record = data.draw(st.integers(min_value=0, max_value=size - 1), label="record")
    key = f"lookup/example.com/m{record}@v1.0.0"
    answer = bytearray(log.remote[key])
    at = data.draw(st.integers(min_value=0, max_value=len(answer) - 1), label="at")
    answer[at] = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != answer[at])
    )
    log.remote[key] = bytes(answer)
    client, _, state = new_test_client(log)
    got = asyncio.run(_lookup_or_error(client, record))
    assert got in (None, [f"example.com/m{record} v1.0.0 h1:{record}="])
    if got is None:
        assert f"{TEST_NAME}/{key}" not in state.cache

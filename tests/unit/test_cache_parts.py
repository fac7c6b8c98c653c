"""The small parts of the cache service: zip hold-back, negative cache, hot LRU, validation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from gomodproxy.cache.hotcache import HotCache
from gomodproxy.cache.negative import NegativeCache
from gomodproxy.cache.zipflight import ZipFlight
from gomodproxy.errors import ModuleNotFound, UpstreamError
from gomodproxy.protocol.answers import (
    InvalidUpstreamContent,
    ListedVersion,
    clean_version_list,
    latest_listed,
    validate_info,
    validate_mod,
)
from gomodproxy.storage.base import ObjectInfo

_INFO = ObjectInfo("example.com/m/@v/v1.0.0.zip", 10, "0" * 64, 0.0)


async def _collect(flight: ZipFlight, out: bytearray) -> None:
    async with flight.open_reader() as reader:
        async for chunk in reader.chunks():
            out += chunk


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run (and worker threads finish) until ``condition`` holds."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


@pytest.mark.asyncio
async def test_zip_readers_never_see_the_held_back_tail_before_success(tmp_path: Path) -> None:
    flight = ZipFlight(_INFO.key, tmp_path / "spool.zip", holdback=4)
    await flight.create_spool()
    flight.begin(10, "origin")
    out = bytearray()
    reader = asyncio.create_task(_collect(flight, out))
    await flight.append(b"0123456")
    await _until(lambda: len(out) >= 3)
    assert bytes(out) == b"012"  # 7 written, 4 held back
    await flight.append(b"789")
    await _until(lambda: len(out) >= 6)
    assert bytes(out) == b"012345"
    flight.finish(_INFO)
    await asyncio.wait_for(reader, 5)
    assert bytes(out) == b"0123456789"


@pytest.mark.asyncio
async def test_zip_readers_get_the_error_and_the_spool_is_removed(tmp_path: Path) -> None:
    spool = tmp_path / "spool.zip"
    flight = ZipFlight(_INFO.key, spool, holdback=4)
    await flight.create_spool()
    flight.begin(None, "origin")
    await flight.append(b"0123456789")
    out = bytearray()
    reader = asyncio.create_task(_collect(flight, out))
    await _until(lambda: len(out) >= 6)
    flight.fail(UpstreamError("cut short"))
    with pytest.raises(UpstreamError, match="cut short"):
        await reader
    assert bytes(out) == b"012345"
    await _until(lambda: not spool.exists())  # removed off the event loop


@pytest.mark.asyncio
async def test_a_late_reader_reads_from_the_start(tmp_path: Path) -> None:
    flight = ZipFlight(_INFO.key, tmp_path / "spool.zip", holdback=0)
    await flight.create_spool()
    flight.begin(10, "origin")
    await flight.append(b"01234")
    await flight.append(b"56789")
    late = flight.open_reader()
    flight.finish(_INFO)
    out = bytearray()
    async with late:
        async for chunk in late.chunks():
            out += chunk
    assert bytes(out) == b"0123456789"
    with pytest.raises(RuntimeError):
        flight.open_reader()


def test_h80_negative_entries_expire_and_are_bounded() -> None:
    now = [0.0]
    cache = NegativeCache(ttl=60, max_entries=2, clock=lambda: now[0])
    err = ModuleNotFound("gone")
    cache.remember("a", err)
    cache.remember("b", err)
    assert cache.get("a") is err
    cache.remember("c", err)  # evicts the least recently used: b
    assert cache.get("b") is None
    assert cache.get("a") is err
    now[0] = 61.0
    assert cache.get("a") is None
    assert len(cache) == 1


def test_negative_cache_with_zero_ttl_remembers_nothing() -> None:
    cache = NegativeCache(ttl=0, max_entries=10)
    cache.remember("a", ModuleNotFound("gone"))
    assert cache.get("a") is None


def test_hot_cache_is_bounded_by_bytes_and_item_size() -> None:
    hot = HotCache(max_bytes=10, max_item=6)
    hot.put("a", b"aaaa")
    hot.put("b", b"bbbb")
    hot.put("big", b"x" * 7)
    assert hot.get("big") is None
    assert hot.get("a") == b"aaaa"
    hot.put("c", b"cccc")  # evicts b (a was used more recently)
    assert hot.get("b") is None
    assert hot.size == 8


def test_b24_list_cleaning_keeps_valid_lines_with_their_times_pseudo_versions_included() -> None:
    body = (
        b"v1.0.0\r\n"
        b"v2.0.0+incompatible 2024-02-01T00:00:00Z\n"
        b"v1.0.0 2024-01-01T00:00:00Z\n"  # a duplicate: the line with a time wins
        b"v0.0.0-20240101000000-abcdefabcdef\n"
        b"v0.0.0-20240201000000-abcdefabcdef not-a-time\n"  # ignored by the go command: dropped
        b"v1.1.0 yesterday\n"  # a tag keeps its line without the bad time
        b"v1.2.0 2024-03-01T00:00:00.5+01:00 extra fields\n"
        b"\nx\nv1.0\n\xff\xfe\nv2.0.0\nv1.3.0\x00 2024-01-01T00:00:00Z\n"
        b"v1.4.0 2024-13-01T00:00:00Z\nv1.5.0 2024-01-01T00:00:00\n"
    )
    assert [e.line for e in clean_version_list(body, "example.com/m")] == [
        "v0.0.0-20240101000000-abcdefabcdef",
        "v1.0.0 2024-01-01T00:00:00Z",
        "v1.1.0",
        "v1.2.0 2024-03-01T00:00:00.5+01:00",
        "v1.4.0",
        "v1.5.0",
        "v2.0.0+incompatible 2024-02-01T00:00:00Z",
    ]
    assert clean_version_list(b"v2.0.0\nv2.1.0\nv1.0.0\n", "example.com/m/v2") == [
        ListedVersion("v2.0.0"),
        ListedVersion("v2.1.0"),
    ]


_P_MARCH = "v0.0.0-20240301000000-aaaaaaaaaaaa"
_P_FEB = "v0.0.0-20240201000000-bbbbbbbbbbbb"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        # A pseudo-version counts with its own time, a line's time wins over it.
        ([ListedVersion(_P_FEB), ListedVersion(_P_MARCH)], _P_MARCH),
        ([ListedVersion(_P_FEB, "2024-04-01T00:00:00Z"), ListedVersion(_P_MARCH)], _P_FEB),
        # Tags without a time are ignored (the go command asks @latest only when it has no tags).
        ([ListedVersion("v1.5.0"), ListedVersion(_P_FEB)], _P_FEB),
        ([ListedVersion("v1.5.0")], None),
        ([], None),
        # By time, not by version; offsets and nanoseconds count.
        (
            [
                ListedVersion("v1.0.0", "2024-01-01T00:30:00+01:00"),
                ListedVersion("v0.9.0", "2023-12-31T23:45:00Z"),
            ],
            "v0.9.0",
        ),
        (
            [
                ListedVersion("v1.0.0", "2024-01-01T00:00:00Z"),
                ListedVersion("v0.9.0", "2024-01-01T00:00:00.000000001Z"),
            ],
            "v0.9.0",
        ),
        # The first of equal times; Go's zero time is never chosen.
        (
            [
                ListedVersion("v0.9.0", "2024-01-01T01:00:00+01:00"),
                ListedVersion("v1.0.0", "2024-01-01T00:00:00Z"),
            ],
            "v0.9.0",
        ),
        ([ListedVersion("v1.0.0", "0001-01-01T00:00:00Z")], None),
    ],
)
def test_b24_latest_from_the_list_is_chosen_as_the_go_command_does(
    entries: list[ListedVersion], expected: str | None
) -> None:
    assert latest_listed(entries) == expected


def test_b19_info_validation_accepts_queries_resolving_to_canonical_versions() -> None:
    body = b'{"Version":"v1.2.3","Time":"2024-01-02T03:04:05.123Z"}'
    assert validate_info(body, "example.com/m", "master") == "v1.2.3"
    with pytest.raises(InvalidUpstreamContent, match="instead of requested version"):
        validate_info(body, "example.com/m", "v1.2.4")


def test_mod_validation_accepts_a_quoted_module_path() -> None:
    validate_mod(b'module "example.com/m" // comment\n', "example.com/m", "v1.0.0")


@pytest.mark.parametrize(
    ("declared", "requested"),
    [
        ("github.com/Sirupsen/logrus", "github.com/sirupsen/logrus"),  # case only
        ("example.com/orig/crypto", "example.com/fork/crypto"),  # a fork kept the original path
        ("example.com/m", "example.com/m/v2"),  # missing /vN
    ],
)
def test_d42_a_mod_declaring_another_path_is_accepted(declared: str, requested: str) -> None:
    # The go command accepts it for a replace target; a proxy cannot know how it is required.
    validate_mod(f"module {declared}\n\ngo 1.21\n".encode(), requested, "v1.0.0")


def test_d42_a_mod_without_a_module_directive_is_still_refused() -> None:
    with pytest.raises(InvalidUpstreamContent, match="no module directive"):
        validate_mod(b"go 1.21\n", "example.com/m", "v1.0.0")

"""The eviction plan (pure) and the pins read from go.mod and go.sum files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gomodproxy.cache.eviction import (
    EvictionPolicy,
    StoredVersion,
    evict_due,
    load_pins,
    plan_eviction,
)
from gomodproxy.config import parse_age, parse_size
from gomodproxy.errors import ConfigError
from gomodproxy.storage import LocalLocks, MemoryStorage, OpenedStorage

DAY = 86400.0


def _v(path: str, version: str, size: int, last_used: float) -> StoredVersion:
    return StoredVersion(path, version, (f"{path}/@v/{version}.zip",), size, last_used)


OLD = _v("example.com/a", "v1.0.0", 100, 1 * DAY)
MID = _v("example.com/b", "v1.0.0", 200, 5 * DAY)
NEW = _v("example.com/c", "v1.0.0", 300, 9 * DAY)
HELD = [NEW, OLD, MID]


def _planned(policy: EvictionPolicy, now: float = 10 * DAY) -> list[tuple[str, str]]:
    return [(e.version.path, e.reason) for e in plan_eviction(HELD, policy, now)]


def test_size_limit_evicts_least_recently_used_first_until_it_fits() -> None:
    assert _planned(EvictionPolicy(max_bytes=600)) == []
    assert _planned(EvictionPolicy(max_bytes=599)) == [("example.com/a", "size")]
    assert _planned(EvictionPolicy(max_bytes=300)) == [
        ("example.com/a", "size"),
        ("example.com/b", "size"),
    ]
    assert len(_planned(EvictionPolicy(max_bytes=0))) == 3


def test_age_limit_evicts_what_was_not_used_for_longer() -> None:
    assert _planned(EvictionPolicy(max_age=6 * DAY)) == [("example.com/a", "age")]
    assert _planned(EvictionPolicy(max_age=2 * DAY)) == [
        ("example.com/a", "age"),
        ("example.com/b", "age"),
    ]
    # Age first, then size on what is left.
    assert _planned(EvictionPolicy(max_bytes=300, max_age=6 * DAY)) == [
        ("example.com/a", "age"),
        ("example.com/b", "size"),
    ]


def test_pinned_versions_are_never_evicted_and_still_count_towards_the_size() -> None:
    pins = frozenset({("example.com/a", "v1.0.0")})
    assert _planned(EvictionPolicy(max_bytes=350, pins=pins)) == [
        ("example.com/b", "size"),
        ("example.com/c", "size"),
    ]
    assert _planned(EvictionPolicy(max_age=1.0, pins=pins)) == [
        ("example.com/b", "age"),
        ("example.com/c", "age"),
    ]
    other_version = frozenset({("example.com/a", "v2.0.0")})
    assert _planned(EvictionPolicy(max_age=6 * DAY, pins=other_version)) == [
        ("example.com/a", "age")
    ]


def test_pins_come_from_go_mod_requires_and_replacements_and_go_sum_lines(tmp_path: Path) -> None:
    gomod = tmp_path / "go.mod"
    gomod.write_text(
        "module example.com/app\n\ngo 1.21\n\n"
        "require (\n\texample.com/a v1.2.0\n\texample.com/b v0.1.0 // indirect\n)\n\n"
        "replace example.com/b => example.com/fork v0.1.1\n"
        "replace example.com/c => ./local\n"
    )
    gosum = tmp_path / "go.sum"
    gosum.write_text(
        "example.com/d v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        "example.com/d v1.0.0/go.mod h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=\n"
        "example.com/e v2.0.0+incompatible/go.mod h1:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=\n"
    )
    assert load_pins([gomod, gosum]) == {
        ("example.com/a", "v1.2.0"),
        ("example.com/b", "v0.1.0"),
        ("example.com/fork", "v0.1.1"),
        ("example.com/d", "v1.0.0"),
        ("example.com/e", "v2.0.0+incompatible"),
    }


def test_a_bad_pin_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--keep .*missing.sum: cannot read it"):
        load_pins([tmp_path / "missing.sum"])
    broken = tmp_path / "go.mod"
    broken.write_text("module example.com/app\nrequire example.com/a\n")
    with pytest.raises(ConfigError, match=r"not a valid go\.mod or go\.sum"):
        load_pins([broken])


def test_sizes_and_ages_in_words() -> None:
    assert parse_size("50GiB") == 50 << 30
    assert parse_size("800MB") == 800_000_000
    assert parse_size("1.5k") == 1500
    assert parse_size("4096") == 4096
    assert parse_age("90d") == 90 * DAY
    assert parse_age("12h") == 12 * 3600
    assert parse_age("30") == 30
    for bad in ("", "lots", "-1G", "5 parsecs", "0"):
        with pytest.raises(ConfigError, match="invalid size"):
            parse_size(bad)
    with pytest.raises(ConfigError, match="unit s, m, h, d or w"):
        parse_age("3y")


@pytest.mark.asyncio
async def test_one_collection_per_half_interval_whoever_runs_the_loop() -> None:
    """Workers and replicas share the store: only one of them scans it per half interval."""
    store = MemoryStorage()
    opened = OpenedStorage(store, LocalLocks())
    await store.put("example.com/a/@v/v1.0.0.zip", b"z" * 10)
    await store.put("example.com/a/@v/v1.0.0.mod", b"module example.com/a\n")
    policy = EvictionPolicy(max_bytes=0)
    first = await evict_due(opened, policy, 600.0)
    assert first is not None
    assert [e.version.path for e in first.evicted] == ["example.com/a"]
    await store.put("example.com/b/@v/v1.0.0.mod", b"module example.com/b\n")
    assert await evict_due(opened, policy, 600.0) is None  # another worker, just after
    assert await store.list("example.com/b/@v/") == ["example.com/b/@v/v1.0.0.mod"]
    later = await evict_due(opened, policy, 600.0, now=time.time() + 301)
    assert later is not None
    assert await store.list("example.com/b/@v/") == []

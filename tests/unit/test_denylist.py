"""Deny entries and ``cache rm`` over the in-memory store (the store seam, no server)."""

from __future__ import annotations

import json

import pytest

from gomodproxy.admin.auditlog import AuditEntry, read_audit
from gomodproxy.admin.cacheremove import parse_target, remove_from_cache
from gomodproxy.cache.denylist import DenyEntry, DenyList, deny_key, parse_deny_key
from gomodproxy.errors import InvalidModulePath, InvalidVersion, ModuleDenied
from gomodproxy.storage import LocalLocks, MemoryStorage, OpenedStorage


def test_deny_keys_round_trip_escaped_paths_and_every_version() -> None:
    assert deny_key("github.com/Azure/x", "v1.0.0-RC") == (
        ".gomodproxy/deny/github.com/!azure/x/@v/v1.0.0-!r!c.json"
    )
    assert deny_key("example.com/a") == ".gomodproxy/deny/example.com/a/@v/@all.json"
    assert parse_deny_key(deny_key("github.com/Azure/x", "v1.0.0-RC")) == (
        "github.com/Azure/x",
        "v1.0.0-RC",
    )
    assert parse_deny_key(deny_key("example.com/a")) == ("example.com/a", "")
    assert parse_deny_key(".gomodproxy/deny/example.com/a/@v/x/y.json") is None
    assert parse_deny_key(".gomodproxy/audit/1.json") is None


def test_parse_target_wants_a_valid_path_and_a_canonical_version() -> None:
    assert parse_target("example.com/a@v1.2.3") == ("example.com/a", "v1.2.3")
    assert parse_target("example.com/a") == ("example.com/a", "")
    with pytest.raises(InvalidVersion, match="canonical"):
        parse_target("example.com/a@v1.2")
    with pytest.raises(InvalidVersion):
        parse_target("example.com/a/v2@v1.0.0")
    with pytest.raises(InvalidModulePath):
        parse_target("Example.com/a@v1.0.0/../x")


@pytest.mark.asyncio
async def test_refresh_loads_new_entries_and_drops_removed_ones() -> None:
    store = MemoryStorage()
    deny = DenyList(store)
    entry = DenyEntry("example.com/a", "v1.1.0", "bad", "alice", 0.0)
    await store.put(deny_key("example.com/a", "v1.1.0"), entry.to_json())
    assert deny.denied("example.com/a", "v1.1.0") is None  # not refreshed yet
    await deny.refresh()
    assert deny.denied("example.com/a", "v1.1.0") == entry
    assert deny.denied("example.com/a", "v1.0.0") is None
    assert deny.allowed("example.com/a", ["v1.0.0", "v1.1.0", "v1.2.0"]) == ["v1.0.0", "v1.2.0"]
    with pytest.raises(ModuleDenied, match="bad") as caught:
        deny.check("example.com/a", "v1.1.0")
    assert caught.value.status_hint == 403
    await store.delete(deny_key("example.com/a", "v1.1.0"))
    await deny.refresh()
    assert deny.denied("example.com/a", "v1.1.0") is None


@pytest.mark.asyncio
async def test_check_stored_reads_the_store_and_an_unreadable_entry_still_denies() -> None:
    store = MemoryStorage()
    deny = DenyList(store)
    await store.put(deny_key("example.com/a"), b"not json")
    with pytest.raises(ModuleDenied, match="unreadable"):
        await deny.check_stored("example.com/a", "v9.0.0")
    # Now known in memory too, for every version.
    assert deny.denied("example.com/a", "v0.1.0") is not None
    await deny.check_stored("example.com/b", "v1.0.0")  # nothing denies it


@pytest.mark.asyncio
async def test_remove_deletes_one_version_unlists_it_and_appends_to_the_log() -> None:
    store = MemoryStorage()
    opened = OpenedStorage(store, LocalLocks())
    for version in ("v1.0.0", "v1.1.0"):
        for ext in ("info", "mod", "zip"):
            await store.put(f"example.com/a/@v/{version}.{ext}", b"x" * 10)
    await store.put("example.com/a/@v/list", b"v1.0.0\nv1.1.0\n")
    removal = await remove_from_cache(
        opened, "example.com/a", "v1.1.0", reason=" tampered ", user="alice", now=100.0
    )
    assert sorted(removal.removed) == [
        f"example.com/a/@v/v1.1.0.{e}" for e in ("info", "mod", "zip")
    ]
    assert removal.freed == 30
    assert await store.get("example.com/a/@v/list") == b"v1.0.0\n"
    assert await store.list("example.com/a/@v/") == [
        "example.com/a/@v/list",
        "example.com/a/@v/v1.0.0.info",
        "example.com/a/@v/v1.0.0.mod",
        "example.com/a/@v/v1.0.0.zip",
    ]
    stored = json.loads(await store.get(deny_key("example.com/a", "v1.1.0")))
    assert stored == {
        "path": "example.com/a",
        "version": "v1.1.0",
        "reason": "tampered",
        "user": "alice",
        "time": 100.0,
    }
    # A second removal is a second, separate log entry; the first is never rewritten.
    await remove_from_cache(opened, "example.com/a", "", reason="all of it", user="bob", now=200.0)
    assert await store.list("example.com/a/@v/") == []
    log = await read_audit(store)
    assert [e for _, e in log] == [
        AuditEntry("rm", "example.com/a@v1.1.0", "tampered", "alice", 100.0, removal.removed, 30),
        AuditEntry(
            "rm",
            "example.com/a",
            "all of it",
            "bob",
            200.0,
            (
                "example.com/a/@v/v1.0.0.zip",
                "example.com/a/@v/list",
                "example.com/a/@v/v1.0.0.info",
                "example.com/a/@v/v1.0.0.mod",
            ),
            10 * 3 + len(b"v1.0.0\n"),
        ),
    ]


@pytest.mark.asyncio
async def test_f87_removing_a_prerelease_keeps_the_longer_prerelease_and_its_listing() -> None:
    """Fault 87: ``v1.2.3-pre`` is a prefix of ``v1.2.3-pre.1``'s keys; only its own go."""
    store = MemoryStorage()
    opened = OpenedStorage(store, LocalLocks())
    for version in ("v1.2.3-pre", "v1.2.3-pre.1"):
        for ext in ("info", "mod", "zip"):
            await store.put(f"example.com/a/@v/{version}.{ext}", b"x")
    await store.put("example.com/a/@v/list", b"v1.2.3-pre\nv1.2.3-pre.1\n")
    removal = await remove_from_cache(opened, "example.com/a", "v1.2.3-pre", reason="r", user="u")
    assert sorted(removal.removed) == [
        f"example.com/a/@v/v1.2.3-pre.{e}" for e in ("info", "mod", "zip")
    ]
    assert await store.list("example.com/a/@v/") == [
        "example.com/a/@v/list",
        "example.com/a/@v/v1.2.3-pre.1.info",
        "example.com/a/@v/v1.2.3-pre.1.mod",
        "example.com/a/@v/v1.2.3-pre.1.zip",
    ]
    assert await store.get("example.com/a/@v/list") == b"v1.2.3-pre.1\n"
    deny = DenyList(store)
    await deny.refresh()
    assert deny.denied("example.com/a", "v1.2.3-pre") is not None
    assert deny.denied("example.com/a", "v1.2.3-pre.1") is None

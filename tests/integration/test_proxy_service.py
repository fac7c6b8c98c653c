"""The cache service against a real origin and our own checksum database on 127.0.0.1.

Fault catalogue B (upstream answers), H (concurrency) and I (storage) at the service level; the
HTTP layer on top is tested in test_proxy_server.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.cache import (
    ChecksumPolicy,
    ModuleService,
    ServiceOptions,
    StoredZip,
    StreamingZip,
    ZipSource,
)
from gomodproxy.cache.limits import Overloaded
from gomodproxy.cache.listing import Listings
from gomodproxy.cache.negative import NegativeCache
from gomodproxy.errors import ChecksumMismatch, ModuleNotFound, ProxyError, UpstreamError
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.protocol.answers import InvalidUpstreamContent
from gomodproxy.storage import FileLocks, FilesystemStorage
from gomodproxy.upstream.chain import build_chain
from gomodproxy.upstream.proxyclient import FetchPolicy
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import SumDB, SynthModule, publish, running_sumdb, synth

POLICY = FetchPolicy(read_timeout=2.0, deadline=5.0, zip_deadline=10.0, retries=1, backoff=0.01)
M1 = synth("example.com/m", "v1.0.0", size=300_000)
M2 = synth("example.com/m", "v1.1.0")
UPPER = synth("example.com/Upper/Case", "v1.0.0-RC1")
PRIVATE = synth("private.example/p", "v0.1.0")


@dataclass
class Env:
    origin: Origin
    db: SumDB
    storage: FilesystemStorage
    service: ModuleService
    session: aiohttp.ClientSession
    root: Path

    def make_service(self, **options: float | int) -> ModuleService:
        chain = build_chain(parse_goproxy(self.origin.url), session=self.session, policy=POLICY)
        return ModuleService(
            self.storage,
            chain,
            checksums=ChecksumPolicy(self.db.verifier(self.session), gonosumdb="private.example"),
            locks=FileLocks(self.storage.locks_dir),
            options=ServiceOptions(**options),  # type: ignore[arg-type]
        )


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", [M1, M2, UPPER]) as db,
        aiohttp.ClientSession() as session,
    ):
        publish(origin, M1, M2, UPPER, PRIVATE)
        storage = FilesystemStorage(tmp_path / "cache")
        e = Env(origin, db, storage, None, session, tmp_path / "cache")  # type: ignore[arg-type]
        e.service = e.make_service()
        yield e
        await e.service.close()


async def _read(source: ZipSource) -> bytes:
    out = bytearray()
    async for chunk in source.reader.chunks():
        out += chunk
    return bytes(out)


async def _drain(source: StreamingZip, out: bytearray) -> None:
    async for chunk in source.reader.chunks():
        out += chunk


async def _zip(service: ModuleService, m: SynthModule) -> bytes:
    async with service.open_zip(m.path, m.version) as source:
        return await _read(source)


def _tree(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".gomodproxy" not in p.parts
    )


# -- the happy path ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_files_are_fetched_once_verified_stored_and_then_served_from_cache(
    env: Env,
) -> None:
    s = env.service
    assert await s.info(M1.path, M1.version) == M1.info
    assert await s.mod(M1.path, M1.version) == M1.mod
    assert await _zip(s, M1) == M1.zip
    for _ in range(3):
        assert await s.info(M1.path, M1.version) == M1.info
        assert await s.mod(M1.path, M1.version) == M1.mod
        async with s.open_zip(M1.path, M1.version) as source:
            assert isinstance(source, StoredZip)
            assert await _read(source) == M1.zip
    for ext in ("info", "mod", "zip"):
        assert env.origin.count(M1.rel(ext)) == 1
    files = await asyncio.to_thread(_tree, env.root)
    assert files == [
        "example.com/m/@v/list",
        "example.com/m/@v/v1.0.0.info",
        "example.com/m/@v/v1.0.0.mod",
        "example.com/m/@v/v1.0.0.zip",
    ]
    assert await s.storage.get("example.com/m/@v/list") == b"v1.0.0\n"


@pytest.mark.asyncio
async def test_a9_upper_case_paths_and_versions_are_stored_escaped(env: Env) -> None:
    assert await _zip(env.service, UPPER) == UPPER.zip
    assert await env.storage.exists("example.com/!upper/!case/@v/v1.0.0-!r!c1.zip")


@pytest.mark.asyncio
async def test_a_restarted_service_serves_from_the_same_cache_without_the_origin(
    env: Env,
) -> None:
    await env.service.mod(M1.path, M1.version)
    await _zip(env.service, M1)
    await env.origin.stop()
    fresh = env.make_service()
    try:
        assert await fresh.mod(M1.path, M1.version) == M1.mod
        assert await _zip(fresh, M1) == M1.zip
    finally:
        await fresh.close()


# -- concurrency (H) -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_h74_a_hundred_concurrent_misses_make_one_upstream_fetch(env: Env) -> None:
    env.origin.inject(Fault(delay=0.3))  # keep the fetch in flight while everyone arrives
    s = env.service
    zips = [_zip(s, M1) for _ in range(100)]
    mods = [s.mod(M1.path, M1.version) for _ in range(20)]
    infos = [s.info(M1.path, M1.version) for _ in range(20)]
    results = await asyncio.gather(*zips, *mods, *infos)
    assert results[:100] == [M1.zip] * 100
    assert results[100:120] == [M1.mod] * 20
    assert results[120:] == [M1.info] * 20
    for ext in ("info", "mod", "zip"):
        assert env.origin.count(M1.rel(ext)) == 1, ext


@pytest.mark.asyncio
async def test_h75_the_fetch_goes_on_when_its_first_requester_goes_away(env: Env) -> None:
    env.origin.inject(Fault(delay=0.3), M1.rel("zip"))
    leader = asyncio.create_task(_zip(env.service, M1))
    await asyncio.sleep(0.05)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    info = await env.service.zip_stored(M1.path, M1.version)
    assert info.size == len(M1.zip)
    assert env.origin.count(M1.rel("zip")) == 1


@pytest.mark.asyncio
async def test_h79_two_services_sharing_a_cache_fetch_once(env: Env) -> None:
    env.origin.inject(Fault(delay=0.3), M1.rel("zip"))
    other = env.make_service()
    try:
        a, b = await asyncio.gather(
            env.service.zip_stored(M1.path, M1.version), other.zip_stored(M1.path, M1.version)
        )
    finally:
        await other.close()
    assert a == b
    assert env.origin.count(M1.rel("zip")) == 1


# -- bad upstream answers (B) ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_b22_a_tampered_zip_is_refused_streamed_short_and_never_cached(env: Env) -> None:
    tampered = synth(M1.path, M1.version, size=300_000, files={**M1.files, "evil.go": b"x"})
    env.origin.inject(Fault(body=tampered.zip), M1.rel("zip"))
    received = bytearray()
    async with env.service.open_zip(M1.path, M1.version) as source:
        assert isinstance(source, StreamingZip)
        with pytest.raises(ChecksumMismatch) as caught:
            await _drain(source, received)
    assert caught.value.path == M1.path
    assert caught.value.expected == M1.zip_h1
    assert caught.value.received == tampered.zip_h1
    assert len(received) <= len(tampered.zip) - ServiceOptions().holdback
    assert not await env.storage.exists(M1.rel("zip"))
    assert await asyncio.to_thread(os.listdir, env.storage.spool_dir) == []


@pytest.mark.asyncio
async def test_b22_a_tampered_go_mod_is_refused_and_never_cached(env: Env) -> None:
    env.origin.inject(Fault(body=b"module example.com/m\n\nrequire evil.example/x v1.0.0\n"))
    with pytest.raises(ChecksumMismatch, match="checksum mismatch"):
        await env.service.mod(M1.path, M1.version)
    assert not await env.storage.exists(M1.rel("mod"))


@pytest.mark.asyncio
async def test_gonosumdb_paths_are_not_verified(env: Env) -> None:
    assert await env.service.mod(PRIVATE.path, PRIVATE.version) == PRIVATE.mod
    assert await _zip(env.service, PRIVATE) == PRIVATE.zip
    assert env.db.stats.lookups_by_module == {}  # the database was never asked about it
    await env.service.mod(M1.path, M1.version)
    assert env.db.stats.lookups_by_module == {f"{M1.path}@{M1.version}": 1}


@pytest.mark.asyncio
async def test_a_module_missing_from_the_checksum_database_is_refused(env: Env) -> None:
    unknown = synth("example.com/unlogged", "v1.0.0")
    publish(env.origin, unknown)
    with pytest.raises(ProxyError, match=r"example\.com/unlogged"):
        await env.service.mod(unknown.path, unknown.version)
    assert not await env.storage.exists(unknown.rel("mod"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "invalid response from proxy"),
        (b'{"Version": NaN}', "invalid response from proxy"),
        (b"[]", "not a JSON object"),
        (b'{"Time": "2024-01-02T03:04:05Z"}', "no Version"),
        (b'{"Version": "v1.1.0"}', "instead of requested version v1.0.0"),
        (b'{"Version": "v1.0"}', "not a canonical version"),
        (b'{"Version": "v1.0.0", "Time": "yesterday"}', "RFC 3339"),
    ],
)
async def test_b19_a_bad_info_is_refused_and_never_cached(
    env: Env, body: bytes, reason: str
) -> None:
    env.origin.inject(Fault(body=body), M1.rel("info"))
    with pytest.raises(InvalidUpstreamContent, match=reason) as caught:
        await env.service.info(M1.path, M1.version)
    assert caught.value.status_hint == 502
    assert not await env.storage.exists(M1.rel("info"))


@pytest.mark.asyncio
async def test_b19_extra_info_fields_are_kept(env: Env) -> None:
    body = json.dumps({"Version": "v1.0.0", "Origin": {"VCS": "git", "Hash": "ab" * 20}}).encode()
    env.origin.inject(Fault(body=body), M1.rel("info"))
    assert await env.service.info(M1.path, M1.version) == body


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"hello world\n", "no module directive"),
        (b"<html><body>captive portal</body></html>", "parsing go.mod|no module directive"),
        (b"", "no module directive"),
    ],
)
async def test_b20_a_junk_mod_is_refused_and_never_cached(
    env: Env, body: bytes, reason: str
) -> None:
    env.origin.inject(Fault(body=body), M1.rel("mod"))
    with pytest.raises(InvalidUpstreamContent, match=reason):
        await env.service.mod(M1.path, M1.version)
    assert not await env.storage.exists(M1.rel("mod"))


@pytest.mark.asyncio
async def test_d42_a_mod_and_zip_declaring_another_module_path_are_served(env: Env) -> None:
    """A fork used as a replacement keeps the original module line; the go command accepts it
    (it knows how the module is required, a proxy does not). Here outside the checksum
    database, so the zip's go.mod must still equal the .mod (B23)."""
    files = {"go.mod": b"module example.com/orig\n", "m.go": b"package m\n"}
    fork = synth(PRIVATE.path, "v0.2.0", files=files)
    publish(env.origin, fork)
    assert await env.service.mod(fork.path, fork.version) == fork.mod
    assert await _zip(env.service, fork) == fork.zip
    assert await env.storage.get(fork.rel("mod")) == fork.mod
    assert await env.storage.exists(fork.rel("zip"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (synth("example.com/other", "v1.0.0").zip, "unexpected file|prefix|example.com/other"),
        (b"<html>captive portal</html>", "zip"),
        (b"", "zip"),
    ],
)
async def test_b21_a_zip_of_another_module_or_junk_is_refused(
    env: Env, body: bytes, reason: str
) -> None:
    env.origin.inject(Fault(body=body), M1.rel("zip"))
    with pytest.raises(InvalidUpstreamContent, match=reason):
        await env.service.zip_stored(M1.path, M1.version)
    assert not await env.storage.exists(M1.rel("zip"))


@pytest.mark.asyncio
async def test_b17_a_truncated_zip_cuts_the_stream_and_caches_nothing(env: Env) -> None:
    env.origin.inject(Fault(truncate_at=150_000, times=1), M1.rel("zip"))
    with pytest.raises(UpstreamError, match="cut short"):
        await _zip(env.service, M1)
    assert not await env.storage.exists(M1.rel("zip"))
    assert await _zip(env.service, M1) == M1.zip  # the next good fetch works


@pytest.mark.asyncio
async def test_b15_h76_a_5xx_is_not_remembered(env: Env) -> None:
    env.origin.inject(Fault(status=500, times=2), M1.rel("mod"))
    with pytest.raises(UpstreamError) as caught:
        await env.service.mod(M1.path, M1.version)
    assert caught.value.status_hint == 502
    assert await env.service.mod(M1.path, M1.version) == M1.mod


@pytest.mark.asyncio
async def test_b16_a_timeout_is_a_504_and_not_remembered(env: Env) -> None:
    env.origin.inject(Fault(stall_at=1000), M1.rel("zip"))
    with pytest.raises(UpstreamError) as caught:
        await env.service.zip_stored(M1.path, M1.version)
    assert caught.value.status_hint == 504
    env.origin.clear_faults()
    assert (await env.service.zip_stored(M1.path, M1.version)).size == len(M1.zip)


@pytest.mark.asyncio
async def test_h80_a_not_found_is_remembered_briefly_by_exact_path(env: Env) -> None:
    missing = synth(M1.path, "v9.9.9")
    for _ in range(3):
        with pytest.raises(ModuleNotFound):
            await env.service.mod(missing.path, missing.version)
    assert env.origin.count(missing.rel("mod")) == 1
    # Another version of the same module is not hidden by it.
    assert await env.service.mod(M2.path, M2.version) == M2.mod


@pytest.mark.asyncio
async def test_h80_a_version_published_after_a_404_is_served_once_the_entry_expires(
    env: Env,
) -> None:
    service = env.make_service(negative_ttl=0.0)
    try:
        late = synth(M1.path, "v1.2.0")
        with pytest.raises(ModuleNotFound):
            await service.info(late.path, late.version)
        publish(env.origin, late)
        assert await service.info(late.path, late.version) == late.info
    finally:
        await service.close()


# -- list and @latest ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_b24_the_list_is_cleaned_of_junk_and_injected_lines(env: Env) -> None:
    junk = (
        b"v1.0.0 2024-01-01T00:00:00Z\r\nv1.1.0\nv1.1.0\nnot-a-version\n"
        b"v0.0.0-20240101000000-abcdefabcdef\nv2.0.0\nv1.0\n\xff\xfe\nv1.0.0%0Av9.9.9\n"
        b"--upload-pack=x\nv1.2.0 <script>\n"
    )
    env.origin.inject(Fault(body=junk), M1.list_rel)
    assert await env.service.list(M1.path) == (
        b"v0.0.0-20240101000000-abcdefabcdef\nv1.0.0 2024-01-01T00:00:00Z\nv1.1.0\nv1.2.0\n"
    )


# A module without tags: pseudo-versions only, and no @latest at the origin.
_P1 = SynthModule("example.com/untagged", "v0.0.0-20240101000000-aaaaaaaaaaaa", M1.files)
_P2 = SynthModule(
    "example.com/untagged",
    "v0.0.0-20240301120000-bbbbbbbbbbbb",
    M1.files,
    "2024-03-01T13:00:00+01:00",
)


@pytest.mark.asyncio
async def test_b24_latest_without_upstream_latest_is_the_newest_listed_pseudo_version(
    env: Env,
) -> None:
    publish(env.origin, _P1, _P2)
    assert await env.service.list(_P1.path) == f"{_P1.version}\n{_P2.version}\n".encode()
    # The go command's fallback (proxy.go latestFromList): newest by time, then its .info.
    assert await env.service.latest(_P1.path) == _P2.info
    assert env.origin.count(f"{_P1.path}/@latest") == 1
    assert await env.storage.get(_P2.rel("info")) == _P2.info
    # A time in the list wins over the pseudo-version's own.
    env.origin.serve_file(
        _P1.list_rel, f"{_P1.version} 2025-01-01T00:00:00Z\n{_P2.version}\n".encode()
    )
    service = env.make_service(list_ttl=0.0)
    try:
        assert await service.latest(_P1.path) == _P1.info
    finally:
        await service.close()


@pytest.mark.asyncio
async def test_b24_latest_not_found_names_direct_only_where_direct_was_asked(env: Env) -> None:
    chain = build_chain(
        parse_goproxy(f"{env.origin.url},direct"), session=env.session, policy=POLICY
    )
    service = ModuleService(
        env.storage,
        chain,
        checksums=ChecksumPolicy(env.db.verifier(env.session)),
        locks=FileLocks(env.storage.locks_dir),
    )
    try:
        # Nothing at the origin: the list fell through to direct, which is the cause.
        with pytest.raises(ModuleNotFound, match="direct fetching is not supported"):
            await service.latest("example.com/nothing")
        # The origin lists tags and has no @latest: the highest release, as the go command's
        # query "latest" takes it from the list.
        assert await service.latest(M1.path) == M2.info
        # An empty list and no @latest: a plain not-found.
        env.origin.serve_file("example.com/empty/@v/list", b"")
        with pytest.raises(ModuleNotFound, match="no matching versions") as caught:
            await service.latest("example.com/empty")
        assert "direct" not in str(caught.value)
        assert caught.value.status_hint == 404
    finally:
        await service.close()


@pytest.mark.asyncio
async def test_h81_the_list_merges_stored_versions(env: Env) -> None:
    await env.service.mod(M1.path, M1.version)
    env.origin.inject(Fault(body=b"v1.1.0\n"), M1.list_rel)
    assert await env.service.list(M1.path) == b"v1.0.0\nv1.1.0\n"


@pytest.mark.asyncio
async def test_h81_a_stale_list_is_served_when_the_upstream_fails(env: Env) -> None:
    service = env.make_service(list_ttl=0.0)
    try:
        assert await service.list(M1.path) == b"v1.0.0\nv1.1.0\n"
        env.origin.inject(Fault(status=503))
        assert await service.list(M1.path) == b"v1.0.0\nv1.1.0\n"
        assert env.origin.count(M1.list_rel) >= 2
    finally:
        await service.close()


@pytest.mark.asyncio
async def test_h81_a_fresh_list_is_not_refetched_within_its_ttl(env: Env) -> None:
    for _ in range(5):
        await env.service.list(M1.path)
    assert env.origin.count(M1.list_rel) == 1


@pytest.mark.asyncio
async def test_h81_a_list_near_expiry_is_answered_at_once_and_refreshed_in_the_background(
    env: Env,
) -> None:
    now = [1000.0]
    chain = build_chain(parse_goproxy(env.origin.url), session=env.session, policy=POLICY)
    listings = Listings(
        env.storage, chain, NegativeCache(60.0, 100), ttl=60.0, clock=lambda: now[0]
    )
    try:
        assert await listings.versions(M1.path) == b"v1.0.0\nv1.1.0\n"
        env.origin.inject(Fault(body=b"v1.0.0\nv1.1.0\nv1.2.0\n"), M1.list_rel)
        now[0] += 30.0  # half the TTL: fresh, nothing fetched
        assert await listings.versions(M1.path) == b"v1.0.0\nv1.1.0\n"
        assert env.origin.count(M1.list_rel) == 1
        now[0] += 20.0  # past 3/4 of it: the kept answer at once, a refresh behind it
        assert await listings.versions(M1.path) == b"v1.0.0\nv1.1.0\n"
        refreshes = [t for t in asyncio.all_tasks() if t.get_name().startswith("refresh:")]
        assert len(refreshes) == 1
        async with asyncio.timeout(10):
            await asyncio.gather(*refreshes)
        assert env.origin.count(M1.list_rel) == 2
        assert await listings.versions(M1.path) == b"v1.0.0\nv1.1.0\nv1.2.0\n"
        assert env.origin.count(M1.list_rel) == 2
    finally:
        await listings.close()


@pytest.mark.asyncio
async def test_a_list_unknown_upstream_but_stored_serves_the_stored_versions(env: Env) -> None:
    await env.service.mod(M1.path, M1.version)
    env.origin.inject(Fault(status=404), M1.list_rel)
    assert await env.service.list(M1.path) == b"v1.0.0\n"
    with pytest.raises(ModuleNotFound):
        await env.service.list("example.com/nothing")


@pytest.mark.asyncio
async def test_latest_is_checked_like_an_info(env: Env) -> None:
    env.origin.serve_file("example.com/m/@latest", M2.info)
    assert await env.service.latest(M1.path) == M2.info
    env.origin.serve_file("example.com/other/@latest", b'{"Version":"v2.0.0"}')
    with pytest.raises(InvalidUpstreamContent, match="should be v0 or v1"):
        await env.service.latest("example.com/other")


@pytest.mark.asyncio
async def test_h81_latest_falls_back_to_the_cache_when_the_upstream_is_down(
    env: Env,
) -> None:
    await env.service.info(M2.path, M2.version)
    await env.service.mod(M2.path, M2.version)
    env.origin.inject(Fault(status=502))
    assert await env.service.latest(M2.path) == M2.info


@pytest.mark.asyncio
async def test_a_query_info_is_resolved_upstream_and_kept_under_its_version(env: Env) -> None:
    env.origin.serve_file("example.com/m/@v/master.info", M2.info)
    assert await env.service.info(M1.path, "master") == M2.info
    assert await env.storage.get(M2.rel("info")) == M2.info


# -- storage faults (I) ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_i84_a_rotten_cached_mod_is_refetched_and_reverified(env: Env) -> None:
    fresh = env.make_service(hot_bytes=0)
    try:
        assert await fresh.mod(M1.path, M1.version) == M1.mod
        path = env.root / M1.rel("mod")
        await asyncio.to_thread(path.write_bytes, b"module example.com/evil\n")
        assert await fresh.mod(M1.path, M1.version) == M1.mod
        assert env.origin.count(M1.rel("mod")) == 2
    finally:
        await fresh.close()


@pytest.mark.asyncio
async def test_b23_a_private_module_whose_mod_differs_from_its_zip_is_refused(env: Env) -> None:
    env.origin.serve_file(PRIVATE.rel("mod"), b"module private.example/p\n\nrequire x.y/z v1.0.0\n")
    with pytest.raises(InvalidUpstreamContent, match=r"differs from the \.mod"):
        await env.service.zip_stored(PRIVATE.path, PRIVATE.version)
    assert not await env.storage.exists(PRIVATE.rel("zip"))


@pytest.mark.asyncio
async def test_b23_a_tampered_private_mod_is_never_kept_and_cannot_lock_out_the_honest_zip(
    env: Env,
) -> None:
    honest = PRIVATE.mod
    evil = b"module private.example/p\n\nrequire evil.example/x v1.0.0\n"
    env.origin.inject(Fault(body=evil), PRIVATE.rel("mod"))
    tampered = await env.service.mod_file(PRIVATE.path, PRIVATE.version)
    assert not tampered.kept
    assert not await env.storage.exists(PRIVATE.rel("mod"))
    with pytest.raises(InvalidUpstreamContent, match=r"differs from the \.mod"):
        await env.service.zip_stored(PRIVATE.path, PRIVATE.version)
    # The upstream is honest again: the zip and its .mod are kept together, and agree.
    env.origin.clear_faults()
    assert (await env.service.zip_stored(PRIVATE.path, PRIVATE.version)).size == len(PRIVATE.zip)
    assert await env.storage.get(PRIVATE.rel("mod")) == honest
    kept = await env.service.mod_file(PRIVATE.path, PRIVATE.version)
    assert (kept.data, kept.kept) == (honest, True)
    assert PRIVATE.version.encode() in await env.service.list(PRIVATE.path)


@pytest.mark.asyncio
async def test_b23_a_private_module_without_go_mod_matches_the_synthesized_mod(env: Env) -> None:
    bare = synth("private.example/bare", "v1.0.0", files={"bare.go": b"package bare\n"})
    publish(env.origin, bare)
    assert bare.mod == b"module private.example/bare\n"
    assert (await env.service.zip_stored(bare.path, bare.version)).size == len(bare.zip)


@pytest.mark.asyncio
async def test_h78_fetches_beyond_the_limit_wait_then_get_503(env: Env) -> None:
    service = env.make_service(max_fetches=1, queue_timeout=0.2)
    try:
        env.origin.inject(Fault(delay=1.0), M1.rel("zip"))
        busy = asyncio.create_task(service.zip_stored(M1.path, M1.version))
        await asyncio.sleep(0.1)
        with pytest.raises(Overloaded) as caught:
            await service.mod(M2.path, M2.version)
        assert caught.value.status_hint == 503
        await busy
        # Cached answers never wait for a slot; new fetches go again once one is free.
        assert await service.mod(M2.path, M2.version) == M2.mod
    finally:
        await service.close()

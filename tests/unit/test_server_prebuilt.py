"""The headers of small files built once per body (``server.prebuilt``)."""

from __future__ import annotations

import hashlib

from gomodproxy.server.prebuilt import SmallHeaders

IMMUTABLE = "public, max-age=31536000, immutable"


def test_the_same_body_object_reuses_its_entry() -> None:
    cache = SmallHeaders()
    body = b'{"Version":"v1.0.0"}\n'
    first = cache.get("/m/@v/v1.0.0.info", body, "application/json", cache_control=IMMUTABLE)
    assert first.etag == f'"sha256-{hashlib.sha256(body).hexdigest()}"'
    assert dict(first.ok) == {
        "Cache-Control": IMMUTABLE,
        "ETag": first.etag,
        "Content-Type": "application/json",
    }
    assert dict(first.not_modified) == {"Cache-Control": IMMUTABLE, "ETag": first.etag}
    assert (
        cache.get("/m/@v/v1.0.0.info", body, "application/json", cache_control=IMMUTABLE) is first
    )


def test_an_entry_is_only_used_for_the_very_bytes_it_was_built_for() -> None:
    """Equal bytes in another object are rebuilt (identity, not equality), and a changed body
    (a new list, a new @latest) gets its own ETag."""
    cache = SmallHeaders()
    old = b"v1.0.0\n"
    first = cache.get("/m/@v/list", old, "text/plain", cache_control="public, max-age=60")
    again = cache.get(
        "/m/@v/list", bytes(bytearray(old)), "text/plain", cache_control="public, max-age=60"
    )
    assert again is not first
    assert again.etag == first.etag
    new = cache.get(
        "/m/@v/list", b"v1.0.0\nv1.1.0\n", "text/plain", cache_control="public, max-age=60"
    )
    assert new.etag != first.etag
    # Another Cache-Control for the same target (an unkept .mod is no-store) is its own entry.
    kept = cache.get("/m/@v/v1.0.0.mod", b"module m\n", "text/plain", cache_control=IMMUTABLE)
    unkept = cache.get("/m/@v/v1.0.0.mod", b"module m\n", "text/plain", cache_control="no-store")
    assert kept.ok["Cache-Control"] == IMMUTABLE
    assert unkept.ok["Cache-Control"] == "no-store"


def test_entries_and_the_bytes_they_keep_are_bounded() -> None:
    cache = SmallHeaders(max_entries=3, max_bytes=100)
    bodies = [bytes([i]) * 10 for i in range(5)]
    for i, body in enumerate(bodies):
        cache.get(f"/t{i}", body, "text/plain", cache_control="x")
    assert len(cache) == 3
    big = b"x" * 60
    cache.get("/big", big, "text/plain", cache_control="x")
    cache.get("/big2", b"y" * 60, "text/plain", cache_control="x")
    assert len(cache) == 1  # 120 bytes would be over the bound: only the newest is kept
    cache.get("/huge", b"z" * 101, "text/plain", cache_control="x")
    assert len(cache) == 1  # never kept, still answered

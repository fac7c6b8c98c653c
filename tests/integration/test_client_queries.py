"""Version queries through a module proxy: ``gomodproxy download`` beside ``go mod download``
(issue 11, sections 1 and 4).

A loopback proxy (:mod:`tests.origin`) serves synthetic modules; both programs get the same
environment and a module cache each, and must print the same ``-json``: the Origin of each
query kind (none for a query that picks from a proxy's list) and the version picked when
``+incompatible`` versions sit above a compatible one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.integration.clientkit import Home, cache_listing, normalized_json
from tests.origin import running_origin
from tests.proxykit import publish, synth

pytestmark = [pytest.mark.gocmd, pytest.mark.asyncio]


def _homes(root: Path, goproxy: str) -> tuple[Home, Home]:
    theirs, ours = Home(root / "go", goproxy), Home(root / "ours", goproxy)
    for h in (theirs, ours):
        h.work.mkdir(parents=True)
    return theirs, ours


async def test_proxied_queries_print_the_go_commands_origin(tmp_path: Path) -> None:
    """Through a proxy whose ``.info`` files carry an Origin: a version-list query (``@latest``,
    a prefix, a comparison, ``@latest`` of a module without tags) prints none, since a proxy's
    list has no Origin to merge; a version asked by name prints the proxy's Origin whole
    (TagSum included), as the go command's Stat does."""
    a1, a2 = synth("example.com/a", "v1.0.0"), synth("example.com/a", "v1.1.0")
    b = synth("example.com/b", "v0.0.0-20240102030405-abcdefabcdef")

    def info(version: str, **extra: str) -> str:
        origin = {"VCS": "git", "URL": "https://example.com/r", "Hash": "ab" * 20, **extra}
        return json.dumps({"Version": version, "Time": "2024-01-02T03:04:05Z", "Origin": origin})

    args = (
        "example.com/a@latest",
        "example.com/a@v1",
        "example.com/a@<v1.1.0",
        "example.com/b@latest",
    )
    async with running_origin() as origin:
        publish(origin, a1, a2, b)
        origin.serve_file(a1.rel("info"), info("v1.0.0", Ref="refs/tags/v1.0.0").encode())
        tagged = info("v1.1.0", Ref="refs/tags/v1.1.0", TagSum="t1:" + "A" * 43 + "=")
        origin.serve_file(a2.rel("info"), tagged.encode())
        origin.serve_file(b.list_rel, b"")
        origin.serve_file("example.com/b/@latest", info(b.version, Ref="HEAD").encode())
        theirs, ours = _homes(tmp_path / "lists", origin.url)
        go = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *args)
        mine = await asyncio.to_thread(ours.ours, "-json", *args)
        assert (mine.returncode, go.returncode) == (0, 0), mine.stderr + go.stderr
        got = normalized_json(mine.stdout, ours.root)
        assert got == normalized_json(go.stdout, theirs.root)
        assert [m["Version"] for m in got] == ["v1.1.0", "v1.1.0", "v1.0.0", b.version]
        assert all("Origin" not in m for m in got)

        theirs, ours = _homes(tmp_path / "named", origin.url)
        named = ("example.com/a@v1.1.0",)
        go = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *named)
        mine = await asyncio.to_thread(ours.ours, "-json", *named)
        assert (mine.returncode, go.returncode) == (0, 0), mine.stderr + go.stderr
        (only,) = normalized_json(mine.stdout, ours.root)
        assert [only] == normalized_json(go.stdout, theirs.root)
        assert only["Origin"] == json.loads(tagged)["Origin"]


async def test_incompatible_versions_are_skipped_as_the_go_command_skips_them(
    tmp_path: Path,
) -> None:
    """v1.0.0, v2.0.0+incompatible and v2.1.0+incompatible: while v1.0.0 has a go.mod of its
    own, ``@latest`` is v1.0.0 (filterVersions), a ``v2`` prefix or ``<v3.0.0`` still picks
    v2.1.0+incompatible; when v1.0.0 has none, ``@latest`` is v2.1.0+incompatible. Each
    answer, and its cache files, as the go command's."""
    mods = [
        synth("example.com/m", v) for v in ("v1.0.0", "v2.0.0+incompatible", "v2.1.0+incompatible")
    ]
    queries = ("latest", "v2", "<v3.0.0", "<v1.5.0")
    expected = {
        True: ["v1.0.0", "v2.1.0+incompatible", "v2.1.0+incompatible", "v1.0.0"],
        False: ["v2.1.0+incompatible", "v2.1.0+incompatible", "v2.1.0+incompatible", "v1.0.0"],
    }
    for v1_has_go_mod, versions in expected.items():
        async with running_origin() as origin:
            publish(origin, *mods)
            for m in mods:
                if m.version != "v1.0.0" or not v1_has_go_mod:
                    origin.serve_file(m.rel("mod"), b"module example.com/m\n")
            for query, version in zip(queries, versions, strict=True):
                root = tmp_path / f"{v1_has_go_mod}-{query.strip('<')}"
                theirs, ours = _homes(root, origin.url)
                arg = f"example.com/m@{query}"
                go = await asyncio.to_thread(theirs.go, "mod", "download", "-json", arg)
                mine = await asyncio.to_thread(ours.ours, "-json", arg)
                assert (mine.returncode, go.returncode) == (0, 0), mine.stderr + go.stderr
                (got,) = normalized_json(mine.stdout, ours.root)
                assert [got] == normalized_json(go.stdout, theirs.root), arg
                assert got["Version"] == version, arg
                assert cache_listing(ours.modcache) == cache_listing(theirs.modcache), arg

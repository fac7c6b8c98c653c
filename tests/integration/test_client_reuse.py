"""``gomodproxy download -reuse=FILE`` beside ``go mod download -reuse=FILE`` (issue 11).

Both programs get the same previous ``-json`` output (written by the go command) and the same
environment, each with an empty module cache (what -reuse is for), and must print the same
``-json``: modules fetched ``direct`` whose Origin still matches the repository (tags, refs,
the TagSum of a ``latest``) are marked ``"Reuse": true`` and not downloaded; a moved branch is
resolved again; modules from a proxy, which cannot check an Origin, are downloaded again.
The repositories of :mod:`tests.vcsrepos` are served by ``git http-backend`` on loopback.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.clientkit import Home, normalized_json
from tests.integration.fileproxy import parse_json_stream
from tests.origin import running_origin
from tests.proxykit import publish, synth
from tests.vcsrepos import ORG, Site, serving_test_repos

pytestmark = [pytest.mark.gocmd, pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving_test_repos(tmp_path_factory.mktemp("vcs")) as served:
        yield served


def _env(site: Site) -> dict[str, str]:
    return {
        "GOPRIVATE": ORG,
        "GIT_CONFIG_GLOBAL": str(site.git_config),
        "GIT_TERMINAL_PROMPT": "0",
    }


def _homes(root: Path, goproxy: str) -> tuple[Home, Home]:
    theirs, ours = Home(root / "go", goproxy), Home(root / "ours", goproxy)
    for h in (theirs, ours):
        h.work.mkdir(parents=True)
    return theirs, ours


async def _previous(root: Path, goproxy: str, args: tuple[str, ...], env: dict[str, str]) -> Path:
    """The go command's ``-json`` output for ``args``, saved as the -reuse file."""
    home = Home(root / "previous", goproxy)
    home.work.mkdir(parents=True)
    run = await asyncio.to_thread(home.go, "mod", "download", "-json", *args, **env)
    assert run.returncode == 0, run.stdout + run.stderr
    saved = root / "previous.json"
    saved.write_text(run.stdout)
    return saved


async def _both_reuse(
    root: Path, goproxy: str, saved: Path, args: tuple[str, ...], env: dict[str, str]
) -> tuple[list[dict[str, object]], Home, subprocess.CompletedProcess[str]]:
    theirs, ours = _homes(root, goproxy)
    flag = f"-reuse={saved}"
    go = await asyncio.to_thread(theirs.go, "mod", "download", "-json", flag, *args, **env)
    mine = await asyncio.to_thread(ours.ours, "-json", flag, *args, **env)
    assert (mine.returncode, go.returncode) == (0, 0), mine.stdout + mine.stderr + go.stderr
    got = normalized_json(mine.stdout, ours.root)
    assert got == normalized_json(go.stdout, theirs.root)
    return got, ours, mine


def _zips(home: Home) -> list[str]:
    return sorted(p.name for p in (home.modcache / "cache" / "download").rglob("*.zip"))


QUERIES = (
    f"{ORG}/alpha@v1.1.0",
    f"{ORG}/alpha@latest",
    f"{ORG}/alpha@feature",
    f"{ORG}/alpha/sub@v0.2.0",
    f"{ORG}/beta/v2@v2.1.0",
    f"{ORG}/gamma@v2.0.0+incompatible",
)


async def test_direct_modules_are_reused_as_the_go_command_reuses_them(
    site: Site, tmp_path: Path
) -> None:
    """Tags, a branch, ``latest`` (checked by its TagSum), a module in a subdirectory, v2 and
    ``+incompatible``: every one reused, nothing downloaded; output equal to the go command's."""
    env = _env(site)
    queries = (*QUERIES, f"{ORG}/delta@{site.repos.delta_head[:12]}")
    saved = await _previous(tmp_path, "direct", queries, env)
    got, ours, _ = await _both_reuse(tmp_path, "direct", saved, queries, env)
    assert [m.get("Reuse") for m in got] == [True] * len(queries)
    assert all("Dir" not in m and "Sum" not in m for m in got)
    assert _zips(ours) == []


LIST_QUERIES = (
    f"{ORG}/alpha@latest",
    f"{ORG}/alpha@v1.1",
    f"{ORG}/alpha@<v1.3.0",
    f"{ORG}/alpha/sub@latest",
    f"{ORG}/gamma@latest",
)


async def _ours_previous(
    root: Path, goproxy: str, args: tuple[str, ...], env: dict[str, str]
) -> Path:
    """Our own ``-json`` output for ``args``, saved as the -reuse file."""
    home = Home(root / "previous-ours", goproxy)
    home.work.mkdir(parents=True)
    run = await asyncio.to_thread(home.ours, "-json", *args, **env)
    assert run.returncode == 0, run.stdout + run.stderr
    saved = root / "previous-ours.json"
    saved.write_text(run.stdout)
    return saved


async def test_version_list_queries_are_reused_from_either_programs_output(
    site: Site, tmp_path: Path
) -> None:
    """``@latest``, a ``v1.1`` prefix and a ``<v1.3.0`` comparison (their Origin's TagSum of
    the tag list): the go command's output fed to both programs, then ours fed to both; every
    module reused each time, nothing downloaded, the same output."""
    env = _env(site)
    theirs_file = await _previous(tmp_path, "direct", LIST_QUERIES, env)
    ours_file = await _ours_previous(tmp_path, "direct", LIST_QUERIES, env)
    # Ours equals the go command's, Origin field for field (cache roots aside).
    assert normalized_json(ours_file.read_text(), tmp_path / "previous-ours") == normalized_json(
        theirs_file.read_text(), tmp_path / "previous"
    )
    for name, saved in (("go", theirs_file), ("ours", ours_file)):
        got, ours, _ = await _both_reuse(tmp_path / name, "direct", saved, LIST_QUERIES, env)
        assert [m.get("Reuse") for m in got] == [True] * len(LIST_QUERIES), name
        assert all(isinstance(m["Origin"], dict) and m["Origin"]["TagSum"] for m in got)
        assert _zips(ours) == []


async def test_a_moved_branch_is_resolved_again(tmp_path: Path) -> None:
    """After the ``feature`` branch moves, ``alpha@feature`` is resolved and downloaded again
    (a new pseudo-version); the tags are still reused. Its own site: the branch is moved."""
    with serving_test_repos(tmp_path / "vcs") as site:
        env = _env(site)
        queries = (f"{ORG}/alpha@feature", f"{ORG}/alpha@v1.1.0")
        saved = await _previous(tmp_path, "direct", queries, env)
        served = site.repos.served / "alpha"
        await asyncio.to_thread(
            subprocess.run,
            ["git", f"--git-dir={served}", "update-ref", "refs/heads/feature", "v1.0.0^{}"],
            check=True,
        )
        got, ours, _ = await _both_reuse(tmp_path, "direct", saved, queries, env)
    feature, tagged = got
    assert "Reuse" not in feature
    assert feature["Query"] == "feature"
    (before, _tag) = parse_json_stream(saved.read_text())
    assert feature["Version"] != before["Version"]
    assert tagged.get("Reuse") is True
    assert len(_zips(ours)) == 1


async def test_proxied_modules_are_downloaded_again(tmp_path: Path) -> None:
    """A proxy cannot check an Origin: a module it served (with an Origin in its .info) is
    downloaded again, with or without -reuse, as by the go command."""
    mod = synth("example.com/a", "v1.0.0")
    info = json.dumps(
        {
            "Version": "v1.0.0",
            "Time": "2024-01-02T03:04:05Z",
            "Origin": {"VCS": "git", "URL": "https://example.com/a", "Hash": "ab" * 20},
        }
    ).encode()
    async with running_origin() as origin:
        publish(origin, mod)
        origin.serve_file(mod.rel("info"), info)
        args = ("example.com/a@v1.0.0",)
        saved = await _previous(tmp_path, origin.url, args, {})
        assert '"Origin"' in saved.read_text()
        got, ours, _ = await _both_reuse(tmp_path, origin.url, saved, args, {})
    (only,) = got
    assert "Reuse" not in only
    assert only["Sum"] == mod.zip_h1
    assert _zips(ours) == ["v1.0.0.zip"]


async def test_bad_reuse_files_fail_like_the_go_command(tmp_path: Path) -> None:
    """A missing file, a file that is not JSON, and -reuse inside a module: exit 1 for both,
    naming the problem."""
    mod = synth("example.com/a", "v1.0.0")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Path": "example.com/a", ')
    async with running_origin() as origin:
        publish(origin, mod)
        cases = {
            str(tmp_path / "missing.json"): "no such file or directory",
            str(bad): f"parsing {bad}",
        }
        for i, (name, words) in enumerate(cases.items()):
            theirs, ours = _homes(tmp_path / f"case{i}", origin.url)
            args = ("-json", f"-reuse={name}", "example.com/a@v1.0.0")
            go = await asyncio.to_thread(theirs.go, "mod", "download", *args)
            mine = await asyncio.to_thread(ours.ours, *args)
            assert (mine.returncode, go.returncode) == (1, 1), (name, go.stderr, mine.stderr)
            assert words in go.stderr
            assert words in mine.stderr
            assert _zips(ours) == []
        theirs, ours = _homes(tmp_path / "inside", origin.url)
        for h in (theirs, ours):
            (h.work / "go.mod").write_text("module example.com/main\n\ngo 1.21\n")
        args = ("-json", f"-reuse={bad}", "example.com/a@v1.0.0")
        go = await asyncio.to_thread(theirs.go, "mod", "download", *args)
        mine = await asyncio.to_thread(ours.ours, *args)
        assert (mine.returncode, go.returncode) == (1, 1)
        assert "-reuse cannot be used inside a module" in go.stderr
        assert "-reuse cannot be used inside a module" in mine.stderr

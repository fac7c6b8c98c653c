"""Private modules straight from git, held to the go command in direct mode.

The repositories of :mod:`tests.vcsrepos` are served by the real ``git http-backend`` on
loopback. The reference is the go command with ``GOPROXY=direct`` and ``GOPRIVATE`` set, its
git pointed at the loopback server by ``url.<base>.insteadOf`` in a test git config
(``GIT_CONFIG_GLOBAL``); gomodproxy's git fetcher gets ``--vcs-rewrite`` for the same prefix.
Version lists, resolved versions (pseudo-versions included), ``.info`` (Origin compared without
its URL), ``.mod`` and zip ``h1:`` hashes must be the go command's, case by case, and a version
the go command refuses must be refused too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from gomodproxy.errors import ProxyError
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.vcs.fetcher import GitFetcher
from gomodproxy.vcs.resolve import parse_rewrites
from tests.gotool import run_go
from tests.vcsrepos import ORG, BuiltRepos, Site, serving_test_repos

pytestmark = [pytest.mark.gocmd, pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving_test_repos(tmp_path_factory.mktemp("vcs")) as served:
        yield served


@pytest_asyncio.fixture(params=["http", "file"])
async def fetcher(
    site: Site, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[GitFetcher]:
    """The git fetcher over smart HTTP (git http-backend), or over a ``file://`` rewrite of
    the same bare repositories."""
    rule = site.rewrite if request.param == "http" else f"{ORG}/={site.repos.served.as_uri()}/"
    yield GitFetcher(tmp_path / "vcs", parse_rewrites([rule]))


def go_download(site: Site, target: str, modcache: Path) -> dict[str, object] | None:
    """``go mod download -json target`` in direct mode with its module cache in ``modcache``
    (the go command rewrites a version's .info with the Origin of the last query that
    resolved to it); None when the go command refuses."""
    env = {**site.env, "GOMODCACHE": str(modcache)}
    proc = run_go(["mod", "download", "-json", target], cwd=site.root / "home", env=env)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    data["InfoBytes"] = Path(data["Info"]).read_bytes()
    data["GoModBytes"] = Path(data["GoMod"]).read_bytes()
    return data


def go_versions(site: Site, path: str) -> list[str]:
    proc = run_go(
        ["list", "-m", "-retracted", "-versions", "-json", path],
        cwd=site.root / "home",
        env=site.env,
        check=True,
    )
    return list(json.loads(proc.stdout).get("Versions", []))


def _zip_hash(spool: Path, data: bytes) -> str:
    spool.write_bytes(data)
    with spool.open("rb") as f:
        return hash_zip(f)


def _without_url(info: dict[str, object]) -> dict[str, object]:
    origin = dict(info.get("Origin", {}))  # type: ignore[call-overload]
    origin.pop("URL", None)
    return {**info, "Origin": origin}


LIST_CASES = [
    "alpha",
    "alpha/sub",
    "alpha/v2",
    "beta",
    "beta/v2",
    "gamma",
    "alpha/nested",
    "delta",
    "delta/v3",
]


@pytest.mark.parametrize("name", LIST_CASES)
async def test_version_list_matches_go(site: Site, fetcher: GitFetcher, name: str) -> None:
    """Tags to versions: sub/ prefixes, /vN in a subdirectory and a branch, +incompatible,
    non-canonical tags left out (fault catalogue 63)."""
    path = f"{ORG}/{name}"
    want = await asyncio.to_thread(go_versions, site, path)
    got = (await fetcher.list(path)).decode().split()
    assert got == want


def _cases(repos: BuiltRepos) -> list[tuple[str, str]]:
    return [
        ("alpha", "v1.0.0"),
        ("alpha", "v1.1.0"),
        ("alpha", "v1.3.0"),
        ("alpha", "feature"),
        ("alpha", repos.alpha_feature[:12]),
        ("alpha", repos.alpha_head[:12]),
        ("alpha", "v2.0.0"),
        ("alpha", "v1.2.0"),
        ("alpha/sub", "v0.1.0"),
        ("alpha/sub", "v0.2.0"),
        ("alpha/sub", "main"),
        ("alpha/v2", "v2.0.0"),
        ("alpha/v2", "main"),
        ("alpha/nested", "v1.0.0"),
        ("beta", "v1.0.0"),
        ("beta", "main"),
        ("beta", "v2.0.0"),
        ("beta/v2", "v2.0.0"),
        ("beta/v2", "v2.1.0"),
        ("beta/v2", "major2"),
        ("gamma", "v1.0.0"),
        ("gamma", "v2.0.0+incompatible"),
        ("gamma", "v3.1.0+incompatible"),
        ("gamma", repos.gamma_head[:12]),
        ("gamma", "main"),
        ("delta", "v0.3.0-rc.1"),
        ("delta", "v0.3.0"),
        ("delta", "v0.3.0+meta"),
        ("delta", "trunk"),
        ("delta", repos.delta_head[:12]),
        ("delta", "v2.0.0+incompatible"),
        ("delta", "v3.0.0+incompatible"),
        ("delta/v3", "v3.0.0"),
        ("delta/v3", "trunk"),
    ]


async def test_info_mod_zip_match_go(site: Site, fetcher: GitFetcher, tmp_path: Path) -> None:
    """Case by case: the resolved version (pseudo-versions included), the ``.info`` (Origin
    without URL), the ``.mod`` and the zip's ``h1:`` hash equal the go command's; a version
    the go command refuses (a major mismatch, fault catalogue 42; a missing go.mod for a
    subdirectory) is refused too. LICENSE comes from the repository root for ``alpha/sub``;
    the nested module and vendor/ are left out of alpha's zip."""
    failures: list[str] = []
    compared: list[str] = []
    refused: list[str] = []
    for name, query in _cases(site.repos):
        path = f"{ORG}/{name}"
        want = await asyncio.to_thread(go_download, site, f"{path}@{query}", tmp_path / "mod")
        try:
            info = json.loads(await fetcher.info(path, query))
        except ProxyError as exc:
            if want is not None:
                failures.append(f"{path}@{query}: refused ({exc}) but go gave {want['Version']}")
            refused.append(f"{name}@{query}")
            continue
        if want is None:
            failures.append(f"{path}@{query}: go refuses it but we gave {info['Version']}")
            continue
        version = str(want["Version"])
        if info["Version"] != version:
            failures.append(f"{path}@{query}: version {info['Version']} != {version}")
            continue
        go_info = json.loads(want["InfoBytes"])  # type: ignore[arg-type]
        if _without_url(info) != _without_url(go_info):
            failures.append(f"{path}@{query}: info {info} != {go_info}")
        mod = await fetcher.mod(path, version)
        if mod != want["GoModBytes"]:
            failures.append(f"{path}@{version}: go.mod differs")
        async with fetcher.zip(path, version) as body:
            data = b"".join([c async for c in body.chunks()])
        h1 = await asyncio.to_thread(_zip_hash, site.root / "ours.zip", data)
        if h1 != want["Sum"]:
            failures.append(f"{path}@{version}: zip {h1} != {want['Sum']}")
        compared.append(f"{name}@{version}")
    assert not failures, "\n".join(failures)
    # The cases that the go command refuses, and nothing else.
    assert refused == [
        "alpha@v2.0.0",
        "alpha@v1.2.0",
        "alpha/nested@v1.0.0",
        "beta@v2.0.0",
        "delta@v0.3.0",
    ]
    assert len(compared) == len(_cases(site.repos)) - len(refused)


async def test_latest_is_head_honouring_retractions(
    site: Site, fetcher: GitFetcher, tmp_path: Path
) -> None:
    """``@latest`` is the repository's HEAD as the go command resolves it: HEAD carries tag
    v1.4.0, retracted by its own go.mod, so it becomes a pseudo-version above v1.3.0."""
    target = f"{ORG}/alpha@{site.repos.alpha_head[:12]}"
    want = await asyncio.to_thread(go_download, site, target, tmp_path / "mod")
    assert want is not None
    latest = json.loads(await fetcher.latest(f"{ORG}/alpha"))
    assert latest["Version"] == want["Version"]
    assert str(latest["Version"]).startswith("v1.3.1-0.")


@pytest.mark.parametrize("fetcher", ["http"], indirect=True)
async def test_clones_are_reused_and_only_what_is_missing_is_fetched(
    site: Site, fetcher: GitFetcher, tmp_path: Path
) -> None:
    """A second fetcher over the same clone folder (a restart) lists the remote's refs and
    fetches nothing: its answers come from the clone kept in the cache."""
    path = f"{ORG}/gamma"
    first = await fetcher.info(path, "v2.0.0+incompatible")
    start = len(site.server.requests)
    again = GitFetcher(tmp_path / "vcs", parse_rewrites([site.rewrite]))
    assert await again.info(path, "v2.0.0+incompatible") == first
    asked = site.server.requests[start:]
    # ls-remote of gamma.git (absent), then of gamma: one refs advertisement and one ls-refs
    # command each at most; no second upload-pack conversation fetching objects.
    assert [p for p in asked if p.startswith("/gamma/")] == [
        "/gamma/info/refs",
        "/gamma/git-upload-pack",
    ]

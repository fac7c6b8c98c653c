"""The static front (``gomodproxy front nginx``, issue 15 section 2) with the real nginx: the
generated file passes ``nginx -t``; the go command downloads through it with verification
against our checksum database, and a second pass is sent by nginx alone (gomodproxy's request
metrics do not move); group A of the fault catalogue sent through it gets gomodproxy's refusal
(or nginx's own 400), never a file; denied, private and credentialed modules always go to
gomodproxy; size/age eviction is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.corpus_data import CorpusModule, corpus_download_dir, corpus_modules
from tests.frontkit import (
    FrontFiles,
    front_files,
    generate,
    nginx_check,
    nginx_reload_command,
    run_cli,
    running_front,
)
from tests.gotool import go_environ, run_go
from tests.integration.test_proxy_server import BAD_PATHS, _raw_http, _status
from tests.origin import Origin, running_origin
from tests.proxykit import RunningProxy, SumDB, publish, running_proxy, running_sumdb, synth
from tests.realservers import free_port

M1 = synth("example.com/m", "v1.0.0")
UPPER = synth("example.com/Upper/Case", "v1.2.0-RC.1")
PRIVATE = synth("example.com/private/lib", "v1.0.0")
DENIED = synth("example.com/legacy", "v1.0.0")
SYNTHETIC = (M1, UPPER, PRIVATE, DENIED)
TOKEN = "front-t0ken"
#: Corpus modules the go command downloads: escaped capitals, +incompatible, a /v3 path, a
#: pre-release and a pseudo-version.
GO_MODULES = (
    "github.com/pkg/errors@v0.9.1",
    "github.com/Azure/go-autorest@v14.2.0+incompatible",
    "github.com/Masterminds/semver/v3@v3.3.1",
    "github.com/ProtonMail/go-crypto@v1.3.0-proton",
    "github.com/Azure/go-ansiterm@v0.0.0-20230124172434-306776ec8161",
)


def _sha(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _file_hits(proxy: RunningProxy) -> float:
    """Requests for .info, .mod and .zip gomodproxy answered so far (any status)."""
    series = proxy.metrics.requests.series()
    return sum(v for labels, v in series.items() if labels[0] in ("info", "mod", "zip"))


@dataclass
class Setup:
    origin: Origin
    db: SumDB
    proxy: RunningProxy
    cache: Path


@asynccontextmanager
async def _proxy(
    tmp_path: Path, *, client_auth: str = "", gonosumdb: str = "", path_prefix: str = ""
) -> AsyncIterator[Setup]:
    """gomodproxy over the synthetic modules, verified against our checksum database."""
    cache = tmp_path / "cache"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", SYNTHETIC) as db,
    ):
        publish(origin, *SYNTHETIC)
        async with running_proxy(
            cache,
            upstream=origin.url,
            sumdb=db,
            client_auth=client_auth,
            gonosumdb=gonosumdb,
            path_prefix=path_prefix,
        ) as proxy:
            yield Setup(origin, db, proxy, cache)


async def _get(
    session: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, bytes, dict[str, str]]:
    async with session.get(url, headers=headers) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


async def _until_status(
    session: aiohttp.ClientSession, url: str, status: int, seconds: float = 15
) -> int:
    """Poll until ``url`` answers ``status`` (gomodproxy refreshes its deny list every 2 s,
    nginx's reload replaces its workers); returns how many requests it took."""
    deadline = time.monotonic() + seconds
    got, sent = 0, 0
    while time.monotonic() < deadline:
        got, _, _ = await _get(session, url)
        sent += 1
        if got == status:
            return sent
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} still answers {got}, not {status}")


# -- the file ---------------------------------------------------------------------------------


def test_generated_file_passes_nginx_t_with_rules_auth_private_and_deny_entries(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    code, err = run_cli(
        "cache", "rm", "example.com/gone@v1.0.0", "--reason", "leaked", "--cache-dir", str(cache)
    )
    assert code == 0, err
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nmatch = "example.com/legacy"\naction = "deny"\nreason = "old"\n\n'
        '[[rule]]\nmatch = "example.com/Lib*"\ndeny-versions = [">=v2.0.0"]\n'
    )
    files = front_files(tmp_path / "nginx")
    code, err = generate(
        files,
        cache,
        free_port(),
        "--rules",
        str(rules),
        "--client-auth",
        f"example.com/private,/metrics=ci:{_sha(TOKEN)}",
        "--goprivate",
        "git.corp.example",
        "--path-prefix",
        "/goproxy",
    )
    assert code == 0, err
    text = files.site.read_text()
    for expected in (
        "merge_slashes off;",
        '"~^[A-Z]+:/goproxy/example\\.com/legacy/" "";',
        '"~^[A-Z]+:/goproxy/example\\.com/[^/]*/" "";',
        '"~^[A-Z]+:/goproxy/example\\.com/private/" "";',
        '"~^[A-Z]+:/goproxy/git\\.corp\\.example/" "";',
        '"~^[A-Z]+:/goproxy/example\\.com/gone/@v/v1\\.0\\.0\\." "";',
        f"root {cache.resolve()};",
    ):
        assert expected in text, expected
    assert "/metrics" not in text.split("map ", 1)[1]
    result = nginx_check(files)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_size_and_age_limits_are_refused_unless_allowed(tmp_path: Path) -> None:
    """nginx records no access time: the most used files would be evicted first."""
    files = front_files(tmp_path / "nginx")
    code, err = generate(files, tmp_path / "cache", free_port(), "--cache-max-size", "10GiB")
    assert code == 1
    assert "--cache-max-size" in err
    assert "--allow-eviction" in err
    assert not files.site.exists()
    code, err = generate(
        files, tmp_path / "cache", free_port(), "--cache-max-age", "30d", "--allow-eviction"
    )
    assert code == 0, err
    assert "warning: --cache-max-age will evict files nginx sends" in err


def test_stores_without_a_folder_tls_and_port_0_are_refused(tmp_path: Path) -> None:
    files = front_files(tmp_path / "nginx")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("")
    key.write_text("")
    for extra, message in (
        (("--storage", "s3", "--s3-bucket", "b"), "reads a cache folder"),
        (("--tls-cert", str(cert), "--tls-key", str(key)), "terminate TLS in nginx"),
    ):
        code, err = generate(files, tmp_path / "cache", free_port(), *extra)
        assert code == 1
        assert message in err
    code, err = run_cli(
        "front", "nginx", "--cache-dir", str(tmp_path), "--listen", "127.0.0.1:0",
        "--upstream", "off", "--sumdb", "off",
    )  # fmt: skip
    assert code == 1
    assert "fixed port" in err


def test_output_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    files = front_files(tmp_path / "nginx")
    port = free_port()
    marker = tmp_path / "reloaded"
    reload = f"touch {marker}"
    code, err = generate(files, tmp_path / "cache", port, "--reload-command", reload)
    assert (code, "wrote" in err, marker.exists()) == (0, True, True)
    marker.unlink()
    code, err = generate(files, tmp_path / "cache", port, "--reload-command", reload)
    assert (code, "up to date" in err, marker.exists()) == (0, True, False)


# -- the go command through the front ----------------------------------------------------------


def _corpus(ids: tuple[str, ...]) -> list[CorpusModule]:
    by_id = {m.id: m for m in corpus_modules()}
    return [by_id[i] for i in ids]


def _go_download(home: Path, url: str, db: SumDB, ids: tuple[str, ...]) -> str:
    work = home / "work"
    work.mkdir(parents=True)
    (work / "go.mod").write_text("module example.com/front\n\ngo 1.21\n")
    env = go_environ(home, goproxy=url, gosumdb=db.key.verifier_key)
    run = run_go(["mod", "download", "-json", *ids], cwd=work, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@pytest.mark.gocmd
@pytest.mark.corpus
@pytest.mark.asyncio
async def test_the_go_command_downloads_through_the_front_and_hits_skip_gomodproxy(
    tmp_path: Path,
) -> None:
    modules = _corpus(GO_MODULES)
    async with running_sumdb(tmp_path / "sumdb") as db:
        records = [
            f"{m.path} {m.version} {m.zip_sum}\n{m.path} {m.version}/go.mod {m.mod_sum}\n".encode()
            for m in modules
        ]
        await asyncio.to_thread(db.store.append, records)
        async with (
            running_origin(corpus_download_dir()) as origin,
            running_proxy(tmp_path / "cache", upstream=origin.url, sumdb=db) as proxy,
            running_front(tmp_path / "nginx", tmp_path / "cache", proxy.url) as front,
        ):
            await asyncio.to_thread(_go_download, tmp_path / "cold", front.url, db, GO_MODULES)
            cold = _file_hits(proxy)
            assert cold >= 3 * len(modules)  # every file was a miss, answered by gomodproxy
            log_before = len(front.access_log())
            await asyncio.to_thread(_go_download, tmp_path / "warm", front.url, db, GO_MODULES)
            # Not one .info, .mod or .zip of the second pass reached gomodproxy: nginx sent them.
            assert _file_hits(proxy) == cold
            sent = [line for line in front.access_log()[log_before:] if "/@v/v" in line]
            assert len(sent) >= 3 * len(modules)
            assert all(line.endswith(" 200") for line in sent), sent
            # The go command sends the case-encoding's "!" percent-encoded.
            assert any("/github.com/%21azure/" in line for line in sent)
        cached = tmp_path / "warm" / "gopath" / "pkg" / "mod" / "cache" / "download"
        for m in modules:
            rel = m.zip_file.relative_to(corpus_download_dir())
            assert (cached / rel).read_bytes() == m.zip_file.read_bytes()
            assert (cached / rel.with_suffix(".mod")).read_bytes() == m.mod_file.read_bytes()


@pytest.mark.asyncio
async def test_hits_carry_the_content_type_cache_control_and_length_gomodproxy_sends(
    tmp_path: Path,
) -> None:
    async with (
        _proxy(tmp_path) as s,
        running_front(tmp_path / "nginx", s.cache, s.proxy.url) as front,
        aiohttp.ClientSession() as session,
    ):
        for m in (M1, UPPER):
            for ext in ("info", "mod", "zip"):
                await _get(session, f"{front.url}/{m.rel(ext)}")  # miss: gomodproxy stores it
        before = _file_hits(s.proxy)
        for m in (M1, UPPER):
            for ext in ("info", "mod", "zip"):
                direct = await _get(session, f"{s.proxy.url}/{m.rel(ext)}")
                fronted = await _get(session, f"{front.url}/{m.rel(ext)}")
                assert fronted[0] == direct[0] == 200
                assert fronted[1] == direct[1] == getattr(m, ext)
                for name in ("Content-Type", "Cache-Control", "Content-Length"):
                    assert fronted[2][name] == direct[2][name], (m.rel(ext), name)
        # Only the direct requests reached gomodproxy.
        assert _file_hits(s.proxy) == before + 6
        assert UPPER.rel("info") == "example.com/!upper/!case/@v/v1.2.0-!r!c.1.info"


@pytest.mark.asyncio
async def test_under_a_path_prefix_hits_are_sent_by_nginx_and_the_rest_passed(
    tmp_path: Path,
) -> None:
    async with (
        _proxy(tmp_path, path_prefix="/goproxy") as s,
        running_front(
            tmp_path / "nginx", s.cache, s.proxy.url.removesuffix("/goproxy"),
            "--path-prefix", "/goproxy",
        ) as front,
        aiohttp.ClientSession() as session,
    ):  # fmt: skip
        url = f"{front.url}/goproxy/{UPPER.rel('zip')}"
        assert (await _get(session, url))[:2] == (200, UPPER.zip)
        before = _file_hits(s.proxy)
        assert (await _get(session, url))[:2] == (200, UPPER.zip)
        assert _file_hits(s.proxy) == before
        # The same file outside the prefix is not served, by either.
        status, body, _ = await _get(session, f"{front.url}/{UPPER.rel('zip')}")
        assert status == 404
        assert body != UPPER.zip
        status, body, _ = await _get(session, f"{front.url}/goproxy/{UPPER.list_rel}")
        assert (status, body) == (200, b"v1.2.0-RC.1\n")
        assert _file_hits(s.proxy) == before


# -- group A through the front -------------------------------------------------------------


@pytest.mark.asyncio
async def test_a1_to_a8_bad_requests_through_the_front_are_refused_never_sent_as_files(
    tmp_path: Path,
) -> None:
    """Every group A path of the proxy's own tests, sent raw through nginx: gomodproxy's 404
    ``not found:`` (or nginx's own 400 for what it cannot parse), never a file, and nothing
    reaches the origin; other methods than GET and HEAD get gomodproxy's 405."""
    async with (
        _proxy(tmp_path) as s,
        running_front(tmp_path / "nginx", s.cache, s.proxy.url) as front,
        aiohttp.ClientSession() as session,
    ):
        for ext in ("info", "mod", "zip"):
            assert (await _get(session, f"{front.url}/{M1.rel(ext)}"))[0] == 200
        fetched = len(s.origin.requests)
        wrong = []
        for raw in BAD_PATHS:
            request = f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            answer = await _raw_http(front.url, request)
            status, body = _status(answer), answer.partition(b"\r\n\r\n")[2]
            if not (status == 400 or (status == 404 and body.startswith(b"not found: "))):
                wrong.append((raw, answer[:300]))
        assert wrong == []
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            async with session.request(method, f"{front.url}/{M1.rel('zip')}") as resp:
                assert resp.status == 405, method
                assert (await resp.read()).startswith(b"method not allowed")
        assert len(s.origin.requests) == fetched


FRONT_TRICKS = [
    # Each names, once normalized by nginx or the filesystem, a file the cache holds.
    "/example.com/m/./@v/v1.0.0.info",
    "/example.com/x/../m/@v/v1.0.0.info",
    "/example.com/m/@v/./v1.0.0.mod",
    "/example.com//m/@v/v1.0.0.info",
    "/example.com/m//@v/v1.0.0.zip",
    "/.gomodproxy/.store/quarantine/example.com/m/@v/v1.0.0.info",
    "/example.com/m/@v/v1.0.0.info/",
    "/example.com/m/@v/v1.0.0.info%00",
    "/example.com/m/@v/v1.0.0.INFO",
]


@pytest.mark.asyncio
async def test_a2_dot_elements_slashes_and_internal_files_are_never_sent_by_nginx(
    tmp_path: Path,
) -> None:
    """Fault 2 and 8 against the front itself: paths that nginx or the filesystem would
    resolve to a cached (or quarantined) file are refused as gomodproxy refuses them."""
    async with (
        _proxy(tmp_path) as s,
        running_front(tmp_path / "nginx", s.cache, s.proxy.url) as front,
        aiohttp.ClientSession() as session,
    ):
        for ext in ("info", "mod", "zip"):
            assert (await _get(session, f"{front.url}/{M1.rel(ext)}"))[0] == 200
        rotten = s.cache / ".gomodproxy/.store/quarantine/example.com/m/@v/v1.0.0.info"
        await asyncio.to_thread(rotten.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(rotten.write_bytes, b"ROTTEN")
        for raw in FRONT_TRICKS:
            request = f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            through = await _raw_http(front.url, request)
            direct = await _raw_http(s.proxy.url, request)
            assert _status(through) in (400, 404), (raw, through[:300])
            assert _status(through) == _status(direct) or _status(through) == 400, raw
            assert b"ROTTEN" not in through, raw
            assert M1.info not in through, raw


# -- what always goes to gomodproxy --------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("open_file_seconds", ["2", "0"])
async def test_cache_rm_stops_nginx_within_seconds_and_the_regenerated_file_passes_it(
    tmp_path: Path, open_file_seconds: str
) -> None:
    """``cache rm`` deletes the files it denies, so nginx stops sending them (once it checks
    its open files' names again) even before the file is generated again; gomodproxy answers
    403 with the reason."""
    async with (
        _proxy(tmp_path) as s,
        running_front(
            tmp_path / "nginx", s.cache, s.proxy.url, "--open-file-seconds", open_file_seconds
        ) as front,
        aiohttp.ClientSession() as session,
    ):
        url = f"{front.url}/{M1.rel('info')}"
        assert (await _get(session, url))[0] == 200
        before = _file_hits(s.proxy)
        assert (await _get(session, url))[:2] == (200, M1.info)
        assert _file_hits(s.proxy) == before  # sent by nginx
        code, err = await asyncio.to_thread(
            run_cli, "cache", "rm", "example.com/m@v1.0.0", "--reason", "leaked secret",
            "--cache-dir", str(s.cache),
        )  # fmt: skip
        assert code == 0, err
        assert not (s.cache / M1.rel("info")).exists()
        # Within 2 s (nginx checks open files' names again, gomodproxy refreshes its deny
        # list) the answer is gomodproxy's 403, and stays so; without open_file_cache, every
        # answer after the removal is gomodproxy's.
        sent = await _until_status(session, url, 403, seconds=10)
        if open_file_seconds == "0":
            assert _file_hits(s.proxy) == before + sent
        before = _file_hits(s.proxy)
        for _ in range(3):
            _, body, _ = await _get(session, url)
            assert b"leaked secret" in body
        assert _file_hits(s.proxy) == before + 3
        port = int(s.proxy.url.rsplit(":", 1)[1])
        code, err = await asyncio.to_thread(
            generate, front, s.cache, port, "--reload-command", nginx_reload_command(front)
        )
        assert code == 0, err
        assert "# cache rm example.com/m@v1.0.0" in front.site.read_text()
        code, err = await asyncio.to_thread(
            run_cli, "cache", "allow", "example.com/m@v1.0.0", "--reason", "rotated",
            "--cache-dir", str(s.cache),
        )  # fmt: skip
        assert code == 0, err
        await _until_status(session, url, 200)


@pytest.mark.asyncio
async def test_a_deny_rule_added_later_holds_once_the_command_regenerates_and_reloads(
    tmp_path: Path,
) -> None:
    """A ``--rules`` deny leaves the files in the cache: nginx keeps sending them until the
    file is generated again (documented), which ``--reload-command`` puts in force."""
    port = free_port()
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nmatch = "example.com/legacy"\naction = "deny"\nreason = "old"\n')
    url_path = "/" + DENIED.rel("mod")
    cache = tmp_path / "cache"
    async with (
        running_origin() as origin,
        running_sumdb(tmp_path / "sumdb", SYNTHETIC) as db,
        aiohttp.ClientSession() as session,
    ):
        publish(origin, *SYNTHETIC)
        async with running_proxy(cache, upstream=origin.url, sumdb=db, port=port) as proxy:
            assert (await _get(session, f"{proxy.url}{url_path}"))[0] == 200  # cached
        async with (
            running_proxy(cache, upstream=origin.url, sumdb=db, port=port, rules=str(rules)) as p,
            running_front(tmp_path / "nginx", cache, p.url) as front,
        ):
            await _after_the_rule(session, front, p, rules, url_path)


async def _after_the_rule(
    session: aiohttp.ClientSession,
    front: FrontFiles,
    proxy: RunningProxy,
    rules: Path,
    url_path: str,
) -> None:
    assert (await _get(session, f"{proxy.url}{url_path}"))[0] == 403
    # Generated without the rules: nginx still sends the file (why the docs say to generate
    # it again whenever the rules change).
    assert (await _get(session, f"{front.url}{url_path}"))[0] == 200
    port = int(proxy.url.rsplit(":", 1)[1])
    code, err = await asyncio.to_thread(
        generate, front, proxy.storage.root, port, "--rules", str(rules),
        "--reload-command", nginx_reload_command(front),
    )  # fmt: skip
    assert code == 0, err
    await _until_status(session, f"{front.url}{url_path}", 403)
    _, body, _ = await _get(session, f"{front.url}{url_path}")
    assert b"forbidden by the rules" in body
    assert (await _get(session, f"{front.url}/{M1.rel('mod')}"))[0] == 200


@pytest.mark.asyncio
async def test_credentialed_and_private_patterns_always_go_to_gomodproxy(tmp_path: Path) -> None:
    async with (
        _proxy(
            tmp_path,
            client_auth=f"example.com/private=ci:{_sha(TOKEN)}",
            gonosumdb="example.com/Upper",
        ) as s,
        running_front(
            tmp_path / "nginx", s.cache, s.proxy.url,
            "--client-auth", f"example.com/private=ci:{_sha(TOKEN)}",
            "--gonosumdb", "example.com/Upper",
        ) as front,
        aiohttp.ClientSession(auth=None) as session,
    ):  # fmt: skip
        auth = "Basic " + base64.b64encode(f"ci:{TOKEN}".encode()).decode()
        private = f"{front.url}/{PRIVATE.rel('info')}"
        assert (await _get(session, private, Authorization=auth))[:2] == (200, PRIVATE.info)
        assert (await _get(session, private, Authorization=auth))[0] == 200  # cached now
        before = _file_hits(s.proxy)
        status, _, headers = await _get(session, private)
        assert (status, headers.get("WWW-Authenticate", "")[:5]) == (401, "Basic")
        assert (await _get(session, private, Authorization=auth))[0] == 200
        upper = f"{front.url}/{UPPER.rel('mod')}"
        assert (await _get(session, upper))[:2] == (200, UPPER.mod)
        assert (await _get(session, upper))[:2] == (200, UPPER.mod)
        # The three 200s came from gomodproxy (the 401 is its middleware's, counted apart),
        # none from the folder.
        assert _file_hits(s.proxy) == before + 3
        public = f"{front.url}/{M1.rel('info')}"
        await _get(session, public)
        after = _file_hits(s.proxy)
        assert (await _get(session, public))[:2] == (200, M1.info)
        assert _file_hits(s.proxy) == after

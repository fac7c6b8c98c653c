"""The HTTP and file fetchers against a real origin on 127.0.0.1 (fault catalogue B)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gomodproxy.errors import ModuleNotFound, UpstreamError, UpstreamTimeout
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import BodyTooLarge, UpstreamThrottled, read_body
from gomodproxy.upstream.chain import build_chain
from gomodproxy.upstream.fileclient import FileFetcher
from gomodproxy.upstream.netrc import NetrcCredentials, parse_netrc
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher, mask_url, path_escape
from tests.origin import Fault, Origin, running_origin
from tests.tlscert import LocalTLS, make_local_tls

FAST = FetchPolicy(
    connect_timeout=2.0, read_timeout=0.5, deadline=3.0, zip_deadline=3.0, retries=2, backoff=0.01
)
MOD = "example.com/m/@v/v1.0.0.mod"


@pytest_asyncio.fixture
async def origin() -> AsyncIterator[Origin]:
    async with running_origin() as o:
        o.serve_file(MOD, b"module example.com/m\n")
        yield o


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _get(fetcher: HTTPFetcher | FileFetcher, rel: str, kind: FileKind) -> bytes:
    async with fetcher.open(rel, kind) as body:
        return await read_body(body, kind)


@pytest.mark.asyncio
async def test_fetches_a_file_with_the_go_commands_percent_encoding(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    rel = "github.com/!azure/go-autorest/@v/v14.2.0+incompatible.info"
    origin.serve_file(rel, b'{"Version":"v14.2.0+incompatible"}')
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    assert await _get(fetcher, rel, FileKind.INFO) == b'{"Version":"v14.2.0+incompatible"}'
    assert origin.requests[-1].raw_path == (
        "/github.com/%21azure/go-autorest/@v/v14.2.0+incompatible.info"
    )
    assert path_escape("a/!b/@v/v1.0.0+x.zip") == "a/%21b/@v/v1.0.0+x.zip"


@pytest.mark.asyncio
async def test_a_base_url_with_a_path_prefix_is_kept(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.serve_file("mirror/" + MOD, b"prefixed")
    fetcher = HTTPFetcher(origin.url + "/mirror/", session, policy=FAST)
    assert await _get(fetcher, MOD, FileKind.MOD) == b"prefixed"


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [404, 410])
async def test_b14_404_and_410_are_not_found_with_the_servers_reason(
    origin: Origin, session: aiohttp.ClientSession, status: int
) -> None:
    origin.inject(Fault(status=status), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(ModuleNotFound) as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert caught.value.status_hint == status
    assert f"injected status {status} for {MOD}" in str(caught.value)
    assert origin.count(MOD) == 1


@pytest.mark.asyncio
async def test_b15_5xx_is_retried_with_backoff_then_reported(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(status=500), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(UpstreamError) as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert caught.value.status == 500
    assert caught.value.status_hint == 502
    assert origin.count(MOD) == FAST.retries + 1


@pytest.mark.asyncio
async def test_b15_a_transient_5xx_is_survived_by_a_retry(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(status=503, times=1), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    assert await _get(fetcher, MOD, FileKind.MOD) == b"module example.com/m\n"
    assert origin.count(MOD) == 2


@pytest.mark.asyncio
async def test_b15_429_is_answered_as_503_with_a_bounded_retry_after(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(status=429, headers={"Retry-After": "3600"}), MOD)
    policy = FetchPolicy(retries=0, deadline=3.0, max_retry_after=0.05)
    fetcher = HTTPFetcher(origin.url, session, policy=policy)
    with pytest.raises(UpstreamThrottled) as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert caught.value.status_hint == 503
    assert caught.value.retry_after == 0.05


@pytest.mark.asyncio
async def test_b15_other_4xx_is_a_hard_error_without_retry(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(status=403), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(UpstreamError) as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert caught.value.status == 403
    assert not isinstance(caught.value, ModuleNotFound)
    assert origin.count(MOD) == 1


@pytest.mark.asyncio
async def test_b16_no_response_headers_in_time_is_a_timeout(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(delay=5.0), MOD)
    policy = FetchPolicy(read_timeout=0.2, deadline=0.6, retries=1, backoff=0.01)
    fetcher = HTTPFetcher(origin.url, session, policy=policy)
    with pytest.raises(UpstreamTimeout) as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert caught.value.status_hint == 504


@pytest.mark.asyncio
async def test_b16_a_body_that_stalls_after_the_headers_is_a_timeout(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(stall_at=5), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(UpstreamTimeout, match="stalled after 5 bytes"):
        await _get(fetcher, MOD, FileKind.MOD)


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True])
async def test_b17_a_truncated_body_is_an_error(
    origin: Origin, session: aiohttp.ClientSession, chunked: bool
) -> None:
    origin.serve_file("example.com/m/@v/v1.0.0.zip", b"z" * 200_000)
    origin.inject(Fault(truncate_at=70_000, chunked=chunked), "example.com/m/@v/v1.0.0.zip")
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(UpstreamError, match="cut short") as caught:
        await _get(fetcher, "example.com/m/@v/v1.0.0.zip", FileKind.ZIP)
    assert not isinstance(caught.value, ModuleNotFound)


@pytest.mark.asyncio
async def test_b18_an_oversized_info_is_refused_at_the_cap(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    rel = "example.com/m/@v/v1.0.0.info"
    origin.serve_file(rel, b"{" + b" " * 70_000 + b"}")
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(BodyTooLarge, match="too large"):
        await _get(fetcher, rel, FileKind.INFO)


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True])
async def test_b18_a_gzip_body_is_capped_after_decoding(
    origin: Origin, session: aiohttp.ClientSession, chunked: bool
) -> None:
    bomb = b"\n" * (FileKind.MOD.max_size + 1)
    assert len(gzip.compress(bomb)) < 100_000
    origin.inject(Fault(body=bomb, gzip=True, chunked=chunked), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(BodyTooLarge):
        await _get(fetcher, MOD, FileKind.MOD)


@pytest.mark.asyncio
async def test_b18_a_gzip_body_under_the_cap_is_decoded(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(gzip=True), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    assert await _get(fetcher, MOD, FileKind.MOD) == b"module example.com/m\n"


HUGE_HEADER = Fault(headers={"X-Padding": "x" * 20_000})  # over aiohttp's 8190-byte field cap


@pytest.mark.asyncio
async def test_an_oversized_response_header_is_an_upstream_error_not_retried(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(HUGE_HEADER, MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(UpstreamError, match="malformed answer") as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert not isinstance(caught.value, ModuleNotFound)
    assert caught.value.status_hint == 502
    assert origin.count(MOD) == 1  # the same answer again would not help


@pytest.mark.asyncio
async def test_an_oversized_response_header_falls_through_on_a_bar(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    async with running_origin() as hostile:
        zip_rel = MOD.removesuffix(".mod") + ".zip"
        for server in (hostile, origin):
            server.serve_file(MOD, b"module example.com/m\n")
            server.serve_file(zip_rel, b"PK zip bytes")
        hostile.inject(HUGE_HEADER)
        chain = build_chain(
            parse_goproxy(f"{hostile.url}|{origin.url}"), session=session, policy=FAST
        )
        got = await chain.mod("example.com/m", "v1.0.0")
        assert (got.data, got.upstream) == (b"module example.com/m\n", origin.url)
        async with chain.zip("example.com/m", "v1.0.0") as opened:
            assert opened.upstream == origin.url
        assert (hostile.count(MOD), hostile.count(zip_rel)) == (1, 1)


@pytest.mark.asyncio
async def test_b25_redirects_are_followed_up_to_ten_hops(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    for i in range(10):
        origin.inject(Fault(redirect=f"/hop{i + 1}"), f"hop{i}")
    origin.serve_file("hop10", b"arrived")
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    assert await _get(fetcher, "hop0", FileKind.MOD) == b"arrived"
    origin.inject(Fault(redirect="/hop0"), "hop-1")
    with pytest.raises(UpstreamError, match="stopped after 10 redirects"):
        await _get(fetcher, "hop-1", FileKind.MOD)


@pytest.mark.asyncio
async def test_b25_credentials_are_dropped_on_a_cross_host_redirect(
    origin: Origin, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_origin() as other:
        other.serve_file(MOD, b"from the other host")
        # 127.0.0.1 and localhost are different hosts to an HTTP client.
        port = other.url.rsplit(":", 1)[1]
        origin.inject(Fault(redirect=f"http://localhost:{port}/{MOD}"), MOD)
        fetcher = HTTPFetcher(
            origin.url.replace("http://", "http://alice:s3cret@"), session, policy=FAST
        )
        assert await _get(fetcher, MOD, FileKind.MOD) == b"from the other host"
        assert origin.requests[-1].headers.get("Authorization", "").startswith("Basic ")
        assert "Authorization" not in other.requests[-1].headers
    assert "s3cret" not in caplog.text
    assert "s3cret" not in fetcher.name


@pytest.mark.asyncio
async def test_b25_redirect_to_a_non_http_scheme_is_refused(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.inject(Fault(redirect="file:///etc/passwd"), MOD)
    fetcher = HTTPFetcher(origin.url, session, policy=FAST)
    with pytest.raises(UpstreamError, match="unsupported URL"):
        await _get(fetcher, MOD, FileKind.MOD)


@pytest.mark.asyncio
async def test_connection_refused_is_retried_then_an_upstream_error(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fetcher = HTTPFetcher(f"http://127.0.0.1:{port}", session, policy=FAST)
    with pytest.raises(UpstreamError, match="cannot reach upstream") as caught:
        await _get(fetcher, MOD, FileKind.MOD)
    assert not isinstance(caught.value, ModuleNotFound)


def test_netrc_is_parsed_like_the_go_command() -> None:
    text = (
        "machine incomplete\npassword none\n\n"
        "machine api.github.com\n  login user\n  password pwd\n\n"
        "machine incomlete.host\n  login justlogin\n\n"
        "machine test.host\nlogin user2\npassword pwd2\n\n"
        "machine oneline login user3 password pwd3\n\n"
        "machine ignore.host macdef ignore\n  login nobody\n  password nothing\n\n"
        "machine hasmacro.too macdef ignore-next-lines login user4 password pwd4\n"
        "  login nobody\n  password nothing\n\n"
        "default\n\nmachine afterdefault.host\nlogin oops\npassword too-late\n"
    )
    got = [(e.machine, e.login, e.password) for e in parse_netrc(text)]
    assert got == [
        ("api.github.com", "user", "pwd"),
        ("test.host", "user2", "pwd2"),
        ("oneline", "user3", "pwd3"),
        ("hasmacro.too", "user4", "pwd4"),
    ]
    assert "pwd" not in repr(parse_netrc(text)[0])


@pytest.mark.asyncio
async def test_netrc_credentials_are_not_sent_over_plain_http(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    creds = NetrcCredentials(parse_netrc("machine 127.0.0.1 login bob password pw\n"))
    fetcher = HTTPFetcher(origin.url, session, policy=FAST, netrc=creds)
    await _get(fetcher, MOD, FileKind.MOD)
    assert "Authorization" not in origin.requests[-1].headers


def test_urls_are_masked_for_logs() -> None:
    assert mask_url("https://u:secret@h.test/p") == "https://u:***@h.test/p"


@pytest.mark.asyncio
async def test_file_fetcher_serves_a_cache_download_folder(tmp_path: Path) -> None:
    (tmp_path / "example.com/m/@v").mkdir(parents=True)
    (tmp_path / MOD).write_bytes(b"module example.com/m\n")
    fetcher = FileFetcher.from_url(tmp_path.as_uri())
    assert await _get(fetcher, MOD, FileKind.MOD) == b"module example.com/m\n"
    with pytest.raises(ModuleNotFound):
        await _get(fetcher, "example.com/m/@v/v9.9.9.mod", FileKind.MOD)
    with pytest.raises(ModuleNotFound):
        await _get(fetcher, "example.com/m/@v", FileKind.MOD)
    with pytest.raises(ModuleNotFound):
        await _get(fetcher, "example.com/../../etc/passwd", FileKind.MOD)


@pytest.mark.asyncio
async def test_build_chain_mixes_http_and_file_upstreams(
    origin: Origin, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    (tmp_path / "example.com/other/@v").mkdir(parents=True)
    (tmp_path / "example.com/other/@v/list").write_bytes(b"v1.0.0\n")
    chain = build_chain(
        parse_goproxy(f"{origin.url},{tmp_path.as_uri()}"), session=session, policy=FAST
    )
    got = await chain.list("example.com/other")
    assert (got.data, got.upstream) == (b"v1.0.0\n", tmp_path.as_uri())
    assert origin.count("example.com/other/@v/list") == 1
    with contextlib.suppress(ModuleNotFound):
        await chain.list("example.com/none")


# -- TLS: downgrade refusal and netrc over https ---------------------------------------------


@pytest_asyncio.fixture
async def tls(tmp_path: Path) -> LocalTLS:
    return await asyncio.to_thread(make_local_tls, tmp_path / "tls")


@pytest.mark.asyncio
async def test_b25_a_redirect_from_https_to_http_is_refused(origin: Origin, tls: LocalTLS) -> None:
    async with (
        running_origin(tls=tls.server_context()) as secure,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls.client_context())) as http,
    ):
        secure.inject(Fault(redirect=f"{origin.url}/{MOD}"), MOD)
        fetcher = HTTPFetcher(secure.url, http, policy=FAST)
        with pytest.raises(UpstreamError, match="redirected from secure URL to insecure URL"):
            await _get(fetcher, MOD, FileKind.MOD)
    assert origin.requests == []


@pytest.mark.asyncio
async def test_netrc_credentials_are_sent_over_https_to_their_host_only(
    origin: Origin, tls: LocalTLS
) -> None:
    async with (
        running_origin(tls=tls.server_context()) as secure,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls.client_context())) as http,
    ):
        secure.serve_file(MOD, b"module example.com/m\n")
        port = secure.url.rsplit(":", 1)[1]
        creds = NetrcCredentials(parse_netrc("machine 127.0.0.1 login bob password pw\n"))
        fetcher = HTTPFetcher(secure.url, http, policy=FAST, netrc=creds)
        assert await _get(fetcher, MOD, FileKind.MOD) == b"module example.com/m\n"
        expected = "Basic " + base64.b64encode(b"bob:pw").decode()
        assert secure.requests[-1].headers["Authorization"] == expected
        # Redirected to another host (localhost is not 127.0.0.1): no credentials follow.
        secure.inject(Fault(redirect=f"https://localhost:{port}/other/{MOD}"), "redirect-me")
        secure.serve_file(f"other/{MOD}", b"module example.com/m\n")
        await _get(fetcher, "redirect-me", FileKind.MOD)
        assert "Authorization" not in secure.requests[-1].headers

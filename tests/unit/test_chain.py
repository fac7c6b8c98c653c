"""The upstream chain walks a GOPROXY list exactly like the go command's TryProxies.

Fetchers here are scripted implementations of our own ``Fetcher`` seam (no network): each
answers with bytes or raises the classified error a real fetcher would raise.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from gomodproxy.errors import ModuleNotFound, ProxyError, UpstreamError, UpstreamTimeout
from gomodproxy.module.goproxy import (
    NOPROXY_DISABLED_MESSAGE,
    OFF_MESSAGE,
    parse_goproxy,
    private_settings,
)
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.chain import UpstreamChain
from gomodproxy.upstream.modulefetch import DIRECT_NOT_SUPPORTED, ModuleFetcher, ProxyFetcher

REL = "example.com/m/@v/v1.0.0.mod"


@dataclass
class _Body:
    parts: Sequence[bytes | ProxyError]

    @property
    def content_length(self) -> int | None:
        return None

    @property
    def content_type(self) -> str | None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if isinstance(part, ProxyError):
                raise part
            yield part


@dataclass
class ScriptedFetcher:
    """Answers every request with ``answer``: body parts, or an error raised on open."""

    url: str
    answer: Sequence[bytes | ProxyError] | ProxyError
    calls: list[tuple[str, Mapping[str, str]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.url

    @contextlib.asynccontextmanager
    async def open(
        self, rel_path: str, kind: FileKind, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[_Body]:
        self.calls.append((rel_path, dict(headers or {})))
        if isinstance(self.answer, ProxyError):
            raise self.answer
        yield _Body(self.answer)


def _not_found(n: int = 404) -> ModuleNotFound:
    return ModuleNotFound(f"answered {n}", gone=n == 410)


def _chain(
    goproxy: str,
    answers: Mapping[str, Sequence[bytes | ProxyError] | ProxyError],
    *,
    goprivate: str = "",
) -> tuple[UpstreamChain, dict[str, ScriptedFetcher]]:
    private = private_settings(goprivate=goprivate)
    proxies = parse_goproxy(goproxy, gonoproxy=private.gonoproxy)
    fetchers = {url: ScriptedFetcher(url, answers[url]) for url in proxies.proxy_urls}
    seam: dict[str, ModuleFetcher] = {url: ProxyFetcher(f) for url, f in fetchers.items()}
    return UpstreamChain(proxies, seam, private=private), fetchers


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [404, 410])
async def test_b14_comma_falls_through_on_not_found(status: int) -> None:
    chain, f = _chain(
        "https://a.test,https://b.test",
        {"https://a.test": _not_found(status), "https://b.test": [b"ok"]},
    )
    got = await chain.mod("example.com/m", "v1.0.0")
    assert (got.data, got.upstream) == (b"ok", "https://b.test")
    assert len(f["https://a.test"].calls) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "error",
    [
        UpstreamError("answered 500", status=500),
        UpstreamTimeout("no answer in time"),
        UpstreamError("answered 403", status=403),
    ],
)
async def test_b15_comma_stops_at_any_other_error(error: ProxyError) -> None:
    chain, f = _chain(
        "https://a.test,https://b.test", {"https://a.test": error, "https://b.test": [b"ok"]}
    )
    with pytest.raises(type(error)) as caught:
        await chain.mod("example.com/m", "v1.0.0")
    assert caught.value is error
    assert f["https://b.test"].calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "error",
    [UpstreamError("answered 502", status=502), UpstreamTimeout("t"), _not_found()],
)
async def test_b15_pipe_falls_through_on_any_error(error: ProxyError) -> None:
    chain, _ = _chain(
        "https://a.test|https://b.test", {"https://a.test": error, "https://b.test": [b"ok"]}
    )
    assert (await chain.mod("example.com/m", "v1.0.0")).data == b"ok"


@pytest.mark.asyncio
async def test_pipe_falls_through_when_the_body_fails_for_small_files() -> None:
    cut = UpstreamError("body cut short")
    chain, _ = _chain(
        "https://a.test|https://b.test",
        {"https://a.test": [b"par", cut], "https://b.test": [b"whole"]},
    )
    assert (await chain.mod("example.com/m", "v1.0.0")).data == b"whole"


@pytest.mark.asyncio
async def test_a_proxy_error_outranks_a_later_not_found() -> None:
    err = UpstreamError("answered 503", status=503)
    chain, _ = _chain(
        "https://a.test|https://b.test", {"https://a.test": err, "https://b.test": _not_found()}
    )
    with pytest.raises(UpstreamError) as caught:
        await chain.mod("example.com/m", "v1.0.0")
    assert caught.value is err


@pytest.mark.asyncio
async def test_the_last_not_found_is_reported_when_all_say_not_found() -> None:
    first, last = _not_found(404), _not_found(410)
    chain, _ = _chain(
        "https://a.test,https://b.test", {"https://a.test": first, "https://b.test": last}
    )
    with pytest.raises(ModuleNotFound) as caught:
        await chain.mod("example.com/m", "v1.0.0")
    assert caught.value is last
    assert caught.value.status_hint == 410


@pytest.mark.asyncio
async def test_off_answers_not_found_with_the_go_commands_message() -> None:
    chain, f = _chain("https://a.test,off", {"https://a.test": _not_found()})
    with pytest.raises(ModuleNotFound, match=OFF_MESSAGE):
        await chain.mod("example.com/m", "v1.0.0")
    assert len(f["https://a.test"].calls) == 1


@pytest.mark.asyncio
async def test_off_alone_never_fetches() -> None:
    chain, _ = _chain("off", {})
    with pytest.raises(ModuleNotFound, match=OFF_MESSAGE):
        await chain.mod("example.com/m", "v1.0.0")


@pytest.mark.asyncio
async def test_direct_is_a_clear_not_found_that_outranks_proxy_answers() -> None:
    chain, _ = _chain("https://a.test,direct", {"https://a.test": _not_found()})
    with pytest.raises(ModuleNotFound, match=DIRECT_NOT_SUPPORTED) as caught:
        await chain.mod("example.com/m", "v1.0.0")
    assert caught.value.status_hint == 404


@pytest.mark.asyncio
async def test_inv5_goprivate_paths_never_reach_a_proxy() -> None:
    chain, f = _chain(
        "https://a.test,https://b.test",
        {"https://a.test": [b"leak"], "https://b.test": [b"leak"]},
        goprivate="*.corp.example",
    )
    with pytest.raises(ModuleNotFound, match=DIRECT_NOT_SUPPORTED):
        await chain.list("git.corp.example/x")
    assert f["https://a.test"].calls == []
    assert f["https://b.test"].calls == []


@pytest.mark.asyncio
async def test_public_paths_skip_noproxy_and_use_the_proxies() -> None:
    chain, _ = _chain(
        "https://a.test", {"https://a.test": _not_found()}, goprivate="*.corp.example"
    )
    with pytest.raises(ModuleNotFound, match="answered 404"):
        await chain.mod("example.com/m", "v1.0.0")
    chain, _ = _chain("https://a.test", {"https://a.test": [b"x"]}, goprivate="*.corp.example")
    assert (await chain.mod("example.com/m", "v1.0.0")).data == b"x"


@pytest.mark.asyncio
async def test_a_private_path_with_goproxy_direct_is_not_sent_to_proxies() -> None:
    chain, _ = _chain("direct", {}, goprivate="example.com/private")
    with pytest.raises(ModuleNotFound, match=DIRECT_NOT_SUPPORTED):
        await chain.mod("example.com/private/x", "v1.0.0")


@pytest.mark.asyncio
async def test_noproxy_message_names_the_private_rule() -> None:
    # GONOPROXY matched, but a proxy comes first in the walk after noproxy: it refuses.
    chain, f = _chain("https://a.test", {"https://a.test": [b"x"]}, goprivate="example.com")
    with pytest.raises(ModuleNotFound) as caught:
        await chain.mod("example.com/m", "v1.0.0")
    assert DIRECT_NOT_SUPPORTED in str(caught.value)
    assert f["https://a.test"].calls == []
    assert NOPROXY_DISABLED_MESSAGE == "disabled by GOPRIVATE/GONOPROXY"


@pytest.mark.asyncio
async def test_headers_are_forwarded_to_the_upstream() -> None:
    chain, f = _chain("https://a.test", {"https://a.test": [b"x"]})
    await chain.mod("example.com/m", "v1.0.0", headers={"Via": "1.1 other"})
    assert f["https://a.test"].calls == [(REL, {"Via": "1.1 other"})]


@pytest.mark.asyncio
async def test_open_falls_through_before_the_body_only() -> None:
    chain, _ = _chain(
        "https://a.test|https://b.test",
        {"https://a.test": UpstreamError("500", status=500), "https://b.test": [b"zip", b"bytes"]},
    )
    async with chain.zip("example.com/m", "v1.0.0") as opened:
        assert opened.upstream == "https://b.test"
        assert [c async for c in opened.body.chunks()] == [b"zip", b"bytes"]


@pytest.mark.asyncio
async def test_open_propagates_a_body_failure_without_trying_the_next_entry() -> None:
    cut = UpstreamError("cut")
    chain, f = _chain(
        "https://a.test|https://b.test",
        {"https://a.test": [b"part", cut], "https://b.test": [b"whole"]},
    )
    with pytest.raises(UpstreamError, match="cut"):
        await _drain(chain)
    assert f["https://b.test"].calls == []


async def _drain(chain: UpstreamChain) -> bytes:
    out = b""
    async with chain.zip("example.com/m", "v1.0.0") as opened:
        async for chunk in opened.body.chunks():
            out += chunk
    return out


@pytest.mark.asyncio
async def test_open_reports_the_ranked_error_when_every_entry_fails() -> None:
    chain, _ = _chain(
        "https://a.test,https://b.test",
        {"https://a.test": _not_found(), "https://b.test": _not_found(410)},
    )
    with pytest.raises(ModuleNotFound) as caught:
        await _drain(chain)
    assert caught.value.status_hint == 410


@pytest.mark.asyncio
async def test_observer_sees_each_attempt_with_its_outcome() -> None:
    seen: list[tuple[str, str]] = []

    class Observer:
        def upstream_result(
            self, upstream: str, kind: FileKind, outcome: str, seconds: float
        ) -> None:
            seen.append((upstream, outcome))

    proxies = parse_goproxy("https://a.test|https://b.test,https://c.test")
    fetchers: dict[str, ModuleFetcher] = {
        "https://a.test": ProxyFetcher(ScriptedFetcher("https://a.test", UpstreamTimeout("t"))),
        "https://b.test": ProxyFetcher(ScriptedFetcher("https://b.test", _not_found())),
        "https://c.test": ProxyFetcher(ScriptedFetcher("https://c.test", [b"x"])),
    }
    chain = UpstreamChain(proxies, fetchers, observer=Observer())
    await chain.mod("example.com/m", "v1.0.0")
    assert seen == [
        ("https://a.test", "timeout"),
        ("https://b.test", "not_found"),
        ("https://c.test", "ok"),
    ]


def test_a_chain_without_a_fetcher_for_a_proxy_is_refused() -> None:
    with pytest.raises(ValueError, match="no fetcher"):
        UpstreamChain(parse_goproxy("https://a.test"), {})


@pytest.mark.asyncio
async def test_direct_is_one_more_fetcher_of_the_chain() -> None:
    class Direct(ProxyFetcher):
        @property
        def name(self) -> str:
            return "direct"

    proxies = parse_goproxy("https://a.test,direct")
    scripted = ScriptedFetcher("direct", [b"module example.com/m\n"])
    chain = UpstreamChain(
        proxies,
        {"https://a.test": ProxyFetcher(ScriptedFetcher("https://a.test", _not_found()))},
        direct=Direct(scripted),
    )
    got = await chain.mod("example.com/m", "v1.0.0")
    assert (got.data, got.upstream) == (b"module example.com/m\n", "direct")
    assert scripted.calls == [(REL, {})]

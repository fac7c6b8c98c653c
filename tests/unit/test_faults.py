"""The fault-drill layer (``--faults``): the file's checks and what each action does to an
answer, over a real ``file://`` upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import ConfigError, ModuleNotFound, UpstreamError, UpstreamTimeout
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.faults import FaultPlan, parse_faults
from gomodproxy.upstream.fileclient import FileFetcher
from gomodproxy.upstream.modulefetch import ModuleFetcher, ProxyFetcher

MOD = b"module example.com/alpha\n\ngo 1.21\n"
ZIP = bytes(range(256)) * 40


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "no [[fault]] table"),
        ({"fault": [{"action": "explode"}]}, "fault 1: action must be one of latency, error"),
        ({"fault": [{"action": "error", "colour": "red"}]}, "fault 1: unknown key(s) colour"),
        ({"fault": [{"action": "error", "share": 0}]}, "share must be more than 0"),
        ({"fault": [{"action": "latency"}]}, "a latency needs seconds"),
        ({"fault": [{"action": "error", "status": 200}]}, "status must be an HTTP error"),
        ({"fault": [{"action": "error", "kinds": ["tarball"]}]}, "unknown kind 'tarball'"),
        ({"fault": [{"action": "error", "modules": ["example.com/[a"]}]}, "syntax error"),
        ({"fault": [{"action": "error", "count": 0}]}, "count must be a whole number"),
        ({"seed": "x", "fault": [{"action": "error"}]}, "seed must be a whole number"),
        ({"faults": []}, "unknown key(s) faults"),
    ],
)
def test_a_bad_drill_file_names_the_rule_and_the_fix(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_faults(doc, "drill.toml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("drill.toml")


def _plan(*rules: dict[str, Any], seed: int = 1) -> FaultPlan:
    return parse_faults({"seed": seed, "fault": list(rules)}, "drill.toml")


def test_rules_aim_by_module_version_kind_and_upstream_and_count_stops_them() -> None:
    plan = _plan(
        {
            "action": "error",
            "modules": ["example.com/a*"],
            "versions": ["v1.0.0"],
            "kinds": ["zip", "mod"],
            "upstreams": ["http://127.0.0.1:1/"],
            "count": 2,
        }
    )
    up = "http://127.0.0.1:1"
    assert plan.draw(up, "example.com/beta", "v1.0.0", FileKind.ZIP) is None
    assert plan.draw(up, "example.com/alpha", "v1.1.0", FileKind.ZIP) is None
    assert plan.draw(up, "example.com/alpha", "v1.0.0", FileKind.INFO) is None
    assert plan.draw("http://127.0.0.1:2", "example.com/alpha", "v1.0.0", FileKind.ZIP) is None
    assert plan.draw(up, "example.com/alpha/sub", "v1.0.0", FileKind.MOD) is not None
    assert plan.draw(up, "example.com/alpha", "v1.0.0", FileKind.ZIP) is not None
    assert plan.draw(up, "example.com/alpha", "v1.0.0", FileKind.ZIP) is None  # spent
    assert plan.injected == [2]


def test_a_share_is_drawn_from_the_seed_and_replays() -> None:
    def hits(seed: int) -> list[bool]:
        plan = _plan({"action": "error", "share": 0.3}, seed=seed)
        return [plan.draw("u", "m", "v", FileKind.INFO) is not None for _ in range(200)]

    first = hits(5)
    assert first == hits(5)
    assert 20 < sum(first) < 100
    assert first != hits(6)


@pytest.fixture
def upstream(tmp_path: Path) -> FileFetcher:
    folder = tmp_path / "example.com" / "alpha" / "@v"
    folder.mkdir(parents=True)
    (folder / "v1.0.0.mod").write_bytes(MOD)
    (folder / "v1.0.0.zip").write_bytes(ZIP)
    return FileFetcher.from_url(tmp_path.as_uri())


def _wrapped(upstream: FileFetcher, action: str, **more: Any) -> ModuleFetcher:
    return _plan({"action": action, **more}).wrap(ProxyFetcher(upstream))


async def _zip(fetcher: ModuleFetcher) -> tuple[bytes, int | None]:
    out = bytearray()
    async with fetcher.zip("example.com/alpha", "v1.0.0") as body:
        async for chunk in body.chunks():
            out += chunk
        return bytes(out), body.content_length


@pytest.mark.asyncio
async def test_truncate_ends_cleanly_at_half_and_declares_no_length(
    upstream: FileFetcher,
) -> None:
    data, length = await _zip(_wrapped(upstream, "truncate"))
    assert (data, length) == (ZIP[: len(ZIP) // 2], None)
    mod = await _wrapped(upstream, "truncate").mod("example.com/alpha", "v1.0.0")
    assert mod == MOD[: len(MOD) // 2]


@pytest.mark.asyncio
async def test_tamper_changes_one_byte_and_keeps_the_length(upstream: FileFetcher) -> None:
    data, length = await _zip(_wrapped(upstream, "tamper"))
    assert length == len(data) == len(ZIP)
    assert sum(a != b for a, b in zip(data, ZIP, strict=True)) == 1
    mod = await _wrapped(upstream, "tamper").mod("example.com/alpha", "v1.0.0")
    assert len(mod) == len(MOD)
    assert mod != MOD


@pytest.mark.asyncio
async def test_reset_fails_part_way_error_and_timeout_before_any_byte(
    upstream: FileFetcher,
) -> None:
    with pytest.raises(UpstreamError, match="connection reset after 5120 bytes"):
        await _zip(_wrapped(upstream, "reset"))
    with pytest.raises(UpstreamError, match="answered 503") as exc:
        await _wrapped(upstream, "error").mod("example.com/alpha", "v1.0.0")
    assert exc.value.status == 503
    with pytest.raises(ModuleNotFound, match="answered 410"):
        await _wrapped(upstream, "error", status=410).mod("example.com/alpha", "v1.0.0")
    with pytest.raises(UpstreamTimeout, match="fault drill"):
        await _zip(_wrapped(upstream, "timeout"))
    # Latency: the genuine answer, later.
    assert (
        await _wrapped(upstream, "latency", seconds=0.01).mod("example.com/alpha", "v1.0.0") == MOD
    )

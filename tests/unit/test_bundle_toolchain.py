"""Which ``golang.org/toolchain`` versions ``bundle create --go-mod`` carries for a go.mod."""

from __future__ import annotations

import pytest

from gomodproxy.admin.bundlegraph import parse_platform, toolchain_modules
from gomodproxy.errors import ConfigError
from gomodproxy.module.modfile import parse

_PLATFORMS = [("linux", "amd64"), ("darwin", "arm64")]


def _versions(go_mod: str, local_go: str) -> list[str]:
    f = parse("go.mod", f"module example.com/m\n\n{go_mod}".encode())
    mods = toolchain_modules(f, local_go, _PLATFORMS)
    assert all(m.path == "golang.org/toolchain" and m.zip for m in mods)
    return [m.version for m in mods]


@pytest.mark.parametrize(
    ("go_mod", "local_go", "expected"),
    [
        # The toolchain line, whatever the local go (the offline site may run an older one).
        ("go 1.21\ntoolchain go1.22.3\n", "1.26.8", "go1.22.3"),
        # A go line newer than the local go: from 1.21 a language version means its .0 release.
        ("go 1.99\n", "1.26.8", "go1.99.0"),
        ("go 1.99.2\n", "1.26.8", "go1.99.2"),
        ("go 1.99rc1\n", "1.26.8", "go1.99rc1"),
        ("go 1.20\n", "1.19.3", "go1.20"),
        # A toolchain line below the go line gives way to the go line.
        ("go 1.99.1\ntoolchain go1.22.0\n", "1.26.8", "go1.99.1"),
    ],
)
def test_the_toolchain_module_a_go_mod_needs(go_mod: str, local_go: str, expected: str) -> None:
    assert _versions(go_mod, local_go) == [
        f"v0.0.1-{expected}.linux-amd64",
        f"v0.0.1-{expected}.darwin-arm64",
    ]


@pytest.mark.parametrize(
    ("go_mod", "local_go"),
    [
        ("go 1.21\n", "1.26.8"),  # the local go is new enough
        ("go 1.99\n", ""),  # the local go is unknown
        ("go 1.21\ntoolchain default\n", "1.26.8"),
        ("", "1.26.8"),
    ],
)
def test_no_toolchain_module_when_none_is_needed(go_mod: str, local_go: str) -> None:
    assert _versions(go_mod, local_go) == []


def test_a_platform_is_goos_slash_goarch() -> None:
    assert parse_platform("linux/arm64") == ("linux", "arm64")
    for bad in ("linux", "linux/", "/amd64", "linux/amd64/v2", "linux amd64"):
        with pytest.raises(ConfigError, match="GOOS/GOARCH"):
            parse_platform(bad)

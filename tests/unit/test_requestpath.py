"""Request-path parsing: what the proxy accepts and everything it refuses (fault catalogue A).

The server-level tests (tests/integration/test_proxy_server.py) check that refused requests
cause no upstream request and no storage access; here the parser itself is pinned.
"""

from __future__ import annotations

import pytest

from gomodproxy.errors import InvalidModulePath, InvalidVersion, ProxyError
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import (
    BadRequestPath,
    ModuleRequest,
    SumDBRequest,
    parse_request_path,
)


@pytest.mark.parametrize(
    ("raw", "kind", "path", "version"),
    [
        ("/golang.org/x/text/@v/list", FileKind.LIST, "golang.org/x/text", ""),
        ("/golang.org/x/text/@latest", FileKind.LATEST, "golang.org/x/text", ""),
        ("/golang.org/x/text/@v/v0.14.0.info", FileKind.INFO, "golang.org/x/text", "v0.14.0"),
        ("/golang.org/x/text/@v/v0.14.0.mod", FileKind.MOD, "golang.org/x/text", "v0.14.0"),
        ("/golang.org/x/text/@v/v0.14.0.zip", FileKind.ZIP, "golang.org/x/text", "v0.14.0"),
        # What the go command sends for an upper-case path: '!' percent-encoded, '+' raw.
        (
            "/github.com/%21azure/go-autorest/@v/v14.2.0+incompatible.info",
            FileKind.INFO,
            "github.com/Azure/go-autorest",
            "v14.2.0+incompatible",
        ),
        (
            "/github.com/!burnt!sushi/toml/@v/v1.0.0-!r!c1.mod",
            FileKind.MOD,
            "github.com/BurntSushi/toml",
            "v1.0.0-RC1",
        ),
        ("/example.com/m/v2/@v/v2.0.0.zip", FileKind.ZIP, "example.com/m/v2", "v2.0.0"),
        ("/gopkg.in/yaml.v2/@v/v2.4.0.mod", FileKind.MOD, "gopkg.in/yaml.v2", "v2.4.0"),
        # A query on .info is resolved by the upstreams.
        ("/example.com/m/@v/master.info", FileKind.INFO, "example.com/m", "master"),
        ("/example.com/m/@v/v1.2.info", FileKind.INFO, "example.com/m", "v1.2"),
        ("/example.com/m/@v/list?go-get=1", FileKind.LIST, "example.com/m", ""),
    ],
)
def test_valid_requests_parse(raw: str, kind: FileKind, path: str, version: str) -> None:
    got = parse_request_path(raw)
    assert got == ModuleRequest(kind, path, version)


def test_the_rel_path_is_the_escaped_canonical_spelling() -> None:
    got = parse_request_path("/github.com/%21azure/go-autorest/@v/v14.2.0+incompatible.zip")
    assert isinstance(got, ModuleRequest)
    assert got.rel_path == "github.com/!azure/go-autorest/@v/v14.2.0+incompatible.zip"
    assert got.immutable


def test_a_path_prefix_is_required_and_stripped() -> None:
    got = parse_request_path("/goproxy/example.com/m/@v/list", prefix="/goproxy")
    assert got == ModuleRequest(FileKind.LIST, "example.com/m")
    with pytest.raises(BadRequestPath, match="outside the path prefix"):
        parse_request_path("/example.com/m/@v/list", prefix="/goproxy")
    with pytest.raises(BadRequestPath):
        parse_request_path("/goproxyx/example.com/m/@v/list", prefix="/goproxy")


def _refused(raw: str) -> ProxyError:
    with pytest.raises(ProxyError) as caught:
        parse_request_path(raw)
    err = caught.value
    assert err.status_hint == 404, (raw, err)
    return err


@pytest.mark.parametrize(
    "raw",
    [
        "/../etc/passwd/@v/list",
        "/%2e%2e/x/@v/list",
        "/%2E%2E/%2E%2E/etc/@v/list",
        "/x.y%2Fz/@v/list",
        "/x.y%2fz/@v/list",
        "/x.y\\z/@v/list",
        "/x.y%5Cz/@v/list",
        "//x.y/z/@v/list",
        "/x.y/z/@v/list/",
        "/x.y/./z/@v/list",
        "/x.y/z/../z/@v/list",
        "/x.y/z%00/@v/list",
        "/x.y/z/@v/v1.0.0.zip%00",
        "/x.y/z%0a/@v/list",
        "/x.y/z%7f/@v/list",
        "/x.y/z/@v/v1.0.0%zz.zip",
        "/x.y/z/@v/v1.0.0%2.zip",
        "/x.y/z/@v/%C3%28.info",
    ],
)
def test_a2_path_traversal_and_normalization_tricks_are_404(raw: str) -> None:
    _refused(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/github.com/Azure/x/@v/list",
        "/github.com/!!google/x/@v/list",
        "/github.com/!0google/x/@v/list",
        "/github.com/!_google/x/@v/list",
        "/github.com/google!/x/@v/list",
        "/github.com/!google!cloud!platform!/omega/@v/list",
        "/github.com/%C3%A9/x/@v/list",
    ],
)
def test_a3_badly_escaped_module_paths_are_404(raw: str) -> None:
    err = _refused(raw)
    assert isinstance(err, InvalidModulePath)
    assert "escaped module path" in str(err)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/cache/@v/list", "dot"),
        ("/-x.y/z/@v/list", "leading dash"),
        ("/.x.y/z/@v/list", ""),
        ("/x./z/@v/list", "trailing dot"),
        ("/x.y/z~09/@v/list", ""),
        ("/x.y/aux.foo/@v/list", "Windows"),
        ("/x.y/com1/@v/list", "Windows"),
        ("/x.y/z*/@v/list", "invalid char"),
        ("/x.y/z%22/@v/list", "invalid char"),
        ("/x.y/z%3A/@v/list", "invalid char"),
        ("/x.y/z/v0/@v/list", ""),
        ("/x.y/z/v1/@v/list", ""),
        ("/x.y/z/v2.0/@v/list", ""),
        ("/x.y/" + "a/" * 2100 + "@v/list", ""),
    ],
)
def test_a4_invalid_module_paths_are_404_naming_the_reason(raw: str, reason: str) -> None:
    err = _refused(raw)
    assert reason in str(err)


@pytest.mark.parametrize(
    "raw",
    [
        "/x.y/z/@v/v1.0.mod",
        "/x.y/z/@v/v1.0.0+meta.zip",
        "/x.y/z/@v/1.0.0.mod",
        "/x.y/z/@v/v01.0.0.zip",
        "/x.y/z/@v/v1.0.0-.zip",
        "/x.y/z/@v/latest.zip",
        "/x.y/z/@v/master.mod",
        "/x.y/z/@v/latest.info",
        "/x.y/z/@v/upgrade.info",
        "/x.y/z/@v/patch.info",
    ],
)
def test_a5_non_canonical_versions_on_files_are_404(raw: str) -> None:
    err = _refused(raw)
    assert "version" in str(err)


@pytest.mark.parametrize(
    "raw",
    [
        "/x.y/z/@v/--upload-pack=x.info",
        "/x.y/z/@v/-oProxyCommand.info",
        "/x.y/z/@v/v1.0.0/../../x.zip",
        "/x.y/z/@v/v1.0.0%2Fx.info",
        "/x.y/z/@v/v1.0.0%0Av9.9.9.info",
        "/x.y/z/@v/v1.0.0%00.info",
        "/x.y/z/@v/v1.0.0!.info",
        "/x.y/z/@v/v1.0.0-!!x.info",
    ],
)
def test_a6_versions_built_for_injection_are_404(raw: str) -> None:
    _refused(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/x.y/m/@v/v2.0.0.zip", "should be v0 or v1, not v2"),
        ("/x.y/m/v2/@v/v1.0.0.mod", "should be v2, not v1"),
        ("/x.y/m/v2/@v/v2.0.0+incompatible.mod", "+incompatible"),
        ("/gopkg.in/yaml.v2/@v/v3.0.0.mod", "should be v2"),
    ],
)
def test_a7_major_version_mismatch_is_404(raw: str, reason: str) -> None:
    err = _refused(raw)
    assert isinstance(err, InvalidVersion)
    assert reason in str(err)


@pytest.mark.parametrize(
    "raw",
    [
        "/x.y/z",
        "/x.y/z/",
        "/x.y/z/@v",
        "/x.y/z/@v/",
        "/x.y/z/@v/v1.0.0",
        "/x.y/z/@v/v1.0.0.ziphash",
        "/x.y/z/@v/v1.0.0.lock",
        "/x.y/z/@v/v1.0.0.partial",
        "/x.y/z/@v/v1.0.0.zip.tmp-123",
        "/x.y/z/@v/.v1.0.0.zip.abc.tmp",
        "/x.y/z/@v/v1.0.0.txt",
        "/x.y/z/@v/list.json",
        "/x.y/z/@latest/x",
        "/x.y/z/@v1/list",
        "/x.y/z/@x/list",
        "/@v/list",
        "/",
        "/.gomodproxy/upstream/x.y/z/@v/list",
        "/.gomodproxy/.store/meta/x.y/z/@v/v1.0.0.zip.json",
    ],
)
def test_a8_unknown_shapes_and_internal_artefacts_are_404(raw: str) -> None:
    _refused(raw)


def test_a9_case_aliases_are_different_requests() -> None:
    upper = parse_request_path("/github.com/!sirupsen/logrus/@v/list")
    lower = parse_request_path("/github.com/sirupsen/logrus/@v/list")
    assert isinstance(upper, ModuleRequest)
    assert isinstance(lower, ModuleRequest)
    assert upper.path != lower.path
    assert upper.rel_path != lower.rel_path


def test_a10_over_long_paths_and_query_strings() -> None:
    with pytest.raises(BadRequestPath, match="longer than"):
        parse_request_path("/x.y/" + "a" * 5000 + "/@v/list")
    a = parse_request_path("/x.y/z/@v/list?go-get=1")
    b = parse_request_path("/x.y/z/@v/list")
    assert a == b


@pytest.mark.parametrize(
    ("raw", "rest"),
    [
        ("/sumdb/sum.golang.org/supported", "sum.golang.org/supported"),
        ("/sumdb/sum.golang.org/latest", "sum.golang.org/latest"),
        (
            "/sumdb/sum.golang.org/lookup/github.com/%21azure/x@v1.0.0",
            "sum.golang.org/lookup/github.com/!azure/x@v1.0.0",
        ),
        ("/sumdb/sum.golang.org/tile/8/0/x001/234.p/5", "sum.golang.org/tile/8/0/x001/234.p/5"),
    ],
)
def test_sumdb_paths_are_passed_to_the_relay(raw: str, rest: str) -> None:
    assert parse_request_path(raw) == SumDBRequest(rest)


@pytest.mark.parametrize(
    "raw",
    [
        "/sumdb/sum.golang.org/../../x",
        "/sumdb/sum.golang.org/%2e%2e/x",
        "/sumdb/sum.golang.org//latest",
        "/sumdb/",
        "/sumdb/x",
    ],
)
def test_a13_sumdb_traversal_is_404(raw: str) -> None:
    _refused(raw)

"""The static front's expressions (gomodproxy.admin.nginxfront): the file regex accepts exactly
the escaped canonical versions the proxy stores, a glob's regex matches at least every module
path the glob matches, and the rendered file keeps its guards."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gomodproxy.admin.nginxfront import (
    FILE_URI_REGEX,
    FrontSpec,
    front_passes,
    glob_regex,
    literal_regex,
    render_nginx_front,
)
from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.module.patterns import match_prefix_patterns
from gomodproxy.module.policy import Rule
from gomodproxy.protocol.versions import is_canonical

VERSIONS = [
    "v0.0.0",
    "v1.2.3",
    "v10.20.30",
    "v2.0.0+incompatible",
    "v1.0.0-rc.1",
    "v1.0.0-RC.1",
    "v1.0.0-0.3.7",
    "v1.0.0-x.7.z.92",
    "v1.0.0-alpha-1",
    "v0.0.0-20230124172434-306776ec8161",
    "v1.3.0-proton",
    "v1.0.0-0abc",
    # not canonical
    "v1.0",
    "v1",
    "1.0.0",
    "v01.0.0",
    "v1.00.0",
    "v1.0.0-",
    "v1.0.0-01",
    "v1.0.0-a..b",
    "v1.0.0+meta",
    "v1.0.0-rc+build",
    "latest",
    "master",
    "v1.0.0-a_b",
]

PATHS = [
    "github.com/pkg/errors",
    "github.com/Azure/go-autorest",
    "github.com/Masterminds/semver/v3",
    "gopkg.in/yaml.v2",
    "example.com/a~b/c_d",
]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_file_regex_accepts_exactly_the_canonical_versions(version: str) -> None:
    regex = re.compile(FILE_URI_REGEX)
    for path in PATHS:
        for ext in ("info", "mod", "zip"):
            uri = f"/{escape_path(path)}/@v/{escape_version(version)}.{ext}"
            assert bool(regex.fullmatch(uri)) == is_canonical(version), uri
            # The go command sends "!" as %21.
            assert bool(regex.fullmatch(uri.replace("!", "%21"))) == is_canonical(version)


@pytest.mark.parametrize(
    "uri",
    [
        "/example.com/m/@v/v1.0.0.ziphash",
        "/example.com/m/@v/list",
        "/example.com/m/@latest",
        "/example.com/m/./@v/v1.0.0.info",
        "/example.com/m/../m/@v/v1.0.0.info",
        "/example.com//m/@v/v1.0.0.info",
        "//example.com/m/@v/v1.0.0.info",
        "/.gomodproxy/.store/quarantine/example.com/m/@v/v1.0.0.info",
        "/example.com/.hidden/@v/v1.0.0.info",
        "/example.com/M/@v/v1.0.0.info",
        "/example.com/!!m/@v/v1.0.0.info",
        "/example.com/m!/@v/v1.0.0.info",
        "/%65xample.com/m/@v/v1.0.0.info",
        "/example.com/m%2F/@v/v1.0.0.info",
        "/example.com/m/@v/v1.0.0.info?x=1",
        "/example.com/m/@v/v1.0.0.info/",
        "/sumdb/sum.golang.org/lookup/example.com/m@v1.0.0",
        "/example.com/m/@v/v1.0.0%0A.info",
    ],
)
def test_the_file_regex_refuses_everything_else(uri: str) -> None:
    """Fault catalogue A2, A3, A8: what nginx must never look up itself."""
    assert re.fullmatch(FILE_URI_REGEX, uri) is None


GLOBS = [
    "example.com/private",
    "*.corp.example",
    "github.com/Azure",
    "github.com/*/secret",
    "gopkg.in/[ab]*",
    "example.com/x?z",
    "example.com/private/",
    "bad[glob",
]
MODULES = [
    "example.com/private",
    "example.com/private/lib",
    "example.com/privateer",
    "git.corp.example/team/x",
    "corp.example/x",
    "github.com/Azure/go-autorest",
    "github.com/azure/x",
    "github.com/org/secret/v2",
    "gopkg.in/alpha.v1",
    "example.com/xyz",
    "example.com/xYz/m",
]


@pytest.mark.parametrize("glob", GLOBS)
def test_a_glob_regex_matches_every_path_the_glob_matches(glob: str) -> None:
    regex = glob_regex(glob)
    assert regex is not None
    for module in MODULES:
        uri = f"/{escape_path(module)}/@v/v1.0.0.info"
        if match_prefix_patterns(glob, module):
            assert re.match(regex, uri), (glob, module)
            assert re.match(regex, uri.replace("!", "%21")), (glob, module)


def test_literal_globs_stay_exact() -> None:
    """Over-matching is safe but the literal parts still narrow: other modules stay static."""
    assert glob_regex("example.com/private") == r"/example\.com/private/"
    assert not re.match(glob_regex("example.com/private") or "", "/example.com/privateer/@v/")
    assert glob_regex("github.com/Azure") == r"/github\.com/(?:!|%21)azure/"
    assert glob_regex(" ") is None
    assert glob_regex("/") is None


def test_passes_cover_auth_private_rules_and_deny_entries() -> None:
    passes = front_passes(
        client_auth=("example.com/a,/metrics",),
        private=(("GOPRIVATE", "corp.example"), ("GONOSUMDB", "corp.example")),
        vcs_prefixes=("git.corp.example/",),
        rules=(
            Rule("example.com/old", action="deny", line=3),
            Rule("example.com/open"),
            Rule("example.com/lim", allow_versions=()),
        ),
        denied=(("example.com/Gone", "v1.0.0"), ("example.com/all", "")),
    )
    regexes = [p.regex for p in passes]
    assert regexes == [
        r"/example\.com/a/",
        r"/corp\.example/",
        r"/git\.corp\.example/",
        r"/example\.com/old/",
        r"/example\.com/lim/",
        r"/example\.com/(?:!|%21)gone/@v/v1\.0\.0\.",
        r"/example\.com/all/@v/",
    ]
    assert literal_regex("a.b/v1.0.0+incompatible.") == r"a\.b/v1\.0\.0\+incompatible\."


def _spec(**kw: object) -> FrontSpec:
    base: dict[str, object] = {
        "cache_dir": Path("/srv/gomodproxy"),
        "backend": "127.0.0.1:8081",
        "listen": "80",
    }
    base.update(kw)
    return FrontSpec(**base)  # type: ignore[arg-type]


def test_the_file_keeps_its_guards() -> None:
    text = render_nginx_front(_spec(path_prefix="/goproxy"))
    assert "    merge_slashes off;\n" in text
    assert "disable_symlinks on from=$document_root;" in text
    assert "    open_file_cache_valid 2s;\n" in text
    assert "    open_file_cache_errors off;\n" in text
    assert 'map "$request_method:$request_uri" $gomodproxy_front_static' in text
    assert '"~^(?:GET|HEAD):/goproxy/' in text
    assert '"~^/goproxy(/.+)$" "$1";' in text
    assert "application/json info;" in text
    assert "text/plain mod;" in text
    assert "charset_types text/plain;" in text
    assert "application/zip zip;" in text
    assert 'add_header Cache-Control "public, max-age=31536000, immutable";' in text
    assert "try_files $gomodproxy_front_file @gomodproxy;" in text


def test_open_file_cache_can_be_left_out() -> None:
    text = render_nginx_front(_spec(open_file_seconds=0))
    assert "\n    open_file_cache" not in text
    assert "# No open_file_cache" in text


def test_a_folder_nginx_would_misread_is_refused() -> None:
    for bad in ("/srv/my cache", "/srv/a;b", '/srv/"x"', "/srv/$x"):
        with pytest.raises(ValueError, match="nginx would read as syntax"):
            render_nginx_front(_spec(cache_dir=Path(bad)))

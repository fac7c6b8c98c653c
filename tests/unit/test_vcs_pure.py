"""The pure parts of the git fetcher: tags to versions, Origin sums, retractions, rewrite
rules and repository roots, go-import meta tags (fault catalogue 62, 67), argument checks."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gomodproxy.config import build_settings
from gomodproxy.errors import ConfigError, ModuleNotFound
from gomodproxy.vcs.gitcmd import UnsafeArgument, check_arg, mask_secrets
from gomodproxy.vcs.metatags import (
    MAX_META_BYTES,
    MetaImport,
    check_vcs_policy,
    match_go_import,
    parse_meta_go_imports,
)
from gomodproxy.vcs.resolve import (
    has_path_prefix,
    known_host_repo,
    match_instead_of,
    parse_rewrite,
    parse_rewrites,
    resolve_repo,
)
from gomodproxy.vcs.tags import (
    highest_for_retractions,
    is_origin_tag,
    path_major_prefix,
    repo_sum,
    retraction_checker,
    tag_sum,
    tag_to_version,
    tags_with_prefix,
    version_candidates,
)

H = "a" * 40
REFS = {
    "HEAD": H,
    "refs/heads/main": H,
    "refs/tags/v1.0.0": H,
    "refs/tags/v1.1.0": H,
    "refs/tags/v1.2": H,
    "refs/tags/v1.2.3+build": H,
    "refs/tags/v2.0.0": H,
    "refs/tags/v3.0.0": H,
    "refs/tags/v0.0.0-20200101000000-abcdefabcdef": H,
    "refs/tags/sub/v0.1.0": H,
    "refs/tags/sub/v2.0.0": H,
    "refs/tags/sub/x": H,
    "refs/tags/--upload-pack=x": H,
}


def test_f63_root_module_versions_and_incompatible_candidates() -> None:
    c = version_candidates(REFS, "", "")
    assert c.compatible == ["v1.0.0", "v1.1.0"]  # v1.2 and +build are not canonical
    assert c.incompatible == ["v2.0.0", "v3.0.0"]


def test_f63_subdirectory_and_major_suffix() -> None:
    assert version_candidates(REFS, "sub", "").compatible == ["v0.1.0"]
    assert version_candidates(REFS, "sub", "").incompatible == []  # never below the root
    assert version_candidates(REFS, "sub", "/v2").compatible == ["v2.0.0"]
    assert version_candidates(REFS, "", "/v2").compatible == ["v2.0.0"]


def test_tag_to_version() -> None:
    assert tag_to_version("sub/v1.2.3", "sub/") == ("v1.2.3", True)
    assert tag_to_version("v1.2.3+meta", "") == ("v1.2.3", False)
    assert tag_to_version("v1.2", "") == ("", False)
    assert tag_to_version("v0.0.0-20200101000000-abcdefabcdef", "") == ("", False)
    assert tag_to_version("other/v1.0.0", "sub/") == ("", False)


def test_tags_sorted_and_origin_sums() -> None:
    names = [t for t, _ in tags_with_prefix(REFS, "v1")]
    assert names == sorted(names)
    assert is_origin_tag("v1.2.3+meta")
    assert not is_origin_tag("v1.2")
    h = hashlib.sha256()
    for t in ("v1.0.0", "v1.1.0", "v1.2.3+build"):
        h.update(f'"{t}" {H}\n'.encode())
    assert tag_sum(REFS, "v1.") == "t1:" + base64.b64encode(h.digest()).decode()
    assert repo_sum(REFS).startswith("r1:")


def test_retractions() -> None:
    assert highest_for_retractions(["v1.0.0", "v1.1.0-pre", "v2.0.0+incompatible"]) == "v1.0.0"
    assert highest_for_retractions(["v1.1.0-pre"]) == "v1.1.0-pre"
    retracted = retraction_checker(b"module m\n\nretract (\n\tv1.4.0\n\t[v1.0.0, v1.0.5]\n)\n")
    assert retracted("v1.4.0")
    assert retracted("v1.0.3")
    assert not retracted("v1.1.0")
    assert not retraction_checker(b"module m\nretract ((\n")("v1.0.0")
    assert path_major_prefix("/v2") == "v2"
    assert path_major_prefix(".v1-unstable") == "v1"


def test_rewrite_rules_and_repository_roots() -> None:
    rules = parse_rewrites(
        ["git.corp.example/=https://git.corp.example/", "git.corp.example/a/b/=ssh://git@h/x/"]
    )
    assert rules[0].prefix == "git.corp.example/a/b/"  # longest prefix first
    root = resolve_repo("git.corp.example/a/b/repo/sub/v2", rules)
    assert root.root == "git.corp.example/a/b/repo"
    assert root.urls == ("ssh://git@h/x/repo.git", "ssh://git@h/x/repo")
    assert root.explicit
    assert resolve_repo("git.corp.example/tools", rules).urls[0].endswith("/tools.git")
    assert resolve_repo("git.corp.example/r.git/sub", rules).urls == (
        "https://git.corp.example/r.git",
    )
    with pytest.raises(ModuleNotFound, match="vcs-rewrite"):
        resolve_repo("unknown.example/x", rules)
    assert has_path_prefix("a/b/c", "a/b")
    assert not has_path_prefix("a/bc", "a/b")


@pytest.mark.parametrize(
    "bad",
    [
        "nohost",
        "x.example/=ext::sh -c touch x",
        "x.example/=fd::3",
        "x.example/=/srv/git/",
        "x.example=https://h/",
        "x.example/=ssh://-oProxyCommand=x/",
        "x.example/=https://h/?q",
        "-x.example/=https://h/",
    ],
)
def test_f60_bad_rewrite_rules_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_rewrite(bad)


def test_vcs_rewrite_setting_is_a_list_everywhere() -> None:
    base = {"upstream": "off", "sumdb": "off", "cache-dir": "/tmp/x"}
    flags = build_settings(
        {**base, "vcs-rewrite": ["a.example/=https://a/", "b.example/=https://b/"]},
        {},
        go_env=lambda names: {},
    )
    assert flags.vcs_rewrite == ("a.example/=https://a/", "b.example/=https://b/")
    env = build_settings(
        base,
        {"GOMODPROXY_VCS_REWRITE": "a.example/=https://a/ b.example/=https://b/"},
        go_env=lambda names: {},
    )
    assert env.vcs_rewrite == flags.vcs_rewrite
    toml = build_settings(
        base, {}, file_values={"vcs-rewrite": ["a.example/=https://a/"]}, go_env=lambda n: {}
    )
    assert toml.vcs_rewrite == ("a.example/=https://a/",)
    with pytest.raises(ConfigError, match="vcs-rewrite"):
        build_settings(base, {}, file_values={"vcs-rewrite": [1]}, go_env=lambda n: {})


def test_f59_arguments_that_look_like_options_are_refused() -> None:
    for bad in ("-c", "--upload-pack=x", "", "a\nb", "x\x00"):
        with pytest.raises(UnsafeArgument):
            check_arg(bad, "revision")
    assert check_arg("refs/tags/--x", "ref") == "refs/tags/--x"


def test_f66_secrets_masked() -> None:
    assert (
        mask_secrets("fatal: https://u:tok@h/x not found") == "fatal: https://u:***@h/x not found"
    )
    assert mask_secrets("https://tok@h/x") == "https://***@h/x"
    assert mask_secrets("https://h/x@y") == "https://h/x@y"


_PAGE = b"""<!doctype html><html><head>
<meta name="go-import" content="corp.example/a git https://git.corp.example/a">
<meta name="go-import" content="corp.example/a mod https://proxy.corp.example">
<meta name="go-import" content="corp.example/b git https://git.corp.example/b sub/dir">
<meta name="go-import" content="corp.example/c git https://one">
<meta name="go-import" content="corp.example/c git https://two">
</head><body><meta name="go-import" content="corp.example/late git https://late"></body>"""


def test_f67_meta_tags_parsed_and_matched() -> None:
    found = parse_meta_go_imports(_PAGE)
    assert found[0] == MetaImport("corp.example/a", "mod", "https://proxy.corp.example")
    assert MetaImport("corp.example/a", "git", "https://git.corp.example/a") not in found
    assert not [m for m in found if m.prefix == "corp.example/late"]  # body ignored
    assert match_go_import(found, "corp.example/a/pkg").vcs == "mod"
    assert match_go_import(found, "corp.example/b").subdir == "sub/dir"
    with pytest.raises(ModuleNotFound, match="multiple meta tags"):
        match_go_import(found, "corp.example/c")
    with pytest.raises(ModuleNotFound, match="no go-import meta tag"):
        match_go_import(found, "corp.example/bb")  # a prefix, but not by path element
    big = b"<html><head>" + b" " * MAX_META_BYTES + _PAGE
    assert parse_meta_go_imports(big) == []  # nothing read past 1 MiB


def test_f62_only_git_is_run() -> None:
    check_vcs_policy("git", "corp.example/a")
    for vcs in ("svn", "hg", "bzr", "fossil"):
        with pytest.raises(ModuleNotFound, match=f"VCS policy disallows {vcs}"):
            check_vcs_policy(vcs, "corp.example/a")


@pytest.mark.parametrize(
    ("path", "root", "url"),
    [
        ("github.com/o/r", "github.com/o/r", "https://github.com/o/r"),
        ("github.com/o/r/sub/v2", "github.com/o/r", "https://github.com/o/r"),
        ("bitbucket.org/o/r/x", "bitbucket.org/o/r", "https://bitbucket.org/o/r"),
        (
            "hub.jazz.net/git/user1/r/x",
            "hub.jazz.net/git/user1/r",
            "https://hub.jazz.net/git/user1/r",
        ),
        (
            "git.apache.org/thrift.git/lib/go",
            "git.apache.org/thrift.git",
            "https://git.apache.org/thrift.git",
        ),
        ("git.openstack.org/o/r/x", "git.openstack.org/o/r", "https://git.openstack.org/o/r"),
    ],
)
def test_known_hosts_are_the_go_commands_vcs_paths(path: str, root: str, url: str) -> None:
    found = known_host_repo(path)
    assert found is not None
    assert (found.root, found.urls, found.explicit) == (root, (url,), False)
    # Only when asked for (the download client); the server follows its rules alone.
    assert resolve_repo(path, (), known_hosts=True) == found


def test_known_hosts_refuse_what_the_go_command_refuses() -> None:
    assert known_host_repo("example.com/o/r") is None
    assert known_host_repo("github.community/o/r") is None
    with pytest.raises(ModuleNotFound, match=r"invalid github\.com import path"):
        known_host_repo("github.com/only-owner")
    with pytest.raises(ModuleNotFound, match="invalid version control suffix"):
        known_host_repo("github.com/o/r.git")
    with pytest.raises(ModuleNotFound, match="no repository known"):
        resolve_repo("github.com/o/r", ())


def test_instead_of_takes_the_longest_match_as_git_does() -> None:
    rewrites = [
        ("http://127.0.0.1:1/", "https://github.com/"),
        ("ssh://git@corp/", "https://github.com/corp/"),
        ("file:///srv/", ""),
    ]
    assert match_instead_of("https://github.com/corp/r", rewrites) == rewrites[1]
    assert match_instead_of("https://github.com/o/r", rewrites) == rewrites[0]
    assert match_instead_of("https://gitlab.com/o/r", rewrites) is None

"""The pure parts of the download client: the Go environment, the module graph's pruning and
MVS, version queries, and ``-json`` formatting (each against the go command's documented rules;
the whole client is held to the real go command in tests/integration/test_client_*.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Collection
from pathlib import Path

import pytest

from gomodproxy.client.goenv import parse_env_file, resolve
from gomodproxy.client.graph import (
    PRUNED,
    UNPRUNED,
    WORKSPACE,
    ModSummary,
    go_version_at_least,
    load_graph,
)
from gomodproxy.client.jsonout import ModuleResult, format_json
from gomodproxy.client.origins import merge_origin
from gomodproxy.client.query import QuerySource, resolve_query
from gomodproxy.errors import ConfigError, ModuleNotFound
from gomodproxy.module.modfile import ModuleVersion as MV
from gomodproxy.module.modfile import VersionInterval
from gomodproxy.upstream.proxyclient import go_error_detail, go_http_error

# --- environment ---------------------------------------------------------------------------


def test_env_file_lines_are_read_like_the_go_command() -> None:
    data = b"# comment\nGOPROXY=http://a.example, direct \nbad line\nlower=x\nGOPROXY=second\n"
    assert parse_env_file(data) == {"GOPROXY": "http://a.example, direct"}


def test_environment_wins_then_env_file_then_goroot_go_env() -> None:
    env = resolve(
        {"HOME": "/u", "GOPRIVATE": "corp.example"},
        {"GOPROXY": "http://file.example", "GOSUMDB": "off", "GOFLAGS": "-modcacherw -x"},
        {"GOPROXY": "http://goroot.example", "GOSUMDB": "sum.golang.org"},
        env_file_name="envfile",
    )
    assert env.goproxy == "http://file.example"
    assert env.sources["GOPROXY"] == "envfile"
    assert env.gosumdb == "off"
    assert env.gonoproxy == env.gonosumdb == "corp.example"
    assert env.gopath == Path("/u/go")
    assert env.gomodcache == Path("/u/go/pkg/mod")
    assert env.modcache_rw


def test_empty_environment_values_fall_through_to_the_file() -> None:
    env = resolve({"HOME": "/h", "GOPROXY": ""}, {"GOPROXY": "off"}, {})
    assert env.goproxy == "off"


def test_missing_goproxy_and_relative_gopath_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="GOPROXY is not set"):
        resolve({"HOME": "/h"}, {}, {})
    with pytest.raises(ConfigError, match="GOPATH entry is relative"):
        resolve({"HOME": "/h", "GOPATH": "rel", "GOPROXY": "off"}, {}, {})


# --- the graph -------------------------------------------------------------------------------


def _loader(table: dict[MV, tuple[str, list[MV]]], loaded: list[MV]) -> object:
    async def load(m: MV) -> ModSummary:
        loaded.append(m)
        go, reqs = table[m]
        return ModSummary(go, tuple(reqs))

    return load


_GRAPH = {
    MV("a", "v1.0.0"): ("1.21", [MV("c", "v1.0.0")]),
    MV("b", "v1.0.0"): ("1.16", [MV("d", "v1.0.0")]),  # unpruned: followed transitively
    MV("c", "v1.0.0"): ("1.21", [MV("e", "v1.0.0")]),
    MV("d", "v1.0.0"): ("1.21", [MV("c", "v1.2.0")]),
    MV("c", "v1.2.0"): ("1.21", [MV("f", "v1.0.0")]),
    MV("e", "v1.0.0"): ("1.21", []),
    MV("f", "v1.0.0"): ("1.21", []),
}


def test_pruned_graph_reads_only_roots_and_below_unpruned_roots() -> None:
    loaded: list[MV] = []
    roots = [MV("a", "v1.0.0"), MV("b", "v1.0.0")]
    graph = asyncio.run(
        load_graph({"main"}, roots, pruning=PRUNED, load=_loader(_GRAPH, loaded))  # type: ignore[arg-type]
    )
    # a is pruned: c is required (selected) but its go.mod is not read; b is unpruned: d and
    # everything below d is read.
    assert set(loaded) == {
        MV("a", "v1.0.0"),
        MV("b", "v1.0.0"),
        MV("d", "v1.0.0"),
        MV("c", "v1.2.0"),
        MV("f", "v1.0.0"),
    }
    assert graph.selected_version("c") == "v1.2.0"
    assert graph.selected_version("e") == "none"
    assert [m.path for m in graph.build_list()] == ["a", "b", "c", "d", "f"]


def test_unpruned_graph_reads_everything() -> None:
    loaded: list[MV] = []
    roots = [MV("a", "v1.0.0"), MV("b", "v1.0.0")]
    graph = asyncio.run(
        load_graph({"main"}, roots, pruning=UNPRUNED, load=_loader(_GRAPH, loaded))  # type: ignore[arg-type]
    )
    assert set(loaded) == set(_GRAPH)
    assert graph.selected_version("e") == "v1.0.0"
    assert graph.selected_version("c") == "v1.2.0"


def test_workspace_graph_starts_at_the_main_modules() -> None:
    table = dict(_GRAPH)
    table[MV("w1", "")] = ("1.21", [MV("a", "v1.0.0")])
    table[MV("w2", "")] = ("1.21", [MV("c", "v1.2.0"), MV("w1", "v9.0.0")])
    loaded: list[MV] = []
    graph = asyncio.run(
        load_graph(
            {"w1", "w2"},
            [MV("w1", ""), MV("w2", "")],
            pruning=WORKSPACE,
            load=_loader(table, loaded),  # type: ignore[arg-type]
        )
    )
    assert graph.selected_version("c") == "v1.2.0"
    # The main modules' own requirements are read (c v1.2.0 too, so its f enters the graph),
    # the requirements of those, pruned at go 1.17 and later, are not (e stays out).
    assert graph.selected_version("f") == "v1.0.0"
    assert graph.selected_version("e") == "none"
    assert "w1" not in {m.path for m in graph.build_list()}


def test_a_failed_go_mod_is_recorded_not_raised() -> None:
    async def load(m: MV) -> ModSummary:
        if m.path == "b":
            raise ModuleNotFound("b@v1.0.0: not found")
        return ModSummary("1.21", ())

    graph = asyncio.run(
        load_graph({"main"}, [MV("a", "v1"), MV("b", "v1.0.0")], pruning=PRUNED, load=load)
    )
    failure = graph.first_error()
    assert failure is not None
    assert failure[0] == MV("b", "v1.0.0")


def test_go_versions_compare_like_gover() -> None:
    assert go_version_at_least("1.17", "1.17")
    assert go_version_at_least("1.21.3", "1.17")
    assert go_version_at_least("1.22rc1", "1.17")
    assert not go_version_at_least("1.16.15", "1.17")
    assert not go_version_at_least("", "1.17")


# --- queries ---------------------------------------------------------------------------------


def _source(
    listed: str,
    retracted: Collection[VersionInterval] = (),
    excluded: set[str] | None = None,
    prefixes: list[str] | None = None,
) -> QuerySource:
    async def list_versions(path: str, prefix: str) -> bytes:
        if prefixes is not None:
            prefixes.append(prefix)
        return listed.encode()

    async def latest_info(path: str) -> bytes:
        return json.dumps({"Version": "v0.0.0-20240101000000-abcdefabcdef"}).encode()

    async def query_info(path: str, query: str) -> bytes:
        return json.dumps({"Version": "v1.3.0", "Time": "2024-01-01T00:00:00Z"}).encode()

    async def retractions(path: str, newest: str) -> Collection[VersionInterval]:
        return retracted

    return QuerySource(
        list_versions,
        latest_info,
        query_info,
        retractions,
        lambda p, v: v in (excluded or set()),
    )


def _q(query: str, current: str = "", **kw: object) -> str:
    listed = "v1.0.0\nv1.1.0\nv1.2.0\nv1.2.1\nv1.3.0-rc.1\nv2.0.0-pre\n"
    return asyncio.run(resolve_query("example.com/m", query, current, _source(listed, **kw)))  # type: ignore[arg-type]


def test_queries_pick_what_the_go_command_picks() -> None:
    assert _q("v1.1.0") == "v1.1.0"
    assert _q("latest") == "v1.2.1"
    assert _q("latest", retracted=[VersionInterval("v1.2.0", "v1.2.1")]) == "v1.1.0"
    assert _q("latest", excluded={"v1.2.1"}) == "v1.2.0"
    assert _q("v1.1") == "v1.1.0"
    assert _q("v1") == "v1.2.1"
    assert _q("<v1.2.0") == "v1.1.0"
    assert _q(">v1.0.0") == "v1.1.0"
    assert _q("upgrade", current="v1.3.0-rc.1") == "v1.3.0-rc.1"
    assert _q("upgrade", current="v1.0.0") == "v1.2.1"
    assert _q("patch", current="v1.2.0") == "v1.2.1"
    assert _q("master") == "v1.3.0"


def test_queries_ask_the_list_with_the_go_commands_tag_prefix() -> None:
    """qm.prefix: the tag prefix of the list's Origin (TagPrefix) for each query kind."""
    expected = {
        ("latest", ""): "",
        ("upgrade", "v1.0.0"): "",
        ("patch", "v1.2.0"): "v1.2.",
        ("v1.1", ""): "v1.1.",
        ("v1", ""): "v1.",
        ("<v1.2.0", ""): "",
        (">=v1.1.0", ""): "",
    }
    for (query, current), prefix in expected.items():
        asked: list[str] = []
        asyncio.run(
            resolve_query(
                "example.com/m", query, current, _source("v1.1.0\nv1.2.1\n", prefixes=asked)
            )
        )
        assert asked == [prefix], query
    asked = []
    asyncio.run(resolve_query("example.com/m", "v1.1.0", "", _source("", prefixes=asked)))
    assert asked == []  # a revision query reads no list


def test_merge_origin_is_the_go_commands() -> None:
    """mergeOrigin: the union of one repository's Origins; None when they disagree."""
    tags = {"VCS": "git", "URL": "https://h/r", "TagPrefix": "v1.", "TagSum": "t1:a"}
    tag = {"VCS": "git", "URL": "https://h/r", "Hash": "ab", "Ref": "refs/tags/v1.0.0"}
    assert merge_origin(tags, tag) == {**tags, "Hash": "ab", "Ref": "refs/tags/v1.0.0"}
    assert merge_origin(tags, None) is None
    assert merge_origin(None, tag) is None
    assert merge_origin(tags, {**tag, "Subdir": "sub"}) is None
    assert merge_origin(tags, {**tag, "URL": "https://h/other"}) is None
    assert merge_origin(tags, {**tag, "TagSum": "t1:b"}) is None
    assert merge_origin(tags, {**tag, "TagPrefix": "", "TagSum": "t1:a"}) is None
    pseudo = {**tag, "Ref": "HEAD", "TagPrefix": "v1.", "TagSum": "t1:a", "RepoSum": "r1:x"}
    assert merge_origin(tags, pseudo) == {**pseudo}
    assert merge_origin({**tags, "Hash": "cd"}, tag) is None


def test_incompatible_versions_yield_to_a_compatible_one_with_a_go_mod() -> None:
    """filterVersions: +incompatible versions are skipped when the last compatible version
    below them has a go.mod of its own, unless the query names their major."""
    listed = "v1.0.0\nv2.0.0+incompatible\nv2.1.0+incompatible\n"
    asked: list[str] = []

    def query(q: str, with_go_mod: bool) -> str:
        async def has_go_mod(path: str, version: str) -> bool:
            asked.append(version)
            return with_go_mod

        src = dataclasses.replace(_source(listed), has_go_mod=has_go_mod)
        return asyncio.run(resolve_query("example.com/m", q, "", src))

    assert query("latest", True) == "v1.0.0"
    assert asked[-1] == "v1.0.0"
    assert query("latest", False) == "v2.1.0+incompatible"
    assert query("v2", True) == "v2.1.0+incompatible"
    assert query("<v3.0.0", True) == "v2.1.0+incompatible"
    assert query("<v1.5.0", True) == "v1.0.0"


def test_latest_without_tagged_versions_asks_the_proxy() -> None:
    got = asyncio.run(resolve_query("example.com/m", "latest", "", _source("")))
    assert got == "v0.0.0-20240101000000-abcdefabcdef"


# --- -json ------------------------------------------------------------------------------------


def test_json_objects_are_printed_as_go_marshals_them() -> None:
    res = ModuleResult("example.com/m", "v1.0.0", query="latest", error="a <b> & c")
    assert format_json(res) == (
        "{\n"
        '\t"Path": "example.com/m",\n'
        '\t"Version": "v1.0.0",\n'
        '\t"Query": "latest",\n'
        '\t"Error": "a \\u003cb\\u003e \\u0026 c"\n'
        "}\n"
    )
    assert format_json(ModuleResult("p", "v1", sum="h1:x", dir="/d", reuse=True)) == (
        '{\n\t"Path": "p",\n\t"Version": "v1",\n\t"Dir": "/d",\n\t"Sum": "h1:x",\n'
        '\t"Reuse": true\n}\n'
    )


def test_upstream_errors_in_the_go_commands_words() -> None:
    """web.HTTPError and formatErrorDetail: one line of response on the same line, several
    indented below, a blank line ends it, at most 8 lines, terminal control characters
    drop the detail."""
    url = "http://127.0.0.1:1/x/@v/v1.0.0.info"
    assert go_http_error(url, 404, "Not Found", "") == f"reading {url}: 404 Not Found"
    assert go_http_error(url, 404, "Not Found", "not found: x\n") == (
        f"reading {url}: 404 Not Found\n\tserver response: not found: x"
    )
    assert go_http_error(url, 410, "Gone", "a\nb\n\nhidden") == (
        f"reading {url}: 410 Gone\n\tserver response:\n\ta\n\tb"
    )
    assert go_error_detail("\n".join(str(i) for i in range(12))).endswith(
        "7\n\t[Truncated: too many lines.]"
    )
    assert go_error_detail("bad \x1b[31m red") == ""


def test_zip_work_goes_to_one_process_per_core_unless_told_otherwise() -> None:
    """Issue 11 §5: extraction and hashing use processes on a multi-core machine (threads
    measured twice the wall time there); 0 keeps threads; a bad value names the variable."""
    from gomodproxy.client.run import _zip_workers

    cores = len(os.sched_getaffinity(0))
    assert _zip_workers({}) == (cores if cores >= 2 else 0)
    assert _zip_workers({"GOMODPROXY_DOWNLOAD_WORKERS": "0"}) == 0
    assert _zip_workers({"GOMODPROXY_DOWNLOAD_WORKERS": "3"}) == 3
    with pytest.raises(ConfigError, match="GOMODPROXY_DOWNLOAD_WORKERS"):
        _zip_workers({"GOMODPROXY_DOWNLOAD_WORKERS": "many"})

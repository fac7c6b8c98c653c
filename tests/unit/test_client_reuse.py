"""-reuse's pure parts (cmd/go modload ``ListModules``, ``checkReuseRepo``): reading a previous
``-json`` output and deciding whether an Origin carries what a query needs."""

from __future__ import annotations

import pytest

from gomodproxy.client.reuse import (
    ReuseFileError,
    is_revision_query,
    origin_json,
    parse_reuse,
    reuse_fields_problem,
)

PREVIOUS = b"""{
\t"Path": "example.com/a",
\t"Version": "v1.2.3",
\t"Query": "latest",
\t"Origin": {"URL": "https://example.com/a", "VCS": "git", "Hash": "abc", "TagSum": "t1:x"}
}
{
\t"Path": "example.com/b",
\t"Version": "v0.1.0",
\t"Sum": "h1:x"
}
{"Path": "example.com/c", "Version": "v1.0.0", "Error": {"Err": "gone"}, "Origin": {}}
"""


def test_entries_by_version_and_query_with_an_origin_only() -> None:
    index = parse_reuse(PREVIOUS, "old.json")
    assert set(index) == {
        ("example.com/a", "v1.2.3"),
        ("example.com/a", "latest"),
        ("example.com/c", "v1.0.0"),
    }
    assert index[("example.com/a", "latest")] is index[("example.com/a", "v1.2.3")]
    assert index[("example.com/c", "v1.0.0")].error == "gone"
    assert origin_json(index[("example.com/a", "latest")].origin) == {
        "VCS": "git",
        "URL": "https://example.com/a",
        "Hash": "abc",
        "TagSum": "t1:x",
    }
    assert parse_reuse(b"", "empty.json") == {}


@pytest.mark.parametrize(
    "data", [b'{"Path": "a"', b"[1]", b'{"Path": 3, "Origin": {}}', b'{"Origin": "x"}', b"\xff"]
)
def test_bad_files_name_the_file(data: bytes) -> None:
    with pytest.raises(ReuseFileError, match=r"parsing old\.json"):
        parse_reuse(data, "old.json")


def test_revision_queries() -> None:
    for q in ("latest", "upgrade", "patch", "<v1.2.0", ">=v1", "v1", "v1.2"):
        assert not is_revision_query("m", q), q
    for q in ("main", "v1.2.3", "v1.2.3-pre", "v1.2.3+meta", "abcdef123456", "v1.2.x"):
        assert is_revision_query("m", q), q


def test_what_each_query_needs() -> None:
    hash_only = {"VCS": "git", "URL": "u", "Hash": "h"}
    assert reuse_fields_problem("m", "v1.0.0", hash_only) == ""
    assert reuse_fields_problem("m", "v2.0.0+incompatible", hash_only) == ""
    assert reuse_fields_problem("m", "v1.0.0", {"VCS": "git", "URL": "u"}) != ""
    assert "requires a TagSum" in reuse_fields_problem("m", "main", hash_only)
    assert reuse_fields_problem("m", "main", {**hash_only, "TagSum": "t1:"}) == ""
    assert "requires a Hash or Ref" in reuse_fields_problem("m", "main", {"TagSum": "t1:"})
    assert "requires a TagSum" in reuse_fields_problem("m", "latest", hash_only)
    assert reuse_fields_problem("m", "latest", {"RepoSum": "r1:"}) == ""

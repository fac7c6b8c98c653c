"""Editing go.mod files: ports of x/mod modfile rule_test.go's edit tables.

Like x/mod's testEdit, each case parses ``before``, applies the edit, formats, and compares with
the formatted parse of ``after`` (so layout differences in ``after`` do not matter).
"""

from __future__ import annotations

import re

import pytest

from gomodproxy.errors import InvalidVersion
from gomodproxy.module.modfile import (
    ModFile,
    ModFileVersionError,
    ModuleVersion,
    VersionInterval,
    parse,
)
from tests.unit._modfile_edit import edit_case as _edit

# --- go and toolchain lines (addGoTests, dropGoTests, addToolchainTests, ...) --------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("module m\n", "module m\ngo 1.14\n"),
        ("module m\nrequire x.y/a v1.2.3\n", "module m\ngo 1.14\nrequire x.y/a v1.2.3\n"),
        (
            "require x.y/a v1.2.3\nmodule example.com/inverted\n",
            "require x.y/a v1.2.3\nmodule example.com/inverted\ngo 1.14\n",
        ),
        ("require x.y/a v1.2.3\n", "require x.y/a v1.2.3\ngo 1.14\n"),
    ],
    ids=["module_only", "module_before_require", "require_before_module", "require_only"],
)
def test_add_go_statement_goes_after_the_module_line(before: str, after: str) -> None:
    f = _edit(before, after, lambda f: f.add_go_stmt("1.14"))
    assert f.go is not None
    assert f.go.version == "1.14"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("module m\ngo 1.14\n", "module m\n"),
        ("module m\ngo 1.14\nrequire x.y/a v1.2.3\n", "module m\nrequire x.y/a v1.2.3\n"),
        (
            "require x.y/a v1.2.3\nmodule example.com/inverted\ngo 1.14\n",
            "require x.y/a v1.2.3\nmodule example.com/inverted\n",
        ),
        ("require x.y/a v1.2.3\ngo 1.14\n", "require x.y/a v1.2.3\n"),
    ],
    ids=["module_only", "module_before_require", "require_before_module", "require_only"],
)
def test_drop_go_statement(before: str, after: str) -> None:
    f = _edit(before, after, lambda f: f.drop_go_stmt())
    assert f.go is None


def test_add_go_statement_rejects_a_bad_version() -> None:
    f = parse("in", b"module m\n")
    with pytest.raises(ModFileVersionError, match=re.escape('invalid language version "1.x"')):
        f.add_go_stmt("1.x")


@pytest.mark.parametrize(
    ("before", "version", "after"),
    [
        ("", "go1.17", "toolchain go1.17\n"),
        (
            "// this is a comment\nrequire x v1.0.0\n\ngo 1.17\n\nrequire y v1.0.0\n",
            "go1.17",
            "// this is a comment\nrequire x v1.0.0\n\ngo 1.17\n\ntoolchain go1.17\n\n"
            "require y v1.0.0\n",
        ),
        ("go 1.17\n\ntoolchain go1.18\n", "go1.19", "go 1.17\n\ntoolchain go1.19\n"),
    ],
    ids=["empty", "aftergo", "already_have_toolchain"],
)
def test_add_toolchain_statement_goes_after_the_go_line(
    before: str, version: str, after: str
) -> None:
    _edit(before, after, lambda f: f.add_toolchain_stmt(version))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("toolchain go1.17\n", ""),
        (
            "// this is a comment\nrequire x v1.0.0\n\ngo 1.17\n\ntoolchain go1.17\n\n"
            "require y v1.0.0\n",
            "// this is a comment\nrequire x v1.0.0\n\ngo 1.17\n\nrequire y v1.0.0\n",
        ),
        ("go 1.17\n\ntoolchain go1.18\n", "go 1.17\n"),
    ],
    ids=["empty", "aftergo", "already_have_toolchain"],
)
def test_drop_toolchain_statement(before: str, after: str) -> None:
    _edit(before, after, lambda f: f.drop_toolchain_stmt())


# --- exclude (addExcludeTests, addExcludeValidateVersionTests) ----------------------------


@pytest.mark.parametrize(
    ("path", "version"),
    [("example.com", "v1.2.3"), ("gopkg.in/foo.v0", "v0.2.3"), ("gopkg.in/foo.v1", "v1.2.3")],
    ids=["compatible", "gopkg.in v0", "gopkg.in v1"],
)
def test_add_exclude(path: str, version: str) -> None:
    _edit(
        "module m\n",
        f"module m\nexclude {path} {version}\n",
        lambda f: f.add_exclude(path, version),
    )


@pytest.mark.parametrize(
    ("path", "version", "want"),
    [
        ("example.com/m", "", 'version "" invalid: must be of the form v1.2.3'),
        ("example.com/m", "1.0.0", 'version "1.0.0" invalid: must be of the form v1.2.3'),
        ("example.com/m", "v1.2", 'version "v1.2" invalid: must be of the form v1.2.3'),
        ("example.com/m/v2", "v1.2.3", 'version "v1.2.3" invalid: should be v2, not v1'),
        (
            "example.com/m",
            "v2.3.4",
            'version "v2.3.4" invalid: should be v2.3.4+incompatible (or module example.com/m/v2)',
        ),
        ("example.com/m/v2", "v2.0", 'version "v2.0" invalid: must be of the form v2.2.3'),
    ],
    ids=[
        "blank version",
        "missing prefix",
        "non-canonical",
        "mismatched major",
        "missing +incompatible",
        "non-canonical major suffix",
    ],
)
def test_add_exclude_validates_the_version(path: str, version: str, want: str) -> None:
    f = parse("in", b"module m")
    with pytest.raises(InvalidVersion) as info:
        f.add_exclude(path, version)
    assert str(info.value) == want


def test_add_exclude_next_to_its_path_and_drop_exclude() -> None:
    def edit(f: ModFile) -> None:
        f.add_exclude("x.y/z", "v1.0.0")  # already there
        f.add_exclude("x.y/z", "v1.1.0")
        f.drop_exclude("a.b/c", "v0.1.0")
        f.cleanup()

    f = _edit(
        "module m\nexclude x.y/z v1.0.0\nexclude a.b/c v0.1.0\n",
        "module m\nexclude (\n\tx.y/z v1.0.0\n\tx.y/z v1.1.0\n)\n",
        edit,
    )
    # Without an exclusion of the same path, the new line goes to the end of the file.
    _edit(
        "module m\nexclude (\n\ta.b/c v1.0.0\n)\ngo 1.21\n",
        "module m\nexclude (\n\ta.b/c v1.0.0\n)\ngo 1.21\nexclude d.e/f v1.0.0\n",
        lambda f: f.add_exclude("d.e/f", "v1.0.0"),
    )
    assert [x.mod.version for x in f.exclude] == ["v1.0.0", "v1.1.0"]


# --- retract (addRetractTests, dropRetractTests, addRetractValidateVersionTests) -----------


@pytest.mark.parametrize(
    ("before", "low", "high", "rationale", "after"),
    [
        ("module m\n", "v1.2.3", "v1.2.3", "", "module m\nretract v1.2.3\n"),
        ("module m\n", "v1.0.0", "v1.1.0", "", "module m\nretract [v1.0.0, v1.1.0]"),
        (
            "module m\nretract v1.2.3\n",
            "v1.2.3",
            "v1.2.3",
            "bad",
            "module m\nretract (\n\tv1.2.3\n\t// bad\n\tv1.2.3\n)\n",
        ),
        (
            "module m\nretract [v1.2.3, v1.2.3]\n",
            "v1.2.3",
            "v1.2.3",
            "multi\nline",
            "module m\nretract\t(\n\t[v1.2.3, v1.2.3]\n\t// multi\n\t// line\n\tv1.2.3\n)\n",
        ),
        (
            "module m\nretract [v1.0.0, v1.1.0]\n",
            "v1.0.0",
            "v1.1.0",
            "",
            "module m\nretract (\n\t[v1.0.0, v1.1.0]\n\t[v1.0.0, v1.1.0]\n)\n",
        ),
        (
            "module m\nretract v1.2.3\n",
            "v1.2.3",
            "v1.2.3",
            "",
            "module m\nretract\t(\n\tv1.2.3\n\tv1.2.3\n)\n",
        ),
    ],
    ids=[
        "new_singleton",
        "new_interval",
        "duplicate_with_rationale",
        "duplicate_multiline_rationale",
        "duplicate_interval",
        "duplicate_singleton",
    ],
)
def test_add_retract(before: str, low: str, high: str, rationale: str, after: str) -> None:
    f = _edit(before, after, lambda f: f.add_retract(VersionInterval(low, high), rationale))
    # As in x/mod, the interpreted list is left alone; the text has the new retraction.
    assert len(f.retract) == len(parse("in", before.encode()).retract)
    reread = parse("out", f.format())
    assert reread.retract[-1].interval == VersionInterval(low, high)
    assert reread.retract[-1].rationale == rationale


@pytest.mark.parametrize(
    ("before", "low", "high", "after"),
    [
        ("module m\nretract v1.2.3\n", "v1.0.0", "v1.0.0", "module m\nretract v1.2.3\n"),
        (
            "module m\nretract v1.2.2\nretract v1.2.3\nretract v1.2.4\n",
            "v1.2.3",
            "v1.2.3",
            "module m\nretract v1.2.2\nretract v1.2.4\n",
        ),
        (
            "module m\nretract v1.2.3 // first\nretract v1.2.3 // second\n",
            "v1.2.3",
            "v1.2.3",
            "module m\n",
        ),
        ("module m\nretract [v1.2.3, v1.2.3]\n", "v1.2.3", "v1.2.3", "module m\n"),
        (
            "module m\nretract [v1.0.0, v1.1.0]\n",
            "v1.0.0",
            "v1.2.0",
            "module m\nretract [v1.0.0, v1.1.0]\n",
        ),
        ("module m\nretract v1.2.3\n", "v1.2.3", "v1.2.3", "module m\n"),
        (
            "module m\nretract (\n\tv1.0.0\n\t[v1.1.0, v1.2.0]\n\tv1.3.0\n)\n",
            "v1.1.0",
            "v1.2.0",
            "module m\nretract (\n\tv1.0.0\n\tv1.3.0\n)\n",
        ),
        (
            "module m\nretract [v1.0.0, v1.1.0]\nretract [v1.0.0, v1.1.0]\n",
            "v1.0.0",
            "v1.1.0",
            "module m\n",
        ),
    ],
    ids=[
        "singleton_no_match",
        "singleton_match_one",
        "singleton_match_all",
        "interval_match",
        "interval_superset_no_match",
        "singleton_match_middle",
        "interval_match_middle_block",
        "interval_match_all",
    ],
)
def test_drop_retract(before: str, low: str, high: str, after: str) -> None:
    def drop(f: ModFile) -> None:
        f.drop_retract(VersionInterval(low, high))
        f.cleanup()

    f = _edit(before, after, drop)
    assert VersionInterval(low, high) not in [r.interval for r in f.retract]


@pytest.mark.parametrize(
    ("path", "low", "high", "want"),
    [
        ("example.com/m", "", "", 'version "" invalid: must be of the form v1.2.3'),
        ("example.com/m", "1.0.0", "1.0.0", 'version "1.0.0" invalid: must be of the form v1.2.3'),
        ("example.com/m", "v1.2", "v1.2", 'version "v1.2" invalid: must be of the form v1.2.3'),
        ("example.com/m", "v1.2.3", "v1.3", 'version "v1.3" invalid: must be of the form v1.2.3'),
        ("example.com/m/v2", "v1.0.0", "v1.0.0", 'version "v1.0.0" invalid: should be v2, not v1'),
        (
            "example.com/m",
            "v2.0.0",
            "v2.0.0",
            'version "v2.0.0" invalid: should be v2.0.0+incompatible (or module example.com/m/v2)',
        ),
    ],
    ids=[
        "blank_version",
        "missing prefix",
        "non-canonical",
        "invalid range",
        "mismatched major",
        "missing +incompatible",
    ],
)
def test_add_retract_validates_versions(path: str, low: str, high: str, want: str) -> None:
    f = ModFile()
    f.add_module_stmt(path)
    with pytest.raises(ModFileVersionError) as info:
        f.add_retract(VersionInterval(low, high))
    assert str(info.value) == want


# --- replace, godebug, tool, ignore, module ------------------------------------------------


def test_add_replace_updates_the_first_match_and_drops_the_rest() -> None:
    def edit(f: ModFile) -> None:
        f.add_replace("x.y/z", "", "../z", "")
        f.cleanup()

    f = _edit(
        "module m\nreplace x.y/z v1.0.0 => ./a // keep\nreplace x.y/z v1.1.0 => ./b\n",
        "module m\nreplace x.y/z => ../z // keep\n",
        edit,
    )
    assert [(r.old, r.new) for r in f.replace] == [
        (ModuleVersion("x.y/z", "v1.0.0"), ModuleVersion("../z"))
    ]


def test_add_replace_puts_a_new_line_after_its_path_or_at_the_end_of_the_file() -> None:
    # x/mod hands addLine a typed nil hint when no replacement of the path exists, so the new
    # line does not join the last replace block (go mod edit -replace does the same).
    def edit(f: ModFile) -> None:
        f.add_replace("x.y/z", "v1.1.0", "other.com/z", "v1.1.1")
        f.add_replace("a.b/c", "", "./c", "")

    _edit(
        "module m\nreplace x.y/z v1.0.0 => ./a\nrequire q.r/s v1.0.0\n",
        "module m\nreplace (\n\tx.y/z v1.0.0 => ./a\n\tx.y/z v1.1.0 => other.com/z v1.1.1\n"
        ")\nrequire q.r/s v1.0.0\nreplace a.b/c => ./c\n",
        edit,
    )


def test_add_replace_quotes_paths_that_need_it() -> None:
    _edit(
        "module m\n",
        'module m\nreplace "a b.com/x" => "./my dir"\n',
        lambda f: f.add_replace("a b.com/x", "", "./my dir", ""),
        strict=False,
    )


def test_drop_replace_matches_path_and_version_exactly() -> None:
    def edit(f: ModFile) -> None:
        f.drop_replace("x.y/z", "v1.0.0")
        f.drop_replace("x.y/z", "v9.9.9")
        f.cleanup()

    f = _edit(
        "module m\nreplace (\n\tx.y/z v1.0.0 => ./a\n\tx.y/z => ./b\n)\n",
        "module m\nreplace x.y/z => ./b\n",
        edit,
    )
    assert [r.old for r in f.replace] == [ModuleVersion("x.y/z")]


def test_add_and_drop_godebug() -> None:
    def edit(f: ModFile) -> None:
        f.add_godebug("a", "2")
        f.add_godebug("c", "3")
        f.drop_godebug("b")
        f.cleanup()

    f = _edit(
        "module m\ngodebug (\n\ta=1 // first\n\tb=1\n\ta=0\n)\n",
        "module m\ngodebug (\n\ta=2 // first\n\tc=3\n)\n",
        edit,
    )
    assert [(g.key, g.value) for g in f.godebug] == [("a", "2"), ("c", "3")]


def test_add_tool_and_ignore_sort_their_blocks() -> None:
    def edit(f: ModFile) -> None:
        f.add_tool("a.b/cmd/a")
        f.add_tool("a.b/cmd/z")  # already there
        f.add_ignore("./b")
        f.drop_ignore("./c")
        f.cleanup()

    f = _edit(
        "module m\ntool a.b/cmd/z\nignore (\n\t./c\n\t./x\n)\n",
        "module m\ntool (\n\ta.b/cmd/a\n\ta.b/cmd/z\n)\nignore (\n\t./b\n\t./x\n)\n",
        edit,
    )
    assert sorted(t.path for t in f.tool) == ["a.b/cmd/a", "a.b/cmd/z"]
    assert sorted(i.path for i in f.ignore) == ["./b", "./x"]


def test_add_module_statement_and_comment_to_an_empty_file() -> None:
    f = ModFile()
    f.add_module_stmt("example.com/m")
    f.add_go_stmt("1.22")
    f.add_require("x.y/z", "v1.0.0")
    f.add_comment("// end")
    assert f.format() == b"module example.com/m\n\ngo 1.22\n\nrequire x.y/z v1.0.0\n\n// end\n"
    f.add_module_stmt("example.com/renamed")
    assert f.module is not None
    assert f.module.path == "example.com/renamed"
    assert f.format().startswith(b"module example.com/renamed\n")

"""go.work files: ports of x/mod modfile work_test.go tables, plus parse errors (go 1.26)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gomodproxy.module.modfile import (
    GoModParseError,
    ModuleVersion,
    WorkFile,
    parse_work,
)


def _work_edit(before: str, after: str, transform: Callable[[WorkFile], None]) -> WorkFile:
    f = parse_work("in", before.encode())
    want = parse_work("out", after.encode()).format()
    transform(f)
    assert f.format().decode() == want.decode()
    return f


@pytest.mark.parametrize(
    ("before", "path", "after"),
    [
        ("", "foo", "use foo"),
        ("go 1.17\n", "foo", "go 1.17\nuse foo\n"),
        ("go 1.17\nuse baz", "foo", "go 1.17\nuse (\n\tbaz\n  foo\n)\n"),
        ("go 1.17\nuse (\n\tbaz\n\tquux\n)\n", "foo", "go 1.17\nuse (\n\tbaz\n  quux\n\tfoo\n)\n"),
        (
            "go 1.17\nuse baz\nreplace a => ./b\n",
            "foo",
            "go 1.17\nuse (\n\tbaz\n\tfoo\n)\nreplace a => ./b\n",
        ),
    ],
    ids=["empty", "go_stmt_only", "use_line_present", "use_block_present", "use_and_replace"],
)
def test_add_use(before: str, path: str, after: str) -> None:
    f = _work_edit(before, after, lambda f: f.add_use(path, "bar"))
    assert [(u.path, u.module_path) for u in f.use if u.path == path] == [(path, "bar")]


@pytest.mark.parametrize(
    ("before", "path", "after"),
    [
        ("", "foo", ""),
        ("go 1.17\n", "foo", "go 1.17\n"),
        ("go 1.17\nuse foo", "foo", "go 1.17\n"),
        ("go 1.17\nuse (\n\tfoo\n\tbar\n\tbaz\n)", "bar", "go 1.17\nuse (\n\tfoo\n\tbaz\n)"),
        (
            "go 1.17\nuse (\n\tfoo\n\tbar\n\tbaz\n)\nuse foo\nuse quux\nuse foo",
            "foo",
            "go 1.17\nuse (\n\tbar\n\tbaz\n)\nuse quux",
        ),
    ],
    ids=["empty", "go_stmt_only", "single_use", "use_block", "use_multi"],
)
def test_drop_use(before: str, path: str, after: str) -> None:
    def drop(f: WorkFile) -> None:
        f.drop_use(path)
        f.cleanup()

    f = _work_edit(before, after, drop)
    assert path not in [u.path for u in f.use]


@pytest.mark.parametrize(
    ("before", "version", "after"),
    [
        ("", "1.17", "go 1.17\n"),
        ("// this is a comment", "1.17", "// this is a comment\n\ngo 1.17"),
        (
            "\nreplace example.com/foo => ../bar\nuse foo\n",
            "1.17",
            "\ngo 1.17\nreplace example.com/foo => ../bar\nuse foo\n",
        ),
        (
            "use foo\nreplace example.com/foo => ../bar\n",
            "1.17",
            "\ngo 1.17\nuse foo\nreplace example.com/foo => ../bar\n",
        ),
        ("use foo\n", "1.17", "\ngo 1.17\nuse foo\n"),
        ("go 1.17\n", "1.18", "\ngo 1.18\n"),
    ],
    ids=[
        "empty",
        "comment",
        "use_after_replace",
        "use_before_replace",
        "use_only",
        "already_have_go",
    ],
)
def test_add_go_statement_goes_before_the_first_directive(
    before: str, version: str, after: str
) -> None:
    f = _work_edit(before, after, lambda f: f.add_go_stmt(version))
    assert f.go is not None
    assert f.go.version == version


def test_add_toolchain_goes_after_the_go_line_and_drops_work() -> None:
    def edit(f: WorkFile) -> None:
        f.add_toolchain_stmt("go1.22.1")
        f.add_godebug("a", "1")

    f = _work_edit(
        "// top\ngo 1.22\nuse ./a\n",
        "// top\ngo 1.22\ntoolchain go1.22.1\nuse ./a\ngodebug a=1\n",
        edit,
    )

    def drop(f: WorkFile) -> None:
        f.drop_toolchain_stmt()
        f.drop_go_stmt()
        f.drop_godebug("a")
        f.cleanup()

    # The "// top" comment belongs to the go line and goes with it (go work edit -go=none agrees).
    _work_edit(f.format().decode(), "use ./a\n", drop)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "go 1.17\nuse foo\nuse bar\nuse (\n\tfoo\n)",
            "go 1.17\nuse foo\nuse bar\nuse (\n\tfoo\n)",
        ),
        (
            "go 1.17\nuse foo\nreplace x.y/z v1.0.0 => ./a\nreplace x.y/z v1.1.0 => ./b\n"
            "replace (\n\tx.y/z v1.0.0 => ./c\n)\n",
            "go 1.17\nuse foo\nreplace x.y/z v1.1.0 => ./b\nreplace (\n\tx.y/z v1.0.0 => ./c\n)\n",
        ),
    ],
    ids=["use_duplicates_not_removed", "replace_duplicates_removed"],
)
def test_work_sort_blocks(before: str, after: str) -> None:
    _work_edit(before, after, lambda f: f.sort_blocks())


def test_work_replace_edits() -> None:
    def edit(f: WorkFile) -> None:
        f.add_replace("x.y/z", "v1.0.0", "../z", "")
        f.drop_replace("a.b/c", "")
        f.cleanup()

    f = _work_edit(
        "go 1.22\nreplace (\n\tx.y/z v1.0.0 => ./old\n\ta.b/c => ./c\n)\n",
        "go 1.22\nreplace x.y/z v1.0.0 => ../z\n",
        edit,
    )
    assert [(r.old, r.new) for r in f.replace] == [
        (ModuleVersion("x.y/z", "v1.0.0"), ModuleVersion("../z"))
    ]


def test_work_file_directives_are_interpreted() -> None:
    f = parse_work(
        "go.work",
        b'go 1.22.0\ntoolchain go1.22.3\ngodebug (\n\tx=1\n)\nuse (\n\t./a\n\t"./b c"\n)\n'
        b"replace a.b/c v1.0.0 => d.e/f v1.2\n",
    )
    assert f.go is not None
    assert f.go.version == "1.22.0"
    assert f.toolchain is not None
    assert f.toolchain.name == "go1.22.3"
    assert [(g.key, g.value) for g in f.godebug] == [("x", "1")]
    assert [u.path for u in f.use] == ["./a", "./b c"]
    assert [(r.old, r.new) for r in f.replace] == [
        (ModuleVersion("a.b/c", "v1.0.0"), ModuleVersion("d.e/f", "v1.2.0"))
    ]


@pytest.mark.parametrize(
    ("src", "message"),
    [
        (b"use x\nfoo\n", "go.work:2: unknown directive: foo"),
        (b"go 1.22\nrequire x.y/z v1.0.0\n", "go.work:2: unknown directive: require"),
        (b"module m\n", "go.work:1: unknown directive: module"),
        (b"use\n", "go.work:1: usage: use local/dir"),
        (b"use ( ./a ./b )\n", "go.work:1: usage: use local/dir"),
        (b"go v1.22\n", "go.work:1: invalid go version 'v1.22': must match format 1.23.0"),
        (
            b"toolchain x\n",
            "go.work:1: invalid toolchain version 'x': must match format go1.23.0 or default",
        ),
        (b"go 1.21\ngo 1.22\n", "go.work:2: repeated go statement"),
        (b"tool (\n\tx\n)\n", "go.work:1: unknown block type: tool"),
        (
            b"use (\n\t./a\n)\nreplace (\n\tb.c => ./x v1.0.0\n)\n",
            'go.work:5:2: replacement module directory path "./x" cannot have version',
        ),
    ],
)
def test_go_work_errors_match_x_mod(src: bytes, message: str) -> None:
    with pytest.raises(GoModParseError) as info:
        parse_work("go.work", src)
    assert str(info.value) == message

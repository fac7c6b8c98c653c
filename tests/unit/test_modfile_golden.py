"""The Go team's modfile golden files (x/mod modfile read_test.go / work_test.go, ported).

For every ``X.in`` under the vectors' ``modfile/testdata`` (and ``work/`` for go.work files):
parse and format must give ``X.golden`` byte for byte, where a file that passes the strict parser
is formatted from its interpreted form (versions canonical, quotes only where needed), as
TestPrintParse does. Every ``.golden`` must format to itself (TestPrintGolden), and formatting
must not change the parse tree (parse / format / parse).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gomodproxy.module.modfile import (
    CommentBlock,
    FileSyntax,
    GoModParseError,
    Line,
    LineBlock,
    ModFile,
    WorkFile,
    format_file,
    parse,
    parse_syntax,
    parse_work,
)

_REPO_ROOT = Path(__file__).resolve().parents[2]
_TESTDATA = _REPO_ROOT / ".." / "shared" / "vectors" / "golang-mod" / "modfile" / "testdata"
_WORK_TESTDATA = _TESTDATA / "work"

# Files x/mod's TestPrintParse expects the strict parser to reject (unknown directives,
# repeated module statements); every other file must parse strictly.
_NOT_STRICT = {"block.golden", "block.in", "comment.golden", "comment.in", "rule1.golden"}


def _files(folder: Path, pattern: str) -> list[Path]:
    found = sorted(folder.glob(pattern))
    if not found:
        pytest.fail(f"no modfile vectors matching {pattern} in {folder}", pytrace=False)
    return found


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


_MOD_IN = _files(_TESTDATA, "*.in")
_MOD_GOLDEN = _files(_TESTDATA, "*.golden")
_MOD_ALL = sorted(_MOD_IN + _MOD_GOLDEN)
_WORK_IN = _files(_WORK_TESTDATA, "*.in")
_WORK_GOLDEN = _files(_WORK_TESTDATA, "*.golden")
_WORK_ALL = sorted(_WORK_IN + _WORK_GOLDEN)


def _tree_shape(syntax: FileSyntax) -> list[object]:
    """The parse tree without positions and comments (x/mod's eqchecker ignores those)."""
    shape: list[object] = []
    for stmt in syntax.stmt:
        if isinstance(stmt, CommentBlock):
            shape.append("comments")
        elif isinstance(stmt, Line):
            shape.append(("line", tuple(stmt.token), stmt.in_block))
        elif isinstance(stmt, LineBlock):
            lines = tuple((tuple(line.token), line.in_block) for line in stmt.line)
            shape.append(("block", tuple(stmt.token), lines))
    return shape


def _interpreted(f: ModFile | WorkFile) -> dict[str, object]:
    """The directives of a parsed file, without their syntax lines."""
    values: dict[str, object] = {}
    for name in ("module", "go", "toolchain"):
        value = getattr(f, name, None)
        values[name] = None if value is None else _strip_syntax(value)
    for name in ("godebug", "require", "exclude", "replace", "retract", "tool", "ignore", "use"):
        if hasattr(f, name):
            values[name] = [_strip_syntax(v) for v in getattr(f, name)]
    return values


def _strip_syntax(value: object) -> tuple[object, ...]:
    slots: tuple[str, ...] = getattr(value, "__slots__", ())
    return tuple(getattr(value, s) for s in slots if s != "syntax")


def _check_print_parse(
    path: Path, strict_parse: Callable[[str, bytes], ModFile | WorkFile], strict_ok: bool
) -> bytes:
    """x/mod TestPrintParse for one file; returns the formatted text to compare to the golden."""
    data = path.read_bytes()
    name = f"testdata/{path.name}"
    tree = parse_syntax(name, data)
    ndata = format_file(tree)
    assert _tree_shape(parse_syntax(name, ndata)) == _tree_shape(tree)

    if not strict_ok:
        with pytest.raises(GoModParseError):
            strict_parse(name, data)
        return ndata

    pf1 = strict_parse(name, data)
    pf2 = strict_parse(name, ndata)
    assert _interpreted(pf2) == _interpreted(pf1)
    ndata2 = pf1.format()
    pf3 = strict_parse(name, ndata2)
    assert _interpreted(pf3) == _interpreted(pf1)
    assert _tree_shape(pf3.syntax) == _tree_shape(pf1.syntax)
    return ndata2


@pytest.mark.parametrize("path", _MOD_IN, ids=_ids(_MOD_IN))
def test_go_mod_in_file_formats_to_its_golden_file(path: Path) -> None:
    formatted = _check_print_parse(path, parse, path.name not in _NOT_STRICT)
    assert formatted.decode() == path.with_suffix(".golden").read_text()


@pytest.mark.parametrize("path", _MOD_GOLDEN, ids=_ids(_MOD_GOLDEN))
def test_go_mod_golden_file_formats_to_itself(path: Path) -> None:
    data = path.read_bytes()
    assert format_file(parse_syntax(f"testdata/{path.name}", data)) == data


@pytest.mark.parametrize("path", _MOD_GOLDEN, ids=_ids(_MOD_GOLDEN))
def test_go_mod_golden_file_survives_parse_format_parse(path: Path) -> None:
    formatted = _check_print_parse(path, parse, path.name not in _NOT_STRICT)
    if path.name not in _NOT_STRICT:
        # A golden file is already in standard form, interpreted or not.
        assert formatted == path.read_bytes()


@pytest.mark.parametrize("path", _WORK_IN, ids=_ids(_WORK_IN))
def test_go_work_in_file_formats_to_its_golden_file(path: Path) -> None:
    formatted = _check_print_parse(path, parse_work, strict_ok=True)
    assert formatted.decode() == path.with_suffix(".golden").read_text()


@pytest.mark.parametrize("path", _WORK_GOLDEN, ids=_ids(_WORK_GOLDEN))
def test_go_work_golden_file_formats_to_itself(path: Path) -> None:
    data = path.read_bytes()
    name = f"{path.parent.name}/{path.name}"  # as the vector folder names it, for messages
    assert format_file(parse_syntax(name, data)) == data
    assert parse_work(name, data).format() == data


def test_every_go_mod_vector_is_covered() -> None:
    # The strict/lax split above names real files: a renamed vector must not slip through.
    names = {p.name for p in _MOD_ALL}
    assert names >= _NOT_STRICT
    assert {p.with_suffix(".golden").name for p in _MOD_IN} <= names
    assert {p.with_suffix(".golden").name for p in _WORK_IN} <= {p.name for p in _WORK_ALL}


def test_unstrict_vectors_fail_with_x_mod_messages() -> None:
    with pytest.raises(GoModParseError) as info:
        parse("testdata/block.in", (_TESTDATA / "block.in").read_bytes())
    assert str(info.value).splitlines() == [
        "testdata/block.in:2: unknown directive: x",
        "testdata/block.in:5: unknown block type: block",
        "testdata/block.in:25: unknown block type: block1",
        "testdata/block.in:27: unknown directive: block2",
        'testdata/block.in:29: unknown block type: block3 "w"',
        "testdata/block.in:30: unknown directive: block4",
        "testdata/block.in:31: unknown directive: block5",
    ]
    with pytest.raises(GoModParseError) as info:
        parse("testdata/rule1.golden", (_TESTDATA / "rule1.golden").read_bytes())
    assert str(info.value) == (
        "testdata/rule1.golden:3: repeated module statement\n"
        "testdata/rule1.golden:5: usage: require module/path v1.2.3\n"
        "testdata/rule1.golden:7: usage: require module/path v1.2.3"
    )

"""Editing go.mod files: ports of x/mod modfile rule_test.go's edit tables.

Like x/mod's testEdit, each case parses ``before``, applies the edit, formats, and compares with
the formatted parse of ``after`` (so layout differences in ``after`` do not matter).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gomodproxy.errors import InvalidVersion
from gomodproxy.module.modfile import (
    ModFile,
    ModFileVersionError,
    ModuleVersion,
    Require,
    VersionInterval,
    parse,
    parse_lax,
)


def _edit(
    before: str, after: str, transform: Callable[[ModFile], None], *, strict: bool = True
) -> ModFile:
    parser = parse if strict else parse_lax
    f = parser("in", before.encode())
    want = parser("out", after.encode()).format()
    transform(f)
    assert f.format().decode() == want.decode()
    return f


# --- AddRequire (addRequireTests) ---------------------------------------------------------

_ADD_REQUIRE = [
    (
        "existing",
        "module m\nrequire x.y/z v1.2.3\n",
        "x.y/z",
        "v1.5.6",
        "module m\nrequire x.y/z v1.5.6\n",
    ),
    (
        "existing2",
        """module m
        require (
            x.y/z v1.2.3 // first
            x.z/a v0.1.0 // first-a
        )
        require x.y/z v1.4.5 // second
        require (
            x.y/z v1.6.7 // third
            x.z/a v0.2.0 // third-a
        )
        """,
        "x.y/z",
        "v1.8.9",
        """module m

        require (
            x.y/z v1.8.9 // first
            x.z/a v0.1.0 // first-a
        )

        require x.z/a v0.2.0 // third-a
        """,
    ),
    (
        "new",
        "module m\nrequire x.y/z v1.2.3\n",
        "x.y/w",
        "v1.5.6",
        "module m\nrequire (\n\tx.y/z v1.2.3\n\tx.y/w v1.5.6\n)\n",
    ),
    (
        "new2",
        "module m\nrequire x.y/z v1.2.3\nrequire x.y/q/v2 v2.3.4\n",
        "x.y/w",
        "v1.5.6",
        "module m\nrequire x.y/z v1.2.3\nrequire (\n\tx.y/q/v2 v2.3.4\n\tx.y/w v1.5.6\n)\n",
    ),
]


@pytest.mark.parametrize(
    ("before", "path", "vers", "after"),
    [c[1:] for c in _ADD_REQUIRE],
    ids=[c[0] for c in _ADD_REQUIRE],
)
def test_add_require(before: str, path: str, vers: str, after: str) -> None:
    def add(f: ModFile) -> None:
        f.add_require(path, vers)
        f.cleanup()

    f = _edit(before, after, add)
    assert [r.mod for r in f.require if r.mod.path == path] == [ModuleVersion(path, vers)]


def test_drop_require_removes_every_line_for_the_path() -> None:
    def drop(f: ModFile) -> None:
        f.drop_require("x.y/z")
        f.cleanup()

    f = _edit(
        "module m\nrequire (\n\tx.y/z v1.2.3\n\tx.y/a v1.0.0 // a\n)\nrequire x.y/z v1.4.0\n",
        "module m\nrequire x.y/a v1.0.0 // a\n",
        drop,
    )
    assert [r.mod.path for r in f.require] == ["x.y/a"]


# --- SetRequire (setRequireTests) ---------------------------------------------------------

_Req = tuple[str, str, bool]

_SET_REQUIRE: list[tuple[str, str, list[_Req], str]] = [
    (
        "https://golang.org/issue/45932",
        "module m\nrequire (\n\tx.y/a v1.2.3 //indirect\n\tx.y/b v1.2.3\n\tx.y/c v1.2.3\n)\n",
        [("x.y/a", "v1.2.3", False), ("x.y/b", "v1.2.3", False), ("x.y/c", "v1.2.3", False)],
        "module m\nrequire (\n\tx.y/a v1.2.3\n\tx.y/b v1.2.3\n\tx.y/c v1.2.3\n)\n",
    ),
    (
        "existing",
        "module m\nrequire (\n\tx.y/b v1.2.3\n\n\tx.y/a v1.2.3\n\tx.y/d v1.2.3\n)\n",
        [("x.y/a", "v1.2.3", False), ("x.y/b", "v1.2.3", False), ("x.y/c", "v1.2.3", False)],
        "module m\nrequire (\n\tx.y/a v1.2.3\n\tx.y/b v1.2.3\n\tx.y/c v1.2.3\n)\n",
    ),
    (
        "existing_indirect",
        """module m
        require (
            x.y/a v1.2.3
            x.y/b v1.2.3 //
            x.y/c v1.2.3 //c
            x.y/d v1.2.3 //   c
            x.y/e v1.2.3 // indirect
            x.y/f v1.2.3 //indirect
            x.y/g v1.2.3 //\tindirect
        )
        """,
        [(f"x.y/{c}", "v1.2.3", True) for c in "abcdefg"],
        """module m
        require (
            x.y/a v1.2.3 // indirect
            x.y/b v1.2.3 // indirect
            x.y/c v1.2.3 // indirect; c
            x.y/d v1.2.3 // indirect; c
            x.y/e v1.2.3 // indirect
            x.y/f v1.2.3 //indirect
            x.y/g v1.2.3 //\tindirect
        )
        """,
    ),
    (
        "existing_multi",
        """module m
        require x.y/a v1.2.3
        require x.y/b v1.2.3
        require x.y/c v1.0.0 // not v1.2.3!
        require x.y/d v1.2.3 // comment kept
        require x.y/e v1.2.3 // comment kept
        require x.y/f v1.2.3 // indirect
        require x.y/g v1.2.3 // indirect
        """,
        [
            ("x.y/h", "v1.2.3", False),
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", False),
            ("x.y/c", "v1.2.3", False),
            ("x.y/d", "v1.2.3", False),
            ("x.y/e", "v1.2.3", True),
            ("x.y/f", "v1.2.3", False),
            ("x.y/g", "v1.2.3", False),
        ],
        """module m
        require x.y/a v1.2.3

        require x.y/b v1.2.3

        require x.y/c v1.2.3 // not v1.2.3!

        require x.y/d v1.2.3 // comment kept

        require x.y/e v1.2.3 // indirect; comment kept

        require x.y/f v1.2.3

        require (
            x.y/g v1.2.3
            x.y/h v1.2.3
        )
        """,
    ),
    (
        "existing_duplicate",
        "module m\nrequire (\n\tx.y/a v1.0.0 // zero\n\tx.y/a v1.1.0 // one\n"
        "\tx.y/a v1.2.3 // two\n)\n",
        [("x.y/a", "v1.2.3", True)],
        "module m\nrequire x.y/a v1.2.3 // indirect; zero\n",
    ),
    (
        "existing_duplicate_multi",
        "module m\nrequire x.y/a v1.0.0 // zero\nrequire x.y/a v1.1.0 // one\n"
        "require x.y/a v1.2.3 // two\n",
        [("x.y/a", "v1.2.3", True)],
        "module m\nrequire x.y/a v1.2.3 // indirect; zero\n",
    ),
]


def _requires(mods: list[_Req]) -> list[Require]:
    return [Require(ModuleVersion(p, v), indirect) for p, v, indirect in mods]


@pytest.mark.parametrize(
    ("before", "mods", "after"),
    [c[1:] for c in _SET_REQUIRE],
    ids=[c[0] for c in _SET_REQUIRE],
)
def test_set_require(before: str, mods: list[_Req], after: str) -> None:
    def set_require(f: ModFile) -> None:
        f.set_require(_requires(mods))
        f.cleanup()

    f = _edit(before, after, set_require)
    assert len(f.require) == len(mods)
    assert {(r.mod.path, r.mod.version, r.indirect) for r in f.require} == set(mods)


def test_set_require_refuses_two_versions_of_one_path() -> None:
    f = parse("in", b"module m\n")
    with pytest.raises(ValueError, match=re.escape("conflicting versions for path x.y/a")):
        f.set_require(_requires([("x.y/a", "v1.0.0", False), ("x.y/a", "v1.1.0", False)]))


# --- SetRequireSeparateIndirect (setRequireSeparateIndirectTests) --------------------------

_SET_REQUIRE_SEPARATE: list[tuple[str, str, list[_Req], str]] = [
    *_SET_REQUIRE[:3],
    (
        "existing_line",
        "module m\nrequire x.y/a v1.0.0\nrequire x.y/c v1.0.0 // indirect\n",
        [
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", False),
            ("x.y/c", "v1.2.3", True),
            ("x.y/d", "v1.2.3", True),
        ],
        """module m
        require (
            x.y/a v1.2.3
            x.y/b v1.2.3
        )
        require (
            x.y/c v1.2.3 // indirect
            x.y/d v1.2.3 // indirect
        )""",
    ),
    (
        "existing_multi",
        """module m
        require x.y/a v1.2.3
        require x.y/b v1.2.3 // demoted to indirect
        require x.y/c v1.0.0 // not v1.2.3!
        require x.y/d v1.2.3 // comment kept
        require x.y/e v1.2.3 // comment kept
        require x.y/f v1.2.3 // indirect; promoted to direct
        // promoted to direct
        require x.y/g v1.2.3 // indirect
        require x.y/i v1.2.3 // indirect
        require x.y/j v1.2.3 // indirect
        """,
        [
            ("x.y/h", "v1.2.3", False),  # out of alphabetical order
            ("x.y/i", "v1.2.3", True),
            ("x.y/j", "v1.2.3", True),
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", True),
            ("x.y/c", "v1.2.3", False),
            ("x.y/d", "v1.2.3", False),
            ("x.y/e", "v1.2.3", True),
            ("x.y/f", "v1.2.3", False),
            ("x.y/g", "v1.2.3", False),
        ],
        """module m
        require (
            x.y/a v1.2.3
            x.y/h v1.2.3
        )
        require x.y/b v1.2.3 // indirect; demoted to indirect
        require x.y/c v1.2.3 // not v1.2.3!
        require x.y/d v1.2.3 // comment kept
        require x.y/e v1.2.3 // indirect; comment kept
        require x.y/f v1.2.3 // promoted to direct
        // promoted to direct
        require x.y/g v1.2.3
        require x.y/i v1.2.3 // indirect
        require x.y/j v1.2.3 // indirect
        """,
    ),
    *_SET_REQUIRE[4:6],
    (
        "existing_duplicate_mix_indirect",
        "module m\nrequire (\n\tx.y/a v1.0.0 // zero\n\tx.y/a v1.1.0 // indirect; one\n"
        "\tx.y/a v1.2.3 // indirect; two\n)\n",
        [("x.y/a", "v1.2.3", True)],
        "module m\nrequire x.y/a v1.2.3 // indirect; zero\n",
    ),
    (
        "existing_duplicate_mix_direct",
        "module m\nrequire (\n\tx.y/a v1.0.0 // indirect; zero\n\tx.y/a v1.1.0 // one\n"
        "\tx.y/a v1.2.3 // two\n)\n",
        [("x.y/a", "v1.2.3", False)],
        "module m\nrequire x.y/a v1.2.3 // zero\n",
    ),
    (
        "add_indirect_after_last_direct",
        """module m
        require (
            x.y/a v1.0.0 // comment a preserved
            x.y/d v1.0.0 // comment d preserved
        )
        require (
            x.y/b v1.0.0 // comment b preserved
            x.y/e v1.0.0 // comment e preserved
        )
        go 1.17
        """,
        [
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", False),
            ("x.y/c", "v1.2.3", True),
            ("x.y/d", "v1.2.3", False),
            ("x.y/e", "v1.2.3", False),
            ("x.y/f", "v1.2.3", True),
        ],
        """module m
        require (
            x.y/a v1.2.3 // comment a preserved
            x.y/d v1.2.3 // comment d preserved
        )
        require (
            x.y/b v1.2.3 // comment b preserved
            x.y/e v1.2.3 // comment e preserved
        )
        require (
            x.y/c v1.2.3 // indirect
            x.y/f v1.2.3 // indirect
        )
        go 1.17
        """,
    ),
    (
        "add_direct_before_first_indirect",
        """module m
        require (
            x.y/b v1.0.0 // indirect; comment b preserved
            x.y/e v1.0.0 // indirect; comment d preserved
        )
        require (
            x.y/c v1.0.0 // indirect; comment c preserved
            x.y/f v1.0.0 // indirect; comment e preserved
        )
        """,
        [
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", True),
            ("x.y/c", "v1.2.3", True),
            ("x.y/d", "v1.2.3", False),
            ("x.y/e", "v1.2.3", True),
            ("x.y/f", "v1.2.3", True),
        ],
        """module m
        require (
            x.y/b v1.2.3 // indirect; comment b preserved
            x.y/e v1.2.3 // indirect; comment d preserved
        )
        require (
            x.y/c v1.2.3 // indirect; comment c preserved
            x.y/f v1.2.3 // indirect; comment e preserved
        )
        require (
            x.y/a v1.2.3
            x.y/d v1.2.3
        )
        """,
    ),
    (
        "add_indirect_after_mixed",
        "module m\nrequire (\n\tx.y/a v1.0.0\n\tx.y/b v1.0.0 // indirect\n)\n",
        [
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", True),
            ("x.y/c", "v1.2.3", True),
            ("x.y/d", "v1.2.3", False),
            ("x.y/e", "v1.2.3", True),
        ],
        """module m
        require (
            x.y/a v1.2.3
            x.y/d v1.2.3
        )
        require (
            x.y/b v1.2.3 // indirect
            x.y/c v1.2.3 // indirect
            x.y/e v1.2.3 // indirect
        )
        """,
    ),
    (
        "preserve_block_comment_indirect_to_direct",
        "module m\n// save\nrequire (\n\tx.y/a v1.2.3 // indirect\n)\n",
        [("x.y/a", "v1.2.3", False)],
        "module m\n\n// save\nrequire x.y/a v1.2.3\n",
    ),
    (
        "preserve_block_comment_direct_to_indirect",
        "module m\n// save\nrequire (\n\tx.y/a v1.2.3\n)\n",
        [("x.y/a", "v1.2.3", True)],
        "module m\n\n// save\nrequire x.y/a v1.2.3 // indirect\n",
    ),
    (
        "regroup_flat_uncommented_block",
        """module m
        require (
            x.y/a v1.0.0 // a
            x.y/b v1.0.0 // indirect; b
            x.y/c v1.0.0 // indirect
        )""",
        [
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", True),
            ("x.y/c", "v1.2.3", True),
            ("x.y/d", "v1.2.3", False),
        ],
        """module m
        require (
            x.y/a v1.2.3 // a
            x.y/d v1.2.3
        )
        require (
            x.y/b v1.2.3 // indirect; b
            x.y/c v1.2.3 // indirect
        )""",
    ),
    (
        "dont_regroup_flat_commented_block",
        """module m
        // dont regroup
        require (
            x.y/a v1.0.0
            x.y/b v1.0.0 // indirect
            x.y/c v1.0.0 // indirect
        )""",
        [
            ("x.y/a", "v1.2.3", False),
            ("x.y/b", "v1.2.3", True),
            ("x.y/c", "v1.2.3", True),
            ("x.y/d", "v1.2.3", False),
        ],
        """module m
        // dont regroup
        require (
            x.y/a v1.2.3
            x.y/b v1.2.3 // indirect
            x.y/c v1.2.3 // indirect
        )
        require x.y/d v1.2.3""",
    ),
]


@pytest.mark.parametrize(
    ("before", "mods", "after"),
    [c[1:] for c in _SET_REQUIRE_SEPARATE],
    ids=[c[0] for c in _SET_REQUIRE_SEPARATE],
)
def test_set_require_separate_indirect(before: str, mods: list[_Req], after: str) -> None:
    def set_require(f: ModFile) -> None:
        f.set_require_separate_indirect(_requires(mods))
        f.cleanup()

    f = _edit(before, after, set_require)
    assert len(f.require) == len(mods)


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


# --- SortBlocks (sortBlocksTests) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "strict"),
    [
        (
            """module m
            exclude x.y/z v1.0.0 // a
            exclude x.y/z v1.0.0 // b
            exclude (
                x.y/w v1.1.0
                x.y/z v1.0.0 // c
            )
            """,
            "module m\nexclude x.y/z v1.0.0 // a\nexclude (\n\tx.y/w v1.1.0\n)",
            True,
        ),
        (
            """module m
            replace x.y/z v1.0.0 => ./a
            replace x.y/z v1.1.0 => ./b
            replace (
                x.y/z v1.0.0 => ./c
            )
            """,
            "module m\nreplace x.y/z v1.1.0 => ./b\nreplace (\n\tx.y/z v1.0.0 => ./c\n)\n",
            True,
        ),
        (
            "module m\n// block\nretract (\n\tv1.0.0 // one\n\tv1.0.0 // two\n)",
            "module m\n// block\nretract (\n\tv1.0.0 // one\n\tv1.0.0 // two\n)",
            True,
        ),
        (
            "module m\nsort (\n\taa\n\tcc\n\tbb\n\tzz\n\tv1.2.0\n\tv1.11.0\n)",
            "module m\nsort (\n\taa\n\tbb\n\tcc\n\tv1.11.0\n\tv1.2.0\n\tzz\n)\n",
            False,
        ),
        (
            """module m
            retract (
                [v1.2.0, v1.3.0]
                [v1.1.0, v1.3.0]
                [v1.1.0, v1.2.0]
                v1.0.0
                v1.1.0
                v1.2.0
                v1.3.0
                v1.4.0
            )
            """,
            """module m
            retract (
                v1.4.0
                v1.3.0
                [v1.2.0, v1.3.0]
                v1.2.0
                [v1.1.0, v1.3.0]
                [v1.1.0, v1.2.0]
                v1.1.0
                v1.0.0
            )
            """,
            False,
        ),
        (
            """module m
            go 1.21
            exclude (
                b.example/m v0.9.0
                a.example/m v1.0.0
                b.example/m v0.10.0
                c.example/m v1.1.0
                b.example/m v0.11.0
            )""",
            """module m
            go 1.21
            exclude (
                a.example/m v1.0.0
                b.example/m v0.9.0
                b.example/m v0.10.0
                b.example/m v0.11.0
                c.example/m v1.1.0
            )
            """,
            True,
        ),
        (
            """module m
            exclude (
                b.example/m v0.9.0
                a.example/m v1.0.0
                b.example/m v0.10.0
                c.example/m v1.1.0
                b.example/m v0.11.0
            )""",
            """module m
            exclude (
                a.example/m v1.0.0
                b.example/m v0.10.0
                b.example/m v0.11.0
                b.example/m v0.9.0
                c.example/m v1.1.0
            )
            """,
            True,
        ),
    ],
    ids=[
        "exclude_duplicates_removed",
        "replace_duplicates_removed",
        "retract_duplicates_not_removed",
        "sort_lexicographically",
        "sort_retract",
        "sort_exclude_go121_semver",
        "sort_exclude_!go121_lexicographically",
    ],
)
def test_sort_blocks(before: str, after: str, strict: bool) -> None:
    _edit(before, after, lambda f: f.sort_blocks(), strict=strict)


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

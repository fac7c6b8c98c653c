"""Editing go.mod requirements: ports of x/mod rule_test.go's require edit tables.

Like x/mod's testEdit, each case parses ``before``, applies the edit, formats, and compares with
the formatted parse of ``after`` (so layout differences in ``after`` do not matter).
"""

from __future__ import annotations

import re

import pytest

from gomodproxy.module.modfile import (
    ModFile,
    ModuleVersion,
    Require,
    parse,
)
from tests.unit._modfile_edit import edit_case as _edit

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

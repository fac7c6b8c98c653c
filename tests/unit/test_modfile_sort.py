"""Sorting go.mod blocks and removing duplicates: x/mod rule_test.go's sortBlocksTests.

Like x/mod's testEdit, each case parses ``before``, applies the edit, formats, and compares with
the formatted parse of ``after`` (so layout differences in ``after`` do not matter).
"""

from __future__ import annotations

import pytest

from tests.unit._modfile_edit import edit_case as _edit

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

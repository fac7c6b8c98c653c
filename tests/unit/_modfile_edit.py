"""Shared by the go.mod edit tests: x/mod rule_test.go's testEdit."""

from __future__ import annotations

from collections.abc import Callable

from gomodproxy.module.modfile import ModFile, parse, parse_lax


def edit_case(
    before: str, after: str, transform: Callable[[ModFile], None], *, strict: bool = True
) -> ModFile:
    """Parse ``before``, apply ``transform``, and require the formatted parse of ``after``.

    Like x/mod's testEdit, layout differences in ``after`` do not matter.
    """
    parser = parse if strict else parse_lax
    f = parser("in", before.encode())
    want = parser("out", after.encode()).format()
    transform(f)
    assert f.format().decode() == want.decode()
    return f

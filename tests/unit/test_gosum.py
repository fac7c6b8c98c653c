"""go.sum reading, writing, merging and checking, as cmd/go ``modfetch/fetch.go`` does it."""

from __future__ import annotations

import pytest

from gomodproxy.errors import ChecksumMismatch, GoModSyntaxError
from gomodproxy.module.gosum import (
    EMPTY_GO_MOD_HASH,
    GoSum,
    MalformedGoSum,
    SumStatus,
    check_sum,
    find_conflicts,
    format_go_sum,
    merge,
    parse_go_sum,
)

REAL = (
    b"rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=\n"
    b"rsc.io/quote v1.5.2/go.mod h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=\n"
    b"rsc.io/sampler v1.3.0 h1:7uVkIFmeBqHfdjD+gZwtXXI+RODJ2Wc4O7MPEh/QiW4=\n"
    b"rsc.io/sampler v1.3.0/go.mod h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=\n"
    b"golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c "
    b"h1:qgOY6WgZOaTkIIMiVjBQcw93ERBE4m30iBm00nkL0i8=\n"
    b"golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c/go.mod "
    b"h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=\n"
)

H_A = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
H_B = "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="


def test_parse_reads_zip_and_go_mod_lines() -> None:
    gs = parse_go_sum(REAL)
    assert gs.hashes("rsc.io/quote", "v1.5.2") == (
        "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=",
    )
    assert gs.go_mod_hashes("rsc.io/sampler", "v1.3.0") == (
        "h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=",
    )
    assert gs.hashes("rsc.io/quote", "v9.9.9") == ()


def test_format_sorts_like_module_sort() -> None:
    # golang.org sorts before rsc.io; within a key the bare version precedes /go.mod.
    lines = REAL.splitlines(keepends=True)
    assert format_go_sum(parse_go_sum(REAL)) == b"".join(lines[4:] + lines[:4])
    text = (
        b"x.y/m v1.10.0 " + H_A.encode() + b"\n"
        b"x.y/m v1.9.0/go.mod " + H_A.encode() + b"\n"
        b"x.y/m v1.9.0 " + H_A.encode() + b"\n"
        b"x.y/m v1.2.3-pre " + H_A.encode() + b"\n"
        b"x.y/m v1.2.3 " + H_A.encode() + b"\n"
    )
    versions = [line.split()[1] for line in format_go_sum(parse_go_sum(text)).splitlines()]
    assert versions == [b"v1.2.3-pre", b"v1.2.3", b"v1.9.0", b"v1.9.0/go.mod", b"v1.10.0"]


def test_format_sorts_and_deduplicates_hashes_of_one_key() -> None:
    text = f"x.y/m v1.0.0 {H_B}\nx.y/m v1.0.0 {H_A}\nx.y/m v1.0.0 {H_B}\n".encode()
    assert format_go_sum(parse_go_sum(text)) == f"x.y/m v1.0.0 {H_A}\nx.y/m v1.0.0 {H_B}\n".encode()


def test_parse_skips_blank_lines_and_splits_on_go_white_space() -> None:
    text = f"\n  \t\nx.y/m\tv1.0.0 \u00a0{H_A}\r\n\n".encode()
    assert parse_go_sum(text).hashes("x.y/m", "v1.0.0") == (H_A,)


def test_parse_does_not_split_on_characters_go_does_not_call_space() -> None:
    # Python's str.split() splits on U+001C..U+001F; strings.Fields does not.
    text = f"x.y/m\x1cv1.0.0 {H_A}\n".encode()
    with pytest.raises(MalformedGoSum) as info:
        parse_go_sum(text)
    assert info.value.fields == 2


def test_parse_reports_a_malformed_line_with_its_number() -> None:
    text = f"x.y/m v1.0.0 {H_A}\n\nx.y/m v1.0.0\n".encode()
    with pytest.raises(MalformedGoSum) as info:
        parse_go_sum(text, "some/go.sum")
    assert info.value.line == 3
    assert str(info.value) == "malformed go.sum:\nsome/go.sum:3: wrong number of fields 2"
    assert isinstance(info.value, GoModSyntaxError)


def test_parse_lax_skips_malformed_lines_like_go_mod_tidy() -> None:
    text = f"x.y/m v1.0.0 {H_A} extra\nx.y/n v1.0.0 {H_B}\n".encode()
    gs = parse_go_sum(text, lax=True)
    assert gs.hashes("x.y/m", "v1.0.0") == ()
    assert gs.hashes("x.y/n", "v1.0.0") == (H_B,)


def test_parse_drops_the_empty_go_mod_hash_of_an_old_bug() -> None:
    text = f"x.y/m v1.0.0/go.mod {EMPTY_GO_MOD_HASH}\nx.y/m v1.0.0/go.mod {H_A}\n".encode()
    assert parse_go_sum(text).go_mod_hashes("x.y/m", "v1.0.0") == (H_A,)


def test_with_hash_adds_once_and_leaves_the_original_unchanged() -> None:
    gs = parse_go_sum(REAL)
    added = gs.with_hash("x.y/m", "v1.0.0", H_A).with_hash("x.y/m", "v1.0.0", H_A)
    assert added.hashes("x.y/m", "v1.0.0") == (H_A,)
    assert gs.hashes("x.y/m", "v1.0.0") == ()


def test_merge_is_the_union() -> None:
    ours = GoSum.from_lines([("x.y/m", "v1.0.0", H_A)])
    theirs = GoSum.from_lines([("x.y/m", "v1.0.0", H_A), ("x.y/n", "v2.0.0/go.mod", H_B)])
    merged = merge(ours, theirs)
    assert merged.lines() == [("x.y/m", "v1.0.0", H_A), ("x.y/n", "v2.0.0/go.mod", H_B)]


def test_merge_reports_conflicting_h1_hashes_instead_of_keeping_one() -> None:
    ours = GoSum.from_lines([("x.y/m", "v1.0.0", H_A)])
    theirs = GoSum.from_lines([("x.y/m", "v1.0.0", H_B)])
    (conflict,) = find_conflicts(ours, theirs)
    assert (conflict.path, conflict.version, conflict.ours, conflict.theirs) == (
        "x.y/m",
        "v1.0.0",
        (H_A,),
        (H_B,),
    )
    with pytest.raises(ChecksumMismatch) as info:
        merge(ours, theirs)
    assert "x.y/m@v1.0.0: checksum mismatch" in str(info.value)


def test_merge_accepts_other_algorithms_next_to_h1() -> None:
    ours = GoSum.from_lines([("x.y/m", "v1.0.0", H_A)])
    theirs = GoSum.from_lines([("x.y/m", "v1.0.0", "h2:future")])
    assert find_conflicts(ours, theirs) == []
    assert merge(ours, theirs).hashes("x.y/m", "v1.0.0") == (H_A, "h2:future")


def test_check_sum_statuses() -> None:
    gs = GoSum.from_lines([("x.y/m", "v1.0.0", H_A), ("x.y/n", "v1.0.0", "h2:other")])
    assert check_sum(gs, "x.y/m", "v1.0.0", H_A) is SumStatus.OK
    assert check_sum(gs, "x.y/z", "v1.0.0", H_A) is SumStatus.MISSING
    assert check_sum(gs, "x.y/n", "v1.0.0", H_A) is SumStatus.UNKNOWN_ALGORITHMS
    with pytest.raises(ChecksumMismatch) as info:
        check_sum(gs, "x.y/m", "v1.0.0", H_B)
    assert (info.value.expected, info.value.received, info.value.source) == (H_A, H_B, "go.sum")


def test_check_sum_fails_on_the_first_differing_h1_even_if_a_later_one_matches() -> None:
    # haveModSumLocked walks the list in order and stops at the first h1 that differs.
    gs = GoSum.from_lines([("x.y/m", "v1.0.0", H_A), ("x.y/m", "v1.0.0", H_B)])
    with pytest.raises(ChecksumMismatch):
        check_sum(gs, "x.y/m", "v1.0.0", H_B)
    assert check_sum(gs, "x.y/m", "v1.0.0", H_A) is SumStatus.OK


def test_round_trip_of_a_tidy_go_sum_is_identical() -> None:
    tidy = format_go_sum(parse_go_sum(REAL))
    assert format_go_sum(parse_go_sum(tidy)) == tidy

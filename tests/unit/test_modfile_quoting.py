"""Go string quoting for go.mod tokens (cases from Go's strconv quote_test.go and x/mod)."""

from __future__ import annotations

import pytest

from gomodproxy.module.gostrings import (
    go_fields,
    go_quote,
    go_quote_rune,
    go_trim_space,
    go_unquote,
    is_print,
    is_space,
)
from gomodproxy.module.modfile import auto_quote, must_quote


def _s(data: bytes) -> str:
    """Go string bytes as this package holds them (surrogateescape)."""
    return data.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("s", "quoted"),
    [
        ("\a\b\f\r\n\t\v", '"\\a\\b\\f\\r\\n\\t\\v"'),
        ("\\", '"\\\\"'),
        (_s(b"abc\xffdef"), '"abc\\xffdef"'),
        ("\u263a", '"\u263a"'),
        ("\U0010ffff", '"\\U0010ffff"'),
        ("\x04", '"\\x04"'),
        ("!\u00a0!\u2000!\u3000!", '"!\\u00a0!\\u2000!\\u3000!"'),
        ("\x7f", '"\\x7f"'),
        ("\ufeff", '"\\ufeff"'),
        ('a "b"', '"a \\"b\\""'),
        ("caf\u00e9", '"caf\u00e9"'),
    ],
)
def test_go_quote_matches_strconv_quote(s: str, quoted: str) -> None:
    assert go_quote(s) == quoted


@pytest.mark.parametrize(
    ("ch", "quoted"),
    [("a", "'a'"), ("'", "'\\''"), ('"', "'\"'"), ("\ufeff", "'\\ufeff'"), ("\x01", "'\\x01'")],
)
def test_go_quote_rune_matches_strconv_quote_rune(ch: str, quoted: str) -> None:
    assert go_quote_rune(ch) == quoted


@pytest.mark.parametrize(
    ("quoted", "s"),
    [
        ('""', ""),
        ('"a"', "a"),
        ('"abc"', "abc"),
        ('"\u263a"', "\u263a"),
        ('"hello world"', "hello world"),
        ('"\\xFF"', _s(b"\xff")),
        ('"\\377"', _s(b"\xff")),
        ('"\\u1234"', "\u1234"),
        ('"\\U00010111"', "\U00010111"),
        ('"\\U0001011111"', "\U0001011111"),
        ('"\\a\\b\\f\\n\\r\\t\\v\\\\\\""', '\a\b\f\n\r\t\v\\"'),
        ('"\'"', "'"),
        ("`a`", "a"),
        ("`\\n`", "\\n"),
        ("`\\xFF`", "\\xFF"),
        ("`a\rb`", "ab"),
        ('"\u00e9\\u00e9"', "\u00e9\u00e9"),
    ],
)
def test_go_unquote_matches_strconv_unquote(quoted: str, s: str) -> None:
    assert go_unquote(quoted) == s


@pytest.mark.parametrize(
    "quoted",
    [
        "",
        '"',
        '"a',
        "\"'",
        'b"',
        '"\\"',
        '"\\9"',
        '"\\19"',
        '"\\129"',
        '"\\400"',
        '"\\x1"',
        '"\\xa"',
        '"\\u12"',
        '"\\U0001"',
        '"\\z"',
        '"\\\'"',
        '"\\ud800"',
        '"\\U00110000"',
        '"a\nb"',
        "`",
        "`xxx",
        "`a`b`",
        '"a"b',
    ],
)
def test_go_unquote_rejects_what_strconv_rejects(quoted: str) -> None:
    with pytest.raises(ValueError, match="invalid syntax"):
        go_unquote(quoted)


def test_go_unquote_reads_only_the_string_forms_go_mod_uses() -> None:
    # strconv.Unquote also reads 'a' (a rune literal); go.mod never unquotes one.
    with pytest.raises(ValueError, match="invalid syntax"):
        go_unquote("'a'")


def test_unquote_turns_a_raw_non_utf8_byte_into_the_replacement_character() -> None:
    assert go_unquote(_s(b'"a\x80b"')) == "a\ufffdb"
    assert go_unquote(_s(b'"a\x80\\tb"')) == "a\ufffd\tb"


@pytest.mark.parametrize(
    ("s", "must"),
    [
        ("x.y/z", False),
        ("a b", True),
        ("", True),
        ("a//b", True),
        ("a/*b", True),
        ("(", False),
        ("(a", True),
        ("./a,", True),
        ("a'b", True),
        ("a`b", True),
        ('a"b', True),
        ("caf\u00e9", False),
        ("a\x01", True),
        ("a\u00a0", True),
        (_s(b"a\x80"), False),
    ],
)
def test_must_quote_matches_x_mod(s: str, must: bool) -> None:
    assert must_quote(s) is must
    assert auto_quote(s) == (go_quote(s) if must else s)


def test_go_character_classes() -> None:
    assert is_print(" ")
    assert is_print("\u263a")
    assert not is_print("\u00a0")
    assert not is_print("\u2000")
    assert not is_print("\ufeff")
    assert not is_print("\u0378")  # unassigned
    assert all(is_space(c) for c in "\t\n\v\f\r \x85\xa0\u2000\u3000")
    assert not is_space("\x1c")  # Python calls it whitespace; Go does not
    assert go_trim_space("\u00a0 x \x85") == "x"
    assert go_trim_space("\x1cx") == "\x1cx"
    assert go_fields(" indirect;\u00a0why \x1c ") == ["indirect;", "why", "\x1c"]

"""go.mod parse errors and comment-derived values: x/mod rule_test.go tables (retract rationale,
module deprecation, version fixers) and error messages checked against ``go mod edit -fmt``
(go 1.26)."""

from __future__ import annotations

import pytest

from gomodproxy.errors import GoModSyntaxError, InvalidVersion
from gomodproxy.module.modfile import (
    GoModParseError,
    VersionInterval,
    parse,
    parse_lax,
)

# --- errors, worded and placed like x/mod (checked against go 1.26) ------------------------


@pytest.mark.parametrize(
    ("src", "message"),
    [
        (
            b"module m\nrequire (\n\tx.y/z v1.x\n)\n",
            'go.mod:3:2: require x.y/z: version "v1.x" invalid: must be of the form v1.2.3',
        ),
        (b'module m\nrequire "x.y/z v1.0.0\n', "go.mod:2:22: unexpected newline in string"),
        (
            b"module m /* c */\n",
            "go.mod:1:10: mod files must use // comments (not /* */ comments)",
        ),
        (b"module m\n/* c */\n", "go.mod:2: mod files must use // comments (not /* */ comments)"),
        (b"\xef\xbb\xbfmodule m\n", "go.mod:1: unexpected input character '\\ufeff'"),
        (b"module m\nrequire a v1.0.0\x01\n", "go.mod:2:17: unexpected input character '\\x01'"),
        (
            b"module m\nrequire (\n\tx v1.0.0\n",
            "go.mod:4: syntax error (unterminated block started at go.mod:2:1)",
        ),
        (
            b"module m\nrequire (\n\tx v1.0.0\n) x\n",
            "go.mod:4:4: syntax error (expected newline after closing paren)",
        ),
        (b'module m\nrequire "a v1.0.0', "go.mod:2:9: unexpected EOF in string"),
        (
            b"module m\nretract v1.0.0 v1.0.1\n",
            'go.mod:2: unexpected token after version: "v1.0.1"',
        ),
        (b"module m\nretract (v1.0.0, v1.0.1]\n", "go.mod:2: expected '[' or version"),
        (b"module m\nretract [v1.0.0 v1.0.1]\n", "go.mod:2: expected ',' after version"),
        (b"module m\nretract [v1.0.0,\n", "go.mod:2: expected version after ','"),
        (b"module m\nretract\n", "go.mod:2: expected '[' or version"),
        (b"module m\ngodebug foo\n", "go.mod:2: usage: godebug key=value"),
        (b'module m\ngodebug "a=b"\n', "go.mod:2: usage: godebug key=value"),
        (b"module m\ntool\n", "go.mod:2: tool directive expects exactly one argument"),
        (b"module m\nignore a b\n", "go.mod:2: ignore directive expects exactly one argument"),
        (
            b"module m\ntoolchain bad\n",
            "go.mod:2: invalid toolchain version 'bad': must match format go1.23.0 or default",
        ),
        (b"module m\ngo 1.21\ngo 1.22\n", "go.mod:3: repeated go statement"),
        (
            b"module 'm'\n",
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote",
        ),
        (b'module "m\\q"\n', "go.mod:1: invalid quoted string: invalid syntax"),
        (
            b"module m\nrequire `a` v1.0.0\n",
            "go.mod:2: invalid quoted string: unquoted string cannot contain quote",
        ),
        (b"module m\nexclude x.y/z v1.0.0 extra\n", "go.mod:2: usage: exclude module/path v1.2.3"),
        (b"module m\nrequire x.y/z/v0 v0.1.0\n", "go.mod:2: invalid module path"),
        (b"module m\nfoo (\n\tbar\n)\n", "go.mod:2: unknown block type: foo"),
        (b"module\n", "go.mod:1: usage: module module/path"),
    ],
)
def test_syntax_errors_match_x_mod(src: bytes, message: str) -> None:
    with pytest.raises(GoModParseError) as info:
        parse("go.mod", src)
    assert str(info.value) == message


def test_parse_error_is_a_go_mod_syntax_error_with_every_problem() -> None:
    with pytest.raises(GoModSyntaxError) as info:
        parse("a/go.mod", b"module m\nfoo\nrequire (\n\tx v1\n\ty\n)\n")
    err = info.value
    assert isinstance(err, GoModParseError)
    assert (err.filename, err.line, err.reason) == ("a/go.mod", 2, "unknown directive: foo")
    assert [(e.line, e.column) for e in err.errors] == [(2, 1), (5, 2)]
    assert err.errors[1].directive_message() == "usage: require module/path v1.2.3"
    assert str(err) == (
        "a/go.mod:2: unknown directive: foo\na/go.mod:5:2: usage: require module/path v1.2.3"
    )


def test_non_utf8_bytes_are_kept_except_inside_quotes_like_go() -> None:
    # Unquoting turns a byte that is not UTF-8 into U+FFFD, as Go's strconv.Unquote does.
    f = parse("go.mod", b'module m\nrequire "a\x80" v1.0.0\n')
    assert f.format() == b"module m\n\nrequire a\xef\xbf\xbd v1.0.0\n"
    raw = parse_lax("go.mod", b"module m\nfoo a\x80 b\n")
    assert raw.format() == b"module m\n\nfoo a\x80 b\n"
    with pytest.raises(GoModParseError) as info:
        parse("go.mod", b"module m\n\xa0\n")
    assert str(info.value) == "go.mod:2: unknown directive: \udca0"


# --- retract rationale (retractRationaleTests) --------------------------------------------


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ("module m\nretract v1.0.0", ""),
        ("module m\n//   prefix\nretract v1.0.0 \n", "prefix"),
        (
            "module m\n//  one\n//\n//     two\n//\n// three  \nretract v1.0.0",
            "one\n\ntwo\n\nthree",
        ),
        ("module m\nretract v1.0.0 // suffix\n", "suffix"),
        ("module m\n// prefix\nretract v1.0.0 // suffix\n", "prefix\nsuffix"),
        ("// block\nretract (\n\tv1.0.0\n)\n", "block"),
        ("// block\nretract (\n\t// line\n\tv1.0.0\n)\n", "line"),
    ],
    ids=[
        "no_comment",
        "prefix_one",
        "prefix_multiline",
        "suffix",
        "prefix_suffix_after",
        "block_only",
        "block_and_line",
    ],
)
def test_retract_rationale_comes_from_its_comments(src: str, want: str) -> None:
    f = parse("in", src.encode())
    assert len(f.retract) == 1
    assert f.retract[0].rationale == want


def test_retract_intervals_are_read() -> None:
    f = parse("in", b'module m\nretract [v1.0.0, "v1.1.0"]\nretract v0.9.0\n')
    assert [r.interval for r in f.retract] == [
        VersionInterval("v1.0.0", "v1.1.0"),
        VersionInterval("v0.9.0", "v0.9.0"),
    ]
    assert f.format() == b"module m\n\nretract [v1.0.0, v1.1.0]\n\nretract v0.9.0\n"


# --- module deprecation (moduleDeprecatedTests) -------------------------------------------


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ("module m", ""),
        ("// yo\nmodule m", ""),
        ("//Deprecated\nmodule m", ""),
        ("//Deprecated:blah\nmodule m", "blah"),
        ("// Deprecated: blah\nmodule m", "blah"),
        ("// deprecated: blah\nmodule m", ""),
        ("// Deprecated: one\n// two\nmodule m", "one\ntwo"),
        ("// some other comment\n// Deprecated: blah\nmodule m", ""),
        ("// module m is Deprecated: blah\nmodule m", ""),
        ("// Deprecated: a\n// Deprecated: b\nmodule m", "a\nDeprecated: b"),
        ("// Deprecated: a\n// b\n//\n// c\nmodule m", "a\nb"),
        (
            "// Deprecated: the next line has a space\n// \n// c\nmodule m",
            "the next line has a space",
        ),
        ("module m // Deprecated: blah", "blah"),
        ("// some other comment\nmodule m // Deprecated: blah", ""),
        ("// some other comment\n//\nmodule m // Deprecated: blah", "blah"),
        ("// Deprecated: blah\nmodule (\n\tm\n)", "blah"),
        ("// Deprecated: ends with an empty line\n//\nmodule m", "ends with an empty line\n"),
    ],
    ids=[
        "no_comment",
        "other_comment",
        "deprecated_no_colon",
        "deprecated_no_space",
        "deprecated_simple",
        "deprecated_lowercase",
        "deprecated_multiline",
        "deprecated_mixed",
        "deprecated_middle",
        "deprecated_multiple",
        "deprecated_paragraph",
        "deprecated_paragraph_space",
        "deprecated_suffix",
        "deprecated_mixed_suffix",
        "deprecated_mixed_suffix_paragraph",
        "deprecated_block",
        "deprecated_trailing_empty_line_is_go_regexp_end",
    ],
)
def test_module_deprecation_is_the_deprecated_paragraph(src: str, want: str) -> None:
    f = parse("in", src.encode())
    assert f.module is not None
    assert f.module.deprecated == want


# --- version fixers (fixVersionTests) -----------------------------------------------------


def _fix_v(path: str, version: str) -> str:
    if path != "example.com/m":
        raise ValueError("module path must be example.com/m")
    return "v" + version


def _fix_invalid(path: str, version: str) -> str:
    raise InvalidVersion(version, "unknown revision")


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ("require example.com/m 1.0.0", "require example.com/m v1.0.0"),
        (
            "replace example.com/m 1.0.0 => example.com/m 1.1.0",
            "replace example.com/m v1.0.0 => example.com/m v1.1.0",
        ),
        ("exclude example.com/m 1.0.0", "exclude example.com/m v1.0.0"),
        ("module example.com/m\nretract 1.0.0", "module example.com/m\nretract v1.0.0"),
        (
            "module example.com/m\nretract [1.0.0, 1.1.0]",
            "module example.com/m\nretract [v1.0.0, v1.1.0]",
        ),
    ],
    ids=["require", "replace", "exclude", "retract_single", "retract_interval"],
)
def test_a_version_fixer_rewrites_versions(src: str, want: str) -> None:
    got = parse("in", src.encode(), fix=_fix_v).format()
    assert got == parse("out", want.encode()).format()


@pytest.mark.parametrize(
    ("src", "want_error"),
    [
        (
            "replace example.com/m@v1.0.0 => example.com/m@v1.1.0",
            "replacement module must match format 'path version', not 'path@version'",
        ),
        (
            "replace example.com/m => example.com/m@v1.1.0",
            "replacement module must match format 'path version', not 'path@version'",
        ),
        ("retract 1.0.0", "in:1: no module directive found, so retract cannot be used"),
        ("require example.com/other 1.0.0", "in:1: module path must be example.com/m"),
    ],
    ids=["replace_version_in_path", "replace_version_in_later_path", "retract_nomod", "fixer"],
)
def test_a_version_fixer_reports_problems(src: str, want_error: str) -> None:
    with pytest.raises(GoModParseError) as info:
        parse("in", src.encode(), fix=_fix_v)
    assert want_error in str(info.value)


def test_a_fixer_refusing_a_version_names_the_directive() -> None:
    with pytest.raises(GoModParseError) as info:
        parse("in", b"module m\nrequire a.b/c master\n", fix=_fix_invalid)
    assert str(info.value) == 'in:2: require a.b/c: version "master" invalid: unknown revision'

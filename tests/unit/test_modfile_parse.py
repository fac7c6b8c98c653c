"""Parsing go.mod files: ports of x/mod modfile read_test.go tables (lexing, comments,
ModulePath, go/toolchain versions, lax parsing), version canonicalisation and replacements."""

from __future__ import annotations

import re

import pytest

from gomodproxy.module.modfile import (
    CommentBlock,
    Comments,
    GoModParseError,
    Line,
    LineBlock,
    ModuleVersion,
    VersionInterval,
    is_directory_path,
    module_path,
    parse,
    parse_lax,
    parse_syntax,
)

# --- lexing (TestParsePunctuation) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ("require ()", "require ( )"),
        ("require []{},", "require [ ] { } ,"),
        ("require a[b]c{d}e,", "require a [ b ] c { d } e ,"),
        ("require (\n\ta[b]\n)", "require ( a [ b ] )"),
        ("require [v1.0.0, v1.1.0)", "require [ v1.0.0 , v1.1.0 )"),
    ],
    ids=["paren", "brackets", "mix", "block_mix", "interval"],
)
def test_punctuation_is_lexed_as_separate_tokens(src: str, want: str) -> None:
    tokens: list[str] = []
    for stmt in parse_syntax("go.mod", src.encode()).stmt:
        if isinstance(stmt, Line):
            tokens += stmt.token
        elif isinstance(stmt, LineBlock):
            tokens += [*stmt.token, "("]
            for line in stmt.line:
                tokens += line.token
            tokens.append(")")
        else:
            pytest.fail(f"unexpected statement {stmt!r}")
    assert " ".join(tokens) == want


def test_quoted_strings_keep_their_quotes_in_the_syntax_tree() -> None:
    stmt = parse_syntax("go.mod", b'replace "a b" => `c d` x"y\n').stmt[0]
    assert isinstance(stmt, Line)
    assert stmt.token == ["replace", '"a b"', "=>", "`c d`", 'x"y']


# --- comment attachment (TestComments) ---------------------------------------------------


def _comment_report(src: str) -> list[str]:
    f = parse_lax("go.mod", src.encode())
    out: list[str] = []

    def report(prefix: str, cs: Comments) -> None:
        out.extend(f"{prefix} before {c.token!r}" for c in cs.before)
        out.extend(f"{prefix} suffix {c.token!r}" for c in cs.suffix)
        out.extend(f"{prefix} after {c.token!r}" for c in cs.after)

    report("file", f.syntax.comments)
    for stmt in f.syntax.stmt:
        if isinstance(stmt, CommentBlock):
            report("comments", stmt.comments)
        elif isinstance(stmt, Line):
            report("line", stmt.comments)
        else:
            report("block", stmt.comments)
            report("lparen", stmt.lparen.comments)
            for line in stmt.line:
                report("blockline", line.comments)
            report("rparen", stmt.rparen.comments)
    return out


def test_comments_only_file_is_one_comment_block() -> None:
    assert _comment_report("\n// a\n// b\n") == [
        "comments before '// a'",
        "comments before '// b'",
    ]


def test_comments_attach_to_the_line_they_precede_and_follow() -> None:
    src = "\n// a\n\n// b\nmodule m // c\n// d\n\n// e\n"
    assert _comment_report(src) == [
        "comments before '// a'",
        "line before '// b'",
        "line suffix '// c'",
        "comments before '// d'",
        "comments before '// e'",
    ]


def test_comments_in_a_block_attach_to_parens_and_lines() -> None:
    src = (
        "\n// a\n\n// b\nblock ( // c\n\t// d\n\n\t// e\n\tx // f\n\t// g\n\n\t// h\n) // i\n"
        "// j\n\n// k\n"
    )
    assert _comment_report(src) == [
        "comments before '// a'",
        "block before '// b'",
        "lparen suffix '// c'",
        "blockline before '// d'",
        "blockline before ''",
        "blockline before '// e'",
        "blockline suffix '// f'",
        "rparen before '// g'",
        "rparen before ''",
        "rparen before '// h'",
        "rparen suffix '// i'",
        "comments before '// j'",
        "comments before '// k'",
    ]


def test_only_the_final_crlf_is_removed_from_a_comment() -> None:
    assert _comment_report("// a\r\r\n") == ["comments before '// a\\r'"]


# --- ModulePath (modulePathTests) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (b'module "github.com/rsc/vgotest"', "github.com/rsc/vgotest"),
        (b"module github.com/rsc/vgotest", "github.com/rsc/vgotest"),
        (b'module  "github.com/rsc/vgotest"', "github.com/rsc/vgotest"),
        (b"module  github.com/rsc/vgotest", "github.com/rsc/vgotest"),
        (b"module `github.com/rsc/vgotest`", "github.com/rsc/vgotest"),
        (b'module "github.com/rsc/vgotest/v2"', "github.com/rsc/vgotest/v2"),
        (b"module github.com/rsc/vgotest/v2", "github.com/rsc/vgotest/v2"),
        (b'module "gopkg.in/yaml.v2"', "gopkg.in/yaml.v2"),
        (b"module gopkg.in/yaml.v2", "gopkg.in/yaml.v2"),
        (b'module "gopkg.in/check.v1"\n', "gopkg.in/check.v1"),
        (b'module "gopkg.in/check.v1\n"', ""),
        (b"module gopkg.in/check.v1\n", "gopkg.in/check.v1"),
        (b'module "gopkg.in/check.v1"\r\n', "gopkg.in/check.v1"),
        (b"module gopkg.in/check.v1\r\n", "gopkg.in/check.v1"),
        (b'module "gopkg.in/check.v1"\n\n', "gopkg.in/check.v1"),
        (b"module gopkg.in/check.v1\n\n", "gopkg.in/check.v1"),
        (b'module \n"gopkg.in/check.v1"\n\n', ""),
        (b"module \ngopkg.in/check.v1\n\n", ""),
        (b'module "gopkg.in/check.v1"asd', ""),
        (b"module  \nmodule a/b/c ", "a/b/c"),
        (b'module "   "', "   "),
        (b"module   ", ""),
        (b'module "  a/b/c  "', "  a/b/c  "),
        (b'module "github.com/rsc/vgotest1" // with a comment', "github.com/rsc/vgotest1"),
    ],
)
def test_module_path_finds_the_first_module_line(data: bytes, want: str) -> None:
    assert module_path(data) == want


# --- go and toolchain versions (TestParseVersions) ----------------------------------------

_VERSION_LINES = [
    # (input, strict ok, lax ok)
    ("module m\ngo \n", False, False),
    ("module m\ngo 1\n", False, False),
    ("module m\ngo 1.22\n", True, True),
    ("module m\ngo 1.22.333", True, True),
    # x/mod's table allows either result here; its lax regexp needs text after "1.2".
    ("module m\ngo v1.2\n", False, False),
    ("module m\ngo 1.2rc1\n", True, True),
    ("module m\ngo 1.2 3.4\n", False, False),
    ("module m\ngo 1.2.3\n", True, True),
    ("module m\ngo 1.2beta1\n", True, True),
    ("module m\ngo 1.2.beta1\n", False, True),
    ("module m\ngo v1.2.3\n", False, True),
    ("module m\ngo v1.2rc1\n", False, True),
    ("module m\ngo v1.2beta1\n", False, True),
    ("module m\ngo v1.2.beta1\n", False, True),
    ("module m\ntoolchain go1.2\n", True, True),
    ("module m\ntoolchain go1.2.3\n", True, True),
    ("module m\ntoolchain go1.2rc1\n", True, True),
    ("module m\ntoolchain gccgo-go1.2rc1\n", False, True),
    ("module m\ntoolchain local\n", False, True),
    ("module m\ntoolchain inconceivable!\n", False, True),
    ("module m\ntoolchain default\n", True, True),
]


@pytest.mark.parametrize(("src", "strict_ok", "lax_ok"), _VERSION_LINES)
def test_go_and_toolchain_versions_strict_and_lax(src: str, strict_ok: bool, lax_ok: bool) -> None:
    for parser, ok in ((parse, strict_ok), (parse_lax, lax_ok)):
        if ok:
            parser("go.mod", src.encode())
        else:
            with pytest.raises(GoModParseError):
                parser("go.mod", src.encode())


def test_x_mod_go_version_table_agrees_with_this_table() -> None:
    # x/mod's TestParseVersions lists "gccgo-go1.2rc1" and "local" as ok in strict mode,
    # but its ToolchainRE (^default$|^go1($|\.)) rejects them and so does go 1.26:
    # "invalid toolchain version 'local': must match format go1.23.0 or default".
    with pytest.raises(GoModParseError, match=re.escape("invalid toolchain version 'local'")):
        parse("go.mod", b"module m\ntoolchain local\n")


def test_lax_parse_cuts_a_sloppy_go_version_to_major_minor() -> None:
    f = parse_lax("go.mod", b"module m\ngo 1.14beta\n")
    assert f.go is not None
    assert f.go.version == "1.14"
    assert f.format() == b"module m\n\ngo 1.14\n"
    with pytest.raises(GoModParseError, match=re.escape("invalid go version '1.14beta'")):
        parse("go.mod", b"module m\ngo 1.14beta\n")


# --- lax parsing (TestParseLax) -----------------------------------------------------------


def test_lax_parse_ignores_directives_a_dependency_does_not_need() -> None:
    bad = (
        b"module m\n\t\tsurprise attack\n\t\tx y (\n\t\t\tz\n\t\t)\n\t\texclude v1.2.3\n"
        b"\t\treplace <-!!!\n\t\tretract v1.2.3 v1.2.4\n\t\tretract (v1.2.3, v1.2.4]\n"
        b"\t\tretract v1.2.3 (\n\t\t\tkey1 value1\n\t\t\tkey2 value2\n\t\t)\n"
        b"\t\trequire good v1.0.0\n"
    )
    f = parse_lax("file", bad)
    assert f.module is not None
    assert f.module.mod.path == "m"
    assert [r.mod.path for r in f.require] == ["good"]


def test_lax_parse_keeps_module_go_require_retract_and_ignore_only() -> None:
    src = (
        b"module example.com/m\ngo 1.22\ntoolchain go1.22.1\ngodebug x=1\n"
        b"require a.b/c v1.0.0\nexclude a.b/c v0.9.0\nreplace a.b/c => ../c\n"
        b"retract v0.1.0\ntool a.b/c/cmd\nignore ./vendor\n"
    )
    lax = parse_lax("go.mod", src)
    assert lax.module is not None
    assert lax.module.path == "example.com/m"
    assert lax.go is not None
    assert lax.go.version == "1.22"
    assert (lax.toolchain, lax.godebug, lax.exclude, lax.replace, lax.tool) == (
        None,
        [],
        [],
        [],
        [],
    )
    assert [r.mod for r in lax.require] == [ModuleVersion("a.b/c", "v1.0.0")]
    assert [r.interval for r in lax.retract] == [VersionInterval("v0.1.0", "v0.1.0")]
    assert [i.path for i in lax.ignore] == ["./vendor"]
    strict = parse("go.mod", src)
    assert strict.toolchain is not None
    assert strict.toolchain.name == "go1.22.1"
    assert [(g.key, g.value) for g in strict.godebug] == [("x", "1")]
    assert [x.mod for x in strict.exclude] == [ModuleVersion("a.b/c", "v0.9.0")]
    assert [(r.old, r.new) for r in strict.replace] == [
        (ModuleVersion("a.b/c"), ModuleVersion("../c"))
    ]
    assert [t.path for t in strict.tool] == ["a.b/c/cmd"]


def test_lax_parse_still_reports_bad_requirements() -> None:
    with pytest.raises(GoModParseError, match=re.escape("must be of the form v1.2.3")):
        parse_lax("go.mod", b"module m\nrequire a.b/c v1.x\n")


# --- versions in require, exclude and replace ---------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("v1.2", "v1.2.0"),
        ("v1", "v1.0.0"),
        ("v1.2.3+build", "v1.2.3"),
        ("v2.0.0+incompatible", "v2.0.0+incompatible"),
        ('"v1.3.4-pre"', "v1.3.4-pre"),
        ("v0.0.0-20230101000000-abcdefabcdef", "v0.0.0-20230101000000-abcdefabcdef"),
    ],
)
def test_required_versions_are_canonicalised_without_a_fixer(written: str, canonical: str) -> None:
    f = parse("go.mod", f"module m\nrequire x.y/z {written}\n".encode())
    assert f.require[0].mod == ModuleVersion("x.y/z", canonical)
    assert f.format() == f"module m\n\nrequire x.y/z {canonical}\n".encode()


def test_major_version_must_match_the_module_path() -> None:
    f = parse("go.mod", b"module m\nrequire gopkg.in/yaml.v2 v2.2.1\nrequire x.y/z/v3 v3.0.1\n")
    assert [r.mod.version for r in f.require] == ["v2.2.1", "v3.0.1"]
    with pytest.raises(GoModParseError) as info:
        parse("go.mod", b"module m\nrequire x.y/z/v2 v1.2.3\nrequire x.y/z v2.0.0\n")
    assert str(info.value) == (
        'go.mod:2: require x.y/z/v2: version "v1.2.3" invalid: should be v2, not v1\n'
        'go.mod:3: require x.y/z: version "v2.0.0" invalid: should be v0 or v1, not v2'
    )


def test_indirect_comment_marks_a_requirement_indirect() -> None:
    f = parse(
        "go.mod",
        b"module m\nrequire (\n\ta v1.0.0 // indirect\n\tb v1.0.0 //indirect; why\n"
        b"\tc v1.0.0 // not indirect\n\td v1.0.0\n)\n",
    )
    assert [(r.mod.path, r.indirect) for r in f.require] == [
        ("a", True),
        ("b", True),
        ("c", False),
        ("d", False),
    ]


# --- replace ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [".", "..", "./a", "../a", ".\\a", "..\\a", "/abs", "\\abs", "C:\\dir", "c:/dir"],
)
def test_directory_paths_are_recognised_in_unix_and_windows_spellings(path: str) -> None:
    assert is_directory_path(path)


@pytest.mark.parametrize("path", ["a", "a/b", ".a", "...", "1:", "example.com/m", ""])
def test_module_paths_are_not_directory_paths(path: str) -> None:
    assert not is_directory_path(path)


def test_local_directory_replacements_take_no_version() -> None:
    f = parse(
        "go.mod",
        b"module m\nreplace x v1 => ./y\nreplace (\n\ta => ../a\n\tb v1.2.0 => b2.com/b v1.3\n)\n",
    )
    assert [(r.old, r.new) for r in f.replace] == [
        (ModuleVersion("x", "v1.0.0"), ModuleVersion("./y")),
        (ModuleVersion("a"), ModuleVersion("../a")),
        (ModuleVersion("b", "v1.2.0"), ModuleVersion("b2.com/b", "v1.3.0")),
    ]
    assert f.format() == (
        b"module m\n\nreplace x v1.0.0 => ./y\n\n"
        b"replace (\n\ta => ../a\n\tb v1.2.0 => b2.com/b v1.3.0\n)\n"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "replace x => y",
            "go.mod:2: replacement module without version must be directory path "
            "(rooted or starting with . or ..)",
        ),
        (
            "replace x => y@v1.0.0",
            "go.mod:2: replacement module must match format 'path version', not 'path@version'",
        ),
        (
            "replace x => ./y v1.0.0",
            'go.mod:2: replacement module directory path "./y" cannot have version',
        ),
        (
            "replace x/v2 v1.0.0 => ./y",
            'go.mod:2: replace x/v2: version "v1.0.0" invalid: should be v2, not v1',
        ),
        (
            "replace x",
            "go.mod:2: usage: replace module/path [v1.2.3] => other/module v1.4\n"
            "\t or replace module/path [v1.2.3] => ../local/directory",
        ),
    ],
)
def test_bad_replacements_are_refused(line: str, message: str) -> None:
    with pytest.raises(GoModParseError) as info:
        parse("go.mod", f"module m\n{line}\n".encode())
    assert str(info.value) == message


# --- public names ---------------------------------------------------------------------------


def test_modfile_package_exports_documented_names() -> None:
    import gomodproxy.module.modfile as modfile

    assert sorted(modfile.__all__) == sorted(
        [
            "GO_VERSION_RE",
            "TOOLCHAIN_RE",
            "Comment",
            "CommentBlock",
            "Comments",
            "Exclude",
            "Expr",
            "FileSyntax",
            "Go",
            "GoModParseError",
            "Godebug",
            "Ignore",
            "LParen",
            "Line",
            "LineBlock",
            "ModFile",
            "ModFileError",
            "ModFileVersionError",
            "Module",
            "ModuleVersion",
            "Position",
            "RParen",
            "Replace",
            "Require",
            "Retract",
            "Tool",
            "Toolchain",
            "Use",
            "VersionFixer",
            "VersionInterval",
            "WorkFile",
            "auto_quote",
            "format_file",
            "is_directory_path",
            "module_path",
            "must_quote",
            "parse",
            "parse_lax",
            "parse_syntax",
            "parse_work",
        ]
    )
    for name in modfile.__all__:
        member = getattr(modfile, name)
        if callable(member) and not isinstance(member, type(modfile.GO_VERSION_RE)):
            assert member.__doc__, f"{name} has no docstring"

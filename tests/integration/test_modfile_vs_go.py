"""go.mod and go.work parsing, editing and formatting held to the real go command.

``go mod edit -print`` parses a go.mod strictly (x/mod ``Parse`` without a fixer), applies its
edits, sorts blocks, cleans up and formats; ``go mod edit -json`` prints the interpreted file;
``go work edit -print`` does the same for go.work. Each case runs the go command and our port on
the same bytes and requires the same output, or the same error lines. Nothing touches the
network: GOPROXY is off.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.module.modfile import (
    GoModParseError,
    ModFile,
    ModuleVersion,
    VersionInterval,
    WorkFile,
    parse,
    parse_work,
)
from tests.gotool import go_binary, go_environ

pytestmark = pytest.mark.gocmd

_REPO_ROOT = Path(__file__).resolve().parents[2]
_TESTDATA = _REPO_ROOT / ".." / "shared" / "vectors" / "golang-mod" / "modfile" / "testdata"


class _Go:
    """Runs ``go mod edit`` / ``go work edit`` on bytes in a scratch folder."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "work"
        self.dir.mkdir()
        self.env = go_environ(home, goproxy="off")

    def edit(self, kind: str, data: bytes, flags: Sequence[str]) -> tuple[bool, bytes]:
        """Return (ok, output): the printed file, or the error lines after the header."""
        name = "go.mod" if kind == "mod" else "go.work"
        (self.dir / name).write_bytes(data)
        proc = subprocess.run(
            [go_binary(), kind, "edit", *flags, name],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if proc.returncode == 0:
            return True, proc.stdout
        lines = proc.stderr.rstrip(b"\n").split(b"\n")
        # Drop the "go: errors parsing go.mod:" header (go.work repeats it).
        while lines and lines[0].startswith((b"go: errors parsing", b"errors parsing")):
            lines.pop(0)
        return False, b"\n".join(lines)


@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory) -> _Go:
    return _Go(tmp_path_factory.mktemp("gomodedit"))


def _ours(
    data: bytes, edit: Callable[[ModFile], None] | None = None, *, sort: bool = True
) -> tuple[bool, bytes]:
    try:
        f = parse("go.mod", data)
    except GoModParseError as exc:
        return False, str(exc).encode("utf-8", "surrogateescape")
    if edit is not None:
        edit(f)
    if sort:
        f.sort_blocks()
        f.cleanup()
    return True, f.format()


# --- formatting and errors ------------------------------------------------------------------

_FORMAT_CASES = [
    b"module m\nrequire x.y/z v1.x\n",
    b"module m\nrequire (\n\tx.y/z v1.x\n)\n",
    b"module m\nrequire x.y/z/v2 v1.2.3\n",
    b"module m\nrequire x.y/z v2.0.0\n",
    b"module m\nrequire x.y/z v1\n",
    b'module m\nrequire "x.y/z v1.0.0\n',
    b'module m\nrequire x.y/z "v1.0.0\n',
    b"module m /* c */\n",
    b"module m\n/* c */\n",
    b"module m\nrequire x.y/z v1.0.0\xef\xbb\xbf\n",
    b"\xef\xbb\xbfmodule m\n",
    b"module m\nrequire (\n\tx v1.0.0\n",
    b"module m\nrequire (\n\tx v1.0.0\n) x\n",
    b"module m\nreplace x => y\n",
    b"module m\nreplace x => y@v1.0.0\n",
    b"module m\nreplace x => ./y v1.0.0\n",
    b"module m\nreplace x => a\\b\n",
    b"module m\nreplace x v1 => ./y\n",
    b"module m\nreplace x/v2 v1.0.0 => ./y\n",
    b"module m\nreplace x\n",
    b"module m\nretract v1.0.0 v1.0.1\n",
    b"module m\nretract (v1.0.0, v1.0.1]\n",
    b"module m\nretract [v1.0.0 v1.0.1]\n",
    b"module m\nretract [v1.0.0,\n",
    b"module m\nretract\n",
    b"module m\ngodebug foo\n",
    b'module m\ngodebug "a=b"\n',
    b"module m\ntool\n",
    b"module m\nignore a b\n",
    b"module m\ntoolchain bad\n",
    b"module m\ngo 1.21\ngo 1.22\n",
    b"module 'm'\n",
    b'module "m\\q"\n',
    b"module m\nexclude x.y/z v1.0.0 extra\n",
    b"module m\nrequire x\\y v1.0.0\n",
    b"module m\nrequire x.y/z v1.0.0 // indirect\nrequire x.y/z/v0 v0.1.0\n",
    b"module m\nfoo (\n\tbar\n)\n",
    b"module m\nrequire a v1.0.0\x01\n",
    b'module m\nrequire "a\x80" v1.0.0\n',
    b"module m\n\xa0\n",
    b"module m\nrequire `a` v1.0.0\n",
    b"module m\r\n\r\nrequire (\r\n\tx.y/z v1.2 // c\r\n)\r\n",
    b"// Deprecated: use other\n// really\nmodule m // trailing\n\n\n\ngo 1.22rc1\n",
    b"module m\nrequire ( // eol\n\n\n\t// before\n\ta v1.0.0 // a\n\n\n\t// end\n) // close\n",
    b"module m\nrequire ()\nrequire (\n)\nreplace ( ) // empty\n",
    b'module "example.com/m y"\nrequire "a b.com/c" v1.2.3\n',
    b"module m\ngodebug (\n\tdefault=go1.21\n\tpanicnil=1 // why\n)\ntool a.b/c\nignore ./node\n",
    b"module m\nretract (\n\t// bad\n\t[v1.0.0, v1.0.5]\n\tv0.9.0 // worse\n)\n",
    b"require a.b/c v1.0.0\nmodule m\nretract v1.0.0\n",
    b"module m\n\n\n\n// only comments\n\n\n",
    b"   \n\t\n",
    b"module m\nrequire a.b/c v1.2.3+meta\nrequire d.e/f v2.3.4+incompatible\n",
    b"module m\nreplace a.b/c => C:\\dir\nreplace d.e/f => .\n",
]


def _vector_files() -> list[Path]:
    found = sorted(p for p in _TESTDATA.iterdir() if p.suffix in (".in", ".golden"))
    if not found:
        pytest.fail(f"no modfile vectors in {_TESTDATA}", pytrace=False)
    return found


@pytest.mark.parametrize("data", _FORMAT_CASES, ids=[str(i) for i in range(len(_FORMAT_CASES))])
def test_format_and_errors_match_go_mod_edit(go: _Go, data: bytes) -> None:
    assert _ours(data) == go.edit("mod", data, ["-print"])


@pytest.mark.parametrize("path", _vector_files(), ids=lambda p: p.name)
def test_vector_files_match_go_mod_edit(go: _Go, path: Path) -> None:
    data = path.read_bytes()
    assert _ours(data) == go.edit("mod", data, ["-print"])


_TOKENS = [
    "module",
    "go",
    "toolchain",
    "require",
    "exclude",
    "replace",
    "retract",
    "tool",
    "ignore",
    "godebug",
    "x.y/z",
    "a.b/c/v2",
    "gopkg.in/yaml.v2",
    "v1.2.3",
    "v1.2",
    "v2.0.0",
    "v2.0.0+incompatible",
    "v1.0.0-pre",
    "1.21",
    "1.2beta1",
    "go1.22",
    "default",
    "=>",
    "./dir",
    "../d",
    "(",
    ")",
    "[",
    "]",
    ",",
    '"q s"',
    '"v1.3"',
    "`b`",
    "// c",
    "// indirect",
    "// Deprecated: x",
    "//",
    "a=b",
    "\t",
    " ",
    "\n",
    "\n",
    "\r\n",
]


@settings(max_examples=150)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_random_token_soup_matches_go_mod_edit(go: _Go, tokens: list[str]) -> None:
    data = " ".join(tokens).encode()
    assert _ours(data) == go.edit("mod", data, ["-print"])


# --- the interpreted file (go mod edit -json) ------------------------------------------------


def _mv(v: ModuleVersion) -> dict[str, str]:
    return {"Path": v.path, **({"Version": v.version} if v.version else {})}


def _as_json(f: ModFile) -> dict[str, object]:
    """Our ModFile in cmd/go's ``go mod edit -json`` shape."""
    out: dict[str, object] = {"Module": {"Path": f.module.path if f.module else ""}}
    if f.module is not None and f.module.deprecated:
        out["Module"] = {"Path": f.module.path, "Deprecated": f.module.deprecated}
    if f.go is not None:
        out["Go"] = f.go.version
    if f.toolchain is not None:
        out["Toolchain"] = f.toolchain.name
    if f.godebug:
        out["GoDebug"] = [{"Key": g.key, "Value": g.value} for g in f.godebug]
    requires = [{**_mv(r.mod), **({"Indirect": True} if r.indirect else {})} for r in f.require]
    out["Require"] = requires or None
    out["Exclude"] = [_mv(x.mod) for x in f.exclude] or None
    out["Replace"] = [{"Old": _mv(r.old), "New": _mv(r.new)} for r in f.replace] or None
    retracts = [
        {k: v for k, v in (("Low", r.low), ("High", r.high), ("Rationale", r.rationale)) if v}
        for r in f.retract
    ]
    out["Retract"] = retracts or None
    out["Tool"] = [{"Path": t.path} for t in f.tool] or None
    out["Ignore"] = [{"Path": i.path} for i in f.ignore] or None
    return out


_JSON_CASES = [
    b"// Deprecated: use example.com/n\nmodule example.com/m\n",
    b"// Deprecated: a\n// b\n//\n// c\nmodule m\n",
    b"module m // Deprecated: suffix\n",
    b"module m\ngo 1.21\ntoolchain go1.21.3\ngodebug x=1\ngodebug (\n\ty=2\n)\n",
    b"module m\nrequire (\n\ta.b/c v1.2 // indirect\n\td.e/f v1.0.0 //indirect; why\n"
    b"\tg.h/i v1.0.0 // in direct\n)\n",
    b"module m\nexclude (\n\tb.c/d v0.10.0\n\tb.c/d v0.9.0\n)\nreplace b.c/d => ../d\n"
    b"replace b.c/e v1.0.0 => b.c/f v1.1\n",
    b"module m\n// first\n// second\nretract [v1.0.0, v1.1.0]\nretract v0.1.0 // oops\n"
    b"// block\nretract (\n\tv0.2.0\n\t// own\n\tv0.3.0\n)\n",
    b"module m\ntool (\n\tb.c/cmd\n\ta.c/cmd\n)\nignore ./x\n",
]


@pytest.mark.parametrize("data", _JSON_CASES, ids=[str(i) for i in range(len(_JSON_CASES))])
def test_interpreted_file_matches_go_mod_edit_json(go: _Go, data: bytes) -> None:
    ok, out = go.edit("mod", data, ["-json"])
    assert ok, out
    f = parse("go.mod", data)
    f.sort_blocks()
    f.cleanup()
    assert _as_json(f) == json.loads(out)


# --- edits -------------------------------------------------------------------------------------

_BASE = (
    b"module example.com/m\n\ngo 1.20\n\n"
    b"require (\n\tx.y/z v1.2.3 // first\n\ta.b/c v1.0.0 // indirect\n)\n\n"
    b"require x.y/z v1.4.0\n\nexclude a.b/c v0.9.0\n\n"
    b"replace (\n\tx.y/z v1.0.0 => ./a\n\tx.y/z v1.1.0 => other.com/z v1.1.1\n)\n\n"
    b"retract v0.1.0\n\ngodebug a=1\n\ntool a.b/c/cmd\n\nignore ./vendor\n"
)


def _split(arg: str) -> tuple[str, str]:
    path, _, version = arg.partition("@")
    return path, version


def _interval(arg: str) -> VersionInterval:
    if arg.startswith("["):
        low, high = arg[1:-1].split(",")
        return VersionInterval(low.strip(), high.strip())
    return VersionInterval(arg, arg)


def _apply(f: ModFile, flag: str) -> None:
    """Apply one ``go mod edit`` flag the way cmd/go/internal/modcmd/edit.go does."""
    name, _, arg = flag.lstrip("-").partition("=")
    if name == "require":
        f.add_require(*_split(arg))
    elif name == "droprequire":
        f.drop_require(arg)
    elif name == "exclude":
        f.add_exclude(*_split(arg))
    elif name == "dropexclude":
        f.drop_exclude(*_split(arg))
    elif name == "replace":
        old, new = arg.split("=", 1)
        f.add_replace(*_split(old), *_split(new))
    elif name == "dropreplace":
        f.drop_replace(*_split(arg))
    elif name == "retract":
        f.add_retract(_interval(arg))
    elif name == "dropretract":
        f.drop_retract(_interval(arg))
    elif name == "godebug":
        f.add_godebug(*arg.split("=", 1))
    elif name == "dropgodebug":
        f.drop_godebug(arg)
    elif name == "tool":
        f.add_tool(arg)
    elif name == "droptool":
        f.drop_tool(arg)
    elif name == "ignore":
        f.add_ignore(arg)
    elif name == "dropignore":
        f.drop_ignore(arg)
    else:
        raise AssertionError(f"unknown flag {flag}")


def _apply_all(flags: Sequence[str]) -> Callable[[ModFile], None]:
    def edit(f: ModFile) -> None:
        # -module, -go and -toolchain come first, whatever their place on the command line.
        for flag in flags:
            name, _, arg = flag.lstrip("-").partition("=")
            if name == "module":
                f.add_module_stmt(arg)
        for flag in flags:
            name, _, arg = flag.lstrip("-").partition("=")
            if name == "go":
                f.drop_go_stmt() if arg == "none" else f.add_go_stmt(arg)
        for flag in flags:
            name, _, arg = flag.lstrip("-").partition("=")
            if name == "toolchain":
                f.drop_toolchain_stmt() if arg == "none" else f.add_toolchain_stmt(arg)
        for flag in flags:
            if flag.lstrip("-").partition("=")[0] not in ("module", "go", "toolchain"):
                _apply(f, flag)

    return edit


_EDITS = [
    ["-require=x.y/z@v1.5.6"],
    ["-require=new.com/n@v0.1.0"],
    ["-droprequire=x.y/z"],
    ["-droprequire=a.b/c", "-require=q.r/s@v1.0.0"],
    ["-exclude=a.b/c@v0.9.1", "-exclude=x.y/z@v1.0.0"],
    ["-dropexclude=a.b/c@v0.9.0"],
    ["-replace=x.y/z=../z"],
    ["-replace=x.y/z@v1.1.0=../z11"],
    ["-replace=q.r/s@v1.0.0=other.com/s@v1.0.1"],
    ["-dropreplace=x.y/z@v1.0.0"],
    ["-retract=v1.0.0"],
    ["-retract=[v1.1.0,v1.2.0]", "-retract=v0.1.0"],
    ["-dropretract=v0.1.0"],
    ["-godebug=a=2", "-godebug=b=3"],
    ["-dropgodebug=a"],
    ["-tool=a.b/c/other", "-tool=a.b/c/cmd"],
    ["-droptool=a.b/c/cmd"],
    ["-ignore=./build", "-ignore=./vendor"],
    ["-dropignore=./vendor"],
    ["-go=1.22.1", "-toolchain=go1.23.0"],
    ["-go=none", "-toolchain=none"],
    ["-module=example.com/renamed"],
    ["-require=x.y/z@v1.6.0", "-droprequire=a.b/c", "-exclude=x.y/z@v1.5.0", "-go=1.21"],
]


@pytest.mark.parametrize("flags", _EDITS, ids=[" ".join(f) for f in _EDITS])
def test_edits_match_go_mod_edit(go: _Go, flags: list[str]) -> None:
    assert _ours(_BASE, _apply_all(flags)) == go.edit("mod", _BASE, ["-print", *flags])


# --- go.work -----------------------------------------------------------------------------------


def _ours_work(data: bytes, edit: Callable[[WorkFile], None] | None = None) -> tuple[bool, bytes]:
    try:
        f = parse_work("go.work", data)
    except GoModParseError as exc:
        return False, str(exc).encode()
    if edit is not None:
        edit(f)
    f.sort_blocks()
    f.cleanup()
    return True, f.format()


def _work_vectors() -> list[Path]:
    return sorted(p for p in (_TESTDATA / "work").iterdir() if p.suffix in (".in", ".golden"))


_WORK_CASES = [
    b"go 1.22\nuse (\n\t./b\n\t./a // first\n)\nreplace x.y/z => ../z\n",
    b"go 1.22\ntoolchain go1.22.1\ngodebug (\n\ta=1\n)\nuse ./a\n",
    b"use x\nfoo\n",
    b"go 1.22\nrequire x.y/z v1.0.0\n",
    b"module m\n",
    b"use ( ./a ./b )\n",
    b"use\n",
    b"go v1.22\n",
    b"use (\n\t./a\n)\nreplace (\n\tb.c => ./x v1.0.0\n)\n",
]


@pytest.mark.parametrize(
    "data",
    [p.read_bytes() for p in _work_vectors()] + _WORK_CASES,
    ids=[p.name for p in _work_vectors()] + [str(i) for i in range(len(_WORK_CASES))],
)
def test_go_work_files_match_go_work_edit(go: _Go, data: bytes) -> None:
    assert _ours_work(data) == go.edit("work", data, ["-print"])


def test_go_work_edits_match_go_work_edit(go: _Go) -> None:
    data = b"// workspace\ngo 1.22\n\nuse ./a\n\nreplace x.y/z v1.0.0 => ./z\n"
    flags = [
        "-use=./b",
        "-dropuse=./a",
        "-replace=q.r/s=../s",
        "-dropreplace=x.y/z@v1.0.0",
        "-godebug=k=v",
        "-go=1.23",
        "-toolchain=go1.23.2",
    ]

    def edit(f: WorkFile) -> None:
        f.add_go_stmt("1.23")
        f.add_toolchain_stmt("go1.23.2")
        f.add_use("./b")
        f.drop_use("./a")
        f.add_replace("q.r/s", "", "../s", "")
        f.drop_replace("x.y/z", "v1.0.0")
        f.add_godebug("k", "v")

    assert _ours_work(data, edit) == go.edit("work", data, ["-print", *flags])

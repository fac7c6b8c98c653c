"""The Go team's module-zip vectors (x/mod ``zip/testdata``) and ``vendor_test.go`` table.

Each txtar case is interpreted as x/mod's ``zip_test.go`` does: ``create`` cases go through
``Create`` and ``HashZip``, ``create_from_dir`` through ``CreateFromDir``, ``unzip`` cases are
zipped as listed (names raw) then extracted and hashed with ``HashDir``, and ``check_*`` cases
compare the formatted valid/omitted/invalid lists with the ``want`` section. Refusals are
asserted by the ``ZipError`` kind mapped from the vector's ``wantErr`` and by Go's wording.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash_zip
from gomodproxy.module.zipcheck import (
    CheckedFiles,
    check_files,
    check_zip,
)
from gomodproxy.module.zipcreate import create_zip, hash_module_files
from gomodproxy.module.zipfiles import (
    MemoryFile,
    go_lang_version,
    is_vendored_package,
)
from gomodproxy.modzip import (
    check_dir,
    create_zip_from_dir,
    extract_zip,
    hash_dir,
    hash_module_dir,
)
from tests.zipbuild import RawEntry, build_zip

_TESTDATA = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors" / "golang-mod" / "zip"
).resolve() / "testdata"

EMPTY_HASH = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

# wantErr text of the vectors -> the ZipError kind we raise for it.
_KIND_BY_WANT_ERR = [
    ("malformed module path", "bad_module_path"),
    ("missing dot in first path element", "bad_module_path"),
    ("is not canonical", "bad_version"),
    ("invalid version: should be v0 or v1", "bad_version"),
    ("malformed file path", "bad_file_path"),
    ("go.mod files must have lowercase names", "gomod_case"),
    ("go.mod file not in module root directory", "gomod_not_root"),
    ("multiple entries for file", "duplicate"),
    ("is both a file and a directory", "file_and_dir"),
    ("case-insensitive file name collision", "case_collision"),
    ("path does not have prefix", "prefix"),
]


def _kind_for(want_err: str) -> str:
    for text, kind in _KIND_BY_WANT_ERR:
        if text in want_err:
            return kind
    raise AssertionError(f"no kind mapped for wantErr {want_err!r}")


# --- txtar, as golang.org/x/tools/txtar parses it ---------------------------------------------


@dataclass
class Case:
    """One txtar vector: header settings and (name, data) files in order."""

    name: str
    params: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.params.get("path", "")

    @property
    def version(self) -> str:
        return self.params.get("version", "")

    @property
    def want_err(self) -> str:
        return self.params.get("wantErr", "")


def _marker(line: bytes) -> str | None:
    if line.startswith(b"-- ") and line.endswith(b" --") and len(line) >= 6:
        return line[3:-3].decode("utf-8", "surrogateescape").strip()
    return None


def parse_txtar(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Split txtar bytes into the comment and the files (txtar.Parse, with its fixNL)."""
    lines = data.split(b"\n")
    sections: list[tuple[str | None, list[bytes]]] = [(None, [])]
    for i, line in enumerate(lines):
        name = _marker(line)
        if name:
            sections.append((name, []))
        elif i < len(lines) - 1 or line:
            sections[-1][1].append(line)

    def body(chunk: list[bytes]) -> bytes:
        return b"".join(line + b"\n" for line in chunk)

    comment = body(sections[0][1])
    return comment, [(name, body(chunk)) for name, chunk in sections[1:] if name is not None]


def load_case(path: Path) -> Case:
    """Read a vector: ``key=value`` header lines (``#`` comments removed) and its files."""
    comment, files = parse_txtar(path.read_bytes())
    case = Case(path.stem, files=files)
    for raw in comment.split(b"\n"):
        line = raw.split(b"#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition(b"=")
        case.params[key.strip().decode()] = value.strip().decode("utf-8", "surrogateescape")
    return case


def _cases(folder: str) -> list[Case]:
    return [load_case(p) for p in sorted((_TESTDATA / folder).glob("*.txt"))]


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


def test_vectors_are_present() -> None:
    for folder in ("create", "create_from_dir", "unzip", "check_files", "check_dir", "check_zip"):
        assert _cases(folder), f"no vectors found under {_TESTDATA / folder}"


def test_txtar_parser_keeps_file_data_exact() -> None:
    comment, files = parse_txtar(b"k=v\n-- a --\nx\n\n-- b --\n-- c --\nlast")
    assert comment == b"k=v\n"
    assert files == [("a", b"x\n\n"), ("b", b""), ("c", b"last\n")]


# --- create ------------------------------------------------------------------------------------

CREATE = _cases("create")


@pytest.mark.parametrize("case", CREATE, ids=_ids(CREATE))
def test_create_vector(case: Case) -> None:
    files = [MemoryFile(name, data) for name, data in case.files]
    out = io.BytesIO()
    if case.want_err:
        with pytest.raises(ZipError) as info:
            create_zip(out, case.path, case.version, files)
        assert info.value.kind == _kind_for(case.want_err)
        assert case.want_err in str(info.value)
        return
    create_zip(out, case.path, case.version, files)
    assert hash_zip(io.BytesIO(out.getvalue())) == case.params["hash"]
    assert hash_module_files(case.path, case.version, files) == case.params["hash"]
    # An independent reader agrees that the zip is well formed.
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert z.testzip() is None


# --- create_from_dir ---------------------------------------------------------------------------

CREATE_FROM_DIR = _cases("create_from_dir")


def _write_tree(root: Path, files: list[tuple[str, bytes]]) -> None:
    for name, data in files:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.mark.parametrize("case", CREATE_FROM_DIR, ids=_ids(CREATE_FROM_DIR))
def test_create_from_dir_vector(case: Case, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    _write_tree(tree, case.files)
    out = io.BytesIO()
    if case.want_err:
        with pytest.raises(ZipError) as info:
            create_zip_from_dir(out, case.path, case.version, tree)
        assert info.value.kind == _kind_for(case.want_err)
        assert case.want_err in str(info.value)
        return
    create_zip_from_dir(out, case.path, case.version, tree)
    assert hash_zip(io.BytesIO(out.getvalue())) == case.params["hash"]
    assert hash_module_dir(case.path, case.version, tree) == case.params["hash"]


def test_create_from_dir_ignores_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = io.BytesIO()
    create_zip_from_dir(out, "example.com/m", "v1.0.0", tmp_path)
    assert hash_zip(io.BytesIO(out.getvalue())) == EMPTY_HASH


def test_create_from_dir_ignores_symlink(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path)
    out = io.BytesIO()
    create_zip_from_dir(out, "example.com/m", "v1.0.0", tmp_path)
    assert hash_zip(io.BytesIO(out.getvalue())) == EMPTY_HASH


def test_create_from_dir_named_vendor_keeps_its_root_files(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "go.mod").write_bytes(b"module example.com/m\n\ngo 1.13\n")
    out = io.BytesIO()
    create_zip_from_dir(out, "example.com/m", "v1.0.0", vendor)
    assert hash_zip(io.BytesIO(out.getvalue())) == "h1:XduFAgX/GaspZa8Jv4pfzoGEzNaU/r88PiCunijw5ok="


# --- unzip -------------------------------------------------------------------------------------

UNZIP = _cases("unzip")


def _zip_of(files: list[tuple[str, bytes]]) -> bytes:
    return build_zip([RawEntry(name, data) for name, data in files])


@pytest.mark.parametrize("case", UNZIP, ids=_ids(UNZIP))
def test_unzip_vector(case: Case, tmp_path: Path) -> None:
    data = _zip_of(case.files)
    target = tmp_path / "cache" / "out"
    if case.want_err:
        with pytest.raises(ZipError) as info:
            extract_zip(io.BytesIO(data), case.path, case.version, target)
        assert info.value.kind == _kind_for(case.want_err)
        assert case.want_err in str(info.value)
        assert not target.exists()
        assert list(tmp_path.rglob("*")) in ([], [tmp_path / "cache"])
        return
    extract_zip(io.BytesIO(data), case.path, case.version, target)
    prefix = f"{case.path}@{case.version}"
    assert hash_dir(target, prefix) == case.params["hash"]
    assert hash_zip(io.BytesIO(data)) == case.params["hash"]


# --- check_files, check_dir, check_zip ---------------------------------------------------------


def format_checked(checked: CheckedFiles, prefix: str = "") -> str:
    """x/mod's formatCheckedFiles, with ``prefix`` put before every path."""
    out = ["valid:\n"]
    out += [f"{prefix}{name}\n" for name in checked.valid]
    out.append("\nomitted:\n")
    out += [f"{prefix}{fe.path}: {fe.reason}\n" for fe in checked.omitted]
    out.append("\ninvalid:\n")
    out += [f"{prefix}{fe.path}: {fe.reason}\n" for fe in checked.invalid]
    return "".join(out)


def _split_want(case: Case) -> tuple[str, list[tuple[str, bytes]]]:
    want = [data for name, data in case.files if name == "want"]
    assert len(want) == 1
    return want[0].decode(), [(n, d) for n, d in case.files if n != "want"]


def _assert_error_matches_invalid(checked: CheckedFiles) -> None:
    err = checked.err()
    if checked.invalid:
        assert err is not None
        assert str(err) == "\n".join(str(fe) for fe in checked.invalid)
        assert err.kind == checked.invalid[0].kind
    else:
        assert err is None


CHECK_FILES = _cases("check_files")


@pytest.mark.parametrize("case", CHECK_FILES, ids=_ids(CHECK_FILES))
def test_check_files_vector(case: Case) -> None:
    want, files = _split_want(case)
    checked = check_files([MemoryFile(name, data) for name, data in files])
    assert format_checked(checked) == want
    _assert_error_matches_invalid(checked)


CHECK_DIR = _cases("check_dir")


@pytest.mark.parametrize("case", CHECK_DIR, ids=_ids(CHECK_DIR))
def test_check_dir_vector(case: Case, tmp_path: Path) -> None:
    want, files = _split_want(case)
    _write_tree(tmp_path, files)
    checked = check_dir(tmp_path)
    assert format_checked(checked, "$work/") == want
    _assert_error_matches_invalid(checked)


CHECK_ZIP = _cases("check_zip")


@pytest.mark.parametrize("case", CHECK_ZIP, ids=_ids(CHECK_ZIP))
def test_check_zip_vector(case: Case) -> None:
    want, files = _split_want(case)
    checked = check_zip(_zip_of(files), case.path, case.version)
    assert format_checked(checked) == want
    _assert_error_matches_invalid(checked)


def test_check_kinds_name_each_rule() -> None:
    _, files = _split_want(load_case(_TESTDATA / "check_zip" / "various.txt"))
    checked = check_zip(_zip_of(files), "example.com/various", "v1.0.0")
    assert [fe.kind for fe in checked.invalid] == [
        "prefix",
        "not_clean",
        "bad_file_path",
        "gomod_case",
        "duplicate",
    ]
    _, files = _split_want(load_case(_TESTDATA / "check_files" / "various_go124.txt"))
    checked = check_files([MemoryFile(name, data) for name, data in files])
    assert [fe.kind for fe in checked.omitted] == [
        "vendored",
        "vendored",
        "submodule",
        "hg_archival",
    ]


# --- the vendor rule (x/mod zip/vendor_test.go) -----------------------------------------------

_PRE_124: list[tuple[int, int] | None] = [None, (1, 14), (1, 21), (1, 22), (1, 23), (1, 2), (1, 9)]
_FROM_124: list[tuple[int, int] | None] = [(1, 24), (1, 99), (2, 0)]


@pytest.mark.parametrize(
    ("path", "want", "langs"),
    [
        ("vendor/foo/foo.go", True, _PRE_124 + _FROM_124),
        ("pkg/vendor/foo/foo.go", True, _PRE_124 + _FROM_124),
        ("longpackagename/vendor/foo/foo.go", True, _PRE_124 + _FROM_124),
        ("vendor/vendor.go", False, _PRE_124 + _FROM_124),
        ("vendor/foo/modules.txt", True, _PRE_124 + _FROM_124),
        ("modules.txt", False, _PRE_124 + _FROM_124),
        ("vendor/amodules.txt", False, _PRE_124 + _FROM_124),
        ("vendor/modules.txt", False, _PRE_124),
        ("vendor/modules.txt", True, _FROM_124),
        ("pkg/vendor/vendor.go", True, _PRE_124),
        ("pkg/vendor/vendor.go", False, _FROM_124),
        ("longpackagename/vendor/vendor.go", True, _PRE_124),
        ("longpackagename/vendor/vendor.go", False, _FROM_124),
        # Before 1.24 every file below an inner vendor directory counts as vendored.
        ("x/vendor/a.go", True, _PRE_124),
        ("x/vendor/a.go", False, _FROM_124),
        ("αβγ/vendor/x.go", True, _PRE_124),
    ],
)
def test_is_vendored_package(path: str, want: bool, langs: list[tuple[int, int] | None]) -> None:
    for lang in langs:
        assert is_vendored_package(path, lang) is want, lang


@pytest.mark.parametrize(
    ("go_mod", "lang"),
    [
        (b"module m\n\ngo 1.24\n", (1, 24)),
        (b"module m\ngo 1.24.1\n", (1, 24)),
        (b"module m\ngo 1.21rc1\n", (1, 21)),
        (b"go 1.24\nmodules.txt is excluded\n", (1, 24)),  # unknown verbs are ignored laxly
        (b"module m\n", None),
        (b"", None),
        (b"module m\ngo 1.24\ngo 1.23\n", None),  # a parse error means no version
        (b"module m\ngo 1.25\nrequire (\n", None),
    ],
)
def test_go_lang_version_follows_parse_lax(go_mod: bytes, lang: tuple[int, int] | None) -> None:
    assert go_lang_version(go_mod) == lang

"""``gomodproxy mod hash|zip|check``, run in-process through ``main``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.zipcheck import MAX_ZIP_FILE
from tests.zipbuild import RawEntry, build_zip

M, V = "example.com/m", "v1.0.0"
P = f"{M}@{V}/"
GO_MOD = b"module example.com/m\n\ngo 1.22\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _module_dir(root: Path) -> Path:
    tree = root / "src"
    (tree / "pkg").mkdir(parents=True)
    (tree / "go.mod").write_bytes(GO_MOD)
    (tree / "pkg" / "p.go").write_bytes(b"package pkg\n")
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    (tree / "vendor" / "x.org" / "y").mkdir(parents=True)
    (tree / "vendor" / "x.org" / "y" / "y.go").write_bytes(b"package y\n")
    return tree


def test_hash_of_a_zip_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = build_zip([RawEntry(P + "go.mod", b"module example.com/m\n")])
    (tmp_path / "m.zip").write_bytes(data)
    code, out, err = _run(capsys, "mod", "hash", str(tmp_path / "m.zip"))
    assert (code, err) == (0, "")
    assert out == "h1:yJwNngL0tCKlmRg8yireic46hRGohEbhwD/WSE0Ax3I=\n"


def test_hash_of_a_go_mod_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "go.mod").write_bytes(GO_MOD)
    code, out, _ = _run(capsys, "mod", "hash", str(tmp_path / "go.mod"))
    assert (code, out) == (0, hash_go_mod(GO_MOD) + "\n")


def test_hash_of_a_directory_is_the_hash_of_its_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _module_dir(tmp_path)
    code, out, _ = _run(capsys, "mod", "hash", str(tree), "--module", M, "--version", V)
    assert code == 0
    zip_path = tmp_path / "m.zip"
    assert (
        _run(capsys, "mod", "zip", str(tree), "--module", M, "--version", V, "-o", str(zip_path))[0]
        == 0
    )
    assert out == hash_zip(io.BytesIO(zip_path.read_bytes())) + "\n"


def test_hash_of_a_directory_needs_module_and_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "mod", "hash", str(_module_dir(tmp_path)))
    assert (code, out) == (2, "")
    assert err.startswith("gomodproxy: ")
    assert "--module and --version" in err
    code, _, err = _run(capsys, "mod", "hash", str(tmp_path), "--module", M)
    assert code == 2
    assert "together" in err


def test_hash_of_a_broken_zip_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(build_zip([RawEntry(P + "go.mod", b"x")])[:-30])
    code, out, err = _run(capsys, "mod", "hash", str(broken))
    assert (code, out) == (2, "")
    assert "not a valid zip file" in err


def test_hash_of_a_missing_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "mod", "hash", str(tmp_path / "nope"))
    assert code == 2
    assert err.startswith("gomodproxy: cannot read")


def test_zip_writes_what_the_go_command_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _module_dir(tmp_path)
    dest = tmp_path / "out" / "m.zip"
    dest.parent.mkdir()
    code, out, err = _run(
        capsys, "mod", "zip", str(tree), "--module", M, "--version", V, "-o", str(dest)
    )
    assert (code, out, err) == (0, "", "")
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.zip"]
    code, out, _ = _run(capsys, "mod", "check", str(dest))
    assert code == 0
    # .git is never descended into; vendored packages are left out.
    assert out == f"valid: {P}go.mod\nvalid: {P}pkg/p.go\n"


def test_zip_of_an_invalid_module_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _module_dir(tmp_path)
    (tree / "bad?.go").write_bytes(b"package m\n")
    dest = tmp_path / "m.zip"
    dest.write_bytes(b"previous")
    code, _, err = _run(
        capsys, "mod", "zip", str(tree), "--module", M, "--version", V, "-o", str(dest)
    )
    assert code == 1
    assert "malformed file path" in err
    assert dest.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.zip", "src"]


def test_zip_with_a_bad_version_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _module_dir(tmp_path)
    code, _, err = _run(
        capsys,
        "mod",
        "zip",
        str(tree),
        "--module",
        M,
        "--version",
        "v2.0.0",
        "-o",
        str(tmp_path / "z"),
    )
    assert code == 2
    assert "invalid version" in err
    assert not (tmp_path / "z").exists()


def test_zip_requires_an_output(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mod", "zip", str(tmp_path), "--module", M, "--version", V])
    assert info.value.code == 2


def test_check_lists_invalid_files_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = build_zip(
        [
            RawEntry(P + "go.mod", GO_MOD),
            RawEntry(P + "a.go", b"1"),
            RawEntry(P + "A.GO", b"2"),
            RawEntry("stray.txt", b""),
        ]
    )
    (tmp_path / "m.zip").write_bytes(data)
    code, out, _ = _run(capsys, "mod", "check", str(tmp_path / "m.zip"))
    assert code == 1
    assert out.splitlines() == [
        f"valid: {P}go.mod",
        f"valid: {P}a.go",
        f'invalid: {P}A.GO: case-insensitive file name collision: "a.go" and "A.GO"',
        f'invalid: stray.txt: path does not have prefix "{P}"',
    ]


def test_check_with_an_explicit_module_that_does_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.zip").write_bytes(build_zip([RawEntry(P + "go.mod", GO_MOD)]))
    code, out, _ = _run(
        capsys, "mod", "check", str(tmp_path / "m.zip"), "--module", M, "--version", "v1.0.1"
    )
    assert code == 1
    assert out == f'invalid: {P}go.mod: path does not have prefix "{M}@v1.0.1/"\n'


def test_check_reports_size_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = build_zip([RawEntry(P + "big.bin", b"", declared_size=MAX_ZIP_FILE + 1, crc=0)])
    (tmp_path / "m.zip").write_bytes(data)
    code, _, err = _run(capsys, "mod", "check", str(tmp_path / "m.zip"))
    assert code == 1
    assert "total uncompressed size of module contents too large" in err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"not a zip at all", "not a valid zip file"),
        (build_zip([]), "cannot tell the module and version"),
    ],
    ids=["not-a-zip", "empty-zip"],
)
def test_check_of_unreadable_input_exits_2(
    content: bytes, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.zip").write_bytes(content)
    code, out, err = _run(capsys, "mod", "check", str(tmp_path / "m.zip"))
    assert (code, out) == (2, "")
    assert needle in err


def test_check_of_a_directory_shows_omissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "mod", "check", str(_module_dir(tmp_path)))
    assert code == 0
    assert out.splitlines() == [
        "valid: go.mod",
        "valid: pkg/p.go",
        "omitted: .git: directory is a version control repository",
        "omitted: vendor/x.org/y: file is in vendor directory",
        "omitted: vendor/x.org/y/y.go: file is in vendor directory",
    ]

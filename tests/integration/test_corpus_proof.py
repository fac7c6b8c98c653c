"""Proof on real modules: our hashing, checking, extraction and zip creation agree with Go.

For every module of the corpus (tests/corpus/go.mod, downloaded by scripts/fetch-corpus with the
real go command, which checked each zip against the checksum database) these tests hash the
zip and the .mod themselves and compare with go.sum, check the zip, extract it and compare the
tree with the one the go command extracted, rebuild a zip from that tree, corrupt a copy, and
run the ``gomodproxy mod hash`` command. The go command's ``.ziphash`` files are never read.
"""

from __future__ import annotations

import re
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from gomodproxy.cli.main import main as cli_main
from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.zipcheck import check_zip
from gomodproxy.modzip.dirfiles import create_zip_from_dir
from gomodproxy.modzip.extract import extract_zip, remove_tree
from tests.corpus_data import CorpusModule, corpus_modules
from tests.gohelper_client import GoHelper
from tests.gotool import go_environ, run_go
from tests.integration.trees import tree_summary

pytestmark = pytest.mark.corpus

MODULES = corpus_modules()
_IDS = [m.id for m in MODULES]


_PSEUDO = re.compile(r"[-.]\d{14}-[0-9a-f]{12}$")
_MAJOR_SUFFIX = re.compile(r"/v[2-9][0-9]*$")


def _our_zip_hash(zip_file: Path) -> str:
    with open(zip_file, "rb") as f:
        return hash_zip(f)


def test_corpus_has_the_promised_coverage() -> None:
    paths = [m.path for m in MODULES]
    versions = [m.version for m in MODULES]
    assert len(MODULES) >= 60
    assert any(v.endswith("+incompatible") for v in versions)
    assert any(p.startswith("gopkg.in/") for p in paths)
    pseudo = [p for p, v in zip(paths, versions, strict=True) if _PSEUDO.search(v)]
    assert any(p.startswith("gopkg.in/") for p in pseudo)
    assert any(p != p.lower() for p in paths)
    assert any(_MAJOR_SUFFIX.search(p) for p in paths)
    assert sum(p.startswith("golang.org/x/") for p in paths) >= 5
    assert max(m.zip_file.stat().st_size for m in MODULES) > 20 << 20


_GO_LINE = re.compile(rb"^go\s+(\d+(?:\.\d+)*)", re.MULTILINE)


def _go_version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_no_corpus_module_needs_a_newer_go_than_the_local_one(tmp_path: Path) -> None:
    """The corpus promises modules whose go line the local go command accepts (no toolchain
    switch, with GOTOOLCHAIN=local)."""
    local = run_go(["env", "GOVERSION"], cwd=tmp_path, env=go_environ(tmp_path, goproxy="off"))
    assert local.returncode == 0, local.stderr
    local_version = _go_version_tuple(local.stdout.strip().removeprefix("go").split("-")[0])
    too_new = []
    for m in MODULES:
        found = _GO_LINE.search(m.mod_file.read_bytes())
        if found and _go_version_tuple(found.group(1).decode()) > local_version:
            too_new.append(f"{m.id} (go {found.group(1).decode()})")
    assert not too_new, too_new


@pytest.mark.parametrize("mod", MODULES, ids=_IDS)
def test_zip_and_mod_hashes_equal_go_sum(mod: CorpusModule) -> None:
    assert _our_zip_hash(mod.zip_file) == mod.zip_sum
    assert hash_go_mod(mod.mod_file.read_bytes()) == mod.mod_sum


@pytest.mark.parametrize("mod", MODULES, ids=_IDS)
def test_check_zip_accepts_and_lists_the_files_go_lists(
    mod: CorpusModule, gohelper: GoHelper
) -> None:
    with open(mod.zip_file, "rb") as f:
        checked = check_zip(f, mod.path, mod.version)
    assert checked.err() is None
    assert checked.invalid == ()
    go = gohelper.call("check_zip", zip=mod.zip_file, path=mod.path, version=mod.version)
    assert go["err"] == ""
    assert sorted(checked.valid) == sorted(go["valid"])


@pytest.mark.parametrize("mod", MODULES, ids=_IDS)
def test_extraction_equals_the_go_command_tree(mod: CorpusModule, tmp_path: Path) -> None:
    target = tmp_path / "extracted"
    try:
        extract_zip(mod.zip_file, mod.path, mod.version, target)
        ours = tree_summary(target, dir_modes=True)
        theirs = tree_summary(mod.extracted_dir, dir_modes=True)
        assert ours == theirs
        assert {mode for kind, mode, _ in ours.values() if kind == "file"} == {0o444}
        assert {mode for kind, mode, _ in ours.values() if kind == "dir"} <= {0o555}
    finally:
        remove_tree(target)


@pytest.mark.parametrize("mod", MODULES, ids=_IDS)
def test_zip_created_from_the_go_command_tree_has_the_go_sum_hash(
    mod: CorpusModule, tmp_path: Path
) -> None:
    out = tmp_path / "rebuilt.zip"
    try:
        with open(out, "wb") as f:
            create_zip_from_dir(f, mod.path, mod.version, mod.extracted_dir)
        assert _our_zip_hash(out) == mod.zip_sum
        with open(out, "rb") as f:
            assert check_zip(f, mod.path, mod.version).err() is None
    finally:
        out.unlink(missing_ok=True)


def _flip_data_byte(zip_file: Path) -> None:
    """Invert one byte in the middle of the stored data of the zip's largest entry."""
    with zipfile.ZipFile(zip_file) as zf:
        info = max((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.compress_size)
    assert info.compress_size > 0
    with open(zip_file, "r+b") as f:
        f.seek(info.header_offset)
        header = f.read(30)
        assert header[:4] == b"PK\x03\x04"
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        pos = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
        f.seek(pos)
        old = f.read(1)[0]
        f.seek(pos)
        f.write(bytes([old ^ 0xFF]))


def _flip_first_central_name_case(zip_file: Path) -> None:
    """Swap the case of the first letter of the first central-directory entry's name."""
    data = zip_file.read_bytes()
    eocd = data.rfind(b"PK\x05\x06")
    assert eocd >= 0
    (cd_offset,) = struct.unpack("<I", data[eocd + 16 : eocd + 20])
    assert cd_offset != 0xFFFFFFFF, "zip64 central directory: extend this helper"
    assert data[cd_offset : cd_offset + 4] == b"PK\x01\x02"
    pos = cd_offset + 46
    assert chr(data[pos]).isalpha()
    with open(zip_file, "r+b") as f:
        f.seek(pos)
        f.write(bytes([data[pos] ^ 0x20]))


def _hash_verdict(zip_file: Path) -> str:
    try:
        return _our_zip_hash(zip_file)
    except ZipError as exc:
        return f"error: {exc.kind}"


@pytest.mark.parametrize("mod", MODULES, ids=_IDS)
def test_a_flipped_byte_changes_the_verdict(mod: CorpusModule, tmp_path: Path) -> None:
    data_copy = tmp_path / "data.zip"
    name_copy = tmp_path / "name.zip"
    try:
        shutil.copyfile(mod.zip_file, data_copy)
        _flip_data_byte(data_copy)
        assert _hash_verdict(data_copy) != mod.zip_sum

        shutil.copyfile(mod.zip_file, name_copy)
        _flip_first_central_name_case(name_copy)
        with open(name_copy, "rb") as f:
            assert check_zip(f, mod.path, mod.version).err() is not None
        assert _hash_verdict(name_copy) != mod.zip_sum
    finally:
        data_copy.unlink(missing_ok=True)
        name_copy.unlink(missing_ok=True)


@pytest.mark.parametrize("mod", MODULES, ids=_IDS)
def test_mod_hash_command_prints_the_go_sum_value(
    mod: CorpusModule, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "zip"
    folder.mkdir()
    copy = folder / mod.zip_file.name
    try:
        shutil.copyfile(mod.zip_file, copy)
        status = cli_main(["mod", "hash", str(copy)])
        out = capsys.readouterr().out
        assert status == 0
        assert out == mod.zip_sum + "\n"  # the bare hash, as the go.sum line carries it
    finally:
        copy.unlink(missing_ok=True)

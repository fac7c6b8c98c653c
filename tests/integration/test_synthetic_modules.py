"""Synthetic modules the corpus cannot give, built by our zip code and judged by the go command.

Each test writes a ``file://`` GOPROXY folder with zips made by ``create_zip`` or
``create_zip_from_dir``, runs the real ``go mod download -json M@V`` against it (fresh
GOMODCACHE, GOSUMDB=off, no network), and holds our hashes and our extraction to what the go
command reports and extracts. Zip-creation rules that depend on the module's go line (vendor
folders) and nested modules are also compared with golang.org/x/mod's ``CreateFromDir`` through
the Go oracle helper.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.zipcreate import create_zip
from gomodproxy.module.zipfiles import MemoryFile
from gomodproxy.modzip.dirfiles import create_zip_from_dir
from gomodproxy.modzip.extract import extract_zip, remove_tree
from tests.gohelper_client import GoHelper
from tests.gotool import go_environ, run_go
from tests.integration.fileproxy import FileProxy, parse_json_stream
from tests.integration.trees import tree_summary

pytestmark = pytest.mark.gocmd


class _Sandbox:
    """A proxy folder, a scratch go environment and a place for our own files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proxy = FileProxy(root / "proxy")
        self.proxy.root.mkdir()
        self.work = root / "work"
        self.work.mkdir()
        self.home = root / "home"
        self.home.mkdir()
        self.env = go_environ(self.home, goproxy=self.proxy.url, gosumdb="off")

    def go(self, *args: str) -> str:
        """Run the go command in the work folder; fail the test if it fails; return stdout."""
        return run_go(list(args), cwd=self.work, env=self.env, timeout=300, check=True).stdout

    def download(self, path: str, version: str) -> dict[str, object]:
        """``go mod download -json path@version``: the one result object, checked error-free."""
        (result,) = parse_json_stream(self.go("mod", "download", "-json", f"{path}@{version}"))
        assert "Error" not in result, result
        return result


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[_Sandbox]:
    box = _Sandbox(tmp_path)
    yield box
    remove_tree(tmp_path)  # read-only module cache trees, and big zips: don't keep them around


def _zip_from_files(out: Path, path: str, version: str, files: dict[str, bytes]) -> str:
    with open(out, "wb") as f:
        create_zip(f, path, version, [MemoryFile(name, data) for name, data in files.items()])
    with open(out, "rb") as f:
        return hash_zip(f)


def _assert_go_extracted_what_we_extract(
    box: _Sandbox, result: dict[str, object], path: str, version: str, zip_file: Path
) -> dict[str, tuple[str, int, str]]:
    ours = box.root / "ours"
    extract_zip(zip_file, path, version, ours)
    go_dir = result["Dir"]
    assert isinstance(go_dir, str)
    summary = tree_summary(ours)
    assert summary == tree_summary(Path(go_dir))
    return summary


def test_module_without_go_mod_is_served_the_synthetic_mod(sandbox: _Sandbox) -> None:
    path, version = "example.com/nogomod", "v1.0.0"
    files = {"LICENSE": b"Public domain.\n", "hello.go": b"package hello\n\nconst Hi = 1\n"}
    zip_file = sandbox.root / "nogomod.zip"
    zip_sum = _zip_from_files(zip_file, path, version, files)
    synthetic = f"module {path}\n".encode()
    sandbox.proxy.publish(path, version, mod=synthetic, zip_file=zip_file)

    result = sandbox.download(path, version)

    assert result["Sum"] == zip_sum
    assert result["GoModSum"] == hash_go_mod(synthetic)
    tree = _assert_go_extracted_what_we_extract(sandbox, result, path, version, zip_file)
    assert sorted(tree) == ["LICENSE", "hello.go"]


def test_retracted_version_is_hidden_from_the_version_list(sandbox: _Sandbox) -> None:
    path = "example.com/retract"
    old_mod = f"module {path}\n\ngo 1.21\n".encode()
    new_mod = f"module {path}\n\ngo 1.21\n\nretract v1.0.0 // published by mistake\n".encode()
    sums = {}
    for version, mod in (("v1.0.0", old_mod), ("v1.1.0", new_mod)):
        zip_file = sandbox.root / f"retract-{version}.zip"
        files = {"go.mod": mod, "r.go": f"package r // {version}\n".encode()}
        sums[version] = _zip_from_files(zip_file, path, version, files)
        sandbox.proxy.publish(path, version, mod=mod, zip_file=zip_file)

    assert sandbox.go("list", "-m", "-versions", path).split() == [path, "v1.1.0"]
    listed = sandbox.go("list", "-m", "-retracted", "-versions", path).split()
    assert listed == [path, "v1.0.0", "v1.1.0"]
    for version, zip_sum in sums.items():
        result = sandbox.download(path, version)
        assert result["Sum"] == zip_sum
        assert result["GoModSum"] == hash_go_mod(old_mod if version == "v1.0.0" else new_mod)


def _write_incompressible(file: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(file, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rng.randbytes(n))
            left -= n


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_zip_over_50_mb_downloads_with_our_hash(sandbox: _Sandbox) -> None:
    path, version = "example.com/big", "v1.0.0"
    src = sandbox.root / "src"
    (src / "data").mkdir(parents=True)
    go_mod = f"module {path}\n\ngo 1.22\n".encode()
    (src / "go.mod").write_bytes(go_mod)
    for i in range(3):
        _write_incompressible(src / "data" / f"blob{i}.bin", 18 << 20, seed=i)
    zip_file = sandbox.root / "big.zip"
    with open(zip_file, "wb") as f:
        create_zip_from_dir(f, path, version, src)
    assert zip_file.stat().st_size > 50 << 20
    with open(zip_file, "rb") as f:
        zip_sum = hash_zip(f)
    sandbox.proxy.publish(path, version, mod=go_mod, zip_file=zip_file)

    result = sandbox.download(path, version)

    assert result["Sum"] == zip_sum
    assert result["GoModSum"] == hash_go_mod(go_mod)
    _assert_go_extracted_what_we_extract(sandbox, result, path, version, zip_file)


# A tree exercising every omission rule of CreateFromDir. The vendor rules depend on the go line.
_TREE = {
    "a.go": b"package a\n",
    "vendor/modules.txt": b"# vendored\n",
    "vendor/vendor.go": b"package vendor\n",
    "vendor/foo/foo.go": b"package foo\n",
    "pkg/vendor/vendor.go": b"package vendor\n",
    "sub/vendor/sub.txt": b"sub\n",
    "x/vendor/a/b.go": b"package a\n",
    "nested/go.mod": b"module example.com/vend/nested\n",
    "nested/n.go": b"package nested\n",
    "upper/GO.MOD": b"module example.com/vend/upper\n",
    "upper/u.go": b"package upper\n",
    ".git/config": b"[core]\n",
    "docs/.hg/store": b"hg\n",
    ".hg_archival.txt": b"repo: 0\n",
}

_KEPT = {
    "1.23": {"go.mod", "a.go", "vendor/modules.txt", "vendor/vendor.go"},
    "1.24": {"go.mod", "a.go", "vendor/vendor.go", "pkg/vendor/vendor.go", "sub/vendor/sub.txt"},
}


@pytest.mark.parametrize("go_line", sorted(_KEPT))
def test_nested_modules_and_vendor_folders_follow_the_go_line(
    sandbox: _Sandbox, gohelper: GoHelper, go_line: str
) -> None:
    path, version = "example.com/vend", "v1.0.0"
    src = sandbox.root / "src"
    go_mod = f"module {path}\n\ngo {go_line}\n".encode()
    for name, data in {"go.mod": go_mod, **_TREE}.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    zip_file = sandbox.root / "vend.zip"
    with open(zip_file, "wb") as f:
        create_zip_from_dir(f, path, version, src)
    with open(zip_file, "rb") as f:
        zip_sum = hash_zip(f)
    go_zip = sandbox.root / "vend-go.zip"
    go_made = gohelper.call("create_zip_from_dir", path=path, version=version, dir=src, out=go_zip)
    assert go_made == {"err": "", "hash": zip_sum}
    sandbox.proxy.publish(path, version, mod=go_mod, zip_file=zip_file)

    result = sandbox.download(path, version)

    assert result["Sum"] == zip_sum
    tree = _assert_go_extracted_what_we_extract(sandbox, result, path, version, zip_file)
    assert {name for name, (kind, _, _) in tree.items() if kind == "file"} == _KEPT[go_line]

"""Extracting while hashing gives the go command's hash: for every corpus module, the ``h1:`` of
:func:`~gomodproxy.modzip.extract.extract_zip_unplaced` equals the zip line of the corpus's
go.sum (recorded by the go command against the checksum database), and the tree it placed is the
one the go command extracted (same files, same bytes)."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from gomodproxy.modzip.extract import extract_zip_unplaced, place_tree, remove_tree
from tests.corpus_data import CorpusModule, corpus_modules

pytestmark = [pytest.mark.corpus]


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("module", corpus_modules()[:40], ids=lambda m: m.id)
def test_extract_and_hash_in_one_pass_matches_go_sum_and_the_go_command_tree(
    module: CorpusModule, tmp_path: Path
) -> None:
    target = tmp_path / "tree"
    tmp, h1 = extract_zip_unplaced(module.zip_file, module.path, module.version, target)
    try:
        assert h1 == module.zip_sum
        assert not target.exists()
        place_tree(tmp, target)
    finally:
        remove_tree(tmp)
    want = module.extracted_dir
    assert _files(target) == _files(want)
    for rel in _files(want)[:200]:
        assert filecmp.cmp(target / rel, want / rel, shallow=False), rel
    remove_tree(target)

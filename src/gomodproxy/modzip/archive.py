"""Module zips as files on disk: check, hash and write them by path.

Thin wrappers over the pure functions of :mod:`gomodproxy.module` for callers holding file names
(the CLI, the client's cache writer, corpus tests). Writing is atomic: the zip goes to a
temporary file in the destination's directory, is flushed and fsynced, re-read and hashed, and
only then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from gomodproxy.module.dirhash import hash_zip
from gomodproxy.module.zipcheck import CheckedFiles, check_zip
from gomodproxy.module.zipcreate import create_zip
from gomodproxy.module.zipfiles import ModuleFile
from gomodproxy.module.zipreader import MAX_ENTRIES
from gomodproxy.modzip.dirfiles import list_files_in_dir

__all__ = ["check_zip_file", "hash_zip_file", "write_module_zip", "write_module_zip_from_dir"]


def check_zip_file(
    zip_path: str | os.PathLike[str],
    module_path: str,
    version: str,
    *,
    max_entries: int = MAX_ENTRIES,
) -> CheckedFiles:
    """:func:`~gomodproxy.module.zipcheck.check_zip` on the zip file at ``zip_path``."""
    with open(zip_path, "rb") as f:
        return check_zip(f, module_path, version, max_entries=max_entries)


def hash_zip_file(zip_path: str | os.PathLike[str], *, max_entries: int = MAX_ENTRIES) -> str:
    """:func:`~gomodproxy.module.dirhash.hash_zip` of the zip file at ``zip_path``."""
    with open(zip_path, "rb") as f:
        return hash_zip(f, max_entries=max_entries)


def write_module_zip(
    dest: str | os.PathLike[str], module_path: str, version: str, files: Sequence[ModuleFile]
) -> str:
    """Write the module zip made of ``files`` to ``dest`` atomically; return its ``h1:`` hash.

    Nothing appears at ``dest`` unless the whole zip was written; on error the temporary file is
    removed and ``dest`` is left as it was.
    """
    target = Path(dest)
    tmp = target.parent / f".{target.name}.tmp-{secrets.token_hex(8)}"
    try:
        with open(tmp, "xb") as out:
            create_zip(out, module_path, version, files)
            out.flush()
            os.fsync(out.fileno())
        digest = hash_zip_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return digest


def write_module_zip_from_dir(
    dest: str | os.PathLike[str],
    module_path: str,
    version: str,
    source_dir: str | os.PathLike[str],
) -> str:
    """Write the module zip of the tree at ``source_dir`` to ``dest`` atomically; return h1."""
    files, _ = list_files_in_dir(source_dir)
    return write_module_zip(dest, module_path, version, files)

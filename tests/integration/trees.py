"""Comparing extracted module trees: ours against the go command's.

A tree is summarised as {relative path: (kind, permission bits, SHA-256 of content)} so two
trees compare in one assertion whose diff names exactly the paths that differ.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

__all__ = ["TreeEntry", "tree_summary"]

#: (kind, permission bits, content digest): kind is "file", "dir" or "other".
TreeEntry = tuple[str, int, str]


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def tree_summary(root: Path, *, dir_modes: bool = False) -> dict[str, TreeEntry]:
    """Summarise every file and directory below ``root`` (not ``root`` itself).

    Directory permission bits are recorded only with ``dir_modes`` (the go command makes them
    read-only after extraction; the bits of the files are what go.sum's trust rests on).
    """
    out: dict[str, TreeEntry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames:
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            mode = stat.S_IMODE(os.lstat(full).st_mode) if dir_modes else 0
            out[rel] = ("dir", mode, "")
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("file", stat.S_IMODE(st.st_mode), _digest(full))
            else:
                out[rel] = ("other", stat.S_IMODE(st.st_mode), "")
    return out

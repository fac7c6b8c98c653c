"""Safe extraction of a module zip into the module cache (x/mod/zip ``Unzip`` + cmd/go ``unzip``).

Every rule of :func:`~gomodproxy.module.zipcheck.check_zip` is enforced before a byte is
written, declared sizes included. Then the files are written, one entry at a time and streamed,
into a fresh temporary directory beside the target (``<target>.tmp-*``, the name the go command
cleans up), each under the name that was checked and hashed: the central-directory name minus the
``path@version/`` prefix. Nothing is ever silently cleaned or skipped (``zipfile.extract`` strips
``..``; we refuse the zip instead). Files are created ``O_EXCL|O_NOFOLLOW`` with mode 0444, only
regular files and directories are created (a zip entry claiming to be a symlink or device becomes
a plain file, as with Go), directories are made read-only children first, and the finished tree
is renamed onto the target: a reader never sees a partial tree under the final name. On any error
the temporary tree is removed (Go may leave files behind; we do not).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash1_digests
from gomodproxy.module.zipcheck import check_zip_detailed
from gomodproxy.module.zipentry import iter_entry_data
from gomodproxy.module.zipreader import MAX_ENTRIES, ZipEntry
from gomodproxy.modzip.dirfiles import walk_tree

__all__ = [
    "extract_zip",
    "extract_zip_unplaced",
    "make_dirs_read_only",
    "place_tree",
    "remove_tree",
]

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def make_dirs_read_only(root: str | os.PathLike[str], *, include_root: bool = True) -> None:
    """Remove the write bits of every directory under ``root``, children before parents.

    Best effort, like cmd/go ``makeDirsReadOnly``.
    """
    top = os.fspath(root)
    dirs = [(path, st) for path, _rel, st in walk_tree(top) if stat.S_ISDIR(st.st_mode)]
    for path, st in reversed(dirs):
        if path == top and not include_root:
            continue
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~_WRITE_BITS)


def remove_tree(root: str | os.PathLike[str]) -> None:
    """Delete a tree written by :func:`extract_zip`, making its directories writable first.

    Iterative (a deeply nested tree is fine) and best effort: what cannot be removed stays.
    """
    top = os.fspath(root)
    if not os.path.lexists(top):
        return
    entries: list[tuple[str, bool]] = []
    try:
        for path, _rel, st in walk_tree(top):
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_dir:
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
            entries.append((path, is_dir))
    except OSError:
        pass
    for path, is_dir in reversed(entries):
        with contextlib.suppress(OSError):
            if is_dir:
                os.rmdir(path)
            else:
                os.unlink(path)


def _relative_parts(name: str) -> list[str]:
    # The checks already refused unclean, absolute and oddly spelled names; this re-checks the
    # parts that would make a path leave the tree, whatever the platform's separators are.
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", "..") or "\x00" in part or os.sep in part:
            raise ZipError("not_clean", f"refusing to extract {name!r}", file=name)
        if os.altsep and os.altsep in part:
            raise ZipError("not_clean", f"refusing to extract {name!r}", file=name)
    return parts


def _make_parents(tmp: str, parts: list[str], made: set[str]) -> str:
    # One mkdir per missing level (os.makedirs recurses once per level, and a zip can nest
    # thousands of levels). Only directories we made are trusted; they hold nothing else.
    parent = tmp
    for i, part in enumerate(parts[:-1]):
        parent = os.path.join(parent, part)
        key = "/".join(parts[: i + 1])
        if key in made:
            continue
        os.mkdir(parent, 0o777)
        made.add(key)
    return parent


def _write_entry(zf: BinaryIO, entry: ZipEntry, tmp: str, name: str, made: set[str]) -> str:
    """Write one entry; return the hex SHA-256 of its content."""
    parts = _relative_parts(name)
    dst = os.path.join(_make_parents(tmp, parts, made), parts[-1])
    fd = os.open(dst, _CREATE_FLAGS, 0o444)
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        for chunk in iter_entry_data(zf, entry):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _opened(zip_file: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(zip_file, str | os.PathLike):
        with open(zip_file, "rb") as f:
            yield f
    else:
        yield zip_file


def _check_target(target: Path) -> None:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        # A link is refused even if it points at an empty directory: we would write through it.
        raise ZipError("target_not_empty", f"target {target} exists and is not a directory")
    with os.scandir(target) as it:
        if next(it, None) is not None:
            raise ZipError(
                "target_not_empty",
                f"target directory {target} exists and is not empty; "
                "remove it (see remove_tree) and extract again",
            )


def extract_zip(
    zip_file: str | os.PathLike[str] | BinaryIO,
    module_path: str,
    version: str,
    target_dir: str | os.PathLike[str],
    *,
    max_entries: int = MAX_ENTRIES,
) -> Path:
    """Extract the module zip of ``module_path@version`` into ``target_dir``; return its path.

    ``target_dir`` must not exist or be an empty directory; its parents are created. Raises
    ``ZipError`` for every refusal (the kinds of :mod:`gomodproxy.module.zipcheck`, those of
    :mod:`gomodproxy.module.zipentry`, ``target_not_empty``) and ``OSError`` for I/O failures;
    either way nothing is left under ``target_dir`` or beside it.
    """
    tmp, _h1 = extract_zip_unplaced(
        zip_file, module_path, version, target_dir, max_entries=max_entries
    )
    return place_tree(tmp, target_dir)


def extract_zip_unplaced(
    zip_file: str | os.PathLike[str] | BinaryIO,
    module_path: str,
    version: str,
    target_dir: str | os.PathLike[str],
    *,
    max_entries: int = MAX_ENTRIES,
) -> tuple[Path, str]:
    """Check and extract the zip into a fresh temporary folder beside ``target_dir``, hashing
    each entry as it is written; return the folder and the zip's ``h1:`` hash (the same as
    :func:`~gomodproxy.module.dirhash.hash_zip`'s). Nothing is under ``target_dir`` yet: the
    caller checks the hash, then calls :func:`place_tree`, or :func:`remove_tree` on refusal.
    On any error the temporary folder is removed.
    """
    target = Path(target_dir)
    _check_target(target)
    with _opened(zip_file) as zf:
        directory, checked = check_zip_detailed(zf, module_path, version, max_entries=max_entries)
        checked.raise_for_error()
        assert directory is not None  # only a too-large zip has none, and that is an error
        prefix = f"{module_path}@{version}/"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _make_temp_dir(target)
        made: set[str] = set()
        digests: list[tuple[str, str]] = []
        try:
            for entry in directory.entries:
                name = entry.name[len(prefix) :]
                if name == "" or name.endswith("/"):
                    # Directory entries count in the hash as empty files (x/mod HashZip).
                    for _ in iter_entry_data(zf, entry):
                        pass
                    digests.append((entry.name, _EMPTY_SHA256))
                    continue
                digests.append((entry.name, _write_entry(zf, entry, tmp, name, made)))
            make_dirs_read_only(tmp, include_root=False)
            h1 = hash1_digests(digests)
        except BaseException:
            remove_tree(tmp)
            raise
    return Path(tmp), h1


def place_tree(tmp: str | os.PathLike[str], target_dir: str | os.PathLike[str]) -> Path:
    """Rename a tree made by :func:`extract_zip_unplaced` onto ``target_dir`` (which must not
    exist or be empty) and make its root read-only; the temporary tree is removed on failure."""
    target = Path(target_dir)
    try:
        with contextlib.suppress(FileNotFoundError):
            target.rmdir()  # an empty directory at most (checked before extracting)
        os.rename(tmp, target)
    except BaseException:
        remove_tree(tmp)
        raise
    with contextlib.suppress(OSError):
        st = os.stat(target)
        os.chmod(target, stat.S_IMODE(st.st_mode) & ~_WRITE_BITS)
    return target


def _make_temp_dir(target: Path) -> str:
    # Not tempfile.mkdtemp: its 0700 mode would survive into the cache, where Go's directories
    # are 0777 less the umask (then read-only). Reading the umask means changing it, which is
    # not thread-safe, so the directory is created with 0777 and the umask applies by itself.
    for _ in range(100):
        tmp = target.parent / f"{target.name}.tmp-{secrets.token_hex(8)}"
        try:
            os.mkdir(tmp, 0o777)
        except FileExistsError:
            continue
        return os.fspath(tmp)
    raise FileExistsError(f"could not create a temporary directory beside {target}")

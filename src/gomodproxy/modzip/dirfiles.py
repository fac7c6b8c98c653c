"""Module files from a directory tree: listing (x/mod/zip ``listFilesInDir``) and hashing.

:func:`list_files_in_dir` walks a module root the way ``CreateFromDir`` does: in lexical order,
never descending into ``.bzr``, ``.git``, ``.hg`` or ``.svn``, skipping directories that hold a
``go.mod`` (nested modules), leaving out vendored files by the module's own ``go`` line, and
leaving out symbolic links and other irregular files. :func:`check_dir` and
:func:`create_zip_from_dir` build on it.

:func:`hash_dir` is ``dirhash.HashDir``: the ``h1:`` hash of an extracted module tree, equal to
the hash of the zip it came from.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import FileSource, hash1
from gomodproxy.module.zipcheck import (
    MAX_GO_MOD,
    CheckedFiles,
    FileError,
    check_files,
)
from gomodproxy.module.zipcreate import create_zip, hash_module_files
from gomodproxy.module.zipfiles import FileInfo, FileKind, go_lang_version, is_vendored_package

__all__ = [
    "DirFile",
    "check_dir",
    "create_zip_from_dir",
    "dir_files",
    "hash_dir",
    "hash_module_dir",
    "list_files_in_dir",
    "walk_tree",
]

_VCS_DIRS = frozenset({".bzr", ".git", ".hg", ".svn"})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _file_info(st: os.stat_result) -> FileInfo:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        kind = FileKind.REGULAR
    elif stat.S_ISDIR(mode):
        kind = FileKind.DIRECTORY
    elif stat.S_ISLNK(mode):
        kind = FileKind.SYMLINK
    else:
        kind = FileKind.OTHER
    return FileInfo(kind, st.st_size)


def _open_no_follow(file_path: str) -> BinaryIO:
    # The file was a regular file when listed; refuse it if it has become a link since.
    fd = os.open(file_path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    return os.fdopen(fd, "rb")


@dataclass(frozen=True, slots=True)
class DirFile:
    """A file found in a directory tree (Go's ``dirFile``): a :class:`ModuleFile`."""

    path: str
    file_path: str
    info: FileInfo

    def lstat(self) -> FileInfo:
        """What ``lstat`` said when the tree was listed."""
        return self.info

    def open(self) -> BinaryIO:
        """Open the file (a symbolic link put in its place is refused)."""
        return _open_no_follow(self.file_path)


def _sorted_entries(directory: str) -> list[str]:
    # filepath.Walk visits names in sorted (bytewise) order.
    return sorted(os.listdir(directory), key=os.fsencode)


def _root_lang(root: str) -> tuple[int, int] | None:
    try:
        with open(os.path.join(root, "go.mod"), "rb") as f:
            data = f.read(MAX_GO_MOD + 1)
    except OSError:
        return None
    return go_lang_version(data)


def list_files_in_dir(directory: str | os.PathLike[str]) -> tuple[list[DirFile], list[FileError]]:
    """List the files ``CreateFromDir`` would consider, and what the walk itself left out.

    Returns (files, omitted): files are regular files with slash-separated paths relative to
    ``directory``; omitted lists vendored paths, version-control and nested-module directories
    and irregular files, with Go's reasons. ``OSError`` from reading the tree propagates.
    """
    root = os.path.realpath(os.fspath(directory))
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root} is not a directory")
    lang = _root_lang(root)
    files: list[DirFile] = []
    omitted: list[FileError] = []

    def visit(file_path: str, rel: str, st: os.stat_result) -> Iterator[tuple[str, str]]:
        """Handle one path; yield its children to visit when it is a directory to walk."""
        if rel and is_vendored_package(rel, lang):
            omitted.append(FileError(rel, "file is in vendor directory", "vendored"))
            if not stat.S_ISDIR(st.st_mode):
                return
        elif stat.S_ISDIR(st.st_mode):
            if rel:
                if os.path.basename(file_path) in _VCS_DIRS:
                    reason = "directory is a version control repository"
                    omitted.append(FileError(rel, reason, "vcs"))
                    return
                try:
                    go_mod = os.lstat(os.path.join(file_path, "go.mod"))
                except FileNotFoundError:
                    pass
                else:
                    if not stat.S_ISDIR(go_mod.st_mode):
                        reason = "directory is in another module"
                        omitted.append(FileError(rel, reason, "submodule_dir"))
                        return
        elif not stat.S_ISREG(st.st_mode):
            omitted.append(FileError(rel, "not a regular file", "not_regular"))
            return
        else:
            files.append(DirFile(rel, file_path, _file_info(st)))
            return
        for name in _sorted_entries(file_path):
            yield os.path.join(file_path, name), f"{rel}/{name}" if rel else name

    # An explicit stack keeps deep trees from exhausting Python's recursion limit.
    stack: list[Iterator[tuple[str, str]]] = [visit(root, "", os.lstat(root))]
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            continue
        child_path, child_rel = nxt
        stack.append(visit(child_path, child_rel, os.lstat(child_path)))
    return files, omitted


def check_dir(directory: str | os.PathLike[str]) -> CheckedFiles:
    """Check a module directory as x/mod/zip ``CheckDir`` does.

    Paths in the report are relative to ``directory`` (Go joins them to it); the walk's own
    omissions follow those of :func:`~gomodproxy.module.zipcheck.check_files`, as in Go.
    """
    files, walk_omitted = list_files_in_dir(directory)
    checked = check_files(files)
    return CheckedFiles(
        checked.valid, checked.omitted + tuple(walk_omitted), checked.invalid, checked.size_error
    )


def create_zip_from_dir(
    out: BinaryIO, module_path: str, version: str, directory: str | os.PathLike[str]
) -> None:
    """Write the module zip of the tree at ``directory`` to ``out`` (Go's ``CreateFromDir``)."""
    files, _ = list_files_in_dir(directory)
    create_zip(out, module_path, version, files)


def hash_module_dir(module_path: str, version: str, directory: str | os.PathLike[str]) -> str:
    """The ``h1:`` hash of the zip :func:`create_zip_from_dir` would write, without writing it."""
    files, _ = list_files_in_dir(directory)
    return hash_module_files(module_path, version, files)


def walk_tree(root: str | os.PathLike[str]) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield (path, slash-separated relative path, lstat) for ``root`` and everything below it.

    Lexical pre-order like Go's ``filepath.Walk``; symbolic links are reported, never followed.
    Iterative, so a tree nested thousands of levels deep does not hit Python's recursion limit
    (``os.walk`` and ``shutil.rmtree`` recurse in Python 3.11).
    """
    top = os.fspath(root)
    stack: list[tuple[str, str]] = [(top, "")]
    while stack:
        path, rel = stack.pop()
        st = os.lstat(path)
        yield path, rel, st
        if stat.S_ISDIR(st.st_mode):
            children = _sorted_entries(path)
            for name in reversed(children):
                stack.append((os.path.join(path, name), f"{rel}/{name}" if rel else name))


def dir_files(directory: str | os.PathLike[str], prefix: str) -> list[tuple[str, str]]:
    """List every non-directory under ``directory`` as (``prefix/rel``, file path) (``DirFiles``).

    Raises ``NotADirectoryError`` when ``directory`` is not a directory.
    """
    root = os.fspath(Path(directory))
    if not os.path.isdir(root) or os.path.islink(root):
        raise NotADirectoryError(f"{root} is not a directory")
    prefix = prefix.rstrip("/")
    return [
        (f"{prefix}/{rel}", path)
        for path, rel, st in walk_tree(root)
        if not stat.S_ISDIR(st.st_mode)
    ]


def hash_dir(directory: str | os.PathLike[str], prefix: str) -> str:
    """The ``h1:`` hash of an extracted module tree, names ``prefix/rel`` (``HashDir``).

    For an extracted ``path@version`` tree with prefix ``path@version`` this equals the zip's
    hash. Unlike Go, a symbolic link in the tree is an error (``ZipError`` ``symlink``), not
    followed: nothing we extract is a link, so one means the tree was tampered with.
    """

    def source(file_path: str, name: str) -> FileSource:
        def opener() -> BinaryIO:
            try:
                return _open_no_follow(file_path)
            except OSError as exc:
                if os.path.islink(file_path):
                    raise ZipError(
                        "symlink", f"{name}: symbolic link in module tree", file=name
                    ) from exc
                raise

        return opener

    return hash1((name, source(fp, name)) for name, fp in dir_files(directory, prefix))

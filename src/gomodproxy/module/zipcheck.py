"""The module zip rules of x/mod ``zip/zip.go``: ``CheckFiles`` and ``CheckZip``.

Both return a :class:`CheckedFiles` report listing every file as valid, omitted (with the reason
it is left out of a zip) or invalid (with the reason the module cannot be zipped), plus a size
error. Reasons carry Go's wording and a stable ``kind``:

* invalid: ``not_clean``, ``not_relative``, ``bad_file_path``, ``gomod_case``,
  ``gomod_not_root``, ``case_collision``, ``duplicate``, ``file_and_dir``, ``gomod_too_large``,
  ``license_too_large``, ``prefix``, ``io``;
* omitted: ``vendored``, ``submodule``, ``submodule_dir``, ``hg_archival``, ``symlink``,
  ``not_regular``, ``vcs``;
* size errors: ``too_large`` (the zip file), ``total_too_large`` (the content).

Module path and version problems raise :class:`~gomodproxy.errors.ZipError` with kind
``bad_module_path`` or ``bad_version``; a container that is not a zip raises the errors of
:mod:`gomodproxy.module.zipreader`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from gomodproxy.errors import InvalidModulePath, InvalidVersion, ZipError
from gomodproxy.module.casefold import equal_fold, fold_key
from gomodproxy.module.gostrings import go_quote, has_invalid_utf8
from gomodproxy.module.paths import canonical_version, check, file_path_error
from gomodproxy.module.zipfiles import (
    FileKind,
    ModuleFile,
    go_lang_version,
    is_vendored_package,
)
from gomodproxy.module.zipreader import MAX_ENTRIES, ZipDirectory, read_directory

__all__ = [
    "MAX_GO_MOD",
    "MAX_LICENSE",
    "MAX_ZIP_FILE",
    "CheckedFiles",
    "FileError",
    "check_files",
    "check_files_detailed",
    "check_module_version",
    "check_zip",
    "check_zip_detailed",
    "go_path_clean",
]

#: Largest module zip file, and largest total uncompressed content (500 MiB).
MAX_ZIP_FILE = 500 << 20
#: Largest root go.mod in a module zip (16 MiB).
MAX_GO_MOD = 16 << 20
#: Largest root LICENSE in a module zip (16 MiB).
MAX_LICENSE = 16 << 20


@dataclass(frozen=True, slots=True)
class FileError:
    """A file left out of a module zip or refused, with Go's reason and a stable ``kind``."""

    path: str
    reason: str
    kind: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class CheckedFiles:
    """What a check found (x/mod/zip ``CheckedFiles``): every file is in exactly one list."""

    valid: tuple[str, ...] = ()
    omitted: tuple[FileError, ...] = ()
    invalid: tuple[FileError, ...] = ()
    size_error: ZipError | None = None

    def err(self) -> ZipError | None:
        """The error making this not a valid module zip, or None (``CheckedFiles.Err``).

        The size error wins; otherwise the invalid files, one per line, under the kind of the
        first one.
        """
        if self.size_error is not None:
            return self.size_error
        if self.invalid:
            first = self.invalid[0]
            message = "\n".join(str(e) for e in self.invalid)
            return ZipError(first.kind, message, file=first.path)
        return None

    def raise_for_error(self) -> None:
        """Raise :meth:`err` when there is one."""
        error = self.err()
        if error is not None:
            raise error


def go_path_clean(p: str) -> str:
    """Go's ``path.Clean`` (unlike ``posixpath.normpath``, ``//a`` becomes ``/a``)."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for elem in p.split("/"):
        if elem in ("", "."):
            continue
        if elem == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(elem)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


class _CollisionChecker:
    """Case-insensitive collisions and file/directory clashes (x/mod/zip ``collisionChecker``).

    Keys are :func:`fold_key` (Go's ``strToFold``), so the check is linear in the number of
    paths and their parents; ``str.casefold`` would wrongly fold ``ß`` with ``ss``.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, bool]] = {}

    def check(self, p: str, is_dir: bool) -> FileError | None:
        # fold_key maps each character to one character, so the key of a parent directory is
        # a prefix of the path's key: folding once keeps deep paths from costing O(depth * len)
        # Python-level work (CVE-2025-61728 was this shape of slowdown in archive/zip).
        full_key = fold_key(p)
        end = len(p)
        while True:
            path, key = p[:end], full_key[:end]
            other = self._seen.get(key)
            if other is not None:
                other_path, other_is_dir = other
                if path != other_path:
                    return FileError(
                        path,
                        "case-insensitive file name collision: "
                        f"{go_quote(other_path)} and {go_quote(path)}",
                        "case_collision",
                    )
                if is_dir != other_is_dir:
                    return FileError(
                        path,
                        f"entry {go_quote(path)} is both a file and a directory",
                        "file_and_dir",
                    )
                if not is_dir:
                    return FileError(
                        path, f"multiple entries for file {go_quote(path)}", "duplicate"
                    )
                # The same directory again. Its parents are checked again too, as x/mod does:
                # a parent may be a file (the walk that added this directory failed there).
            else:
                self._seen[key] = (path, is_dir)
            end = path.rfind("/")
            if end <= 0:
                return None
            is_dir = True


def _malformed(p: str, reason: str) -> FileError:
    return FileError(p, f"malformed file path {go_quote(p)}: {reason}", "bad_file_path")


@dataclass(slots=True)
class _Report:
    valid: list[str]
    omitted: list[FileError]
    invalid: list[FileError]
    size_error: ZipError | None = None

    def freeze(self) -> CheckedFiles:
        return CheckedFiles(
            tuple(self.valid), tuple(self.omitted), tuple(self.invalid), self.size_error
        )


def _root_go_mod_lang(files: Sequence[ModuleFile]) -> tuple[int, int] | None:
    # Go's checkFiles parses every regular root go.mod it meets, so the last one wins; one that
    # cannot be read leaves the version as it was.
    lang: tuple[int, int] | None = None
    for f in files:
        if f.path != "go.mod":
            continue
        try:
            if not f.lstat().is_regular:
                continue
            with f.open() as stream:
                # Go reads it whole; anything past the go.mod limit is refused later anyway.
                data = stream.read(MAX_GO_MOD + 1)
        except OSError:
            continue
        lang = go_lang_version(data)
    return lang


def check_files_detailed(
    files: Sequence[ModuleFile],
) -> tuple[CheckedFiles, list[ModuleFile], list[int]]:
    """:func:`check_files`, also returning the valid files and their sizes (for ``Create``)."""
    report = _Report([], [], [])
    recorded: set[str] = set()

    def add(fe: FileError, *, omitted: bool) -> None:
        # Go's addError: a path reported once is never reported again.
        if fe.path in recorded:
            return
        recorded.add(fe.path)
        (report.omitted if omitted else report.invalid).append(fe)

    # Directories (other than the root) holding a regular file named go.mod in any case are
    # nested modules: everything below them is omitted, before names are validated.
    have_go_mod: set[str] = set()
    for f in files:
        p = f.path
        slash = p.rfind("/")
        base = p[slash + 1 :]
        if equal_fold(base, "go.mod"):
            try:
                info = f.lstat()
            except OSError as exc:
                add(FileError(p, str(exc), "io"), omitted=False)
                continue
            if info.is_regular:
                have_go_mod.add(p[: slash + 1])
    lang = _root_go_mod_lang(files)

    def in_submodule(p: str) -> bool:
        while True:
            slash = p.rfind("/")
            if slash < 0:
                return False
            if p[: slash + 1] in have_go_mod:
                return True
            p = p[:slash]

    collisions = _CollisionChecker()
    remaining = MAX_ZIP_FILE
    valid_files: list[ModuleFile] = []
    valid_sizes: list[int] = []
    for f in files:
        p = f.path
        if p != go_path_clean(p):
            add(FileError(p, "file path is not clean", "not_clean"), omitted=False)
            continue
        if p.startswith("/"):
            add(FileError(p, "file path is not relative", "not_relative"), omitted=False)
            continue
        if is_vendored_package(p, lang):
            add(FileError(p, "file is in vendor directory", "vendored"), omitted=True)
            continue
        if in_submodule(p):
            add(FileError(p, "file is in another module", "submodule"), omitted=True)
            continue
        if p == ".hg_archival.txt":
            reason = "file is inserted by 'hg archive' and is always omitted"
            add(FileError(p, reason, "hg_archival"), omitted=True)
            continue
        bad = file_path_error(p)
        if bad is not None:
            add(_malformed(p, bad), omitted=False)
            continue
        if p.lower() == "go.mod" and p != "go.mod":
            add(FileError(p, "go.mod files must have lowercase names", "gomod_case"), omitted=False)
            continue
        try:
            info = f.lstat()
        except OSError as exc:
            add(FileError(p, str(exc), "io"), omitted=False)
            continue
        collision = collisions.check(p, info.is_dir)
        if collision is not None:
            add(FileError(p, collision.reason, collision.kind), omitted=False)
            continue
        if info.kind is FileKind.SYMLINK:
            add(FileError(p, "file is a symbolic link", "symlink"), omitted=True)
            continue
        if not info.is_regular:
            add(FileError(p, "not a regular file", "not_regular"), omitted=True)
            continue
        size = info.size
        if 0 <= size <= remaining:
            remaining -= size
        elif report.size_error is None:
            report.size_error = ZipError(
                "total_too_large",
                f"module source tree too large (max size is {MAX_ZIP_FILE} bytes)",
            )
        if p == "go.mod" and size > MAX_GO_MOD:
            reason = f"go.mod file too large (max size is {MAX_GO_MOD} bytes)"
            add(FileError(p, reason, "gomod_too_large"), omitted=False)
            continue
        if p == "LICENSE" and size > MAX_LICENSE:
            reason = f"LICENSE file too large (max size is {MAX_LICENSE} bytes)"
            add(FileError(p, reason, "license_too_large"), omitted=False)
            continue
        report.valid.append(p)
        valid_files.append(f)
        valid_sizes.append(size)
    return report.freeze(), valid_files, valid_sizes


def check_files(files: Sequence[ModuleFile]) -> CheckedFiles:
    """Sort ``files`` into valid, omitted and invalid as x/mod/zip ``CheckFiles`` does.

    Files are not read, except the root ``go.mod`` whose ``go`` line selects the vendor rule.
    """
    return check_files_detailed(files)[0]


def check_module_version(module_path: str, version: str) -> None:
    """Raise ``ZipError`` unless the version is canonical and fits a valid module path.

    Kinds: ``bad_version`` (not canonical, not semver, wrong major version for the path) and
    ``bad_module_path``; messages follow Go's ``Create``/``CheckZip``.
    """
    canonical = canonical_version(version)
    if canonical != version:
        raise ZipError(
            "bad_version",
            f"version {go_quote(version)} is not canonical (should be {go_quote(canonical)})",
        )
    if has_invalid_utf8(module_path):
        raise ZipError(
            "bad_module_path", f"malformed module path {go_quote(module_path)}: invalid UTF-8"
        )
    try:
        check(module_path, version)
    except InvalidModulePath as exc:
        raise ZipError(
            "bad_module_path", f"malformed module path {go_quote(module_path)}: {exc.reason}"
        ) from exc
    except InvalidVersion as exc:
        raise ZipError(
            "bad_version", f"{module_path}@{version}: invalid version: {exc.reason}"
        ) from exc


def check_zip_detailed(
    reader: BinaryIO | bytes,
    module_path: str,
    version: str,
    *,
    size: int | None = None,
    max_entries: int = MAX_ENTRIES,
) -> tuple[ZipDirectory | None, CheckedFiles]:
    """:func:`check_zip`, also returning the parsed directory (None when the zip is too large)."""
    check_module_version(module_path, version)
    stream: BinaryIO = io.BytesIO(reader) if isinstance(reader, bytes) else reader
    if size is None:
        size = stream.seek(0, io.SEEK_END)
    if size > MAX_ZIP_FILE:
        too_large = ZipError(
            "too_large",
            f"module zip file is too large ({size} bytes; limit is {MAX_ZIP_FILE} bytes)",
        )
        return None, CheckedFiles(size_error=too_large)
    directory = read_directory(stream, size, max_entries=max_entries)
    report = _Report([], [], [])
    prefix = f"{module_path}@{version}/"
    collisions = _CollisionChecker()
    total = 0
    for entry in directory.entries:
        full = entry.name
        if not full.startswith(prefix):
            reason = f"path does not have prefix {go_quote(prefix)}"
            report.invalid.append(FileError(full, reason, "prefix"))
            continue
        name = full[len(prefix) :]
        if name == "":
            continue
        is_dir = name.endswith("/")
        if is_dir:
            name = name[:-1]
        if go_path_clean(name) != name:
            report.invalid.append(FileError(full, "file path is not clean", "not_clean"))
            continue
        bad = file_path_error(name)
        if bad is not None:
            fe = _malformed(name, bad)
            report.invalid.append(FileError(full, fe.reason, fe.kind))
            continue
        collision = collisions.check(name, is_dir)
        if collision is not None:
            report.invalid.append(FileError(full, collision.reason, collision.kind))
            continue
        if is_dir:
            continue
        base = name.rsplit("/", 1)[-1]
        if equal_fold(base, "go.mod"):
            if base != name:
                reason = "go.mod file not in module root directory"
                report.invalid.append(FileError(full, reason, "gomod_not_root"))
                continue
            if name != "go.mod":
                reason = "go.mod files must have lowercase names"
                report.invalid.append(FileError(full, reason, "gomod_case"))
                continue
        sz = entry.uncompressed_size
        if sz <= MAX_ZIP_FILE - total:
            total += sz
        elif report.size_error is None:
            report.size_error = ZipError(
                "total_too_large",
                "total uncompressed size of module contents too large "
                f"(max size is {MAX_ZIP_FILE} bytes)",
            )
        if name == "go.mod" and sz > MAX_GO_MOD:
            reason = f"go.mod file too large (max size is {MAX_GO_MOD} bytes)"
            report.invalid.append(FileError(full, reason, "gomod_too_large"))
            continue
        if name == "LICENSE" and sz > MAX_LICENSE:
            reason = f"LICENSE file too large (max size is {MAX_LICENSE} bytes)"
            report.invalid.append(FileError(full, reason, "license_too_large"))
            continue
        report.valid.append(full)
    return directory, report.freeze()


def check_zip(
    reader: BinaryIO | bytes,
    module_path: str,
    version: str,
    *,
    size: int | None = None,
    max_entries: int = MAX_ENTRIES,
) -> CheckedFiles:
    """Check a module zip's names and declared sizes as x/mod/zip ``CheckZip`` does.

    ``reader`` is a seekable binary stream (or the zip's bytes); only the central directory is
    read. Entry names are reported with their ``path@version/`` prefix. Raises ``ZipError`` for
    a bad module path or version and for a container that is not a zip; everything else is in
    the returned report (see :meth:`CheckedFiles.err`).
    """
    return check_zip_detailed(reader, module_path, version, size=size, max_entries=max_entries)[1]

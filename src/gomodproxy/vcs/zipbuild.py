"""The module zip of a version, made from ``git archive`` output by the foundation zip rules
(codeRepo ``Zip``): the files under the module's directory, LICENSE from the repository root
for a module in a subdirectory that has none, then x/mod/zip ``Create`` (vendor/, nested
modules, symbolic links, submodules and other non-regular files left out; size limits applied).
Blocking: run it in a thread.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from gomodproxy.errors import UpstreamError
from gomodproxy.module.zipcreate import create_zip
from gomodproxy.module.zipfiles import FileInfo, FileKind, MemoryFile, ModuleFile

__all__ = ["build_module_zip"]


@dataclass(frozen=True, slots=True)
class _ArchiveFile:
    path: str
    archive: zipfile.ZipFile
    entry: zipfile.ZipInfo

    def lstat(self) -> FileInfo:
        mode = self.entry.external_attr >> 16
        if mode == 0:
            kind = FileKind.DIRECTORY if self.entry.is_dir() else FileKind.REGULAR
        elif stat.S_ISREG(mode):
            kind = FileKind.REGULAR
        elif stat.S_ISDIR(mode):
            kind = FileKind.DIRECTORY
        elif stat.S_ISLNK(mode):
            kind = FileKind.SYMLINK
        else:
            kind = FileKind.OTHER
        return FileInfo(kind, self.entry.file_size)

    def open(self) -> BinaryIO:
        return self.archive.open(self.entry)  # type: ignore[return-value]


def build_module_zip(
    archive: BinaryIO,
    out: BinaryIO,
    module_path: str,
    version: str,
    subdir: str,
    root_license: bytes | None,
) -> None:
    """Write the module zip to ``out`` from the archive of the module's revision."""
    try:
        zr = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UpstreamError(
            f"git archive wrote an unreadable zip: {exc}", upstream="direct"
        ) from exc
    with zr:
        sub = subdir.strip("/")
        if sub:
            sub += "/"
        files: list[ModuleFile] = []
        have_license = False
        top = ""
        for entry in zr.infolist():
            name = entry.filename
            if not top:
                i = name.find("/")
                if i < 0:
                    raise UpstreamError("missing top-level directory prefix", upstream="direct")
                top = name[: i + 1]
            if not name.startswith(top):
                raise UpstreamError(
                    "zip file contains more than one top-level directory", upstream="direct"
                )
            name = name[len(top) :]
            if not name.startswith(sub):
                continue
            name = name[len(sub) :]
            if name == "" or name.endswith("/"):
                continue
            files.append(_ArchiveFile(name, zr, entry))
            if name == "LICENSE":
                have_license = True
        if not have_license and sub and root_license is not None:
            files.append(MemoryFile("LICENSE", root_license))
        create_zip(out, module_path, version, files)

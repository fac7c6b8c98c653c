"""The file abstraction that module zips are made from, and the rules that pick files by name.

:class:`ModuleFile` mirrors x/mod/zip's ``File`` interface (``Path``, ``Lstat``, ``Open``): a
slash-separated path relative to the module root, what ``lstat`` says about it, and a way to read
it. :class:`MemoryFile` is the in-memory kind (Go's ``dataFile``); directory trees are read by
:mod:`gomodproxy.modzip.dirfiles`.

The vendor rule (``isVendoredPackage``) depends on the ``go`` line of the module's own root
go.mod: Go 1.24 fixed a bug and started omitting ``vendor/modules.txt``, and both changes only
apply to modules declaring ``go 1.24`` or later so that older published hashes stay valid.
"""

from __future__ import annotations

import enum
import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from gomodproxy.errors import GoModSyntaxError

__all__ = [
    "FileInfo",
    "FileKind",
    "MemoryFile",
    "ModuleFile",
    "go_lang_version",
    "is_vendored_package",
]


class FileKind(enum.Enum):
    """What ``lstat`` says a path is (only regular files go into a module zip)."""

    REGULAR = "regular"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FileInfo:
    """The parts of ``os.lstat`` the zip rules read: the kind of file and its size in bytes."""

    kind: FileKind
    size: int

    @property
    def is_dir(self) -> bool:
        """Whether the path is a directory."""
        return self.kind is FileKind.DIRECTORY

    @property
    def is_regular(self) -> bool:
        """Whether the path is a regular file."""
        return self.kind is FileKind.REGULAR


class ModuleFile(Protocol):
    """One candidate file of a module (x/mod/zip ``File``).

    ``lstat`` may raise ``OSError``; the file is then reported invalid. ``open`` returns a fresh
    binary stream positioned at the start; the caller closes it.
    """

    @property
    def path(self) -> str:
        """Slash-separated path relative to the module root."""
        ...

    def lstat(self) -> FileInfo:
        """Describe the file itself (a symbolic link is not followed)."""
        ...

    def open(self) -> BinaryIO:
        """Open the file's content for reading."""
        ...


@dataclass(frozen=True, slots=True)
class MemoryFile:
    """A regular file held in memory (Go's ``dataFile``); ``size`` may override ``len(data)``.

    Overriding the size models a file whose reported size disagrees with its content, which
    :func:`gomodproxy.module.zipcreate.create_zip` must refuse ("larger than declared size").
    """

    path: str
    data: bytes
    size: int | None = None

    def lstat(self) -> FileInfo:
        """Report a regular file of ``size`` (default: the data's length)."""
        return FileInfo(FileKind.REGULAR, len(self.data) if self.size is None else self.size)

    def open(self) -> BinaryIO:
        """Return a stream over the data."""
        return io.BytesIO(self.data)


# modfile.GoVersionRE and laxGoVersionRE (x/mod modfile/rule.go) reduced to the part Lang keeps.
_LANG_RE = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)")


def go_lang_version(go_mod: bytes) -> tuple[int, int] | None:
    """Return the (major, minor) language version of a go.mod's ``go`` line, or None.

    x/mod/zip's ``parseGoVers`` + ``version.Lang``: the file is parsed with ``modfile.ParseLax``
    and any parse error, or a missing ``go`` line, means "no version" (treated as pre-1.24).
    """
    from gomodproxy.module.modfile import parse_lax

    try:
        parsed = parse_lax("go.mod", go_mod)
    except GoModSyntaxError:
        return None
    if parsed.go is None:
        return None
    m = _LANG_RE.match(parsed.go.version)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2))


def _go124_or_later(lang: tuple[int, int] | None) -> bool:
    return lang is not None and lang >= (1, 24)


def is_vendored_package(name: str, lang: tuple[int, int] | None) -> bool:
    """Report whether file ``name`` is in a vendored package (x/mod/zip ``isVendoredPackage``).

    ``lang`` is the module's :func:`go_lang_version`. Before go 1.24 the test after an inner
    ``/vendor/`` starts at byte 8 of the *whole* path (a bug kept so old hashes stay valid), and
    ``vendor/modules.txt`` is kept; from go 1.24 the test starts after that ``/vendor/`` and
    ``vendor/modules.txt`` is omitted.
    """
    new_rules = _go124_or_later(lang)
    if new_rules and name == "vendor/modules.txt":
        return True
    # Byte offsets, as in Go: the pre-1.24 offset 8 may fall inside a multi-byte character.
    raw = name.encode("utf-8", "surrogateescape")
    if raw.startswith(b"vendor/"):
        i = len(b"vendor/")
    else:
        j = raw.find(b"/vendor/")
        if j < 0:
            return False
        i = j + len(b"/vendor/") if new_rules else len(b"/vendor/")
    return b"/" in raw[i:]

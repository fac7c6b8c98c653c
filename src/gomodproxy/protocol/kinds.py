"""The file kinds of the GOPROXY protocol and the size cap of each (applied after decoding).

The caps follow the go command: a zip at most 500 MiB (``proxy.go Zip``, ``maxZipFile``), a go.mod
at most 16 MiB (``modfetch``, ``maxGoMod``): the caps :mod:`gomodproxy.module.zipcheck` applies
to a zip and to the go.mod inside it, defined there once.
"""

from __future__ import annotations

import enum

from gomodproxy.module.zipcheck import MAX_GO_MOD, MAX_ZIP_FILE

__all__ = ["FileKind"]

_MIB = 1 << 20


class FileKind(enum.Enum):
    """A kind of file an upstream serves, with the size cap applied after decoding."""

    LIST = "list"
    INFO = "info"
    MOD = "mod"
    ZIP = "zip"
    LATEST = "latest"
    SUMDB = "sumdb"

    @property
    def max_size(self) -> int:
        """The largest body accepted, in bytes (zip: the go command's 500 MiB)."""
        return _MAX_SIZE[self]

    @property
    def too_large_message(self) -> str:
        """The error text when the cap is passed (the go command's wording for zips)."""
        if self is FileKind.ZIP:
            return "downloaded zip file too large"
        return f"downloaded {self.value} file too large (limit {self.max_size} bytes)"


_MAX_SIZE = {
    FileKind.ZIP: MAX_ZIP_FILE,  # proxy.go Zip: maxZipFile = 500 << 20
    FileKind.MOD: MAX_GO_MOD,  # modfetch: maxGoMod (16 MiB)
    FileKind.INFO: 64 * 1024,
    FileKind.LATEST: 64 * 1024,
    FileKind.LIST: 10 * _MIB,
    FileKind.SUMDB: 1 * _MIB,
}

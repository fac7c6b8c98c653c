"""The one error tree of gomodproxy.

Every error we raise on purpose derives from :class:`ProxyError`. Each subclass names what
happened, keeps its data as attributes and carries ``status_hint``: the HTTP status the server's
error middleware answers with (404/410 for "not here" and malformed module requests, which are the
GOPROXY fall-through codes; 400 only for malformed checksum-database tile paths; 502/504 for
upstream failures). The CLI prints ``gomodproxy: <message>`` and exits non-zero.

Pure modules (``module/``, ``sumdb/``) raise these too; they never do I/O themselves.
"""

from __future__ import annotations

import errno
import os
from typing import ClassVar

__all__ = [
    "ChecksumMismatch",
    "ConfigError",
    "GoModSyntaxError",
    "InvalidFilePath",
    "InvalidModulePath",
    "InvalidVersion",
    "LoopDetected",
    "ModuleDenied",
    "ModuleNotFound",
    "ProxyError",
    "SecurityError",
    "StorageError",
    "StorageFull",
    "SumDBError",
    "UpstreamError",
    "UpstreamTimeout",
    "ZipError",
]


class ProxyError(Exception):
    """Root of every error gomodproxy raises on purpose."""

    status_hint: int = 500
    #: The go command's own wording of the same failure, when it differs (``reading URL:
    #: 404 Not Found\n\tserver response: ...``): the download client, which stands in for the
    #: go command, prints it; the server keeps ``message`` (it hides its upstreams' URLs).
    go_text: str = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidModulePath(ProxyError):
    """A module, import or file path fails Go's path rules (x/mod module.CheckPath & co)."""

    status_hint = 404

    def __init__(self, path: str, reason: str, *, kind: str = "module") -> None:
        super().__init__(f"malformed {kind} path {path!r}: {reason}")
        self.path = path
        self.reason = reason
        self.kind = kind


class InvalidFilePath(InvalidModulePath):
    """A file path inside a module fails CheckFilePath."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason, kind="file")


class InvalidVersion(ProxyError):
    """A version is not valid semver, not canonical, or does not fit the module path."""

    status_hint = 404

    def __init__(self, version: str, reason: str, *, path: str = "") -> None:
        where = f"{path}@{version}" if path else version
        super().__init__(f"invalid version {where!r}: {reason}")
        self.version = version
        self.reason = reason
        self.path = path


class ModuleNotFound(ProxyError):
    """The module or version does not exist here (may exist elsewhere: 404/410)."""

    status_hint = 404

    def __init__(
        self, message: str, *, path: str = "", version: str = "", gone: bool = False
    ) -> None:
        super().__init__(message)
        self.path = path
        self.version = version
        if gone:
            self.status_hint = 410


class ModuleDenied(ProxyError):
    """An operator removed the module (or one version) and denied it (``cache rm``): never
    fetched or served again. 403, not 404/410: the go command must not fall through to another
    source for it."""

    status_hint = 403

    def __init__(self, message: str, *, path: str, version: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.version = version


class GoModSyntaxError(ProxyError):
    """A go.mod or go.work file does not parse; ``line`` is 1-based (0 when unknown)."""

    status_hint = 502

    def __init__(self, filename: str, line: int, reason: str) -> None:
        where = f"{filename}:{line}" if line else filename
        super().__init__(f"{where}: {reason}")
        self.filename = filename
        self.line = line
        self.reason = reason


class ZipError(ProxyError):
    """A module zip breaks a rule of x/mod/zip.

    ``kind`` is a stable machine-readable name for the rule (for example ``"too_large"``,
    ``"case_collision"``, ``"not_clean"``, ``"prefix"``, ``"duplicate"``, ``"gomod_case"``,
    ``"not_zip"``), so tests can assert which rule refused a zip.
    """

    status_hint = 502

    def __init__(self, kind: str, message: str, *, file: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.file = file


class ChecksumMismatch(ProxyError):
    """Downloaded content does not hash to the expected (go.sum or checksum-database) value."""

    status_hint = 502

    def __init__(
        self, path: str, version: str, expected: str, received: str, *, source: str
    ) -> None:
        super().__init__(
            f"verifying {path}@{version}: checksum mismatch\n"
            f"\tdownloaded: {received}\n\t{source}: {expected}\n\n"
            "SECURITY ERROR\n"
            f"This download does NOT match the one reported by the {source}.\n"
            "The download may have been tampered with; nothing was cached."
        )
        self.path = path
        self.version = version
        self.expected = expected
        self.received = received
        self.source = source


class SecurityError(ProxyError):
    """The checksum database misbehaved (fork, bad proof, forged tile): never ignored."""

    status_hint = 502


class SumDBError(ProxyError):
    """A checksum-database lookup failed (unreachable, malformed note, bad record)."""

    status_hint = 502


class UpstreamError(ProxyError):
    """An upstream answered with a failure other than not-found, or with invalid content."""

    status_hint = 502

    def __init__(self, message: str, *, upstream: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.upstream = upstream
        self.status = status


class UpstreamTimeout(UpstreamError):
    """An upstream did not answer within its deadline."""

    status_hint = 504


class LoopDetected(ProxyError):
    """A request already passed through this proxy (508)."""

    status_hint = 508


class StorageError(ProxyError):
    """The storage backend failed to read or write (never a not-found)."""

    status_hint = 503


class StorageFull(StorageError):
    """The cache folder cannot take more bytes: its disk is full (ENOSPC), its quota used up
    (EDQUOT) or a file reached the file-size limit (EFBIG). 503; someone must free space."""

    #: The ``errno`` values that mean "no room to write".
    errnos: ClassVar[frozenset[int]] = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(
            f"cannot write {what} in the cache: disk full ({reason}); free disk space in the "
            "cache folder, or raise its quota or the file-size limit"
        )
        self.what = what
        self.reason = reason

    @classmethod
    def from_os_error(cls, exc: OSError, what: str) -> StorageFull | None:
        """The error for ``exc`` when it means the disk is full, else None."""
        if exc.errno not in cls.errnos:
            return None
        return cls(what, os.strerror(exc.errno))


class ConfigError(ProxyError):
    """Configuration that cannot be valid; raised at start-up, never on a request."""

    status_hint = 500

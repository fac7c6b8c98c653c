"""gomodproxy: a caching Go module proxy, module downloader and mirror prober.

The public names are re-exported here; ``tests/unit/test_exported_members.py`` pins the list.
"""

from gomodproxy.errors import (
    ChecksumMismatch,
    ConfigError,
    GoModSyntaxError,
    InvalidFilePath,
    InvalidModulePath,
    InvalidVersion,
    LoopDetected,
    ModuleNotFound,
    ProxyError,
    SecurityError,
    StorageError,
    StorageFull,
    SumDBError,
    UpstreamError,
    UpstreamTimeout,
    ZipError,
)

__version__ = "0.1.0"

__all__ = [
    "ChecksumMismatch",
    "ConfigError",
    "GoModSyntaxError",
    "InvalidFilePath",
    "InvalidModulePath",
    "InvalidVersion",
    "LoopDetected",
    "ModuleNotFound",
    "ProxyError",
    "SecurityError",
    "StorageError",
    "StorageFull",
    "SumDBError",
    "UpstreamError",
    "UpstreamTimeout",
    "ZipError",
    "__version__",
]

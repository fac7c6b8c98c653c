"""The GOPROXY protocol, pure: file kinds and size caps, request paths, relative file paths
(storage keys and upstream URLs alike), canonical versions, and the checks of small answers.

Server, cache, upstream, client and prober import it; it imports nothing above the pure core
(:mod:`gomodproxy.module`).
"""

from gomodproxy.protocol.answers import (
    InvalidUpstreamContent,
    ListedVersion,
    clean_version_list,
    info_version,
    latest_listed,
    validate_info,
    validate_mod,
)
from gomodproxy.protocol.files import file_key, latest_path, list_key, module_dir
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import (
    BadRequestPath,
    ModuleRequest,
    SumDBRequest,
    parse_request_path,
)
from gomodproxy.protocol.versions import is_canonical

__all__ = [
    "BadRequestPath",
    "FileKind",
    "InvalidUpstreamContent",
    "ListedVersion",
    "ModuleRequest",
    "SumDBRequest",
    "clean_version_list",
    "file_key",
    "info_version",
    "is_canonical",
    "latest_listed",
    "latest_path",
    "list_key",
    "module_dir",
    "parse_request_path",
    "validate_info",
    "validate_mod",
]

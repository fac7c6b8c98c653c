"""The relative paths of the GOPROXY protocol: ``<escaped module>/@v/<escaped version>.<ext>``.

The same relative path names a file on an upstream proxy (below its base URL), a key in storage
and a file in the go command's ``cache/download`` folder, so a filesystem cache doubles as a
``file://`` proxy.
"""

from __future__ import annotations

from gomodproxy.module.paths import escape_path, escape_version

__all__ = ["file_key", "latest_path", "list_key", "module_dir"]


def module_dir(path: str) -> str:
    """``<escaped path>/@v/``: the folder of one module's files."""
    return f"{escape_path(path)}/@v/"


def file_key(path: str, version: str, ext: str) -> str:
    """``<E>/@v/<V>.<ext>`` for ``ext`` in ``info``, ``mod``, ``zip``."""
    return f"{module_dir(path)}{escape_version(version)}.{ext}"


def list_key(path: str) -> str:
    """``<E>/@v/list``: the module's version list (in a cache: the versions whose go.mod it
    holds, as the go command keeps it)."""
    return f"{module_dir(path)}list"


def latest_path(path: str) -> str:
    """``<E>/@latest``."""
    return f"{escape_path(path)}/@latest"

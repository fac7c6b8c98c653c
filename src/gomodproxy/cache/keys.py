"""Storage keys of the cache: the go command's ``cache/download`` names, plus our metadata.

Module files live where the go command keeps them (``<E>/@v/<V>.zip``), so the folder of a
filesystem backend doubles as a ``file://`` proxy. The raw list/@latest answers of the upstreams
live under the never-served ``.gomodproxy/upstream/`` namespace, with their fetch time.
"""

from __future__ import annotations

from gomodproxy.module.paths import escape_path, escape_version

__all__ = [
    "file_key",
    "list_key",
    "module_dir",
    "upstream_latest_key",
    "upstream_list_key",
]


def module_dir(path: str) -> str:
    """``<escaped path>/@v/``: the folder of one module's files."""
    return f"{escape_path(path)}/@v/"


def file_key(path: str, version: str, ext: str) -> str:
    """``<E>/@v/<V>.<ext>`` for ``ext`` in ``info``, ``mod``, ``zip``."""
    return f"{module_dir(path)}{escape_version(version)}.{ext}"


def list_key(path: str) -> str:
    """``<E>/@v/list``: the versions whose go.mod the cache holds, as the go command keeps it."""
    return f"{module_dir(path)}list"


def upstream_list_key(path: str) -> str:
    """Where the upstream's own ``@v/list`` answer is kept (never served as is)."""
    return f".gomodproxy/upstream/{escape_path(path)}/@v/list"


def upstream_latest_key(path: str) -> str:
    """Where the upstream's own ``@latest`` answer is kept (never served as is)."""
    return f".gomodproxy/upstream/{escape_path(path)}/@latest"

"""Storage keys of the cache's own metadata (module files use :mod:`gomodproxy.protocol.files`).

The raw list/@latest answers of the upstreams live under the never-served
``.gomodproxy/upstream/`` namespace, with their fetch time.
"""

from __future__ import annotations

from gomodproxy.module.paths import escape_path

__all__ = ["upstream_latest_key", "upstream_list_key"]


def upstream_list_key(path: str) -> str:
    """Where the upstream's own ``@v/list`` answer is kept (never served as is)."""
    return f".gomodproxy/upstream/{escape_path(path)}/@v/list"


def upstream_latest_key(path: str) -> str:
    """Where the upstream's own ``@latest`` answer is kept (never served as is)."""
    return f".gomodproxy/upstream/{escape_path(path)}/@latest"

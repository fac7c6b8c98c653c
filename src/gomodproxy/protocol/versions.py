"""Canonical versions: the only versions a file of the GOPROXY protocol is kept under."""

from __future__ import annotations

import functools

from gomodproxy.module import semver
from gomodproxy.module.paths import canonical_version

__all__ = ["is_canonical"]


# Pure and hot: a proxy checks the same few paths and versions on every request
# (docs/reports/proxy-hot-path.md), so results are memoized (bounded; errors are not cached).
@functools.lru_cache(maxsize=16384)
def is_canonical(version: str) -> bool:
    """True for a valid semantic version in canonical form (``+incompatible`` allowed)."""
    return semver.is_valid(version) and canonical_version(version) == version

"""The ``Origin`` a version-list query prints (cmd/go ``modload.queryProxy``).

A query that chooses from the version list (``latest``, ``upgrade``, ``patch``, ``v1.2``,
comparisons) answers with the Origin of the tag list it read (codeRepo ``Versions``: the
repository, the module's subdirectory, the ``TagPrefix`` asked and the ``TagSum`` of those
tags) merged with the Origin of the version it picked (``mergeOrigin``: the Hash and Ref of
the tag, or the Origin of ``@latest``). A module proxy's list has no Origin, so nothing is
printed for such a query of a proxied module; a list and a version whose Origins disagree
(another repository, another TagSum) print none either.
"""

from __future__ import annotations

from collections.abc import Mapping

from gomodproxy.errors import ModuleNotFound
from gomodproxy.upstream.modulefetch import ModuleFetcher
from gomodproxy.vcs.fetcher import GitFetcher
from gomodproxy.vcs.gitcmd import mask_secrets
from gomodproxy.vcs.tags import tag_sum

__all__ = ["Origin", "list_origin", "merge_origin"]

#: An Origin as parsed JSON (codehost.Origin's field names).
Origin = Mapping[str, object]

#: The fields mergeOrigin unions, each with the field that must agree with it too.
_MERGED = (("Hash", ""), ("TagSum", "TagPrefix"), ("RepoSum", ""), ("Ref", ""))


async def list_origin(fetcher: ModuleFetcher, path: str, prefix: str) -> Origin | None:
    """The Origin of the tag list ``fetcher`` gave for ``path`` and query prefix ``prefix``
    (codeRepo ``Versions``, gitRepo ``Tags``); None when it is not a git repository."""
    if not isinstance(fetcher, GitFetcher):
        return None
    try:
        code = await fetcher.code_repo(path)
    except ModuleNotFound:
        return None  # a go-import "mod" tag: served by a module proxy
    tag_prefix = f"{code.code_dir}/{prefix}" if code.code_dir else prefix
    origin = {
        "VCS": "git",
        "URL": mask_secrets(code.repo.url),
        "Subdir": code.code_dir,
        "TagPrefix": tag_prefix,
        "TagSum": tag_sum(await code.repo.refs(), tag_prefix),
    }
    return {k: v for k, v in origin.items() if v}


def merge_origin(m1: Origin | None, m2: Origin | None) -> Origin | None:
    """``mergeOrigin``: the union of two Origins of one repository, or None when either is
    missing or they disagree."""
    if m1 is None or m2 is None:
        return None
    if any((m1.get(k) or "") != (m2.get(k) or "") for k in ("VCS", "URL", "Subdir")):
        return None
    merged = dict(m1)
    for key, partner in _MERGED:
        if not m2.get(key):
            continue
        if m1.get(key) and (
            m1[key] != m2[key] or (partner and (m1.get(partner) or "") != (m2.get(partner) or ""))
        ):
            return None
        merged[key] = m2[key]
        if partner:
            merged[partner] = m2.get(partner) or ""
    return {k: v for k, v in merged.items() if v}

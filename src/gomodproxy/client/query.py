"""Version queries (cmd/go ``modload/query.go``) answered through the proxy protocol.

* a canonical version names itself (excluded and retracted versions allowed: a revision query);
* ``latest``: the highest allowed release in ``@v/list``, else the highest allowed pre-release,
  else the proxy's ``@latest``;
* ``upgrade``: the highest allowed version at or above the current one (the proxy's ``@latest``
  too when the current one is a pseudo-version), else the current one; ``patch``: likewise
  within the current major.minor (``latest`` when there is no current version);
* ``v1.2`` / ``v1``: the highest allowed version with that prefix; ``<v1.2.3``, ``<=``, ``>``,
  ``>=``: the nearest allowed version (lowest for ``>``/``>=``, highest for ``<``/``<=``);
* anything else (a branch, a commit, a non-canonical tag) is asked as ``<query>.info``.

"Allowed" means not excluded by the main module and not retracted by the go.mod of the
module's latest version (read through ``retractions``). As ``filterVersions`` does,
``+incompatible`` versions are dropped once the last compatible version below them has a go.mod
of its own, unless a prefix or comparison names their major. Each list is asked with the
query's tag prefix, which the caller needs for the query's Origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from gomodproxy.errors import ModuleNotFound, ProxyError
from gomodproxy.module import semver
from gomodproxy.module.modfile import VersionInterval
from gomodproxy.module.paths import canonical_version, match_path_major, split_path_version
from gomodproxy.module.pseudo import is_pseudo_version
from gomodproxy.protocol.answers import clean_version_list, info_version

__all__ = ["QueryError", "QuerySource", "UpstreamQueryError", "resolve_query"]


class QueryError(ProxyError):
    """No version matches a query."""


class UpstreamQueryError(ProxyError):
    """An answer the query needed could not be had; ``go_text`` words it as the go command
    does: ``module PATH: ...`` for the version list, ``invalid version: ...`` for a revision."""

    def __init__(self, exc: ProxyError, go_text: str) -> None:
        super().__init__(exc.message)
        self.status_hint = exc.status_hint
        self.go_text = go_text


@dataclass(frozen=True, slots=True)
class QuerySource:
    """How queries reach the upstreams and the main module's rules."""

    #: ``@v/list`` of a module, asked with the query's tag prefix (codeRepo ``Versions``:
    #: ``v1.2.`` for ``v1.2``, the current ``vX.Y.`` for ``patch``, else "").
    list_versions: Callable[[str, str], Awaitable[bytes]]
    latest_info: Callable[[str], Awaitable[bytes]]
    query_info: Callable[[str, str], Awaitable[bytes]]
    retractions: Callable[[str, str], Awaitable[Collection[VersionInterval]]]
    excluded: Callable[[str, str], bool]
    #: Whether a version has a go.mod of its own (``versionHasGoMod``: not the made-up one).
    has_go_mod: Callable[[str, str], Awaitable[bool]] | None = None


def _is_semver_prefix(v: str) -> bool:
    """``v1`` or ``v1.2``: a valid semver with fewer than three numbers, no suffix."""
    if not semver.is_valid(v) or semver.prerelease(v) or semver.build(v):
        return False
    return v.count(".") < 2


def _matches_prefix(v: str, prefix: str) -> bool:
    return v == prefix or v.startswith(prefix + ".") or v.startswith(prefix + "-")


def _retracted(v: str, intervals: Collection[VersionInterval]) -> bool:
    return any(semver.compare(i.low, v) <= 0 and semver.compare(v, i.high) <= 0 for i in intervals)


async def resolve_query(path: str, query: str, current: str, src: QuerySource) -> str:
    """The version ``query`` selects for module ``path`` (``current``: its version in the build
    list, or "")."""
    if semver.is_valid(query) and canonical_version(query) == query:
        return query
    if query in ("upgrade", "patch") and current:
        # Versions at or above the current one (patch: of its major.minor); else the current.
        mm = semver.major_minor(current) if query == "patch" else ""
        try:
            chosen = await _pick(
                path,
                query,
                src,
                lambda v: semver.compare(v, current) >= 0 and (not mm or _matches_prefix(v, mm)),
                latest=is_pseudo_version(current),
                prefix=mm + "." if mm else "",
            )
        except QueryError:
            return current
        return chosen if semver.compare(chosen, current) > 0 else current
    if query in ("latest", "upgrade", "patch"):
        return await _pick(path, "latest", src, lambda v: True)
    if _is_semver_prefix(query):
        return await _pick(
            path,
            query,
            src,
            lambda v: _matches_prefix(v, query),
            latest=False,
            prefix=query + ".",
            prefer_incompatible=not _matches_major(path, query),
        )
    for op in ("<=", ">=", "<", ">"):
        bound = query[len(op) :]
        if query.startswith(op) and semver.is_valid(bound):
            return await _pick(
                path,
                query,
                src,
                _comparison(op, bound),
                latest=False,
                lowest=op[0] == ">",
                prefer_incompatible=not _matches_major(path, bound),
            )
    try:
        data = await src.query_info(path, query)
    except ProxyError as exc:
        raise UpstreamQueryError(exc, f"invalid version: {exc.go_text or exc.message}") from exc
    return info_version(data, path, what=f"{path}@{query} .info")


def _matches_major(path: str, v: str) -> bool:
    """modload ``matchesMajor``: ``v``'s major fits the path's (else +incompatible ones are
    preferred)."""
    _, path_major, ok = split_path_version(path)
    return ok and match_path_major(v, path_major)


def _highest(versions: list[str]) -> str:
    releases = [v for v in versions if not semver.prerelease(v)]
    pool = releases or versions
    return max(pool, key=semver.version_key) if pool else ""


async def _filter_versions(
    path: str, versions: list[str], src: QuerySource, *, prefer_incompatible: bool
) -> list[str]:
    """``filterVersions`` (``versions`` sorted, allowed): ``+incompatible`` versions are
    dropped once the last compatible version below them has a go.mod of its own."""
    if src.has_go_mod is None:
        return versions
    out: list[str] = []
    need_incompatible = prefer_incompatible
    last_compatible = ""
    for v in versions:
        if not need_incompatible:
            if not v.endswith("+incompatible"):
                last_compatible = v
            elif last_compatible:
                if await src.has_go_mod(path, last_compatible):
                    break
                need_incompatible = True
        out.append(v)
    return out


def _comparison(op: str, bound: str) -> Callable[[str], bool]:
    def match(v: str) -> bool:
        c = semver.compare(v, bound)
        return {"<=": c <= 0, ">=": c >= 0, "<": c < 0, ">": c > 0}[op]

    return match


async def _pick(
    path: str,
    query: str,
    src: QuerySource,
    match: Callable[[str], bool],
    *,
    latest: bool = True,
    lowest: bool = False,
    prefix: str = "",
    prefer_incompatible: bool = False,
) -> str:
    try:
        data = await src.list_versions(path, prefix)
    except ProxyError as exc:
        raise UpstreamQueryError(exc, f"module {path}: {exc.go_text or exc.message}") from exc
    listed = sorted((e.version for e in clean_version_list(data, path)), key=semver.version_key)
    tagged = [v for v in listed if match(v) and not src.excluded(path, v)]
    retracted: Collection[VersionInterval] = ()
    if tagged:
        # queryLatestVersionIgnoringRetractions: "latest" with nothing disallowed.
        newest = _highest(await _filter_versions(path, listed, src, prefer_incompatible=False))
        if newest:
            retracted = await src.retractions(path, newest)
    allowed = [v for v in tagged if not _retracted(v, retracted)]
    allowed = await _filter_versions(path, allowed, src, prefer_incompatible=prefer_incompatible)
    releases = [v for v in allowed if not semver.prerelease(v)]
    pool = releases or allowed
    if pool:
        key = semver.version_key
        return min(pool, key=key) if lowest else max(pool, key=key)
    if latest:
        try:
            data = await src.latest_info(path)
        except ModuleNotFound:
            data = b""
        if data:
            return info_version(data, path, what=f"{path}@latest")
    raise QueryError(f'{path}@{query}: no matching versions for query "{query}"')

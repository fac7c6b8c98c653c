"""``-reuse=FILE``: a previous ``-json`` output, reused where its Origin still holds.

cmd/go ``modload.ListModules`` reads the file (a stream of JSON objects); each object with an
``Origin`` is kept under its path and version and, when it has one, its query. For a
``path@query`` argument, an entry for that query whose Origin still holds gives the version
without resolving the query; then an entry for the resolved version whose Origin still holds
makes the module *reused*: printed with ``"Reuse": true`` (and no cache paths or sums) and not
downloaded.

Whether an Origin holds (``checkReuse``, ``checkReuseRepo``, ``gitRepo.CheckReuse``): it must
carry what the query needs (a ``RepoSum``; else for a full version a Hash, Ref or TagSum; for
a branch or commit a Hash or Ref and a TagSum; for ``latest``, prefixes and comparisons a
TagSum), and the walk of the GOPROXY list (TryProxies) must reach a repository that still
matches it: same VCS, URL and subdirectory, the Ref still at its Hash, the TagSum and RepoSum
of the refs listed now (``git ls-remote``) unchanged. A module proxy cannot check an Origin,
so modules from proxies are never reused: they are downloaded again, as the go command does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.errors import ProxyError, UpstreamError
from gomodproxy.module import semver
from gomodproxy.upstream.chain import UpstreamChain
from gomodproxy.upstream.modulefetch import ModuleFetcher
from gomodproxy.vcs.fetcher import GitFetcher
from gomodproxy.vcs.gitcmd import mask_secrets
from gomodproxy.vcs.tags import repo_sum, tag_sum

__all__ = [
    "ReuseEntry",
    "ReuseFileError",
    "ReuseIndex",
    "check_reuse",
    "is_revision_query",
    "origin_json",
    "parse_reuse",
    "read_reuse",
    "reuse_fields_problem",
]

#: codehost.Origin's fields in the order the go command prints them.
_ORIGIN_FIELDS = ("VCS", "URL", "Subdir", "Hash", "TagPrefix", "TagSum", "Ref", "RepoSum")


class ReuseFileError(ProxyError):
    """The -reuse file cannot be read or parsed (the command stops, as the go command does)."""


@dataclass(frozen=True, slots=True)
class ReuseEntry:
    """One object of the previous output that has an Origin."""

    path: str
    version: str
    query: str
    origin: Mapping[str, object]
    error: str = ""


ReuseIndex = dict[tuple[str, str], ReuseEntry]


def origin_json(origin: Mapping[str, object]) -> dict[str, object]:
    """An Origin as the go command prints it: its known fields, in order, empty ones left out."""
    return {k: origin[k] for k in _ORIGIN_FIELDS if origin.get(k)}


def _text(doc: Mapping[str, object], key: str, name: str) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReuseFileError(
            f"parsing {name}: json: cannot unmarshal {type(value).__name__} into Go struct "
            f"field ModulePublic.{key} of type string"
        )
    return value


def _error_text(value: object) -> str:
    """``ModuleError.UnmarshalJSON``: a string, or ``{"Err": "text"}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Err"), str):
        return str(value["Err"])
    return ""


def parse_reuse(data: bytes, name: str) -> ReuseIndex:
    """The entries of a previous ``-json`` output, by (path, version) and (path, query)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReuseFileError(f"parsing {name}: invalid UTF-8 ({exc.reason})") from None
    decoder = json.JSONDecoder()
    index: ReuseIndex = {}
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return index
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ReuseFileError(f"parsing {name}: {exc.msg} (offset {exc.pos})") from None
        if not isinstance(doc, dict):
            raise ReuseFileError(
                f"parsing {name}: json: cannot unmarshal {type(doc).__name__} into Go value "
                "of type modinfo.ModulePublic"
            )
        origin = doc.get("Origin")
        if origin is None:
            continue
        if not isinstance(origin, dict):
            raise ReuseFileError(
                f"parsing {name}: json: cannot unmarshal {type(origin).__name__} into Go "
                "struct field ModulePublic.Origin of type codehost.Origin"
            )
        entry = ReuseEntry(
            path=_text(doc, "Path", name),
            version=_text(doc, "Version", name),
            query=_text(doc, "Query", name),
            origin=origin,
            error=_error_text(doc.get("Error")),
        )
        index[(entry.path, entry.version)] = entry
        if entry.query:
            index[(entry.path, entry.query)] = entry


def read_reuse(path: Path) -> ReuseIndex:
    """Read and parse the -reuse file (blocking); errors as the go command words them."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReuseFileError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    return parse_reuse(data, str(path))


def is_revision_query(path: str, query: str) -> bool:
    """modload ``IsRevisionQuery``: not ``latest``/``upgrade``/``patch``, a comparison or a
    version prefix (``v1``, ``v1.2``)."""
    del path  # toolchain paths are never queried here
    if query in ("latest", "upgrade", "patch") or query.startswith(("<", ">")):
        return False
    prefix = query.count(".") < 2 and not any(c in query for c in "-+")
    return not (semver.is_valid(query) and prefix)


def _canonical_version(v: str) -> str:
    """x/mod ``module.CanonicalVersion``: semver's canonical form, ``+incompatible`` kept."""
    c = semver.canonical(v)
    return c + "+incompatible" if c and v.endswith("+incompatible") else c


def reuse_fields_problem(path: str, query: str, origin: Mapping[str, object]) -> str:
    """``checkReuseRepo``'s first half: why ``origin`` cannot settle ``query`` ("" if it can)."""
    has = {k: bool(origin.get(k)) for k in _ORIGIN_FIELDS}
    if has["RepoSum"]:
        return ""
    if query == _canonical_version(query):
        if not (has["Hash"] or has["Ref"] or has["TagSum"]):
            return "no Origin information to check"
        return ""
    if is_revision_query(path, query):
        if not (has["Hash"] or has["Ref"]):
            return f"query {query!r} requires a Hash or Ref"
        if not has["TagSum"]:
            return f"query {query!r} requires a TagSum"
        return ""
    if not has["TagSum"]:
        return f"query {query!r} requires a TagSum"
    return ""


async def _git_check(fetcher: GitFetcher, path: str, old: Mapping[str, object]) -> None:
    """``gitRepo.CheckReuse``: raises UpstreamError naming what changed."""
    code = await fetcher.code_repo(path)
    repo = code.repo
    url, now_url = str(old.get("URL") or ""), mask_secrets(repo.url)
    if old.get("VCS") != "git" or url != now_url:
        raise UpstreamError(f"origin moved from {old.get('VCS') or ''} {url!r} to git {now_url!r}")
    if str(old.get("Subdir") or "") != code.code_dir:
        raise UpstreamError(f"origin moved from subdirectory {old.get('Subdir')!r}")
    if not (old.get("Hash") or old.get("TagSum") or old.get("RepoSum")):
        raise UpstreamError("non-specific origin")
    refs = await repo.refs()
    ref, want = str(old.get("Ref") or ""), str(old.get("Hash") or "")
    if ref:
        now = refs.get(ref)
        if now is None:
            raise UpstreamError(f"ref {ref!r} deleted")
        if now != want:
            raise UpstreamError(f"ref {ref!r} moved from {want} to {now}")
    if old.get("TagSum") and tag_sum(refs, str(old.get("TagPrefix") or "")) != old["TagSum"]:
        raise UpstreamError("tags changed")
    if old.get("RepoSum") and repo_sum(refs) != old["RepoSum"]:
        raise UpstreamError("refs changed")


async def check_reuse(
    chain: UpstreamChain, path: str, query: str, origin: Mapping[str, object]
) -> bool:
    """Whether ``origin`` still settles ``path@query`` (see the module docstring)."""
    if reuse_fields_problem(path, query, origin):
        return False

    async def check(fetcher: ModuleFetcher) -> bytes:
        if not isinstance(fetcher, GitFetcher):
            raise UpstreamError("proxy does not support CheckReuse")
        await _git_check(fetcher, path, origin)
        return b""

    try:
        await chain.walk(path, f"{query}.reuse", check)
    except ProxyError:
        return False
    return True

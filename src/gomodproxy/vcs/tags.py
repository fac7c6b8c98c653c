"""Tags and refs to module versions, as the go command maps them (pure, no I/O).

From ``cmd/go/internal/modfetch/coderepo.go`` (``Versions``, ``tagToVersion``,
``retractedVersions``) and ``codehost/git.go`` (``Tags``, ``repoSum``): a module in the
repository's subdirectory ``sub`` takes its versions from tags ``sub/vX.Y.Z``; only canonical
tags that are not pseudo-versions count; a tag whose major version does not fit the module
path becomes ``+incompatible`` only for a module at the repository root with no ``/vN``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from gomodproxy.errors import GoModSyntaxError
from gomodproxy.module import semver
from gomodproxy.module.gostrings import go_quote
from gomodproxy.module.paths import match_path_major
from gomodproxy.module.pseudo import is_pseudo_version

__all__ = [
    "VersionCandidates",
    "highest_for_retractions",
    "is_origin_tag",
    "path_major_prefix",
    "repo_sum",
    "retraction_checker",
    "tag_sum",
    "tag_to_version",
    "tags_with_prefix",
    "version_candidates",
]

TAG_REF = "refs/tags/"


def path_major_prefix(path_major: str) -> str:
    """x/mod ``module.PathMajorPrefix``: ``/v2`` -> ``v2``, ``.v1-unstable`` -> ``v1``."""
    if path_major == "":
        return ""
    if path_major[0] not in "/.":
        raise ValueError(f"pathMajor suffix {path_major} passed to PathMajorPrefix lacks separator")
    m = path_major.removesuffix("-unstable")[1:]
    if m != semver.major(m):
        raise ValueError(
            f"pathMajor suffix {path_major} passed to PathMajorPrefix is not a valid major version"
        )
    return m


def tags_with_prefix(refs: Mapping[str, str], prefix: str) -> list[tuple[str, str]]:
    """``(tag, hash)`` for every tag starting with ``prefix``, sorted by name (git.go Tags)."""
    found = [
        (ref[len(TAG_REF) :], h)
        for ref, h in refs.items()
        if ref.startswith(TAG_REF) and ref[len(TAG_REF) :].startswith(prefix)
    ]
    return sorted(found, key=lambda t: t[0].encode("utf-8", "surrogateescape"))


def is_origin_tag(tag: str) -> bool:
    """codehost ``isOriginTag``: tags that could affect a version list or pseudo-version."""
    c = semver.canonical(tag)
    return c != "" and tag.startswith(c) and not is_pseudo_version(tag)


def _sum(lines: Iterable[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for name, value in lines:
        h.update(f"{go_quote(name)} {value}\n".encode())
    return base64.b64encode(h.digest()).decode()


def tag_sum(refs: Mapping[str, str], prefix: str) -> str:
    """The ``TagSum`` of an Origin for tags with ``prefix`` (``t1:`` + base64 SHA-256)."""
    directory = prefix[: prefix.rfind("/") + 1]
    tags = [(t, h) for t, h in tags_with_prefix(refs, prefix) if is_origin_tag(t[len(directory) :])]
    return "t1:" + _sum(tags)


def repo_sum(refs: Mapping[str, str]) -> str:
    """The ``RepoSum`` of an Origin: every ref and its hash (``r1:`` + base64 SHA-256)."""
    return "r1:" + _sum((ref, refs[ref]) for ref in sorted(refs))


@dataclass(frozen=True, slots=True)
class VersionCandidates:
    """Tagged versions of a module: those fitting its path, and ``+incompatible`` candidates
    (without the suffix) whose go.mod presence still has to be checked."""

    compatible: list[str]
    incompatible: list[str]


def version_candidates(
    refs: Mapping[str, str], code_dir: str, path_major: str, prefix: str = ""
) -> VersionCandidates:
    """coderepo ``Versions`` up to ``appendIncompatibleVersions``."""
    p = f"{code_dir}/{prefix}" if code_dir else prefix
    compatible: list[str] = []
    incompatible: list[str] = []
    for tag, _hash in tags_with_prefix(refs, p):
        v = tag[len(code_dir) + 1 :] if code_dir else tag
        if v == "" or v != semver.canonical(v) or is_pseudo_version(v):
            continue
        if not match_path_major(v, path_major):
            if code_dir == "" and path_major == "" and semver.major(v) > "v1":
                incompatible.append(v)
            continue
        compatible.append(v)
    return VersionCandidates(semver.sort_versions(compatible), semver.sort_versions(incompatible))


def tag_to_version(tag: str, tag_prefix: str) -> tuple[str, bool]:
    """coderepo ``tagToVersion`` without the major-version check: ``(version, canonical)``,
    ``("", False)`` for a tag that names no version of this module."""
    if not tag.startswith(tag_prefix):
        return "", False
    trimmed = tag[len(tag_prefix) :]
    if is_pseudo_version(tag):
        return "", False
    v = semver.canonical(trimmed)
    if v == "" or not trimmed.startswith(v):
        return "", False
    return v, v == trimmed


def highest_for_retractions(versions: list[str]) -> str:
    """The version whose go.mod lists the retractions (``retractedVersions``): the highest
    release before any ``+incompatible``, else the highest pre-release; ``""`` if none."""
    kept: list[str] = []
    for v in versions:
        if v.endswith("+incompatible"):
            break
        kept.append(v)
    if not kept:
        return ""
    for v in reversed(kept):
        if semver.prerelease(v) == "":
            return v
    return kept[-1]


def retraction_checker(go_mod: bytes | None) -> Callable[[str], bool]:
    """``isRetracted`` from the go.mod of :func:`highest_for_retractions` (lax parse; a file
    that does not parse retracts nothing, as the go command ignores that error here)."""
    if go_mod is None:
        return lambda _v: False
    from gomodproxy.module.modfile import parse_lax

    try:
        parsed = parse_lax("go.mod", go_mod)
    except GoModSyntaxError:
        return lambda _v: False
    intervals = [(r.low, r.high) for r in parsed.retract]

    def retracted(v: str) -> bool:
        return any(
            semver.compare(low, v) <= 0 and semver.compare(v, high) <= 0 for low, high in intervals
        )

    return retracted

"""``<meta name="go-import">`` tags, parsed and matched as the go command does (pure).

``cmd/go/internal/vcs/discovery.go`` ``parseMetaGoImports`` and ``vcs.go``
``matchGoImport``: tags are read from the head only; in module mode a ``mod`` entry wins over
another entry with the same prefix; of the entries whose prefix is a path prefix of the import
path exactly one may remain, else the answer is ambiguous (fault catalogue 67).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from gomodproxy.errors import ModuleNotFound

__all__ = [
    "MAX_META_BYTES",
    "MetaImport",
    "check_vcs_policy",
    "match_go_import",
    "parse_meta_go_imports",
]

#: The version-control systems gomodproxy runs for private modules (fault catalogue 62).
ALLOWED_VCS = frozenset({"git"})

#: The most of a page read for meta tags (fault catalogue 67: HTML over 1 MB).
MAX_META_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class MetaImport:
    """One go-import entry: ``prefix vcs repo-root [subdir]``."""

    prefix: str
    vcs: str
    repo_root: str
    subdir: str = ""


class _HeadParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[MetaImport] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag.lower() == "body":
            self.done = True
            return
        if tag.lower() != "meta":
            return
        values = {k.lower(): v or "" for k, v in attrs}
        if values.get("name") != "go-import":
            return
        fields = values.get("content", "").split()
        if len(fields) in (3, 4):
            sub = fields[3] if len(fields) == 4 else ""
            self.found.append(MetaImport(fields[0], fields[1], fields[2], sub))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag.lower() == "head":
            self.done = True


def parse_meta_go_imports(html: bytes, *, prefer_mod: bool = True) -> list[MetaImport]:
    """The go-import entries of a page (mod entries first, superseding same-prefix ones)."""
    parser = _HeadParser()
    parser.feed(html[:MAX_META_BYTES].decode("utf-8", "replace"))
    imports = parser.found
    have = {m.prefix for m in imports if m.vcs == "mod"} if prefer_mod else set()
    mods = [m for m in imports if m.vcs == "mod"] if prefer_mod else []
    return mods + [
        m for m in imports if not (m.vcs == "mod" and prefer_mod) and m.prefix not in have
    ]


def match_go_import(imports: list[MetaImport], import_path: str) -> MetaImport:
    """The one entry whose prefix covers ``import_path`` (``matchGoImport``)."""
    match: MetaImport | None = None
    for m in imports:
        if not (import_path == m.prefix or import_path.startswith(m.prefix + "/")):
            continue
        if match is not None:
            if match.vcs == "mod" and m.vcs != "mod":
                break
            raise ModuleNotFound(
                f"{import_path}: multiple meta tags match import path {import_path!r}",
                path=import_path,
            )
        match = m
    if match is None:
        raise ModuleNotFound(
            f"{import_path}: no go-import meta tag matches import path {import_path!r}",
            path=import_path,
        )
    return match


def check_vcs_policy(vcs: str, path: str) -> None:
    """Refuse any version-control system but git, GOVCS-style (fault catalogue 62): svn, hg,
    bzr and fossil are never run against fetched content (CVE-2025-4674, CVE-2018-16873)."""
    if vcs not in ALLOWED_VCS:
        raise ModuleNotFound(
            f"{path}: VCS policy disallows {vcs} for {path}: only git repositories are fetched "
            "(serve the module through a proxy, or from a git mirror with --vcs-rewrite)",
            path=path,
        )

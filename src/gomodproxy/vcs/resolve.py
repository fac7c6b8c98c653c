"""Where a module's repository is: rewrite rules and ``.git`` qualifiers (pure, no I/O).

``--vcs-rewrite PREFIX=URLPREFIX``: PREFIX is a module path prefix ending in ``/``; a module
path starting with it has its repository root at PREFIX plus the next path element, cloned from
URLPREFIX plus that element plus ``.git`` when such a repository exists, else without ``.git``
(both are returned, in that order). The rest of the path is the module's subdirectory and
major-version suffix. Rules are tried longest prefix first.

With ``known_hosts`` (the download client, which acts for the user as the go command does), the
go command's table of hosts that need no meta tags (``vcs.go`` ``vcsPaths``: ``github.com/<o>/<r>``,
``bitbucket.org/<o>/<r>``, ``hub.jazz.net/git/<u>/<r>``, ``git.apache.org/<r>.git``,
``git.openstack.org/<o>/<r>``; git only) comes next, cloned from ``https://<root>``.

Without a rule, a path with a ``.git`` qualifier (``host/a/repo.git/sub``) is cloned over https
from ``https://host/a/repo`` (the go command's ``vcsPaths`` entry, secure schemes only).
Targets of rules are https or ssh, and http, git or file only when the rule says so explicitly
(which is what writing the rule does); the hosts of rules are the only ones exempt from the
guard against loopback and private addresses (fault catalogue 25, 60).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gomodproxy.errors import ConfigError, ModuleNotFound

__all__ = [
    "ALLOWED_SCHEMES",
    "RepoRoot",
    "RewriteRule",
    "has_path_prefix",
    "known_host_repo",
    "match_instead_of",
    "parse_rewrite",
    "parse_rewrites",
    "resolve_repo",
]

#: Schemes a rewrite target may use (the transport name git's GIT_ALLOW_PROTOCOL knows).
ALLOWED_SCHEMES = {"https": "https", "ssh": "ssh", "http": "http", "git": "git", "file": "file"}
_GIT_QUALIFIER = re.compile(
    r"(?P<root>(?P<repo>([a-z0-9.\-]+\.)+[a-z0-9.\-]+(:[0-9]+)?(/~?[\w.\-]+)+?)\.git)"
    r"(/~?[\w.\-]+)*",
    re.ASCII,
)

#: The go command's ``vcsPaths`` entries for git hosts (``vcs.go``), in its order; the ones
#: marked True refuse a repository name with a VCS suffix (``noVCSSuffix``).
_KNOWN_HOSTS = (
    (re.compile(r"(?P<root>github\.com/[\w.\-]+/[\w.\-]+)(/[\w.\-]+)*", re.ASCII), True),
    (re.compile(r"(?P<root>bitbucket\.org/[\w.\-]+/[\w.\-]+)(/[\w.\-]+)*", re.ASCII), True),
    (re.compile(r"(?P<root>hub\.jazz\.net/git/[a-z0-9]+/[\w.\-]+)(/[\w.\-]+)*", re.ASCII), True),
    (re.compile(r"(?P<root>git\.apache\.org/[a-z0-9_.\-]+\.git)(/[\w.\-]+)*", re.ASCII), False),
    (
        re.compile(
            r"(?P<root>git\.openstack\.org/[\w.\-]+/[\w.\-]+)(\.git)?(/[\w.\-]+)*", re.ASCII
        ),
        False,
    ),
)
_KNOWN_PREFIXES = (
    "github.com",
    "bitbucket.org",
    "hub.jazz.net/git",
    "git.apache.org",
    "git.openstack.org",
)
_VCS_SUFFIXES = (".bzr", ".fossil", ".git", ".hg", ".svn")


@dataclass(frozen=True, slots=True)
class RewriteRule:
    """One ``PREFIX=URLPREFIX`` rule."""

    prefix: str
    url_prefix: str

    @property
    def scheme(self) -> str:
        """The transport of the rule's target (``https``, ``file``...)."""
        return urlsplit(self.url_prefix).scheme

    @property
    def host(self) -> str:
        """The target's host name ("" for file URLs)."""
        return urlsplit(self.url_prefix).hostname or ""


@dataclass(frozen=True, slots=True)
class RepoRoot:
    """A module's repository: its root import path and the URLs to try, in order."""

    root: str
    urls: tuple[str, ...]
    #: The GIT_ALLOW_PROTOCOL transports for this repository.
    protocols: tuple[str, ...]
    #: Whether a rule named it (its host may be loopback or private).
    explicit: bool
    #: The go-import tag's fourth field: where the prefix's module is in the repository.
    subdir: str = ""


def parse_rewrite(text: str) -> RewriteRule:
    """Parse ``PREFIX=URLPREFIX``; raise ConfigError naming the problem and the fix."""
    prefix, sep, url = text.partition("=")
    prefix, url = prefix.strip(), url.strip()
    if not sep or not prefix or not url:
        raise ConfigError(
            f"invalid --vcs-rewrite {text!r}: write PREFIX=URLPREFIX, for example "
            "git.example.com/team/=https://git.example.com/team/"
        )
    if not prefix.endswith("/") or prefix.startswith(("/", "-", ".")) or "//" in prefix:
        raise ConfigError(
            f"invalid --vcs-rewrite {text!r}: PREFIX must be a module path prefix ending in '/' "
            "(whole path elements)"
        )
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise ConfigError(
            f"invalid --vcs-rewrite {text!r}: URLPREFIX scheme {parts.scheme or '(none)'!r} is not "
            f"one of {', '.join(sorted(ALLOWED_SCHEMES))} (ext::, fd:: and local paths are never "
            "allowed)"
        )
    if parts.scheme != "file" and (not parts.hostname or parts.hostname.startswith("-")):
        raise ConfigError(f"invalid --vcs-rewrite {text!r}: URLPREFIX needs a host name")
    if parts.username is not None and parts.username.startswith("-"):
        raise ConfigError(f"invalid --vcs-rewrite {text!r}: a user name may not start with '-'")
    if parts.query or parts.fragment:
        raise ConfigError(f"invalid --vcs-rewrite {text!r}: URLPREFIX may not have ? or #")
    if not url.endswith("/"):
        url += "/"
    return RewriteRule(prefix, url)


def parse_rewrites(values: Iterable[str]) -> tuple[RewriteRule, ...]:
    """Parse every rule, longest prefix first."""
    rules = [parse_rewrite(v) for v in values if v.strip()]
    return tuple(sorted(rules, key=lambda r: -len(r.prefix)))


def has_path_prefix(s: str, prefix: str) -> bool:
    """coderepo ``hasPathPrefix``: ``prefix`` is ``s`` or a leading run of its elements."""
    if len(s) == len(prefix):
        return s == prefix
    if len(s) > len(prefix):
        if prefix.endswith("/"):
            return s.startswith(prefix)
        return s[len(prefix)] == "/" and s.startswith(prefix)
    return False


def known_host_repo(path: str) -> RepoRoot | None:
    """The repository of ``path`` on a host of the go command's table, None for other hosts;
    ModuleNotFound for a path on such a host that the table refuses (as the go command)."""
    for prefix, (pattern, no_suffix) in zip(_KNOWN_PREFIXES, _KNOWN_HOSTS, strict=True):
        if not has_path_prefix(path, prefix):
            continue
        m = pattern.fullmatch(path)
        if m is None:
            raise ModuleNotFound(f"{path}: invalid {prefix} import path", path=path)
        root = m.group("root")
        if no_suffix and root.endswith(_VCS_SUFFIXES):
            raise ModuleNotFound(
                f"{path}: invalid version control suffix in {prefix}/ path", path=path
            )
        return RepoRoot(root, (f"https://{root}",), ("https",), explicit=False)
    return None


def resolve_repo(path: str, rules: Sequence[RewriteRule], *, known_hosts: bool = False) -> RepoRoot:
    """The repository of module ``path`` by rule, the known hosts (when asked) or a ``.git``
    qualifier; ModuleNotFound when none applies (meta-tag discovery is the caller's next
    step)."""
    for rule in rules:
        if path.startswith(rule.prefix):
            elem = path[len(rule.prefix) :].split("/", 1)[0]
            if not elem or elem in (".", "..") or elem.startswith("-"):
                break
            base = rule.url_prefix + elem
            urls = (base,) if elem.endswith(".git") else (base + ".git", base)
            protocols = tuple(dict.fromkeys(("https", "ssh", ALLOWED_SCHEMES[rule.scheme])))
            return RepoRoot(rule.prefix + elem, urls, protocols, explicit=True)
    if known_hosts:
        known = known_host_repo(path)
        if known is not None:
            return known
    m = _GIT_QUALIFIER.fullmatch(path)
    if m is not None:
        return RepoRoot(
            m.group("root"), (f"https://{m.group('repo')}",), ("https",), explicit=False
        )
    raise ModuleNotFound(
        f"{path}: no repository known for this path: add a --vcs-rewrite "
        "PREFIX=URLPREFIX rule for its host, or turn on --vcs-meta-tags if the host serves "
        "go-import meta tags",
        path=path,
    )


def match_instead_of(url: str, rewrites: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    """The ``(base, insteadOf)`` pair of git's ``url.<base>.insteadOf`` that git applies to
    ``url``: the longest ``insteadOf`` value ``url`` starts with (git's rule), None when none
    does."""
    best: tuple[str, str] | None = None
    for base, prefix in rewrites:
        if prefix and url.startswith(prefix) and (best is None or len(prefix) > len(best[1])):
            best = (base, prefix)
    return best

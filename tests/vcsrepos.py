"""The test repositories of the private-module tests, built once per session with real git.

``github.com/gmptest/<name>`` module paths (no traffic ever goes there: the go command's git
is pointed at the loopback server by ``url.<base>.insteadOf`` in a test git config, and
gomodproxy by ``--vcs-rewrite``). What each repository holds:

- ``alpha``: a root module with tags v1.0.0, v1.1.0 (annotated) and a non-canonical ``v1.2``;
  a ``feature`` branch; ``sub/`` (its own module, tags ``sub/v0.1.0``, ``sub/v0.2.0``, no
  LICENSE of its own); ``nested/`` (a nested module, left out of the root zip); ``vendor/``;
  ``v2/`` (the v2 module in a subdirectory, tag v2.0.0); v1.3.0 retracted by its own go.mod
  at HEAD (tag v1.4.0 on HEAD, retracted by its own go.mod).
- ``beta``: v1.0.0 at the root, then the root go.mod moves to ``/v2`` (v2 in the main branch),
  tag v2.0.0 and v2.1.0 on a ``major2`` branch.
- ``gamma``: no go.mod at all; tags v1.0.0, v2.0.0, v3.1.0 (``+incompatible``).
- ``delta``: no go.mod at the root, default branch ``trunk``; an annotated pre-release tag,
  a tag with build metadata, v2.0.0 (``+incompatible``) and v3.0.0 whose ``v3/go.mod`` keeps
  it from being ``+incompatible``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.gitrepos import RepoBuilder
from tests.gitserver import GitServer, running_git_server
from tests.gotool import go_environ

__all__ = ["ORG", "BuiltRepos", "Site", "build_test_repos", "serving_test_repos"]

ORG = "github.com/gmptest"


@dataclass(frozen=True)
class BuiltRepos:
    """Where the bare repositories are (served as ``<served>/<name>``) and notable commits."""

    served: Path
    alpha_feature: str
    alpha_head: str
    gamma_head: str
    delta_head: str


def _alpha(work: Path, served: Path) -> tuple[str, str]:
    r = RepoBuilder(work / "alpha")
    r.write("LICENSE", "Alpha license\n")
    r.write("go.mod", f"module {ORG}/alpha\n\ngo 1.21\n")
    r.write("alpha.go", 'package alpha\n\n// Version is the version.\nconst Version = "v1.0.0"\n')
    r.write("sub/go.mod", f"module {ORG}/alpha/sub\n\ngo 1.21\n")
    r.write("sub/sub.go", 'package sub\n\nconst Name = "sub"\n')
    r.write("nested/go.mod", f"module {ORG}/alpha/nested\n")
    r.write("nested/n.go", "package nested\n")
    r.write("vendor/example.com/dep/dep.go", "package dep\n")
    r.write("vendor/modules.txt", "# example.com/dep v1.0.0\n")
    r.write("internal/x/x.go", "package x\n")
    r.commit("v1.0.0")
    r.tag("v1.0.0")
    r.tag("sub/v0.1.0")
    r.write("alpha.go", 'package alpha\n\n// Version is the version.\nconst Version = "v1.1.0"\n')
    r.commit("v1.1.0")
    r.tag("v1.1.0", annotated=True)
    r.write("sub/sub.go", 'package sub\n\nconst Name = "sub 2"\n')
    r.commit("sub v0.2.0")
    r.tag("sub/v0.2.0")
    r.tag("v1.2")
    r.write("v2/go.mod", f"module {ORG}/alpha/v2\n\ngo 1.21\n")
    r.write("v2/alpha.go", 'package alpha\n\nconst Version = "v2.0.0"\n')
    r.commit("v2 in a subdirectory")
    r.tag("v2.0.0")
    r.checkout("feature", new=True)
    r.write("feature.go", "package alpha\n\nconst Feature = true\n")
    feature = r.commit("feature work")
    r.checkout("main")
    r.write("alpha.go", 'package alpha\n\n// Version is the version.\nconst Version = "v1.3.0"\n')
    r.commit("v1.3.0")
    r.tag("v1.3.0")
    r.write("go.mod", f"module {ORG}/alpha\n\ngo 1.21\n\nretract v1.4.0 // published by mistake\n")
    head = r.commit("v1.4.0, retracted by itself")
    r.tag("v1.4.0")
    r.publish(served, "alpha")
    return feature, head


def _beta(work: Path, served: Path) -> None:
    r = RepoBuilder(work / "beta", start=1_610_000_000)
    r.write("go.mod", f"module {ORG}/beta\n\ngo 1.20\n")
    r.write("beta.go", "package beta\n\nconst V = 1\n")
    r.write("LICENSE", "Beta\n")
    r.commit("v1")
    r.tag("v1.0.0")
    r.checkout("major2", new=True)
    r.write("go.mod", f"module {ORG}/beta/v2\n\ngo 1.20\n")
    r.write("beta.go", "package beta\n\nconst V = 2\n")
    r.commit("v2")
    r.tag("v2.0.0")
    r.write("more.go", "package beta\n\nconst More = 2\n")
    r.commit("v2.1")
    r.tag("v2.1.0")
    r.checkout("main")
    r.write("beta.go", "package beta\n\nconst V = 1 // still v1\n")
    r.commit("v1 work")
    r.publish(served, "beta")


def _gamma(work: Path, served: Path) -> str:
    r = RepoBuilder(work / "gamma", start=1_620_000_000)
    r.write("gamma.go", "package gamma\n\nconst G = 1\n")
    r.commit("one")
    r.tag("v1.0.0")
    r.write("gamma.go", "package gamma\n\nconst G = 2\n")
    r.commit("two")
    r.tag("v2.0.0")
    r.write("gamma.go", "package gamma\n\nconst G = 3\n")
    r.commit("three")
    r.tag("v3.1.0")
    r.write("gamma.go", "package gamma\n\nconst G = 4\n")
    head = r.commit("four")
    r.publish(served, "gamma")
    return head


def _delta(work: Path, served: Path) -> str:
    """Pre-releases, build-metadata tags, a v3/ folder that stops +incompatible for v3, a
    default branch not called main, and an untagged repository tip."""
    r = RepoBuilder(work / "delta", start=1_640_000_000)
    r.git("checkout", "-q", "-b", "trunk")
    r.write("d.go", "package delta\n")
    r.commit("zero")
    r.tag("v0.3.0-rc.1", annotated=True)
    r.write("d.go", "package delta\n\nconst D = 1\n")
    r.commit("one")
    r.tag("v0.3.0+meta")
    r.write("d.go", "package delta\n\nconst D = 2\n")
    r.commit("two")
    r.tag("v2.0.0")
    r.write("v3/go.mod", f"module {ORG}/delta/v3\n")
    r.write("v3/d.go", "package delta\n")
    r.commit("three")
    r.tag("v3.0.0")
    r.write("d.go", "package delta\n\nconst D = 4\n")
    tip = r.commit("four")
    r.publish(served, "delta")
    return tip


def build_test_repos(root: Path) -> BuiltRepos:
    """Build every repository under ``root/work`` and publish them to ``root/served``."""
    work, served = root / "work", root / "served"
    feature, head = _alpha(work, served)
    _beta(work, served)
    gamma = _gamma(work, served)
    delta = _delta(work, served)
    return BuiltRepos(served, feature, head, gamma, delta)


@dataclass(frozen=True)
class Site:
    """The served repositories and the go command's direct-mode environment pointed at them
    (``GOPROXY=direct``, ``GOPRIVATE``, a git config rewriting ``https://github.com/gmptest/``
    to the loopback server)."""

    repos: BuiltRepos
    server: GitServer
    root: Path
    env: dict[str, str]
    git_config: Path

    @property
    def rewrite(self) -> str:
        """gomodproxy's ``--vcs-rewrite`` for the same repositories."""
        return f"{ORG}/={self.server.url}"


@contextlib.contextmanager
def serving_test_repos(root: Path) -> Iterator[Site]:
    """Build the repositories under ``root`` and serve them over smart HTTP on loopback."""
    repos = build_test_repos(root)
    with running_git_server(repos.served) as server:
        cfg = root / "gitconfig"
        cfg.write_text(f'[url "{server.url}"]\n\tinsteadOf = https://{ORG}/\n')
        home = root / "home"
        home.mkdir()
        env = go_environ(
            home,
            goproxy="direct",
            goprivate=ORG,
            extra={"GIT_CONFIG_GLOBAL": str(cfg), "GIT_TERMINAL_PROMPT": "0"},
        )
        yield Site(repos, server, root, env, cfg)

"""Running ``gomodproxy download`` beside the real go command in tests.

``gomodproxy download`` runs as a process of its own (``python -m gomodproxy download``) with the
same environment the go command gets from :func:`tests.gotool.go_environ`, except that no go
command is on its PATH: the client never needs one. Results are compared with the go command's
on the same go.mod, each in its own scratch GOPATH, so cache paths differ only by that root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.corpus_data import REPO_ROOT
from tests.gotool import go_environ, run_go
from tests.integration.fileproxy import parse_json_stream

__all__ = [
    "Home",
    "cache_listing",
    "normalized_json",
    "run_ours",
    "without_go_on_path",
]


def without_go_on_path(path: str) -> str:
    """``PATH`` less every folder holding a ``go`` binary."""
    keep = [d for d in path.split(os.pathsep) if d and not os.path.exists(os.path.join(d, "go"))]
    return os.pathsep.join(keep)


def run_ours(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """``gomodproxy download ARGS`` in ``cwd`` with ``env`` (go removed from PATH)."""
    child = dict(env)
    child["PATH"] = without_go_on_path(child.get("PATH", ""))
    child["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "src"), *filter(None, [env.get("PYTHONPATH", "")])]
    )
    assert shutil.which("go", path=child["PATH"]) is None
    return subprocess.run(
        [sys.executable, "-m", "gomodproxy", "download", *args],
        cwd=cwd,
        env=child,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Home:
    """A scratch home with a GOPATH, and a module folder ``work`` holding go.mod/go.sum."""

    root: Path
    goproxy: str
    gosumdb: str = "off"
    gonosumdb: str = ""

    @property
    def work(self) -> Path:
        """The module folder."""
        return self.root / "work"

    @property
    def modcache(self) -> Path:
        """GOMODCACHE."""
        return self.root / "gopath" / "pkg" / "mod"

    def env(self, **extra: str) -> dict[str, str]:
        """The go command's environment (and ours)."""
        return go_environ(
            self.root,
            goproxy=self.goproxy,
            gosumdb=self.gosumdb,
            gonosumdb=self.gonosumdb,
            extra=extra or None,
        )

    def setup(self, go_mod: bytes | str, go_sum: bytes | str = b"") -> Home:
        """Write go.mod and go.sum into ``work``."""
        self.work.mkdir(parents=True, exist_ok=True)
        for name, content in (("go.mod", go_mod), ("go.sum", go_sum)):
            data = content.encode() if isinstance(content, str) else content
            (self.work / name).write_bytes(data)
        return self

    def ours(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``gomodproxy download ARGS`` in ``work``."""
        return run_ours(args, cwd=self.work, env=self.env(**extra))

    def go(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``go ARGS`` in ``work``."""
        return run_go(args, cwd=self.work, env=self.env(**extra), timeout=900)

    def go_sum(self) -> str:
        """go.sum's text now."""
        return (self.work / "go.sum").read_text(encoding="utf-8")


def normalized_json(stdout: str, root: Path) -> list[dict[str, object]]:
    """The ``-json`` objects with ``root`` replaced by ``$HOME`` in every path."""
    text = stdout.replace(str(root), "$HOME")
    return parse_json_stream(text)


def cache_listing(modcache: Path) -> set[str]:
    """Every file and folder under the module cache, relative, with its permission bits; the
    go command's build cache and lock files' timing aside."""
    out: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(modcache):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(modcache).as_posix()
            if rel.startswith("cache/vcs"):
                continue
            out.add(f"{oct(full.lstat().st_mode & 0o777)} {rel}")
    return out

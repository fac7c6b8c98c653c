"""Git repositories made by tests: a small builder over the real ``git`` binary.

Commits get fixed, increasing dates so pseudo-versions are reproducible; ``publish`` copies the
work tree's repository into a bare one under a served folder (``git clone --bare``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["RepoBuilder", "git_env"]


def git_env(home: Path) -> dict[str, str]:
    """A clean environment for test-side git (no user or system configuration)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "LC_ALL": "C",
    }


class RepoBuilder:
    """A work tree under ``path`` with helpers to write files, commit, tag and branch."""

    def __init__(self, path: Path, *, start: int = 1_600_000_000) -> None:
        self.path = path
        self._clock = start
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full = git_env(self.path) | (env or {})
        out = subprocess.run(
            ["git", *args], cwd=self.path, env=full, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {out.stderr}")
        return out.stdout.strip()

    def write(self, name: str, data: str | bytes) -> None:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            p.write_text(data)
        else:
            p.write_bytes(data)

    def remove(self, name: str) -> None:
        self.git("rm", "-q", "-r", "--", name)

    def commit(self, message: str = "change") -> str:
        self._clock += 3600
        stamp = f"@{self._clock} +0000"
        self.git("add", "-A")
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        )
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = False, rev: str = "HEAD") -> None:
        if not annotated:
            # update-ref takes any name, even one that looks like an option (fault 59 tests).
            self.git("update-ref", "refs/tags/" + name, self.git("rev-parse", rev))
            return
        stamp = f"@{self._clock} +0000"
        self.git("tag", "-a", "-m", name, name, rev, env={"GIT_COMMITTER_DATE": stamp})

    def checkout(self, branch: str, *, new: bool = False) -> None:
        if new:
            self.git("checkout", "-q", "-b", branch)
        else:
            self.git("checkout", "-q", branch)

    def publish(self, served: Path, name: str) -> Path:
        """Clone this repository bare to ``served/name`` (replacing any earlier copy)."""
        target = served / name
        if target.exists():
            subprocess.run(["rm", "-rf", str(target)], check=True)
        served.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "-q", "--bare", "--", str(self.path), str(target)],
            env=git_env(self.path),
            check=True,
            capture_output=True,
        )
        return target

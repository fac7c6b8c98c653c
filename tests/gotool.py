"""Running the real go command in tests, with everything that matters set.

The go command is the reference: tests run it against loopback proxies only, with a scratch
GOPATH/GOMODCACHE, GOTOOLCHAIN=local (no toolchain downloads) and explicit GOPROXY/GOSUMDB, so
nothing leaks from the developer's environment and nothing reaches the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

__all__ = ["go_binary", "go_environ", "run_go"]

# Variables of the developer's environment that would change what the go command does.
_SCRUB_PREFIXES = ("GO", "CGO_")


def go_binary() -> str:
    """Return the go command's path; fail (never skip) when it is missing."""
    found = shutil.which("go")
    if found is None:
        pytest.fail("the go command is required for this test suite and was not found on PATH")
    return found


def go_environ(
    home: Path,
    *,
    goproxy: str,
    gosumdb: str = "off",
    gonosumdb: str = "",
    goprivate: str = "",
    goflags: str = "-mod=mod",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """An environment for the go command rooted at the scratch folder ``home``.

    GOPATH is ``home/gopath``, GOMODCACHE ``home/gopath/pkg/mod``, caches under ``home``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    gopath = home / "gopath"
    env.update(
        {
            "HOME": str(home),
            "GOPATH": str(gopath),
            "GOMODCACHE": str(gopath / "pkg" / "mod"),
            "GOCACHE": str(home / "gocache"),
            "GOENV": "off",
            "GOPROXY": goproxy,
            "GOSUMDB": gosumdb,
            "GONOSUMDB": gonosumdb,
            "GONOPROXY": "",
            "GOPRIVATE": goprivate,
            "GOINSECURE": "",
            "GOFLAGS": goflags,
            "GOTOOLCHAIN": "local",
            "GOTELEMETRY": "off",
            "GOWORK": "off",
            "CGO_ENABLED": "0",
        }
    )
    if extra:
        env.update(extra)
    return env


def run_go(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 600,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``go ARGS`` in ``cwd`` with ``env``; returns the completed process (text mode)."""
    proc = subprocess.run(
        [go_binary(), *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"go {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc

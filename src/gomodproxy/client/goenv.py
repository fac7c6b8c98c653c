"""The Go environment as the go command reads it, without running the go command.

``cmd/go/internal/cfg``: a variable set (non-empty) in the process environment wins; otherwise
the go env file (``$GOENV``, default ``<user config dir>/go/env``; ``GOENV=off`` disables it) is
read as a file; otherwise ``$GOROOT/go.env`` (the toolchain's defaults, where GOPROXY and
GOSUMDB are set); otherwise the built-in default. GOROOT is ``$GOROOT`` or, when a go command is
on PATH, the folder its binary lives in (found by resolving links, never by running it).

Pure parsing (:func:`parse_env_file`, :func:`resolve`) plus one blocking reader
(:func:`read_go_environment`, call it in a thread).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.errors import ConfigError

__all__ = ["GoEnvironment", "parse_env_file", "read_go_environment", "resolve"]


def parse_env_file(data: bytes) -> dict[str, str]:
    """Parse a go env file: ``KEY=VALUE`` lines; lines without ``=`` or not starting with an
    upper-case letter are skipped (cfg.go ``readEnvFileLines``); the first value of a key wins."""
    out: dict[str, str] = {}
    for raw in data.decode("utf-8", "replace").split("\n"):
        i = raw.find("=")
        if i < 0 or not raw or not ("A" <= raw[0] <= "Z"):
            continue
        key = raw[:i]
        if key not in out:
            out[key] = raw[i + 1 :].strip()
    return out


@dataclass(frozen=True, slots=True)
class GoEnvironment:
    """The settings of the go command that ``gomodproxy download`` follows."""

    goproxy: str
    gonoproxy: str
    goprivate: str
    gonosumdb: str
    gosumdb: str
    goinsecure: str
    goflags: tuple[str, ...]
    gopath: Path
    gomodcache: Path
    gowork: str
    gotoolchain: str
    #: The local toolchain's go version (``1.26.8``) from ``$GOROOT/VERSION``; "" if unknown.
    local_go: str
    #: Where each value came from, for messages (``environment``, the env file's path, ...).
    sources: Mapping[str, str]
    #: GOAUTH (``netrc`` by default; see :mod:`gomodproxy.client.goauth`).
    goauth: str = "netrc"

    @property
    def modcache_rw(self) -> bool:
        """GOFLAGS carries ``-modcacherw``: extracted trees stay writable."""
        return any(f in ("-modcacherw", "-modcacherw=true", "--modcacherw") for f in self.goflags)


def _user_config_dir(environ: Mapping[str, str]) -> Path | None:
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    home = environ.get("HOME", "")
    return Path(home) / ".config" if home else None


def _env_file(environ: Mapping[str, str]) -> Path | None:
    goenv = environ.get("GOENV", "")
    if goenv == "off":
        return None
    if goenv:
        return Path(goenv)
    base = _user_config_dir(environ)
    return base / "go" / "env" if base is not None else None


def _goroot(environ: Mapping[str, str]) -> Path | None:
    if environ.get("GOROOT"):
        return Path(environ["GOROOT"])
    go = shutil.which("go", path=environ.get("PATH"))
    if go is None:
        return None
    return Path(os.path.realpath(go)).parent.parent


def _read(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        return parse_env_file(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"reading go env file {path}: {exc.strerror or exc}") from exc


def _local_go(goroot: Path | None) -> str:
    """The first line of ``$GOROOT/VERSION`` without ``go`` (``1.26.8``), or ""."""
    if goroot is None:
        return ""
    try:
        first = (goroot / "VERSION").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    line = first.split("\n", 1)[0].strip()
    return line.removeprefix("go") if line.startswith("go1") else ""


def read_go_environment(environ: Mapping[str, str]) -> GoEnvironment:
    """Read the environment, the go env file and ``$GOROOT/go.env`` (blocking)."""
    env_file = _env_file(environ)
    goroot = _goroot(environ)
    go_env_file = goroot / "go.env" if goroot is not None else None
    return resolve(
        environ,
        _read(env_file),
        _read(go_env_file),
        env_file_name=str(env_file or ""),
        local_go=_local_go(goroot),
    )


def resolve(
    environ: Mapping[str, str],
    env_file: Mapping[str, str],
    go_env: Mapping[str, str],
    *,
    env_file_name: str = "go env file",
    local_go: str = "",
) -> GoEnvironment:
    """Combine the layers (pure): environment, go env file, ``$GOROOT/go.env``, defaults."""
    sources: dict[str, str] = {}

    def get(name: str, default: str = "") -> str:
        for where, layer in (
            ("environment", environ),
            (env_file_name, env_file),
            ("$GOROOT/go.env", go_env),
        ):
            value = layer.get(name, "")
            if value:
                sources[name] = where
                return value
        sources[name] = "default"
        return default

    home = environ.get("HOME", "")
    gopath_text = get("GOPATH", os.path.join(home, "go") if home else "")
    gopath_first = gopath_text.split(os.pathsep)[0] if gopath_text else ""
    if not gopath_first or not os.path.isabs(gopath_first):
        raise ConfigError(
            f"GOPATH entry is relative or missing ({gopath_text!r}): set GOPATH to an "
            "absolute path (or HOME, so that it defaults to $HOME/go)"
        )
    modcache = get("GOMODCACHE", os.path.join(gopath_first, "pkg", "mod"))
    if not os.path.isabs(modcache):
        raise ConfigError(f"GOMODCACHE entry is relative ({modcache!r}): set an absolute path")
    goproxy = get("GOPROXY")
    if not goproxy:
        raise ConfigError(
            "GOPROXY is not set (not in the environment, the go env file, nor $GOROOT/go.env): "
            "set GOPROXY to the proxy list to download from"
        )
    goprivate = get("GOPRIVATE")
    return GoEnvironment(
        goproxy=goproxy,
        gonoproxy=get("GONOPROXY") or goprivate,
        goprivate=goprivate,
        gonosumdb=get("GONOSUMDB") or goprivate,
        gosumdb=get("GOSUMDB", "sum.golang.org"),
        goinsecure=get("GOINSECURE"),
        goflags=tuple(get("GOFLAGS").split()),
        gopath=Path(gopath_first),
        gomodcache=Path(modcache),
        gowork=get("GOWORK"),
        gotoolchain=get("GOTOOLCHAIN"),
        local_go=local_go,
        sources=sources,
        goauth=get("GOAUTH", "netrc"),
    )

"""The two Go peers (Athens and goproxy/goproxy): where their binaries are, how each is started on
loopback, and how a ``cache/download`` folder becomes each one's cache.

``scripts/build-peers`` builds both into ``.cache/bin`` from their source archives.

Cache layouts, read from their sources:

- goproxy's ``--cacher-dir`` (``DirCacher``) stores each file under its request path without the
  leading slash, ``<escaped module>/@v/<escaped version>.<info|mod|zip>``: the module cache's
  ``cache/download`` layout, so such a folder is used as it is. A hit is served from it without
  any check (``serveFetchDownload``).
- Athens' disk storage (``pkg/storage/fs``) keeps ``<module>/<version>/go.mod``,
  ``<module>/<version>/source.zip`` and ``<module>/<version>/<version>.info`` under its root, with
  the module path and version *unescaped* (the request's ``!x`` decoded to ``X``); a version
  exists when its folder holds those three files. :func:`athens_storage` builds that tree from a
  ``cache/download`` folder with hard links (copies across file systems).

On a miss both fetch from ``GOPROXY``: goproxy over HTTP itself when it is a URL (verifying with
its own checksum-database client, ``GOSUMDB``), Athens by running ``go mod download -json`` with
the variables of ``ATHENS_GO_BINARY_ENV_VARS`` in a temporary GOPATH of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".cache" / "bin"
ATHENS_BIN = BIN / "athens-proxy"
GOPROXY_BIN = BIN / "goproxy"
PEER_NAMES: tuple[str, ...] = ("goproxy", "athens")

DESCRIPTIONS: dict[str, str] = {
    "goproxy": "goproxy/goproxy `goproxy server`, dir cacher (cache/download layout), Go runtime",
    "athens": "Athens `athens-proxy`, disk storage, log level info (a line per request)",
}


def require_binaries() -> None:
    """Exit with the fix when a peer's binary is missing."""
    missing = [p.name for p in (ATHENS_BIN, GOPROXY_BIN) if not os.access(p, os.X_OK)]
    if missing:
        raise SystemExit(
            f"missing .cache/bin/{' and .cache/bin/'.join(missing)}: run scripts/build-peers "
            "(it builds both from their source archives, ../shared/peers by default)"
        )


def builds() -> dict[str, str]:
    """Each built peer's source archive SHA-256 (as ``scripts/build-peers`` recorded it)."""
    out: dict[str, str] = {}
    for binary in (ATHENS_BIN, GOPROXY_BIN):
        stamp = binary.with_name(binary.name + ".source")
        if stamp.is_file():
            out[binary.name] = stamp.read_text().strip()
    return out


def unescape(element: str) -> str:
    """A module path or version as the proxy protocol escapes it (``!x`` for ``X``), decoded."""
    out: list[str] = []
    bang = False
    for ch in element:
        if bang:
            out.append(ch.upper())
            bang = False
        elif ch == "!":
            bang = True
        else:
            out.append(ch)
    return "".join(out)


def _link(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def athens_storage(download: Path, storage: Path) -> int:
    """Fill Athens' disk storage at ``storage`` with every version of ``download`` (a
    ``cache/download`` folder) that has its ``.info``, ``.mod`` and ``.zip``; return how many."""
    count = 0
    for zip_file in sorted(download.glob("**/@v/*.zip")):
        vdir = zip_file.parent
        stem = zip_file.name.removesuffix(".zip")
        info, mod = vdir / f"{stem}.info", vdir / f"{stem}.mod"
        if not (info.is_file() and mod.is_file()):
            continue
        module = unescape(vdir.parent.relative_to(download).as_posix())
        version = unescape(stem)
        target = storage / module / version
        target.mkdir(parents=True, exist_ok=True)
        _link(mod, target / "go.mod")
        _link(zip_file, target / "source.zip")
        _link(info, target / f"{version}.info")
        count += 1
    return count


def go_child_env(home: Path, goproxy: str, gosumdb: str) -> dict[str, str]:
    """The go command settings a peer passes on (or uses itself) on a miss: the upstream, our
    checksum database, local toolchain, ``-mod=mod`` and scratch GOPATH/GOMODCACHE/GOCACHE."""
    return {
        "GOPROXY": goproxy,
        "GOSUMDB": gosumdb,
        "GONOSUMDB": "",
        "GOPRIVATE": "",
        "GONOPROXY": "",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GOENV": "off",
        "GOTELEMETRY": "off",
        "GOWORK": "off",
        "GOPATH": str(home / "gopath"),
        "GOMODCACHE": str(home / "gopath" / "pkg" / "mod"),
        "GOCACHE": str(home / "gocache"),
    }


def _base_env() -> dict[str, str]:
    """The harness's environment without any Go or gomodproxy setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}


def goproxy_command(host: str, port: int, cacher_dir: Path, temp_dir: Path) -> list[str]:
    """``goproxy server`` on ``host:port`` with its dir cacher at ``cacher_dir``."""
    return [
        str(GOPROXY_BIN), "server", "--address", f"{host}:{port}",
        "--cacher-dir", str(cacher_dir), "--temp-dir", str(temp_dir),
    ]  # fmt: skip


def goproxy_env(home: Path, goproxy: str = "off", gosumdb: str = "off") -> dict[str, str]:
    """goproxy's environment: it reads GOPROXY/GOSUMDB (and runs the go command, on ``direct``,
    with the rest)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **_base_env(),
        "HOME": str(home),
        "TMPDIR": str(home),
        **go_child_env(home, goproxy, gosumdb),
    }


def athens_command() -> list[str]:
    """``athens-proxy``; it takes its settings from the environment (:func:`athens_env`)."""
    return [str(ATHENS_BIN)]


def athens_env(
    host: str, port: int, storage: Path, home: Path, goproxy: str = "off", gosumdb: str = "off"
) -> dict[str, str]:
    """Athens on ``host:port`` with disk storage at ``storage``; on a miss its go command gets
    :func:`go_child_env` (GOPATH and GOCACHE are replaced by Athens' own temporary ones)."""
    storage.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    child = go_child_env(home, goproxy, gosumdb)
    for own in ("GOPATH", "GOCACHE", "GOMODCACHE"):  # Athens sets a fresh GOPATH per fetch
        child.pop(own)
    return {
        **_base_env(),
        "HOME": str(home),
        "TMPDIR": str(home),
        "ATHENS_STORAGE_TYPE": "disk",
        "ATHENS_DISK_STORAGE_ROOT": str(storage),
        "ATHENS_PORT": f"{host}:{port}",
        "ATHENS_LOG_LEVEL": "info",
        "ATHENS_GO_BINARY_ENV_VARS": "; ".join(f"{k}={v}" for k, v in child.items()),
        "GO_BINARY_PATH": shutil.which("go") or "go",
    }

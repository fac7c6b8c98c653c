"""The benchmark's cached files, laid out like the Go module cache download folder.

Every server serves the same tree, ``<module>/@v/<version>.<ext>``: a small ``.info`` (about
100 bytes of JSON), a ``.mod`` of about 1 KB and a 200 KiB ``.zip`` of random bytes made at run
time (the servers never parse it; only its size and transfer cost matter here), and a second
version whose ``.zip`` is 32 KiB (kind ``zip32``; its ``.info`` and ``.mod`` are there too, so
every version is whole for the Go peers' caches).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

MODULE = "example.com/bench/widget"
VERSION = "v1.2.3"
ZIP_SIZE = 200 * 1024
#: The version holding the small zip (kind ``zip32``).
SMALL_ZIP_VERSION = "v1.2.4"
SMALL_ZIP_SIZE = 32 * 1024

#: File kind -> Content-Type, as a Go module proxy answers them.
CONTENT_TYPES: dict[str, str] = {
    "info": "application/json",
    "mod": "text/plain; charset=utf-8",
    "zip": "application/zip",
    "zip32": "application/zip",
}
KINDS: tuple[str, ...] = ("info", "mod", "zip", "zip32")
#: Kinds the Python servers answer from memory; the rest are files on disk.
SMALL_KINDS: frozenset[str] = frozenset({"info", "mod"})

ROOT_ENV = "HTTP_STACKS_ROOT"


@dataclass(frozen=True, slots=True)
class CachedFile:
    """One file of the tree: its URL path, where it lies, its size and Content-Type."""

    url_path: str
    kind: str
    path: Path
    size: int
    content_type: str


def url_path(kind: str) -> str:
    """The URL path of the benchmark file of ``kind`` (``/<module>/@v/<version>.<ext>``)."""
    if kind == "zip32":
        return f"/{MODULE}/@v/{SMALL_ZIP_VERSION}.zip"
    return f"/{MODULE}/@v/{VERSION}.{kind}"


def _info_bytes(version: str = VERSION) -> bytes:
    info = {
        "Version": version,
        "Time": "2024-05-06T07:08:09Z",
        "Origin": {"VCS": "git", "Ref": f"refs/tags/{version}"},
    }
    return json.dumps(info, separators=(",", ":")).encode() + b"\n"


def _mod_bytes() -> bytes:
    lines = [f"module {MODULE}", "", "go 1.22", "", "require ("]
    lines += [f"\texample.com/bench/dep{i:02d} v0.{i}.0" for i in range(24)]
    lines += [")", ""]
    return "\n".join(lines).encode()


def make_tree(root: Path, zip_size: int = ZIP_SIZE) -> dict[str, CachedFile]:
    """Write the benchmark files under ``root`` (the zip ``zip_size`` bytes) and return them
    by kind."""
    folder = root / MODULE / "@v"
    folder.mkdir(parents=True, exist_ok=True)
    contents = {"info": _info_bytes(), "mod": _mod_bytes(), "zip": os.urandom(zip_size)}
    for kind, data in contents.items():
        (folder / f"{VERSION}.{kind}").write_bytes(data)
    (folder / f"{SMALL_ZIP_VERSION}.info").write_bytes(_info_bytes(SMALL_ZIP_VERSION))
    (folder / f"{SMALL_ZIP_VERSION}.mod").write_bytes(_mod_bytes())
    (folder / f"{SMALL_ZIP_VERSION}.zip").write_bytes(os.urandom(SMALL_ZIP_SIZE))
    return scan_tree(root)


def scan_tree(root: Path) -> dict[str, CachedFile]:
    """Index the files of a tree made by :func:`make_tree`, by kind."""
    files: dict[str, CachedFile] = {}
    for kind in KINDS:
        path = root / url_path(kind).lstrip("/")
        files[kind] = CachedFile(
            url_path=url_path(kind),
            kind=kind,
            path=path,
            size=path.stat().st_size,
            content_type=CONTENT_TYPES[kind],
        )
    return files


def root_from_environ() -> Path:
    """The tree's root, for the ASGI and RSGI app factories (whose servers take no app args)."""
    value = os.environ.get(ROOT_ENV)
    if not value:
        raise SystemExit(f"set {ROOT_ENV} to the folder made by corpus.make_tree")
    return Path(value)

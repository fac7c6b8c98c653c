"""The air-gapped bundle's archive: an uncompressed tar with ``manifest.json`` first.

Members (all regular files, names relative, never ``..``):

* ``modules/<key>``: module files under their GOPROXY protocol keys
  (``<escaped path>/@v/<escaped version>.info|.mod|.zip``);
* ``sumdb/<name>/latest``, ``sumdb/<name>/lookup/...``, ``sumdb/<name>/tile/...``: the signed
  tree head, the lookup answers and the tiles that prove them, under the keys the proxy's
  checksum-database relay keeps them at.

The manifest (JSON) carries the format version, the database name, verifier key and tree size,
the module versions in the order they were verified, and every member's SHA-256 and size. Pure
except :func:`write_archive` and :func:`read_archive`, which are blocking (run them in a thread).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.errors import ProxyError

__all__ = [
    "FORMAT",
    "MANIFEST",
    "BundleError",
    "BundleModule",
    "Manifest",
    "file_entry",
    "parse_manifest",
    "read_archive",
    "write_archive",
]

FORMAT = 1
"""The manifest's ``format`` value this code writes and reads."""

MANIFEST = "manifest.json"

# A manifest is small: a few hundred bytes a file.
_MAX_MANIFEST = 64 << 20


class BundleError(ProxyError):
    """A bundle that cannot be read, or that fails a check: it is refused whole."""

    status_hint = 400


@dataclass(frozen=True, slots=True)
class BundleModule:
    """One module version in the bundle; ``zip`` False for a go.mod-only (``.mod``) entry."""

    path: str
    version: str
    zip: bool


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed ``manifest.json``."""

    sumdb_name: str
    verifier_key: str
    tree_size: int
    modules: tuple[BundleModule, ...]
    #: member name → (SHA-256 hex, size)
    files: Mapping[str, tuple[str, int]]

    def to_json(self) -> bytes:
        """The manifest as written into the archive."""
        doc = {
            "format": FORMAT,
            "sumdb": {
                "name": self.sumdb_name,
                "verifier_key": self.verifier_key,
                "tree_size": self.tree_size,
            },
            "modules": [{"path": m.path, "version": m.version, "zip": m.zip} for m in self.modules],
            "files": [
                {"name": name, "sha256": digest, "size": size}
                for name, (digest, size) in sorted(self.files.items())
            ],
        }
        return (json.dumps(doc, indent=2) + "\n").encode()


def file_entry(data: bytes) -> tuple[str, int]:
    """The manifest entry of a member's content: SHA-256 hex and size."""
    return hashlib.sha256(data).hexdigest(), len(data)


def _get(doc: Mapping[str, object], name: str) -> object:
    if name not in doc:
        raise BundleError(f"bundle manifest: {name!r} missing")
    return doc[name]


def _str(doc: Mapping[str, object], name: str) -> str:
    value = _get(doc, name)
    if not isinstance(value, str):
        raise BundleError(f"bundle manifest: {name!r} is not a string")
    return value


def _int(doc: Mapping[str, object], name: str) -> int:
    value = _get(doc, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BundleError(f"bundle manifest: {name!r} is not a non-negative integer")
    return value


def _objects(doc: Mapping[str, object], name: str) -> list[dict[str, object]]:
    value = _get(doc, name)
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise BundleError(f"bundle manifest: {name!r} is not a list of objects")
    return value


def parse_manifest(data: bytes) -> Manifest:
    """Parse and shape-check ``manifest.json``; raise :class:`BundleError`."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise BundleError(f"bundle manifest is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BundleError("bundle manifest is not a JSON object")
    if doc.get("format") != FORMAT:
        raise BundleError(f"bundle format {doc.get('format')!r} is not supported (want {FORMAT})")
    sumdb = doc.get("sumdb")
    if not isinstance(sumdb, dict):
        raise BundleError("bundle manifest: 'sumdb' is not an object")
    modules: list[BundleModule] = []
    for entry in _objects(doc, "modules"):
        has_zip = _get(entry, "zip")
        if not isinstance(has_zip, bool):
            raise BundleError("bundle manifest: 'zip' is not true or false")
        modules.append(BundleModule(_str(entry, "path"), _str(entry, "version"), has_zip))
    files: dict[str, tuple[str, int]] = {}
    for entry in _objects(doc, "files"):
        name = _str(entry, "name")
        if name in files or name == MANIFEST:
            raise BundleError(f"bundle manifest lists {name!r} twice")
        files[name] = (_str(entry, "sha256"), _int(entry, "size"))
    return Manifest(
        sumdb_name=_str(sumdb, "name"),
        verifier_key=_str(sumdb, "verifier_key"),
        tree_size=_int(sumdb, "tree_size"),
        modules=tuple(modules),
        files=files,
    )


def write_archive(target: Path, manifest: Manifest, members: Mapping[str, Path | bytes]) -> None:
    """Write the tar to ``target`` (through a temporary name, then a rename). Blocking."""
    partial = target.with_name(target.name + ".partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, MANIFEST, manifest.to_json())
            for name in sorted(members):
                source = members[name]
                data = source.read_bytes() if isinstance(source, Path) else source
                _add_bytes(tar, name, data)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def read_archive(source: Path) -> tuple[Manifest, dict[str, bytes]]:
    """Read the manifest and every member; refuse anything but regular files named once,
    matching the manifest's list exactly with the SHA-256 and size it records. Blocking."""
    try:
        with tarfile.open(source, "r:") as tar:
            members: dict[str, bytes] = {}
            for info in tar:
                if not info.isreg():
                    raise BundleError(f"bundle member {info.name!r} is not a regular file")
                if info.name in members:
                    raise BundleError(f"bundle member {info.name!r} appears twice")
                if info.name == MANIFEST and info.size > _MAX_MANIFEST:
                    raise BundleError("bundle manifest is too large")
                handle = tar.extractfile(info)
                assert handle is not None
                members[info.name] = handle.read()
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"cannot read bundle {source}: {exc}") from exc
    if MANIFEST not in members:
        raise BundleError("bundle has no manifest.json")
    manifest = parse_manifest(members.pop(MANIFEST))
    if set(members) != set(manifest.files):
        extra = sorted(set(members) - set(manifest.files))
        missing = sorted(set(manifest.files) - set(members))
        raise BundleError(
            f"bundle members differ from its manifest: extra {extra}, missing {missing}"
        )
    for name, data in members.items():
        if file_entry(data) != manifest.files[name]:
            raise BundleError(f"bundle member {name!r} does not match its manifest hash or size")
    return manifest, members

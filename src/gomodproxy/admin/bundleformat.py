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
Both stream the zips (a bundle may hold gigabytes): the writer copies them from their files in
chunks, the reader copies each ``modules/...zip`` member to a spool folder while hashing it, so
neither holds more than one chunk of a zip in memory; every other member is small and read whole
(each under a cap).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gomodproxy.errors import ProxyError

__all__ = [
    "FORMAT",
    "MANIFEST",
    "BundleError",
    "BundleModule",
    "Manifest",
    "file_entry",
    "is_spooled",
    "parse_manifest",
    "read_archive",
    "remove_spool",
    "write_archive",
]

FORMAT = 1
"""The manifest's ``format`` value this code writes and reads."""

MANIFEST = "manifest.json"

# A manifest is small: a few hundred bytes a file.
_MAX_MANIFEST = 64 << 20
# Members other than zips: .info, .mod (at most 16 MiB by the go command's rules), lookup
# answers and tiles.
_MAX_SMALL = 64 << 20
_CHUNK = 1 << 20


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
                if isinstance(source, Path):
                    info = tarfile.TarInfo(name)
                    info.size = source.stat().st_size
                    info.mode = 0o644
                    with source.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    _add_bytes(tar, name, source)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def is_spooled(name: str) -> bool:
    """Whether :func:`read_archive` spools the member to a file (module zips) rather than
    reading it into memory."""
    return name.startswith("modules/") and name.endswith(".zip")


def read_archive(source: Path, spool: Path) -> tuple[Manifest, dict[str, bytes | Path]]:
    """Read the manifest and every member: module zips copied into files in the existing
    folder ``spool`` (see :func:`is_spooled`), the rest into memory. Refuse anything but
    regular files named once, matching the manifest's list exactly with the SHA-256 and size it
    records. Blocking."""
    members: dict[str, bytes | Path] = {}
    digests: dict[str, tuple[str, int]] = {}
    try:
        with tarfile.open(source, "r:") as tar:
            for info in tar:
                if not info.isreg():
                    raise BundleError(f"bundle member {info.name!r} is not a regular file")
                if info.name in members:
                    raise BundleError(f"bundle member {info.name!r} appears twice")
                handle = tar.extractfile(info)
                assert handle is not None
                if is_spooled(info.name):
                    target = spool / f"{len(members)}.zip"
                    digests[info.name] = _copy_hashing(handle, target)
                    members[info.name] = target
                    continue
                limit = _MAX_MANIFEST if info.name == MANIFEST else _MAX_SMALL
                if info.size > limit:
                    raise BundleError(f"bundle member {info.name!r} is too large")
                data = handle.read()
                members[info.name] = data
                digests[info.name] = file_entry(data)
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"cannot read bundle {source}: {exc}") from exc
    raw = members.pop(MANIFEST, None)
    if not isinstance(raw, bytes):
        raise BundleError("bundle has no manifest.json")
    manifest = parse_manifest(raw)
    if set(members) != set(manifest.files):
        extra = sorted(set(members) - set(manifest.files))
        missing = sorted(set(manifest.files) - set(members))
        raise BundleError(
            f"bundle members differ from its manifest: extra {extra}, missing {missing}"
        )
    for name in members:
        if digests[name] != manifest.files[name]:
            raise BundleError(f"bundle member {name!r} does not match its manifest hash or size")
    return manifest, members


def _copy_hashing(handle: IO[bytes], target: Path) -> tuple[str, int]:
    """Copy ``handle`` to ``target`` in chunks; return the SHA-256 and size of what was copied."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def remove_spool(spool: Path) -> None:
    """Remove a spool folder and what is left in it. Blocking."""
    shutil.rmtree(spool, ignore_errors=True)

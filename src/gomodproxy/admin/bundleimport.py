"""``gomodproxy bundle import``: check a bundle completely, then add it to a cache.

Nothing is written unless every check passes:

1. the archive's members are exactly the manifest's, each with its SHA-256 and size
   (:func:`~gomodproxy.admin.bundleformat.read_archive`);
2. the database named by the operator's verifier key is the bundle's;
3. the proofs are replayed by the real :class:`~gomodproxy.sumdb.client.SumDBClient` over
   :class:`BundleFetcher`, a checksum-database fetcher that answers from the bundle alone (a
   path it lacks is a failure, never a network request): every lookup record's inclusion in
   the signed tree, in the order the bundle was created, every tile proven before it is used;
4. the bundled ``latest`` verifies with the operator's key and is the tree the proofs ended at;
5. every ``.mod`` and ``.zip`` hashes to the ``h1:`` its proven record lists, and every
   ``.info`` names its version.

Then the module files go under their protocol keys, each under the lock a proxy's fetch of it
holds and only when the cache has none (the first verified copy stays), each module's ``list``
is updated under its list lock, and the database files go under the relay's keys
``sumdb/<name>/...`` with the ``supported`` marker, so ``gomodproxy serve --upstream off``
answers the go command from the cache alone. The zips stream through a folder in the store's
spool folder (removed at the end; on the filesystem backend the put is a rename), so the import
never holds a zip in memory.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path

from gomodproxy.admin.bundleformat import BundleError, Manifest, read_archive, remove_spool
from gomodproxy.errors import ModuleNotFound, ProxyError, StorageError
from gomodproxy.module import semver
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.protocol.answers import validate_info
from gomodproxy.protocol.files import file_key, list_key
from gomodproxy.protocol.versions import is_canonical
from gomodproxy.storage import LocalLocks, Locks, ObjectStore
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.gosumdb import parse_gosumdb
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.tlog.note import new_verifier, open_note
from gomodproxy.tlog.tlog import parse_tree

__all__ = ["BundleFetcher", "check_bundle", "import_bundle"]

logger = logging.getLogger(__name__)


class BundleFetcher:
    """A :class:`~gomodproxy.sumdb.seams.SumDBFetcher` reading one database's paths from a
    bundle's members (``sumdb/<name>/<path>``); a missing path is not found."""

    def __init__(self, name: str, members: Mapping[str, bytes | Path]) -> None:
        self._prefix = f"sumdb/{name}/"
        self._members = members

    async def fetch(self, path: str) -> bytes:
        """The bundled answer at ``path``."""
        data = self._members.get(self._prefix + path)
        if not isinstance(data, bytes):
            raise ModuleNotFound(f"{path} is not in the bundle")
        return data


async def check_bundle(
    source: Path, verifier_key: str, spool: Path
) -> tuple[Manifest, dict[str, bytes | Path]]:
    """Read ``source`` (its zips into files in the folder ``spool``) and run every check;
    raise :class:`BundleError` naming the first failure."""
    manifest, members = await asyncio.to_thread(read_archive, source, spool)
    try:
        parsed = parse_gosumdb(verifier_key)
        if parsed is None or parsed.url is not None:
            raise BundleError("give the database's verifier key alone (name+hash+key)")
        verifier = new_verifier(parsed.verifier_key)
    except ProxyError as exc:
        raise BundleError(f"invalid verifier key {verifier_key!r}: {exc}") from exc
    config = parsed
    if manifest.sumdb_name != config.name:
        raise BundleError(
            f"bundle proves database {manifest.sumdb_name!r}, the key is for {config.name!r}"
        )
    expected_names = {f"sumdb/{config.name}/latest"}
    for module in manifest.modules:
        exts = ("info", "mod", "zip") if module.zip else ("info", "mod")
        expected_names.update(f"modules/{file_key(module.path, module.version, e)}" for e in exts)
    for name in manifest.files:
        if not (name in expected_names or _is_proof(name, config.name)):
            raise BundleError(f"bundle member {name!r} belongs to no listed module or proof")
    if not expected_names <= set(manifest.files):
        missing = sorted(expected_names - set(manifest.files))
        raise BundleError(f"bundle lacks {missing}")
    try:
        await _replay(manifest, members, config.name, config.verifier_key)
        latest = _small(members, f"sumdb/{config.name}/latest")
        tree = parse_tree(open_note(latest, [verifier]).text.encode())
    except ProxyError as exc:
        raise BundleError(f"bundle refused: {exc}") from exc
    if tree.n != manifest.tree_size:
        raise BundleError(f"bundle tree size {tree.n} differs from its manifest's")
    return manifest, members


def _small(members: Mapping[str, bytes | Path], name: str) -> bytes:
    data = members[name]
    if not isinstance(data, bytes):
        raise BundleError(f"bundle member {name!r} is not what its name says")
    return data


def _hash_zip_file(path: Path) -> str:
    with path.open("rb") as f:
        return hash_zip(f)


def _is_proof(name: str, db: str) -> bool:
    return name.startswith((f"sumdb/{db}/lookup/", f"sumdb/{db}/tile/"))


async def _replay(
    manifest: Manifest, members: Mapping[str, bytes | Path], name: str, verifier_key: str
) -> None:
    state = MemoryVerifierState()
    client = SumDBClient(verifier_key, BundleFetcher(name, members), state)
    for module in manifest.modules:
        path, version = module.path, module.version
        info = _small(members, f"modules/{file_key(path, version, 'info')}")
        validate_info(info, path, version, upstream="bundle")
        mod = _small(members, f"modules/{file_key(path, version, 'mod')}")
        await client.verify(path, version, "mod", hash_go_mod(mod))
        if module.zip:
            spooled = members[f"modules/{file_key(path, version, 'zip')}"]
            if not isinstance(spooled, Path):
                raise BundleError(f"{path}@{version}: the zip member was not spooled")
            h1 = await asyncio.to_thread(_hash_zip_file, spooled)
            await client.verify(path, version, "zip", h1)
    latest = _small(members, f"sumdb/{name}/latest")
    tree = await client.observe_tree(latest)
    if tree != client.latest:
        raise BundleError("the bundled tree head is not the one its proofs end at")


async def import_bundle(
    source: Path, verifier_key: str, store: ObjectStore, locks: Locks | None = None
) -> Manifest:
    """Check ``source`` (see :func:`check_bundle`), then add its files to ``store`` under
    ``locks`` (the store's; in-process locks when None)."""
    locks = locks if locks is not None else LocalLocks()
    spool = store.spool_dir / f"bundle-{secrets.token_hex(8)}"
    await asyncio.to_thread(spool.mkdir, parents=True)
    try:
        manifest, members = await check_bundle(source, verifier_key, spool)
        await _store_members(store, locks, members)
    finally:
        await asyncio.to_thread(remove_spool, spool)
    name = manifest.sumdb_name
    await store.put(f"sumdb/{name}/supported", b"")
    by_module: dict[str, set[str]] = {}
    for module in manifest.modules:
        by_module.setdefault(module.path, set()).add(module.version)
    for path, versions in by_module.items():
        async with locks.lock(list_key(path)):
            await _add_to_list(store, path, versions)
    logger.info(
        "bundle.imported file=%s versions=%d files=%d sumdb=%s tree_size=%d",
        source,
        len(manifest.modules),
        len(members),
        name,
        manifest.tree_size,
    )
    return manifest


async def _store_members(
    store: ObjectStore, locks: Locks, members: Mapping[str, bytes | Path]
) -> None:
    """Module files (``.info`` last, so a listed version has its other files) under their
    locks, kept when the cache has them already; database files as they are."""
    for member, data in sorted(members.items(), key=lambda kv: kv[0].endswith(".info")):
        if not member.startswith("modules/"):
            await store.put(member, data)
            continue
        key = member.removeprefix("modules/")
        async with locks.lock(key):
            if await store.stat(key) is None:
                await store.put(key, data)


async def _add_to_list(store: ObjectStore, path: str, versions: set[str]) -> None:
    """Merge ``versions`` into ``<E>/@v/list`` as the cache service keeps it (call with the
    list lock held)."""
    key = list_key(path)
    try:
        current = (await store.get(key)).decode("ascii", "replace").split()
    except (ModuleNotFound, StorageError):
        current = []
    merged = {v for v in current if is_canonical(v)} | versions
    if merged != set(current):
        await store.put(key, "".join(v + "\n" for v in semver.sort_versions(merged)).encode())

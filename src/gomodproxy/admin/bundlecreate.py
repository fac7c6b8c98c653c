"""``gomodproxy bundle create``: module versions and their checksum-database proofs, in one file.

Each module version is fetched through the upstream chain by the proxy's own cache service
(:func:`gomodproxy.assembly.module_service`) over a temporary store, so it is verified against
the checksum database exactly as ``serve`` verifies it. A second verifier over the same
database, with its state in memory (:class:`~gomodproxy.sumdb.seams.MemoryVerifierState`),
then looks each version up again and checks the files' ``h1:`` hashes; the lookup answers and
tiles it proved, and the tree head it ended at, go into the bundle, so that ``bundle import``
can replay the same proofs offline. ``--go-mod`` passes a :data:`WantedSource`, which reads the
module graph through the same service (:mod:`gomodproxy.admin.bundlegraph`).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from gomodproxy.admin.bundleformat import BundleError, BundleModule, Manifest, file_entry
from gomodproxy.admin.bundleformat import write_archive as _write_archive
from gomodproxy.assembly import Plan, module_service, open_store, open_upstreams
from gomodproxy.cache.service import ModuleService
from gomodproxy.errors import ChecksumMismatch, ConfigError
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from gomodproxy.module.gosum import GoSum
from gomodproxy.protocol.files import file_key
from gomodproxy.sumdb.client import SumDBClient
from gomodproxy.sumdb.seams import MemoryVerifierState
from gomodproxy.tlog.note import new_verifier, open_note
from gomodproxy.tlog.tlog import parse_tree

__all__ = ["Wanted", "WantedSource", "create_bundle", "wanted_from_go_sum", "wanted_from_list"]

logger = logging.getLogger(__name__)

Wanted = tuple[BundleModule, tuple[str, ...], tuple[str, ...]]
"""A module version to bundle, with the go.sum's ``h1:`` hashes of its zip and its go.mod."""

WantedSource = Callable[[ModuleService], Awaitable[Sequence[Wanted]]]
"""Computes the versions to bundle with the bundle's own (verifying) cache service."""


def wanted_from_go_sum(go_sum: GoSum) -> list[Wanted]:
    """Every module version of a go.sum: zip lines bring the zip, ``/go.mod`` lines the .mod."""
    versions: dict[tuple[str, str], bool] = {}
    for path, version in go_sum.sums:
        bare = version.removesuffix("/go.mod")
        versions[(path, bare)] = versions.get((path, bare), False) or bare == version
    out: list[Wanted] = []
    for (path, version), has_zip in sorted(versions.items()):
        out.append(
            (
                BundleModule(path, version, has_zip),
                go_sum.hashes(path, version),
                go_sum.go_mod_hashes(path, version),
            )
        )
    return out


def wanted_from_list(text: str) -> list[Wanted]:
    """``module@version`` lines (blank lines and ``#`` comments skipped): zip and .mod each."""
    out: list[Wanted] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        path, at, version = line.rpartition("@")
        if not at or not path or not version or " " in line:
            raise ConfigError(f"list line {number}: {raw!r} is not module@version")
        out.append((BundleModule(path, version, True), (), ()))
    return out


def _check_go_sum(path: str, key: str, listed: Sequence[str], h1: str) -> None:
    expected = [h for h in listed if h.startswith("h1:")]
    if expected and h1 not in expected:
        raise ChecksumMismatch(path, key, expected[0], h1, source="go.sum")


async def create_bundle(
    plan: Plan, wanted: Sequence[Wanted] | WantedSource, target: Path
) -> Manifest:
    """Fetch, verify and write the bundle to ``target``; return its manifest."""
    if plan.sumdb is None:
        raise ConfigError("a bundle needs a checksum database to prove its modules: set --sumdb")
    sumdb = plan.sumdb
    scratch = await asyncio.to_thread(tempfile.mkdtemp, prefix="gomodproxy-bundle-")
    try:
        settings = replace(
            plan.settings, storage="filesystem", cache_dir=Path(scratch), redis_url=""
        )
        plan = replace(plan, settings=settings)
        storage = await open_store(plan)
        async with open_upstreams(plan, storage) as upstreams:
            assert upstreams.sumdb_fetcher is not None
            service = module_service(plan, storage, upstreams)
            state = MemoryVerifierState()
            verifier = SumDBClient(sumdb.verifier_key, upstreams.sumdb_fetcher, state)
            members: dict[str, Path | bytes] = {}
            try:
                versions = await wanted(service) if callable(wanted) else wanted
                for module, zip_sums, mod_sums in versions:
                    await _fetch_one(service, verifier, module, zip_sums, mod_sums, Path(scratch))
                    members.update(_version_files(Path(scratch), module))
            finally:
                await service.close()
        latest = state.config.get(f"{sumdb.name}/latest", b"")
        if not latest:
            raise BundleError("no module was looked up: the bundle would prove nothing")
        tree = parse_tree(open_note(latest, [new_verifier(sumdb.verifier_key)]).text.encode())
        members[f"sumdb/{sumdb.name}/latest"] = latest
        for file, data in state.cache.items():
            members[f"sumdb/{file}"] = data
        files = {}
        for name, source in members.items():
            data = (
                await asyncio.to_thread(source.read_bytes) if isinstance(source, Path) else source
            )
            files[name] = file_entry(data)
        manifest = Manifest(
            sumdb.name, sumdb.verifier_key, tree.n, tuple(w[0] for w in versions), files
        )
        await asyncio.to_thread(_write_archive, target, manifest, members)
    finally:
        await asyncio.to_thread(_remove_tree, scratch)
    logger.info(
        "bundle.created file=%s versions=%d files=%d tree_size=%d",
        target,
        len(manifest.modules),
        len(files),
        tree.n,
    )
    return manifest


async def _fetch_one(
    service: ModuleService,
    verifier: SumDBClient,
    module: BundleModule,
    zip_sums: Sequence[str],
    mod_sums: Sequence[str],
    scratch: Path,
) -> None:
    """Fetch one version through the service (verified before it is stored), then prove its
    hashes with ``verifier`` and check them against the go.sum's."""
    path, version = module.path, module.version
    await service.info(path, version)
    mod_h1 = hash_go_mod(await service.mod(path, version))
    _check_go_sum(path, version + "/go.mod", mod_sums, mod_h1)
    await verifier.verify(path, version, "mod", mod_h1)
    if module.zip:
        await service.zip_stored(path, version)
        zip_h1 = await asyncio.to_thread(_hash_zip_file, scratch / file_key(path, version, "zip"))
        _check_go_sum(path, version, zip_sums, zip_h1)
        await verifier.verify(path, version, "zip", zip_h1)
    logger.info("bundle.verified module=%s@%s zip=%s", path, version, module.zip)


def _version_files(scratch: Path, module: BundleModule) -> dict[str, Path]:
    exts = ("info", "mod", "zip") if module.zip else ("info", "mod")
    keys = [file_key(module.path, module.version, ext) for ext in exts]
    return {f"modules/{key}": scratch / key for key in keys}


def _hash_zip_file(path: Path) -> str:
    with path.open("rb") as f:
        return hash_zip(f)


def _remove_tree(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)

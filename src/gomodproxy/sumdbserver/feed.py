"""Where our checksum database's records come from.

Every record holds the two go.sum lines of one module version, as sum.golang.org's do::

    <path> <version> h1:<zip hash>
    <path> <version>/go.mod h1:<go.mod hash>

Three sources feed the log:

* a module cache folder (``--from-cache``): every ``@v/V.mod``, with its ``@v/V.zip`` when the
  cache has it, hashed with :mod:`gomodproxy.module.dirhash`;
* a go.sum-format list (``--from-list``): used as given, so a test can log a wrong hash;
* a GOPROXY (``--from-proxy``): on the first lookup of a version, its ``.mod`` and ``.zip`` are
  fetched, the zip is checked against the x/mod zip rules and both are hashed.

A real module cache holds many versions whose go.mod the go command read (to build the module
graph) but whose zip it never needed. Such a version is logged with its ``/go.mod`` line alone:
that is all a client can ever ask the database to vouch for, since it never downloads the zip.
A client that does download the zip later finds no zip line in the proven record and must refuse
the zip (fault catalogue E, CVE-2026-42501), never pass it. Records are never rewritten, so such
a version keeps its go.mod-only record even if its zip is fed later (the feed says so at WARNING
level); the go command's own sum.golang.org always logs both lines, because it fetches the zip.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from gomodproxy.errors import (
    InvalidModulePath,
    InvalidVersion,
    ModuleNotFound,
    SumDBError,
    UpstreamError,
    UpstreamTimeout,
)
from gomodproxy.module import dirhash, paths, zipcheck

__all__ = [
    "ModuleSums",
    "ProxySource",
    "sums_from_cache",
    "sums_from_go_sum",
]

logger = logging.getLogger(__name__)

_MAX_GO_MOD = 16 << 20


@dataclass(frozen=True, slots=True)
class ModuleSums:
    """The go.sum hashes of one module version: its record in the log.

    ``zip_hash`` is None for a version known only by its go.mod (see the module docstring).
    """

    path: str
    version: str
    zip_hash: str | None
    mod_hash: str

    def record_text(self) -> bytes:
        """The record text: the zip line (when known), then the ``/go.mod`` line."""
        zip_line = "" if self.zip_hash is None else f"{self.path} {self.version} {self.zip_hash}\n"
        return (zip_line + f"{self.path} {self.version}/go.mod {self.mod_hash}\n").encode()


def _sort_key(s: ModuleSums) -> tuple[object, ...]:
    return paths.module_sort_key(s.path, s.version)


def sums_from_go_sum(data: bytes, *, source: str = "go.sum list") -> list[ModuleSums]:
    """The records of a go.sum-format text: one per version that has a ``/go.mod`` line.

    Lines are split like the go command reads go.sum (blank lines skipped, three fields each).
    A version with a ``/go.mod`` line alone gets a go.mod-only record; a version with a zip line
    but no ``/go.mod`` line is skipped with a warning (every module version has a go.mod, real
    or synthesized, and a record without it would leave the module graph unverifiable). Raises
    :class:`SumDBError` for a malformed line.
    """
    zips: dict[tuple[str, str], str] = {}
    mods: dict[tuple[str, str], str] = {}
    for lineno, raw in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise SumDBError(f"{source}:{lineno}: malformed go.sum line {raw!r}")
        path, version, h = fields
        table = zips
        if version.endswith("/go.mod"):
            version, table = version.removesuffix("/go.mod"), mods
        try:
            paths.check(path, version)
        except (InvalidModulePath, InvalidVersion) as exc:
            raise SumDBError(f"{source}:{lineno}: {exc}") from exc
        table[(path, version)] = h
    out: list[ModuleSums] = []
    for key in sorted(zips.keys() | mods.keys(), key=lambda k: paths.module_sort_key(*k)):
        if key not in mods:
            logger.warning("sumdb.feed.skip module=%s@%s: no /go.mod line", *key)
            continue
        out.append(ModuleSums(key[0], key[1], zips.get(key), mods[key]))
    return out


def _download_dir(modcache: Path) -> Path:
    """``MODCACHE/cache/download`` when given a module cache root, else the folder itself."""
    inner = modcache / "cache" / "download"
    return inner if inner.is_dir() else modcache


def _cache_versions(root: Path) -> Iterator[tuple[str, str, Path, Path | None]]:
    for mod_file in sorted(root.glob("**/@v/*.mod")):
        zip_file = mod_file.with_suffix(".zip")
        rel = mod_file.parent.parent.relative_to(root).as_posix()
        try:
            path = paths.unescape_path(rel)
            version = paths.unescape_version(mod_file.stem)
            paths.check(path, version)
        except (InvalidModulePath, InvalidVersion) as exc:
            logger.warning("sumdb.feed.skip file=%s: %s", mod_file, exc)
            continue
        if not zip_file.is_file():
            logger.debug("sumdb.feed.gomod-only module=%s@%s: no zip in the cache", path, version)
            yield path, version, mod_file, None
            continue
        yield path, version, mod_file, zip_file


def sums_from_cache(modcache: Path) -> list[ModuleSums]:
    """The records of every version in a module cache: its ``.mod``, and its ``.zip`` if present.

    Blocking (reads and hashes files): call it through ``asyncio.to_thread``.
    """
    root = _download_dir(modcache)
    out: list[ModuleSums] = []
    for path, version, mod_file, zip_file in _cache_versions(root):
        zip_hash = None
        if zip_file is not None:
            with zip_file.open("rb") as f:
                zip_hash = dirhash.hash_zip(f)
        mod_hash = dirhash.hash_go_mod(mod_file.read_bytes())
        out.append(ModuleSums(path, version, zip_hash, mod_hash))
    out.sort(key=_sort_key)
    logger.info("sumdb.feed.cache dir=%s versions=%d", root, len(out))
    return out


def _check_and_hash(path: str, version: str, mod: bytes, zip_data: bytes) -> ModuleSums:
    """Apply the x/mod zip rules, then hash (blocking)."""
    zipcheck.check_zip(zip_data, path, version, size=len(zip_data)).raise_for_error()
    zip_hash = dirhash.hash_zip(io.BytesIO(zip_data), size=len(zip_data))
    return ModuleSums(path, version, zip_hash, dirhash.hash_go_mod(mod))


class ProxySource:
    """Fetches a version's ``.mod`` and ``.zip`` from a GOPROXY URL and hashes them."""

    def __init__(
        self, base_url: str, session: aiohttp.ClientSession, *, timeout: float = 60.0
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = session
        self._timeout = timeout

    async def _get(self, url: str, limit: int, what: str) -> bytes:
        try:
            async with asyncio.timeout(self._timeout), self._session.get(url) as resp:
                if resp.status in (404, 410):
                    raise ModuleNotFound(f"not found: {what}: upstream answered {resp.status}")
                if resp.status != 200:
                    raise UpstreamError(
                        f"{what}: upstream answered {resp.status}", upstream=self._base
                    )
                body = bytearray()
                async for chunk in resp.content.iter_chunked(1 << 16):
                    body += chunk
                    if len(body) > limit:
                        raise UpstreamError(f"{what}: larger than {limit} bytes")
                return bytes(body)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{what}: upstream timed out", upstream=self._base) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"{what}: {exc}", upstream=self._base) from exc

    async def fetch(self, path: str, version: str) -> ModuleSums:
        """Download, check and hash path@version; raises ModuleNotFound on 404/410."""
        base = f"{self._base}/{paths.escape_path(path)}/@v/{paths.escape_version(version)}"
        what = f"{path}@{version}"
        mod = await self._get(base + ".mod", _MAX_GO_MOD, what + " .mod")
        zip_data = await self._get(base + ".zip", zipcheck.MAX_ZIP_FILE, what + " .zip")
        sums = await asyncio.to_thread(_check_and_hash, path, version, mod, zip_data)
        logger.info("sumdb.feed.proxy module=%s zip=%s", what, sums.zip_hash)
        return sums

"""One module version into the module cache: ``.info``, ``.mod``, ``.zip`` and its tree.

cmd/go ``modfetch`` (``cachingRepo``, ``DownloadZip``, ``Download``) over our upstream chain:
a file already in the cache is used as it is; anything fetched is checked before it is written
(the ``.mod`` by its hash, the zip by the zip rules and its ``h1:`` hash against go.sum and the
checksum database), so a refused download leaves nothing behind. Each module version is fetched
once per run (single flight); zips and trees are written under ``<v>.lock``, which the go
command takes too, so both can fill one cache at the same time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import glob
import json
import multiprocessing
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from gomodproxy.cache.validate import validate_zip
from gomodproxy.client.checksums import SumChecker
from gomodproxy.client.modcache import ModCache, storage_error
from gomodproxy.client.progress import NoProgress, ProgressSink
from gomodproxy.errors import ProxyError, ZipError
from gomodproxy.module.dirhash import hash_go_mod
from gomodproxy.module.modfile import ModFile
from gomodproxy.module.pseudo import is_pseudo_version
from gomodproxy.modzip.extract import extract_zip, extract_zip_unplaced, place_tree, remove_tree
from gomodproxy.protocol.answers import InvalidUpstreamContent, validate_info, validate_mod
from gomodproxy.singleflight import SingleFlight
from gomodproxy.upstream.chain import UpstreamChain

__all__ = ["Downloaded", "ModuleFetcher", "go_info_json"]

_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})")
_ZERO_TIME = "0001-01-01T00:00:00Z"
_LOCK_POLL = 0.05
T = TypeVar("T")


def _go_time(text: object) -> str:
    """A time as Go's ``json.Marshal(time.Time)`` writes it back (RFC 3339, fraction trimmed,
    a zero offset as ``Z``)."""
    if not isinstance(text, str):
        return _ZERO_TIME
    m = _TIME.fullmatch(text)
    if m is None:
        return _ZERO_TIME
    fraction = (m.group(2) or "")[:9].rstrip("0")
    zone = "Z" if m.group(3) in ("Z", "+00:00", "-00:00") else m.group(3)
    return m.group(1) + ("." + fraction if fraction else "") + zone


def go_info_json(data: bytes) -> bytes:
    """The ``.info`` file as the go command writes it (``writeDiskStat``): Version, Time and a
    cleaned Origin, re-encoded compactly."""
    doc = json.loads(data)
    out: dict[str, object] = {"Version": doc["Version"], "Time": _go_time(doc.get("Time"))}
    origin = doc.get("Origin")
    if isinstance(origin, dict) and origin:
        cleaned = {k: v for k, v in origin.items() if k not in ("TagSum", "TagPrefix", "RepoSum")}
        if is_pseudo_version(str(doc["Version"])):
            cleaned.pop("Ref", None)
        out["Origin"] = cleaned
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Downloaded:
    """Where a module version landed in the cache."""

    info: Path
    go_mod: Path
    zip: Path
    dir: Path
    sum: str
    go_mod_sum: str


class ModuleFetcher:
    """Fills one module cache from one upstream chain, verifying with ``checker``."""

    def __init__(
        self,
        chain: UpstreamChain,
        cache: ModCache,
        checker: SumChecker,
        *,
        zip_slots: int = 8,
        keep_writable: bool = False,
        progress: ProgressSink | None = None,
        workers: int = 0,
    ) -> None:
        self.chain = chain
        self.cache = cache
        self.checker = checker
        self._zip_slots = asyncio.Semaphore(zip_slots)
        self._keep_writable = keep_writable
        self.progress: ProgressSink = progress or NoProgress()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("forkserver")
            )
        self._mods: SingleFlight[bytes] = SingleFlight()
        self._infos: SingleFlight[bytes] = SingleFlight()
        self._zips: SingleFlight[str] = SingleFlight()
        self._trees: SingleFlight[Path] = SingleFlight()
        self._both: SingleFlight[tuple[str, Path]] = SingleFlight()
        self._mod_done: dict[tuple[str, str], bytes] = {}
        #: go.mod files parsed while checking them (fetched this run), so they are parsed once.
        self.parsed_mods: dict[tuple[str, str], ModFile] = {}
        self._info_done: dict[tuple[str, str], bytes] = {}
        #: ``.info`` answers fetched this run, as the upstream gave them (the go command's
        #: Stat prints that Origin, whole, and writes the cleaned one to the cache).
        self.fetched_infos: dict[tuple[str, str], bytes] = {}
        #: Files fetched from the upstreams this run (for -x and tests).
        self.fetched = 0

    # --- .info -------------------------------------------------------------------------------

    async def info(self, path: str, version: str) -> bytes:
        """The ``.info`` of a canonical version (cached, else fetched and written)."""
        key = (path, version)
        if key in self._info_done:
            return self._info_done[key]
        data = await self._infos.do(f"{path}@{version}", lambda: self._load_info(path, version))
        self._info_done[key] = data
        return data

    async def _load_info(self, path: str, version: str) -> bytes:
        cached = await asyncio.to_thread(self.cache.read, path, version, "info")
        if cached is not None:
            return cached
        fetched = await self.chain.info(path, version)
        self.fetched += 1
        validate_info(fetched.data, path, version, upstream=fetched.upstream)
        self.fetched_infos[(path, version)] = fetched.data
        data = go_info_json(fetched.data)
        await asyncio.to_thread(self.cache.write, path, version, "info", data)
        return data

    async def query_info(self, path: str, query: str) -> bytes:
        """The ``.info`` answer for a query (branch, commit, prefix) from the upstreams."""
        fetched = await self.chain.info(path, query)
        self.fetched += 1
        validate_info(fetched.data, path, query, upstream=fetched.upstream)
        return fetched.data

    async def write_info(self, path: str, version: str, data: bytes) -> None:
        """Cache the ``.info`` of ``version`` (from a query's answer) unless already there."""
        if await asyncio.to_thread(self.cache.read, path, version, "info") is None:
            await asyncio.to_thread(self.cache.write, path, version, "info", go_info_json(data))

    # --- .mod --------------------------------------------------------------------------------

    async def go_mod(self, path: str, version: str) -> bytes:
        """The go.mod of a canonical version, verified (cached, else fetched and written)."""
        key = (path, version)
        if key in self._mod_done:
            return self._mod_done[key]
        data = await self._mods.do(f"{path}@{version}", lambda: self._load_mod(path, version))
        self._mod_done[key] = data
        return data

    async def _load_mod(self, path: str, version: str) -> bytes:
        cached = await asyncio.to_thread(self.cache.read, path, version, "mod")
        if cached is not None:
            await self.checker.check(path, version + "/go.mod", hash_go_mod(cached))
            return cached
        fetched = await self.chain.mod(path, version)
        self.fetched += 1
        parsed = validate_mod(fetched.data, path, version, upstream=fetched.upstream)
        self.parsed_mods[(path, version)] = parsed
        await self.checker.check(path, version + "/go.mod", hash_go_mod(fetched.data))
        await asyncio.to_thread(self.cache.write, path, version, "mod", fetched.data)
        return fetched.data

    # --- .zip --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _version_lock(self, path: str, version: str) -> AsyncIterator[None]:
        """``<v>.lock``, waited for without holding a thread."""
        while True:
            fd = await asyncio.to_thread(self.cache.try_lock, path, version)
            if fd is not None:
                break
            await asyncio.sleep(_LOCK_POLL)
        try:
            yield
        finally:
            ModCache.unlock(fd)

    async def zip(self, path: str, version: str) -> str:
        """Make sure the verified zip and ``.ziphash`` are cached; return the hash."""
        return await self._zips.do(f"{path}@{version}", lambda: self._load_zip(path, version))

    async def _load_zip(self, path: str, version: str) -> str:
        cache = self.cache
        if await asyncio.to_thread(cache.zip_complete, path, version):
            h = await asyncio.to_thread(cache.ziphash, path, version)
            assert h is not None
            await self.checker.check(path, version, h)
            return h
        async with self._zip_slots, self._version_lock(path, version):
            zip_file = cache.file(path, version, "zip")
            if await asyncio.to_thread(cache.zip_complete, path, version):
                h = await asyncio.to_thread(cache.ziphash, path, version)
                assert h is not None
                await self.checker.check(path, version, h)
                return h
            tmp = await asyncio.to_thread(cache.new_zip_temp, path, version)
            try:
                if await asyncio.to_thread(zip_file.exists):
                    # The .ziphash was lost: hash the zip again without downloading.
                    await asyncio.to_thread(tmp.unlink)
                    h = await self._offload(validate_zip, zip_file, path, version)
                    await self.checker.check(path, version, h)
                    await asyncio.to_thread(cache.write_ziphash, path, version, h)
                    return h
                await self._fetch_zip(path, version, tmp)
                h = await self._offload(validate_zip, tmp, path, version)
                await self.checker.check(path, version, h)
                await asyncio.to_thread(cache.write_ziphash, path, version, h)
                await asyncio.to_thread(os.replace, tmp, zip_file)
            except BaseException:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(tmp.unlink)
                raise
            return h

    async def _fetch_zip(self, path: str, version: str, tmp: Path) -> None:
        try:
            f = await asyncio.to_thread(open, tmp, "wb")
        except OSError as exc:
            raise storage_error(exc, f"writing {tmp}") from exc
        try:
            async with self.chain.zip(path, version) as opened:
                self.fetched += 1
                buffer = bytearray()
                async for chunk in opened.body.chunks():
                    buffer += chunk
                    self.progress.received(len(chunk))
                    if len(buffer) >= 1 << 20:
                        await asyncio.to_thread(f.write, bytes(buffer))
                        buffer.clear()
                if buffer:
                    await asyncio.to_thread(f.write, bytes(buffer))
        except OSError as exc:
            raise storage_error(exc, f"writing {tmp}") from exc
        finally:
            await asyncio.to_thread(f.close)

    # --- the extracted tree ------------------------------------------------------------------

    async def tree(self, path: str, version: str) -> Path:
        """Make sure the zip is extracted (read-only) at its place in the cache."""
        return await self._trees.do(f"{path}@{version}", lambda: self._load_tree(path, version))

    async def _load_tree(self, path: str, version: str) -> Path:
        cache = self.cache
        target = cache.tree(path, version)
        if await asyncio.to_thread(cache.tree_complete, path, version):
            return target
        await self.zip(path, version)
        async with self._version_lock(path, version):
            if await asyncio.to_thread(cache.tree_complete, path, version):
                return target
            await self._offload(
                extract_tree,
                cache.file(path, version, "zip"),
                cache.file(path, version, "partial"),
                path,
                version,
                target,
                self._keep_writable,
            )
        return target

    async def _offload(self, func: Callable[..., T], *args: object) -> T:
        """Run CPU-heavy zip work (checks, hashing, extraction) in a worker process, so it
        uses every core; in a thread when processes are off. Errors come back as
        :class:`ZipWorkFailed` with the worker's message."""
        if self._pool is None:
            return await asyncio.to_thread(func, *args)
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self._pool, functools.partial(_in_worker, func, *args))
        if isinstance(outcome, _Failed):
            raise ZipWorkFailed(outcome.message)
        return cast(T, outcome.value)

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def _zip_and_tree(self, path: str, version: str) -> tuple[str, Path]:
        """The zip and its tree. A zip not yet cached is extracted while it is hashed (one
        pass), into a temporary folder that is put in place only once the hash is verified."""
        cache = self.cache
        if await asyncio.to_thread(cache.zip_complete, path, version):
            h = await self.zip(path, version)
            return h, await self.tree(path, version)
        async with self._zip_slots, self._version_lock(path, version):
            if not await asyncio.to_thread(cache.zip_complete, path, version):
                return await self._fetch_extract_verify(path, version)
        h = await self.zip(path, version)
        return h, await self.tree(path, version)

    async def _fetch_extract_verify(self, path: str, version: str) -> tuple[str, Path]:
        """Under the version lock: fetch the zip, extract and hash it, verify, then place the
        zip, its hash and its tree; a refusal leaves none of them."""
        cache = self.cache
        zip_file = cache.file(path, version, "zip")
        target = cache.tree(path, version)
        partial = cache.file(path, version, "partial")
        tmp = await asyncio.to_thread(cache.new_zip_temp, path, version)
        tree_tmp: str | None = None
        try:
            await self._fetch_zip(path, version, tmp)
            made, h = await self._offload(extract_unplaced, tmp, partial, path, version, target)
            tree_tmp = made
            await self.checker.check(path, version, h)
            await asyncio.to_thread(cache.write_ziphash, path, version, h)
            await asyncio.to_thread(os.replace, tmp, zip_file)
            tree_tmp = None  # place() removes it itself if it fails
            await asyncio.to_thread(place, made, partial, target, self._keep_writable)
        except BaseException:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(tmp.unlink)
            if tree_tmp is not None:
                await asyncio.to_thread(remove_tree, tree_tmp)
            raise
        return h, target

    # --- everything --------------------------------------------------------------------------

    async def download(self, path: str, version: str) -> Downloaded:
        """info, go.mod, zip and tree of one module version (DownloadModule)."""
        await self.info(path, version)
        mod = await self.go_mod(path, version)
        h, tree = await self._both.do(
            f"{path}@{version}", lambda: self._zip_and_tree(path, version)
        )
        cache = self.cache
        return Downloaded(
            info=cache.file(path, version, "info"),
            go_mod=cache.file(path, version, "mod"),
            zip=cache.file(path, version, "zip"),
            dir=tree,
            sum=h,
            go_mod_sum=hash_go_mod(mod),
        )


class ZipWorkFailed(ProxyError):
    """Checking, hashing or extracting a zip failed (in a worker process)."""


@dataclass(frozen=True, slots=True)
class _Done:
    value: object


@dataclass(frozen=True, slots=True)
class _Failed:
    message: str


def _in_worker(func: Callable[..., object], *args: object) -> _Done | _Failed:
    """Call ``func`` in a worker; exceptions (not all picklable) come back as their text."""
    try:
        return _Done(func(*args))
    except ProxyError as exc:
        return _Failed(str(exc))
    except OSError as exc:
        return _Failed(str(storage_error(exc, "extracting")))


def extract_unplaced(
    zip_file: Path, partial: Path, path: str, version: str, target: Path
) -> tuple[str, str]:
    """Under the version lock: clear an earlier crash's leftovers, then check, extract (beside
    the target) and hash the zip; return the temporary tree and the ``h1:`` hash."""
    try:
        for old in glob.glob(glob.escape(str(target)) + ".tmp-*"):
            remove_tree(old)
        if partial.exists() or target.exists():
            remove_tree(target)
        tmp, h1 = extract_zip_unplaced(zip_file, path, version, target)
    except ZipError as exc:
        raise InvalidUpstreamContent(f"{path}@{version} .zip", str(exc)) from exc
    except OSError as exc:
        raise storage_error(exc, f"extracting {path}@{version} beside {target}") from exc
    return str(tmp), h1


def place(tmp: str, partial: Path, target: Path, keep_writable: bool) -> None:
    """Put a verified tree in place under the ``.partial`` marker (cmd/go download)."""
    try:
        partial.write_bytes(b"")
        place_tree(tmp, target)
        partial.unlink()
        if keep_writable:
            _make_writable_dirs(target)
    except OSError as exc:
        raise storage_error(exc, f"extracting into {target}") from exc


def _make_writable_dirs(target: Path) -> None:
    mode = 0o777 & ~_umask()
    for root, dirs, _files in os.walk(target):
        for d in dirs:
            os.chmod(os.path.join(root, d), mode)
    os.chmod(target, mode)


def extract_tree(
    zip_file: Path, partial: Path, path: str, version: str, target: Path, keep_writable: bool
) -> None:
    """Extract a verified zip to its tree under the ``.partial`` marker (cmd/go download);
    blocking, run in a worker. Leftovers of an earlier crash are removed first."""
    try:
        for old in glob.glob(glob.escape(str(target)) + ".tmp-*"):
            remove_tree(old)
        if partial.exists() or target.exists():
            remove_tree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"")
        try:
            extract_zip(zip_file, path, version, target)
        except BaseException:
            remove_tree(target)
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        partial.unlink()
        if keep_writable:
            _make_writable_dirs(target)
    except OSError as exc:
        raise storage_error(exc, f"extracting {path}@{version} into {target}") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

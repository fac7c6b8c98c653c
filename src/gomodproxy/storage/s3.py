"""The S3 backend: objects in a bucket of any S3-compatible server, through obstore.

The client was chosen by measurement (docs/reports/s3-client.md). Keys map to object names
``<prefix><key>`` unchanged, so the bucket holds the go command's ``cache/download`` layout.

- A put is whole or nothing: small objects in one PUT; a file over
  :data:`MULTIPART_THRESHOLD` as a multipart upload, aborted on failure (nothing is visible
  until the upload completes). A stream is spooled to a local file first, hashed, then put.
- The SHA-256 and size of every object travel with it as user metadata
  (``x-amz-meta-sha256``, ``x-amz-meta-size``) and are checked when it is read; an object whose
  bytes no longer match is moved under ``.gomodproxy/.store/quarantine/`` (a name no key can
  reach) and :class:`~gomodproxy.storage.base.CorruptObject` raised. An object without the
  metadata (copied into the bucket by another tool) is adopted: hashed when read.
- Any other failure of the S3 server is a :class:`~gomodproxy.errors.StorageError` (503) naming
  the endpoint and bucket; credentials are never part of a message or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from gomodproxy.errors import StorageError
from gomodproxy.storage.base import (
    INTERNAL_PREFIX,
    CorruptObject,
    HashedFile,
    ObjectInfo,
    ObjectNotFound,
    PutSource,
    check_key,
    check_prefix,
)
from gomodproxy.storage.fswrite import sweep_orphans

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

__all__ = ["MULTIPART_THRESHOLD", "S3Location", "S3Storage"]

logger = logging.getLogger(__name__)

#: Files larger than this are uploaded in parts (each at most PART_SIZE).
MULTIPART_THRESHOLD = 16 << 20
PART_SIZE = 8 << 20
_META_SHA = "sha256"
_META_SIZE = "size"
_META_TIME = "time"
_QUARANTINE = ".gomodproxy/.store/quarantine/"
_STORE_PRIVATE = ".gomodproxy/.store/"
_HASH_CHUNK = 1 << 20
#: What obstore raises for a missing object (its own class, or the builtin one).
_NOT_FOUND = (NotFoundError, FileNotFoundError)


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where the objects live: endpoint URL (empty: the AWS default), bucket, key prefix,
    region. Credentials are not part of it: they come from the standard AWS chain."""

    bucket: str
    endpoint: str = ""
    prefix: str = ""
    region: str = ""

    def describe(self) -> str:
        """``s3://bucket/prefix`` at the endpoint, for messages."""
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint}" if self.endpoint else where


def open_s3_store(
    location: S3Location,
    credentials: Mapping[str, str] | None = None,
    *,
    request_timeout: float = 600.0,
) -> S3Store:
    """An obstore client for ``location``. Without ``credentials`` obstore reads the standard
    AWS environment (variables, web identity, instance metadata)."""
    config: dict[str, Any] = {}
    if location.endpoint:
        config["endpoint"] = location.endpoint
        config["virtual_hosted_style_request"] = False
    if location.region:
        config["region"] = location.region
    if credentials:
        config.update(credentials)
    client_options: ClientConfig = {
        "allow_http": location.endpoint.startswith("http://"),
        "connect_timeout": "5s",
        "timeout": f"{int(request_timeout)}s",
    }
    retry: RetryConfig = {
        "max_retries": 2,
        "retry_timeout": timedelta(seconds=10),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=2),
            "base": 2.0,
        },
    }
    return S3Store(location.bucket, client_options=client_options, retry_config=retry, **config)


class S3Storage:
    """The :class:`~gomodproxy.storage.base.ObjectStore` over an S3 bucket."""

    def __init__(self, store: S3Store, location: S3Location, spool: Path) -> None:
        prefix = location.prefix.strip("/")
        self._store = store
        self._location = location
        self._prefix = f"{prefix}/" if prefix else ""
        self._spool = spool

    @property
    def location(self) -> S3Location:
        """The bucket and prefix."""
        return self._location

    @property
    def spool_dir(self) -> Path:
        """A local folder for downloads that are put() afterwards (uploaded, then removed)."""
        return self._spool

    def sweep_orphans(self, *, everywhere: bool = False, grace: float = 10.0) -> tuple[int, int]:
        """Remove spool files no live process holds (blocking). Multipart uploads a dead
        writer left are invisible and belong to the bucket's lifecycle rule
        (AbortIncompleteMultipartUpload, docs/scale-out.md)."""
        del everywhere
        return sweep_orphans(self._spool, grace=grace)

    def _name(self, key: str) -> str:
        return self._prefix + key

    def _fail(self, what: str, key: str, exc: Exception) -> NoReturn:
        if isinstance(exc, _NOT_FOUND):
            raise ObjectNotFound(key) from exc
        # The first line of obstore's message says what failed; the rest is a debug dump.
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise StorageError(
            f"cannot {what} {key} in {self._location.describe()}: "
            f"{type(exc).__name__}: {detail}; check that the S3 server is up and the "
            "bucket exists"
        ) from exc

    # -- reading ---------------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        """Return the whole object, checked against its recorded hash."""
        check_key(key)
        try:
            result = await obstore.get_async(self._store, self._name(key))
            data = bytes(await result.bytes_async())
        except Exception as exc:
            self._fail("read", key, exc)
        info = _info(key, result.attributes, result.meta, data)
        if len(data) != info.size or hashlib.sha256(data).hexdigest() != info.sha256:
            await self._quarantine(key, "the data does not match its record")
        return data

    @contextlib.asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[_S3Reader]:
        """Open the object for streaming (one GET; the body is read as it is consumed)."""
        check_key(key)
        try:
            result = await obstore.get_async(self._store, self._name(key))
        except Exception as exc:
            self._fail("read", key, exc)
        info = _info(key, result.attributes, result.meta, None)
        yield _S3Reader(self, key, result, info)

    async def stat(self, key: str) -> ObjectInfo | None:
        """The recorded size and hash (one HEAD), or None when nothing is stored."""
        check_key(key)
        try:
            result = await obstore.get_async(self._store, self._name(key), options={"head": True})
        except _NOT_FOUND:
            return None
        except Exception as exc:
            self._fail("look up", key, exc)
        if _META_SHA not in result.attributes:
            # Adopted object: its hash is known only once read.
            return _info(key, result.attributes, result.meta, await self.get(key))
        return _info(key, result.attributes, result.meta, None)

    async def list(self, prefix: str) -> list[str]:
        """The sorted keys under ``prefix``; internal keys only for the internal prefix."""
        check_prefix(prefix)
        internal = prefix.startswith(INTERNAL_PREFIX)
        try:
            listed = await obstore.list(
                self._store, prefix=self._name(prefix) or None, chunk_size=1000
            ).collect_async()
        except Exception as exc:
            self._fail("list", prefix or "the cache", exc)
        keys: list[str] = []
        for meta in listed:
            name: str = meta["path"]
            if not name.startswith(self._prefix):
                continue
            key = name[len(self._prefix) :]
            if not key.startswith(prefix) or key.startswith(_STORE_PRIVATE):
                continue
            if internal or not key.startswith(INTERNAL_PREFIX):
                keys.append(key)
        return sorted(keys)

    # -- writing ---------------------------------------------------------------------------

    async def put(self, key: str, source: PutSource) -> ObjectInfo:
        """Store ``source`` whole or not at all (see the module docstring)."""
        check_key(key)
        if isinstance(source, bytes):
            size, sha = len(source), hashlib.sha256(source).hexdigest()
            return await self._upload(key, source, size, sha)
        known = source if isinstance(source, HashedFile) else None
        if isinstance(source, HashedFile):
            path = source.path
        elif isinstance(source, Path):
            path = source
        else:
            path = await self._spool_stream(source)
        try:
            if known is not None:
                size, sha = known.size, known.sha256
            else:
                size, sha = await asyncio.to_thread(_hash_file, path)
            return await self._upload(key, path, size, sha)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _upload(self, key: str, data: bytes | Path, size: int, sha: str) -> ObjectInfo:
        info = ObjectInfo(key, size, sha, time.time())
        attributes: dict[str, str] = {
            "Content-Type": "application/octet-stream",
            _META_SHA: sha,
            _META_SIZE: str(size),
            _META_TIME: repr(info.mtime),
        }
        multipart = size > MULTIPART_THRESHOLD
        try:
            await obstore.put_async(
                self._store,
                self._name(key),
                data,
                attributes=attributes,
                use_multipart=multipart,
                chunk_size=PART_SIZE,
                max_concurrency=4,
            )
        except Exception as exc:
            self._fail("write", key, exc)
        return info

    async def _spool_stream(self, source: AsyncIterable[bytes]) -> Path:
        await asyncio.to_thread(self._spool.mkdir, parents=True, exist_ok=True)
        path = self._spool / f"put-{secrets.token_hex(8)}.tmp"
        f = await asyncio.to_thread(open, path, "wb")
        try:
            async for chunk in source:
                await asyncio.to_thread(f.write, chunk)
        except BaseException:
            await asyncio.to_thread(f.close)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        await asyncio.to_thread(f.close)
        return path

    async def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""
        check_key(key)
        if await self._exists(key) is False:
            return False
        try:
            await obstore.delete_async(self._store, self._name(key))
        except _NOT_FOUND:
            return False
        except Exception as exc:
            self._fail("delete", key, exc)
        return True

    async def _exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self._store, self._name(key))
        except _NOT_FOUND:
            return False
        except Exception as exc:
            self._fail("look up", key, exc)
        return True

    async def _quarantine(self, key: str, reason: str) -> NoReturn:
        """Move a damaged object out of the way (copy, then delete) and raise CorruptObject."""
        target = f"{self._prefix}{_QUARANTINE}{key}.{int(time.time())}"
        logger.warning("quarantining corrupt object %s (%s)", key, reason)
        try:
            await obstore.copy_async(self._store, self._name(key), target)
        except Exception as exc:
            logger.warning("cannot keep a copy of corrupt object %s: %s", key, type(exc).__name__)
        try:
            await obstore.delete_async(self._store, self._name(key))
        except _NOT_FOUND:
            pass
        except Exception as exc:
            self._fail("remove corrupt object", key, exc)
        raise CorruptObject(key, reason)

    async def presigned_url(self, key: str, expires: float) -> str | None:
        """A URL that GETs the object without credentials for ``expires`` seconds (one HEAD
        first: None when nothing is stored). The signature is in the URL: never log it."""
        check_key(key)
        if not await self._exists(key):
            return None
        try:
            url: str = await obstore.sign_async(
                self._store, "GET", self._name(key), timedelta(seconds=expires)
            )
        except Exception as exc:
            self._fail("sign a URL for", key, exc)
        return url


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _info(
    key: str, attributes: Mapping[str, Any], meta: Mapping[str, Any], data: bytes | None
) -> ObjectInfo:
    """The recorded size and hash; for an adopted object (no metadata) those of ``data``."""
    mtime = meta["last_modified"].timestamp() if meta.get("last_modified") else 0.0
    with contextlib.suppress(TypeError, ValueError):
        mtime = float(attributes.get(_META_TIME, mtime))
    sha = attributes.get(_META_SHA)
    size = attributes.get(_META_SIZE)
    if isinstance(sha, str) and isinstance(size, str) and size.isdigit():
        return ObjectInfo(key, int(size), sha, mtime)
    if data is None:
        # Streamed adopted object: its size is the server's; the hash is learnt at the end.
        return ObjectInfo(key, int(meta["size"]), "", mtime)
    return ObjectInfo(key, len(data), hashlib.sha256(data).hexdigest(), mtime)


class _S3Reader:
    def __init__(self, owner: S3Storage, key: str, result: Any, info: ObjectInfo) -> None:
        self._owner = owner
        self._key = key
        self._result = result
        self._info = info

    @property
    def info(self) -> ObjectInfo:
        return self._info

    async def chunks(self, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        size = 0
        held: bytes | None = None
        try:
            async for piece in self._result.stream(min_chunk_size=chunk_size):
                chunk = bytes(piece)
                digest.update(chunk)
                size += len(chunk)
                if held is not None:
                    yield held
                held = chunk
        except Exception as exc:
            self._owner._fail("read", self._key, exc)
        expected = self._info.sha256
        if size != self._info.size or (expected and digest.hexdigest() != expected):
            await self._owner._quarantine(self._key, "the data does not match its record")
        if held is not None:
            yield held

    async def read_range(self, start: int, length: int) -> bytes:
        end = min(start + length, self._info.size)
        if end <= start:
            return b""
        try:
            data = await obstore.get_range_async(
                self._owner._store, self._owner._name(self._key), start=start, end=end
            )
        except Exception as exc:
            self._owner._fail("read", self._key, exc)
        return bytes(data)

    def checked_fd(self) -> int | None:
        return None  # remote: nothing to send from a local file

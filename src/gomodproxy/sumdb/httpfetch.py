"""Read a checksum database over HTTP, directly or through a GOPROXY that proxies it.

The fetch seam of :class:`~gomodproxy.sumdb.client.SumDBClient`, following
cmd/go/internal/modfetch/sumdb.go (``dbClient.ReadRemote``, ``initBase``):

* a URL given in GOSUMDB is used as is, bypassing proxies;
* otherwise, the first time something must be fetched, the GOPROXY list is walked asking each
  proxy for ``<proxy>/sumdb/<name>/supported``: 200 means that proxy serves every database
  path from then on (never falling back to the database itself); 404/410, or any error after an
  entry followed by ``|``, moves to the next entry; ``noproxy`` is skipped; ``direct``, ``off``
  or the end of the list (after only not-found answers) means ``https://<name>``; any other
  error means the database is unavailable (item 55);
* URLs are joined as Go's ``web.Join`` does, so the bytes on the wire match the go command's;
* every request runs under ``asyncio.timeout`` and answers are size-capped: a tile is exactly
  W×32 bytes, other answers at most 64 KiB.

``file://`` proxies and URLs are read from disk, as the go command reads them.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
from yarl import URL

from gomodproxy.errors import (
    ModuleNotFound,
    SumDBError,
    UpstreamError,
    UpstreamTimeout,
)
from gomodproxy.module.goproxy import ProxyList
from gomodproxy.module.gourl import GoURL, URLParseError, parse_url
from gomodproxy.sumdb.gosumdb import SumDBConfig
from gomodproxy.sumdb.locate import join_url, locate_database
from gomodproxy.tlog.tlog import HASH_SIZE, parse_tile_path

__all__ = ["MAX_ANSWER", "HTTPSumDBFetcher", "join_url"]

logger = logging.getLogger(__name__)

MAX_ANSWER = 64 << 10
"""The largest lookup, ``latest`` or ``supported`` answer accepted (a lookup is ~0.5 KiB)."""

# Data tiles (level -1) hold record texts; the client never asks for them, a relay may.
_MAX_DATA_TILE = 1 << 20
# Bytes of an error body quoted in an error message.
_ERROR_DETAIL = 200


def _redact(url: str) -> str:
    try:
        return parse_url(url).redacted()
    except URLParseError:
        return "<unparsable URL>"


def _answer_cap(path: str) -> int:
    """The size limit of the answer at ``path``; a malformed tile path is refused here."""
    if path.startswith("tile/"):
        tile = parse_tile_path(path)
        return _MAX_DATA_TILE if tile.l == -1 else tile.w * HASH_SIZE
    return MAX_ANSWER


class HTTPSumDBFetcher:
    """A :class:`~gomodproxy.sumdb.seams.SumDBFetcher` for one database over aiohttp.

    ``session`` belongs to the caller (opened and closed by the application). ``config`` is
    the parsed GOSUMDB; ``proxies`` the parsed GOPROXY, walked to find a proxy that serves the
    database when GOSUMDB names no URL (None: go to the database directly). ``timeout`` bounds
    each request in seconds.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: SumDBConfig,
        proxies: ProxyList | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._config = config
        self._proxies = proxies
        self._timeout = timeout
        self._base: str | None = config.url
        self._base_lock = asyncio.Lock()

    async def base_url(self) -> str:
        """Where database paths are read from; found once, on first use (initBase)."""
        if self._base is not None:
            return self._base
        async with self._base_lock:
            if self._base is None:
                self._base = await self._find_base()
                logger.info("sumdb.base name=%s url=%s", self._config.name, _redact(self._base))
            return self._base

    async def fetch(self, path: str) -> bytes:
        """The body served at database path ``path`` (``lookup/...``, ``tile/...``, ``latest``).

        Raises :class:`~gomodproxy.errors.ModuleNotFound` for 404/410,
        :class:`~gomodproxy.errors.UpstreamTimeout` after the timeout,
        :class:`~gomodproxy.errors.UpstreamError` for other failures and
        :class:`~gomodproxy.errors.SumDBError` when the database cannot be located or an
        answer is too large.
        """
        cap = _answer_cap(path)
        base = await self.base_url()
        return await self._get(join_url(base, path), cap)

    async def _find_base(self) -> str:
        """Walk GOPROXY for a proxy of this database (cmd/go TryProxies + initBase)."""
        if self._proxies is None:
            return self._config.direct_url

        async def probe(proxy_url: str, path: str) -> None:
            await self._get(join_url(proxy_url, path), MAX_ANSWER)

        return await locate_database(self._config, self._proxies, probe)

    async def _get(self, url: str, cap: int) -> bytes:
        if url.startswith("file:"):
            return await asyncio.to_thread(_read_file_url, url, cap)
        shown = _redact(url)
        logger.debug("sumdb.fetch.started url=%s", shown)
        try:
            async with asyncio.timeout(self._timeout):
                async with self._session.get(URL(url, encoded=True)) as resp:
                    if resp.status != 200:
                        detail = await _error_detail(resp)
                        message = f"reading {shown}: {resp.status} {resp.reason}{detail}"
                        if resp.status in (404, 410):
                            raise ModuleNotFound(message, gone=resp.status == 410)
                        raise UpstreamError(message, upstream=shown, status=resp.status)
                    body = await _read_capped(resp, cap, shown)
        except TimeoutError:
            raise UpstreamTimeout(
                f"reading {shown}: no complete answer within {self._timeout:g}s",
                upstream=shown,
            ) from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"reading {shown}: {exc}", upstream=shown) from exc
        logger.debug("sumdb.fetch.complete url=%s bytes=%d", shown, len(body))
        return body


async def _error_detail(resp: aiohttp.ClientResponse) -> str:
    """A short, printable excerpt of an error body (cmd/go quotes a few lines)."""
    try:
        raw = await resp.content.read(_ERROR_DETAIL)
    except aiohttp.ClientError:
        return ""
    text = "".join(c if c.isprintable() else " " for c in raw.decode("utf-8", "replace"))
    return f"\n\tserver response: {text.strip()}" if text.strip() else ""


async def _read_capped(resp: aiohttp.ClientResponse, cap: int, shown: str) -> bytes:
    """The whole body, refusing more than ``cap`` bytes."""
    if resp.content_length is not None and resp.content_length > cap:
        raise SumDBError(f"reading {shown}: answer of {resp.content_length} bytes, over {cap}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(16 << 10):
        total += len(chunk)
        if total > cap:
            raise SumDBError(f"reading {shown}: answer over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_file_url(url: str, cap: int) -> bytes:
    """Read a ``file://`` URL's path from disk; a missing file is not-found."""
    u: GoURL = parse_url(url)
    path = Path(u.path)
    try:
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ModuleNotFound(f"reading {url}: {exc.strerror}") from exc
    except OSError as exc:
        raise UpstreamError(f"reading {url}: {exc.strerror or exc}", upstream=url) from exc
    if len(data) > cap:
        raise SumDBError(f"reading {url}: answer over {cap} bytes")
    return data

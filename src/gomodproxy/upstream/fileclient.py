"""The ``file://`` fetcher: a folder in ``cache/download`` layout used as an upstream.

Like ``getFile`` in ``cmd/go/internal/web/http.go``: a missing file is a 404 (not found, the
list walk may go on), permission denied a 403 (a hard error).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gomodproxy.errors import ConfigError, ModuleNotFound, UpstreamError
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import BodyTooLarge

__all__ = ["FileFetcher"]

_CHUNK = 256 * 1024


class FileFetcher:
    """Reads relative paths under a local folder."""

    def __init__(self, root: Path) -> None:
        self._root = root if root.is_absolute() else Path(os.path.abspath(root))

    @classmethod
    def from_url(cls, url: str) -> FileFetcher:
        """Build from a ``file:///folder`` GOPROXY entry."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"invalid file:// proxy URL {url!r}: only a path is allowed")
        return cls(Path(unquote(parts.path)))

    @property
    def name(self) -> str:
        """The folder as a ``file://`` URL."""
        return self._root.as_uri()

    @contextlib.asynccontextmanager
    async def open(
        self, rel_path: str, kind: FileKind, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[_FileBody]:
        """Open ``rel_path`` under the folder (headers are meaningless here)."""
        del headers
        elements = rel_path.split("/")
        if any(e in ("", ".", "..") or "\\" in e or "\x00" in e for e in elements):
            raise ModuleNotFound(f"invalid path {rel_path!r} for the file:// upstream")
        path = self._root.joinpath(*elements)
        fd = await asyncio.to_thread(self._open, path, rel_path)
        try:
            yield _FileBody(fd, kind, self.name)
        finally:
            os.close(fd)

    def _open(self, path: Path, rel_path: str) -> int:
        try:
            fd = os.open(path, os.O_RDONLY)
        # Messages name the file relative to the folder: clients see them, and the folder's
        # location on this machine is none of their business (logs have it).
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise self._missing(rel_path) from None
        except PermissionError:
            raise UpstreamError(
                f"{rel_path}: permission denied in the file:// upstream",
                upstream=self.name,
                status=403,
            ) from None
        except OSError as exc:
            raise UpstreamError(
                f"{rel_path}: {exc.strerror} in the file:// upstream", upstream=self.name
            ) from None
        if not os.path.isfile(path):
            os.close(fd)
            raise self._missing(rel_path)
        return fd

    def _missing(self, rel_path: str) -> ModuleNotFound:
        err = ModuleNotFound(f"{rel_path}: no such file in the file:// upstream")
        # The go command's wording names the whole file URL (web.HTTPError on a PathError).
        err.go_text = f"reading {self.name}/{rel_path}: no such file or directory"
        return err


class _FileBody:
    def __init__(self, fd: int, kind: FileKind, upstream: str) -> None:
        self._fd = fd
        self._kind = kind
        self._upstream = upstream
        self._size = os.fstat(fd).st_size

    @property
    def content_length(self) -> int | None:
        return self._size

    @property
    def content_type(self) -> str | None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._size > self._kind.max_size:
            raise BodyTooLarge(self._kind, upstream=self._upstream)
        offset = 0
        while offset < self._size:
            chunk = await asyncio.to_thread(os.pread, self._fd, _CHUNK, offset)
            if not chunk:
                break
            offset += len(chunk)
            yield chunk
        if offset != self._size:
            raise UpstreamError(
                "a file of the file:// upstream changed while it was read",
                upstream=self._upstream,
            )
